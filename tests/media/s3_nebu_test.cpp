// Goal: the nebu binary with NEBU_MEDIA_BACKEND=s3 stores an upload in the bucket and
// serves it back byte for byte, also after a restart with its local read cache gone (the
// bytes then come from S3), and an S3 outage makes an upload fail with nothing recorded.
// Method: a real s3rver behind the SigV4-checking proxy (s3rver_process.h) and the real
// nebu process (tests/security/nebu_process.h) over loopback HTTP.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <string>

#include "tests/media/s3rver_process.h"
#include "tests/security/nebu_process.h"

namespace nebu::security {
namespace {

namespace fs = std::filesystem;

class S3NebuTest : public SecurityTest {
 protected:
  void SetUp() override {
    if (auto missing = media_testing::S3rverProcess::Missing()) GTEST_SKIP() << *missing;
    s3_ = std::make_unique<media_testing::S3rverProcess>(fs::path(DataDir()).parent_path() /
                                                         "s3rver");
    ASSERT_TRUE(s3_->Start()) << s3_->Log();
    secret_file_ = (fs::path(DataDir()).parent_path() / "s3-secret").string();
    std::ofstream(secret_file_) << media_testing::S3rverProcess::kSecret;
  }
  Env S3Env() const {
    return {{"NEBU_MEDIA_BACKEND", "s3"},
            {"NEBU_S3_ENDPOINT", s3_->Endpoint()},
            {"NEBU_S3_BUCKET", media_testing::S3rverProcess::kBucket},
            {"NEBU_S3_ACCESS_KEY_ID", media_testing::S3rverProcess::kAccessKeyId},
            {"NEBU_S3_SECRET_ACCESS_KEY_FILE", secret_file_},
            {"NEBU_REGISTRATION", "open"}};
  }
  std::string Upload(const std::string& token, const std::string& bytes, int* status) {
    HttpReply r = Call("POST", "/_matrix/media/v3/upload?filename=blob.bin", token, bytes,
                       {"Content-Type: application/octet-stream"});
    *status = r.status;
    if (r.status != 200) return r.body;
    std::string uri(r.Json().at("content_uri").as_string());
    return uri.substr(uri.rfind('/') + 1);
  }

  std::unique_ptr<media_testing::S3rverProcess> s3_;
  std::string secret_file_;
};

TEST_F(S3NebuTest, UploadsGoToTheBucketAndComeBackAfterTheCacheIsGone) {
  Start(S3Env());
  const std::string alice = Register("alice");
  std::string bytes(300'000, '\0');
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>((i * 7919) % 251);
  int status = 0;
  const std::string id = Upload(alice, bytes, &status);
  ASSERT_EQ(status, 200) << id;

  HttpReply first = Call("GET", "/_matrix/client/v1/media/download/localhost/" + id, alice);
  ASSERT_EQ(first.status, 200);
  EXPECT_EQ(first.body, bytes);

  nebu_.Kill(SIGTERM);
  fs::remove_all(fs::path(DataDir()) / "media-cache");
  Start(S3Env());
  HttpReply again = Call("GET", "/_matrix/client/v1/media/download/localhost/" + id, alice);
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.body, bytes);

  // The bucket down: the upload fails with a clear error and records nothing.
  s3_.reset();
  const std::string error = Upload(alice, "other bytes", &status);
  EXPECT_EQ(status, 502) << error;
  HttpReply cached = Call("GET", "/_matrix/client/v1/media/download/localhost/" + id, alice);
  EXPECT_EQ(cached.status, 200);  // served from the cache the download above refilled
  ExpectAlive();
}

}  // namespace
}  // namespace nebu::security
