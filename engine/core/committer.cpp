#include "engine/core/committer.h"

#include <pthread.h>

#include <future>

#include "engine/storage/keys.h"

namespace nebu::core {

using storage::Cf;

ApplyOutcome ProposeAndWait(Committer& committer, Command command) {
  std::promise<ApplyOutcome> promise;
  auto future = promise.get_future();
  committer.Propose(std::move(command),
                    [&promise](ApplyOutcome outcome) { promise.set_value(std::move(outcome)); });
  return future.get();
}

LocalCommitter::LocalCommitter(storage::Store& store, Applier& applier,
                               LocalCommitterOptions options)
    : store_(store), applier_(applier), options_(options) {}

LocalCommitter::~LocalCommitter() { Stop(); }

Status LocalCommitter::Start() {
  NEBU_CHECK(!started_, "LocalCommitter started twice");
  LogIndex applied = applier_.applied_index();
  LogIndex last = applied;
  auto it = store_.NewIterator(Cf::kCommitLog);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() != 8) return Status::Corruption("bad commit log key");
    LogIndex index = storage::GetU64(it->key().data());
    if (index <= applied) continue;
    if (index != last + 1) {
      return Status::Corruption("commit log gap: expected " + std::to_string(last + 1) +
                                " found " + std::to_string(index));
    }
    NEBU_ASSIGN_OR_RETURN(Command command, DecodeCommand(it->value().ToStringView()));
    ApplyOutcome ignored = Status::Internal("unset");
    NEBU_RETURN_IF_ERROR(applier_.Apply(index, command, &ignored));
    last = index;
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  NEBU_RETURN_IF_ERROR(applier_.Flush());
  next_index_ = last + 1;
  trimmed_below_ = 1;
  last_committed_ = last;
  started_ = true;
  commit_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "nebu-commit");
    CommitLoop();
  });
  apply_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "nebu-apply");
    ApplyLoop();
  });
  return Status::Ok();
}

void LocalCommitter::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  commit_cv_.notify_all();
  apply_cv_.notify_all();
  if (commit_thread_.joinable()) commit_thread_.join();
  if (apply_thread_.joinable()) apply_thread_.join();
}

Status LocalCommitter::write_status() const {
  std::lock_guard lock(mu_);
  return halted_ ? halt_status_ : Status::Ok();
}

void LocalCommitter::SetGroupObserver(GroupObserver observer) {
  NEBU_CHECK(!started_, "SetGroupObserver after Start");
  on_group_ = std::move(observer);
}

void LocalCommitter::Halt(const Status& cause) {
  std::lock_guard lock(mu_);
  if (halted_) return;
  halted_ = true;
  halt_status_ = Status::Unavailable("writes stopped: " + cause.ToString());
}

void LocalCommitter::Propose(Command command, ProposalDone done) {
  Status rejected;
  if (command.payload.size() > kCommandBytesMax) {
    done(Status::TooLarge("command of " + std::to_string(command.payload.size()) +
                          " bytes is over the log's limit of " +
                          std::to_string(kCommandBytesMax)));
    return;
  }
  {
    std::lock_guard lock(mu_);
    if (stopping_ || !started_) {
      rejected = Status::Unavailable("the write path is stopped");
    } else if (halted_) {
      rejected = halt_status_;
    } else if (queue_.size() >= options_.queue_max) {
      rejected = Status::ResourceExhausted("too many writes waiting to commit");
    } else {
      queue_.push_back(Proposal{std::move(command), std::move(done), 0});
    }
  }
  if (!rejected.ok()) {
    done(std::move(rejected));
    return;
  }
  commit_cv_.notify_one();
}

void LocalCommitter::FailAll(std::vector<Proposal>& group, const Status& status) {
  for (auto& p : group) p.done(status);
  group.clear();
}

Status LocalCommitter::CommitRefusal() {
  NEBU_RETURN_IF_ERROR(write_status());
  if (options_.disk_free_bytes_min == 0) return Status::Ok();
  Result<uint64_t> free_bytes = store_.FreeBytes();
  if (free_bytes.ok() && *free_bytes < options_.disk_free_bytes_min) {
    return Status::NoSpace("disk full: " + std::to_string(*free_bytes) +
                           " bytes free, writes need " +
                           std::to_string(options_.disk_free_bytes_min) +
                           "; refused until space is freed");
  }
  return Status::Ok();
}

void LocalCommitter::CommitLoop() {
  for (;;) {
    std::vector<Proposal> group;
    {
      std::unique_lock lock(mu_);
      commit_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) break;  // stopping and drained
      size_t n = std::min(queue_.size(), options_.group_max);
      group.reserve(n);
      for (size_t i = 0; i < n; ++i) {
        group.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    // Refused groups are not committed: their proposers may retry.
    if (Status refusal = CommitRefusal(); !refusal.ok()) {
      FailAll(group, refusal);
      continue;
    }
    rocksdb::WriteBatch batch;
    LogIndex index = next_index_;
    for (auto& p : group) {
      p.index = index++;
      batch.Put(store_.handle(Cf::kCommitLog), storage::U64Key(p.index),
                EncodeCommand(p.command));
    }
    // Entries whose effects the state machine made durable are no longer needed.
    LogIndex applied = applier_.applied_index();
    LogIndex trim_to = trimmed_below_;
    if (applied + 1 >= trimmed_below_ + options_.trim_every_entries &&
        applier_.SyncApplied().ok()) {
      batch.DeleteRange(store_.handle(Cf::kCommitLog), storage::U64Key(trimmed_below_),
                        storage::U64Key(applied + 1));
      trim_to = applied + 1;
    }
    Status s = store_.Write(batch, options_.sync);
    if (!s.ok()) {
      // Nothing of the group was committed (a RocksDB write is atomic).
      FailAll(group, s.code() == StatusCode::kNoSpace
                         ? s
                         : Status::Unavailable("the commit log write failed, nothing was "
                                               "committed: " + s.ToString()));
      continue;
    }
    trimmed_below_ = trim_to;
    next_index_ = index;
    last_committed_ = index - 1;
    commit_groups_.fetch_add(1);
    if (on_group_) on_group_(group.size());
    {
      std::lock_guard lock(mu_);
      applying_.push_back(std::move(group));
    }
    apply_cv_.notify_one();
  }
  {
    std::lock_guard lock(mu_);
    commit_done_ = true;
  }
  apply_cv_.notify_one();
}

void LocalCommitter::ApplyLoop() {
  for (;;) {
    std::vector<Proposal> group;
    bool halted;
    {
      std::unique_lock lock(mu_);
      apply_cv_.wait(lock, [&] { return commit_done_ || !applying_.empty(); });
      if (applying_.empty()) break;  // commit thread finished and all applied
      group = std::move(applying_.front());
      applying_.pop_front();
      halted = halted_;
    }
    if (halted) {
      // Committed before the halt: applied at the next start, not now.
      FailAll(group, write_status());
      continue;
    }
    std::vector<ApplyOutcome> outcomes;
    outcomes.reserve(group.size());
    Status s;
    for (auto& p : group) {
      outcomes.emplace_back(Status::Internal("unset"));
      s = applier_.Apply(p.index, p.command, &outcomes.back());
      if (!s.ok()) break;
    }
    if (s.ok()) s = applier_.Flush();
    if (!s.ok()) {
      // Never a rejection: another replica applying the same command would succeed.
      Halt(s);
      FailAll(group, write_status());
      continue;
    }
    for (size_t i = 0; i < group.size(); ++i) group[i].done(std::move(outcomes[i]));
  }
}

}  // namespace nebu::core
