// Goal: the spec routes of features nebu does not have (identity servers and 3PIDs,
// bridges, application services, a policy server) answer what the spec prescribes
// for a server without them, never M_UNRECOGNIZED; /.well-known/matrix/support
// serves the configured contacts or 404; NEBU_SUPPORT_* are parsed and checked.
// Method: the real routes over HTTP on loopback (rooms_testing.h); LoadConfig on
// literal environments.
#include <gtest/gtest.h>

#include <string>

#include "api/accounts/threepid_routes.h"
#include "api/discovery.h"
#include "api/misc/thirdparty_routes.h"
#include "app/config.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

class NoIntegrationsTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    AddThreepidRoutes(router_, *engine_);
    AddThirdPartyRoutes(router_, *engine_);
    SupportInfo support;
    support.contacts.push_back({"m.role.admin", "@admin:localhost", "admin@example.org"});
    support.support_page = "https://example.org/help";
    AddDiscoveryRoutes(router_, {.public_base_url = "http://127.0.0.1", .support = support});
    alice_ = Register("alice");
  }
  std::string alice_;
};

TEST_F(NoIntegrationsTest, ThreepidRoutesAnswerAsAServerWithoutThreepids) {
  for (std::string prefix : {"/_matrix/client/v3", "/_matrix/client/r0"}) {
    Response list = Call("GET", prefix + "/account/3pid", alice_);
    ASSERT_EQ(list.status, 200) << list.body;
    EXPECT_EQ(Body(list), (json::object{{"threepids", json::array{}}}));
  }
  EXPECT_EQ(Call("GET", "/account/3pid", "").status, 401);
  const json::object session{{"client_secret", "s"}, {"sid", "1"}};
  Response add = Call("POST", "/account/3pid/add", alice_, session);
  EXPECT_EQ(add.status, 400);
  EXPECT_EQ(ErrCode(add), "M_THREEPID_AUTH_FAILED");
  Response bind = Call("POST", "/account/3pid/bind", alice_, session);
  EXPECT_EQ(bind.status, 400);
  EXPECT_EQ(ErrCode(bind), "M_SERVER_NOT_TRUSTED");
  Response old = Call("POST", "/account/3pid", alice_, json::object{});
  EXPECT_EQ(old.status, 403);
  EXPECT_EQ(ErrCode(old), "M_THREEPID_AUTH_FAILED");
  const json::object address{{"medium", "email"}, {"address", "a@example.org"}};
  for (std::string op : {"delete", "unbind"}) {
    Response r = Call("POST", "/account/3pid/" + op, alice_, address);
    ASSERT_EQ(r.status, 200) << op;
    EXPECT_EQ(Body(r).at("id_server_unbind_result"), "no-support");
    EXPECT_EQ(ErrCode(Call("POST", "/account/3pid/" + op, alice_, json::object{})),
              "M_MISSING_PARAM");
    EXPECT_EQ(Call("POST", "/account/3pid/" + op, "", address).status, 401);
  }
  EXPECT_EQ(ErrCode(Call("POST", "/account/3pid/add", alice_, json::object{})), "M_MISSING_PARAM");
}

TEST_F(NoIntegrationsTest, RequestTokenRoutesDenyThreepids) {
  const json::object email{{"client_secret", "s"}, {"email", "a@example.org"}, {"send_attempt", 1}};
  const json::object msisdn{{"client_secret", "s"},
                            {"country", "GB"},
                            {"phone_number", "07700900001"},
                            {"send_attempt", 1}};
  for (std::string path : {"/account/3pid", "/account/password", "/register"}) {
    for (const auto& [medium, body] : {std::pair{"email", email}, std::pair{"msisdn", msisdn}}) {
      const std::string route = path + "/" + medium + "/requestToken";
      Response r = Call("POST", route, "", body);
      EXPECT_EQ(r.status, 403) << route;
      EXPECT_EQ(ErrCode(r), "M_THREEPID_DENIED") << route;
      EXPECT_EQ(ErrCode(Call("POST", route, "", json::object{{"client_secret", "s"}})),
                "M_MISSING_PARAM")
          << route;
      EXPECT_EQ(Call("POST", route, "", std::string("not json")).status, 400) << route;
    }
  }
}

TEST_F(NoIntegrationsTest, ThirdPartyLookupsFindNothing) {
  for (std::string kind : {"protocol", "location", "user"}) {
    Response r = Call("GET", "/thirdparty/" + kind + "/irc", alice_);
    EXPECT_EQ(r.status, 404) << kind;
    EXPECT_EQ(ErrCode(r), "M_NOT_FOUND") << kind;
    EXPECT_EQ(Call("GET", "/thirdparty/" + kind + "/irc", "").status, 401);
  }
  Response location = Call("GET", "/thirdparty/location?alias=%23a:localhost", alice_);
  ASSERT_EQ(location.status, 200);
  EXPECT_EQ(Body(location), json::array{});
  Response user = Call("GET", "/thirdparty/user?userid=@a:localhost", alice_);
  ASSERT_EQ(user.status, 200);
  EXPECT_EQ(Body(user), json::array{});
  EXPECT_EQ(ErrCode(Call("GET", "/thirdparty/location", alice_)), "M_MISSING_PARAM");
  EXPECT_EQ(ErrCode(Call("GET", "/thirdparty/user", alice_)), "M_MISSING_PARAM");
}

TEST_F(NoIntegrationsTest, AppserviceRoutesRefuseUserTokens) {
  Response ping = Call("POST", "/_matrix/client/v1/appservice/irc/ping", alice_, json::object{});
  EXPECT_EQ(ping.status, 403);
  EXPECT_EQ(ErrCode(ping), "M_FORBIDDEN");
  EXPECT_EQ(ErrCode(Call("POST", "/_matrix/client/v1/appservice/irc/ping", "", json::object{})),
            "M_MISSING_TOKEN");
  EXPECT_EQ(ErrCode(Call("POST", "/_matrix/client/v1/appservice/irc/ping", "bogus", json::object{})),
            "M_UNKNOWN_TOKEN");
  Response list = Call("PUT", "/directory/list/appservice/irc/!r:localhost", alice_,
                       json::object{{"visibility", "public"}});
  EXPECT_EQ(list.status, 403);
  EXPECT_EQ(ErrCode(list), "M_FORBIDDEN");
}

TEST_F(NoIntegrationsTest, WellKnownSupportAndPolicyServer) {
  // Outside /_matrix: through the router (Call prefixes /_matrix/client/v3).
  Response support = router_.Handle(MakeRequest("GET", "/.well-known/matrix/support"));
  ASSERT_EQ(support.status, 200) << support.body;
  EXPECT_EQ(Body(support),
            (json::object{{"contacts", json::array{json::object{
                                           {"role", "m.role.admin"},
                                           {"matrix_id", "@admin:localhost"},
                                           {"email_address", "admin@example.org"}}}},
                          {"support_page", "https://example.org/help"}}));
  Response policy = router_.Handle(MakeRequest("GET", "/.well-known/matrix/policy_server"));
  EXPECT_EQ(policy.status, 404);
  EXPECT_EQ(ErrCode(policy), "M_NOT_FOUND");
}

TEST(SupportNotConfigured, WellKnownSupportIs404) {
  Router router("client");
  AddDiscoveryRoutes(router, {.public_base_url = "http://127.0.0.1"});
  Response r = router.Handle(MakeRequest("GET", "/.well-known/matrix/support"));
  EXPECT_EQ(r.status, 404);
  EXPECT_NE(r.body.find("M_NOT_FOUND"), std::string::npos);
}

TEST(SupportConfig, VariablesBecomeContactsAndBadValuesNameTheVariable) {
  auto config = app::LoadConfig({{"NEBU_SUPPORT_ADMIN_EMAIL", "root@example.org"},
                                 {"NEBU_SUPPORT_SECURITY_MATRIX_ID", "@sec:example.org"},
                                 {"NEBU_SUPPORT_PAGE", "https://example.org/s"}});
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_EQ(config->support.contacts.size(), 2u);
  EXPECT_EQ(config->support.contacts[0].role, "m.role.admin");
  EXPECT_EQ(config->support.contacts[0].email_address, "root@example.org");
  EXPECT_EQ(config->support.contacts[1].role, "m.role.security");
  EXPECT_EQ(config->support.contacts[1].matrix_id, "@sec:example.org");
  EXPECT_EQ(config->support.support_page, "https://example.org/s");
  auto none = app::LoadConfig({});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->support.empty());
  for (auto [name, value] : {std::pair{"NEBU_SUPPORT_ADMIN_MATRIX_ID", "admin"},
                             std::pair{"NEBU_SUPPORT_SECURITY_EMAIL", "no at sign"},
                             std::pair{"NEBU_SUPPORT_PAGE", "ftp://example.org"}}) {
    auto bad = app::LoadConfig({{name, value}});
    ASSERT_FALSE(bad.ok()) << name;
    EXPECT_NE(bad.status().message().find(name), std::string::npos) << bad.status().message();
  }
}

}  // namespace
}  // namespace nebu::api
