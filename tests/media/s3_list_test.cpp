// S3Client's ListObjectsV2 and DeleteObject against a real s3rver behind the
// SigV4-checking proxy: pages of a few keys chained by continuation tokens (whose
// characters must be encoded and signed exactly as S3 wants), a prefix that selects,
// deletes (also of a missing key), and an endpoint that is down.
#include <gtest/gtest.h>

#include <fstream>
#include <set>

#include "media/s3_client.h"
#include "media/sigv4.h"
#include "tests/media/s3rver_process.h"

namespace nebu::media {
namespace {

namespace fs = std::filesystem;
using media_testing::S3rverProcess;

constexpr int kPagesMax = 100;  // bound of the listing loops below

class S3ListTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (auto missing = S3rverProcess::Missing()) GTEST_SKIP() << *missing;
    dir_ = fs::temp_directory_path() / ("nebu-s3-list-test-" + std::to_string(::getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    s3_ = std::make_unique<S3rverProcess>(dir_ / "s3rver");
    ASSERT_TRUE(s3_->Start()) << s3_->Log();
    S3Config config{.endpoint = s3_->Endpoint(),
                    .bucket = S3rverProcess::kBucket,
                    .access_key_id = S3rverProcess::kAccessKeyId,
                    .secret_access_key = S3rverProcess::kSecret};
    auto endpoint = ParseS3Endpoint(config.endpoint);
    ASSERT_TRUE(endpoint.ok());
    client_ = std::make_unique<S3Client>(*endpoint, config);
  }
  void TearDown() override {
    client_.reset();
    s3_.reset();
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  void PutText(const std::string& key) {
    fs::path file = dir_ / "upload";
    { std::ofstream(file) << key; }
    auto put = client_->Put(key, file, key.size(), Sha256Hex(key));
    ASSERT_TRUE(put.ok()) << put.status().ToString();
    ASSERT_EQ(put->status, 200) << put->code << " " << put->message;
  }

  // Every key under `prefix`, page by page of `per_page`; the number of pages in *pages.
  std::vector<std::string> ListAll(const std::string& prefix, int per_page, int* pages) {
    std::vector<std::string> keys;
    std::string token;
    for (*pages = 1; *pages <= kPagesMax; ++*pages) {
      S3ListPage page;
      auto r = client_->List(prefix, token, per_page, &page);
      EXPECT_TRUE(r.ok()) << r.status().ToString();
      if (!r.ok()) break;
      EXPECT_EQ(r->status, 200) << r->code << " " << r->message;
      EXPECT_LE(page.objects.size(), static_cast<size_t>(per_page));
      for (const S3ListedObject& o : page.objects) {
        keys.push_back(o.key);
        EXPECT_EQ(o.size, o.key.size());
        EXPECT_FALSE(o.last_modified.empty());
      }
      if (!page.truncated) break;
      EXPECT_FALSE(page.next_token.empty());
      token = page.next_token;
    }
    return keys;
  }

  fs::path dir_;
  std::unique_ptr<S3rverProcess> s3_;
  std::unique_ptr<S3Client> client_;
};

TEST_F(S3ListTest, ListsEveryKeyUnderAPrefixAcrossPages) {
  std::vector<std::string> expected;
  for (int i = 0; i < 7; ++i) {
    expected.push_back("backups/n1/objects/k" + std::to_string(i));
    PutText(expected.back());
  }
  PutText("backups/n1/index.json");
  PutText("backups/n2/objects/other");
  int pages = 0;
  std::vector<std::string> keys = ListAll("backups/n1/objects/", 3, &pages);
  EXPECT_EQ(keys, expected);  // in key order, each once, nothing outside the prefix
  EXPECT_EQ(pages, 3);
  keys = ListAll("backups/n1/objects/", kS3ListKeysPerPageMax, &pages);
  EXPECT_EQ(keys, expected);
  EXPECT_EQ(pages, 1);
  EXPECT_TRUE(ListAll("nothing/", 3, &pages).empty());
}

TEST_F(S3ListTest, DeletesObjectsAndAMissingKeyIsNoError) {
  for (const char* key : {"d/a", "d/b", "d/c"}) PutText(key);
  auto deleted = client_->Delete("d/b");
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_TRUE(deleted->status == 204 || deleted->status == 200) << deleted->status;
  auto head = client_->Head("d/b");
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head->status, 404);
  auto again = client_->Delete("d/b");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->status == 204 || again->status == 200 || again->status == 404);
  int pages = 0;
  EXPECT_EQ(ListAll("d/", 2, &pages), (std::vector<std::string>{"d/a", "d/c"}));
}

TEST_F(S3ListTest, AWrongSecretIsRefusedAndADownEndpointIsUnavailable) {
  S3Config bad{.endpoint = s3_->Endpoint(),
               .bucket = S3rverProcess::kBucket,
               .access_key_id = S3rverProcess::kAccessKeyId,
               .secret_access_key = "wrong"};
  S3Client wrong(*ParseS3Endpoint(bad.endpoint), bad);
  S3ListPage page;
  auto r = wrong.List("x/", "", 10, &page);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->code, "SignatureDoesNotMatch");
  auto d = wrong.Delete("x/y");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->status, 403);
  s3_->Kill();
  r = client_->List("x/", "", 10, &page);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << r.status().ToString();
  d = client_->Delete("x/y");
  EXPECT_FALSE(d.ok());
}

}  // namespace
}  // namespace nebu::media
