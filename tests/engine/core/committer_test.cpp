// Goal: the one-node committer makes every proposal durable before it is applied,
// applies in one dense order, shares fsyncs between concurrent proposals, and after
// a restart re-applies exactly the committed commands the state machine missed.
// Method: a real RocksDB in a temp dir and a recording Applier that stores its
// applied index like the real state machine does.
#include "engine/core/committer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "engine/storage/keys.h"
#include "engine/testing/temp_dir.h"

namespace nebu::core {
namespace {

using storage::Cf;

class RecordingApplier : public Applier {
 public:
  explicit RecordingApplier(storage::Store& store) : store_(store) {
    auto v = store_.Get(Cf::kMeta, storage::kMetaAppliedIndex);
    if (v.ok() && *v) applied_ = storage::GetU64((*v)->data());
  }
  Status Apply(LogIndex index, const Command& command, ApplyOutcome* outcome) override {
    if (index == fail_at) return Status::IoError("injected failure");
    EXPECT_EQ(index, applied_.load() + 1);
    rocksdb::WriteBatch b;
    b.Put(store_.handle(Cf::kMeta), storage::kMetaAppliedIndex, storage::U64Key(index));
    NEBU_RETURN_IF_ERROR(store_.Write(b, false));
    {
      std::lock_guard lock(mu);
      applied_payloads.push_back(command.payload);
    }
    applied_ = index;
    *outcome = "applied:" + command.payload;
    return Status::Ok();
  }
  Status Flush() override { return Status::Ok(); }
  LogIndex applied_index() const override { return applied_.load(); }
  Status SyncApplied() override { return storage::FromRocks(store_.db()->SyncWAL()); }
  Result<bool> BeginGroup(const GroupOrigin&, uint32_t) override { return true; }
  GroupPosition applied_group() const override { return {}; }

  LogIndex fail_at = 0;
  std::mutex mu;
  std::vector<std::string> applied_payloads;

 private:
  storage::Store& store_;
  std::atomic<LogIndex> applied_{0};
};

Command Noop(std::string payload) { return Command{CommandKind::kNoop, std::move(payload)}; }

TEST(CommitterTest, ConcurrentProposalsAreAllAppliedOnceInADenseOrder) {
  testing::TempDir dir;
  auto store = storage::Store::Open({.path = dir.path()});
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  RecordingApplier applier(**store);
  LocalCommitter committer(**store, applier);
  std::atomic<uint64_t> observed_groups{0}, observed_commands{0};
  committer.SetGroupObserver([&](size_t commands) {
    ++observed_groups;
    observed_commands += commands;
  });
  ASSERT_TRUE(committer.Start().ok());

  constexpr int kThreads = 16, kEach = 200;
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        std::string p = std::to_string(t) + "/" + std::to_string(i);
        auto out = ProposeAndWait(committer, Noop(p));
        if (out.ok() && *out == "applied:" + p) ++ok;
      }
    });
  }
  for (auto& th : threads) th.join();
  committer.Stop();
  EXPECT_EQ(ok.load(), kThreads * kEach);
  EXPECT_EQ(applier.applied_index(), LogIndex{kThreads * kEach});
  EXPECT_EQ(applier.applied_payloads.size(), size_t{kThreads * kEach});
  // Concurrent proposals share commit batches (one fsync each).
  EXPECT_LT(committer.commit_groups(), uint64_t{kThreads * kEach});
  // The observer (/metrics' nebu_commit_group_size) saw each group once, whole.
  EXPECT_EQ(observed_groups.load(), committer.commit_groups());
  EXPECT_EQ(observed_commands.load(), uint64_t{kThreads * kEach});
}

TEST(CommitterTest, RestartReappliesCommittedButUnappliedCommands) {
  testing::TempDir dir;
  {
    auto store = storage::Store::Open({.path = dir.path()});
    ASSERT_TRUE(store.ok());
    rocksdb::WriteBatch b;
    for (LogIndex i = 1; i <= 5; ++i) {
      b.Put((*store)->handle(Cf::kCommitLog), storage::U64Key(i),
            EncodeCommand(Noop("c" + std::to_string(i))));
    }
    b.Put((*store)->handle(Cf::kMeta), storage::kMetaAppliedIndex, storage::U64Key(2));
    ASSERT_TRUE((*store)->Write(b, true).ok());
  }
  auto store = storage::Store::Open({.path = dir.path()});
  ASSERT_TRUE(store.ok());
  RecordingApplier applier(**store);
  LocalCommitter committer(**store, applier);
  ASSERT_TRUE(committer.Start().ok());
  EXPECT_EQ(applier.applied_payloads, (std::vector<std::string>{"c3", "c4", "c5"}));
  auto out = ProposeAndWait(committer, Noop("next"));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(applier.applied_index(), 6u);
}

TEST(CommitterTest, ACommitLogGapIsReportedAsCorruption) {
  testing::TempDir dir;
  auto store = storage::Store::Open({.path = dir.path()});
  ASSERT_TRUE(store.ok());
  rocksdb::WriteBatch b;
  b.Put((*store)->handle(Cf::kCommitLog), storage::U64Key(1), EncodeCommand(Noop("a")));
  b.Put((*store)->handle(Cf::kCommitLog), storage::U64Key(3), EncodeCommand(Noop("c")));
  ASSERT_TRUE((*store)->Write(b, true).ok());
  RecordingApplier applier(**store);
  LocalCommitter committer(**store, applier);
  EXPECT_EQ(committer.Start().code(), StatusCode::kCorruption);
}

TEST(CommitterTest, AnApplyFailureHaltsTheWritePathAndRestartRecovers) {
  testing::TempDir dir;
  {
    auto store = storage::Store::Open({.path = dir.path()});
    ASSERT_TRUE(store.ok());
    RecordingApplier applier(**store);
    applier.fail_at = 2;
    LocalCommitter committer(**store, applier);
    ASSERT_TRUE(committer.Start().ok());
    EXPECT_TRUE(ProposeAndWait(committer, Noop("one")).ok());
    EXPECT_EQ(ProposeAndWait(committer, Noop("two")).status().code(), StatusCode::kUnavailable);
    EXPECT_EQ(ProposeAndWait(committer, Noop("three")).status().code(),
              StatusCode::kUnavailable);
  }
  auto store = storage::Store::Open({.path = dir.path()});
  ASSERT_TRUE(store.ok());
  RecordingApplier applier(**store);
  LocalCommitter committer(**store, applier);
  ASSERT_TRUE(committer.Start().ok());
  // "two" was committed before its apply failed, so it is applied now.
  EXPECT_EQ(applier.applied_payloads, (std::vector<std::string>{"two"}));
}

TEST(CommitterTest, ProposalsAfterStopAreUnavailable) {
  testing::TempDir dir;
  auto store = storage::Store::Open({.path = dir.path()});
  ASSERT_TRUE(store.ok());
  RecordingApplier applier(**store);
  LocalCommitter committer(**store, applier);
  ASSERT_TRUE(committer.Start().ok());
  committer.Stop();
  EXPECT_EQ(ProposeAndWait(committer, Noop("late")).status().code(), StatusCode::kUnavailable);
}

TEST(CommitterTest, AppliedEntriesAreTrimmedFromTheCommitLog) {
  testing::TempDir dir;
  auto store = storage::Store::Open({.path = dir.path()});
  ASSERT_TRUE(store.ok());
  RecordingApplier applier(**store);
  LocalCommitter committer(**store, applier, {.trim_every_entries = 4});
  ASSERT_TRUE(committer.Start().ok());
  for (int i = 0; i < 20; ++i) ASSERT_TRUE(ProposeAndWait(committer, Noop("x")).ok());
  committer.Stop();
  size_t left = 0;
  auto it = (*store)->NewIterator(Cf::kCommitLog);
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++left;
  EXPECT_LT(left, 20u);
}

TEST(CommandTest, DecodeRejectsUnknownKindsAndEmptyInput) {
  EXPECT_EQ(DecodeCommand("").status().code(), StatusCode::kCorruption);
  EXPECT_EQ(DecodeCommand(std::string(1, '\x7f')).status().code(), StatusCode::kCorruption);
  auto c = DecodeCommand(EncodeCommand(Command{CommandKind::kAccount, "{}"}));
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->kind, CommandKind::kAccount);
  EXPECT_EQ(c->payload, "{}");
}

}  // namespace
}  // namespace nebu::core
