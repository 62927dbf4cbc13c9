// Notifier: wakes /sync long-polls when the stream position passes what they saw.
//
// The state machine calls Advance(pos) after each applied write is visible to
// readers. A waiter either blocks (WaitBeyond) or registers a callback
// (Subscribe) that runs once, on the advancing thread, as soon as the position
// exceeds the one it saw — the HTTP layer posts it back to its own executor.
//
//   StreamPosition now = notifier.WaitBeyond(since, std::chrono::milliseconds(30000));
//
// Thread-safety: all methods are safe from any thread. Callbacks must be short and
// must not call back into the Notifier.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>

#include "engine/storage/keys.h"

namespace nebu::core {

using storage::StreamPosition;

class Notifier {
 public:
  using Callback = std::function<void(StreamPosition now)>;
  using SubscriptionId = uint64_t;

  explicit Notifier(StreamPosition start = 0) : position_(start) {}

  // Publishes a new position (monotonic; a smaller value is ignored) and wakes
  // every waiter whose `since` is below it.
  void Advance(StreamPosition position);
  StreamPosition current() const;

  // Blocks until current() > since or the timeout passes; returns current().
  StreamPosition WaitBeyond(StreamPosition since, std::chrono::milliseconds timeout);

  // Calls cb(now) once when current() > since (immediately, on this thread, if it
  // already is; then returns 0). Otherwise returns an id for Unsubscribe.
  SubscriptionId Subscribe(StreamPosition since, Callback cb);
  // True if the subscription was still pending (and now will never fire).
  bool Unsubscribe(SubscriptionId id);
  size_t pending() const;

 private:
  struct Waiter {
    StreamPosition since;
    Callback cb;
  };
  mutable std::mutex mu_;
  std::condition_variable cv_;
  StreamPosition position_;                    // guarded by mu_
  SubscriptionId next_id_ = 1;                 // guarded by mu_
  std::multimap<StreamPosition, SubscriptionId> by_since_;  // guarded by mu_
  std::map<SubscriptionId, Waiter> waiters_;   // guarded by mu_
};

}  // namespace nebu::core
