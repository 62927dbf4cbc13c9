// Goal: the account-related configuration switches, NEBU_REGISTRATION and
// NEBU_RATE_LIMIT: their values, their derived defaults and their errors.
// Method: LoadConfig on hand-built environments.
#include <gtest/gtest.h>

#include "app/config.h"

namespace nebu::app {
namespace {

TEST(AccountConfigTest, RegistrationIsOpenByDefaultOnlyOnLoopback) {
  auto local = LoadConfig({});
  ASSERT_TRUE(local.ok());
  EXPECT_TRUE(local->registration_open);
  EXPECT_TRUE(local->rate_limit);
  auto v6_local = LoadConfig({{"NEBU_CLIENT_ADDR", "[::1]:8008"}});
  ASSERT_TRUE(v6_local.ok());
  EXPECT_TRUE(v6_local->registration_open);
  auto exposed = LoadConfig({{"NEBU_CLIENT_ADDR", "0.0.0.0:8008"}});
  ASSERT_TRUE(exposed.ok());
  EXPECT_FALSE(exposed->registration_open);
}

TEST(AccountConfigTest, SwitchesOverrideTheDefaults) {
  auto config = LoadConfig({{"NEBU_CLIENT_ADDR", "0.0.0.0:8008"},
                            {"NEBU_REGISTRATION", "open"},
                            {"NEBU_RATE_LIMIT", "off"}});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->registration_open);
  EXPECT_FALSE(config->rate_limit);
  auto closed = LoadConfig({{"NEBU_REGISTRATION", "closed"}});
  ASSERT_TRUE(closed.ok());
  EXPECT_FALSE(closed->registration_open);
  EXPECT_TRUE(closed->warnings.empty());
}

TEST(AccountConfigTest, BadSwitchValuesNameTheVariable) {
  auto registration = LoadConfig({{"NEBU_REGISTRATION", "yes"}});
  ASSERT_FALSE(registration.ok());
  EXPECT_NE(registration.status().message().find("NEBU_REGISTRATION"), std::string::npos);
  auto rate_limit = LoadConfig({{"NEBU_RATE_LIMIT", "true"}});
  ASSERT_FALSE(rate_limit.ok());
  EXPECT_NE(rate_limit.status().message().find("NEBU_RATE_LIMIT"), std::string::npos);
}

}  // namespace
}  // namespace nebu::app
