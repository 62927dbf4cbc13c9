// The fixture of api_accounts_test: a real Engine on a FakeClock in a temp dir, the
// account routes on a loopback Server, a blocking HTTP client, and helpers to
// register, log in and propose engine commands directly (admins, registration tokens).
#pragma once

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <memory>
#include <string>

#include "api/accounts/account_routes.h"
#include "api/router.h"
#include "api/server.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "engine/testing/fake_clock.h"
#include "engine/testing/temp_dir.h"
#include "tests/api/test_http_client.h"

namespace nebu::api::testing {

inline constexpr std::string_view kServerName = "test.local";
inline constexpr std::string_view kPassword = "correct horse battery";

struct Session {
  std::string user_id;
  std::string access_token;
  std::string device_id;
  std::string refresh_token;  // empty: none
};

inline std::string Json(const boost::json::object& o) { return boost::json::serialize(o); }

inline std::string Str(const boost::json::value& v, std::string_view key) {
  const boost::json::value* field = v.is_object() ? v.as_object().if_contains(key) : nullptr;
  return field != nullptr && field->is_string() ? std::string(field->as_string()) : "";
}

inline void ExpectError(const HttpReply& reply, int status, std::string_view errcode) {
  EXPECT_EQ(reply.status, status) << reply.body;
  EXPECT_EQ(reply.Errcode(), errcode) << reply.body;
}

inline bool SoftLogout(const HttpReply& reply) {
  boost::json::value json = reply.Json();
  const boost::json::value* soft =
      json.is_object() ? json.as_object().if_contains("soft_logout") : nullptr;
  return soft != nullptr && soft->is_bool() && soft->as_bool();
}

class AccountsFixture : public ::testing::Test {
 protected:
  void SetUp() override { Start({.registration_open = true, .rate_limit = false}); }
  void TearDown() override { Stop(); }

  void Stop() {
    client_.reset();
    server_.reset();
    router_.reset();
    engine_.reset();
  }

  void Start(AccountRoutesConfig config) {
    Stop();
    auto engine = core::Engine::Open(
        {.data_dir = dir_.path(), .server_name = std::string(kServerName), .clock = &clock_});
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
    router_ = std::make_unique<Router>("client");
    AddAccountRoutes(*router_, *engine_, config);
    auto server = Server::Start({{.address = "127.0.0.1", .port = 0, .router = router_.get()}},
                                {.threads = 2});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    client_ = std::make_unique<TestHttpClient>(server_->port(0));
    ASSERT_TRUE(client_->connected());
  }

  // method + full path ("/_matrix/...").
  HttpReply Raw(std::string_view method, std::string_view path, std::string_view body = {},
                std::optional<std::string_view> token = std::nullopt) {
    return client_->Call(method, path, body, token);
  }
  HttpReply Call(std::string_view method, std::string_view suffix, std::string_view body = {},
                 std::optional<std::string_view> token = std::nullopt) {
    return Raw(method, "/_matrix/client/v3" + std::string(suffix), body, token);
  }

  static Session ToSession(const HttpReply& reply) {
    if (reply.status != 200) return {};
    boost::json::value json = reply.Json();
    return {Str(json, "user_id"), Str(json, "access_token"), Str(json, "device_id"),
            Str(json, "refresh_token")};
  }

  Session Register(std::string_view localpart, bool refresh = false) {
    boost::json::object body{{"username", localpart},
                             {"password", kPassword},
                             {"auth", boost::json::object{{"type", "m.login.dummy"}}}};
    if (refresh) body["refresh_token"] = true;
    HttpReply reply = Call("POST", "/register", Json(body));
    EXPECT_EQ(reply.status, 200) << reply.body;
    return ToSession(reply);
  }

  HttpReply LoginReply(std::string_view user, bool refresh = false) {
    boost::json::object body{{"type", "m.login.password"}, {"user", user}, {"password", kPassword}};
    if (refresh) body["refresh_token"] = true;
    return Call("POST", "/login", Json(body));
  }

  // An admin account made through the engine (no route registers admins).
  Session RegisterAdmin(std::string_view localpart) {
    accounts::RegistrationRequest request{
        .user_id = "@" + std::string(localpart) + ":" + std::string(kServerName),
        .password = std::string(kPassword),
        .admin = true};
    auto prepared = accounts::PrepareRegistration(request, clock_.NowUnixMs());
    EXPECT_TRUE(prepared.ok());
    EXPECT_TRUE(Propose(prepared->command).ok());
    return {request.user_id, *prepared->access_token, *prepared->device_id, ""};
  }

  core::ApplyOutcome Propose(const accounts::AccountCommand& command) {
    auto payload = accounts::EncodeAccountCommand(command);
    if (!payload.ok()) return payload.status();
    return engine_->Submit({.kind = core::CommandKind::kAccount, .payload = *payload});
  }

  int WhoAmI(const Session& s) { return Call("GET", "/account/whoami", {}, s.access_token).status; }

  std::string PasswordAuth(std::string_view user) {
    return Json({{"auth", boost::json::object{{"type", "m.login.password"},
                                              {"user", user},
                                              {"password", kPassword}}}});
  }

  nebu::testing::TempDir dir_;
  nebu::testing::FakeClock clock_;
  std::unique_ptr<core::Engine> engine_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<TestHttpClient> client_;
};

}  // namespace nebu::api::testing
