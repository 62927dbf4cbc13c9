// Goal: the account-related configuration switches, NEBU_REGISTRATION and
// NEBU_RATE_LIMIT: their values, their derived defaults and their errors.
// Method: LoadConfig on hand-built environments.
#include <gtest/gtest.h>

#include "app/config.h"

namespace nebu::app {
namespace {

// Open registration is explicit: a loopback listener does not imply it (issue 7).
TEST(AccountConfigTest, RegistrationIsClosedByDefaultEvenOnLoopback) {
  for (std::string_view address : {"127.0.0.1:8008", "[::1]:8008", "0.0.0.0:8008"}) {
    auto config = LoadConfig({{"NEBU_CLIENT_ADDR", std::string(address)}});
    ASSERT_TRUE(config.ok());
    EXPECT_FALSE(config->registration_open) << address;
    EXPECT_TRUE(config->rate_limit);
  }
  auto empty = LoadConfig({{"NEBU_REGISTRATION", ""}});  // empty counts as unset
  ASSERT_TRUE(empty.ok());
  EXPECT_FALSE(empty->registration_open);
}

TEST(AccountConfigTest, TrustedProxiesAreCidrsAndNoneByDefault) {
  auto none = LoadConfig({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->trusted_proxies.empty());
  auto two = LoadConfig({{"NEBU_TRUSTED_PROXIES", "10.0.0.0/8, fd00::/8"}});
  ASSERT_TRUE(two.ok()) << two.status().ToString();
  EXPECT_EQ(two->trusted_proxies.size(), 2u);
  EXPECT_TRUE(two->warnings.empty());
  auto bad = LoadConfig({{"NEBU_TRUSTED_PROXIES", "10.0.0.0/8,proxy.internal"}});
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.status().message().find("NEBU_TRUSTED_PROXIES"), std::string::npos);
  EXPECT_NE(bad.status().message().find("proxy.internal"), std::string::npos);
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

// NEBU_REGISTRATION=token: registration only with a registration token (issue 9);
// NEBU_ACCESS_TOKEN_LIFETIME_MS: the lifetime of access tokens with a refresh token.
TEST(AccountConfigTest, TokenRegistrationAndAccessTokenLifetime) {
  auto defaults = LoadConfig({});
  ASSERT_TRUE(defaults.ok());
  EXPECT_FALSE(defaults->registration_requires_token);
  EXPECT_EQ(defaults->access_token_lifetime_ms, 300000);
  auto token = LoadConfig({{"NEBU_REGISTRATION", "token"},
                           {"NEBU_ACCESS_TOKEN_LIFETIME_MS", "3000"}});
  ASSERT_TRUE(token.ok()) << token.status().ToString();
  EXPECT_TRUE(token->registration_requires_token);
  EXPECT_FALSE(token->registration_open);
  EXPECT_EQ(token->access_token_lifetime_ms, 3000);
  for (std::string_view bad : {"999", "86400001", "5m", "-1", "1e4"}) {
    auto refused = LoadConfig({{"NEBU_ACCESS_TOKEN_LIFETIME_MS", std::string(bad)}});
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_NE(refused.status().message().find("NEBU_ACCESS_TOKEN_LIFETIME_MS"), std::string::npos);
  }
}

}  // namespace
}  // namespace nebu::app
