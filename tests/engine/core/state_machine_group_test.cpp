// Goal: replicated groups are applied exactly once and resumable: a group whose
// (node, incarnation, seq) was applied is skipped and changes nothing, seqs of one
// incarnation may land out of order (and with permanent gaps) without losing or
// repeating a group, and after a crash mid-group the stored group position and
// applied index say exactly which commands of which group remain.
// Method: GroupSeqs alone (pure), then a real StateMachine over a RocksDB in a temp
// dir driven the way the replicated committer drives it (BeginGroup, Apply, Flush);
// state compared with StateDigest.
#include <gtest/gtest.h>

#include "engine/accounts/commands.h"
#include "engine/core/group_dedup.h"
#include "engine/core/state_digest.h"
#include "engine/core/state_machine.h"
#include "engine/rooms/room_creation.h"
#include "engine/storage/keys.h"
#include "engine/testing/temp_dir.h"
#include "tests/engine/core/core_testing.h"

namespace nebu::core {
namespace {

TEST(GroupSeqsTest, OutOfOrderSeqsCloseIntoTheWatermark) {
  GroupSeqs seen;
  seen.Insert(1, 10);
  seen.Insert(3, 11);
  seen.Insert(4, 12);
  EXPECT_EQ(seen.watermark(), 1u);
  EXPECT_EQ(seen.above(), (std::vector<uint64_t>{3, 4}));
  EXPECT_FALSE(seen.Contains(2));
  EXPECT_TRUE(seen.Contains(3));
  seen.Insert(2, 13);
  EXPECT_EQ(seen.watermark(), 4u);
  EXPECT_TRUE(seen.above().empty());
  EXPECT_EQ(seen.revision(), 13u);
  auto decoded = GroupSeqs::Decode(seen.Encode());
  ASSERT_TRUE(decoded.ok());
  EXPECT_EQ(decoded->Encode(), seen.Encode());
}

TEST(GroupSeqsTest, AGapOlderThanTheWindowCountsAsApplied) {
  GroupSeqs seen;
  seen.Insert(2, 1);  // seq 1 never lands (its Put failed for good)
  for (uint64_t seq = 3; seq <= kGroupSeqWindow; ++seq) seen.Insert(seq, seq);
  EXPECT_EQ(seen.watermark(), 0u);
  EXPECT_EQ(seen.above().size(), kGroupSeqWindow - 1);
  EXPECT_FALSE(seen.Contains(1));
  seen.Insert(kGroupSeqWindow + 1, 5000);  // seq 1 falls out of the window
  EXPECT_EQ(seen.watermark(), kGroupSeqWindow + 1);
  EXPECT_TRUE(seen.above().empty());
  EXPECT_TRUE(seen.Contains(1));
  EXPECT_LE(seen.Encode().size(), 20 + 8 * kGroupSeqWindow);
}

TEST(GroupSeqsTest, MalformedRecordsAreCorruption) {
  EXPECT_EQ(GroupSeqs::Decode("short").status().code(), StatusCode::kCorruption);
  GroupSeqs seen;
  seen.Insert(3, 1);
  std::string bytes = seen.Encode();
  bytes.push_back('x');
  EXPECT_EQ(GroupSeqs::Decode(bytes).status().code(), StatusCode::kCorruption);
}

class StateMachineGroupTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    sm_.reset();
    store_.reset();
    auto store = storage::Store::Open({.path = dir_.path() + "/db"});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    notifier_ = std::make_unique<Notifier>();
    sm_ = std::make_unique<StateMachine>(*store_, *notifier_);
    ASSERT_TRUE(sm_->Load().ok());
    next_ = sm_->applied_index() + 1;
  }

  static Command CreateRoom(const std::string& room_id) {
    rooms::CreateRoomRequest request;
    request.preset = "public_chat";
    auto drafts = rooms::PlanRoomCreation(request, kAlice);
    EXPECT_TRUE(drafts.ok());
    CreateRoomCommand c{.room_id = room_id, .origin_server_ts = 1000, .events = *drafts};
    return *MakeCreateRoomCommand(c);
  }
  static Command Message(const std::string& room_id, const std::string& body) {
    SendEventRequest r{.room_id = room_id, .sender = kAlice, .type = "m.room.message",
                       .content = {{"msgtype", "m.text"}, {"body", body}},
                       .origin_server_ts = 2000};
    return *MakeSendEventCommand(r);
  }
  static Command Register(const std::string& user_id) {
    accounts::RegisterCommand r{.user_id = user_id, .created_ts = 3000};
    return Command{CommandKind::kAccount, *accounts::EncodeAccountCommand(r)};
  }

  // Applies a group the way the replicated committer does; false if it was skipped.
  bool ApplyGroup(const GroupOrigin& origin, const std::vector<Command>& commands) {
    auto begun = sm_->BeginGroup(origin, static_cast<uint32_t>(commands.size()));
    EXPECT_TRUE(begun.ok()) << begun.status().ToString();
    if (!begun.ok() || !*begun) return false;
    for (const Command& c : commands) ApplyOne(c);
    EXPECT_TRUE(sm_->Flush().ok());
    return true;
  }
  void ApplyOne(const Command& c) {
    ApplyOutcome outcome = Status::Internal("unset");
    ASSERT_TRUE(sm_->Apply(next_++, c, &outcome).ok());
  }
  std::string Digest() { return *StateDigest(*store_); }

  testing::TempDir dir_{testing::TempDir::kTmpfs};
  std::unique_ptr<storage::Store> store_;
  std::unique_ptr<Notifier> notifier_;
  std::unique_ptr<StateMachine> sm_;
  LogIndex next_ = 1;  // the index of the next command to apply
};

TEST_F(StateMachineGroupTest, ADuplicateGroupIsSkippedAndChangesNothing) {
  const GroupOrigin first{.node_id = "n1", .incarnation = 7, .seq = 1, .revision = 5};
  ASSERT_TRUE(ApplyGroup(first, {CreateRoom("!a:localhost"), Message("!a:localhost", "1")}));
  EXPECT_EQ(sm_->applied_index(), 2u);
  const GroupPosition position = sm_->applied_group();
  EXPECT_EQ(position.revision, 5u);
  EXPECT_EQ(position.first_index, 1u);
  EXPECT_EQ(position.count, 2u);
  const std::string before = Digest();
  // The retried Put landed again, at a later revision.
  GroupOrigin again = first;
  again.revision = 9;
  EXPECT_FALSE(*sm_->BeginGroup(again, 2));
  EXPECT_TRUE(sm_->Flush().ok());
  EXPECT_EQ(Digest(), before);
  EXPECT_EQ(sm_->applied_group().revision, 5u);
  // A revision at or before the applied group's was applied (or skipped) before.
  GroupOrigin old{.node_id = "n2", .incarnation = 1, .seq = 1, .revision = 5};
  EXPECT_FALSE(*sm_->BeginGroup(old, 1));
  // Still skipped after a restart: the dedup record is durable.
  Open();
  EXPECT_FALSE(*sm_->BeginGroup(again, 2));
  EXPECT_EQ(sm_->applied_group().revision, 5u);
  EXPECT_EQ(Digest(), before);
}

TEST_F(StateMachineGroupTest, OutOfOrderSeqsOfOneIncarnationAreEachAppliedOnce) {
  auto origin = [](uint64_t seq, uint64_t revision) {
    return GroupOrigin{.node_id = "n1", .incarnation = 3, .seq = seq, .revision = revision};
  };
  ASSERT_TRUE(ApplyGroup(origin(1, 10), {CreateRoom("!a:localhost")}));
  ASSERT_TRUE(ApplyGroup(origin(3, 11), {Message("!a:localhost", "3")}));
  ASSERT_TRUE(ApplyGroup(origin(2, 12), {Message("!a:localhost", "2")}));
  Open();
  EXPECT_FALSE(*sm_->BeginGroup(origin(3, 13), 1));
  EXPECT_FALSE(*sm_->BeginGroup(origin(2, 14), 1));
  EXPECT_FALSE(*sm_->BeginGroup(origin(1, 15), 1));
  // Another incarnation of the same node starts again at seq 1.
  ASSERT_TRUE(ApplyGroup({.node_id = "n1", .incarnation = 4, .seq = 1, .revision = 16},
                         {Message("!a:localhost", "4")}));
  EXPECT_EQ(sm_->applied_index(), 4u);
  EXPECT_EQ(sm_->applied_group().revision, 16u);
}

TEST_F(StateMachineGroupTest, OnlyTheNewestIncarnationsOfANodeAreKept) {
  for (uint64_t inc = 1; inc <= kGroupIncarnationsPerNodeMax + 1; ++inc) {
    ASSERT_TRUE(ApplyGroup({.node_id = "n1", .incarnation = inc, .seq = 1, .revision = inc}, {}));
  }
  size_t records = 0;
  ASSERT_TRUE(DumpState(*store_, [&](storage::Cf cf, std::string_view key, std::string_view) {
                if (cf == storage::Cf::kMeta && key.starts_with(storage::kMetaGroupSeenPrefix)) {
                  ++records;
                  EXPECT_NE(storage::DecodeGroupSeenKey(key)->second, 1u);  // the oldest
                }
              }).ok());
  EXPECT_EQ(records, kGroupIncarnationsPerNodeMax);
}

TEST_F(StateMachineGroupTest, ACrashMidGroupResumesExactlyWhereTheFlushesStopped) {
  ASSERT_TRUE(ApplyGroup({.node_id = "n1", .incarnation = 1, .seq = 1, .revision = 3},
                         {CreateRoom("!a:localhost")}));
  // Group 2: a message (staged), a registration (flushes what is staged, then
  // itself), then a message that is staged but never flushed: the crash.
  const std::vector<Command> group = {Message("!a:localhost", "m1"), Register("@bob:localhost"),
                                      Message("!a:localhost", "m2")};
  const GroupOrigin origin{.node_id = "n1", .incarnation = 1, .seq = 2, .revision = 8};
  ASSERT_TRUE(*sm_->BeginGroup(origin, 3));
  ApplyOne(group[0]);
  ApplyOne(group[1]);  // flushes the message, then the registration
  EXPECT_EQ(sm_->applied_index(), 3u);
  ApplyOne(group[2]);  // staged only
  Open();              // crash: the staged message is lost
  const GroupPosition position = sm_->applied_group();
  EXPECT_EQ(position.revision, 8u);
  EXPECT_EQ(position.first_index, 2u);
  EXPECT_EQ(position.count, 3u);
  EXPECT_EQ(sm_->applied_index(), 3u);
  EXPECT_FALSE(position.complete(sm_->applied_index()));
  // Beginning another group before finishing this one is a committer bug.
  EXPECT_EQ(sm_->BeginGroup({.node_id = "n2", .incarnation = 1, .seq = 1, .revision = 9}, 1)
                .status()
                .code(),
            StatusCode::kInternal);
  // The committer resumes with the rest of the group, without BeginGroup.
  const LogIndex next = sm_->applied_index() + 1;
  ASSERT_EQ(next - position.first_index, 2u);
  ApplyOne(group[2]);
  ASSERT_TRUE(sm_->Flush().ok());
  EXPECT_TRUE(sm_->applied_group().complete(sm_->applied_index()));
  const std::string resumed = Digest();

  // The same history without a crash writes the same bytes.
  testing::TempDir other(testing::TempDir::kTmpfs);
  auto store = storage::Store::Open({.path = other.path() + "/db"});
  Notifier notifier;
  StateMachine sm(**store, notifier);
  ASSERT_TRUE(sm.Load().ok());
  LogIndex index = 0;
  auto apply_group = [&](const GroupOrigin& o, const std::vector<Command>& commands) {
    ASSERT_TRUE(*sm.BeginGroup(o, static_cast<uint32_t>(commands.size())));
    for (const Command& c : commands) {
      ApplyOutcome outcome = Status::Internal("unset");
      ASSERT_TRUE(sm.Apply(++index, c, &outcome).ok());
    }
    ASSERT_TRUE(sm.Flush().ok());
  };
  apply_group({.node_id = "n1", .incarnation = 1, .seq = 1, .revision = 3},
              {CreateRoom("!a:localhost")});
  apply_group(origin, group);
  EXPECT_EQ(*StateDigest(**store), resumed) << *DiffStates(**store, *store_, 20);
}

TEST_F(StateMachineGroupTest, BadOriginsAreRefused) {
  EXPECT_EQ(sm_->BeginGroup({.node_id = "", .seq = 1, .revision = 1}, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(sm_->BeginGroup({.node_id = "n", .seq = 0, .revision = 1}, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(sm_->BeginGroup({.node_id = "n", .seq = 1, .revision = 0}, 0).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(sm_->BeginGroup({.node_id = std::string(kGroupNodeIdBytesMax + 1, 'n'), .seq = 1,
                             .revision = 1},
                            0)
                .status()
                .code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(sm_->applied_group().revision, 0u);
}

}  // namespace
}  // namespace nebu::core
