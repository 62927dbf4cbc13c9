// Logging: how nebu's log lines look (NEBU_LOG_FORMAT, app/config.h). Text is spdlog's
// default pattern; JSON is one object per line for log shippers (Loki, CloudWatch,
// Elasticsearch):
//
//   ConfigureLogging({.json = true, .level = "info"});
//   spdlog::info("http: client listening on {}", where);
//   // {"ts":"2026-12-06T19:14:37.123Z","level":"info","logger":"nebu",
//   //  "msg":"http: client listening on 127.0.0.1:8008"}
//
// Fields: ts (UTC, RFC 3339 with milliseconds), level (spdlog's names: trace, debug,
// info, warning, error, critical), logger (the spdlog logger's name; "nebu" for the default one),
// msg. The message is escaped as JSON requires; bytes that are not valid UTF-8 (a
// raw request target, say) become U+FFFD, so every line is valid JSON. Messages
// longer than kLogMessageBytesMax are cut there (and "…" appended).
//
// What is logged is the callers' business; they never log secrets (passwords, access
// tokens, NEBU_*_SECRET values, database URLs): the access log redacts access_token
// query parameters (api/server.cpp) and configuration errors name variables, not
// values of secrets.
//
// Thread-safety: ConfigureLogging once at start-up, before other threads log; the
// formatter itself is used under spdlog's sink lock.
#pragma once

#include <spdlog/formatter.h>

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace nebu::app {

inline constexpr size_t kLogMessageBytesMax = 16 * 1024;

struct LoggingOptions {
  bool json = false;           // NEBU_LOG_FORMAT=json
  std::string level = "info";  // NEBU_LOG_LEVEL
};

// Sets the default logger's level and format (with json also its name, "nebu"; text
// lines stay as they were).
void ConfigureLogging(const LoggingOptions& options);

// The JSON-lines formatter (exposed for tests).
class JsonLogFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override;
  [[nodiscard]] std::unique_ptr<spdlog::formatter> clone() const override;
};

// Appends `text` as a JSON string (quotes included) to `out`: control characters,
// quote and backslash escaped, invalid UTF-8 replaced by U+FFFD.
void AppendJsonString(std::string_view text, std::string& out);

}  // namespace nebu::app
