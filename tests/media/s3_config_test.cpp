// NEBU_S3_* and NEBU_MEDIA_CACHE_BYTES through app::LoadConfig: defaults, the secret
// only from a file (never echoed), required companions of NEBU_S3_ENDPOINT, and the
// config reaching MakeS3ContentStore.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "app/config.h"
#include "media/s3_store.h"

namespace nebu::app {
namespace {

namespace fs = std::filesystem;

class S3ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("nebu_s3_config_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    std::ofstream(dir_ / "secret") << "  s3cr3t-value\n";
  }
  void TearDown() override { fs::remove_all(dir_); }

  Environment Full() const {
    return {{"NEBU_S3_ENDPOINT", "http://127.0.0.1:9000"},
            {"NEBU_S3_BUCKET", "nebu-media"},
            {"NEBU_S3_ACCESS_KEY_ID", "nebu"},
            {"NEBU_S3_SECRET_ACCESS_KEY_FILE", (dir_ / "secret").string()}};
  }

  fs::path dir_;
};

TEST_F(S3ConfigTest, UnsetMeansNoS3AndTheDefaults) {
  Result<Config> config = LoadConfig({});
  ASSERT_TRUE(config.ok()) << config.status().message();
  EXPECT_TRUE(config->s3.endpoint.empty());
  EXPECT_EQ(config->s3.cache_bytes, media::kMediaCacheBytesDefault);
  EXPECT_EQ(config->s3.region, "us-east-1");
  EXPECT_TRUE(config->s3.path_style);
}

TEST_F(S3ConfigTest, AllVariablesAreRead) {
  Environment env = Full();
  env["NEBU_S3_REGION"] = "eu-west-1";
  env["NEBU_S3_PATH_STYLE"] = "off";
  env["NEBU_S3_KEY_PREFIX"] = "nebu/media";
  env["NEBU_MEDIA_CACHE_BYTES"] = "2097152";
  Result<Config> config = LoadConfig(env);
  ASSERT_TRUE(config.ok()) << config.status().message();
  const media::S3Config& s3 = config->s3;
  EXPECT_EQ(s3.endpoint, "http://127.0.0.1:9000");
  EXPECT_EQ(s3.bucket, "nebu-media");
  EXPECT_EQ(s3.region, "eu-west-1");
  EXPECT_EQ(s3.access_key_id, "nebu");
  EXPECT_EQ(s3.secret_access_key, "s3cr3t-value");
  EXPECT_FALSE(s3.path_style);
  EXPECT_EQ(s3.key_prefix, "nebu/media");
  EXPECT_EQ(s3.cache_bytes, 2097152u);
  EXPECT_TRUE(config->warnings.empty());
  auto store = media::MakeS3ContentStore(s3, dir_ / "cache");
  ASSERT_TRUE(store.ok()) << store.status().message();
  EXPECT_EQ((*store)->name(), "s3");
}

TEST_F(S3ConfigTest, BadOrMissingSettingsNameTheVariableNeverTheSecret) {
  auto error_of = [](const Environment& env) {
    Result<Config> config = LoadConfig(env);
    return config.ok() ? std::string("ok") : config.status().message();
  };
  for (std::string_view required :
       {"NEBU_S3_BUCKET", "NEBU_S3_ACCESS_KEY_ID", "NEBU_S3_SECRET_ACCESS_KEY_FILE"}) {
    Environment env = Full();
    env.erase(std::string(required));
    EXPECT_TRUE(error_of(env).starts_with(std::string(required) + ": required")) << error_of(env);
  }
  Environment env = Full();
  env["NEBU_S3_SECRET_ACCESS_KEY"] = "direct-secret";
  std::string error = error_of(env);
  EXPECT_TRUE(error.starts_with("NEBU_S3_SECRET_ACCESS_KEY: ")) << error;
  EXPECT_EQ(error.find("direct-secret"), std::string::npos);
  env = Full();
  env["NEBU_S3_ENDPOINT"] = "s3.example.org";
  EXPECT_TRUE(error_of(env).starts_with("NEBU_S3_ENDPOINT: ")) << error_of(env);
  env = Full();
  env["NEBU_S3_PATH_STYLE"] = "yes";
  EXPECT_TRUE(error_of(env).starts_with("NEBU_S3_PATH_STYLE: ")) << error_of(env);
  env = Full();
  env["NEBU_MEDIA_CACHE_BYTES"] = "1000";
  EXPECT_TRUE(error_of(env).starts_with("NEBU_MEDIA_CACHE_BYTES: ")) << error_of(env);
  env = Full();
  env["NEBU_S3_SECRET_ACCESS_KEY_FILE"] = (dir_ / "missing").string();
  EXPECT_TRUE(error_of(env).starts_with("NEBU_S3_SECRET_ACCESS_KEY_FILE: cannot read"))
      << error_of(env);
  // Settings without an endpoint mean nothing: a warning each.
  Result<Config> config = LoadConfig({{"NEBU_S3_BUCKET", "b"}});
  ASSERT_TRUE(config.ok());
  ASSERT_EQ(config->warnings.size(), 1u);
  EXPECT_EQ(config->warnings[0], "NEBU_S3_BUCKET ignored without NEBU_S3_ENDPOINT");
}

}  // namespace
}  // namespace nebu::app
