// Goal: the room read endpoints (state, event, members, joined_members, messages,
// context) answer the spec's response shapes, and /messages pages through the
// whole log in both directions with its tokens and filter.
// Method: a real engine; requests over real HTTP on loopback (rooms_testing.h).
#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

// The required fields of a ClientEvent (event-schemas core-event-schema).
void ExpectClientEvent(const json::value& event, const std::string& room) {
  ASSERT_TRUE(event.is_object()) << event;
  const json::object& o = event.as_object();
  for (const char* key : {"event_id", "room_id", "sender", "type"}) {
    ASSERT_TRUE(o.contains(key) && o.at(key).is_string()) << key << " in " << event;
  }
  EXPECT_EQ(o.at("room_id"), json::value(room));
  EXPECT_TRUE(o.at("content").is_object());
  EXPECT_TRUE(o.at("origin_server_ts").is_int64());
  EXPECT_TRUE(o.at("unsigned").at("age").is_int64());
  for (const char* pdu_only : {"auth_events", "prev_events", "depth", "hashes", "signatures"}) {
    EXPECT_FALSE(o.contains(pdu_only)) << pdu_only;
  }
}

class RoomsReadTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    alice_ = Register("alice");
    bob_ = Register("bob");
    room_ = CreateRoom(alice_, {{"preset", "public_chat"}, {"name", "Room"}});
    ASSERT_EQ(Post(bob_, "/rooms/" + room_ + "/join"), 200);
  }
  json::value Get(const std::string& path, int status = 200) {
    Response r = Call("GET", "/rooms/" + room_ + path, alice_);
    EXPECT_EQ(r.status, status) << path << ": " << r.body;
    return Body(r);
  }
  std::string alice_, bob_, room_;
};

TEST_F(RoomsReadTest, StateListsEveryCurrentStateEvent) {
  json::value state = Get("/state");
  std::set<std::pair<std::string, std::string>> keys;
  for (const json::value& e : state.as_array()) {
    ExpectClientEvent(e, room_);
    keys.emplace(e.at("type").as_string(), e.at("state_key").as_string());
  }
  for (auto key : {std::pair<std::string, std::string>{"m.room.create", ""},
                   {"m.room.power_levels", ""},
                   {"m.room.join_rules", ""},
                   {"m.room.name", ""},
                   {"m.room.member", kAliceId},
                   {"m.room.member", kBobId}}) {
    EXPECT_TRUE(keys.count(key)) << key.first << " " << key.second;
  }
  EXPECT_EQ(Get("/state/m.room.join_rules"), (json::object{{"join_rule", "public"}}));
  EXPECT_EQ(Get("/state/m.room.join_rules/"), (json::object{{"join_rule", "public"}}));
  Get("/state/m.room.nope", 404);
  EXPECT_EQ(Call("GET", "/_matrix/client/r0/rooms/" + room_ + "/state", alice_).body,
            Call("GET", "/rooms/" + room_ + "/state", alice_).body);
}

TEST_F(RoomsReadTest, EventAnswersOneClientEventOr404) {
  std::string id = Send(bob_, room_, "hello");
  json::value event = Get("/event/" + id);
  ExpectClientEvent(event, room_);
  EXPECT_EQ(event.at("event_id"), json::value(id));
  EXPECT_EQ(event.at("sender"), kBobId);
  EXPECT_EQ(event.at("content").at("body"), "hello");
  EXPECT_EQ(ErrCode(Call("GET", "/rooms/" + room_ + "/event/$nope", alice_)), "M_NOT_FOUND");
  std::string other = CreateRoom(alice_);
  std::string elsewhere = Send(alice_, other, "x");
  Get("/event/" + elsewhere, 404);
}

TEST_F(RoomsReadTest, MembersAndJoinedMembersFilterByMembership) {
  ASSERT_EQ(Post(alice_, "/rooms/" + room_ + "/invite", {{"user_id", "@carol:localhost"}}), 200);
  json::value all = Get("/members");
  EXPECT_EQ(all.at("chunk").as_array().size(), 3u);
  for (const json::value& e : all.at("chunk").as_array()) {
    ExpectClientEvent(e, room_);
    EXPECT_EQ(e.at("type"), "m.room.member");
  }
  EXPECT_EQ(Get("/members?membership=invite").at("chunk").as_array().size(), 1u);
  EXPECT_EQ(Get("/members?not_membership=invite").at("chunk").as_array().size(), 2u);
  // Every join carries the member's profile, the creator's too.
  json::value joined = Get("/joined_members");
  EXPECT_EQ(joined, json::parse(R"({"joined":{"@alice:localhost":{"display_name":"alice"},)"
                                R"("@bob:localhost":{"display_name":"bob"}}})"));
  // at= a token from before Bob joined.
  json::value early = Get("/messages?dir=f&limit=3");
  json::value then = Get("/members?at=" + std::string(early.at("end").as_string()));
  EXPECT_EQ(then.at("chunk").as_array().size(), 1u);
  Get("/members?at=bogus", 400);
}

TEST_F(RoomsReadTest, MessagesPagesBackToTheCreateEventFollowingEndTokens) {
  for (int i = 0; i < 23; ++i) Send(i % 2 ? alice_ : bob_, room_, "m" + std::to_string(i));
  std::vector<std::string> ids;
  json::value page = Get("/messages?dir=b&limit=7");
  EXPECT_TRUE(page.at("start").is_string());
  EXPECT_EQ(page.at("state"), json::array{});
  int pages = 1;
  while (true) {
    for (const json::value& e : page.at("chunk").as_array()) {
      ExpectClientEvent(e, room_);
      ids.emplace_back(e.at("event_id").as_string());
    }
    if (!page.as_object().contains("end")) break;
    ASSERT_LT(++pages, 20);
    page = Get("/messages?dir=b&limit=7&from=" + std::string(page.at("end").as_string()));
  }
  EXPECT_EQ(page.at("chunk").as_array().back().at("type"), "m.room.create");
  EXPECT_EQ(std::set<std::string>(ids.begin(), ids.end()).size(), ids.size());
  // Forwards from the start gives the same events in the opposite order.
  std::vector<std::string> forward;
  std::string from = "s0";
  for (int i = 0; i < 20; ++i) {
    json::value f = Get("/messages?dir=f&limit=9&from=" + from);
    for (const json::value& e : f.at("chunk").as_array()) {
      forward.emplace_back(e.at("event_id").as_string());
    }
    if (!f.as_object().contains("end")) break;
    from = std::string(f.at("end").as_string());
  }
  EXPECT_EQ(forward, std::vector<std::string>(ids.rbegin(), ids.rend()));
}

TEST_F(RoomsReadTest, MessagesHonoursLimitToAndFilter) {
  for (int i = 0; i < 5; ++i) Send(bob_, room_, "m" + std::to_string(i));
  EXPECT_EQ(Get("/messages?limit=2").at("chunk").as_array().size(), 2u);
  EXPECT_EQ(Get("/messages?limit=0").at("chunk").as_array().size(), 0u);
  json::value only = Get(
      "/messages?limit=50&filter=" + std::string("%7B%22types%22%3A%5B%22m.room.m%2A%22%5D%2C") +
      "%22not_types%22%3A%5B%22m.room.member%22%5D%7D");
  ASSERT_EQ(only.at("chunk").as_array().size(), 5u);
  for (const json::value& e : only.at("chunk").as_array())
    EXPECT_EQ(e.at("type"), "m.room.message");
  json::value senders = Get("/messages?limit=50&filter=%7B%22senders%22%3A%5B%22" +
                            std::string("%40alice%3Alocalhost%22%5D%7D"));
  for (const json::value& e : senders.at("chunk").as_array()) EXPECT_EQ(e.at("sender"), kAliceId);
  json::value head = Get("/messages?dir=f&limit=2");
  json::value bounded =
      Get("/messages?dir=b&limit=50&to=" + std::string(head.at("end").as_string()));
  EXPECT_EQ(bounded.at("chunk").as_array().back().at("type") == "m.room.create", false);
  EXPECT_FALSE(bounded.as_object().contains("end"));
  Get("/messages?dir=x", 400);
  Get("/messages?from=zz", 400);
  Get("/messages?filter=nope", 400);
}

// A /sync next_batch ("s<stream position>_<typing>[_<presence>]") names the room's
// last event at that stream position, in /messages from and to and /members at.
TEST_F(RoomsReadTest, MessagesAndMembersTakeSyncNextBatchTokens) {
  const std::string filter = "&filter=%7B%22types%22%3A%5B%22m.room.message%22%5D%7D";
  auto bodies = [&](const std::string& query) {
    std::vector<std::string> out;
    const json::value page = Get("/messages?" + query + filter);
    for (const json::value& e : page.at("chunk").as_array()) {
      out.emplace_back(e.at("content").at("body").as_string());
    }
    return out;
  };
  auto sync_token = [&](const std::string& tail) {
    return "s" + std::to_string(engine_->stream_position()) + tail;
  };
  const std::string before_carol_and_m1 = sync_token("_0");
  Send(alice_, room_, "m1");
  const std::string after_m1 = sync_token("_3_7");  // typing and presence serials
  std::string carol = Register("carol");
  ASSERT_EQ(Post(carol, "/rooms/" + room_ + "/join"), 200);
  Send(alice_, room_, "m2");
  EXPECT_EQ(bodies("dir=b&from=" + after_m1), std::vector<std::string>{"m1"});
  EXPECT_EQ(bodies("dir=f&from=" + after_m1), std::vector<std::string>{"m2"});
  EXPECT_EQ(bodies("dir=f&from=" + before_carol_and_m1 + "&to=" + after_m1),
            std::vector<std::string>{"m1"});
  EXPECT_EQ(bodies("dir=b&to=" + after_m1), std::vector<std::string>{"m2"});
  auto members = [&](const std::string& at) {
    std::set<std::string> users;
    const json::value page = Get("/members?at=" + at);
    for (const json::value& e : page.at("chunk").as_array()) {
      users.emplace(e.at("state_key").as_string());
    }
    return users;
  };
  EXPECT_EQ(members(after_m1), (std::set<std::string>{kAliceId, kBobId}));
  EXPECT_EQ(members(sync_token("_0")),
            (std::set<std::string>{kAliceId, kBobId, "@carol:localhost"}));
  EXPECT_TRUE(members("s0_0").empty());  // before the room existed
  Get("/messages?from=s1_x", 400);
  Get("/messages?to=s1_", 400);
  Get("/members?at=s1__1", 400);
  Get("/members?membership=member", 400);
}

TEST_F(RoomsReadTest, ContextAnswersEventsAroundAndState) {
  std::vector<std::string> ids;
  for (int i = 0; i < 9; ++i) ids.push_back(Send(alice_, room_, "m" + std::to_string(i)));
  json::value context = Get("/context/" + ids[4] + "?limit=4");
  EXPECT_EQ(context.at("event").at("event_id"), json::value(ids[4]));
  ASSERT_EQ(context.at("events_before").as_array().size(), 2u);
  ASSERT_EQ(context.at("events_after").as_array().size(), 2u);
  EXPECT_EQ(context.at("events_before").as_array()[0].at("event_id"), json::value(ids[3]));
  EXPECT_EQ(context.at("events_after").as_array()[1].at("event_id"), json::value(ids[6]));
  EXPECT_TRUE(context.at("start").is_string() && context.at("end").is_string());
  EXPECT_FALSE(context.at("state").as_array().empty());
  json::value next =
      Get("/messages?dir=f&limit=1&from=" + std::string(context.at("end").as_string()));
  EXPECT_EQ(next.at("chunk").as_array()[0].at("event_id"), json::value(ids[7]));
  json::value prev =
      Get("/messages?dir=b&limit=1&from=" + std::string(context.at("start").as_string()));
  EXPECT_EQ(prev.at("chunk").as_array()[0].at("event_id"), json::value(ids[1]));
  Get("/context/$nope", 404);
}

}  // namespace
}  // namespace nebu::api
