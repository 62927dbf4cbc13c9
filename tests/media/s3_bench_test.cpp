// The S3 store's throughput bench (not part of ctest: DISABLED_, run by hand):
//   build/tests/media/media_s3_test --gtest_also_run_disabled_tests --gtest_filter='S3Bench.*'
// Puts and fetches a 100 MB object through s3rver on loopback, once behind the
// signature-checking proxy (what the tests use) and once directly, and prints MB/s and
// this process's peak RSS growth during each transfer (VmHWM after resetting it through
// /proc/self/clear_refs). s3rver (Node) is the bottleneck on loopback, not nebu.
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <chrono>
#include <cstring>
#include <cstdio>
#include <fstream>
#include <random>

#include "media/s3_store.h"
#include "media/sigv4.h"
#include "tests/media/s3rver_process.h"

namespace nebu::media {
namespace {

namespace fs = std::filesystem;
using media_testing::S3rverProcess;

constexpr uint64_t kObjectBytes = 100'000'000;
constexpr size_t kChunkBytes = 1 << 20;

// kB from /proc/self/status ("VmRSS", "VmHWM").
long StatusKb(const std::string& field) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.starts_with(field + ":")) return std::stol(line.substr(field.size() + 1));
  }
  return -1;
}

void ResetPeak() { std::ofstream("/proc/self/clear_refs") << "5"; }

// Writes kObjectBytes of random bytes; returns their hex SHA-256.
std::string WriteObject(const fs::path& path) {
  std::mt19937_64 rng(42);
  std::string chunk(kChunkBytes, '\0');
  EVP_MD_CTX* sha = EVP_MD_CTX_new();
  EVP_DigestInit_ex(sha, EVP_sha256(), nullptr);
  std::ofstream out(path, std::ios::binary);
  for (uint64_t written = 0; written < kObjectBytes;) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(kChunkBytes, kObjectBytes - written));
    for (size_t i = 0; i + 8 <= n; i += 8) {
      uint64_t v = rng();
      std::memcpy(chunk.data() + i, &v, 8);
    }
    out.write(chunk.data(), static_cast<std::streamsize>(n));
    EVP_DigestUpdate(sha, chunk.data(), n);
    written += n;
  }
  unsigned char digest[32];
  unsigned int length = 0;
  EVP_DigestFinal_ex(sha, digest, &length);
  EVP_MD_CTX_free(sha);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(digest), length));
}

template <class F>
void Measure(const char* what, F&& f) {
  long before = StatusKb("VmRSS");
  ResetPeak();
  auto start = std::chrono::steady_clock::now();
  f();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("%-32s %7.1f MB/s  (%.2f s)  peak RSS growth %ld kB (RSS before %ld kB)\n", what,
              kObjectBytes / 1e6 / seconds, seconds, StatusKb("VmHWM") - before, before);
}

TEST(S3Bench, DISABLED_HundredMegabytes) {
  if (auto missing = S3rverProcess::Missing()) GTEST_SKIP() << *missing;
  fs::path dir = fs::temp_directory_path() / ("nebu-s3-bench-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  S3rverProcess s3(dir / "s3rver");
  ASSERT_TRUE(s3.Start()) << s3.Log();
  std::string hash = WriteObject(dir / "object");
  for (bool direct : {false, true}) {
    S3Config config{.endpoint = direct ? s3.DirectEndpoint() : s3.Endpoint(),
                    .bucket = S3rverProcess::kBucket,
                    .access_key_id = S3rverProcess::kAccessKeyId,
                    .secret_access_key = S3rverProcess::kSecret,
                    .key_prefix = direct ? "direct" : "proxied"};
    auto writer = S3ContentStore::Open(config, dir / (config.key_prefix + "-writer"));
    auto reader = S3ContentStore::Open(config, dir / (config.key_prefix + "-reader"));
    ASSERT_TRUE(writer.ok() && reader.ok());
    std::string label = direct ? "s3rver direct" : "s3rver behind sigv4 proxy";
    Measure((label + ": put 100 MB").c_str(), [&] {
      Status put = (*writer)->Put(hash, dir / "object", kObjectBytes);
      ASSERT_TRUE(put.ok()) << put.message();
    });
    Measure((label + ": fetch 100 MB").c_str(), [&] {
      Result<fs::path> fetched = (*reader)->Fetch(hash);
      ASSERT_TRUE(fetched.ok()) << fetched.status().message();
      EXPECT_EQ(fs::file_size(*fetched), kObjectBytes);
    });
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace nebu::media
