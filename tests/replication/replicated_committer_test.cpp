// Goal: the cluster's committer answers a proposer only after its own node applied
// the group; fails writes within its bound while the log is down and recovers by
// itself; applies a group that landed twice once; resumes a group a crash left
// partly applied with exactly its remaining commands; stops writes on a corrupt
// record or when the log was trimmed past it.
// Method: FakeOrderedLog (tests/replication) and an in-memory Applier that keeps a
// "durable" part (what Flush wrote) and a staged part (lost by Crash()), as the
// StateMachine does with its RocksDB batch.
#include "replication/replicated_committer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <future>
#include <mutex>
#include <set>
#include <tuple>

#include "tests/replication/fake_ordered_log.h"

namespace nebu::replication {
namespace {

using core::ApplyOutcome;
using core::Command;
using core::CommandKind;
using core::GroupOrigin;
using core::GroupPosition;
using core::LogIndex;
using testing::FakeOrderedLog;

class MemoryApplier : public core::Applier {
 public:
  Status Apply(LogIndex index, const Command& command, ApplyOutcome* outcome) override {
    std::lock_guard lock(mu_);
    if (index == fail_at) return Status::IoError("injected failure");
    EXPECT_EQ(index, staged_index_ + 1);
    staged_.emplace_back(index, command.payload);
    staged_index_ = index;
    *outcome = "applied:" + command.payload;
    // Account commands are flushed alone, as StateMachine does.
    if (command.kind == CommandKind::kAccount) return FlushLocked();
    return Status::Ok();
  }
  Status Flush() override {
    std::lock_guard lock(mu_);
    return FlushLocked();
  }
  LogIndex applied_index() const override {
    std::lock_guard lock(mu_);
    return applied_index_;
  }
  Status SyncApplied() override { return Status::Ok(); }
  Result<bool> BeginGroup(const GroupOrigin& origin, uint32_t count) override {
    std::lock_guard lock(mu_);
    auto id = std::make_tuple(origin.node_id, origin.incarnation, origin.seq);
    if (seen_.count(id) || staged_seen_.count(id)) return false;
    staged_seen_.insert(id);
    staged_group_ = GroupPosition{origin.revision, staged_index_ + 1, count};
    return true;
  }
  GroupPosition applied_group() const override {
    std::lock_guard lock(mu_);
    return group_;
  }
  // What a process crash does: everything not flushed is gone.
  void Crash() {
    std::lock_guard lock(mu_);
    staged_.clear();
    staged_seen_.clear();
    staged_index_ = applied_index_;
    staged_group_ = group_;
    fail_at = 0;
  }
  std::vector<std::pair<LogIndex, std::string>> applied() const {
    std::lock_guard lock(mu_);
    return applied_;
  }

  LogIndex fail_at = 0;  // set before Start

 private:
  Status FlushLocked() {
    applied_.insert(applied_.end(), staged_.begin(), staged_.end());
    staged_.clear();
    seen_.insert(staged_seen_.begin(), staged_seen_.end());
    staged_seen_.clear();
    applied_index_ = staged_index_;
    group_ = staged_group_;
    return Status::Ok();
  }

  mutable std::mutex mu_;
  std::vector<std::pair<LogIndex, std::string>> applied_, staged_;
  std::set<std::tuple<std::string, uint64_t, uint64_t>> seen_, staged_seen_;
  LogIndex applied_index_ = 0, staged_index_ = 0;
  GroupPosition group_, staged_group_;
};

Command Noop(std::string payload) { return Command{CommandKind::kNoop, std::move(payload)}; }

ReplicatedCommitterOptions Options(std::string node, uint64_t incarnation) {
  ReplicatedCommitterOptions o;
  o.node_id = std::move(node);
  o.incarnation = incarnation;
  o.write_timeout_ms = 400;
  o.read_wait_ms = 50;
  return o;
}

// Waits (bounded) until `cond` holds.
template <typename F>
bool WaitFor(F cond, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + bound;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling interval
  }
  return true;
}

TEST(ReplicatedCommitter, TheProposerHearsTheOutcomeAfterItsNodeApplied) {
  FakeOrderedLog log(1);
  MemoryApplier applier;
  ReplicatedCommitter c(log, applier, Options("a", 1));
  ASSERT_TRUE(c.Start().ok());
  std::vector<std::future<std::pair<ApplyOutcome, size_t>>> answers;
  std::vector<std::promise<std::pair<ApplyOutcome, size_t>>> promises(50);
  for (auto& p : promises) answers.push_back(p.get_future());
  for (size_t i = 0; i < promises.size(); ++i) {
    c.Propose(Noop("x" + std::to_string(i)), [&, i](ApplyOutcome out) {
      promises[i].set_value({std::move(out), applier.applied().size()});
    });
  }
  for (size_t i = 0; i < answers.size(); ++i) {
    auto [out, applied_then] = answers[i].get();
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    EXPECT_EQ(*out, "applied:x" + std::to_string(i));
    auto applied = applier.applied();
    bool found = false;
    for (size_t k = 0; k < applied_then; ++k) found |= applied[k].second == "x" + std::to_string(i);
    EXPECT_TRUE(found) << "answered before its node applied x" << i;
  }
  EXPECT_EQ(applier.applied().size(), 50u);
  // The writer counts after its Append returns, which may be after apply answered.
  EXPECT_TRUE(WaitFor([&] { return c.appended_proposals() == 50u; }));
  EXPECT_LE(c.appended_groups(), 50u);
  EXPECT_EQ(c.applied_revision(), log.last_revision());
  EXPECT_TRUE(c.write_status().ok());
}

TEST(ReplicatedCommitter, ProposalsThatArriveWhileGroupsAreInFlightShareAnAppend) {
  FakeOrderedLog log(11);
  log.SetFaults({.delay = 1.0, .delay_ms_max = 2});  // every Append takes 1..2 ms
  MemoryApplier applier;
  ReplicatedCommitter c(log, applier, Options("a", 1));
  std::atomic<uint64_t> observed_groups{0}, observed_commands{0};
  c.SetGroupObserver([&](size_t commands) {  // on the writer threads, once per Append
    ++observed_groups;
    observed_commands += commands;
  });
  ASSERT_TRUE(c.Start().ok());
  constexpr int kProposers = 64, kEach = 40;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0, failed = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kProposers * kEach; ++i) {
    c.Propose(Noop("p" + std::to_string(i)), [&](ApplyOutcome out) {
      std::lock_guard lock(mu);
      ++answered;
      failed += out.ok() ? 0 : 1;
      cv.notify_all();
    });
    if (i % kProposers == kProposers - 1) {  // 64 writers: at most 64 outstanding
      std::unique_lock lock(mu);
      ASSERT_TRUE(
          cv.wait_for(lock, std::chrono::seconds(10), [&] { return answered > i - kProposers; }));
    }
  }
  std::unique_lock lock(mu);
  ASSERT_TRUE(
      cv.wait_for(lock, std::chrono::seconds(10), [&] { return answered == kProposers * kEach; }));
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  EXPECT_EQ(failed, 0);
  ASSERT_TRUE(WaitFor([&] { return c.appended_proposals() == uint64_t{kProposers * kEach}; }));
  EXPECT_LT(c.appended_groups() * 4, c.appended_proposals());  // grouped
  ASSERT_TRUE(WaitFor([&] { return observed_commands.load() == uint64_t{kProposers * kEach}; }));
  EXPECT_EQ(observed_groups.load(), c.appended_groups());
  std::printf("%d proposals in %llu groups, %lld ms (fake log, 1-2 ms per Append)\n",
              kProposers * kEach, static_cast<unsigned long long>(c.appended_groups()),
              static_cast<long long>(ms));
}

TEST(ReplicatedCommitter, LostAnswersAreRetriedUnderTheSameKeyAndLandOnce) {
  FakeOrderedLog log(2);
  log.SetFaults({.fail_append = 0.3, .lose_answer = 0.5});
  MemoryApplier applier;
  ReplicatedCommitter c(log, applier, Options("a", 1));
  ASSERT_TRUE(c.Start().ok());
  for (int i = 0; i < 20; ++i) {
    ApplyOutcome out = core::ProposeAndWait(c, Noop("p" + std::to_string(i)));
    ASSERT_TRUE(out.ok()) << out.status().ToString();
  }
  EXPECT_EQ(applier.applied().size(), 20u);
  EXPECT_EQ(log.landed(), log.record_count());
  EXPECT_EQ(log.record_count(), 20u);
}

TEST(ReplicatedCommitter, ALogThatIsDownFailsWritesWithinTheBoundAndRecoversByItself) {
  FakeOrderedLog log(3);
  MemoryApplier applier;
  ReplicatedCommitter c(log, applier, Options("a", 1));
  ASSERT_TRUE(c.Start().ok());
  log.SetDown(true);
  const auto t0 = std::chrono::steady_clock::now();
  ApplyOutcome out = core::ProposeAndWait(c, Noop("lost"));
  const auto took = std::chrono::steady_clock::now() - t0;
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(out.status().message().find("etcd unreachable"), std::string::npos);
  EXPECT_LT(took, std::chrono::milliseconds(400 + 1000));  // bound + one attempt's margin
  EXPECT_EQ(c.write_status().code(), StatusCode::kUnavailable);
  EXPECT_NE(c.write_status().message().find("etcd unreachable"), std::string::npos);

  log.SetDown(false);
  ASSERT_TRUE(WaitFor([&] { return c.write_status().ok(); }));
  out = core::ProposeAndWait(c, Noop("after"));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(*out, "applied:after");
}

TEST(ReplicatedCommitter, FailingAppendsShowAsUnreachableOnlyWhileRetried) {
  FakeOrderedLog log(13);
  MemoryApplier applier;
  ReplicatedCommitter c(log, applier, Options("a", 1));
  ASSERT_TRUE(c.Start().ok());
  log.SetFaults({.fail_append = 1.0});  // reads work, appends do not (no quorum)
  std::promise<ApplyOutcome> p;
  c.Propose(Noop("x"), [&](ApplyOutcome out) { p.set_value(std::move(out)); });
  ASSERT_TRUE(WaitFor([&] { return !c.write_status().ok(); }));
  EXPECT_NE(c.write_status().message().find("etcd unreachable"), std::string::npos);
  EXPECT_EQ(p.get_future().get().status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(WaitFor([&] { return c.write_status().ok(); }));  // nothing retrying now
}

TEST(ReplicatedCommitter, AnAppendedWriteTheNodeCannotReadBackIsAnsweredWithinTheBound) {
  FakeOrderedLog log(10);
  MemoryApplier applier;
  auto options = Options("a", 1);
  options.answer_timeout_ms = 600;
  ReplicatedCommitter c(log, applier, options);
  log.SetFaults({.read_disconnect = 1.0});  // appends land, reads fail
  ASSERT_TRUE(c.Start().ok());
  const auto t0 = std::chrono::steady_clock::now();
  ApplyOutcome out = core::ProposeAndWait(c, Noop("committed"));
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::milliseconds(600 + 1500));
  ASSERT_EQ(out.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(out.status().message().find("may still be applied"), std::string::npos);
  EXPECT_EQ(log.record_count(), 1u);
  EXPECT_NE(c.write_status().message().find("etcd unreachable"), std::string::npos);

  log.SetFaults({});  // the write is applied after all, reported to nobody
  ASSERT_TRUE(WaitFor([&] { return applier.applied().size() == 1; }));
  ASSERT_TRUE(core::ProposeAndWait(c, Noop("next")).ok());
  EXPECT_EQ(applier.applied().size(), 2u);
  EXPECT_TRUE(c.write_status().ok());
}

TEST(ReplicatedCommitter, AGroupThatLandedTwiceIsAppliedOnce) {
  FakeOrderedLog log(4);
  MemoryApplier applier;
  ReplicatedCommitter c(log, applier, Options("a", 1));
  ASSERT_TRUE(c.Start().ok());
  ASSERT_TRUE(core::ProposeAndWait(c, Noop("once")).ok());
  std::vector<LogRecord> records = log.Records();
  ASSERT_EQ(records.size(), 1u);
  log.ForceAppend(records[0].key, records[0].value);  // a retry re-created the key
  ASSERT_TRUE(core::ProposeAndWait(c, Noop("next")).ok());
  auto applied = applier.applied();
  ASSERT_EQ(applied.size(), 2u);
  EXPECT_EQ(applied[0], (std::pair<LogIndex, std::string>{1, "once"}));
  EXPECT_EQ(applied[1], (std::pair<LogIndex, std::string>{2, "next"}));
  EXPECT_EQ(c.skipped_groups(), 1u);
  EXPECT_EQ(c.applied_revision(), log.last_revision());
  EXPECT_EQ(c.trim_safe_revision(), log.last_revision());
}

TEST(ReplicatedCommitter, ARestartMidGroupAppliesExactlyTheRemainingCommands) {
  FakeOrderedLog log(5);
  // A group from another node: the account command is flushed alone, so a failure
  // at the third command leaves the first two durable and the group partly applied.
  GroupOrigin origin{"other", 9, 1, 0};
  std::vector<Command> group = {Noop("a"), Command{CommandKind::kAccount, "b"}, Noop("c"),
                                Noop("d")};
  log.ForceAppend(GroupKey(origin), EncodeGroup(origin, group));
  MemoryApplier applier;
  applier.fail_at = 3;
  {
    ReplicatedCommitter c(log, applier, Options("a", 1));
    ASSERT_TRUE(c.Start().ok());
    ASSERT_TRUE(WaitFor([&] { return !c.write_status().ok(); }));
    EXPECT_NE(c.write_status().message().find("writes stopped"), std::string::npos);
    ApplyOutcome refused = core::ProposeAndWait(c, Noop("refused"));
    EXPECT_EQ(refused.status().code(), StatusCode::kUnavailable);
  }
  applier.Crash();
  ASSERT_EQ(applier.applied().size(), 2u);
  ASSERT_FALSE(applier.applied_group().complete(applier.applied_index()));

  ReplicatedCommitter c(log, applier, Options("a", 2));
  ASSERT_TRUE(c.Start().ok());
  ASSERT_TRUE(core::ProposeAndWait(c, Noop("e")).ok());
  EXPECT_EQ(c.trim_safe_revision(), log.last_revision());
  auto applied = applier.applied();
  std::vector<std::pair<LogIndex, std::string>> want = {
      {1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}, {5, "e"}};
  EXPECT_EQ(applied, want);
  EXPECT_TRUE(c.write_status().ok());
}

TEST(ReplicatedCommitter, ACorruptRecordStopsWrites) {
  FakeOrderedLog log(6);
  MemoryApplier applier;
  ReplicatedCommitter c(log, applier, Options("a", 1));
  ASSERT_TRUE(c.Start().ok());
  log.ForceAppend("x/0000000000000001/0000000000000001", "not a group");
  ASSERT_TRUE(WaitFor([&] { return !c.write_status().ok(); }));
  EXPECT_EQ(c.write_status().code(), StatusCode::kUnavailable);
  EXPECT_NE(c.write_status().message().find("writes stopped"), std::string::npos);
  EXPECT_NE(c.write_status().message().find("replicated group"), std::string::npos);
  EXPECT_EQ(core::ProposeAndWait(c, Noop("no")).status().code(), StatusCode::kUnavailable);
  EXPECT_TRUE(applier.applied().empty());
}

TEST(ReplicatedCommitter, ANodeBehindTheTrimPointStopsAndSaysSo) {
  FakeOrderedLog log(7);
  MemoryApplier first;
  {
    ReplicatedCommitter c(log, first, Options("a", 1));
    ASSERT_TRUE(c.Start().ok());
    ASSERT_TRUE(core::ProposeAndWait(c, Noop("one")).ok());
  }
  ASSERT_TRUE(log.Trim(log.last_revision()).ok());
  MemoryApplier fresh;  // an empty node: it needs what was trimmed
  ReplicatedCommitter c(log, fresh, Options("b", 1));
  ASSERT_TRUE(c.Start().ok());
  ASSERT_TRUE(WaitFor([&] { return !c.write_status().ok(); }));
  EXPECT_EQ(c.write_status().code(), StatusCode::kNotFound);
  EXPECT_NE(c.write_status().message().find("fell behind"), std::string::npos);
  EXPECT_EQ(core::ProposeAndWait(c, Noop("no")).status().code(), StatusCode::kUnavailable);
}

TEST(ReplicatedCommitter, StopFailsQueuedProposalsWithUnavailable) {
  FakeOrderedLog log(8);
  MemoryApplier applier;
  auto options = Options("a", 1);
  options.write_timeout_ms = 60000;
  options.answer_timeout_ms = 60000;
  ReplicatedCommitter c(log, applier, options);
  ASSERT_TRUE(c.Start().ok());
  log.SetDown(true);
  std::promise<ApplyOutcome> p;
  c.Propose(Noop("pending"), [&](ApplyOutcome out) { p.set_value(std::move(out)); });
  c.Stop();
  ApplyOutcome out = p.get_future().get();
  EXPECT_EQ(out.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(core::ProposeAndWait(c, Noop("late")).status().code(), StatusCode::kUnavailable);
}

TEST(ReplicatedCommitter, AnOversizedCommandIsTooLargeAndNeverWritten) {
  FakeOrderedLog log(9);
  MemoryApplier applier;
  ReplicatedCommitter c(log, applier, Options("a", 1));
  ASSERT_TRUE(c.Start().ok());
  ApplyOutcome out = core::ProposeAndWait(c, Noop(std::string(core::kCommandBytesMax + 1, 'x')));
  EXPECT_EQ(out.status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(log.record_count(), 0u);
}

}  // namespace
}  // namespace nebu::replication
