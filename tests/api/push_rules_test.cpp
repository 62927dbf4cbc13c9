// Goal: GET /pushrules answers the spec's server-default rule set for the caller.
// Method: a real engine in a temp dir, a registered user, the router called directly.
#include "api/accounts/push_rules.h"
#include "api/glob.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "engine/testing/temp_dir.h"

namespace nebu::api {
namespace {

namespace json = boost::json;

class PushRulesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto engine = core::Engine::Open({.data_dir = dir_.path()});
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
    auto prepared = accounts::PrepareRegistration({.user_id = "@alice:localhost"},
                                                  engine_->clock().NowUnixMs());
    ASSERT_TRUE(prepared.ok());
    ASSERT_TRUE(engine_->Submit(core::Command{core::CommandKind::kAccount, prepared->payload}).ok());
    token_ = *prepared->access_token;
    AddPushRuleRoutes(router_, *engine_);
  }
  Response Get(const std::string& path, bool with_token = true) {
    Request r = MakeRequest("GET", "/_matrix/client/v3/pushrules" + path);
    if (with_token) r.headers.Set("Authorization", "Bearer " + token_);
    return router_.Handle(r);
  }
  static std::vector<std::string> Ids(const json::value& rules) {
    std::vector<std::string> ids;
    for (const auto& r : rules.as_array()) ids.emplace_back(r.at("rule_id").as_string());
    return ids;
  }

  nebu::testing::TempDir dir_;
  std::unique_ptr<core::Engine> engine_;
  Router router_{"client"};
  std::string token_;
};

TEST_F(PushRulesTest, TheRuleSetHoldsTheSpecDefaultsInOrder) {
  Response r = Get("/");
  ASSERT_EQ(r.status, 200) << r.body;
  json::value global = json::parse(r.body).at("global");
  EXPECT_EQ(Ids(global.at("override")),
            (std::vector<std::string>{".m.rule.master", ".m.rule.suppress_notices",
                                      ".m.rule.invite_for_me", ".m.rule.member_event",
                                      ".m.rule.is_user_mention", ".m.rule.is_room_mention",
                                      ".m.rule.tombstone", ".m.rule.reaction",
                                      ".m.rule.room.server_acl", ".m.rule.suppress_edits"}));
  EXPECT_EQ(Ids(global.at("underride")),
            (std::vector<std::string>{".m.rule.call", ".m.rule.encrypted_room_one_to_one",
                                      ".m.rule.room_one_to_one", ".m.rule.message",
                                      ".m.rule.encrypted"}));
  for (const char* kind : {"content", "room", "sender"}) {
    EXPECT_TRUE(global.at(kind).as_array().empty()) << kind;
  }
  for (const auto& rule : global.at("override").as_array()) {
    EXPECT_TRUE(rule.at("default").as_bool());
    EXPECT_TRUE(rule.at("actions").is_array());
  }
}

TEST_F(PushRulesTest, RulesNamingTheUserCarryTheCallersId) {
  Response r = Get("/global/override/.m.rule.invite_for_me");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("\"@alice:localhost\""), std::string::npos);
  EXPECT_EQ(r.body.find("[the user"), std::string::npos);
  Response mention = Get("/global/override/.m.rule.is_user_mention");
  EXPECT_EQ(json::parse(mention.body).at("conditions").at(0).at("value"), "@alice:localhost");
}

TEST_F(PushRulesTest, EnabledActionsAndErrors) {
  EXPECT_EQ(json::parse(Get("/global/override/.m.rule.master/enabled").body),
            json::parse(R"({"enabled":false})"));
  EXPECT_EQ(json::parse(Get("/global/override/.m.rule.suppress_notices/actions").body),
            json::parse(R"({"actions":[]})"));
  EXPECT_EQ(Get("/global/override/.m.rule.nope").status, 404);
  EXPECT_EQ(Get("/global/bogus/.m.rule.master").status, 404);
  EXPECT_EQ(Get("/", /*with_token=*/false).status, 401);
  EXPECT_EQ(Get("/global/").status, 200);
}

TEST_F(PushRulesTest, OverlongPatternsAndTooManyConditionsAreRefusedAndNotStored) {
  auto put = [this](const std::string& path, const json::object& body) {
    Request r = MakeRequest("PUT", "/_matrix/client/v3/pushrules" + path, json::serialize(body));
    r.headers.Set("Authorization", "Bearer " + token_);
    return router_.Handle(r);
  };
  const json::array notify{"notify"};
  const std::string too_long(kGlobPatternBytesMax + 1, '*');
  Response content = put("/global/content/long", {{"pattern", too_long}, {"actions", notify}});
  EXPECT_EQ(content.status, 400);
  EXPECT_EQ(json::parse(content.body).at("errcode"), "M_BAD_JSON");
  json::object condition{{"kind", "event_match"}, {"key", "content.body"}, {"pattern", too_long}};
  Response match = put("/global/override/long",
                       {{"conditions", json::array{condition}}, {"actions", notify}});
  EXPECT_EQ(match.status, 400);
  json::array many;
  for (size_t i = 0; i <= kPushRuleConditionsMax; ++i) {
    many.push_back(json::object{{"kind", "event_match"}, {"key", "type"}, {"pattern", "m.*"}});
  }
  Response crowded = put("/global/override/many", {{"conditions", many}, {"actions", notify}});
  EXPECT_EQ(crowded.status, 400);
  for (const char* rule : {"/global/content/long", "/global/override/long",
                           "/global/override/many"}) {
    EXPECT_EQ(Get(rule).status, 404) << rule;
  }
  // At the caps, the rules are stored.
  condition["pattern"] = std::string(kGlobPatternBytesMax, '*');
  many.pop_back();
  many.back() = condition;
  EXPECT_EQ(put("/global/override/full", {{"conditions", many}, {"actions", notify}}).status, 200);
  EXPECT_EQ(put("/global/content/full",
                {{"pattern", std::string(kGlobPatternBytesMax, '?')}, {"actions", notify}})
                .status,
            200);
  EXPECT_EQ(Get("/global/override/full").status, 200);
}

}  // namespace
}  // namespace nebu::api
