// Goal: the retention variables: NEBU_RETENTION_MAX_LIFETIME off by default and read as
// a duration, NEBU_RETENTION_INTERVAL one hour by default and at least a second, and a
// bad value a one-line error naming the variable. Method: LoadConfig on literal
// environments.
#include <gtest/gtest.h>

#include "app/config.h"

namespace nebu::app {
namespace {

TEST(RetentionConfigTest, OffByDefaultAndReadAsDurations) {
  Result<Config> plain = LoadConfig({});
  ASSERT_TRUE(plain.ok()) << plain.status().ToString();
  EXPECT_FALSE(plain->retention_max_lifetime_ms.has_value());
  EXPECT_EQ(plain->retention_interval_ms, 3'600'000);

  Result<Config> set = LoadConfig(
      {{"NEBU_RETENTION_MAX_LIFETIME", "90d"}, {"NEBU_RETENTION_INTERVAL", "30m"}});
  ASSERT_TRUE(set.ok()) << set.status().ToString();
  EXPECT_EQ(set->retention_max_lifetime_ms, int64_t{90} * 86'400'000);
  EXPECT_EQ(set->retention_interval_ms, 1'800'000);

  EXPECT_EQ(*ParseDurationMs("12h"), 43'200'000);
  EXPECT_EQ(*ParseDurationMs("45s"), 45'000);
  EXPECT_EQ(*ParseDurationMs("250ms"), 250);
  EXPECT_EQ(*ParseDurationMs("250"), 250);
}

TEST(RetentionConfigTest, BadValuesNameTheVariable) {
  for (const char* bad : {"0d", "-1d", "90x", "d", "", "9999999999999999999d", "1.5d"}) {
    EXPECT_FALSE(ParseDurationMs(bad).ok()) << bad;
  }
  Result<Config> bad = LoadConfig({{"NEBU_RETENTION_MAX_LIFETIME", "ninety days"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("NEBU_RETENTION_MAX_LIFETIME"), std::string::npos);
  Result<Config> fast = LoadConfig({{"NEBU_RETENTION_INTERVAL", "500ms"}});
  ASSERT_FALSE(fast.ok());
  EXPECT_NE(fast.status().message().find("NEBU_RETENTION_INTERVAL"), std::string::npos);
}

}  // namespace
}  // namespace nebu::app
