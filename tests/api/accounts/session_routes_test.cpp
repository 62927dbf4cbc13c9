// Goal: refresh tokens, login tokens (m.login.token), OpenID tokens and registration
// tokens as a client meets them over HTTP, including what an attacker tries: reusing a
// rotated refresh token, an access token as a refresh token, a login token twice, an
// OpenID token for someone else, an exhausted registration token.
// Method: api/accounts fixture (real engine, FakeClock, loopback server).
#include <chrono>
#include <thread>

#include "tests/api/accounts/accounts_testing.h"

namespace nebu::api::testing {
namespace {

using boost::json::object;

class SessionRoutesTest : public AccountsFixture {
 protected:
  HttpReply Refresh(std::string_view refresh_token) {
    return Call("POST", "/refresh", Json({{"refresh_token", refresh_token}}));
  }
  // Waits (bounded) until the refresh token is no longer known to the engine.
  bool WaitRevoked(std::string_view refresh_token) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!accounts::RefreshTokenOwner(engine_->Read(), refresh_token).ok()) return true;
      std::this_thread::yield();
    }
    return false;
  }
};

TEST_F(SessionRoutesTest, LoginWithRefreshTokenExpiresAndRefreshes) {
  Register("alice");
  HttpReply login = LoginReply("alice", /*refresh=*/true);
  ASSERT_EQ(login.status, 200) << login.body;
  EXPECT_EQ(login.Json().at("expires_in_ms").to_number<int64_t>(), kAccessTokenLifetimeMsDefault);
  Session s = ToSession(login);
  ASSERT_TRUE(s.refresh_token.starts_with("nebur_")) << login.body;
  EXPECT_EQ(WhoAmI(s), 200);

  clock_.AdvanceMs(kAccessTokenLifetimeMsDefault);  // expired now
  HttpReply expired = Call("GET", "/account/whoami", {}, s.access_token);
  ExpectError(expired, 401, "M_UNKNOWN_TOKEN");
  EXPECT_TRUE(SoftLogout(expired));

  HttpReply refreshed = Refresh(s.refresh_token);
  ASSERT_EQ(refreshed.status, 200) << refreshed.body;
  Session next{s.user_id, Str(refreshed.Json(), "access_token"), s.device_id,
               Str(refreshed.Json(), "refresh_token")};
  EXPECT_EQ(refreshed.Json().at("expires_in_ms").to_number<int64_t>(),
            kAccessTokenLifetimeMsDefault);
  EXPECT_NE(next.refresh_token, s.refresh_token);
  EXPECT_EQ(WhoAmI(next), 200);
  EXPECT_EQ(Str(Call("GET", "/account/whoami", {}, next.access_token).Json(), "device_id"),
            s.device_id);
  // The first use of the new access token revokes the old refresh token.
  ASSERT_TRUE(WaitRevoked(s.refresh_token));
  HttpReply reused = Refresh(s.refresh_token);
  ExpectError(reused, 401, "M_UNKNOWN_TOKEN");
  EXPECT_EQ(WhoAmI(next), 200);  // a refused reuse changes nothing
}

TEST_F(SessionRoutesTest, RetriedRefreshBeforeUseIsAllowedAndSupersedes) {
  Session s = Register("alice", /*refresh=*/true);
  ASSERT_FALSE(s.refresh_token.empty());
  HttpReply first = Refresh(s.refresh_token);
  ASSERT_EQ(first.status, 200);
  // The answer was "lost": the client retries with the same refresh token.
  HttpReply retry = Refresh(s.refresh_token);
  ASSERT_EQ(retry.status, 200) << retry.body;
  ExpectError(Call("GET", "/account/whoami", {}, Str(first.Json(), "access_token")), 401,
              "M_UNKNOWN_TOKEN");
  ExpectError(Refresh(Str(first.Json(), "refresh_token")), 401, "M_UNKNOWN_TOKEN");
  // Using the new refresh token (without the access token) revokes the original too.
  HttpReply third = Refresh(Str(retry.Json(), "refresh_token"));
  ASSERT_EQ(third.status, 200) << third.body;
  ExpectError(Refresh(s.refresh_token), 401, "M_UNKNOWN_TOKEN");
  EXPECT_EQ(Call("GET", "/account/whoami", {}, Str(third.Json(), "access_token")).status, 200);
}

TEST_F(SessionRoutesTest, RefreshRefusesOtherTokensAndLoggedOutDevices) {
  Session plain = Register("bob");  // no refresh token: never expires
  EXPECT_TRUE(plain.refresh_token.empty());
  clock_.AdvanceMs(24 * 60 * 60 * 1000);
  EXPECT_EQ(WhoAmI(plain), 200);
  ExpectError(Refresh(plain.access_token), 401, "M_UNKNOWN_TOKEN");  // not a refresh token
  ExpectError(Refresh("nebur_nope"), 401, "M_UNKNOWN_TOKEN");
  ExpectError(Call("POST", "/refresh", "{}"), 400, "M_MISSING_PARAM");
  ExpectError(Call("POST", "/refresh", R"({"refresh_token":7})"), 400, "M_BAD_JSON");
  ExpectError(Call("POST", "/login", R"({"type":"m.login.password","user":"bob",)"
                                     R"("password":"x","refresh_token":"yes"})"),
              400, "M_BAD_JSON");

  Session alice = ToSession(LoginReply("bob", true));
  // A refresh token is not an access token.
  ExpectError(Call("GET", "/account/whoami", {}, alice.refresh_token), 401, "M_UNKNOWN_TOKEN");
  ASSERT_EQ(Call("POST", "/logout", "{}", alice.access_token).status, 200);
  ExpectError(Refresh(alice.refresh_token), 401, "M_UNKNOWN_TOKEN");  // gone with the device
}

TEST_F(SessionRoutesTest, LoginTokenIsSingleUseAndExpires) {
  Session alice = Register("alice");
  HttpReply flows = Call("GET", "/login");
  EXPECT_NE(flows.body.find(R"({"type":"m.login.token","get_login_token":true})"),
            std::string::npos)
      << flows.body;
  HttpReply caps = Call("GET", "/capabilities", {}, alice.access_token);
  EXPECT_TRUE(caps.Json().at("capabilities").at("m.get_login_token").at("enabled").as_bool());

  const std::string kGetToken = "/_matrix/client/v1/login/get_token";
  HttpReply challenge = Raw("POST", kGetToken, "{}", alice.access_token);
  EXPECT_EQ(challenge.status, 401);
  EXPECT_TRUE(challenge.Json().as_object().contains("flows")) << challenge.body;
  ExpectError(Raw("POST", kGetToken, "{}"), 401, "M_MISSING_TOKEN");
  HttpReply got = Raw("POST", kGetToken, PasswordAuth("alice"), alice.access_token);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.Json().at("expires_in_ms").to_number<int64_t>(), accounts::kLoginTokenLifetimeMs);
  const std::string token = Str(got.Json(), "login_token");

  const std::string login = Json({{"type", "m.login.token"}, {"token", token}});
  HttpReply first = Call("POST", "/login", login);
  ASSERT_EQ(first.status, 200) << first.body;
  Session second_device = ToSession(first);
  EXPECT_EQ(second_device.user_id, alice.user_id);
  EXPECT_NE(second_device.device_id, alice.device_id);
  EXPECT_EQ(WhoAmI(second_device), 200);
  ExpectError(Call("POST", "/login", login), 403, "M_FORBIDDEN");  // single use

  HttpReply late = Raw("POST", kGetToken, PasswordAuth("alice"), alice.access_token);
  clock_.AdvanceMs(accounts::kLoginTokenLifetimeMs);
  ExpectError(Call("POST", "/login", Json({{"type", "m.login.token"},
                                           {"token", Str(late.Json(), "login_token")}})),
              403, "M_FORBIDDEN");
  ExpectError(Call("POST", "/login", R"({"type":"m.login.token"})"), 400, "M_MISSING_PARAM");
  ExpectError(Call("POST", "/login", R"({"type":"m.login.token","token":"nebul_x"})"), 403,
              "M_FORBIDDEN");
}

TEST_F(SessionRoutesTest, OpenIdTokenForYourselfOnlyAndUserInfo) {
  Session alice = Register("alice");
  Session bob = Register("bob");
  HttpReply other = Call("POST", "/user/" + PercentEncode(bob.user_id) + "/openid/request_token",
                         "{}", alice.access_token);
  ExpectError(other, 403, "M_FORBIDDEN");
  HttpReply mine = Call("POST", "/user/" + PercentEncode(alice.user_id) + "/openid/request_token",
                        "{}", alice.access_token);
  ASSERT_EQ(mine.status, 200) << mine.body;
  {
    boost::json::value json = mine.Json();
    EXPECT_EQ(Str(json, "token_type"), "Bearer");
    EXPECT_EQ(Str(json, "matrix_server_name"), kServerName);
    EXPECT_EQ(json.at("expires_in").to_number<int64_t>(), 3600);
  }
  const std::string token = Str(mine.Json(), "access_token");
  const std::string userinfo = "/_matrix/federation/v1/openid/userinfo?access_token=";
  HttpReply info = Raw("GET", userinfo + PercentEncode(token));
  ASSERT_EQ(info.status, 200) << info.body;
  EXPECT_EQ(Str(info.Json(), "sub"), alice.user_id);
  // The OpenID token is no access token, and an access token is no OpenID token.
  ExpectError(Call("GET", "/account/whoami", {}, token), 401, "M_UNKNOWN_TOKEN");
  ExpectError(Raw("GET", userinfo + PercentEncode(alice.access_token)), 401, "M_UNKNOWN_TOKEN");
  ExpectError(Raw("GET", "/_matrix/federation/v1/openid/userinfo"), 401, "M_MISSING_TOKEN");
  clock_.AdvanceMs(accounts::kOpenIdTokenLifetimeMs);
  ExpectError(Raw("GET", userinfo + PercentEncode(token)), 401, "M_UNKNOWN_TOKEN");
}

class RegistrationTokenTest : public AccountsFixture {
 protected:
  void SetUp() override {
    Start({.registration_open = false, .registration_requires_token = true, .rate_limit = false});
  }
  HttpReply RegisterWith(std::string_view localpart, object auth) {
    return Call("POST", "/register",
                Json({{"username", localpart}, {"password", kPassword}, {"auth", auth}}));
  }
  HttpReply Validity(std::string_view token) {
    return Raw("GET",
               "/_matrix/client/v1/register/m.login.registration_token/validity?token=" +
                   PercentEncode(token));
  }
  bool Valid(std::string_view token) {
    HttpReply r = Validity(token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 && r.Json().at("valid").as_bool();
  }
};

TEST_F(RegistrationTokenTest, RegistersOnlyWithAValidTokenAndCountsUses) {
  HttpReply challenge = Call("POST", "/register", Json({{"username", "a"}, {"password", kPassword}}));
  EXPECT_EQ(challenge.status, 401);
  EXPECT_EQ(challenge.Json().at("flows").at(0).at("stages").at(0).as_string(),
            "m.login.registration_token");
  ExpectError(RegisterWith("a", {{"type", "m.login.dummy"}}), 401, "M_UNRECOGNIZED");
  ExpectError(RegisterWith("a", {{"type", "m.login.registration_token"}, {"token", "nope"}}), 401,
              "M_FORBIDDEN");

  ASSERT_TRUE(Propose(accounts::CreateRegistrationTokenCommand{.token = "once", .uses_allowed = 1})
                  .ok());
  EXPECT_TRUE(Valid("once"));
  EXPECT_FALSE(Valid("never-made"));
  HttpReply ok = RegisterWith("alice", {{"type", "m.login.registration_token"}, {"token", "once"}});
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(WhoAmI(ToSession(ok)), 200);
  auto stored = accounts::GetRegistrationToken(engine_->Read(), "once");
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->completed, 1);
  EXPECT_FALSE(Valid("once"));  // exhausted
  ExpectError(RegisterWith("bob", {{"type", "m.login.registration_token"}, {"token", "once"}}), 401,
              "M_FORBIDDEN");
  EXPECT_EQ(Call("GET", "/register/available?username=bob").status, 200);  // bob not created

  // Expiry; unlimited uses.
  ASSERT_TRUE(Propose(accounts::CreateRegistrationTokenCommand{
                          .token = "soon", .expiry_time = clock_.NowUnixMs() + 1000})
                  .ok());
  EXPECT_TRUE(Valid("soon"));
  ASSERT_EQ(RegisterWith("carol", {{"type", "m.login.registration_token"}, {"token", "soon"}}).status,
            200);
  ASSERT_EQ(RegisterWith("dave", {{"type", "m.login.registration_token"}, {"token", "soon"}}).status,
            200);
  clock_.AdvanceMs(1000);
  EXPECT_FALSE(Valid("soon"));
  ExpectError(RegisterWith("erin", {{"type", "m.login.registration_token"}, {"token", "soon"}}), 401,
              "M_FORBIDDEN");
  // A second token of the same name is refused by the engine.
  EXPECT_EQ(Propose(accounts::CreateRegistrationTokenCommand{.token = "soon"}).status().code(),
            StatusCode::kAlreadyExists);
  EXPECT_FALSE(Propose(accounts::CreateRegistrationTokenCommand{.token = "bad token!"}).ok());
  ExpectError(Raw("GET", "/_matrix/client/v1/register/m.login.registration_token/validity"), 400,
              "M_MISSING_PARAM");
}

TEST_F(SessionRoutesTest, ValidityIsForbiddenWithoutTokenRegistration) {
  ExpectError(Raw("GET", "/_matrix/client/v1/register/m.login.registration_token/validity?token=x"),
              403, "M_FORBIDDEN");
}

}  // namespace
}  // namespace nebu::api::testing
