// The notification worker (engine/push/notification_worker.h) and the reads of
// notifications.h. Goal: every notifying event gives each joined member but the sender
// one record and counts, a mention highlights, read receipts (unthreaded, "main", a
// thread root) lower the counts, the result does not depend on how the stream was cut
// into units or on restarts, and a format change rebuilds the same data.
// Method: a real Engine on tmpfs; the worker driven by RunOnce (and by its thread in
// one test, waited for on its notifier with a bound); Cf::kNotifications compared
// byte for byte between runs.
#include "engine/push/notification_worker.h"

#include <gtest/gtest.h>
#include <rocksdb/write_batch.h>

#include <boost/json.hpp>
#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/engine.h"
#include "engine/push/notifications.h"
#include "engine/receipts/receipts.h"
#include "engine/testing/temp_dir.h"

namespace nebu::push {
namespace {

namespace json = boost::json;

const std::string kAlice = "@alice:localhost";
const std::string kBob = "@bob:localhost";
const std::string kCarol = "@carol:localhost";

class WorkerTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    auto opened = core::Engine::Open({.data_dir = dir_.path(), .server_name = "localhost"});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    engine_ = std::move(opened).value();
  }

  void MakeRoom(std::vector<std::string> joiners = {kBob, kCarol}) {
    rooms::CreateRoomRequest request;
    request.preset = "public_chat";
    auto created = engine_->CreateRoom(request, kAlice);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    room_id_ = created->room_id;
    for (const std::string& user : joiners) {
      core::SendEventRequest join{.room_id = room_id_, .sender = user, .type = "m.room.member",
                                  .state_key = user};
      join.content = json::object{{"membership", "join"}, {"displayname", user.substr(1, 3)}};
      ASSERT_TRUE(engine_->SendEvent(join).ok());
    }
    room_ = engine_->GetRoom(room_id_)->number;
  }

  std::string Send(const std::string& sender, json::object content) {
    core::SendEventRequest message{.room_id = room_id_, .sender = sender, .type = "m.room.message"};
    content.emplace("msgtype", "m.text");
    message.content = std::move(content);
    auto sent = engine_->SendEvent(message);
    EXPECT_TRUE(sent.ok()) << sent.status().ToString();
    return sent.ok() ? sent->event_id : "";
  }
  std::string Text(const std::string& sender, std::string body) {
    return Send(sender, json::object{{"body", std::move(body)}});
  }

  void Receipt(const std::string& user, const std::string& event_id, std::string thread = "",
               std::string type = "m.read") {
    receipts::ReceiptCommand c{.room_id = room_id_, .user_id = user, .type = std::move(type),
                               .event_id = event_id, .thread_id = std::move(thread), .ts = ++ts_};
    auto payload = receipts::EncodeReceiptCommand(c);
    ASSERT_TRUE(payload.ok());
    ASSERT_TRUE(engine_->Submit({core::CommandKind::kReceipt, *payload}).ok());
  }

  void Run(NotificationWorker& worker) {
    Status s = worker.RunOnce();
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(worker.cursor(), engine_->stream_position());
  }

  UnreadCounts Counts(const std::string& user) {
    auto c = RoomUnreadCounts(engine_->Read(), user, room_);
    EXPECT_TRUE(c.ok());
    return c.ok() ? *c : UnreadCounts{};
  }

  // Every key and value of Cf::kNotifications.
  std::map<std::string, std::string> Dump() {
    std::map<std::string, std::string> out;
    auto it = engine_->Read().NewIterator(storage::Cf::kNotifications);
    for (it->SeekToFirst(); it->Valid(); it->Next()) out[it->key().ToString()] = it->value().ToString();
    return out;
  }

  nebu::testing::TempDir dir_{nebu::testing::TempDir::kTmpfs};
  std::unique_ptr<core::Engine> engine_;
  std::string room_id_;
  storage::RoomNumber room_ = 0;
  int64_t ts_ = 1700000000000;
};

TEST_F(WorkerTest, MessagesNotifyEveryJoinedMemberButTheSenderAndMentionsHighlight) {
  MakeRoom();
  Text(kAlice, "hello");
  Send(kAlice, json::object{{"body", "hey bob"},
                            {"m.mentions", json::object{{"user_ids", json::array{kBob}}}}});
  NotificationWorker worker(*engine_);
  Run(worker);
  EXPECT_EQ(Counts(kBob), (UnreadCounts{2, 1}));
  EXPECT_EQ(Counts(kCarol), (UnreadCounts{2, 0}));
  EXPECT_EQ(Counts(kAlice), (UnreadCounts{0, 0}));
  std::vector<Notification> seen;
  ASSERT_TRUE(ForEachNotificationBefore(engine_->Read(), kBob, 0, 10, [&](const Notification& n) {
                seen.push_back(n);
                return true;
              }).ok());
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_TRUE(seen[0].highlight);  // newest first
  EXPECT_FALSE(seen[1].highlight);
  EXPECT_EQ(seen[0].room_id, room_id_);
  EXPECT_EQ(seen[0].thread_id, "main");
  std::vector<Notification> after;
  ASSERT_TRUE(ForEachNotification(engine_->Read(), kBob, seen[1].position, 10, [&](const Notification& n) {
                after.push_back(n);
                return true;
              }).ok());
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0], seen[0]);
  EXPECT_EQ(*UserUnreadCounts(engine_->Read(), kBob), (UnreadCounts{2, 1}));
}

TEST_F(WorkerTest, ReceiptsResetCountsPerThread) {
  MakeRoom();
  const std::string root = Text(kAlice, "root");
  const std::string m1 = Text(kAlice, "one");
  const std::string t1 = Send(kAlice, json::object{{"body", "in thread"},
      {"m.relates_to", json::object{{"rel_type", "m.thread"}, {"event_id", root}}}});
  const std::string m2 = Text(kAlice, "two");
  NotificationWorker worker(*engine_);
  Run(worker);
  EXPECT_EQ(Counts(kBob).notifications, 4u);
  auto threads = *ThreadUnreadCounts(engine_->Read(), kBob, room_);
  EXPECT_EQ(threads["main"].notifications, 3u);
  EXPECT_EQ(threads[root].notifications, 1u);
  Receipt(kBob, m1, "main");  // root and m1 read; the thread event stays
  Run(worker);
  EXPECT_EQ(Counts(kBob).notifications, 2u);
  Receipt(kBob, t1, root);
  Run(worker);
  threads = *ThreadUnreadCounts(engine_->Read(), kBob, room_);
  EXPECT_FALSE(threads.contains(root));
  EXPECT_EQ(threads["main"].notifications, 1u);
  EXPECT_TRUE(*IsNotificationUnread(engine_->Read(), kBob, room_,
                                    engine_->GetEvent(m2)->sequence));
  Receipt(kBob, m2, "", "m.read.private");  // unthreaded: everything up to m2
  Run(worker);
  EXPECT_EQ(Counts(kBob), (UnreadCounts{0, 0}));
  EXPECT_EQ(Counts(kCarol).notifications, 4u);  // carol read nothing
}

TEST_F(WorkerTest, SameRecordsWhateverTheUnitsRestartsAndRebuilds) {
  MakeRoom();
  std::vector<std::string> ids;
  {
    NotificationWorker step(*engine_);  // one unit per command
    for (int i = 0; i < 12; ++i) {
      ids.push_back(Text(i % 3 == 0 ? kBob : kAlice, "m" + std::to_string(i)));
      if (i == 5) Receipt(kCarol, ids[2]);
      if (i == 6) Receipt(kCarol, ids[4]);
      if (i == 9) Receipt(kBob, ids[8], "main");
      Run(step);
    }
  }
  const auto stepwise = Dump();
  // A worker that finds the whole stream at once (superseded receipts and all).
  rocksdb::WriteBatch wipe;
  wipe.Put(engine_->store().handle(storage::Cf::kNotifications), "v", std::string(8, '\x7f'));
  ASSERT_TRUE(engine_->store().Write(wipe, false).ok());
  NotificationWorker rebuild(*engine_);
  ASSERT_TRUE(rebuild.Start().ok());  // the version differs: wiped and rebuilt
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (rebuild.cursor() < engine_->stream_position() && std::chrono::steady_clock::now() < deadline) {
    rebuild.notifier().WaitBeyond(rebuild.cursor(), std::chrono::milliseconds(100));
  }
  rebuild.Stop();
  EXPECT_EQ(Dump(), stepwise);
  // Restart: the cursor is persisted with the data, nothing is counted twice.
  const auto before = Counts(kCarol);
  engine_.reset();
  Open();
  NotificationWorker again(*engine_);
  ASSERT_TRUE(again.Start().ok());
  EXPECT_EQ(again.cursor(), engine_->stream_position());
  Text(kAlice, "after restart");
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (again.cursor() < engine_->stream_position() && std::chrono::steady_clock::now() < until) {
    again.notifier().WaitBeyond(again.cursor(), std::chrono::milliseconds(100));
  }
  again.Stop();
  EXPECT_EQ(Counts(kCarol).notifications, before.notifications + 1);
}

TEST_F(WorkerTest, InvitesNotifyTheInviteeAndDMsUseTheRoomOfTwoRules) {
  MakeRoom({kBob});
  core::SendEventRequest invite{.room_id = room_id_, .sender = kAlice, .type = "m.room.member",
                                .state_key = kCarol};
  invite.content = json::object{{"membership", "invite"}};
  ASSERT_TRUE(engine_->SendEvent(invite).ok());
  Text(kAlice, "just us two");
  NotificationWorker worker(*engine_);
  Run(worker);
  std::vector<Notification> carol, bob;
  ASSERT_TRUE(ForEachNotification(engine_->Read(), kCarol, 0, 10, [&](const Notification& n) {
                carol.push_back(n);
                return true;
              }).ok());
  ASSERT_TRUE(ForEachNotification(engine_->Read(), kBob, 0, 10, [&](const Notification& n) {
                bob.push_back(n);
                return true;
              }).ok());
  ASSERT_EQ(carol.size(), 1u);  // the invite; carol is not joined, so not the message
  ASSERT_EQ(bob.size(), 1u);    // the message, in a room of two: with a sound
  EXPECT_NE(json::serialize(bob[0].actions).find("sound"), std::string::npos);
}

TEST_F(WorkerTest, KeepsAtMostTheNewestRecordsPerUser) {
  MakeRoom({kBob});
  NotificationWorker worker(*engine_);
  const size_t total = kNotificationsPerUserMax + 5;
  for (size_t i = 0; i < total; ++i) {
    Text(kAlice, "m");
    if (i == total / 2) Run(worker);
  }
  Run(worker);
  size_t records = 0;
  ASSERT_TRUE(ForEachNotification(engine_->Read(), kBob, 0, SIZE_MAX, [&](const Notification&) {
                ++records;
                return true;
              }).ok());
  EXPECT_EQ(records, kNotificationsPerUserMax);
  EXPECT_EQ(Counts(kBob).notifications, total);  // counts are not bounded by the history
}

}  // namespace
}  // namespace nebu::push
