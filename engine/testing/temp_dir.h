// TempDir: a fresh directory under $TMPDIR (or /tmp), removed with its contents on
// destruction. For tests and benchmarks that need a real RocksDB on disk.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace nebu::testing {

class TempDir {
 public:
  TempDir() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/nebu-test-XXXXXX";
    char* made = ::mkdtemp(pattern.data());
    if (!made) std::abort();
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace nebu::testing
