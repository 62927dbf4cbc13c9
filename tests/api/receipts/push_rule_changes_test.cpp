// Goal: PUT/DELETE /pushrules/global/{kind}/{ruleId} and PUT .../enabled|actions
// change the caller's rule set as the spec says (placement with before/after,
// server-default rules protected but switchable), store it as m.push_rules account
// data, and refuse bad input with the spec's errors without changing anything.
// Method: ReceiptsApiTest (real engine on tmpfs, Router::Handle); the rule set is
// read back through GET /pushrules/ and the account-data route.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <latch>
#include <string>
#include <thread>
#include <vector>

#include "tests/api/receipts/receipts_api_testing.h"

namespace nebu::api {
namespace {

class PushRuleChangesTest : public ReceiptsApiTest {
 protected:
  static constexpr std::string_view kRules = "/pushrules/global/";

  Response Put(const std::string& path, const json::value& body, const std::string& token = "") {
    return Call("PUT", std::string(kRules) + path, token.empty() ? alice_ : token, body);
  }
  Response Get(const std::string& path, const std::string& token = "") {
    return Call("GET", std::string(kRules) + path, token.empty() ? alice_ : token);
  }
  Response Delete(const std::string& path) {
    return Call("DELETE", std::string(kRules) + path, alice_);
  }
  // The rule IDs of one kind, as GET /pushrules/ lists them.
  std::vector<std::string> Ids(const std::string& kind, const std::string& token = "") {
    Response r = Call("GET", "/pushrules/", token.empty() ? alice_ : token);
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> ids;
    const json::value body = Body(r);
    for (const auto& rule : body.at("global").at(kind).as_array()) {
      ids.emplace_back(rule.at("rule_id").as_string());
    }
    return ids;
  }
  // The user rules of `kind` (those without a leading '.').
  std::vector<std::string> UserIds(const std::string& kind) {
    std::vector<std::string> ids;
    for (const std::string& id : Ids(kind)) {
      if (!id.starts_with('.')) ids.push_back(id);
    }
    return ids;
  }
  static json::object Notify() { return json::object{{"actions", json::array{"notify"}}}; }
  void ExpectError(const Response& r, int status, const std::string& errcode) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(ErrCode(r), errcode) << r.body;
  }
};

TEST_F(PushRuleChangesTest, ANewRuleIsEnabledAndTheMostImportantUserRule) {
  json::object body{
      {"actions", json::array{"notify", json::object{{"set_tweak", "highlight"}}}},
      {"conditions", json::array{json::object{
                         {"kind", "event_match"}, {"key", "content.body"}, {"pattern", "cake"}}}}};
  Response r = Put("override/cake", body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r), json::value(json::object{}));
  std::vector<std::string> ids = Ids("override");
  ASSERT_GE(ids.size(), 3u);
  EXPECT_EQ(ids[0], ".m.rule.master");  // the master rule stays first
  EXPECT_EQ(ids[1], "cake");
  EXPECT_EQ(ids[2], ".m.rule.suppress_notices");
  Response rule = Get("override/cake");
  ASSERT_EQ(rule.status, 200) << rule.body;
  EXPECT_EQ(Body(rule), json::value(json::object{{"rule_id", "cake"},
                                                 {"default", false},
                                                 {"enabled", true},
                                                 {"actions", body.at("actions")},
                                                 {"conditions", body.at("conditions")}}));
  // The whole set is the user's m.push_rules account data, what /sync carries.
  Response data = Call("GET", "/user/@alice:localhost/account_data/m.push_rules", alice_);
  ASSERT_EQ(data.status, 200) << data.body;
  EXPECT_EQ(Body(data), Body(Call("GET", "/pushrules/", alice_)));
  // Rules are per user.
  EXPECT_EQ(Get("override/cake", bob_).status, 404);
  // Underride, content, room and sender rules.
  ASSERT_EQ(Put("underride/u1", Notify()).status, 200);
  EXPECT_EQ(Ids("underride")[0], "u1");
  json::object content = Notify();
  content["pattern"] = "cake*lie";
  ASSERT_EQ(Put("content/nocake", content).status, 200);
  EXPECT_EQ(Body(Get("content/nocake")).at("pattern"), "cake*lie");
  ASSERT_EQ(Put("room/" + room_, Notify()).status, 200);
  ASSERT_EQ(Put("sender/@bob:localhost", Notify()).status, 200);
  EXPECT_EQ(Ids("room"), (std::vector<std::string>{room_}));
  EXPECT_EQ(Ids("sender"), (std::vector<std::string>{"@bob:localhost"}));
}

// Concurrent changes by one user, each proposed from the same view of the stored set:
// each is one edit applied to the stored set, so none is lost (a whole-set rewrite
// would keep only the last), and the tags of one room likewise.
TEST_F(PushRuleChangesTest, ConcurrentChangesOfOneUserAllLand) {
  constexpr int kWriters = 8;
  const std::string tags = "/user/@alice:localhost/rooms/" + room_ + "/tags/";
  std::latch start(2 * kWriters);
  std::vector<int> statuses(2 * kWriters, 0);
  std::vector<std::thread> threads;
  for (int i = 0; i < kWriters; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      statuses[i] = Put("override/rule" + std::to_string(i), Notify()).status;
    });
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      statuses[kWriters + i] =
          Call("PUT", tags + "u.t" + std::to_string(i), alice_, std::string(R"({"order":0.5})"))
              .status;
    });
  }
  for (std::thread& t : threads) t.join();
  for (int status : statuses) EXPECT_EQ(status, 200);
  std::vector<std::string> ids = UserIds("override");
  std::sort(ids.begin(), ids.end());
  std::vector<std::string> expected;
  for (int i = 0; i < kWriters; ++i) expected.push_back("rule" + std::to_string(i));
  EXPECT_EQ(ids, expected);
  Response got = Call("GET", "/user/@alice:localhost/rooms/" + room_ + "/tags", alice_);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(Body(got).at("tags").as_object().size(), static_cast<size_t>(kWriters)) << got.body;
}

TEST_F(PushRuleChangesTest, BeforeAndAfterPlaceTheRule) {
  ASSERT_EQ(Put("override/a", Notify()).status, 200);
  ASSERT_EQ(Put("override/b", Notify()).status, 200);  // new: most important
  EXPECT_EQ(UserIds("override"), (std::vector<std::string>{"b", "a"}));
  ASSERT_EQ(Put("override/c?after=b", Notify()).status, 200);
  EXPECT_EQ(UserIds("override"), (std::vector<std::string>{"b", "c", "a"}));
  ASSERT_EQ(Put("override/d?before=a", Notify()).status, 200);
  EXPECT_EQ(UserIds("override"), (std::vector<std::string>{"b", "c", "d", "a"}));
  // With both, before wins; an existing rule moves.
  ASSERT_EQ(Put("override/a?before=b&after=d", Notify()).status, 200);
  EXPECT_EQ(UserIds("override"), (std::vector<std::string>{"a", "b", "c", "d"}));
  // Replacing without before/after keeps the place and the enabled flag.
  ASSERT_EQ(Put("override/c/enabled", json::object{{"enabled", false}}).status, 200);
  ASSERT_EQ(Put("override/c", json::object{{"actions", json::array{}}}).status, 200);
  EXPECT_EQ(UserIds("override"), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(Body(Get("override/c/enabled")), json::value(json::object{{"enabled", false}}));
  EXPECT_EQ(Body(Get("override/c/actions")), json::value(json::object{{"actions", json::array{}}}));
  // Anchors must be user rules of the same kind.
  ExpectError(Put("override/e?after=.m.rule.suppress_notices", Notify()), 400, "M_UNKNOWN");
  ExpectError(Put("override/e?before=nope", Notify()), 400, "M_UNKNOWN");
  ExpectError(Put("underride/e?before=a", Notify()), 400, "M_UNKNOWN");
  EXPECT_EQ(UserIds("override"), (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_TRUE(UserIds("underride").empty());
}

TEST_F(PushRuleChangesTest, DeleteRemovesUserRulesButNotServerDefaults) {
  ASSERT_EQ(Put("override/a", Notify()).status, 200);
  ASSERT_EQ(Delete("override/a").status, 200);
  ExpectError(Get("override/a"), 404, "M_NOT_FOUND");
  ExpectError(Delete("override/a"), 404, "M_NOT_FOUND");
  ExpectError(Delete("override/.m.rule.master"), 400, "M_INVALID_PARAM");
  ExpectError(Delete("bogus/a"), 404, "M_NOT_FOUND");
  EXPECT_EQ(Ids("override")[0], ".m.rule.master");
}

TEST_F(PushRuleChangesTest, ServerDefaultsCanBeSwitchedAndTheirActionsChangedOnly) {
  ASSERT_EQ(Put("override/.m.rule.master/enabled", json::object{{"enabled", true}}).status, 200);
  EXPECT_EQ(Body(Get("override/.m.rule.master/enabled")),
            json::value(json::object{{"enabled", true}}));
  json::object silent{{"actions", json::array{}}};
  ASSERT_EQ(Put("underride/.m.rule.message/actions", silent).status, 200);
  EXPECT_EQ(Body(Get("underride/.m.rule.message/actions")), json::value(silent));
  Response rule = Get("underride/.m.rule.message");
  EXPECT_EQ(Body(rule).at("default"), true);  // still a server default, same conditions
  EXPECT_FALSE(Body(rule).at("conditions").as_array().empty());
  // A user rule does not disturb the stored state of the defaults.
  ASSERT_EQ(Put("override/a", Notify()).status, 200);
  EXPECT_EQ(Body(Get("override/.m.rule.master/enabled")).at("enabled"), true);
  // Server-default rules cannot be created or replaced.
  ExpectError(Put("underride/.m.rule.message", Notify()), 400, "M_INVALID_PARAM");
  ExpectError(Put("override/.my.rule", Notify()), 400, "M_INVALID_PARAM");
}

TEST_F(PushRuleChangesTest, BadRequestsAreRefusedAndChangeNothing) {
  ExpectError(Put("bogus/a", Notify()), 400, "M_INVALID_PARAM");
  ExpectError(Put("override/a%2Fb", Notify()), 400, "M_INVALID_PARAM");
  ExpectError(Put("override/a%5Cb", Notify()), 400, "M_INVALID_PARAM");
  ExpectError(Put("override/a", json::object{}), 400, "M_MISSING_PARAM");
  ExpectError(Put("override/a", json::object{{"actions", "notify"}}), 400, "M_BAD_JSON");
  ExpectError(Put("override/a", json::object{{"actions", json::array{1}}}), 400, "M_BAD_JSON");
  ExpectError(Put("override/a", json::object{{"actions", json::array{}}, {"conditions", 1}}), 400,
              "M_BAD_JSON");
  ExpectError(Put("override/a", json::object{{"actions", json::array{}},
                                             {"conditions", json::array{json::object{}}}}),
              400, "M_BAD_JSON");
  ExpectError(Put("content/a", Notify()), 400, "M_MISSING_PARAM");
  ExpectError(Put("room/not-a-room", Notify()), 400, "M_INVALID_PARAM");
  ExpectError(Put("sender/not-a-user", Notify()), 400, "M_INVALID_PARAM");
  ExpectError(Put("override/nope/enabled", json::object{{"enabled", true}}), 404, "M_NOT_FOUND");
  ExpectError(Put("override/.m.rule.master/enabled", json::object{}), 400, "M_MISSING_PARAM");
  ExpectError(Put("override/.m.rule.master/enabled", json::object{{"enabled", "yes"}}), 400,
              "M_BAD_JSON");
  ExpectError(Put("override/.m.rule.master/actions", json::object{{"actions", 1}}), 400,
              "M_BAD_JSON");
  ExpectError(Put("override/nope/actions", Notify()), 404, "M_NOT_FOUND");
  ExpectError(Call("PUT", "/pushrules/global/override/a", "", Notify()), 401, "M_MISSING_TOKEN");
  // Nothing was stored: no m.push_rules account data, the defaults unchanged.
  ExpectError(Call("GET", "/user/@alice:localhost/account_data/m.push_rules", alice_), 404,
              "M_NOT_FOUND");
  EXPECT_EQ(Body(Call("GET", "/pushrules/", alice_)).at("global"),
            json::value(DefaultPushRuleset("@alice:localhost")));
}

TEST(EffectivePushRulesetTest, StoredStateOfDefaultsAndUserRulesMergeWithCurrentDefaults) {
  // A stored set from an older server: one default with changed state, one default
  // that no longer exists, one user rule, and junk.
  json::object stored{
      {"override", json::array{json::object{{"rule_id", ".m.rule.suppress_notices"},
                                            {"default", true},
                                            {"enabled", false},
                                            {"actions", json::array{"notify"}}},
                               json::object{{"rule_id", ".m.rule.gone"}, {"default", true}},
                               json::object{{"rule_id", "mine"},
                                            {"default", false},
                                            {"enabled", true},
                                            {"actions", json::array{}}},
                               json::value(7)}},
      {"room", "not an array"}};
  json::object merged = EffectivePushRuleset("@a:hs", &stored);
  json::object defaults = DefaultPushRuleset("@a:hs");
  const json::array& override_rules = merged.at("override").as_array();
  ASSERT_EQ(override_rules.size(), defaults.at("override").as_array().size() + 1);
  EXPECT_EQ(override_rules[0].at("rule_id"), ".m.rule.master");
  EXPECT_EQ(override_rules[1].at("rule_id"), "mine");
  EXPECT_EQ(override_rules[2].at("rule_id"), ".m.rule.suppress_notices");
  EXPECT_EQ(override_rules[2].at("enabled"), false);
  EXPECT_EQ(override_rules[2].at("actions"), json::value(json::array{"notify"}));
  EXPECT_EQ(merged.at("underride"), defaults.at("underride"));
  EXPECT_TRUE(merged.at("room").as_array().empty());
  EXPECT_EQ(EffectivePushRuleset("@a:hs", nullptr), defaults);
}

}  // namespace
}  // namespace nebu::api
