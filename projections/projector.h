// Projector: tails the engine's node-wide stream and writes it into PostgreSQL, on its
// own thread, in bounded batches (StreamReader: entries, bytes and collection time),
// each batch with its checkpoint in one transaction (BatchWriter), so the projection
// holds every stream entry's effect exactly once.
//
//   Projector projector(engine.Latest(), {.db_url = url, .notifier = &engine.notifier()});
//   projector.Start();                       // returns at once
//   ProjectorStats s = projector.Stats();    // any thread: state, checkpoint, head, lag
//   projector.Stop();                        // or destroy it
//
// Accounts (users, profiles, devices, token and password hashes) are not on the
// stream: every kAccountsSyncIntervalMs (and at the end of CatchUp) the projector
// writes a snapshot of them when it changed (accounts_snapshot.h), and so are the media
// records (media_snapshot.h) and the audit log's new records (audit_projection.h).
//
// PostgreSQL down or slow never touches the write path: the projector only reads
// RocksDB. On any PostgreSQL error it drops the connection and retries with capped
// exponential backoff (kBackoffMsMin doubling to kBackoffMsMax); each change of state
// is logged once (not every retry). When another projector committed the batch first
// (the checkpoint moved), it re-reads the checkpoint and goes on from there.
//
// The full-text pass (search_indexer.h) runs on a second thread with its own
// connection, behind the events' checkpoint: while the events are live it follows them
// batch by batch (a message is searchable a moment after it is in `events`); while they
// are catching up it waits (search_while_catching_up = false), so on a small machine a
// large backlog goes into `events` at full speed and the search pass follows. Its
// failures are retried with the same backoff and logged once per change.
//
// CatchUp() runs the same loop on the caller's thread until the stream head seen at
// the call is covered, without retries (rebuild, tests, benchmarks); it keeps its
// connection between calls (dropped after an error). Don't mix it with a started thread.
//
// Thread-safety: Start/Stop from one owner thread; Stats from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include "engine/common/clock.h"
#include "engine/common/status.h"
#include "engine/core/notifier.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"
#include "projections/stream_reader.h"

namespace nebu::projections {

inline constexpr int64_t kBackoffMsMin = 100;
inline constexpr int64_t kBackoffMsMax = 10'000;
inline constexpr int64_t kIdleWaitMs = 100;  // poll interval when caught up and no notifier

enum class ProjectorState : uint8_t {
  kStopped,     // not started, or stopped
  kConnecting,  // opening the PostgreSQL connection
  kCatchingUp,  // more than one batch behind the stream head
  kLive,        // within one batch of the head
  kRetrying,    // PostgreSQL failed; waiting to retry
  kFailed,      // the stream cannot be read (corruption); retried slowly
};
std::string_view ProjectorStateName(ProjectorState state);

struct ProjectorStats {
  ProjectorState state = ProjectorState::kStopped;
  storage::StreamPosition checkpoint = 0;  // the last position in PostgreSQL
  storage::StreamPosition head = 0;        // the last position in the stream
  uint64_t lag_entries = 0;                // head - checkpoint
  int64_t lag_ms = 0;  // age of the oldest unprojected room event (0 when none)
  uint64_t events_projected = 0;  // by this projector since it started
  uint64_t batches = 0;
  std::string last_error;  // the last PostgreSQL error ("" after a success)
  storage::StreamPosition search_checkpoint = 0;  // the full-text pass's position
  uint64_t search_lag_entries = 0;                // checkpoint - search_checkpoint
};

struct ProjectorOptions {
  std::string db_url;  // never logged
  ReadLimits limits{};
  core::Notifier* notifier = nullptr;  // wakes the projector on new writes when given
  const Clock* clock = nullptr;        // nullptr: SystemClock (lag_ms)
  std::chrono::milliseconds backoff_min{kBackoffMsMin};
  std::chrono::milliseconds backoff_max{kBackoffMsMax};
  // Called on the projector thread after each committed batch (benchmarks, tests).
  std::function<void(storage::StreamPosition upto, size_t events)> on_commit;
  bool search = true;                     // run the full-text pass (search_indexer.h)
  bool search_while_catching_up = false;  // also while the events are > 1 batch behind
};

class BatchWriter;
class SearchIndexer;
class Prefetcher;

class Projector {
 public:
  Projector(storage::ReadView store, ProjectorOptions options);
  ~Projector();
  Projector(const Projector&) = delete;
  Projector& operator=(const Projector&) = delete;

  void Start();
  void Stop();
  [[nodiscard]] ProjectorStats Stats() const;

  // Projects until the head seen now is covered, then the accounts snapshot and the
  // full-text pass; progress(stats) after each batch of events.
  [[nodiscard]] Status CatchUp(const std::function<void(const ProjectorStats&)>& progress = {});
  // CatchUp's two halves: the events (and accounts), then the full-text pass up to the
  // events' checkpoint.
  [[nodiscard]] Status CatchUpEvents(const std::function<void(const ProjectorStats&)>& progress = {});
  [[nodiscard]] Status CatchUpSearch();

 private:
  void Run();
  void RunSearch();
  void SetState(ProjectorState state, const Status& cause);
  static void LogTransition(ProjectorState previous, ProjectorState state, const Status& cause);
  // Waits up to `wait`, or less when Stop is called; false once stopping.
  bool Sleep(std::chrono::milliseconds wait);
  // One batch: kOk with *idle = true when nothing was new.
  Status Step(BatchWriter& writer, Prefetcher& ahead, storage::StreamPosition* checkpoint,
              bool* idle);
  storage::StreamPosition HeadPosition() const;
  // Writes the accounts snapshot when it changed (accounts_snapshot.h).
  Status SyncAccounts(BatchWriter& writer);

  storage::ReadView store_;
  ProjectorOptions options_;
  SystemClock system_clock_;
  std::thread thread_;
  std::thread search_thread_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::condition_variable cv_;
  ProjectorState state_ = ProjectorState::kStopped;       // guarded by mu_
  storage::StreamPosition checkpoint_ = 0;                // guarded by mu_
  uint64_t events_projected_ = 0;                         // guarded by mu_
  uint64_t batches_ = 0;                                  // guarded by mu_
  std::string last_error_;                                // guarded by mu_
  storage::StreamPosition search_checkpoint_ = 0;         // guarded by mu_
  std::unique_ptr<BatchWriter> catch_up_writer_;  // CatchUp's connection, kept between calls
  std::unique_ptr<SearchIndexer> catch_up_search_;  // CatchUpSearch's connection
  std::string accounts_digest_;  // of the last accounts snapshot written (projector thread)
  std::string media_digest_;     // of the last media snapshot written (projector thread)
  std::string holds_digest_;  // projector thread: the last legal holds written (purge_projection.h)
};

}  // namespace nebu::projections
