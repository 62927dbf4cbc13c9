// Replay driver for fuzz targets in the normal (non-libFuzzer) build: runs
// LLVMFuzzerTestOneInput once over every file named on the command line, or found
// (recursively) in a directory named there, and prints how many inputs ran. A
// crash or NEBU_CHECK failure in the target fails the ctest that runs this.
//
//   fuzz_canonical_json fuzz/corpus/canonical_json [more files or dirs...]
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

constexpr size_t kInputBytesMax = size_t{16} << 20;  // skip larger files

bool RunFile(const std::filesystem::path& path) {
  std::error_code ec;
  auto size = std::filesystem::file_size(path, ec);
  if (ec || size > kInputBytesMax) {
    std::fprintf(stderr, "replay: skipping %s\n", path.c_str());
    return false;
  }
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (!in.good() && !in.eof()) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    return false;
  }
  LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  size_t ran = 0;
  size_t failed = 0;
  for (int i = 1; i < argc; ++i) {
    std::filesystem::path arg(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      for (const auto& entry : std::filesystem::recursive_directory_iterator(arg, ec)) {
        if (!entry.is_regular_file()) continue;
        RunFile(entry.path()) ? ++ran : ++failed;
      }
    } else if (std::filesystem::is_regular_file(arg, ec)) {
      RunFile(arg) ? ++ran : ++failed;
    } else {
      std::fprintf(stderr, "replay: no such file or directory: %s\n", argv[i]);
      ++failed;
    }
  }
  std::printf("replay: ran %zu inputs (%zu unreadable)\n", ran, failed);
  return failed == 0 ? 0 : 1;
}
