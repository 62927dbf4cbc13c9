// Goal: the deprecated GET /initialSync, /rooms/{roomId}/initialSync, /events (the
// stream after a token, with a long-poll, and peeking a world_readable room) and
// /events/{eventId} answer the spec's shapes with only what the caller may see.
// Attacks: rooms the caller is not in, rooms that are not world_readable, bad tokens.
// Method: a real engine; requests over real HTTP on loopback (rooms_testing.h).
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>

#include "api/sync/old_sync_routes.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

class OldSyncTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    AddOldSyncRoutes(router_, *engine_);
    alice_ = Register("alice");
    bob_ = Register("bob");
    carol_ = Register("carol");
    room_ = CreateRoom(alice_, {{"preset", "private_chat"}, {"name", "Private"}});
  }

  void MakeWorldReadable(const std::string& room) {
    Response r = Call("PUT", "/rooms/" + room + "/state/m.room.history_visibility", alice_,
                      json::object{{"history_visibility", "world_readable"}});
    ASSERT_EQ(r.status, 200) << r.body;
  }
  // The bodies of the events in a chunk, in order.
  static std::vector<std::string> Bodies(const json::value& chunk) {
    std::vector<std::string> out;
    for (const json::value& e : chunk.as_array()) {
      const json::value* body = e.at("content").as_object().if_contains("body");
      if (body) out.emplace_back(body->as_string());
    }
    return out;
  }

  std::string alice_, bob_, carol_, room_;
};

TEST_F(OldSyncTest, InitialSyncListsJoinedInvitedAndArchivedRooms) {
  Send(alice_, room_, "hello");
  const std::string invited = CreateRoom(alice_, {{"preset", "private_chat"}});
  ASSERT_EQ(Post(alice_, "/rooms/" + invited + "/invite", {{"user_id", kBobId}}), 200);
  const std::string left = CreateRoom(bob_, {{"preset", "public_chat"}});
  ASSERT_EQ(Post(bob_, "/rooms/" + left + "/leave"), 200);
  ASSERT_EQ(Post(alice_, "/rooms/" + room_ + "/invite", {{"user_id", kBobId}}), 200);
  ASSERT_EQ(Post(bob_, "/join/" + room_), 200);
  Send(bob_, room_, "bob here");

  Response r = Call("GET", "/initialSync?limit=5", bob_);
  ASSERT_EQ(r.status, 200) << r.body;
  json::value body = Body(r);
  EXPECT_TRUE(body.at("end").is_string());
  EXPECT_TRUE(body.at("presence").is_array());
  EXPECT_TRUE(body.at("account_data").is_array());
  bool joined = false, was_invited = false;
  for (const json::value& room : body.at("rooms").as_array()) {
    const std::string id(room.at("room_id").as_string());
    EXPECT_NE(id, left) << "left rooms only with archived=true";
    if (id == room_) {
      joined = true;
      EXPECT_EQ(room.at("membership"), json::value("join"));
      EXPECT_EQ(room.at("visibility"), json::value("private"));
      const json::value& messages = room.at("messages");
      EXPECT_TRUE(messages.at("start").is_string());
      EXPECT_TRUE(messages.at("end").is_string());
      EXPECT_LE(messages.at("chunk").as_array().size(), 5u);
      EXPECT_EQ(Bodies(messages.at("chunk")).back(), "bob here");
      EXPECT_EQ(messages.at("chunk").as_array().back().at("room_id"), json::value(room_));
      bool name = false;
      for (const json::value& e : room.at("state").as_array()) {
        name = name || e.at("type") == json::value("m.room.name");
      }
      EXPECT_TRUE(name) << room.at("state");
    }
    if (id == invited) {
      was_invited = true;
      EXPECT_EQ(room.at("membership"), json::value("invite"));
      EXPECT_EQ(room.at("invite").at("content").at("membership"), json::value("invite"));
    }
  }
  EXPECT_TRUE(joined);
  EXPECT_TRUE(was_invited);

  r = Call("GET", "/initialSync?archived=true", bob_);
  ASSERT_EQ(r.status, 200) << r.body;
  body = Body(r);
  bool archived = false;
  for (const json::value& room : body.at("rooms").as_array()) {
    if (room.at("room_id") != json::value(left)) continue;
    archived = true;
    EXPECT_EQ(room.at("membership"), json::value("leave"));
    EXPECT_EQ(room.at("visibility"), json::value("public"));
  }
  EXPECT_TRUE(archived);
  EXPECT_EQ(Call("GET", "/initialSync?limit=x", bob_).status, 400);
  EXPECT_EQ(Call("GET", "/initialSync?archived=maybe", bob_).status, 400);
  EXPECT_EQ(Call("GET", "/initialSync", "").status, 401);
}

TEST_F(OldSyncTest, RoomInitialSyncServesMembersAndPeekersOfWorldReadableRoomsOnly) {
  Send(alice_, room_, "one");
  Send(alice_, room_, "two");
  Response r = Call("GET", "/rooms/" + room_ + "/initialSync", alice_);
  ASSERT_EQ(r.status, 200) << r.body;
  json::value body = Body(r);
  EXPECT_EQ(body.at("room_id"), json::value(room_));
  EXPECT_EQ(body.at("membership"), json::value("join"));
  EXPECT_EQ(Bodies(body.at("messages").at("chunk")),
            (std::vector<std::string>{"one", "two"}));
  EXPECT_FALSE(body.at("state").as_array().empty());
  EXPECT_TRUE(body.at("account_data").is_array());

  // carol is not in the private room: 403, and so for an unknown room.
  EXPECT_EQ(Call("GET", "/rooms/" + room_ + "/initialSync", carol_).status, 403);
  EXPECT_EQ(Call("GET", "/rooms/!nope:localhost/initialSync", carol_).status, 403);
  // Once it is world_readable, carol may peek without joining: the events sent since
  // (those before were not world_readable when sent and stay hidden).
  MakeWorldReadable(room_);
  Send(alice_, room_, "three");
  r = Call("GET", "/rooms/" + room_ + "/initialSync", carol_);
  ASSERT_EQ(r.status, 200) << r.body;
  body = Body(r);
  EXPECT_FALSE(body.as_object().contains("membership"));
  EXPECT_EQ(Bodies(body.at("messages").at("chunk")), (std::vector<std::string>{"three"}));
}

TEST_F(OldSyncTest, EventsStreamsNewEventsAfterTheTokenAndLongPolls) {
  Response r = Call("GET", "/initialSync?limit=1", alice_);
  ASSERT_EQ(r.status, 200) << r.body;
  const std::string token(Body(r).at("end").as_string());
  Send(alice_, room_, "after the token");
  r = Call("GET", "/events?timeout=0&from=" + token, alice_);
  ASSERT_EQ(r.status, 200) << r.body;
  json::value body = Body(r);
  EXPECT_EQ(body.at("start"), json::value(token));
  EXPECT_EQ(Bodies(body.at("chunk")), (std::vector<std::string>{"after the token"}));
  EXPECT_EQ(body.at("chunk").at(0).at("room_id"), json::value(room_));
  const std::string end(body.at("end").as_string());
  // Nothing new: an empty chunk at once with timeout=0.
  r = Call("GET", "/events?timeout=0&from=" + end, alice_);
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(Body(r).at("chunk").as_array().empty());

  // A long-poll returns with the event sent while it waits.
  auto polled = std::async(std::launch::async, [&] {
    return Call("GET", "/events?timeout=20000&from=" + end, alice_);
  });
  // Wait (bounded) until the request is parked, then send.
  ASSERT_NE(polled.wait_for(std::chrono::milliseconds(300)), std::future_status::ready);
  Send(alice_, room_, "while polling");
  ASSERT_EQ(polled.wait_for(std::chrono::seconds(15)), std::future_status::ready);
  Response woken = polled.get();
  ASSERT_EQ(woken.status, 200) << woken.body;
  EXPECT_EQ(Bodies(Body(woken).at("chunk")), (std::vector<std::string>{"while polling"}));

  // bob is not in the room: nothing of it reaches him.
  r = Call("GET", "/events?timeout=0&from=" + token, bob_);
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(Body(r).at("chunk").as_array().empty());
  for (const char* bad : {"nonsense", "s999999999", "x1"}) {
    EXPECT_EQ(Call("GET", std::string("/events?from=") + bad, alice_).status, 400) << bad;
  }
  EXPECT_EQ(Call("GET", "/events?timeout=-5", alice_).status, 400);
  EXPECT_EQ(Call("GET", "/events", "").status, 401);
}

TEST_F(OldSyncTest, PeekingOnlyWorldReadableRooms) {
  Response r = Call("GET", "/initialSync", alice_);
  const std::string token(Body(r).at("end").as_string());
  Send(alice_, room_, "private");
  // A room carol may not read: 403, and an unknown one too.
  EXPECT_EQ(Call("GET", "/events?timeout=0&room_id=" + room_ + "&from=" + token, carol_).status, 403);
  EXPECT_EQ(Call("GET", "/events?timeout=0&room_id=!nope:localhost", carol_).status, 403);
  const std::string open = CreateRoom(alice_, {{"preset", "public_chat"}});
  r = Call("GET", "/initialSync", alice_);
  const std::string before(Body(r).at("end").as_string());
  Send(alice_, open, "public but not world readable");
  EXPECT_EQ(Call("GET", "/events?timeout=0&room_id=" + open + "&from=" + before, carol_).status,
            403);
  MakeWorldReadable(open);
  Send(alice_, open, "readable by all");
  r = Call("GET", "/events?timeout=0&room_id=" + open + "&from=" + before, carol_);
  ASSERT_EQ(r.status, 200) << r.body;
  json::value body = Body(r);
  // The event sent before the room became world_readable stays hidden.
  EXPECT_EQ(Bodies(body.at("chunk")), (std::vector<std::string>{"readable by all"}));
  const std::string end(body.at("end").as_string());
  r = Call("GET", "/events?timeout=0&room_id=" + open + "&from=" + end, carol_);
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(Body(r).at("chunk").as_array().empty());
  // Events of other rooms never appear in a peek.
  Send(alice_, room_, "elsewhere");
  r = Call("GET", "/events?timeout=0&room_id=" + open + "&from=" + end, carol_);
  EXPECT_TRUE(Body(r).at("chunk").as_array().empty());
}

// The sync timeline (which /initialSync and /events are built on) carries the
// aggregations: a thread root with its m.thread summary.
TEST_F(OldSyncTest, SyncTimelineCarriesThreadAggregations) {
  const std::string root = Send(alice_, room_, "root");
  Response sent = Call("PUT", "/rooms/" + room_ + "/send/m.room.message/thread1", alice_,
                       json::object{{"msgtype", "m.text"},
                                    {"body", "reply"},
                                    {"m.relates_to", {{"rel_type", "m.thread"}, {"event_id", root}}}});
  ASSERT_EQ(sent.status, 200) << sent.body;
  const std::string reply(Body(sent).at("event_id").as_string());
  Response r = Call("GET", "/initialSync?limit=10", alice_);
  ASSERT_EQ(r.status, 200) << r.body;
  json::value body = Body(r);
  bool seen = false;
  for (const json::value& room : body.at("rooms").as_array()) {
    if (room.at("room_id") != json::value(room_)) continue;
    for (const json::value& e : room.at("messages").at("chunk").as_array()) {
      if (e.at("event_id") != json::value(root)) continue;
      seen = true;
      const json::value& thread = e.at("unsigned").at("m.relations").at("m.thread");
      EXPECT_EQ(thread.at("count"), json::value(1));
      EXPECT_EQ(thread.at("latest_event").at("event_id"), json::value(reply));
      EXPECT_EQ(thread.at("current_user_participated"), json::value(true));
    }
  }
  EXPECT_TRUE(seen) << body;
}

TEST_F(OldSyncTest, EventByIdOnlyForThoseWhoMaySeeIt) {
  const std::string id = Send(alice_, room_, "secret");
  Response r = Call("GET", "/events/" + id, alice_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("event_id"), json::value(id));
  EXPECT_EQ(Body(r).at("room_id"), json::value(room_));
  r = Call("GET", "/events/" + id, carol_);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrCode(r), "M_NOT_FOUND");
  EXPECT_EQ(Call("GET", "/events/$unknown:localhost", alice_).status, 404);
  EXPECT_EQ(Call("GET", "/events/" + id, "").status, 401);
}

}  // namespace
}  // namespace nebu::api
