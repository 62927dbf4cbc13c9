// NotificationWorker: evaluates push rules for every room event, off the request path,
// and keeps the notification records and unread counts of push/notifications.h.
//
//   push::NotificationWorker worker(engine);
//   NEBU_RETURN_IF_ERROR(worker.Start());   // a thread that follows the stream
//   worker.notifier().Subscribe(seen, [](StreamPosition cursor) { ... });
//   ...
//   worker.Stop();                          // before the engine goes
//
// What it does: it follows the engine's stream (core::ScanStream) behind apply, woken by
// the engine's Notifier. For each room event it evaluates the push rules (push/rule_eval.h)
// ONCE for every joined member but the sender (and, for an invite, for the invitee),
// with the room as it was just before the event (members, display names, power levels,
// creator: from the state history, never current state), and stages notification
// records and count increments. For each read receipt (StreamKind::kReceipt; threaded:
// "" covers every thread, "main" the main timeline, a root that thread) it removes the
// user's unread entries at or before the receipt's event and lowers the counts. Each
// unit of work (at most kWorkerEntriesPerBatchMax stream entries, cut early after
// kWorkerNotificationsPerBatchMax notifications; a receipt always starts a new unit) is
// one RocksDB batch holding its records, counts and the new cursor: a restart resumes
// at the cursor and nothing is counted twice. A store whose format version differs
// (kNotificationsFormatVersion) is wiped and rebuilt from position 0 at Start.
//
// Bounds: per event at most kMembersEvaluatedPerEventMax members are evaluated (the
// first ones by user ID; members beyond get no notification for that event); per user
// at most kNotificationsPerUserMax records are kept. Caches (bounded, cleared whole
// when full): room contexts (kRoomContextsCachedMax rooms; a room's context follows the
// log event by event and is reloaded from state history when the worker meets the
// room at another sequence) and compiled rule sets (kRuleSetsCachedMax users,
// kConditionsInternedMax distinct conditions; push/rule_eval.h CompiledRuleset: the
// conditions shared by the members' rules are evaluated once per event).
//
// Cost: a unit's writes are sorted by key before they go into its batch (the same
// final state: writes to one key keep their order), so RocksDB inserts them into the
// memtable in order, which is several times cheaper than in the order they arise
// (member by member, alternating between the key families).
//
// Determinism: the same log gives the same records and counts on every node, with two
// windows, both closed by the later entry: (1) push rules: a user's rules are read when
// first needed and again after each m.push_rules account-data entry of that user; a
// worker that lags behind two edits of one user's rules reads the later set already
// for the events between them. (2) receipts: a receipt superseded (same room, type,
// user, thread) before the worker reaches it is applied at the position of the one
// that superseded it. Records written after the later entry are the same everywhere.
//
// Thread-safety: Start/Stop from one thread; notifier() and cursor() from any thread.
// The engine must outlive the worker (Stop, or the destructor, joins the thread).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <thread>

#include "engine/common/status.h"
#include "engine/core/notifier.h"
#include "engine/storage/keys.h"

namespace nebu::core {
class Engine;
}

namespace nebu::push {

// Stream entries per unit of work (one batch).
inline constexpr size_t kWorkerEntriesPerBatchMax = 1024;
// A unit of work ends after the entry that brings its notifications to this many.
inline constexpr size_t kWorkerNotificationsPerBatchMax = 20000;
// Members whose rules are evaluated for one event (the first by user ID).
inline constexpr size_t kMembersEvaluatedPerEventMax = 10000;
// Cached room contexts and compiled rule sets.
inline constexpr size_t kRoomContextsCachedMax = 256;
inline constexpr size_t kRuleSetsCachedMax = 20000;
// Distinct conditions interned for the compiled rule sets (push/rule_eval.h); past it
// the rule sets and the interner are cleared together.
inline constexpr size_t kConditionsInternedMax = 200000;
// How long the worker waits after a storage error before it retries its unit of work.
inline constexpr int64_t kWorkerRetryMs = 1000;

class NotificationWorker {
 public:
  explicit NotificationWorker(core::Engine& engine);
  ~NotificationWorker();
  NotificationWorker(const NotificationWorker&) = delete;
  NotificationWorker& operator=(const NotificationWorker&) = delete;

  // Checks the format version (wiping and rebuilding on a mismatch), loads the cursor
  // and starts the thread. kIoError / kCorruption from the store.
  [[nodiscard]] Status Start();
  // Stops and joins the thread; idempotent.
  void Stop();

  // Advances to the cursor after each batch is written (readable by engine.Read()).
  core::Notifier& notifier() { return notifier_; }
  storage::StreamPosition cursor() const { return notifier_.current(); }
  // True once the worker caught up with the stream it found at Start (after a rebuild
  // it may be far behind until then).
  bool caught_up() const { return caught_up_.load(); }

  // Processes everything up to the engine's current position on the calling thread
  // (tests and benches without Start). Errors as the thread's.
  [[nodiscard]] Status RunOnce();

  // Test hook: while held, the thread finishes its current unit of work and then does
  // nothing more (the cursor stays) until Hold(false). Lets a test make the worker lag
  // behind apply without timing.
  void Hold(bool held);

 private:
  class Impl;
  void Loop();

  core::Engine& engine_;
  core::Notifier notifier_;
  std::unique_ptr<Impl> impl_;
  std::atomic<bool> caught_up_{false};
  storage::StreamPosition start_head_ = 0;
  // Shared with the engine-notifier callbacks, which may still run after Stop.
  struct Wake {
    std::mutex mu;
    std::condition_variable cv;
    bool stop = false;   // guarded by mu
    bool woken = false;  // guarded by mu
    bool held = false;   // guarded by mu: Hold()
  };
  std::shared_ptr<Wake> wake_ = std::make_shared<Wake>();
  std::thread thread_;
};

}  // namespace nebu::push
