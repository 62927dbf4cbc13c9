// ReplicatedCommitter: the cluster's committer. Proposals become groups in an
// OrderedLog (etcd) shared by every node; every node reads the log in revision order
// and applies every group through its own Applier (the StateMachine), so all nodes
// hold the same state. docs/architecture.md, section Cluster.
//
//   ReplicatedCommitter c(log, state_machine,
//                         {.node_id = "node1", .incarnation = NewIncarnation()});
//   NEBU_RETURN_IF_ERROR(c.Start());
//   ApplyOutcome out = ProposeAndWait(c, command);  // after quorum write + local apply
//
// Write side: up to `groups_in_flight` writer threads ("nebu-commit<i>"). A free
// writer takes every queued proposal (up to group_max commands and kGroupBytesMax
// bytes) as one group, numbers it (seq, from 1 in this incarnation) and Appends it
// under GroupKey(origin) (replication/group_codec.h). So proposals that arrive while
// groups are in flight share the next Put, as in LocalCommitter. An Append answered
// kUnavailable is retried with the same key (create-if-absent: a write that landed
// is not written twice) until `write_timeout_ms` after the group was formed; then
// every proposal of the group gets kUnavailable "cluster: etcd unreachable ..." (the
// group may still land later: it is then applied like any group, its outcome
// reported to nobody).
//
// Apply side: one thread ("nebu-apply") loops ReadAfter(applied revision) -> decode
// -> Applier::BeginGroup (false: a group applied before, skipped) -> Apply each
// command with the next index -> Flush -> answers the proposals of the groups this
// node proposed in this incarnation. So a proposer hears its outcome only after its
// own node applied the group (reads on this node then see it), or kUnavailable once
// `answer_timeout_ms` passed without that (the log cannot be read: the write is
// committed and is applied later, reported to nobody), so no write waits without
// bound. Applying reads no clock (the expiry runs between reads of the log).
// A log that cannot be read is retried with back-off (kReadBackoffMsMin doubling to
// kReadBackoffMsMax); a record that does not decode, or an apply storage error, is
// fatal: writes stop ("writes stopped: <cause>") until a restart. A log trimmed past
// this node's applied revision stops applying and writes: the node must copy a
// peer's checkpoint (app/main.cpp does so by itself: app/cluster_join.h).
//
// Start() resumes a group a crash left partly applied (Applier::applied_group() not
// complete): the apply thread first re-reads that revision and applies only the
// remaining commands, without BeginGroup.
//
// Thread-safety: Propose and the accessors are safe from any thread. Callbacks run
// on the apply thread, on a writer thread (kUnavailable after the write bound), on
// the proposer's thread (immediate rejections) or on Stop()'s, and must be quick.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/core/committer.h"
#include "replication/group_codec.h"
#include "replication/ordered_log.h"

namespace nebu::replication {

// Append attempts of one group stop this long after the group was formed.
inline constexpr int64_t kWriteTimeoutMsDefault = 5000;
// One Append call waits at most this long (never past the group's write bound).
inline constexpr int64_t kAppendAttemptMsMax = 1000;
// Pause between Append attempts of one group: doubles from min to max.
inline constexpr int64_t kAppendBackoffMsMin = 10;
inline constexpr int64_t kAppendBackoffMsMax = 200;
// Pause after a failed ReadAfter: doubles from min to max, reset by a success.
inline constexpr int64_t kReadBackoffMsMin = 10;
inline constexpr int64_t kReadBackoffMsMax = 1000;
// A proposal whose group was appended but is not applied on this node within this
// long after the group was formed (the log cannot be read) is answered kUnavailable;
// it is still applied later, with its outcome reported to nobody. At least
// write_timeout_ms.
inline constexpr int64_t kAnswerTimeoutMsDefault = 10000;
// Groups at most in flight (writer threads).
inline constexpr size_t kGroupsInFlightMax = 64;

struct ReplicatedCommitterOptions {
  std::string node_id;                   // IsValidNodeId; unique in the cluster (NEBU_NODE_ID)
  uint64_t incarnation = 0;              // nonzero, new at every start of the node (NewIncarnation)
  size_t groups_in_flight = 4;           // 1..kGroupsInFlightMax
  size_t group_max = kGroupCommandsMax;  // 1..kGroupCommandsMax commands per group
  size_t queue_max = 65536;              // proposals waiting for a group
  int64_t write_timeout_ms = kWriteTimeoutMsDefault;
  int64_t answer_timeout_ms = kAnswerTimeoutMsDefault;  // >= write_timeout_ms
  size_t read_batch_max = 256;                          // records per ReadAfter
  int64_t read_wait_ms = 200;                           // ReadAfter's wait; bounds Stop()'s latency
};

// A fresh incarnation number: random, nonzero (a node's restarts must not repeat one).
uint64_t NewIncarnation();

class ReplicatedCommitter final : public core::Committer {
 public:
  // `log` and `applier` must outlive the committer. NEBU_CHECKs the options.
  ReplicatedCommitter(OrderedLog& log, core::Applier& applier, ReplicatedCommitterOptions options);
  ~ReplicatedCommitter() override;

  // Starts the writer and apply threads (the apply thread first finishes a partly
  // applied group). Does not wait for the log: an unreachable log shows in
  // write_status(). Call once.
  Status Start() override;
  // Stops accepting proposals, fails every unanswered one with kUnavailable ("the
  // write path is stopped; ..."; a group already appended may still be applied, on
  // every node, and is applied here at the next start), and joins the threads (an
  // Append or ReadAfter in progress finishes first: at most kAppendAttemptMsMax or
  // read_wait_ms). Idempotent.
  void Stop() override;

  // Committer::Propose; kTooLarge, kResourceExhausted, kUnavailable (stopped, writes
  // stopped, "cluster: etcd unreachable ..." after the write bound), or the outcome.
  void Propose(core::Command command, core::ProposalDone done) override;

  // OK; kUnavailable "writes stopped: <cause>" after a fatal apply error (a corrupt
  // record, a storage error); kNotFound "cluster: fell behind the log's trim point
  // ..." when the log was trimmed past the applied revision (copy a peer's
  // checkpoint); kUnavailable "cluster: etcd unreachable: <last error>" while a
  // group's Append is being retried after kUnavailable or reads of the log fail
  // (the apply thread keeps reading, so this clears by itself once the log answers).
  Status write_status() const override;
  // A group here is the proposals one writer took off the queue and appended as one
  // Put (one quorum write); the observer runs on that writer thread once the Append
  // succeeded (groups whose Append failed are not observed). Call before Start().
  void SetGroupObserver(core::GroupObserver observer) override;

  // The revision of the last group applied (or skipped) here.
  uint64_t applied_revision() const { return applied_revision_.load(); }
  // Blocks until applied_revision() >= revision (true) or `deadline` passes (false):
  // the read barrier's wait (app/cluster_runtime.h, api/cluster_view.h). Woken by the
  // apply thread after each group (the state is readable then, as for a proposer).
  // Never call it from the apply thread or a server I/O thread.
  bool WaitApplied(uint64_t revision, std::chrono::steady_clock::time_point deadline) const;
  // The revision through which this node needs nothing more from the log, even
  // after a restart: the last group its Applier recorded as applied (a skipped
  // duplicate is not recorded; a partly applied group counts one revision less).
  // The node registry reports this (after Applier::SyncApplied) for trimming: a trim
  // past it makes the node's restart fall behind the trim point.
  uint64_t trim_safe_revision() const { return trim_safe_revision_.load(); }
  // The highest revision this node has seen in the log (read or appended): with
  // applied_revision(), the node's lag.
  uint64_t last_seen_revision() const { return last_seen_revision_.load(); }
  // Groups this node appended (one Put each) and the proposals in them.
  uint64_t appended_groups() const { return appended_groups_.load(); }
  uint64_t appended_proposals() const { return appended_proposals_.load(); }
  // Groups applied here (from any node) and duplicates skipped.
  uint64_t applied_groups() const { return applied_groups_.load(); }
  uint64_t skipped_groups() const { return skipped_groups_.load(); }

 private:
  struct Proposal {
    core::Command command;
    core::ProposalDone done;
  };
  struct FormedGroup {
    uint64_t seq = 0;
    std::vector<core::Command> commands;
  };

  void WriteLoop();
  // Takes the next group off the queue (registering its callbacks under its seq);
  // false when stopping with nothing queued.
  bool FormGroup(FormedGroup* group);
  // Appends until success, the write bound, a stop or a halt; then answers the
  // group's proposals if the append did not succeed (and apply did not answer).
  void WriteGroup(const FormedGroup& group);
  // Append, retried after kUnavailable (the same key) until write_timeout_ms or until
  // the apply thread answered group `seq` (it landed); OK or what the group's
  // proposals get. *retrying: counted in groups_retrying_.
  Status AppendUntilBound(uint64_t seq, const std::string& key, const std::string& value,
                          bool* retrying);
  // Removes and returns the callbacks of one of this incarnation's groups ({} if
  // already answered).
  std::vector<core::ProposalDone> TakeWaiters(uint64_t seq);
  // Answers kUnavailable to the appended groups past their answer_by (apply thread,
  // between reads of the log; never while applying).
  void ExpireWaiters();

  void ApplyLoop();
  Status ResumePartialGroup();
  Status ApplyRecord(const LogRecord& record);
  // Applies commands[from...] with the next indexes, then flushes.
  Status ApplyCommands(const std::vector<core::Command>& commands, size_t from,
                       std::vector<core::ApplyOutcome>* outcomes);
  // Sleeps up to `ms` or until Stop; false if stopping.
  bool PauseUnlessStopping(int64_t ms);
  // Stops applying and writes: write_status() says `cause`, proposals get
  // `proposal_status` (every queued and unanswered one at once).
  void Halt(const Status& cause, const Status& proposal_status);
  // Halt after the log answered kNotFound (trimmed past the applied revision).
  void HaltFellBehind(const Status& trimmed);
  void SetUnreachable(bool* flag, bool value, const Status& cause);
  void NoteSeen(uint64_t revision);
  // Stores applied_revision_ and wakes WaitApplied callers (apply thread).
  void PublishApplied(uint64_t revision);

  OrderedLog& log_;
  core::Applier& applier_;
  const ReplicatedCommitterOptions options_;

  mutable std::mutex mu_;
  std::condition_variable queue_cv_;  // proposals queued, or stopping
  std::condition_variable stop_cv_;   // stopping (wakes back-off pauses)
  std::deque<Proposal> queue_;        // guarded by mu_
  // This incarnation's groups formed but not yet answered, by seq. guarded by mu_
  struct Waiting {
    std::chrono::steady_clock::time_point answer_by;
    std::vector<core::ProposalDone> waiters;
    bool appended = false;  // else its writer answers it (at its write bound)
  };
  std::map<uint64_t, Waiting> waiting_;
  uint64_t next_seq_ = 1;          // guarded by mu_
  bool started_ = false;           // guarded by mu_
  bool stopping_ = false;          // guarded by mu_
  bool halted_ = false;            // guarded by mu_
  Status halt_status_;             // guarded by mu_: what write_status() says
  Status halt_proposal_status_;    // guarded by mu_: what proposals get
  size_t groups_retrying_ = 0;     // guarded by mu_: Appends retrying after kUnavailable
  bool read_unreachable_ = false;  // guarded by mu_
  Status unreachable_cause_;       // guarded by mu_

  core::LogIndex next_index_ = 1;  // apply thread only (set in Start)
  std::atomic<uint64_t> applied_revision_{0};
  // WaitApplied: callers waiting (so the apply thread skips the lock when none is).
  mutable std::mutex applied_mu_;
  mutable std::condition_variable applied_cv_;
  mutable std::atomic<size_t> applied_waiters_{0};
  std::atomic<uint64_t> last_seen_revision_{0};
  std::atomic<uint64_t> trim_safe_revision_{0};
  std::atomic<uint64_t> appended_groups_{0};
  std::atomic<uint64_t> appended_proposals_{0};
  std::atomic<uint64_t> applied_groups_{0};
  std::atomic<uint64_t> skipped_groups_{0};
  core::GroupObserver on_group_;  // set before Start; writer threads read
  std::vector<std::thread> writers_;
  std::thread apply_thread_;
};

}  // namespace nebu::replication
