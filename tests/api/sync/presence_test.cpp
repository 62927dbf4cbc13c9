// Goal: basic presence (api/sync/presence.h): the tracker's rules and serials, GET/PUT
// /presence/{userId}/status with their errors, /sync's set_presence and m.presence
// events for users sharing a room, and the three-part sync token.
// Method: PresenceTracker directly; the routes on a real engine through
// Router::Handle (rooms_testing.h) with a FakeClock.
#include "api/sync/presence.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "api/sync/sync.h"
#include "api/sync/sync_routes.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

constexpr int64_t kNow = 1'700'000'000'000;

TEST(PresenceTrackerTest, SetValidatesAndTakesASerialPerChange) {
  PresenceTracker tracker;
  const uint64_t start = tracker.serial();
  EXPECT_EQ(tracker.Set("@a:x", "busy", std::nullopt, kNow).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(
      tracker.Set("@a:x", "online", std::string(kPresenceStatusMsgBytesMax + 1, 'm'), kNow).code(),
      StatusCode::kTooLarge);
  EXPECT_FALSE(tracker.Get("@a:x").has_value());
  EXPECT_EQ(tracker.serial(), start);

  ASSERT_TRUE(tracker.Set("@a:x", "unavailable", "lunch", kNow).ok());
  EXPECT_EQ(tracker.serial(), start + 1);
  EXPECT_EQ(*tracker.Get("@a:x"), (PresenceState{"unavailable", "lunch", kNow, start + 1}));
  ASSERT_TRUE(tracker.Set("@a:x", "unavailable", "lunch", kNow + 5).ok());  // same: no serial
  EXPECT_EQ(tracker.serial(), start + 1);
  EXPECT_EQ(tracker.Get("@a:x")->last_active_ts, kNow + 5);

  tracker.MarkActive("@b:x", "online", kNow);
  EXPECT_EQ(tracker.serial(), start + 2);
  tracker.MarkActive("@b:x", "online", kNow + 10);  // only refreshes last_active_ts
  EXPECT_EQ(tracker.serial(), start + 2);
  EXPECT_EQ(tracker.Get("@b:x")->last_active_ts, kNow + 10);
  tracker.MarkActive("@b:x", "offline", kNow + 20);  // set_presence=offline: nothing
  EXPECT_EQ(tracker.Get("@b:x")->last_active_ts, kNow + 10);

  auto changed = tracker.ChangedSince(start + 1);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_TRUE(changed.contains("@b:x"));
  EXPECT_EQ(tracker.ChangedSince(start).size(), 2u);
  EXPECT_TRUE(tracker.ChangedSince(tracker.serial()).empty());
}

TEST(PresenceTrackerTest, SubscribersHearEveryChangeThatTakesASerial) {
  PresenceTracker tracker;
  std::vector<std::string> heard;
  auto id = tracker.Subscribe([&](const std::string& user) { heard.push_back(user); });
  ASSERT_TRUE(tracker.Set("@a:hs", "online", std::nullopt, 1000).ok());
  tracker.MarkActive("@a:hs", "online", 2000);  // no change: nothing heard
  tracker.MarkActive("@b:hs", "unavailable", 2000);
  ASSERT_TRUE(tracker.Set("@a:hs", "online", "lunch", 3000).ok());
  EXPECT_FALSE(tracker.Set("@a:hs", "away", std::nullopt, 3000).ok());  // refused: nothing heard
  EXPECT_EQ(heard, (std::vector<std::string>{"@a:hs", "@b:hs", "@a:hs"}));
  tracker.Unsubscribe(id);
  ASSERT_TRUE(tracker.Set("@a:hs", "offline", std::nullopt, 4000).ok());
  EXPECT_EQ(heard.size(), 3u);
}

TEST(PresenceTrackerTest, ContentHasLastActiveAgoAndCurrentlyActive) {
  PresenceState state{"online", "here", kNow, 1};
  boost::json::object content = PresenceContent(state, kNow + 1000);
  EXPECT_EQ(content, (boost::json::object{{"presence", "online"},
                                          {"last_active_ago", 1000},
                                          {"currently_active", true},
                                          {"status_msg", "here"}}));
  content = PresenceContent(state, kNow + kPresenceActiveWindow.count() + 1);
  EXPECT_EQ(content.at("currently_active"), false);
  EXPECT_EQ(PresenceContent(PresenceState{}, kNow), (boost::json::object{{"presence", "offline"}}));
}

// The tracker must outlive the router (the sync routes unsubscribe from it when they
// go): a base constructed before RoomsApiTest is destroyed after it.
struct PresenceHolder {
  PresenceTracker presence_;
};

class PresenceRoutesTest : public PresenceHolder, public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    AddPresenceRoutes(router_, *engine_, presence_);
    AddSyncRoutes(router_, *engine_, nullptr, &presence_);
    alice_ = Register("alice");
    bob_ = Register("bob");
    carol_ = Register("carol");
  }
  Response Put(const std::string& token, const std::string& user, const json::value& body) {
    return Call("PUT", "/presence/" + user + "/status", token, body);
  }
  Response Get(const std::string& token, const std::string& user) {
    return Call("GET", "/presence/" + user + "/status", token);
  }
  json::object Sync(const std::string& token, const std::string& query = "") {
    Response r = Call("GET", "/sync" + (query.empty() ? "" : "?" + query), token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? Body(r).as_object() : json::object{};
  }
  // sender -> content of the m.presence events of a sync body.
  static std::map<std::string, json::object> PresenceOf(const json::object& body) {
    std::map<std::string, json::object> out;
    for (const json::value& e : body.at("presence").at("events").as_array()) {
      EXPECT_EQ(e.at("type").as_string(), "m.presence");
      out[std::string(e.at("sender").as_string())] = e.at("content").as_object();
    }
    return out;
  }

  std::string alice_, bob_, carol_;
};

TEST_F(PresenceRoutesTest, PutAndGetOwnPresence) {
  Response own = Get(alice_, kAliceId);
  ASSERT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(Body(own), (json::object{{"presence", "offline"}}));  // nothing known yet

  Response put = Put(alice_, kAliceId, json::object{{"presence", "online"}, {"status_msg", "hi"}});
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(Body(put), json::object{});
  clock_.AdvanceMs(1500);
  EXPECT_EQ(Body(Get(alice_, kAliceId)), (json::object{{"presence", "online"},
                                                       {"last_active_ago", 1500},
                                                       {"currently_active", true},
                                                       {"status_msg", "hi"}}));
  ASSERT_EQ(Put(alice_, kAliceId, json::object{{"presence", "offline"}}).status, 200);
  json::value offline = Body(Get(alice_, kAliceId));
  EXPECT_EQ(offline.at("presence"), "offline");
  EXPECT_FALSE(offline.as_object().contains("status_msg"));  // cleared by the PUT
}

TEST_F(PresenceRoutesTest, BadRequestsAreRefusedAndChangeNothing) {
  const uint64_t serial = presence_.serial();
  Response other = Put(alice_, kBobId, json::object{{"presence", "online"}});
  EXPECT_EQ(other.status, 403);
  EXPECT_EQ(ErrCode(other), "M_FORBIDDEN");
  Response bad = Put(alice_, kAliceId, json::object{{"presence", "busy"}});
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(ErrCode(bad), "M_INVALID_PARAM");
  EXPECT_EQ(ErrCode(Put(alice_, kAliceId, json::object{})), "M_MISSING_PARAM");
  EXPECT_EQ(ErrCode(Put(alice_, kAliceId, json::object{{"presence", 1}})), "M_BAD_JSON");
  EXPECT_EQ(ErrCode(Put(alice_, kAliceId, json::object{{"presence", "online"}, {"status_msg", 5}})),
            "M_BAD_JSON");
  Response long_msg =
      Put(alice_, kAliceId,
          json::object{{"presence", "online"},
                       {"status_msg", std::string(kPresenceStatusMsgBytesMax + 1, 'x')}});
  EXPECT_EQ(long_msg.status, 413);
  EXPECT_EQ(Put("", kAliceId, json::object{{"presence", "online"}}).status, 401);
  EXPECT_EQ(Call("GET", "/sync?set_presence=busy", alice_).status, 400);
  EXPECT_EQ(presence_.serial(), serial);
  EXPECT_FALSE(presence_.Get(kAliceId).has_value());
  EXPECT_FALSE(presence_.Get(kBobId).has_value());
}

TEST_F(PresenceRoutesTest, GetNeedsASharedRoom) {
  ASSERT_EQ(Put(bob_, kBobId, json::object{{"presence", "unavailable"}}).status, 200);
  Response stranger = Get(alice_, kBobId);
  EXPECT_EQ(stranger.status, 403);
  EXPECT_EQ(ErrCode(stranger), "M_FORBIDDEN");
  Response unknown = Get(alice_, "@nobody:localhost");
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(ErrCode(unknown), "M_NOT_FOUND");
  EXPECT_EQ(Get(alice_, "not-a-user").status, 400);
  EXPECT_EQ(Get("", kBobId).status, 401);

  std::string room = CreateRoom(alice_, {{"preset", "public_chat"}});
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/join"), 200);
  Response shared = Get(alice_, kBobId);
  ASSERT_EQ(shared.status, 200) << shared.body;
  EXPECT_EQ(Body(shared).at("presence"), "unavailable");
  EXPECT_EQ(Body(shared).at("currently_active"), false);
  EXPECT_EQ(Get(carol_, kBobId).status, 403);  // carol is in no room with bob
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/leave"), 200);
  EXPECT_EQ(Get(alice_, kBobId).status, 403);  // only rooms joined now count
}

TEST_F(PresenceRoutesTest, SyncMarksOnlineAndReportsChangesOfRoomMates) {
  std::string room = CreateRoom(alice_, {{"preset", "public_chat"}});
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/join"), 200);
  ASSERT_EQ(Put(carol_, "@carol:localhost", json::object{{"presence", "online"}}).status, 200);

  json::object first = Sync(alice_);  // set_presence unset: alice is online now
  EXPECT_EQ(presence_.Get(kAliceId)->presence, "online");
  SyncToken token = *ParseSyncToken(std::string(first.at("next_batch").as_string()));
  EXPECT_EQ(token.presence, presence_.serial());
  auto initial = PresenceOf(first);
  EXPECT_TRUE(initial.contains(kAliceId));             // her own
  EXPECT_FALSE(initial.contains("@carol:localhost"));  // shares no room with alice
  EXPECT_FALSE(initial.contains(kBobId));              // nothing known about bob yet

  // Bob syncs as unavailable: alice's next incremental sync reports only that.
  Sync(bob_, "set_presence=unavailable");
  json::object next = Sync(alice_, "since=" + std::string(first.at("next_batch").as_string()));
  auto changed = PresenceOf(next);
  ASSERT_EQ(changed.size(), 1u) << json::serialize(next.at("presence"));
  EXPECT_EQ(changed[kBobId].at("presence"), "unavailable");
  // Nothing changed since: an empty presence section.
  json::object quiet = Sync(alice_, "since=" + std::string(next.at("next_batch").as_string()));
  EXPECT_TRUE(PresenceOf(quiet).empty());
  // set_presence=offline changes nothing.
  Sync(bob_, "set_presence=offline");
  EXPECT_EQ(presence_.Get(kBobId)->presence, "unavailable");
}

TEST_F(PresenceRoutesTest, APresenceChangeWakesTheLongPollsOfRoomMates) {
  std::string room = CreateRoom(alice_, {{"preset", "public_chat"}});
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/join"), 200);
  Sync(alice_);  // both online now
  json::object start = Sync(bob_);
  std::thread changer([&] {
    // Change presence once bob's long-poll is parked (bounded wait), so it must wake.
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (engine_->notifier().pending() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    EXPECT_EQ(Put(alice_, kAliceId, json::object{{"presence", "unavailable"}}).status, 200);
  });
  auto begin = std::chrono::steady_clock::now();
  json::object woken = Sync(bob_, "since=" + std::string(start.at("next_batch").as_string()) +
                                      "&timeout=10000&set_presence=offline");
  auto elapsed = std::chrono::steady_clock::now() - begin;
  changer.join();
  EXPECT_LT(elapsed, std::chrono::milliseconds(5000));  // woken, not timed out
  auto changed = PresenceOf(woken);
  ASSERT_TRUE(changed.contains(kAliceId)) << json::serialize(woken.at("presence"));
  EXPECT_EQ(changed[kAliceId].at("presence"), "unavailable");
}

}  // namespace
}  // namespace nebu::api
