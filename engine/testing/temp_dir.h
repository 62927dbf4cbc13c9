// TempDir: a fresh directory, removed with its contents on destruction. For tests
// and benchmarks that need a real RocksDB.
//
//   testing::TempDir dir;                          // on disk: $TMPDIR or /tmp
//   testing::TempDir fast(testing::TempDir::kTmpfs);  // /dev/shm when writable
//
// kTmpfs makes fsync free; use it only where durability is not what is tested.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace nebu::testing {

class TempDir {
 public:
  enum Where { kDisk, kTmpfs };

  explicit TempDir(Where where = kDisk) {
    std::string pattern = Root(where) + "/nebu-test-XXXXXX";
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
  static std::string Root(Where where) {
    if (where == kTmpfs && ::access("/dev/shm", W_OK) == 0) return "/dev/shm";
    const char* base = std::getenv("TMPDIR");
    return base && *base ? base : "/tmp";
  }
  std::string path_;
};

}  // namespace nebu::testing
