// Unread counts in /sync and GET /notifications, as a client meets them: over real HTTP
// on loopback against a real engine with the notification worker running on its own
// thread. Goal: counts and highlights appear for the recipients, read receipts reset
// them (per thread with the filter), a count change wakes a parked /sync, what /sync
// serves is consistent with its next_batch, and /notifications pages and filters.
// Method: rooms_testing.h; waits are on conditions (the worker's notifier), bounded.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include "api/accounts/account_routes.h"
#include "api/push/notifications_routes.h"
#include "api/receipts/receipt_routes.h"
#include "api/sync/sync.h"
#include "api/sync/sync_routes.h"
#include "api/sync/typing.h"
#include "engine/push/notification_worker.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

using Pair = std::pair<int64_t, int64_t>;

class PushApiTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    worker_ = std::make_unique<push::NotificationWorker>(*engine_);
    ASSERT_TRUE(worker_->Start().ok());
    AddSyncRoutes(router_, *engine_, &Typing(), nullptr, nullptr, worker_.get());
    AddReceiptRoutes(router_, *engine_, Typing());
    AddNotificationRoutes(router_, *engine_, worker_.get());
    alice_ = Register("alice");
    bob_ = Register("bob");
    room_ = CreateRoom(alice_, json::object{{"preset", "public_chat"}});
    EXPECT_EQ(Post(bob_, "/join/" + room_), 200);
  }
  void TearDown() override {
    {
      std::lock_guard lock(server_mutex_);
      server_.reset();  // answers parked syncs: nothing waits on the worker any more
    }
    worker_->Stop();
  }

  // Waits (bounded, 10 s) until the worker processed everything applied so far.
  void WaitForWorker() {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (worker_->cursor() < engine_->stream_position() &&
           std::chrono::steady_clock::now() < deadline) {
      worker_->notifier().WaitBeyond(worker_->cursor(), std::chrono::milliseconds(100));
    }
    ASSERT_GE(worker_->cursor(), engine_->stream_position());
  }

  json::object Sync(const std::string& token, const std::string& query = "") {
    Response r = Call("GET", "/sync" + (query.empty() ? "" : "?" + query), token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? Body(r).as_object() : json::object{};
  }
  static const json::object* Room(const json::object& body, const std::string& room) {
    const json::object& join = body.at("rooms").at("join").as_object();
    return join.contains(room) ? &join.at(room).as_object() : nullptr;
  }
  static std::pair<int64_t, int64_t> Counts(const json::object& room) {
    const json::object& u = room.at("unread_notifications").as_object();
    if (!u.contains("notification_count")) return {-1, -1};
    return {u.at("notification_count").as_int64(), u.at("highlight_count").as_int64()};
  }
  std::string Mention(const std::string& text) {
    Response r = Call("PUT", "/rooms/" + room_ + "/send/m.room.message/m" + std::to_string(++txn_), alice_,
                      json::object{{"msgtype", "m.text"}, {"body", text},
                                   {"m.mentions", json::object{{"user_ids", json::array{"@bob:localhost"}}}}});
    EXPECT_EQ(r.status, 200) << r.body;
    return std::string(Body(r).at("event_id").as_string());
  }
  std::string InThread(const std::string& root, const std::string& text) {
    Response r = Call("PUT", "/rooms/" + room_ + "/send/m.room.message/h" + std::to_string(++txn_), alice_,
                      json::object{{"msgtype", "m.text"}, {"body", text},
                                   {"m.relates_to", json::object{{"rel_type", "m.thread"}, {"event_id", root}}}});
    EXPECT_EQ(r.status, 200) << r.body;
    return std::string(Body(r).at("event_id").as_string());
  }
  int Receipt(const std::string& event_id, const std::string& thread = "") {
    json::object body;
    if (!thread.empty()) body["thread_id"] = thread;
    return Post(bob_, "/rooms/" + room_ + "/receipt/m.read/" + event_id, body);
  }

  // One tracker for the whole binary: it must outlive every fixture's router.
  static TypingTracker& Typing() {
    static TypingTracker tracker;
    return tracker;
  }
  std::unique_ptr<push::NotificationWorker> worker_;
  std::string alice_, bob_, room_;
};

TEST_F(PushApiTest, SyncCountsMessagesAndHighlightsMentionsUntilAReceipt) {
  Send(alice_, room_, "hello");
  const std::string mention = Mention("hey bob");
  WaitForWorker();
  const json::object first = Sync(bob_);
  ASSERT_NE(Room(first, room_), nullptr);
  EXPECT_EQ(Counts(*Room(first, room_)), Pair(2, 1));
  const json::object own = Sync(alice_);
  EXPECT_EQ(Counts(*Room(own, room_)), Pair(0, 0));
  ASSERT_EQ(Receipt(mention), 200);
  WaitForWorker();
  const json::object after = Sync(bob_, "since=" + std::string(first.at("next_batch").as_string()));
  ASSERT_NE(Room(after, room_), nullptr);  // the receipt brings the room, with its counts
  EXPECT_EQ(Counts(*Room(after, room_)), Pair(0, 0));
}

TEST_F(PushApiTest, ServedCountsNeverPassTheServedTimelineAndCatchUp) {
  // Whenever /sync answers, bob's count is at most alice's messages it served (bob read
  // nothing; the counts are the worker's, which may lag the timeline); once the worker
  // caught up they are equal.
  const std::string filter = R"(filter={"room":{"timeline":{"limit":100}}})";
  for (int i = 0; i < 20; ++i) {
    Send(alice_, room_, "m" + std::to_string(i));
    const json::object body = Sync(bob_, filter);
    const json::object* room = Room(body, room_);
    ASSERT_NE(room, nullptr);
    int64_t served = 0;
    for (const json::value& e : room->at("timeline").at("events").as_array()) {
      if (e.at("type").as_string() == "m.room.message") ++served;
    }
    EXPECT_LE(Counts(*room).first, served) << "after message " << i;
  }
  WaitForWorker();
  EXPECT_EQ(Counts(*Room(Sync(bob_, filter), room_)).first, 20);
}

TEST_F(PushApiTest, ACountChangeReachesAParkedSync) {
  // The long-poll wakes for the message; the count follows when the worker has it,
  // at the latest on the next long-poll (bounded: 10 s).
  WaitForWorker();
  std::string since(Sync(bob_).at("next_batch").as_string());
  auto parked = std::async(std::launch::async, [&] { return Sync(bob_, "timeout=10000&since=" + since); });
  Mention("wake up");
  ASSERT_EQ(parked.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  json::object woke = parked.get();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((Room(woke, room_) == nullptr || Counts(*Room(woke, room_)) != Pair(1, 1)) &&
         std::chrono::steady_clock::now() < deadline) {
    since = std::string(woke.at("next_batch").as_string());
    woke = Sync(bob_, "timeout=10000&since=" + since);
  }
  ASSERT_NE(Room(woke, room_), nullptr);
  EXPECT_EQ(Counts(*Room(woke, room_)), Pair(1, 1));
}

TEST_F(PushApiTest, MessagesDoNotWaitForTheWorkerAndTheCountFollowsWithoutANewEvent) {
  WaitForWorker();
  const std::string since(Sync(bob_).at("next_batch").as_string());
  const storage::StreamPosition cursor = worker_->cursor();
  worker_->Hold(true);  // the worker lags from here: the next message is not counted
  const std::string mention = Mention("while the worker is held");
  const json::object served = Sync(bob_, "timeout=10000&since=" + since);
  const json::object* room = Room(served, room_);
  ASSERT_NE(room, nullptr) << "the message waited for the worker";
  const json::array& events = room->at("timeline").at("events").as_array();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].at("event_id").as_string(), mention);
  EXPECT_EQ(Counts(*room), Pair(0, 0));  // the counts of the worker's cursor
  const std::string next(served.at("next_batch").as_string());
  const std::optional<SyncToken> token = ParseSyncToken(next);
  ASSERT_TRUE(token.has_value());
  EXPECT_EQ(token->push, std::optional<storage::StreamPosition>(cursor)) << next;
  EXPECT_GT(token->position, cursor);

  // Parked with a lagging token: it waits on the worker too, and wakes with the count
  // when the worker resumes, though no new event arrives.
  const size_t pending_before = worker_->notifier().pending();
  auto parked = std::async(std::launch::async, [&] { return Sync(bob_, "timeout=10000&since=" + next); });
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (worker_->notifier().pending() == pending_before &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_GT(worker_->notifier().pending(), pending_before) << "the long-poll never waited on the worker";
  EXPECT_EQ(parked.wait_for(std::chrono::milliseconds(0)), std::future_status::timeout);
  worker_->Hold(false);
  ASSERT_EQ(parked.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  const json::object woke = parked.get();
  room = Room(woke, room_);
  ASSERT_NE(room, nullptr) << "the count change was not delivered";
  EXPECT_TRUE(room->at("timeline").at("events").as_array().empty());
  EXPECT_EQ(Counts(*room), Pair(1, 1));
  // The counts are current now: the token carries no push cursor, and nothing repeats.
  const std::string last(woke.at("next_batch").as_string());
  EXPECT_FALSE(ParseSyncToken(last)->push.has_value()) << last;
  EXPECT_EQ(Room(Sync(bob_, "since=" + last), room_), nullptr);
}

TEST_F(PushApiTest, TokensWithoutAPushCursorStillWork) {
  WaitForWorker();
  const std::optional<SyncToken> token =
      ParseSyncToken(std::string(Sync(bob_).at("next_batch").as_string()));
  ASSERT_TRUE(token.has_value());
  Mention("after the old token");
  WaitForWorker();
  const std::string position = std::to_string(token->position);
  for (const std::string& old : {"s" + position, "s" + position + "_0", "s" + position + "_0_0"}) {
    const json::object body = Sync(bob_, "since=" + old);
    const json::object* room = Room(body, room_);
    ASSERT_NE(room, nullptr) << old;
    EXPECT_EQ(room->at("timeline").at("events").as_array().size(), 1u) << old;
    EXPECT_EQ(Counts(*room), Pair(1, 1)) << old;
  }
}

TEST_F(PushApiTest, ThreadCountsWithTheFilterAndThreadedReceipts) {
  const std::string root = Send(alice_, room_, "root");
  InThread(root, "reply 1");
  const std::string reply2 = InThread(root, "reply 2");
  WaitForWorker();
  const std::string filter = R"(filter={"room":{"timeline":{"unread_thread_notifications":true}}})";
  json::object body = Sync(bob_, filter);
  const json::object* room = Room(body, room_);
  ASSERT_NE(room, nullptr);
  EXPECT_EQ(Counts(*room), Pair(1, 0));  // main timeline only
  const json::object& threads = room->at("unread_thread_notifications").as_object();
  ASSERT_TRUE(threads.contains(root));
  EXPECT_EQ(threads.at(root).at("notification_count").as_int64(), 2);
  EXPECT_EQ(Counts(*Room(Sync(bob_), room_)), Pair(3, 0));  // all
  ASSERT_EQ(Receipt(reply2, root), 200);
  WaitForWorker();
  body = Sync(bob_, filter);
  room = Room(body, room_);
  EXPECT_FALSE(room->at("unread_thread_notifications").as_object().contains(root));
  EXPECT_EQ(Counts(*room), Pair(1, 0));
  EXPECT_EQ(Call("GET", "/sync?filter=" + std::string(R"({"room":{"timeline":{"unread_thread_notifications":1}}})"),
                 bob_).status, 400);
}

TEST_F(PushApiTest, NotificationsListPagesFiltersAndMarksRead) {
  const std::string plain = Send(alice_, room_, "plain");
  const std::string mention = Mention("hi bob");
  Send(alice_, room_, "later");
  WaitForWorker();
  Response all = Call("GET", "/notifications", bob_);
  ASSERT_EQ(all.status, 200) << all.body;
  const json::value all_body = Body(all);
  const json::array& list = all_body.at("notifications").as_array();
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[1].at("event").at("event_id").as_string(), mention);  // newest first
  EXPECT_EQ(list[1].at("room_id").as_string(), room_);
  EXPECT_FALSE(list[1].at("read").as_bool());
  EXPECT_TRUE(list[1].at("actions").is_array());
  EXPECT_TRUE(list[1].at("ts").is_int64());

  Response highlights = Call("GET", "/notifications?only=highlight", bob_);
  const json::value h_body = Body(highlights);
  const json::array& h = h_body.at("notifications").as_array();
  ASSERT_EQ(h.size(), 1u);
  EXPECT_EQ(h[0].at("event").at("event_id").as_string(), mention);

  Response page1 = Call("GET", "/notifications?limit=2", bob_);
  const json::object p1 = Body(page1).as_object();
  ASSERT_EQ(p1.at("notifications").as_array().size(), 2u);
  ASSERT_TRUE(p1.contains("next_token"));
  Response page2 = Call("GET", "/notifications?limit=2&from=" + std::string(p1.at("next_token").as_string()), bob_);
  const json::object p2 = Body(page2).as_object();
  ASSERT_EQ(p2.at("notifications").as_array().size(), 1u);
  EXPECT_EQ(p2.at("notifications").at(0).at("event").at("event_id").as_string(), plain);
  EXPECT_FALSE(p2.contains("next_token"));

  ASSERT_EQ(Receipt(mention), 200);
  WaitForWorker();
  const json::array after = Body(Call("GET", "/notifications", bob_)).at("notifications").as_array();
  EXPECT_FALSE(after[0].at("read").as_bool());  // "later" is after the receipt
  EXPECT_TRUE(after[1].at("read").as_bool());
  EXPECT_TRUE(after[2].at("read").as_bool());

  EXPECT_TRUE(Body(Call("GET", "/notifications", alice_)).at("notifications").as_array().empty());
  EXPECT_EQ(Call("GET", "/notifications?from=abc", bob_).status, 400);
  EXPECT_EQ(ErrCode(Call("GET", "/notifications?limit=-1", bob_)), "M_INVALID_PARAM");
  EXPECT_EQ(Call("GET", "/notifications", "").status, 401);
  EXPECT_EQ(Call("GET", "/_matrix/client/r0/notifications", bob_).status, 200);
}

}  // namespace
}  // namespace nebu::api
