// Goal: the operations variables (NEBU_LOG_FORMAT, NEBU_DRAIN_TIMEOUT_MS,
// NEBU_TLS_CERT_FILE / NEBU_TLS_KEY_FILE; app/config.h) and the JSON log line format
// (app/logging.h): defaults, bounds, errors that name the variable; every JSON line is
// valid JSON whatever bytes the message holds.
// Method: LoadConfig on literal environments; the formatter on spdlog messages.
#include <gtest/gtest.h>
#include <spdlog/details/log_msg.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <filesystem>
#include <fstream>

#include "app/config.h"
#include "app/logging.h"

namespace nebu::app {
namespace {

std::string ConfigError(const Environment& env) {
  Result<Config> config = LoadConfig(env);
  EXPECT_FALSE(config.ok());
  return config.ok() ? "" : config.status().message();
}

TEST(OpsConfigTest, DefaultsAreTextLogsTenSecondDrainAndPlainHttp) {
  Result<Config> config = LoadConfig({});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_FALSE(config->ops.log_json);
  EXPECT_EQ(config->ops.drain_timeout_ms, kDrainTimeoutMsDefault);
  EXPECT_FALSE(config->ops.tls());
}

TEST(OpsConfigTest, ValuesAndBounds) {
  Result<Config> config =
      LoadConfig({{"NEBU_LOG_FORMAT", "json"}, {"NEBU_DRAIN_TIMEOUT_MS", "2500"}});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->ops.log_json);
  EXPECT_EQ(config->ops.drain_timeout_ms, 2500);
  EXPECT_NE(ConfigError({{"NEBU_LOG_FORMAT", "yaml"}}).find("NEBU_LOG_FORMAT"), std::string::npos);
  for (const char* bad : {"-1", "600001", "10s", ""}) {
    if (std::string(bad).empty()) continue;
    EXPECT_NE(ConfigError({{"NEBU_DRAIN_TIMEOUT_MS", bad}}).find("NEBU_DRAIN_TIMEOUT_MS"),
              std::string::npos)
        << bad;
  }
}

TEST(OpsConfigTest, TlsFilesGoTogetherAndMustBeReadable) {
  const std::string dir = std::filesystem::temp_directory_path() /
                          ("nebu_ops_config_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/cert.pem") << "x";
  std::ofstream(dir + "/key.pem") << "x";
  EXPECT_NE(ConfigError({{"NEBU_TLS_CERT_FILE", dir + "/cert.pem"}}).find("set both or neither"),
            std::string::npos);
  EXPECT_NE(ConfigError({{"NEBU_TLS_CERT_FILE", dir + "/cert.pem"},
                         {"NEBU_TLS_KEY_FILE", dir + "/missing.pem"}})
                .find("NEBU_TLS_KEY_FILE"),
            std::string::npos);
  Result<Config> config = LoadConfig(
      {{"NEBU_TLS_CERT_FILE", dir + "/cert.pem"}, {"NEBU_TLS_KEY_FILE", dir + "/key.pem"}});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->ops.tls());
  EXPECT_TRUE(config->warnings.empty());  // *_FILE here names a path, not a secret's file
  std::filesystem::remove_all(dir);
}

std::string JsonLine(std::string_view text, spdlog::level::level_enum level = spdlog::level::info) {
  spdlog::details::log_msg msg(spdlog::string_view_t("nebu"), level,
                               spdlog::string_view_t(text.data(), text.size()));
  spdlog::memory_buf_t out;
  JsonLogFormatter().format(msg, out);
  return std::string(out.data(), out.size());
}

TEST(JsonLogTest, EveryLineIsOneJsonObjectWhateverTheBytes) {
  std::string line = JsonLine("http: client 127.0.0.1 \"GET /x\" 200", spdlog::level::warn);
  ASSERT_TRUE(line.ends_with("}\n")) << line;
  boost::json::value v = boost::json::parse(line);
  EXPECT_EQ(v.at("level"), "warning");
  EXPECT_EQ(v.at("logger"), "nebu");
  EXPECT_EQ(v.at("msg"), "http: client 127.0.0.1 \"GET /x\" 200");
  EXPECT_EQ(v.at("ts").as_string().size(), 24u);
  // Control characters, a lone continuation byte, a truncated sequence, an overlong
  // encoding and a surrogate: escaped or replaced by U+FFFD; valid UTF-8 stays.
  std::string nasty = std::string("a\nb\tc\x01\x7f") + "\x80" + "\xE2\x82" + "\xC0\xAF" +
                      "\xED\xA0\x80" + "GRÜN";
  line = JsonLine(nasty);
  EXPECT_EQ(line.find('\n'), line.size() - 1) << line;
  boost::system::error_code ec;
  v = boost::json::parse(line, ec);
  ASSERT_FALSE(ec) << line;
  EXPECT_NE(std::string(v.at("msg").as_string()).find("GRÜN"), std::string::npos);
  EXPECT_NE(std::string(v.at("msg").as_string()).find("\xEF\xBF\xBD"), std::string::npos);
  // Over the bound: cut, still one valid line.
  line = JsonLine(std::string(kLogMessageBytesMax + 100, 'x'));
  v = boost::json::parse(line, ec);
  ASSERT_FALSE(ec);
  EXPECT_LT(v.at("msg").as_string().size(), kLogMessageBytesMax + 8);
}

}  // namespace
}  // namespace nebu::app
