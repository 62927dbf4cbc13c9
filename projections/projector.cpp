#include "projections/projector.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "projections/accounts_snapshot.h"
#include "projections/audit_projection.h"
#include "projections/batch_writer.h"
#include "projections/media_snapshot.h"
#include "projections/purge_projection.h"
#include "projections/prefetcher.h"
#include "projections/search_indexer.h"

namespace nebu::projections {

using storage::StreamPosition;

std::string_view ProjectorStateName(ProjectorState state) {
  switch (state) {
    case ProjectorState::kStopped: return "stopped";
    case ProjectorState::kConnecting: return "connecting";
    case ProjectorState::kCatchingUp: return "catching_up";
    case ProjectorState::kLive: return "live";
    case ProjectorState::kRetrying: return "retrying";
    case ProjectorState::kFailed: return "failed";
  }
  return "unknown";
}

Projector::Projector(storage::ReadView store, ProjectorOptions options)
    : store_(std::move(store)), options_(std::move(options)) {
  if (!options_.clock) options_.clock = &system_clock_;
}

Projector::~Projector() { Stop(); }

void Projector::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
  if (options_.search) search_thread_ = std::thread([this] { RunSearch(); });
}

void Projector::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (search_thread_.joinable()) search_thread_.join();
  SetState(ProjectorState::kStopped, Status::Ok());
}

StreamPosition Projector::HeadPosition() const {
  StreamReader reader(store_);
  Result<StreamPosition> head = reader.Head();
  StreamPosition from_notifier = options_.notifier ? options_.notifier->current() : 0;
  return std::max(head.ok() ? *head : 0, from_notifier);
}

ProjectorStats Projector::Stats() const {
  ProjectorStats stats;
  {
    std::lock_guard lock(mu_);
    stats.state = state_;
    stats.checkpoint = checkpoint_;
    stats.events_projected = events_projected_;
    stats.batches = batches_;
    stats.last_error = last_error_;
    stats.search_checkpoint = search_checkpoint_;
  }
  stats.search_lag_entries =
      stats.checkpoint > stats.search_checkpoint ? stats.checkpoint - stats.search_checkpoint : 0;
  stats.head = HeadPosition();
  stats.lag_entries = stats.head > stats.checkpoint ? stats.head - stats.checkpoint : 0;
  if (stats.lag_entries > 0) {
    StreamReader reader(store_);
    Result<std::optional<int64_t>> ts = reader.FirstEventTsAfter(stats.checkpoint);
    if (ts.ok() && ts->has_value()) {
      stats.lag_ms = std::max<int64_t>(0, options_.clock->NowUnixMs() - **ts);
    }
  }
  return stats;
}

void Projector::SetState(ProjectorState state, const Status& cause) {
  ProjectorState previous;
  {
    std::lock_guard lock(mu_);
    previous = state_;
    state_ = state;
    if (!cause.ok()) last_error_ = cause.ToString();
  }
  LogTransition(previous, state, cause);
}

void Projector::LogTransition(ProjectorState previous, ProjectorState state, const Status& cause) {
  if (previous == state) return;
  switch (state) {
    case ProjectorState::kRetrying:
      spdlog::warn("projector: {} -> retrying: {}", ProjectorStateName(previous), cause.ToString());
      break;
    case ProjectorState::kFailed:
      spdlog::error("projector: {} -> failed: {}", ProjectorStateName(previous), cause.ToString());
      break;
    default:
      spdlog::info("projector: {} -> {}", ProjectorStateName(previous), ProjectorStateName(state));
      break;
  }
}

bool Projector::Sleep(std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, wait, [this] { return stop_.load(); });
  return !stop_;
}

Status Projector::Step(BatchWriter& writer, Prefetcher& ahead, StreamPosition* checkpoint,
                       bool* idle) {
  *idle = false;
  NEBU_ASSIGN_OR_RETURN(PreparedBatch prepared, ahead.Next(*checkpoint));
  const StreamBatch& batch = prepared.batch;
  if (batch.upto == *checkpoint) {
    *idle = true;
    return Status::Ok();
  }
  Status written = writer.Write(batch, &prepared.derived);
  if (written.code() == StatusCode::kAlreadyExists) {  // another projector was first
    spdlog::debug("projector: {}", written.message());
    NEBU_ASSIGN_OR_RETURN(*checkpoint, writer.Checkpoint());
  } else {
    NEBU_RETURN_IF_ERROR(written);
    *checkpoint = batch.upto;
  }
  // The checkpoint and the state are published together, so a reader that sees
  // the checkpoint at the head also sees the state that goes with it.
  StreamPosition head = HeadPosition();
  ProjectorState state = head - std::min(head, *checkpoint) > options_.limits.entries_max
                             ? ProjectorState::kCatchingUp
                             : ProjectorState::kLive;
  ProjectorState previous;
  {
    std::lock_guard lock(mu_);
    checkpoint_ = *checkpoint;
    previous = state_;
    state_ = state;
    if (written.ok()) {
      events_projected_ += batch.events.size();
      ++batches_;
      last_error_.clear();
    }
  }
  LogTransition(previous, state, Status::Ok());
  cv_.notify_all();  // the search pass follows the checkpoint
  if (written.ok() && options_.on_commit) options_.on_commit(batch.upto, batch.events.size());
  return Status::Ok();
}

Status Projector::SyncAccounts(BatchWriter& writer) {
  NEBU_ASSIGN_OR_RETURN(AccountsSnapshot snapshot, ReadAccounts(store_));
  NEBU_RETURN_IF_ERROR(WriteAccounts(writer.connection(), snapshot, &accounts_digest_));
  // Media records ride along (media_snapshot.h): not on the stream either.
  NEBU_ASSIGN_OR_RETURN(MediaSnapshot media, ReadMediaSnapshot(store_));
  NEBU_RETURN_IF_ERROR(WriteMediaSnapshot(writer.connection(), media, &media_digest_));
  // Audit records (audit_projection.h).
  NEBU_RETURN_IF_ERROR(ProjectAudit(writer.connection(), store_));
  // Legal holds and purged events' tombstones ride along too (purge_projection.h).
  NEBU_RETURN_IF_ERROR(ProjectHolds(writer.connection(), store_, &holds_digest_));
  return ProjectPurges(writer.connection(), store_).status();
}

void Projector::Run() {
  std::chrono::milliseconds backoff = options_.backoff_min;
  std::unique_ptr<BatchWriter> writer;
  Prefetcher ahead(store_, options_.limits);
  StreamPosition checkpoint = 0;
  auto next_accounts_sync = std::chrono::steady_clock::now();
  auto retry = [&](ProjectorState state, const Status& cause) {
    writer.reset();
    SetState(state, cause);
    bool go_on = Sleep(backoff);
    backoff = std::min(backoff * 2, options_.backoff_max);
    return go_on;
  };
  while (!stop_) {
    if (!writer) {
      SetState(ProjectorState::kConnecting, Status::Ok());
      Result<std::unique_ptr<BatchWriter>> connected = BatchWriter::Connect(options_.db_url);
      if (!connected.ok()) {
        if (!retry(ProjectorState::kRetrying, connected.status())) break;
        continue;
      }
      Result<StreamPosition> at = (*connected)->Checkpoint();
      if (!at.ok()) {
        if (!retry(ProjectorState::kRetrying, at.status())) break;
        continue;
      }
      writer = std::move(*connected);
      checkpoint = *at;
      {
        std::lock_guard lock(mu_);
        checkpoint_ = checkpoint;
      }
    }
    bool idle = false;
    Status step = Step(*writer, ahead, &checkpoint, &idle);
    if (step.ok() && std::chrono::steady_clock::now() >= next_accounts_sync) {
      step = SyncAccounts(*writer);
      next_accounts_sync = std::chrono::steady_clock::now() + std::chrono::milliseconds(kAccountsSyncIntervalMs);
    }
    if (!step.ok()) {
      bool stream_broken = step.code() == StatusCode::kCorruption;
      if (!retry(stream_broken ? ProjectorState::kFailed : ProjectorState::kRetrying, step)) break;
      if (stream_broken) backoff = options_.backoff_max;
      continue;
    }
    backoff = options_.backoff_min;
    if (idle) {
      SetState(ProjectorState::kLive, Status::Ok());
      if (options_.notifier) {
        options_.notifier->WaitBeyond(checkpoint, std::chrono::milliseconds(kIdleWaitMs));
      } else if (!Sleep(std::chrono::milliseconds(kIdleWaitMs))) {
        break;
      }
      continue;
    }
  }
}

void Projector::RunSearch() {
  std::chrono::milliseconds backoff = options_.backoff_min;
  std::unique_ptr<SearchIndexer> indexer;
  std::string failing;  // the error last logged ("" while healthy)
  auto fail = [&](const Status& cause) {
    indexer.reset();
    if (failing != cause.ToString()) {
      failing = cause.ToString();
      spdlog::warn("projector: search pass failing (retrying): {}", failing);
    }
    bool go_on = Sleep(backoff);
    backoff = std::min(backoff * 2, options_.backoff_max);
    return go_on;
  };
  bool more = true;  // the last step did not reach the events' checkpoint
  while (!stop_) {
    if (!more) {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, std::chrono::milliseconds(kIdleWaitMs), [&] {
        return stop_.load() ||
               (checkpoint_ > search_checkpoint_ &&
                (state_ == ProjectorState::kLive || options_.search_while_catching_up));
      });
      if (stop_) break;
    }
    if (!indexer) {
      Result<std::unique_ptr<SearchIndexer>> connected = SearchIndexer::Connect(options_.db_url);
      if (!connected.ok()) {
        if (!fail(connected.status())) break;
        continue;
      }
      indexer = std::move(*connected);
    }
    Result<SearchStep> step = indexer->Step();
    if (!step.ok()) {
      if (!fail(step.status())) break;
      continue;
    }
    if (!failing.empty()) {
      spdlog::info("projector: search pass recovered");
      failing.clear();
    }
    backoff = options_.backoff_min;
    more = step->checkpoint < step->events_checkpoint;
    std::lock_guard lock(mu_);
    search_checkpoint_ = step->checkpoint;
    if (more && state_ == ProjectorState::kCatchingUp && !options_.search_while_catching_up) {
      more = false;  // wait for the events to be live
    }
  }
}

Status Projector::CatchUp(const std::function<void(const ProjectorStats&)>& progress) {
  NEBU_RETURN_IF_ERROR(CatchUpEvents(progress));
  return options_.search ? CatchUpSearch() : Status::Ok();
}

Status Projector::CatchUpSearch() {
  if (!catch_up_search_) {
    NEBU_ASSIGN_OR_RETURN(catch_up_search_, SearchIndexer::Connect(options_.db_url));
  }
  Result<SearchStep> done = catch_up_search_->CatchUp();
  if (!done.ok()) {
    catch_up_search_.reset();
    return done.status();
  }
  std::lock_guard lock(mu_);
  search_checkpoint_ = done->checkpoint;
  return Status::Ok();
}

Status Projector::CatchUpEvents(const std::function<void(const ProjectorStats&)>& progress) {
  if (!catch_up_writer_) {
    NEBU_ASSIGN_OR_RETURN(catch_up_writer_, BatchWriter::Connect(options_.db_url));
  }
  BatchWriter* writer = catch_up_writer_.get();
  Result<StreamPosition> at = writer->Checkpoint();
  if (!at.ok()) {
    catch_up_writer_.reset();
    return at.status();
  }
  StreamPosition checkpoint = *at;
  Prefetcher ahead(store_, options_.limits);
  StreamPosition target = HeadPosition();
  {
    std::lock_guard lock(mu_);
    checkpoint_ = checkpoint;
    state_ = ProjectorState::kCatchingUp;
  }
  while (checkpoint < target) {
    bool idle = false;
    Status step = Step(*writer, ahead, &checkpoint, &idle);
    if (!step.ok()) {
      catch_up_writer_.reset();
      return step;
    }
    if (idle) break;  // the head had positions without entries: nothing more to read
    if (progress) progress(Stats());
  }
  Status accounts = SyncAccounts(*writer);
  if (!accounts.ok()) {
    catch_up_writer_.reset();
    return accounts;
  }
  std::lock_guard lock(mu_);
  state_ = ProjectorState::kLive;
  return Status::Ok();
}

}  // namespace nebu::projections
