// Goal: /sync's rooms.knock section over real HTTP (rooms_testing.h): a knock shows
// for the knocker only, with stripped knock_state, on initial and incremental
// syncs, and moves to rooms.invite when the knock is accepted.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "api/sync/sync_routes.h"
#include "api/sync/typing.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

class SyncKnockTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    AddSyncRoutes(router_, *engine_, &Typing());
    alice_ = Register("alice");
    bob_ = Register("bob");
  }
  static TypingTracker& Typing() {
    static TypingTracker tracker;  // outlives every fixture's router
    return tracker;
  }
  json::object Sync(const std::string& token, const std::string& query = "") {
    Response r = Call("GET", "/sync" + (query.empty() ? "" : "?" + query), token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? Body(r).as_object() : json::object{};
  }
  static const json::object& Section(const json::object& body, const char* kind) {
    return body.at("rooms").at(kind).as_object();
  }

  std::string alice_, bob_;
};

TEST_F(SyncKnockTest, KnockAppearsForTheKnockerWithStrippedState) {
  std::string room = CreateRoom(
      alice_, json::object{{"name", "Door"},
                           {"initial_state",
                            json::array{json::object{{"type", "m.room.join_rules"},
                                                     {"content", json::object{{"join_rule", "knock"}}}}}}});
  json::object before = Sync(bob_);
  EXPECT_TRUE(Section(before, "knock").empty());
  ASSERT_EQ(Post(bob_, "/knock/" + room, json::object{{"reason", "hi"}}), 200);
  std::string since(before.at("next_batch").as_string());
  for (const json::object& body : {Sync(bob_, "since=" + since), Sync(bob_)}) {
    ASSERT_TRUE(Section(body, "knock").contains(room)) << json::serialize(body);
    EXPECT_FALSE(Section(body, "join").contains(room));
    bool name = false, join_rules = false, own_knock = false;
    for (const json::value& e :
         Section(body, "knock").at(room).at("knock_state").at("events").as_array()) {
      EXPECT_FALSE(e.as_object().contains("event_id"));  // stripped
      std::string_view type = e.at("type").as_string();
      name |= type == "m.room.name";
      join_rules |= type == "m.room.join_rules";
      if (type == "m.room.member") {
        EXPECT_EQ(e.at("state_key").as_string(), "@bob:localhost");
        own_knock = e.at("content").at("membership").as_string() == "knock";
      }
    }
    EXPECT_TRUE(name && join_rules && own_knock);
  }
  // The room's members see the knock in their timeline, not in rooms.knock.
  json::object alice_body = Sync(alice_);
  EXPECT_TRUE(Section(alice_body, "knock").empty());
  // Accepted: the room moves to rooms.invite.
  json::object knocked = Sync(bob_);
  ASSERT_EQ(Post(alice_, "/rooms/" + room + "/invite", json::object{{"user_id", "@bob:localhost"}}),
            200);
  json::object after = Sync(bob_, "since=" + std::string(knocked.at("next_batch").as_string()));
  EXPECT_TRUE(Section(after, "invite").contains(room));
  EXPECT_FALSE(Section(after, "knock").contains(room));
}

}  // namespace
}  // namespace nebu::api
