// Helpers of the /metrics tests (ops_observe_test.cpp, tests/cluster): one sample's
// value out of the text exposition format, and `promtool check metrics` over a text.
#pragma once

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>

namespace nebu::security {

// The value of the sample line that starts with `series` followed by a space (e.g.
// "nebu_commit_group_size_count" or "nebu_rocksdb_estimate_keys{db=\"state\"}");
// nullopt if there is none.
inline std::optional<double> SampleValue(std::string_view text, std::string_view series) {
  const std::string prefix = std::string(series) + " ";
  for (size_t at = 0; at < text.size();) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    if (line.starts_with(prefix)) return std::stod(std::string(line.substr(prefix.size())));
    at = end + 1;
  }
  return std::nullopt;
}

// True when a `# TYPE <family> ...` line is present.
inline bool HasFamily(std::string_view text, std::string_view family) {
  return text.find("# TYPE " + std::string(family) + " ") != std::string_view::npos;
}

inline bool HasPromtool() { return std::system("promtool --version >/dev/null 2>&1") == 0; }

// Runs `promtool check metrics` over `text` (written to `file`): "" if it passed, its
// report otherwise. Without promtool: "skip", or a failure when
// NEBU_TEST_PROMTOOL_REQUIRED=1 (scripts/test.sh sets it).
inline std::string PromtoolCheck(const std::string& text, const std::string& file) {
  if (!HasPromtool()) {
    const char* required = std::getenv("NEBU_TEST_PROMTOOL_REQUIRED");
    if (required != nullptr && std::string_view(required) == "1") {
      return "promtool is required (NEBU_TEST_PROMTOOL_REQUIRED=1) but not installed";
    }
    return "skip";
  }
  std::ofstream(file) << text;
  const std::string command = "promtool check metrics < " + file + " > " + file + ".out 2>&1";
  const int rc = std::system(command.c_str());
  std::ifstream out(file + ".out");
  std::string report((std::istreambuf_iterator<char>(out)), std::istreambuf_iterator<char>());
  return rc == 0 ? "" : "promtool check metrics failed:\n" + report;
}

}  // namespace nebu::security
