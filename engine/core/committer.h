// The write path: propose -> commit -> apply.
//
// A Committer makes commands durable in one total order and hands each, once
// committed, to the Applier (the state machine), then reports the applier's outcome
// to the proposer. LocalCommitter is the one-node committer: every proposal that
// arrives while the previous group is being fsynced joins the next group, so
// concurrent proposals share one WAL fsync (group commit). Commit and apply run on
// two threads, so group N+1 is fsynced while group N is applied. In a cluster the
// etcd committer (replication/) takes LocalCommitter's place behind the same
// interface; proposers and the Applier don't change (docs/architecture.md, Cluster).
//
//   LocalCommitter c(store, state_machine);
//   NEBU_RETURN_IF_ERROR(c.Start());                 // replays committed, unapplied commands
//   ApplyOutcome out = ProposeAndWait(c, command);   // after fsync + apply
//
// Durability: a command is acknowledged only after the commit batch holding it was
// written with sync=true to the commit log, a RocksDB of its own (so the apply
// thread's writes to the state DB never queue behind a commit fsync). The apply
// batch (derived state + applied index) is written without sync; after a crash,
// Start() re-applies every command after the stored applied index, so derived state
// catches up exactly. Entries are trimmed from the commit log only after
// Applier::SyncApplied() made their effects durable.
//
// Thread-safety: Propose is safe from any thread; callbacks run on the apply thread
// (or on the proposer's thread for immediate rejections) and must be quick.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/common/status.h"
#include "engine/core/command.h"
#include "engine/storage/keys.h"
#include "engine/storage/store.h"

namespace nebu::core {

using storage::LogIndex;

// What the state machine answers to one command: a result payload (canonical JSON)
// or the Status that rejected it (in which case it changed nothing but the index).
using ApplyOutcome = Result<std::string>;
using ProposalDone = std::function<void(ApplyOutcome)>;
// Told the number of commands in each commit group once the group is committed (a
// single node: its one fsynced commit-log write; a cluster: this node's one Append to
// the ordered log). Called once per group, never per command, on the committer's own
// thread (the commit thread; a cluster's writer threads, concurrently): it must be
// quick, thread-safe and must not propose.
using GroupObserver = std::function<void(size_t commands)>;

// Who proposed a replicated group: the node's ID, its incarnation (a fresh number at
// every start of the node's process) and the group's sequence within the
// incarnation (from 1). Unique for every group ever proposed in a cluster.
struct GroupOrigin {
  std::string node_id;
  uint64_t incarnation = 0;
  uint64_t seq = 0;
  uint64_t revision = 0;  // where the ordered log put it (etcd revision; gaps allowed)
};

// Where apply stands in the replicated log: the group being (or last) applied.
struct GroupPosition {
  uint64_t revision = 0;     // 0: no group applied yet
  LogIndex first_index = 0;  // the applier index of the group's first command
  uint32_t count = 0;        // commands in the group
  bool complete(LogIndex applied_index) const { return applied_index + 1 >= first_index + count; }
};

class Applier {
 public:
  virtual ~Applier() = default;
  // Applies the committed command at `index` (== the previous index + 1) and stores
  // its outcome. The applier may stage the effects: they become durable-in-order
  // and visible to readers at the next Flush(), and outcomes may be reported only
  // after it. A non-OK return is fatal: derived state could not be written, and the
  // committer stops applying (the command stays committed and is re-applied at the
  // next start).
  virtual Status Apply(LogIndex index, const Command& command, ApplyOutcome* outcome) = 0;
  // Writes everything staged since the last Flush in one batch. Fatal if non-OK.
  virtual Status Flush() = 0;
  // The last index whose effects were flushed.
  virtual LogIndex applied_index() const = 0;
  // Makes every flushed apply durable (fsync). The committer calls it before it
  // trims commit-log entries the applied state no longer needs.
  virtual Status SyncApplied() = 0;

  // ---- replicated groups (the cluster's committer; LocalCommitter never calls these) ----
  // A replicated committer applies groups read from an ordered log (etcd): each
  // group was proposed by one node and carries who proposed it. Before a group's
  // commands it calls BeginGroup; false means the group was applied before (a retried
  // Put that landed twice) and its commands must be skipped, changing nothing. True
  // stages the group's position (revision, first command index = the next index,
  // count) and its dedup record; both are written by the group's flushes, so after a
  // crash applied_group() tells which group was being applied and applied_index()
  // how many of its commands were (the committer then applies only the rest, without
  // calling BeginGroup again). Deterministic: every node records the same bytes.
  virtual Result<bool> BeginGroup(const GroupOrigin& origin, uint32_t command_count) = 0;
  // The last group BeginGroup accepted whose position was flushed ({} before any).
  virtual GroupPosition applied_group() const = 0;
};

class Committer {
 public:
  virtual ~Committer() = default;
  // `done` is called exactly once: with the outcome after commit + apply, or, with
  // nothing committed (the client may retry), with
  //   kTooLarge          the encoded command is over kCommandBytesMax (it could never be
  //                      read back at replay, so it is never written);
  //   kResourceExhausted the queue is full;
  //   kNoSpace           the disk is full (or under the free-space floor);
  //   kUnavailable       stopped, writes stopped after a storage failure in apply
  //                      ("writes stopped: <cause>"), or the commit write failed.
  virtual void Propose(Command command, ProposalDone done) = 0;
  // Re-applies what is committed but not applied, then starts accepting proposals.
  virtual Status Start() = 0;
  // Finishes (or fails with kUnavailable) every accepted proposal, then stops. Idempotent.
  virtual void Stop() = 0;
  // OK while writes are accepted; otherwise why not (kUnavailable "writes stopped:
  // <cause>", kUnavailable "cluster: etcd unreachable", ...). For /ready.
  virtual Status write_status() const = 0;
  // Sets the observer of committed groups (metrics: app/engine_metrics.h). Call at most
  // once, before Start(); a committer without groups may ignore it.
  virtual void SetGroupObserver(GroupObserver observer) { (void)observer; }
};

// A commit group is refused (kNoSpace) while the commit log's file system has less
// free space than this: the headroom lets the group's apply, memtable flushes and
// compactions finish, so a full disk refuses writes before it can fail an apply
// (which would stop writes until a restart). Writes resume by themselves once space
// is freed.
inline constexpr uint64_t kDiskFreeBytesMin = 64ull << 20;

// Blocks until `done` fires.
ApplyOutcome ProposeAndWait(Committer& committer, Command command);

struct LocalCommitterOptions {
  size_t queue_max = 65536;          // proposals waiting for a commit group
  size_t group_max = 4096;           // commands in one commit batch
  size_t trim_every_entries = 8192;  // commit-log entries applied before they are trimmed
  bool sync = true;                  // false only in benchmarks of the non-durable path
  uint64_t disk_free_bytes_min = kDiskFreeBytesMin;  // 0: no free-space check
};

class LocalCommitter final : public Committer {
 public:
  // `log` holds Cf::kCommitLog; it may be the applier's own store (tests), but a
  // separate one keeps applies from waiting on commit fsyncs. The apply thread applies
// a whole commit group, then flushes it as one write, then answers its proposers.
  LocalCommitter(storage::Store& log, Applier& applier, LocalCommitterOptions options = {});
  ~LocalCommitter() override;

  // Re-applies committed commands after the applier's applied index, then starts the
  // commit and apply threads. kCorruption / kIoError if the commit log can't be read.
  Status Start() override;
  // Finishes every accepted proposal, then stops the threads. Idempotent.
  void Stop() override;

  void Propose(Command command, ProposalDone done) override;

  // OK while writes are accepted; once an apply failed (a storage error: fatal for
  // the write path, never turned into a rejection, so replicas cannot diverge) the
  // kUnavailable "writes stopped: <cause>" that every later proposal gets. Reads of
  // applied state go on. Only a restart (which re-applies the log) clears it.
  Status write_status() const override;
  // The observer runs on the commit thread after each group's commit-log write.
  void SetGroupObserver(GroupObserver observer) override;

  LogIndex last_committed() const { return last_committed_.load(); }
  // Commit batches written so far (each one WAL fsync): proposals / groups is the
  // group-commit factor.
  uint64_t commit_groups() const { return commit_groups_.load(); }

 private:
  struct Proposal {
    Command command;
    ProposalDone done;
    LogIndex index = 0;
  };
  void CommitLoop();
  void ApplyLoop();
  void FailAll(std::vector<Proposal>& group, const Status& status);
  // Why the next group may not be committed (halted, disk under the floor); OK if it may.
  Status CommitRefusal();
  void Halt(const Status& cause);

  storage::Store& store_;
  Applier& applier_;
  const LocalCommitterOptions options_;

  mutable std::mutex mu_;
  std::condition_variable commit_cv_;
  std::condition_variable apply_cv_;
  std::deque<Proposal> queue_;                // guarded by mu_
  std::deque<std::vector<Proposal>> applying_;  // guarded by mu_
  bool stopping_ = false;                     // guarded by mu_
  bool commit_done_ = false;                  // guarded by mu_
  bool halted_ = false;                       // guarded by mu_: apply failed
  Status halt_status_;                        // guarded by mu_

  LogIndex next_index_ = 1;                   // commit thread only
  LogIndex trimmed_below_ = 1;                // commit thread only
  std::atomic<LogIndex> last_committed_{0};
  std::atomic<uint64_t> commit_groups_{0};
  GroupObserver on_group_;                    // set before Start; commit thread reads
  std::thread commit_thread_;
  std::thread apply_thread_;
  bool started_ = false;
};

}  // namespace nebu::core
