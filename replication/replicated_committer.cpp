#include "replication/replicated_committer.h"

#include <pthread.h>

#include <algorithm>
#include <random>

namespace nebu::replication {

using core::ApplyOutcome;
using core::Command;
using core::ProposalDone;
using Clock = std::chrono::steady_clock;

namespace {

const char kStoppedMessage[] =
    "the write path is stopped; a group already appended may still be applied";

void AnswerAll(std::vector<ProposalDone>& waiters, const Status& status) {
  for (auto& done : waiters) done(status);
  waiters.clear();
}

}  // namespace

uint64_t NewIncarnation() {
  std::random_device rd;
  uint64_t v = 0;
  while (v == 0) v = (static_cast<uint64_t>(rd()) << 32) ^ rd();
  return v;
}

ReplicatedCommitter::ReplicatedCommitter(OrderedLog& log, core::Applier& applier,
                                         ReplicatedCommitterOptions options)
    : log_(log), applier_(applier), options_(std::move(options)) {
  NEBU_CHECK(IsValidNodeId(options_.node_id), "ReplicatedCommitter: invalid node ID");
  NEBU_CHECK(options_.incarnation != 0, "ReplicatedCommitter: incarnation 0");
  NEBU_CHECK(options_.groups_in_flight >= 1 && options_.groups_in_flight <= kGroupsInFlightMax,
             "ReplicatedCommitter: groups_in_flight out of range");
  NEBU_CHECK(options_.group_max >= 1 && options_.group_max <= kGroupCommandsMax,
             "ReplicatedCommitter: group_max out of range");
  NEBU_CHECK(options_.read_batch_max >= 1, "ReplicatedCommitter: read_batch_max 0");
  NEBU_CHECK(options_.answer_timeout_ms >= options_.write_timeout_ms,
             "ReplicatedCommitter: answer_timeout_ms below write_timeout_ms");
}

ReplicatedCommitter::~ReplicatedCommitter() { Stop(); }

void ReplicatedCommitter::SetGroupObserver(core::GroupObserver observer) {
  std::lock_guard lock(mu_);
  NEBU_CHECK(!started_, "SetGroupObserver after Start");
  on_group_ = std::move(observer);
}

Status ReplicatedCommitter::Start() {
  {
    std::lock_guard lock(mu_);
    NEBU_CHECK(!started_, "ReplicatedCommitter started twice");
    if (stopping_) return Status::Unavailable(kStoppedMessage);
    started_ = true;
  }
  next_index_ = applier_.applied_index() + 1;
  const core::GroupPosition pos = applier_.applied_group();
  applied_revision_ = pos.revision;
  trim_safe_revision_ =
      pos.complete(applier_.applied_index()) || pos.revision == 0 ? pos.revision : pos.revision - 1;
  NoteSeen(applied_revision_.load());
  apply_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "nebu-apply");
    ApplyLoop();
  });
  for (size_t i = 0; i < options_.groups_in_flight; ++i) {
    writers_.emplace_back([this, i] {
      std::string name = "nebu-commit" + std::to_string(i);
      pthread_setname_np(pthread_self(), name.c_str());
      WriteLoop();
    });
  }
  return Status::Ok();
}

void ReplicatedCommitter::Stop() {
  std::deque<Proposal> queued;
  std::map<uint64_t, Waiting> waiting;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  queue_cv_.notify_all();
  stop_cv_.notify_all();
  for (auto& t : writers_) t.join();
  writers_.clear();
  if (apply_thread_.joinable()) apply_thread_.join();
  {
    std::lock_guard lock(mu_);
    queued.swap(queue_);
    waiting.swap(waiting_);
  }
  const Status stopped = Status::Unavailable(kStoppedMessage);
  for (auto& p : queued) p.done(stopped);
  for (auto& [seq, w] : waiting) AnswerAll(w.waiters, stopped);
}

Status ReplicatedCommitter::write_status() const {
  std::lock_guard lock(mu_);
  if (halted_) return halt_status_;
  if (groups_retrying_ > 0 || read_unreachable_) {
    return Status::Unavailable("cluster: etcd unreachable: " + unreachable_cause_.ToString());
  }
  return Status::Ok();
}

void ReplicatedCommitter::Propose(Command command, ProposalDone done) {
  if (command.payload.size() > core::kCommandBytesMax) {
    done(Status::TooLarge("command of " + std::to_string(command.payload.size()) +
                          " bytes is over the log's limit of " +
                          std::to_string(core::kCommandBytesMax)));
    return;
  }
  Status rejected;
  {
    std::lock_guard lock(mu_);
    if (stopping_ || !started_) {
      rejected = Status::Unavailable("the write path is stopped");
    } else if (halted_) {
      rejected = halt_proposal_status_;
    } else if (queue_.size() >= options_.queue_max) {
      rejected = Status::ResourceExhausted("too many writes waiting to commit");
    } else {
      queue_.push_back(Proposal{std::move(command), std::move(done)});
    }
  }
  if (!rejected.ok()) {
    done(std::move(rejected));
    return;
  }
  queue_cv_.notify_one();
}

// ---- write side ----

bool ReplicatedCommitter::FormGroup(FormedGroup* group) {
  std::unique_lock lock(mu_);
  queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
  if (stopping_) return false;
  const size_t bytes_max = kGroupBytesMax - kGroupHeaderBytes - options_.node_id.size();
  size_t bytes = 0;
  std::vector<ProposalDone> waiters;
  while (!queue_.empty() && group->commands.size() < options_.group_max) {
    const size_t b = GroupCommandBytes(queue_.front().command);
    if (!group->commands.empty() && bytes + b > bytes_max) break;
    bytes += b;
    group->commands.push_back(std::move(queue_.front().command));
    waiters.push_back(std::move(queue_.front().done));
    queue_.pop_front();
  }
  group->seq = next_seq_++;
  waiting_.emplace(group->seq,
                   Waiting{Clock::now() + std::chrono::milliseconds(options_.answer_timeout_ms),
                           std::move(waiters)});
  if (!queue_.empty()) queue_cv_.notify_one();  // the rest for another writer
  return true;
}

std::vector<ProposalDone> ReplicatedCommitter::TakeWaiters(uint64_t seq) {
  std::lock_guard lock(mu_);
  auto it = waiting_.find(seq);
  if (it == waiting_.end()) return {};
  std::vector<ProposalDone> waiters = std::move(it->second.waiters);
  waiting_.erase(it);
  return waiters;
}

void ReplicatedCommitter::ExpireWaiters() {
  std::vector<ProposalDone> expired;
  {
    const auto now = Clock::now();
    std::lock_guard lock(mu_);
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (!it->second.appended || it->second.answer_by > now) {
        ++it;
        continue;
      }
      for (auto& done : it->second.waiters) expired.push_back(std::move(done));
      it = waiting_.erase(it);
    }
  }
  AnswerAll(expired,
            Status::Unavailable("cluster: etcd unreachable: the write was not applied on this node "
                                "within " +
                                std::to_string(options_.answer_timeout_ms) +
                                " ms; it may still be applied"));
}

void ReplicatedCommitter::WriteLoop() {
  FormedGroup group;
  while (FormGroup(&group)) {
    WriteGroup(group);
    group = FormedGroup{};
  }
}

void ReplicatedCommitter::WriteGroup(const FormedGroup& group) {
  const core::GroupOrigin origin{options_.node_id, options_.incarnation, group.seq, 0};
  bool retrying = false;
  Status s =
      AppendUntilBound(group.seq, GroupKey(origin), EncodeGroup(origin, group.commands), &retrying);
  if (retrying) {
    std::lock_guard lock(mu_);
    --groups_retrying_;
  }
  if (s.ok()) {
    {
      std::lock_guard lock(mu_);
      if (auto it = waiting_.find(group.seq); it != waiting_.end()) it->second.appended = true;
    }
    appended_groups_.fetch_add(1);
    appended_proposals_.fetch_add(group.commands.size());
    if (on_group_) on_group_(group.commands.size());
    return;  // the apply thread answers
  }
  std::vector<ProposalDone> waiters = TakeWaiters(group.seq);
  AnswerAll(waiters, s);
}

Status ReplicatedCommitter::AppendUntilBound(uint64_t seq, const std::string& key,
                                             const std::string& value, bool* retrying) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(options_.write_timeout_ms);
  int64_t backoff_ms = kAppendBackoffMsMin;
  Status failure = Status::Unavailable("no attempt within the bound");
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (halted_) return halt_proposal_status_;
      // Answered by the apply thread: the group landed (a lost answer); stop retrying.
      if (*retrying && !waiting_.contains(seq)) return Status::Ok();
    }
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return Status::Unavailable("cluster: etcd unreachable: the group was not confirmed within " +
                                 std::to_string(options_.write_timeout_ms) + " ms (" +
                                 failure.ToString() + ")");
    }
    Result<uint64_t> revision =
        log_.Append(key, value, std::min(left, std::chrono::milliseconds(kAppendAttemptMsMax)));
    if (revision.ok()) {
      NoteSeen(*revision);
      return Status::Ok();
    }
    failure = revision.status();
    if (failure.code() == StatusCode::kTooLarge) return failure;
    if (failure.code() != StatusCode::kUnavailable) {
      return Status::Unavailable("cluster: append failed: " + failure.ToString());
    }
    {
      std::lock_guard lock(mu_);
      if (!*retrying) ++groups_retrying_;
      *retrying = true;
      unreachable_cause_ = failure;
    }
    const int64_t left_ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (!PauseUnlessStopping(std::clamp<int64_t>(left_ms, 0, backoff_ms))) {
      return Status::Unavailable(kStoppedMessage);
    }
    backoff_ms = std::min(backoff_ms * 2, kAppendBackoffMsMax);
  }
}

// ---- apply side ----

void ReplicatedCommitter::ApplyLoop() {
  if (Status s = ResumePartialGroup(); !s.ok()) {
    if (s.code() == StatusCode::kNotFound) {
      HaltFellBehind(s);
    } else {
      Halt(s, Status::Unavailable("writes stopped: " + s.ToString()));
    }
    return;
  }
  int64_t backoff_ms = kReadBackoffMsMin;
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_ || halted_) return;
    }
    Result<std::vector<LogRecord>> records =
        log_.ReadAfter(applied_revision_.load(), options_.read_batch_max,
                       std::chrono::milliseconds(options_.read_wait_ms));
    ExpireWaiters();
    if (!records.ok()) {
      if (records.status().code() == StatusCode::kNotFound) {
        HaltFellBehind(records.status());
        return;
      }
      {
        std::lock_guard lock(mu_);
        SetUnreachable(&read_unreachable_, true, records.status());
      }
      if (!PauseUnlessStopping(backoff_ms)) return;
      backoff_ms = std::min(backoff_ms * 2, kReadBackoffMsMax);
      continue;
    }
    backoff_ms = kReadBackoffMsMin;
    {
      // The log answers: reachable again (a failing append sets its flag again).
      std::lock_guard lock(mu_);
      SetUnreachable(&read_unreachable_, false, Status::Ok());
    }
    for (const LogRecord& record : *records) {
      if (record.revision <= applied_revision_.load()) continue;  // a misbehaving log
      NoteSeen(record.revision);
      if (Status s = ApplyRecord(record); !s.ok()) {
        Halt(s, Status::Unavailable("writes stopped: " + s.ToString()));
        return;
      }
    }
  }
}

Status ReplicatedCommitter::ResumePartialGroup() {
  const core::GroupPosition pos = applier_.applied_group();
  if (pos.revision == 0 || pos.complete(applier_.applied_index())) return Status::Ok();
  int64_t backoff_ms = kReadBackoffMsMin;
  for (;;) {
    Result<std::vector<LogRecord>> records =
        log_.ReadAfter(pos.revision - 1, 1, std::chrono::milliseconds(options_.read_wait_ms));
    ExpireWaiters();
    if (records.ok() && !records->empty()) {
      const LogRecord& record = records->front();
      if (record.revision != pos.revision) {
        return Status::Corruption("the partly applied group at revision " +
                                  std::to_string(pos.revision) + " is not in the log");
      }
      NEBU_ASSIGN_OR_RETURN(DecodedGroup group, DecodeGroup(record.value));
      if (group.commands.size() != pos.count) {
        return Status::Corruption("the group at revision " + std::to_string(pos.revision) +
                                  " has " + std::to_string(group.commands.size()) +
                                  " commands, apply recorded " + std::to_string(pos.count));
      }
      const size_t done = applier_.applied_index() + 1 - pos.first_index;
      std::vector<ApplyOutcome> outcomes;  // reported to nobody: an earlier incarnation's
      NEBU_RETURN_IF_ERROR(ApplyCommands(group.commands, done, &outcomes));
      trim_safe_revision_ = pos.revision;
      return Status::Ok();
    }
    if (!records.ok() && records.status().code() == StatusCode::kNotFound) {
      return records.status();
    }
    if (!records.ok()) {
      std::lock_guard lock(mu_);
      SetUnreachable(&read_unreachable_, true, records.status());
    }
    if (!PauseUnlessStopping(backoff_ms)) return Status::Ok();  // ApplyLoop sees the stop
    backoff_ms = std::min(backoff_ms * 2, kReadBackoffMsMax);
  }
}

Status ReplicatedCommitter::ApplyCommands(const std::vector<Command>& commands, size_t from,
                                          std::vector<ApplyOutcome>* outcomes) {
  outcomes->reserve(commands.size() - std::min(from, commands.size()));
  for (size_t i = from; i < commands.size(); ++i) {
    outcomes->emplace_back(Status::Internal("unset"));
    NEBU_RETURN_IF_ERROR(applier_.Apply(next_index_, commands[i], &outcomes->back()));
    ++next_index_;
  }
  return applier_.Flush();
}

Status ReplicatedCommitter::ApplyRecord(const LogRecord& record) {
  Result<DecodedGroup> decoded = DecodeGroup(record.value);
  if (!decoded.ok()) {
    return Status::Corruption("record " + record.key + " at revision " +
                              std::to_string(record.revision) + ": " + decoded.status().message());
  }
  DecodedGroup& group = *decoded;
  group.origin.revision = record.revision;
  const bool mine =
      group.origin.node_id == options_.node_id && group.origin.incarnation == options_.incarnation;
  NEBU_ASSIGN_OR_RETURN(
      bool fresh, applier_.BeginGroup(group.origin, static_cast<uint32_t>(group.commands.size())));
  if (!fresh) {
    skipped_groups_.fetch_add(1);
    PublishApplied(record.revision);
    if (mine) {
      // Applied before and not answered: only possible if the first copy landed in
      // an earlier run of this incarnation's number, which NewIncarnation excludes.
      std::vector<ProposalDone> waiters = TakeWaiters(group.origin.seq);
      AnswerAll(waiters, Status::Unavailable("cluster: the group was applied before; its "
                                             "outcome is unknown"));
    }
    return Status::Ok();
  }
  std::vector<ApplyOutcome> outcomes;
  NEBU_RETURN_IF_ERROR(ApplyCommands(group.commands, 0, &outcomes));
  PublishApplied(record.revision);
  trim_safe_revision_ = record.revision;
  applied_groups_.fetch_add(1);
  if (!mine) return Status::Ok();
  std::vector<ProposalDone> waiters = TakeWaiters(group.origin.seq);
  if (waiters.empty()) return Status::Ok();  // answered kUnavailable at the write bound
  NEBU_CHECK(waiters.size() == outcomes.size(), "group waiters do not match its commands");
  for (size_t i = 0; i < waiters.size(); ++i) waiters[i](std::move(outcomes[i]));
  return Status::Ok();
}

// ---- shared ----

bool ReplicatedCommitter::PauseUnlessStopping(int64_t ms) {
  std::unique_lock lock(mu_);
  stop_cv_.wait_for(lock, std::chrono::milliseconds(ms), [&] { return stopping_; });
  return !stopping_;
}

void ReplicatedCommitter::Halt(const Status& cause, const Status& proposal_status) {
  std::deque<Proposal> queued;
  std::map<uint64_t, Waiting> waiting;
  {
    std::lock_guard lock(mu_);
    if (halted_) return;
    halted_ = true;
    halt_status_ = cause.code() == StatusCode::kNotFound ? cause : proposal_status;
    halt_proposal_status_ = proposal_status;
    queued.swap(queue_);
    waiting.swap(waiting_);
  }
  for (auto& p : queued) p.done(proposal_status);
  for (auto& [seq, w] : waiting) AnswerAll(w.waiters, proposal_status);
}

void ReplicatedCommitter::HaltFellBehind(const Status& trimmed) {
  const std::string why = "cluster: fell behind the log's trim point at applied revision " +
                          std::to_string(applied_revision_.load()) + " (" + trimmed.message() +
                          "); copy a peer's checkpoint (nebu cluster join)";
  Halt(Status::NotFound(why), Status::Unavailable("writes stopped: " + why));
}

void ReplicatedCommitter::SetUnreachable(bool* flag, bool value, const Status& cause) {
  *flag = value;
  if (value) unreachable_cause_ = cause;
}

void ReplicatedCommitter::PublishApplied(uint64_t revision) {
  applied_revision_.store(revision);
  if (applied_waiters_.load() == 0) return;  // a waiter registers before it checks
  { std::lock_guard lock(applied_mu_); }     // it checks under the lock: no lost wake-up
  applied_cv_.notify_all();
}

bool ReplicatedCommitter::WaitApplied(uint64_t revision,
                                      std::chrono::steady_clock::time_point deadline) const {
  if (applied_revision_.load() >= revision) return true;
  std::unique_lock lock(applied_mu_);
  applied_waiters_.fetch_add(1);
  const bool reached = applied_cv_.wait_until(
      lock, deadline, [this, revision] { return applied_revision_.load() >= revision; });
  applied_waiters_.fetch_sub(1);
  return reached;
}

void ReplicatedCommitter::NoteSeen(uint64_t revision) {
  uint64_t seen = last_seen_revision_.load();
  while (revision > seen && !last_seen_revision_.compare_exchange_weak(seen, revision)) {
  }
}

}  // namespace nebu::replication
