// TypingTracker: who is typing in which room (m.typing), kept in memory from an
// EphemeralBus (api/ephemeral_bus.h): not persisted; with the etcd bus shared by
// every node of a cluster, with the in-memory bus (the default) one process's.
//
//   TypingTracker typing;                    // its own InMemoryEphemeralBus
//   TypingTracker typing(&bus);              // a shared bus (outlives the tracker)
//   typing.Set("!r:hs", "@a:hs", true, std::chrono::seconds(10));   // PUT .../typing
//   auto changed = typing.ChangedSince(since_serial);                // /sync ephemeral
//
// Set publishes on the bus (key typing/<room>/<user>, value "1", ttl = the timeout;
// not typing: delete); the tracker's state changes only when the update comes back
// (at once with the in-memory bus; from the watch with etcd), so every node sees the
// same changes with the same serials. Expiry is the bus's: the key's ttl (in memory a
// timer; etcd a lease, so a dead node's typing users stop within the timeout).
//
// Serials: every change (set, clear, expiry) takes the serial of its bus update
// (in memory: the wall-clock ms at the bus's construction, then +1 per update, so
// serials a client got from an earlier process are below the new ones; etcd: the
// revision, the same on every node). serial() is the serial of the last change seen.
//
// Thread-safety: all methods are safe from any thread.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "api/ephemeral_bus.h"

namespace nebu::api {

inline constexpr std::chrono::milliseconds kTypingTimeoutMax{30000};
// Typing users tracked at once; a Set beyond it is dropped (typing is best effort).
inline constexpr size_t kTypingEntriesMax = 10000;
// Rooms remembered (with an empty set after the last user stopped) so a client
// still learns that typing ended; the stalest empty ones are forgotten beyond it.
inline constexpr size_t kTypingRoomsMax = 10000;

class TypingTracker {
 public:
  using Callback = std::function<void(const std::string& room_id)>;  // the room that changed
  using SubscriptionId = uint64_t;

  TypingTracker();  // with its own InMemoryEphemeralBus
  explicit TypingTracker(EphemeralBus* bus);  // `bus` must outlive the tracker
  ~TypingTracker();
  TypingTracker(const TypingTracker&) = delete;
  TypingTracker& operator=(const TypingTracker&) = delete;

  // typing: adds or refreshes the user for min(timeout, kTypingTimeoutMax);
  // !typing: removes the user. A call that changes nothing takes no serial (a
  // refresh renews the bus key's ttl).
  void Set(std::string_view room_id, std::string_view user_id, bool typing,
           std::chrono::milliseconds timeout);
  uint64_t serial() const;
  // Rooms whose typing set changed after `since`, each with who types now (sorted).
  std::map<std::string, std::vector<std::string>> ChangedSince(uint64_t since) const;
  std::vector<std::string> Typing(std::string_view room_id) const;
  // `callback` runs after every change (possibly on the tracker's expiry thread);
  // it must be short and must not call back into the tracker. Unsubscribe returns
  // only once no callback is running, so the subscriber may then be destroyed.
  SubscriptionId Subscribe(Callback callback);
  void Unsubscribe(SubscriptionId id);
  // The bus's expiry tasks still waiting for their deadline (in memory: one per Set
  // that added or refreshed a user); tests wait on it instead of sleeping past a timeout.
  [[nodiscard]] size_t expiries_pending() const;

 private:
  struct Room {
    std::set<std::string, std::less<>> users;  // typing now
    uint64_t changed = 0;                      // serial of the last change
  };
  void OnUpdate(const EphemeralUpdate& update);  // from the bus
  void Changed(std::unique_lock<std::mutex>& lock, const std::string& room_id, Room& room,
               uint64_t serial);  // bumps, unlocks, notifies
  void ForgetStaleRooms();        // mutex_ held

  std::unique_ptr<EphemeralBus> own_bus_;  // the default in-memory bus; destroyed last
  EphemeralBus* bus_;
  uint64_t bus_subscription_ = 0;

  mutable std::mutex mutex_;
  std::map<std::string, Room, std::less<>> rooms_;  // guarded by mutex_
  size_t entries_ = 0;                              // guarded by mutex_
  uint64_t serial_ = 0;                             // guarded by mutex_
  std::map<SubscriptionId, Callback> subscribers_;  // guarded by mutex_
  SubscriptionId next_subscription_ = 1;            // guarded by mutex_
  size_t callbacks_running_ = 0;                    // guarded by mutex_
  std::condition_variable callbacks_done_;
};

}  // namespace nebu::api
