// Goal: NEBU_* parsing: defaults, overrides, the *_FILE rule, and one-line errors that
// name the variable. Method: LoadConfig on literal environments; *_FILE values come
// from files in a per-test temporary directory. (app/config.cpp is tested here because
// api_test is the binary of the HTTP surfaces and the composition root.)
#include "app/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace nebu::app {
namespace {

class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("nebu_config_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string WriteFile(const std::string& name, const std::string& contents) {
    std::filesystem::path path = dir_ / name;
    std::ofstream(path) << contents;
    return path.string();
  }

  std::filesystem::path dir_;
};

std::string ErrorOf(const Environment& env) {
  Result<Config> config = LoadConfig(env);
  EXPECT_FALSE(config.ok());
  return config.ok() ? "" : config.status().message();
}

TEST_F(ConfigTest, EmptyEnvironmentGivesTheEmbeddedDefaults) {
  Result<Config> config = LoadConfig({});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->data_dir, "./nebu-data");
  EXPECT_EQ(config->client_addr.ToString(), "127.0.0.1:8008");
  EXPECT_EQ(config->ops_addr.ToString(), "127.0.0.1:8080");
  EXPECT_EQ(config->server_name, "localhost");
  EXPECT_EQ(config->public_base_url, "http://localhost:8008");
  EXPECT_EQ(config->log_level, "info");
  EXPECT_FALSE(config->registration_open);
  EXPECT_TRUE(config->trusted_proxies.empty());
  EXPECT_TRUE(config->warnings.empty());
}

TEST_F(ConfigTest, VariablesOverrideDefaults) {
  Result<Config> config = LoadConfig({{"NEBU_DATA_DIR", "/var/lib/nebu"},
                                      {"NEBU_CLIENT_ADDR", "[::]:443"},
                                      {"NEBU_OPS_ADDR", "0.0.0.0:9090"},
                                      {"NEBU_SERVER_NAME", "example.org"},
                                      {"NEBU_LOG_LEVEL", "debug"}});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->data_dir, "/var/lib/nebu");
  EXPECT_EQ(config->client_addr.host, "::");
  EXPECT_EQ(config->client_addr.port, 443);
  EXPECT_EQ(config->client_addr.ToString(), "[::]:443");
  EXPECT_EQ(config->ops_addr.ToString(), "0.0.0.0:9090");
  EXPECT_EQ(config->server_name, "example.org");
  EXPECT_EQ(config->public_base_url, "https://example.org");
  EXPECT_EQ(config->log_level, "debug");
}

TEST_F(ConfigTest, FileVariantGivesTheTrimmedFileContents) {
  std::string path = WriteFile("name", "  matrix.example.org\n\n");
  Result<Config> config = LoadConfig({{"NEBU_SERVER_NAME_FILE", path}});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server_name, "matrix.example.org");
}

TEST_F(ConfigTest, BothVariableAndFileVariantIsAnError) {
  std::string path = WriteFile("level", "warn");
  std::string error = ErrorOf({{"NEBU_LOG_LEVEL", "info"}, {"NEBU_LOG_LEVEL_FILE", path}});
  EXPECT_NE(error.find("NEBU_LOG_LEVEL_FILE"), std::string::npos) << error;
  EXPECT_NE(error.find("use one"), std::string::npos) << error;
}

TEST_F(ConfigTest, UnreadableFileIsAnErrorNamingTheVariable) {
  std::string error = ErrorOf({{"NEBU_DATA_DIR_FILE", (dir_ / "missing").string()}});
  EXPECT_EQ(error.rfind("NEBU_DATA_DIR_FILE: cannot read", 0), 0u) << error;
}

TEST_F(ConfigTest, BadValuesAreOneLineErrorsNamingTheVariable) {
  struct Case {
    const char* name;
    const char* value;
  };
  for (Case c : {Case{"NEBU_CLIENT_ADDR", "localhost:8008"}, Case{"NEBU_CLIENT_ADDR", "8008"},
                 Case{"NEBU_OPS_ADDR", "127.0.0.1:99999"}, Case{"NEBU_OPS_ADDR", "127.0.0.1:"},
                 Case{"NEBU_OPS_ADDR", "127.0.0.1:8008"}, Case{"NEBU_SERVER_NAME", "bad name"},
                 Case{"NEBU_SERVER_NAME", "example.org:port"},
                 Case{"NEBU_PUBLIC_BASEURL", "ftp://x"}, Case{"NEBU_LOG_LEVEL", "verbose"}}) {
    std::string error = ErrorOf({{c.name, c.value}});
    EXPECT_EQ(error.rfind(std::string(c.name) + ":", 0), 0u)
        << c.name << "=" << c.value << ": " << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
}

TEST_F(ConfigTest, AcceptsServerNamesWithPortsAndIpLiterals) {
  for (const char* name : {"example.org:8448", "1.2.3.4", "[::1]:8448", "localhost"}) {
    Result<Config> config = LoadConfig({{"NEBU_SERVER_NAME", name}});
    EXPECT_TRUE(config.ok()) << name << ": " << config.status().ToString();
  }
}

TEST_F(ConfigTest, UnknownNebuVariablesComeBackAsWarnings) {
  Result<Config> config = LoadConfig({{"NEBU_CLIENT_ADRR", "x"}, {"NEBU_DATA_DIR_FILE", ""}});
  ASSERT_TRUE(config.ok());
  ASSERT_EQ(config->warnings.size(), 1u);
  EXPECT_NE(config->warnings[0].find("NEBU_CLIENT_ADRR"), std::string::npos);
}

}  // namespace
}  // namespace nebu::app
