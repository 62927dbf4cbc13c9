// GET /sync on a real engine over real HTTP on loopback (rooms_testing.h), with the room routes registered
// so that rooms can be made and prev_batch tokens checked against /messages.
#include "api/sync/sync.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "api/accounts/account_routes.h"
#include "api/receipts/receipt_routes.h"
#include "api/sync/sync_routes.h"
#include "api/sync/typing.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

class SyncTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    AddSyncRoutes(router_, *engine_, &Typing());
    AddAccountRoutes(router_, *engine_, {.registration_open = false, .rate_limit = false});
    AddReceiptRoutes(router_, *engine_, Typing());
    alice_ = Register("alice");
    bob_ = Register("bob");
    carol_ = Register("carol");
  }

  // A 200 /sync body; `query` without the leading '?'.
  json::object Sync(const std::string& token, const std::string& query = "") {
    Response r = Call("GET", "/sync" + (query.empty() ? "" : "?" + query), token);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return {};
    return Body(r).as_object();
  }
  static std::string Next(const json::object& body) {
    return std::string(body.at("next_batch").as_string());
  }
  static uint64_t Position(const json::object& body) {
    return ParseSyncToken(Next(body))->position;
  }
  // One tracker for the whole binary: it must outlive every fixture's router.
  static TypingTracker& Typing() {
    static TypingTracker tracker;
    return tracker;
  }

  // Waits (bounded, 5 s) until `count` long-polls are parked on the notifier, so a
  // change made next is one they must be woken by (instead of sleeping and hoping).
  void WaitForParkedPolls(size_t count) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (engine_->notifier().pending() < count && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ASSERT_GE(engine_->notifier().pending(), count) << "the long-polls never parked";
  }

  // Every answered long-poll removed its notifier subscription. A subscription made
  // just as the timer answered is removed right after the answer, so allow a moment.
  void ExpectNoSubscriptionLeft() {
    for (int i = 0; i < 100 && engine_->notifier().pending() != 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    EXPECT_EQ(engine_->notifier().pending(), 0u);
  }
  static const json::object& Rooms(const json::object& body, const char* kind) {
    return body.at("rooms").at(kind).as_object();
  }
  static const json::array& Timeline(const json::object& body, const std::string& room) {
    return Rooms(body, "join").at(room).at("timeline").at("events").as_array();
  }
  static std::vector<std::string> Bodies(const json::array& events) {
    std::vector<std::string> out;
    for (const json::value& e : events) {
      if (e.at("type").as_string() != "m.room.message") continue;
      out.emplace_back(e.at("content").at("body").as_string());
    }
    return out;
  }
  std::string PublicRoom() { return CreateRoom(alice_, json::object{{"preset", "public_chat"}}); }

  std::string alice_, bob_, carol_;
};

// The spec gives unsigned.transaction_id to the client that sent the event, so it can
// replace its local echo: the sending device sees it in /sync, /messages, /context and
// /event; another device of the same user and other users do not.
TEST_F(SyncTest, TheSendingDeviceSeesItsTransactionId) {
  std::string room = PublicRoom();
  ASSERT_EQ(Post(bob_, "/join/" + room), 200);
  std::string alice_phone = Login("@alice:localhost");
  Response sent = Call("PUT", "/rooms/" + room + "/send/m.room.message/echo-1", alice_,
                       json::object{{"msgtype", "m.text"}, {"body", "hi"}});
  ASSERT_EQ(sent.status, 200) << sent.body;
  std::string event_id(Body(sent).at("event_id").as_string());
  auto transaction_id = [&](const json::object& event) -> std::string {
    const json::object& u = event.at("unsigned").as_object();
    return u.contains("transaction_id") ? std::string(u.at("transaction_id").as_string()) : "-";
  };
  auto from_sync = [&](const std::string& token) {
    json::object body = Sync(token);
    const json::array& timeline = Rooms(body, "join").at(room).at("timeline").at("events").as_array();
    for (const json::value& e : timeline) {
      if (e.at("event_id").as_string() == event_id) return transaction_id(e.as_object());
    }
    return std::string("missing");
  };
  EXPECT_EQ(from_sync(alice_), "echo-1");
  EXPECT_EQ(from_sync(alice_phone), "-");
  EXPECT_EQ(from_sync(bob_), "-");
  for (const std::string& token : {alice_, alice_phone, bob_}) {
    std::string want = token == alice_ ? "echo-1" : "-";
    Response single = Call("GET", "/rooms/" + room + "/event/" + event_id, token, std::string());
    ASSERT_EQ(single.status, 200) << single.body;
    EXPECT_EQ(transaction_id(Body(single).as_object()), want);
    Response context = Call("GET", "/rooms/" + room + "/context/" + event_id, token, std::string());
    ASSERT_EQ(context.status, 200) << context.body;
    EXPECT_EQ(transaction_id(Body(context).at("event").as_object()), want);
    Response messages = Call("GET", "/rooms/" + room + "/messages?dir=b&limit=1", token, std::string());
    ASSERT_EQ(messages.status, 200) << messages.body;
    EXPECT_EQ(transaction_id(Body(messages).at("chunk").as_array().at(0).as_object()), want);
  }
}

// A profile change is one command: the member events of every joined room are in
// the first /sync after the PUT answered, for the user and for the rooms' members.
TEST_F(SyncTest, AProfileChangeIsInTheNextSyncOfEveryJoinedRoom) {
  std::string first = PublicRoom();
  std::string second = PublicRoom();
  std::string other = CreateRoom(bob_, json::object{{"preset", "public_chat"}});
  for (const std::string& room : {first, second}) {
    ASSERT_EQ(Call("POST", "/rooms/" + room + "/join", bob_, json::object{}).status, 200);
  }
  const std::string since = Next(Sync(bob_));
  ASSERT_EQ(Call("PUT", "/profile/@alice:localhost/avatar_url", alice_,
                 json::object{{"avatar_url", "mxc://localhost/new"}}).status, 200);
  json::object body = Sync(bob_, "since=" + since);
  for (const std::string& room : {first, second}) {
    const json::array& timeline = Timeline(body, room);
    ASSERT_EQ(timeline.size(), 1u) << json::serialize(body);
    const json::value& member = timeline[0];
    EXPECT_EQ(member.at("type"), "m.room.member");
    EXPECT_EQ(member.at("state_key"), "@alice:localhost");
    EXPECT_EQ(member.at("content").at("avatar_url"), "mxc://localhost/new");
    EXPECT_EQ(member.at("content").at("displayname"), "alice");
    EXPECT_EQ(member.at("content").at("membership"), "join");
  }
  const json::value* rooms = body.if_contains("rooms");
  const json::value* join = rooms ? rooms->as_object().if_contains("join") : nullptr;
  EXPECT_TRUE(join == nullptr || !join->as_object().contains(other));  // alice is not in it
}

// unsigned.prev_content: a state event carries the content of the one it replaced
// (clients render "changed the topic from ..." and display-name changes from it).
TEST_F(SyncTest, StateEventsCarryThePreviousContent) {
  std::string room = PublicRoom();
  const std::string base = "/rooms/" + room + "/state/m.room.topic";
  ASSERT_EQ(Call("PUT", base, alice_, json::object{{"topic", "first"}}).status, 200);
  ASSERT_EQ(Call("PUT", base, alice_, json::object{{"topic", "second"}}).status, 200);
  ASSERT_EQ(Call("PUT", "/profile/@alice:localhost/displayname", alice_,
                 json::object{{"displayname", "Alice A."}}).status, 200);
  // The profile and the member events are one command, applied before the answer.
  json::object body = Sync(alice_);
  std::vector<std::string> topics_prev;
  std::string member_prev_name = "-";
  for (const json::value& e : Timeline(body, room)) {
    const json::object& u = e.at("unsigned").as_object();
    if (e.at("type") == "m.room.topic") {
      topics_prev.push_back(u.contains("prev_content")
                                ? std::string(u.at("prev_content").at("topic").as_string())
                                : "-");
    }
    if (e.at("type") == "m.room.member" && e.at("content").as_object().contains("displayname") &&
        e.at("content").at("displayname") == "Alice A.") {
      member_prev_name = u.contains("prev_content") && u.at("prev_content").as_object().contains("displayname")
                             ? std::string(u.at("prev_content").at("displayname").as_string())
                             : "none";
    }
  }
  // The preset's room may or may not set a topic first; the last two are ours.
  ASSERT_GE(topics_prev.size(), 2u);
  EXPECT_EQ(topics_prev[topics_prev.size() - 1], "first");
  EXPECT_EQ(member_prev_name, "alice");  // the join's displayname (the localpart)
  // /messages serves it too.
  Response messages = Call("GET", "/rooms/" + room + "/messages?dir=b&limit=10", alice_, std::string());
  ASSERT_EQ(messages.status, 200);
  json::value page = Body(messages);
  bool seen = false;
  for (const json::value& e : page.at("chunk").as_array()) {
    if (e.at("type") == "m.room.topic" && e.at("content").at("topic") == "second") {
      EXPECT_EQ(e.at("unsigned").at("prev_content").at("topic"), "first");
      seen = true;
    }
  }
  EXPECT_TRUE(seen);
}

TEST_F(SyncTest, InitialSyncHasEveryRequiredField) {
  std::string room = PublicRoom();
  std::string event_id = Send(alice_, room, "hello");
  json::object body = Sync(alice_);
  EXPECT_TRUE(ParseSyncToken(Next(body)).has_value());
  for (const char* key : {"join", "invite", "leave", "knock"}) {
    EXPECT_TRUE(body.at("rooms").as_object().contains(key)) << key;
  }
  EXPECT_TRUE(body.at("account_data").at("events").is_array());
  EXPECT_TRUE(body.at("presence").at("events").is_array());
  EXPECT_TRUE(body.at("to_device").at("events").is_array());
  EXPECT_TRUE(body.at("device_lists").at("changed").is_array());
  EXPECT_TRUE(body.at("device_lists").at("left").is_array());
  EXPECT_TRUE(body.at("device_one_time_keys_count").is_object());

  const json::object& joined = Rooms(body, "join").at(room).as_object();
  for (const char* key :
       {"timeline", "state", "ephemeral", "account_data", "unread_notifications"}) {
    EXPECT_TRUE(joined.contains(key)) << key;
  }
  const json::array& timeline = joined.at("timeline").at("events").as_array();
  ASSERT_FALSE(timeline.empty());
  EXPECT_EQ(timeline.front().at("type").as_string(), "m.room.create");  // whole room fits
  const json::object& last = timeline.back().as_object();
  EXPECT_EQ(last.at("event_id").as_string(), event_id);
  EXPECT_EQ(last.at("sender").as_string(), "@alice:localhost");
  EXPECT_TRUE(last.contains("origin_server_ts"));
  EXPECT_TRUE(last.at("unsigned").as_object().contains("age"));
  EXPECT_FALSE(last.contains("room_id"));  // ClientEventWithoutRoomID
  EXPECT_FALSE(last.contains("auth_events"));
  EXPECT_FALSE(joined.at("timeline").at("limited").as_bool());
  EXPECT_TRUE(joined.at("timeline").at("prev_batch").is_string());
  EXPECT_TRUE(joined.at("state").at("events").as_array().empty());  // all in the timeline
}

TEST_F(SyncTest, LimitedInitialSyncCarriesStateAtTimelineStart) {
  std::string room = PublicRoom();
  for (int i = 0; i < 3; ++i) Send(alice_, room, "m" + std::to_string(i));
  json::object body = Sync(alice_, R"(filter={"room":{"timeline":{"limit":2}}})");
  const json::object& joined = Rooms(body, "join").at(room).as_object();
  EXPECT_TRUE(joined.at("timeline").at("limited").as_bool());
  EXPECT_EQ(Bodies(joined.at("timeline").at("events").as_array()),
            (std::vector<std::string>{"m1", "m2"}));
  bool has_create = false, has_member = false;
  for (const json::value& e : joined.at("state").at("events").as_array()) {
    has_create |= e.at("type").as_string() == "m.room.create";
    has_member |= e.at("type").as_string() == "m.room.member";
    EXPECT_NE(e.at("type").as_string(), "m.room.message");
  }
  EXPECT_TRUE(has_create);
  EXPECT_TRUE(has_member);
}

TEST_F(SyncTest, MessageAfterNextBatchAppearsInNextSyncOnly) {
  std::string room = PublicRoom();
  json::object first = Sync(alice_);
  std::string event_id = Send(alice_, room, "later");
  json::object second = Sync(alice_, "since=" + Next(first));
  const json::array& timeline = Timeline(second, room);
  ASSERT_EQ(timeline.size(), 1u);
  EXPECT_EQ(timeline[0].at("event_id").as_string(), event_id);
  EXPECT_FALSE(Rooms(second, "join").at(room).at("timeline").at("limited").as_bool());
  EXPECT_TRUE(Rooms(second, "join").at(room).at("state").at("events").as_array().empty());
  json::object third = Sync(alice_, "since=" + Next(second));
  EXPECT_TRUE(Rooms(third, "join").empty());
  EXPECT_EQ(Next(third), Next(second));
}

TEST_F(SyncTest, LimitedIncrementalPrevBatchWorksWithMessages) {
  std::string room = PublicRoom();
  json::object first = Sync(alice_);
  for (int i = 0; i < 15; ++i) Send(alice_, room, "m" + std::to_string(i));
  json::object second = Sync(alice_, "since=" + Next(first));
  const json::object& joined = Rooms(second, "join").at(room).as_object();
  EXPECT_TRUE(joined.at("timeline").at("limited").as_bool());
  std::vector<std::string> expected;
  for (int i = 5; i < 15; ++i) expected.push_back("m" + std::to_string(i));
  EXPECT_EQ(Bodies(joined.at("timeline").at("events").as_array()), expected);
  EXPECT_FALSE(joined.at("state").at("events").as_array().empty());  // gap: full state

  std::string prev_batch(joined.at("timeline").at("prev_batch").as_string());
  Response page =
      Call("GET", "/rooms/" + room + "/messages?dir=b&limit=5&from=" + prev_batch, alice_);
  ASSERT_EQ(page.status, 200) << page.body;
  EXPECT_EQ(Bodies(Body(page).at("chunk").as_array()),
            (std::vector<std::string>{"m4", "m3", "m2", "m1", "m0"}));
}

TEST_F(SyncTest, InviteAppearsForTheInviteeOnly) {
  std::string room = CreateRoom(alice_, json::object{{"name", "Secret"}});
  json::object bob_before = Sync(bob_);
  ASSERT_EQ(Post(alice_, "/rooms/" + room + "/invite", json::object{{"user_id", "@bob:localhost"}}),
            200);

  for (const json::object& body : {Sync(bob_, "since=" + Next(bob_before)), Sync(bob_)}) {
    ASSERT_TRUE(Rooms(body, "invite").contains(room));
    EXPECT_FALSE(Rooms(body, "join").contains(room));
    bool create = false, name = false, own_invite = false;
    for (const json::value& e :
         Rooms(body, "invite").at(room).at("invite_state").at("events").as_array()) {
      EXPECT_FALSE(e.as_object().contains("event_id"));  // stripped
      std::string_view type = e.at("type").as_string();
      create |= type == "m.room.create";
      name |= type == "m.room.name";
      EXPECT_NE(type, "m.room.power_levels");
      if (type == "m.room.member") {
        EXPECT_EQ(e.at("state_key").as_string(), "@bob:localhost");
        own_invite = e.at("content").at("membership").as_string() == "invite";
      }
    }
    EXPECT_TRUE(create && name && own_invite);
  }
  EXPECT_FALSE(Rooms(Sync(carol_), "invite").contains(room));
  json::object alice = Sync(alice_);
  EXPECT_FALSE(Rooms(alice, "invite").contains(room));
  EXPECT_TRUE(Rooms(alice, "join").contains(room));
}

TEST_F(SyncTest, NonMemberNeverSeesTheRoom) {
  json::object before = Sync(carol_);
  std::string room = PublicRoom();
  Send(alice_, room, "not for carol");
  json::object after = Sync(carol_, "since=" + Next(before));
  EXPECT_TRUE(Rooms(after, "join").empty());
  EXPECT_TRUE(Rooms(after, "invite").empty());
  EXPECT_TRUE(Rooms(after, "leave").empty());
  EXPECT_GT(Position(after), Position(before));
  json::object initial = Sync(carol_, R"(filter={"room":{"include_leave":true}})");
  EXPECT_TRUE(Rooms(initial, "join").empty());
  EXPECT_TRUE(Rooms(initial, "leave").empty());
  EXPECT_EQ(json::serialize(after).find(room), std::string::npos);
}

TEST_F(SyncTest, JoinAndLeaveAppearInTheirSections) {
  std::string room = PublicRoom();
  Send(alice_, room, "before bob");
  json::object start = Sync(bob_);
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/join"), 200);
  json::object joined = Sync(bob_, "since=" + Next(start));
  ASSERT_TRUE(Rooms(joined, "join").contains(room));
  // Newly joined: state at the timeline's start plus the recent history.
  EXPECT_EQ(Timeline(joined, room).back().at("content").at("membership").as_string(), "join");

  Send(alice_, room, "while bob is here");
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/leave"), 200);
  Send(alice_, room, "after bob left");
  json::object left = Sync(bob_, "since=" + Next(joined));
  EXPECT_FALSE(Rooms(left, "join").contains(room));
  ASSERT_TRUE(Rooms(left, "leave").contains(room));
  const json::array& timeline =
      Rooms(left, "leave").at(room).at("timeline").at("events").as_array();
  ASSERT_EQ(timeline.size(), 2u);
  EXPECT_EQ(timeline[0].at("content").at("body").as_string(), "while bob is here");
  EXPECT_EQ(timeline[1].at("type").as_string(), "m.room.member");
  EXPECT_EQ(timeline[1].at("content").at("membership").as_string(), "leave");

  EXPECT_TRUE(Rooms(Sync(bob_), "leave").empty());  // initial: only with include_leave
  json::object with_leave = Sync(bob_, R"(filter={"room":{"include_leave":true}})");
  ASSERT_TRUE(Rooms(with_leave, "leave").contains(room));
  const json::array& last =
      Rooms(with_leave, "leave").at(room).at("timeline").at("events").as_array();
  EXPECT_EQ(last.back().at("content").at("membership").as_string(), "leave");
  // Alice's later message stays hidden from bob.
  EXPECT_EQ(json::serialize(with_leave).find("after bob left"), std::string::npos);
  EXPECT_EQ(json::serialize(left).find("after bob left"), std::string::npos);
}

TEST_F(SyncTest, ForgottenRoomsAreNotListedInLeave) {
  std::string room = PublicRoom();
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/join"), 200);
  json::object joined = Sync(bob_);
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/leave"), 200);
  const std::string with_leave = R"(filter={"room":{"include_leave":true}})";
  ASSERT_TRUE(Rooms(Sync(bob_, with_leave), "leave").contains(room));
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/forget"), 200);
  EXPECT_TRUE(Rooms(Sync(bob_, with_leave), "leave").empty());  // initial
  // Incremental over the leave: the forgotten room is not listed either.
  json::object later = Sync(bob_, "since=" + Next(joined));
  EXPECT_FALSE(Rooms(later, "leave").contains(room));
  EXPECT_FALSE(Rooms(later, "join").contains(room));
  EXPECT_TRUE(Body(Call("GET", "/joined_rooms", bob_)).at("joined_rooms").as_array().empty());
  // Alice is unaffected; a re-join brings the room back, and a later leave lists it.
  EXPECT_TRUE(Rooms(Sync(alice_), "join").contains(room));
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/join"), 200);
  EXPECT_TRUE(Rooms(Sync(bob_), "join").contains(room));
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/leave"), 200);
  EXPECT_TRUE(Rooms(Sync(bob_, with_leave), "leave").contains(room));
}

TEST_F(SyncTest, TimelineTypeFilters) {
  std::string room = PublicRoom();
  json::object start = Sync(alice_);
  Send(alice_, room, "text");
  ASSERT_EQ(
      Call("PUT", "/rooms/" + room + "/state/m.room.topic", alice_, json::object{{"topic", "t"}})
          .status,
      200);
  json::object body =
      Sync(alice_, "since=" + Next(start) +
                       R"(&filter={"room":{"timeline":{"not_types":["m.room.message"]}}})");
  const json::array& timeline = Timeline(body, room);
  ASSERT_EQ(timeline.size(), 1u);
  EXPECT_EQ(timeline[0].at("type").as_string(), "m.room.topic");

  body = Sync(alice_, "since=" + Next(start) +
                          R"(&filter={"room":{"timeline":{"types":["m.room.mess*"]}}})");
  ASSERT_EQ(Timeline(body, room).size(), 1u);
  EXPECT_EQ(Timeline(body, room)[0].at("type").as_string(), "m.room.message");
  // The state change the timeline left out is in state.
  const json::array& state = Rooms(body, "join").at(room).at("state").at("events").as_array();
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(state[0].at("type").as_string(), "m.room.topic");
}

TEST_F(SyncTest, LongPollWakesWhenAMessageIsSent) {
  std::string room = PublicRoom();
  json::object start = Sync(alice_);
  std::atomic<bool> sent{false};
  steady_clock::time_point sent_at;
  std::thread sender([&] {
    WaitForParkedPolls(1);
    Send(alice_, room, "wake up");
    sent_at = steady_clock::now();
    sent = true;
  });
  auto begin = steady_clock::now();
  json::object body = Sync(alice_, "since=" + Next(start) + "&timeout=5000");
  auto answered_at = steady_clock::now();
  sender.join();
  ASSERT_TRUE(sent);
  EXPECT_LT(answered_at - begin, milliseconds(2000));
  // Woken by the commit, not by the timeout (the send may return just after the wake).
  EXPECT_LT(answered_at - sent_at, milliseconds(2000));
  ASSERT_TRUE(Rooms(body, "join").contains(room));
  EXPECT_EQ(Bodies(Timeline(body, room)), std::vector<std::string>{"wake up"});
  ExpectNoSubscriptionLeft();
}

TEST_F(SyncTest, LongPollIgnoresOtherRoomsAndTimesOut) {
  std::string room = PublicRoom();
  json::object start = Sync(bob_);
  std::thread sender([&] {
    WaitForParkedPolls(1);
    Send(alice_, room, "bob is not in this room");
  });
  auto begin = steady_clock::now();
  json::object body = Sync(bob_, "since=" + Next(start) + "&timeout=300");
  auto elapsed = steady_clock::now() - begin;
  sender.join();
  EXPECT_GE(elapsed, milliseconds(300));
  EXPECT_LT(elapsed, milliseconds(3000));
  EXPECT_TRUE(Rooms(body, "join").empty());
  EXPECT_GE(Position(body), Position(start));
  ExpectNoSubscriptionLeft();
}

TEST_F(SyncTest, LongPollWithNothingReturnsEmptyAfterTimeout) {
  PublicRoom();
  json::object start = Sync(alice_);
  auto begin = steady_clock::now();
  json::object body = Sync(alice_, "since=" + Next(start) + "&timeout=200");
  auto elapsed = steady_clock::now() - begin;
  EXPECT_GE(elapsed, milliseconds(200));
  EXPECT_LT(elapsed, milliseconds(2000));
  EXPECT_TRUE(Rooms(body, "join").empty());
  EXPECT_EQ(Next(body), Next(start));
  ExpectNoSubscriptionLeft();
}

TEST_F(SyncTest, ConcurrentLongPollsAllAnswer) {
  std::string room = PublicRoom();
  json::object start = Sync(alice_);
  std::vector<std::thread> pollers;
  std::atomic<int> woken{0};
  for (int i = 0; i < 8; ++i) {
    pollers.emplace_back([&] {
      Request request =
          MakeRequest("GET", std::string(kV3) + "/sync?timeout=5000&since=" + Next(start));
      request.headers.Set("Authorization", "Bearer " + alice_);
      Response r = router_.Handle(request);
      if (r.status == 200 && Body(r).at("rooms").at("join").as_object().contains(room)) ++woken;
    });
  }
  WaitForParkedPolls(8);
  Send(alice_, room, "all of you");
  for (std::thread& t : pollers) t.join();
  EXPECT_EQ(woken.load(), 8);
  ExpectNoSubscriptionLeft();
}

TEST_F(SyncTest, NextBatchTokensAreMonotonic) {
  std::string room = PublicRoom();
  json::object body = Sync(alice_);
  uint64_t previous = Position(body);
  for (int i = 0; i < 5; ++i) {
    Send(alice_, room, "m" + std::to_string(i));
    body = Sync(alice_, "since=" + Next(body));
    EXPECT_GT(Position(body), previous);
    previous = Position(body);
    body = Sync(alice_, "since=" + Next(body));
    EXPECT_EQ(Position(body), previous);
  }
}

TEST_F(SyncTest, BadParametersAreRefused) {
  EXPECT_EQ(Call("GET", "/sync", "").status, 401);
  for (const char* query :
       {"since=x", "since=s", "since=s12a", "since=s999999999", "timeout=-1", "timeout=abc",
        "full_state=yes", "filter={\"room\":1}", "filter={bad"}) {
    Response r = Call("GET", std::string("/sync?") + query, alice_);
    EXPECT_EQ(r.status, 400) << query;
    EXPECT_EQ(ErrCode(r), "M_INVALID_PARAM") << query;
  }
  Response by_id = Call("GET", "/sync?filter=42", alice_);
  EXPECT_EQ(by_id.status, 404);
  EXPECT_EQ(ErrCode(by_id), "M_NOT_FOUND");
  EXPECT_EQ(Call("GET", "/_matrix/client/r0/sync?set_presence=offline", alice_).status, 200);
}

TEST_F(SyncTest, FullStateReportsJoinedRoomsWithoutNews) {
  std::string room = PublicRoom();
  json::object start = Sync(alice_);
  json::object body = Sync(alice_, "since=" + Next(start) + "&full_state=true&timeout=5000");
  ASSERT_TRUE(Rooms(body, "join").contains(room));
  EXPECT_FALSE(Timeline(body, room).empty());
}

TEST_F(SyncTest, TokensSurviveARestart) {
  std::string room = PublicRoom();
  json::object start = Sync(alice_);
  Send(alice_, room, "before restart");
  // router_ is not used after the restart (its routes hold the old engine).
  engine_.reset();
  auto reopened =
      core::Engine::Open({.data_dir = dir_.path(), .server_name = "localhost", .clock = &clock_});
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  engine_ = std::move(reopened).value();
  Router router("client");
  AddSyncRoutes(router, *engine_);
  Request request = MakeRequest("GET", std::string(kV3) + "/sync?since=" + Next(start));
  request.headers.Set("Authorization", "Bearer " + alice_);
  Response r = router.Handle(request);
  ASSERT_EQ(r.status, 200) << r.body;
  json::object body = Body(r).as_object();
  EXPECT_EQ(Bodies(Timeline(body, room)), std::vector<std::string>{"before restart"});
  EXPECT_GT(Position(body), Position(start));
}

TEST_F(SyncTest, ParkedLongPollIsAnsweredWhenTheRoutesGo) {
  json::object start = Sync(alice_);
  std::promise<Response> answer;
  {
    Router router("client");
    AddSyncRoutes(router, *engine_);
    Request request =
        MakeRequest("GET", std::string(kV3) + "/sync?timeout=30000&since=" + Next(start));
    request.headers.Set("Authorization", "Bearer " + alice_);
    router.HandleAsync(request, [&answer](Response r) { answer.set_value(std::move(r)); });
    EXPECT_EQ(engine_->notifier().pending(), 1u);
  }
  auto future = answer.get_future();
  ASSERT_EQ(future.wait_for(milliseconds(1000)), std::future_status::ready);
  Response r = future.get();
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(Body(r).at("rooms").at("join").as_object().empty());
  ExpectNoSubscriptionLeft();
}

TEST(SyncFilterTest, ParsesTheHonouredFields) {
  auto filter = ParseSyncFilter(
      R"({"room":{"include_leave":true,"timeline":{"limit":1000,"types":["a"],"not_types":["b*"]}},"presence":{}})");
  ASSERT_TRUE(filter.ok()) << filter.status().ToString();
  EXPECT_TRUE(filter->include_leave);
  EXPECT_EQ(filter->timeline_limit, kSyncTimelineLimitMax);
  EXPECT_EQ(filter->types, std::vector<std::string>{"a"});
  EXPECT_EQ(filter->not_types, std::vector<std::string>{"b*"});
  EXPECT_EQ(ParseSyncFilter("{}")->timeline_limit, kSyncTimelineLimitDefault);
  EXPECT_FALSE(ParseSyncFilter(R"({"room":{"timeline":{"limit":-1}}})").ok());
  EXPECT_FALSE(ParseSyncFilter(R"({"room":{"timeline":{"types":"a"}}})").ok());
  EXPECT_FALSE(ParseSyncFilter("[]").ok());
}

TEST_F(SyncTest, AccountDataChangesArriveIncrementally) {
  std::string room = PublicRoom();
  json::object start = Sync(alice_);
  Response put = Call("PUT", "/user/@alice:localhost/account_data/org.example.a", alice_,
                      std::string(R"({"v":1})"));
  ASSERT_EQ(put.status, 200) << put.body;
  put = Call("PUT", "/user/@alice:localhost/rooms/" + room + "/account_data/org.example.r", alice_,
             std::string(R"({"w":2})"));
  ASSERT_EQ(put.status, 200) << put.body;
  put = Call("PUT", "/user/@bob:localhost/account_data/org.example.b", bob_, std::string(R"({"x":3})"));
  ASSERT_EQ(put.status, 200) << put.body;

  json::object body = Sync(alice_, "since=" + Next(start));
  const json::array& global = body.at("account_data").at("events").as_array();
  ASSERT_EQ(global.size(), 1u);  // only alice's own change
  EXPECT_EQ(global[0].at("type").as_string(), "org.example.a");
  EXPECT_EQ(global[0].at("content").at("v").as_int64(), 1);
  const json::object& joined = Rooms(body, "join").at(room).as_object();
  const json::array& per_room = joined.at("account_data").at("events").as_array();
  ASSERT_EQ(per_room.size(), 1u);
  EXPECT_EQ(per_room[0].at("type").as_string(), "org.example.r");
  EXPECT_TRUE(Timeline(body, room).empty());  // the room is there for its account data only

  json::object later = Sync(alice_, "since=" + Next(body));
  EXPECT_TRUE(later.at("account_data").at("events").as_array().empty());
  EXPECT_TRUE(Rooms(later, "join").empty());
}

TEST_F(SyncTest, FractionalTagOrderReachesSync) {
  std::string room = PublicRoom();
  json::object start = Sync(alice_);
  Response put = Call("PUT", "/user/@alice:localhost/rooms/" + room + "/tags/m.favourite", alice_,
                      std::string(R"({"order":0.5})"));
  ASSERT_EQ(put.status, 200) << put.body;
  json::object body = Sync(alice_, "since=" + Next(start));
  const json::array& data =
      Rooms(body, "join").at(room).at("account_data").at("events").as_array();
  ASSERT_EQ(data.size(), 1u);
  EXPECT_EQ(data[0].at("type").as_string(), "m.tag");
  EXPECT_EQ(data[0].at("content").at("tags").at("m.favourite").at("order").as_double(), 0.5);
  // An initial sync carries it too.
  json::object initial = Sync(alice_);
  EXPECT_EQ(Rooms(initial, "join").at(room).at("account_data").at("events").as_array().size(), 1u);
}

TEST_F(SyncTest, ReceiptsAreEphemeralAndPrivateOnesStayPrivate) {
  std::string room = PublicRoom();
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/join"), 200);
  std::string first = Send(alice_, room, "one");
  json::object start = Sync(alice_);
  json::object bob_start = Sync(bob_);
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/receipt/m.read/" + first), 200);
  ASSERT_EQ(Post(alice_, "/rooms/" + room + "/receipt/m.read.private/" + first), 200);

  json::object body = Sync(alice_, "since=" + Next(start));
  const json::array& ephemeral =
      Rooms(body, "join").at(room).at("ephemeral").at("events").as_array();
  ASSERT_EQ(ephemeral.size(), 1u) << json::serialize(body);
  EXPECT_EQ(ephemeral[0].at("type").as_string(), "m.receipt");
  const json::object& on_event = ephemeral[0].at("content").at(first).as_object();
  EXPECT_TRUE(on_event.at("m.read").as_object().contains("@bob:localhost"));
  EXPECT_TRUE(on_event.at("m.read.private").as_object().contains("@alice:localhost"));
  // Bob sees his own receipt, never alice's private one.
  json::object bob = Sync(bob_, "since=" + Next(bob_start));
  const std::string text = json::serialize(bob);
  EXPECT_EQ(text.find("m.read.private"), std::string::npos) << text;
  EXPECT_NE(text.find("m.receipt"), std::string::npos);
  // An initial sync carries the current receipts.
  json::object initial = Sync(alice_);
  EXPECT_EQ(Rooms(initial, "join").at(room).at("ephemeral").at("events").as_array().size(), 1u);
}

TEST_F(SyncTest, LongPollWakesForAccountData) {
  json::object start = Sync(alice_);
  std::thread writer([&] {
    WaitForParkedPolls(1);
    Call("PUT", "/user/@alice:localhost/account_data/org.example.a", alice_, std::string(R"({"v":1})"));
  });
  auto begin = steady_clock::now();
  json::object body = Sync(alice_, "since=" + Next(start) + "&timeout=5000");
  writer.join();
  EXPECT_LT(steady_clock::now() - begin, milliseconds(3000));
  EXPECT_EQ(body.at("account_data").at("events").as_array().size(), 1u);
}

TEST_F(SyncTest, TypingIsEphemeralAndWakesLongPolls) {
  std::string room = PublicRoom();
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/join"), 200);
  json::object start = Sync(alice_);
  std::thread typist([&] {
    WaitForParkedPolls(1);
    Typing().Set(room, "@bob:localhost", true, std::chrono::seconds(20));
  });
  auto begin = steady_clock::now();
  json::object body = Sync(alice_, "since=" + Next(start) + "&timeout=5000");
  typist.join();
  EXPECT_LT(steady_clock::now() - begin, milliseconds(3000));
  ASSERT_TRUE(Rooms(body, "join").contains(room)) << json::serialize(body);
  const json::array& ephemeral = Rooms(body, "join").at(room).at("ephemeral").at("events").as_array();
  ASSERT_EQ(ephemeral.size(), 1u);
  EXPECT_EQ(ephemeral[0].at("type").as_string(), "m.typing");
  EXPECT_EQ(ephemeral[0].at("content").at("user_ids").as_array(), (json::array{"@bob:localhost"}));

  // Carol is not in the room: nothing for her.
  json::object carol = Sync(carol_);
  Typing().Set(room, "@bob:localhost", false, milliseconds(0));
  EXPECT_TRUE(Rooms(Sync(carol_, "since=" + Next(carol)), "join").empty());

  // Stopping shows as an empty list; the next sync has nothing more.
  json::object stopped = Sync(alice_, "since=" + Next(body));
  const json::array& now = Rooms(stopped, "join").at(room).at("ephemeral").at("events").as_array();
  ASSERT_EQ(now.size(), 1u);
  EXPECT_TRUE(now[0].at("content").at("user_ids").as_array().empty());
  EXPECT_TRUE(Rooms(Sync(alice_, "since=" + Next(stopped)), "join").empty());
}

TEST_F(SyncTest, LazyLoadedMembersAreTheTimelineSenders) {
  std::string room = PublicRoom();
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/join"), 200);
  ASSERT_EQ(Post(carol_, "/rooms/" + room + "/join"), 200);
  Send(bob_, room, "from bob");
  Send(carol_, room, "from carol");
  json::object body = Sync(
      alice_, R"(filter={"room":{"timeline":{"limit":1},"state":{"lazy_load_members":true}}})");
  const json::object& joined = Rooms(body, "join").at(room).as_object();
  std::vector<std::string> members;
  for (const json::value& e : joined.at("state").at("events").as_array()) {
    if (e.at("type").as_string() == "m.room.member") {
      members.emplace_back(e.at("state_key").as_string());
    }
  }
  std::sort(members.begin(), members.end());
  EXPECT_EQ(members, (std::vector<std::string>{"@alice:localhost", "@carol:localhost"}));
  const json::object& summary = joined.at("summary").as_object();
  EXPECT_EQ(summary.at("m.joined_member_count").as_int64(), 3);
  EXPECT_EQ(summary.at("m.invited_member_count").as_int64(), 0);
  EXPECT_EQ(summary.at("m.heroes").as_array().size(), 2u);

  // Incrementally: bob speaks again, limit 1 timeline is not limited; his member
  // event is added to the state because alice's client may not have it.
  json::object start = Sync(alice_);
  Send(bob_, room, "bob again");
  json::object next = Sync(alice_, "since=" + Next(start) +
                                       R"(&filter={"room":{"state":{"lazy_load_members":true}}})");
  const json::array& state = Rooms(next, "join").at(room).at("state").at("events").as_array();
  ASSERT_EQ(state.size(), 1u);
  EXPECT_EQ(state[0].at("state_key").as_string(), "@bob:localhost");
}

TEST_F(SyncTest, DeviceListsFollowSharedRooms) {
  std::string room = PublicRoom();
  json::object start = Sync(alice_);
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/join"), 200);
  json::object joined = Sync(alice_, "since=" + Next(start));
  EXPECT_EQ(joined.at("device_lists").at("changed").as_array(), (json::array{"@bob:localhost"}));
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/leave"), 200);
  json::object left = Sync(alice_, "since=" + Next(joined));
  EXPECT_EQ(left.at("device_lists").at("left").as_array(), (json::array{"@bob:localhost"}));
  EXPECT_TRUE(left.at("device_lists").at("changed").as_array().empty());
  // Bob, joining, learns about alice.
  json::object bob_start = Sync(bob_);
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/join"), 200);
  json::object bob_joined = Sync(bob_, "since=" + Next(bob_start));
  EXPECT_EQ(bob_joined.at("device_lists").at("changed").as_array(),
            (json::array{"@alice:localhost"}));
  EXPECT_TRUE(bob_joined.at("device_one_time_keys_count").is_object());
  EXPECT_TRUE(bob_joined.at("device_unused_fallback_key_types").is_array());
}

TEST_F(SyncTest, ManyQuietRoomsDoNotAppearIncrementally) {
  std::vector<std::string> rooms;
  for (int i = 0; i < 20; ++i) rooms.push_back(PublicRoom());
  json::object start = Sync(alice_);
  EXPECT_EQ(Rooms(start, "join").size(), 20u);
  Send(alice_, rooms[7], "only here");
  json::object body = Sync(alice_, "since=" + Next(start));
  ASSERT_EQ(Rooms(body, "join").size(), 1u);
  EXPECT_EQ(Bodies(Timeline(body, rooms[7])), std::vector<std::string>{"only here"});
}

TEST(SyncTokenTest, RoundTrips) {
  EXPECT_EQ(MakeSyncToken({42, 7}), "s42_7");
  EXPECT_EQ(ParseSyncToken("s42_7"), (SyncToken{42, 7}));
  EXPECT_EQ(ParseSyncToken("s42"), (SyncToken{42, 0}));  // tokens before typing serials
  EXPECT_EQ(MakeSyncToken({42, 7, 9}), "s42_7_9");  // with a presence serial
  EXPECT_EQ(ParseSyncToken("s42_7_9"), (SyncToken{42, 7, 9}));
  // With the notification worker's cursor the counts were taken at.
  EXPECT_EQ(MakeSyncToken({42, 7, 0, 40}), "s42_7_0_40");
  EXPECT_EQ(ParseSyncToken("s42_7_0_40"), (SyncToken{42, 7, 0, 40}));
  EXPECT_EQ(ParseSyncToken("s42_7_9_40"), (SyncToken{42, 7, 9, 40}));
  for (const char* bad :
       {"42", "s-1", "s", "s_1", "s1_", "s1_x", "s1_2_", "s1_2_x", "s1_2_3_", "s1_2_3_x",
        "s1_2_3_4_5", "s1 "}) {
    EXPECT_FALSE(ParseSyncToken(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace nebu::api
