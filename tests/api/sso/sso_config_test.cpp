// Goal: the single sign-on variables are read and checked: an issuer needs a client
// ID and secret (the secret may come from a file), plain http only to loopback,
// scopes with openid, the allow-list split, NEBU_PASSWORD_LOGIN on/off. Method:
// LoadConfig on literal environments.
#include <gtest/gtest.h>
#include <unistd.h>

#include <fstream>

#include "app/config.h"

namespace nebu::app {
namespace {

Environment Sso(Environment extra = {}) {
  Environment env{{"NEBU_OIDC_ISSUER", "https://idp.example.org"},
                  {"NEBU_OIDC_CLIENT_ID", "nebu"},
                  {"NEBU_OIDC_CLIENT_SECRET", "s3cret"}};
  for (auto& [k, v] : extra) env[k] = v;
  return env;
}

TEST(SsoConfigTest, DefaultsAreOffAndPasswordLoginOn) {
  Result<Config> config = LoadConfig({});
  ASSERT_TRUE(config.ok());
  EXPECT_FALSE(config->sso.enabled());
  EXPECT_TRUE(config->password_login);
}

TEST(SsoConfigTest, ReadsEverySetting) {
  Result<Config> config = LoadConfig(Sso({{"NEBU_OIDC_SCOPES", "openid email"},
                                          {"NEBU_OIDC_DISPLAY_NAME", "Company"},
                                          {"NEBU_OIDC_LOCALPART_CLAIM", "email"},
                                          {"NEBU_PASSWORD_LOGIN", "off"},
                                          {"NEBU_SSO_CLIENT_WHITELIST",
                                           "https://app.example.org/, io.element.app:/"}}));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_TRUE(config->sso.enabled());
  EXPECT_EQ(config->sso.oidc.client_secret, "s3cret");
  EXPECT_EQ(config->sso.oidc.scopes, "openid email");
  EXPECT_EQ(config->sso.oidc.display_name, "Company");
  EXPECT_EQ(config->sso.oidc.localpart_claim, "email");
  EXPECT_FALSE(config->password_login);
  EXPECT_EQ(config->sso.client_allow_list,
            (std::vector<std::string>{"https://app.example.org/", "io.element.app:/"}));
  EXPECT_EQ(config->sso.public_base_url, config->public_base_url);
}

TEST(SsoConfigTest, SecretFromAFile) {
  const std::string path = "/tmp/nebu-sso-config-test-" + std::to_string(getpid());
  std::ofstream(path) << "file-secret\n";
  Environment env = Sso();
  env.erase("NEBU_OIDC_CLIENT_SECRET");
  env["NEBU_OIDC_CLIENT_SECRET_FILE"] = path;
  Result<Config> config = LoadConfig(env);
  std::remove(path.c_str());
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->sso.oidc.client_secret, "file-secret");
}

TEST(SsoConfigTest, BadSettingsNameTheVariable) {
  auto error = [](Environment env) {
    Result<Config> config = LoadConfig(env);
    return config.ok() ? std::string("ok") : config.status().message();
  };
  Environment no_id = Sso();
  no_id.erase("NEBU_OIDC_CLIENT_ID");
  EXPECT_NE(error(no_id).find("NEBU_OIDC_CLIENT_ID"), std::string::npos);
  Environment no_secret = Sso();
  no_secret.erase("NEBU_OIDC_CLIENT_SECRET");
  EXPECT_NE(error(no_secret).find("NEBU_OIDC_CLIENT_SECRET"), std::string::npos);
  EXPECT_NE(error(Sso({{"NEBU_OIDC_ISSUER", "http://idp.example.org"}})).find("NEBU_OIDC_ISSUER"),
            std::string::npos);
  EXPECT_EQ(error(Sso({{"NEBU_OIDC_ISSUER", "http://127.0.0.1:5556/dex"}})), "ok");
  EXPECT_NE(error(Sso({{"NEBU_OIDC_ISSUER", "http://127.0.0.1.evil.com"}})).find("NEBU_OIDC_ISSUER"),
            std::string::npos);
  EXPECT_NE(error(Sso({{"NEBU_OIDC_SCOPES", "profile email"}})).find("NEBU_OIDC_SCOPES"),
            std::string::npos);
  EXPECT_NE(error(Sso({{"NEBU_PASSWORD_LOGIN", "maybe"}})).find("NEBU_PASSWORD_LOGIN"),
            std::string::npos);
  EXPECT_NE(error(Sso({{"NEBU_SSO_CLIENT_WHITELIST", "app.example.org"}}))
                .find("NEBU_SSO_CLIENT_WHITELIST"),
            std::string::npos);
}

}  // namespace
}  // namespace nebu::app
