// The S3 content store against a real S3-protocol server (s3rver, which checks SigV4
// signatures), started and killed by the tests on loopback; transport failures
// mid-response against a tiny fake server. Randomized contents print their seed.
#include "media/s3_store.h"

#include <gtest/gtest.h>

#include <boost/asio.hpp>
#include <atomic>
#include <cstdio>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

#include "media/sigv4.h"
#include "tests/media/s3rver_process.h"

namespace nebu::media {
namespace {

namespace fs = std::filesystem;
using media_testing::S3rverProcess;

std::string ReadAll(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Files in a cache directory (any name, tmp/ included), and their total size.
std::pair<int, uint64_t> CacheFiles(const fs::path& dir) {
  int count = 0;
  uint64_t bytes = 0;
  if (!fs::exists(dir)) return {0, 0};
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    ++count;
    bytes += entry.file_size();
  }
  return {count, bytes};
}

class S3StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto missing = S3rverProcess::Missing()) GTEST_SKIP() << *missing;
    dir_ = fs::temp_directory_path() /
           ("nebu-s3-test-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    s3_ = std::make_unique<S3rverProcess>(dir_ / "s3rver");
    ASSERT_TRUE(s3_->Start()) << s3_->Log();
    seed_ = std::random_device{}();
    std::printf("seed %u\n", seed_);
    rng_.seed(seed_);
  }
  void TearDown() override {
    s3_.reset();
    if (!HasFailure()) fs::remove_all(dir_);
  }

  S3Config Config() const {
    return S3Config{.endpoint = s3_->Endpoint(),
                    .bucket = S3rverProcess::kBucket,
                    .access_key_id = S3rverProcess::kAccessKeyId,
                    .secret_access_key = S3rverProcess::kSecret,
                    .connect_timeout_ms = 2'000,
                    .idle_timeout_ms = 5'000,
                    .request_timeout_ms = 60'000};
  }

  std::unique_ptr<S3ContentStore> Open(const S3Config& config, const std::string& cache) {
    auto store = S3ContentStore::Open(config, dir_ / cache);
    EXPECT_TRUE(store.ok()) << store.status().message();
    return store.ok() ? std::move(*store) : nullptr;
  }

  // A spooled file of `size` random bytes; returns its hash.
  std::string Spool(const std::string& name, size_t size, std::string* contents = nullptr) {
    std::string bytes(size, '\0');
    for (char& c : bytes) c = static_cast<char>(rng_() & 0xff);
    std::ofstream(dir_ / name, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(size));
    if (contents != nullptr) *contents = bytes;
    return Sha256Hex(bytes);
  }

  fs::path dir_;
  std::unique_ptr<S3rverProcess> s3_;
  unsigned seed_ = 0;
  std::mt19937 rng_;
};

TEST_F(S3StoreTest, PutExistsFetchRoundtrip) {
  auto writer = Open(Config(), "cache-writer");
  auto reader = Open(Config(), "cache-reader");  // another node: nothing cached
  ASSERT_TRUE(writer && reader);
  // 9 MiB: over Beast's default body limit (8 MiB), which must not apply.
  for (size_t size : {size_t{0}, size_t{1}, size_t{9} * 1024 * 1024 + 7}) {
    std::string contents;
    std::string hash = Spool("spool", size, &contents);
    ASSERT_TRUE(writer->Put(hash, dir_ / "spool", size).ok()) << size;
    fs::remove(dir_ / "spool");
    Result<bool> exists = reader->Exists(hash);
    ASSERT_TRUE(exists.ok()) << exists.status().message();
    EXPECT_TRUE(*exists);
    Result<fs::path> fetched = reader->Fetch(hash);
    ASSERT_TRUE(fetched.ok()) << fetched.status().message();
    EXPECT_EQ(ReadAll(*fetched), contents) << "size " << size;
    Result<fs::path> again = writer->Fetch(hash);  // linked into the writer's cache at Put
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(ReadAll(*again), contents);
  }
  EXPECT_EQ(reader->stats().gets, 3u);
  EXPECT_EQ(writer->stats().gets, 0u);
  // Unknown content: absent, 404, nothing cached.
  std::string unknown = Sha256Hex("never stored");
  Result<bool> exists = reader->Exists(unknown);
  ASSERT_TRUE(exists.ok()) << exists.status().message();
  EXPECT_FALSE(*exists);
  Result<fs::path> missing = reader->Fetch(unknown);
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status().message();
  EXPECT_FALSE(fs::exists(dir_ / "cache-reader" / unknown));
  EXPECT_EQ(CacheFiles(dir_ / "cache-reader" / "tmp").first, 0);
  EXPECT_EQ(reader->Fetch("not-a-hash").status().code(), StatusCode::kInvalidArgument);
}

TEST_F(S3StoreTest, KeysCarryThePrefix) {
  S3Config config = Config();
  config.key_prefix = "nebu/media";
  auto store = Open(config, "cache");
  ASSERT_TRUE(store);
  std::string contents;
  std::string hash = Spool("spool", 1000, &contents);
  EXPECT_EQ(store->ObjectKey(hash),
            "nebu/media/" + hash.substr(0, 2) + "/" + hash.substr(2, 2) + "/" + hash);
  ASSERT_TRUE(store->Put(hash, dir_ / "spool", 1000).ok());
  // s3rver keeps "<bucket>/<key>" as "<dir>/<bucket>/<key dirs>/<name>._S3rver_object".
  EXPECT_TRUE(fs::exists(dir_ / "s3rver" / "data" / S3rverProcess::kBucket / "nebu" / "media" /
                         hash.substr(0, 2) / hash.substr(2, 2) / (hash + "._S3rver_object")));
  auto other = Open(Config(), "cache-other");  // no prefix: another key
  Result<bool> exists = other->Exists(hash);
  ASSERT_TRUE(exists.ok());
  EXPECT_FALSE(*exists);
}

TEST_F(S3StoreTest, PresentContentIsNotUploadedAgain) {
  auto store = Open(Config(), "cache");
  ASSERT_TRUE(store);
  std::string hash = Spool("spool", 100'000);
  ASSERT_TRUE(store->Put(hash, dir_ / "spool", 100'000).ok());
  ASSERT_TRUE(store->Put(hash, dir_ / "spool", 100'000).ok());
  auto other = Open(Config(), "cache-other");
  ASSERT_TRUE(other->Put(hash, dir_ / "spool", 100'000).ok());
  EXPECT_EQ(store->stats().puts, 1u);
  EXPECT_EQ(store->stats().puts_skipped, 1u);
  EXPECT_EQ(other->stats().puts, 0u);
  EXPECT_EQ(other->stats().puts_skipped, 1u);
  EXPECT_EQ(other->stats().heads, 1u);
  // A spooled file of another size than claimed is refused, nothing sent.
  std::string other_hash = Spool("spool2", 10);
  Status wrong = store->Put(other_hash, dir_ / "spool2", 11);
  EXPECT_EQ(wrong.code(), StatusCode::kInvalidArgument) << wrong.message();
}

TEST_F(S3StoreTest, WrongSecretIsUnavailableWithAClearMessage) {
  S3Config config = Config();
  config.secret_access_key = "not-the-secret";
  auto store = Open(config, "cache");
  ASSERT_TRUE(store);
  std::string hash = Spool("spool", 1000);
  Status put = store->Put(hash, dir_ / "spool", 1000);
  EXPECT_EQ(put.code(), StatusCode::kUnavailable);
  EXPECT_NE(put.message().find("403 SignatureDoesNotMatch"), std::string::npos) << put.message();
  EXPECT_NE(put.message().find("forbidden"), std::string::npos) << put.message();
  EXPECT_EQ(put.message().find("not-the-secret"), std::string::npos) << "the secret leaked";
  Result<bool> exists = store->Exists(hash);
  EXPECT_EQ(exists.status().code(), StatusCode::kUnavailable);
  Result<fs::path> fetched = store->Fetch(hash);
  EXPECT_EQ(fetched.status().code(), StatusCode::kUnavailable) << fetched.status().message();
  EXPECT_EQ(CacheFiles(dir_ / "cache").first, 0);
  config.access_key_id = "UNKNOWNKEY";
  auto unknown = Open(config, "cache2");
  Status put2 = unknown->Put(hash, dir_ / "spool", 1000);
  EXPECT_EQ(put2.code(), StatusCode::kUnavailable);
  EXPECT_NE(put2.message().find("InvalidAccessKeyId"), std::string::npos) << put2.message();
}

TEST_F(S3StoreTest, OutageIsUnavailableAndLeavesNothingThenRecovers) {
  auto writer = Open(Config(), "cache-writer");
  auto reader = Open(Config(), "cache-reader");
  ASSERT_TRUE(writer && reader);
  std::string contents;
  std::string hash = Spool("spool", 2 * 1024 * 1024, &contents);
  ASSERT_TRUE(writer->Put(hash, dir_ / "spool", contents.size()).ok());
  s3_->Kill();
  Result<fs::path> fetched = reader->Fetch(hash);
  EXPECT_EQ(fetched.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(fetched.status().message().find("refused"), std::string::npos)
      << fetched.status().message();
  EXPECT_EQ(CacheFiles(dir_ / "cache-reader").first, 0);
  std::string other = Spool("spool2", 1000);
  EXPECT_EQ(reader->Put(other, dir_ / "spool2", 1000).code(), StatusCode::kUnavailable);
  EXPECT_EQ(reader->Exists(other).status().code(), StatusCode::kUnavailable);
  ASSERT_TRUE(s3_->Start()) << s3_->Log();  // same port, same objects
  fetched = reader->Fetch(hash);
  ASSERT_TRUE(fetched.ok()) << fetched.status().message();
  EXPECT_EQ(ReadAll(*fetched), contents);
  EXPECT_TRUE(reader->Put(other, dir_ / "spool2", 1000).ok());
}

TEST_F(S3StoreTest, StalledServerTimesOut) {
  S3Config config = Config();
  config.idle_timeout_ms = 300;
  auto writer = Open(Config(), "cache-writer");
  auto reader = Open(config, "cache-reader");
  std::string contents;
  std::string hash = Spool("spool", 1000, &contents);
  ASSERT_TRUE(writer->Put(hash, dir_ / "spool", 1000).ok());
  s3_->Signal(SIGSTOP);  // accepts connections (the kernel does), never answers
  auto started = std::chrono::steady_clock::now();
  Result<fs::path> fetched = reader->Fetch(hash);
  auto took = std::chrono::steady_clock::now() - started;
  s3_->Signal(SIGCONT);
  EXPECT_EQ(fetched.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(fetched.status().message().find("timed out"), std::string::npos)
      << fetched.status().message();
  EXPECT_LT(took, std::chrono::seconds(5));
  EXPECT_EQ(CacheFiles(dir_ / "cache-reader").first, 0);
  fetched = reader->Fetch(hash);
  ASSERT_TRUE(fetched.ok()) << fetched.status().message();
  EXPECT_EQ(ReadAll(*fetched), contents);
}

TEST_F(S3StoreTest, CacheStaysWithinItsBound) {
  auto writer = Open(Config(), "cache-writer");
  S3Config config = Config();
  config.cache_bytes = kMediaCacheBytesMin;  // 1 MiB
  auto reader = Open(config, "cache-reader");
  ASSERT_TRUE(writer && reader);
  constexpr size_t kObjects = 6;
  constexpr size_t kObjectBytes = 300'000;
  std::vector<std::string> hashes, contents(kObjects);
  for (size_t i = 0; i < kObjects; ++i) {
    hashes.push_back(Spool("spool", kObjectBytes, &contents[i]));
    ASSERT_TRUE(writer->Put(hashes[i], dir_ / "spool", kObjectBytes).ok());
  }
  for (size_t i = 0; i < kObjects; ++i) {
    Result<fs::path> fetched = reader->Fetch(hashes[i]);
    ASSERT_TRUE(fetched.ok()) << fetched.status().message();
    EXPECT_EQ(ReadAll(*fetched), contents[i]);
    EXPECT_LE(reader->cached_bytes(), config.cache_bytes);
    EXPECT_LE(CacheFiles(dir_ / "cache-reader").second, config.cache_bytes);
  }
  EXPECT_GE(reader->stats().evictions, kObjects - 3);
  // The most recent is cached, the first was evicted and comes back from S3.
  uint64_t gets = reader->stats().gets;
  ASSERT_TRUE(reader->Fetch(hashes.back()).ok());
  EXPECT_EQ(reader->stats().gets, gets);
  Result<fs::path> first = reader->Fetch(hashes.front());
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(reader->stats().gets, gets + 1);
  EXPECT_EQ(ReadAll(*first), contents.front());
  // A restart indexes the cache directory again.
  reader.reset();
  auto reopened = Open(config, "cache-reader");
  EXPECT_EQ(reopened->cached_bytes(), CacheFiles(dir_ / "cache-reader").second);
  ASSERT_TRUE(reopened->Fetch(hashes.front()).ok());
  EXPECT_EQ(reopened->stats().gets, 0u);
}

// A one-shot HTTP server on loopback: answers every connection's request with `reply`
// (raw bytes), then closes it, as a backend that fails mid-way would.
class FakeS3 {
 public:
  explicit FakeS3(std::string reply) : reply_(std::move(reply)) {
    acceptor_.open(boost::asio::ip::tcp::v4());
    acceptor_.bind({boost::asio::ip::make_address("127.0.0.1"), 0});
    acceptor_.listen();
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeS3() {
    stopping_ = true;
    boost::system::error_code ignored;
    boost::asio::ip::tcp::socket poke(io_);
    poke.connect(acceptor_.local_endpoint(), ignored);  // wakes accept()
    thread_.join();
  }
  std::string Endpoint() const {
    return "http://127.0.0.1:" + std::to_string(acceptor_.local_endpoint().port());
  }

 private:
  void Serve() {
    while (!stopping_) {
      boost::system::error_code ec;
      boost::asio::ip::tcp::socket socket(io_);
      acceptor_.accept(socket, ec);
      if (ec || stopping_) return;
      boost::asio::streambuf request;
      boost::asio::read_until(socket, request, "\r\n\r\n", ec);
      boost::asio::write(socket, boost::asio::buffer(reply_), ec);
      socket.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
    }
  }

  std::string reply_;
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_{io_};
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

S3Config FakeConfig(const FakeS3& fake) {
  return S3Config{.endpoint = fake.Endpoint(),
                  .bucket = "nebu-media",
                  .access_key_id = "id",
                  .secret_access_key = "secret",
                  .connect_timeout_ms = 2'000,
                  .idle_timeout_ms = 2'000,
                  .request_timeout_ms = 10'000};
}

TEST(S3StoreFailures, BodyCutMidwayIsUnavailableAndLeavesNoCacheFile) {
  FakeS3 fake("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n" + std::string(1000, 'x'));
  fs::path cache = fs::temp_directory_path() / ("nebu-s3-cut-" + std::to_string(::getpid()));
  auto store = S3ContentStore::Open(FakeConfig(fake), cache);
  ASSERT_TRUE(store.ok());
  Result<fs::path> fetched = (*store)->Fetch(Sha256Hex("x"));
  EXPECT_EQ(fetched.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(fetched.status().message().find("S3 GET"), std::string::npos)
      << fetched.status().message();
  EXPECT_EQ(CacheFiles(cache).first, 0);
  fs::remove_all(cache);
}

TEST(S3StoreFailures, ServerErrorsAreUnavailableWithS3sCode) {
  std::string body = "<Error><Code>InternalError</Code><Message>boom</Message></Error>";
  FakeS3 fake("HTTP/1.1 500 Internal Server Error\r\nContent-Length: " +
              std::to_string(body.size()) + "\r\n\r\n" + body);
  fs::path cache = fs::temp_directory_path() / ("nebu-s3-500-" + std::to_string(::getpid()));
  auto store = S3ContentStore::Open(FakeConfig(fake), cache);
  ASSERT_TRUE(store.ok());
  Result<fs::path> fetched = (*store)->Fetch(Sha256Hex("x"));
  EXPECT_EQ(fetched.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(fetched.status().message().find("HTTP 500 InternalError (boom)"), std::string::npos)
      << fetched.status().message();
  EXPECT_EQ(CacheFiles(cache).first, 0);
  fs::remove_all(cache);
}

TEST(S3StoreFailures, HeadForbiddenNamesTheListBucketCase) {
  FakeS3 fake("HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
  fs::path cache = fs::temp_directory_path() / ("nebu-s3-403-" + std::to_string(::getpid()));
  auto store = S3ContentStore::Open(FakeConfig(fake), cache);
  ASSERT_TRUE(store.ok());
  Result<bool> exists = (*store)->Exists(Sha256Hex("x"));
  EXPECT_EQ(exists.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(exists.status().message().find("s3:ListBucket"), std::string::npos)
      << exists.status().message();
  fs::remove_all(cache);
}

TEST(S3StoreConfig, BadSettingsAreRefused) {
  S3Config good{.endpoint = "http://127.0.0.1:9000",
                .bucket = "media",
                .access_key_id = "id",
                .secret_access_key = "secret"};
  fs::path cache = fs::temp_directory_path() / ("nebu-s3-config-" + std::to_string(::getpid()));
  EXPECT_TRUE(S3ContentStore::Open(good, cache).ok());
  auto refused = [&](S3Config c) {
    auto store = MakeS3ContentStore(c, cache);
    return !store.ok() && store.status().code() == StatusCode::kInvalidArgument;
  };
  S3Config c = good;
  c.endpoint = "ftp://x";
  EXPECT_TRUE(refused(c));
  c.endpoint = "http://host/path";
  EXPECT_TRUE(refused(c));
  c = good;
  c.bucket = "Bad_Bucket";
  EXPECT_TRUE(refused(c));
  c = good;
  c.key_prefix = "/abs";
  EXPECT_TRUE(refused(c));
  c.key_prefix = "a b";
  EXPECT_TRUE(refused(c));
  c = good;
  c.secret_access_key = "";
  EXPECT_TRUE(refused(c));
  c = good;
  c.cache_bytes = 1000;
  EXPECT_TRUE(refused(c));
  Result<S3Endpoint> e = ParseS3Endpoint("https://s3.eu-west-1.amazonaws.com/");
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->tls);
  EXPECT_EQ(e->port, 443);
  EXPECT_EQ(e->host, "s3.eu-west-1.amazonaws.com");
  e = ParseS3Endpoint("http://[::1]:9000");
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->port, 9000);
  fs::remove_all(cache);
}

}  // namespace
}  // namespace nebu::media
