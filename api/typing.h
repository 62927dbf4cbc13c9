// TypingTracker: who is typing in which room (m.typing), in memory only — typing
// notifications are not persisted or replicated; a restart forgets them.
//
//   TypingTracker typing;
//   typing.Set("!r:hs", "@a:hs", true, std::chrono::seconds(10));   // PUT .../typing
//   auto changed = typing.ChangedSince(since_serial);                // /sync ephemeral
//
// Serials: every change (set, clear, expiry) takes the next serial. The first serial
// of a process is the wall-clock time in ms at construction, so serials a client
// got from an earlier process are below the new ones (sync tokens carry a serial).
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
#include <string>
#include <string_view>
#include <vector>

namespace nebu::api {

inline constexpr std::chrono::milliseconds kTypingTimeoutMax{30000};
// Typing users tracked at once; a Set beyond it is dropped (typing is best effort).
inline constexpr size_t kTypingEntriesMax = 10000;
// Rooms remembered (with an empty set after the last user stopped) so a client
// still learns that typing ended; the stalest empty ones are forgotten beyond it.
inline constexpr size_t kTypingRoomsMax = 10000;

class DeadlineTimer;

class TypingTracker {
 public:
  using Callback = std::function<void(const std::string& room_id)>;  // the room that changed
  using SubscriptionId = uint64_t;

  TypingTracker();
  ~TypingTracker();
  TypingTracker(const TypingTracker&) = delete;
  TypingTracker& operator=(const TypingTracker&) = delete;

  // typing: adds or refreshes the user for min(timeout, kTypingTimeoutMax);
  // !typing: removes the user. A call that changes nothing takes no serial.
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
  // Expiry tasks still waiting for their deadline (one per Set that added or refreshed
  // a user); tests wait on it instead of sleeping past a timeout.
  [[nodiscard]] size_t expiries_pending() const;

 private:
  using Clock = std::chrono::steady_clock;
  struct Room {
    std::map<std::string, Clock::time_point, std::less<>> users;  // user -> expiry
    uint64_t changed = 0;                                           // serial of the last change
  };
  // Removes `user` from `room` if its expiry is still `expiry` (a refresh moved it).
  void Expire(const std::string& room_id, const std::string& user_id, Clock::time_point expiry);
  void Changed(std::unique_lock<std::mutex>& lock, const std::string& room_id, Room& room);  // bumps, unlocks, notifies
  void ForgetStaleRooms();                                        // mutex_ held

  mutable std::mutex mutex_;
  std::map<std::string, Room, std::less<>> rooms_;  // guarded by mutex_
  size_t entries_ = 0;                              // guarded by mutex_
  uint64_t serial_ = 0;                             // guarded by mutex_
  std::map<SubscriptionId, Callback> subscribers_;  // guarded by mutex_
  SubscriptionId next_subscription_ = 1;            // guarded by mutex_
  size_t callbacks_running_ = 0;                    // guarded by mutex_
  std::condition_variable callbacks_done_;
  std::unique_ptr<DeadlineTimer> timer_;            // expiries; destroyed first
};

}  // namespace nebu::api
