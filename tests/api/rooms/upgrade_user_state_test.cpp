// Goal: after a room upgrade, a user's own state of the old room follows them into
// the replacement room when they join it (as Synapse does): room tags, the m.direct
// entry and the push rules naming the old room; what the user already set in the new
// room is kept, and nothing is copied into a room without a predecessor.
// Method: real engine and HTTP on loopback (rooms_testing.h) with the account-data,
// push-rule and upgrade routes; state read back through the same routes.
#include <gtest/gtest.h>

#include <string>

#include "api/accounts/account_routes.h"
#include "api/accounts/push_rules.h"
#include "api/rooms/upgrade_routes.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

class UpgradeUserStateTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    AddUpgradeRoutes(router_, *engine_, std::make_shared<UserRateLimits>(false));
    AddAccountRoutes(router_, *engine_, {.registration_open = false, .rate_limit = false});
    AddPushRuleRoutes(router_, *engine_);
    alice_ = Register("alice");
    bob_ = Register("bob");
    room_ = CreateRoom(alice_, {{"preset", "public_chat"}, {"room_version", "10"}});
    ASSERT_EQ(Post(bob_, "/rooms/" + room_ + "/join"), 200);
  }
  std::string Upgrade() {
    Response r = Call("POST", "/rooms/" + room_ + "/upgrade", alice_,
                      json::object{{"new_version", "11"}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(Body(r).at("replacement_room").as_string()) : "";
  }
  void Tag(const std::string& token, const std::string& user, const std::string& room,
           const std::string& tag, const json::object& content) {
    Response r = Call("PUT", "/user/" + user + "/rooms/" + room + "/tags/" + tag, token, content);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  json::value Tags(const std::string& token, const std::string& user, const std::string& room) {
    Response r = Call("GET", "/user/" + user + "/rooms/" + room + "/tags", token);
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r).at("tags");
  }
  void PutRule(const std::string& token, const std::string& path, const json::object& rule) {
    Response r = Call("PUT", "/pushrules/global/" + path, token, rule);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  Response GetRule(const std::string& token, const std::string& path) {
    return Call("GET", "/pushrules/global/" + path, token);
  }
  static json::object MutedRoomCondition(const std::string& room) {
    return json::object{
        {"actions", json::array{}},
        {"conditions", json::array{json::object{
                           {"kind", "event_match"}, {"key", "room_id"}, {"pattern", room}}}}};
  }
  std::string alice_, bob_, room_;
};

TEST_F(UpgradeUserStateTest, TagsDirectAndRoomRulesFollowTheJoinerAndTheUpgrader) {
  Tag(bob_, "@bob:localhost", room_, "m.favourite", {{"order", 0.25}});
  Tag(bob_, "@bob:localhost", room_, "u.work", {});
  Tag(alice_, "@alice:localhost", room_, "m.lowpriority", {});
  PutRule(bob_, "room/" + room_, {{"actions", json::array{}}});
  PutRule(bob_, "override/mute-" + room_, MutedRoomCondition(room_));
  PutRule(bob_, "override/unrelated", MutedRoomCondition("!other:localhost"));
  Response direct = Call("PUT", "/user/@bob:localhost/account_data/m.direct", bob_,
                         json::object{{"@alice:localhost", json::array{json::value(room_)}}});
  ASSERT_EQ(direct.status, 200) << direct.body;

  std::string next = Upgrade();
  ASSERT_FALSE(next.empty());
  // The upgrader joined in the upgrade itself: their tags are there when it answers.
  EXPECT_EQ(Tags(alice_, "@alice:localhost", next),
            (json::object{{"m.lowpriority", json::object{}}}));
  // Bob's are copied when he joins.
  EXPECT_EQ(Tags(bob_, "@bob:localhost", next), json::object{});
  ASSERT_EQ(Post(bob_, "/rooms/" + next + "/join"), 200);
  EXPECT_EQ(Tags(bob_, "@bob:localhost", next), Tags(bob_, "@bob:localhost", room_));
  EXPECT_EQ(Tags(bob_, "@bob:localhost", next).at("m.favourite").at("order"), 0.25);

  Response room_rule = GetRule(bob_, "room/" + next);
  ASSERT_EQ(room_rule.status, 200) << room_rule.body;
  EXPECT_EQ(Body(room_rule).at("actions"), json::array{});
  Response override_rule = GetRule(bob_, "override/mute-" + next);
  ASSERT_EQ(override_rule.status, 200) << override_rule.body;
  EXPECT_EQ(Body(override_rule).at("conditions").at(0).at("pattern"), json::value(next));
  EXPECT_EQ(GetRule(bob_, "override/mute-" + room_).status, 200);  // the old one stays
  // Order: each copy right after its original.
  json::value overrides = Body(Call("GET", "/pushrules/global/", bob_)).at("override");
  std::vector<std::string> ids;
  for (const json::value& rule : overrides.as_array()) {
    std::string id(rule.at("rule_id").as_string());
    if (!id.starts_with(".")) ids.push_back(id);
  }
  EXPECT_EQ(ids, (std::vector<std::string>{"unrelated", "mute-" + room_, "mute-" + next}));

  json::value dm = Body(Call("GET", "/user/@bob:localhost/account_data/m.direct", bob_));
  EXPECT_EQ(dm.at("@alice:localhost"), (json::array{json::value(room_), json::value(next)}));

  // Joining again copies nothing twice.
  ASSERT_EQ(Post(bob_, "/rooms/" + next + "/leave"), 200);
  ASSERT_EQ(Post(bob_, "/rooms/" + next + "/join"), 200);
  overrides = Body(Call("GET", "/pushrules/global/", bob_)).at("override");
  size_t user_rules = 0;
  for (const json::value& rule : overrides.as_array()) {
    if (!rule.at("rule_id").as_string().starts_with(".")) ++user_rules;
  }
  EXPECT_EQ(user_rules, 3u);
  dm = Body(Call("GET", "/user/@bob:localhost/account_data/m.direct", bob_));
  EXPECT_EQ(dm.at("@alice:localhost").as_array().size(), 2u);
}

TEST_F(UpgradeUserStateTest, WhatTheUserSetInTheNewRoomIsKept) {
  Tag(bob_, "@bob:localhost", room_, "u.old", {});
  PutRule(bob_, "room/" + room_, {{"actions", json::array{}}});
  std::string next = Upgrade();
  ASSERT_FALSE(next.empty());
  Tag(bob_, "@bob:localhost", next, "u.new", {});
  PutRule(bob_, "override/mine-" + next, MutedRoomCondition(next));
  ASSERT_EQ(Post(bob_, "/rooms/" + next + "/join"), 200);
  EXPECT_EQ(Tags(bob_, "@bob:localhost", next), (json::object{{"u.new", json::object{}}}));
  EXPECT_EQ(GetRule(bob_, "room/" + next).status, 404);
}

TEST_F(UpgradeUserStateTest, AJoinOfARoomWithoutPredecessorCopiesNothing) {
  Tag(bob_, "@bob:localhost", room_, "u.old", {});
  std::string other = CreateRoom(alice_, {{"preset", "public_chat"}});
  ASSERT_EQ(Post(bob_, "/rooms/" + other + "/join"), 200);
  EXPECT_EQ(Tags(bob_, "@bob:localhost", other), json::object{});
}

}  // namespace
}  // namespace nebu::api
