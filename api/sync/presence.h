// Presence (Client-Server API § Presence), basic: per-user presence state kept in
// memory from an EphemeralBus (api/ephemeral_bus.h). Not persisted. With the
// in-memory bus (the default) a node knows what its own clients told it since it
// started; with the etcd bus (a cluster) every node knows every node's users.
//
//   GET /presence/{userId}/status   sync  {"presence", "last_active_ago"?,
//                                          "currently_active"?, "status_msg"?}
//   PUT /presence/{userId}/status   sync  {}   body {"presence", "status_msg"?}
//
//   PresenceTracker presence;
//   AddPresenceRoutes(router, *engine, presence);
//   AddSyncRoutes(router, *engine, &typing, &presence);   // a sync marks the user online
//
// Rules: PUT only for the caller (403 M_FORBIDDEN otherwise); presence is one of
// online, offline, unavailable (400 M_INVALID_PARAM otherwise, M_BAD_JSON for a
// wrong type, M_MISSING_PARAM without it); status_msg at most
// kPresenceStatusMsgBytesMax bytes (400 M_TOO_LARGE). GET: 400 M_INVALID_PARAM for a
// malformed user ID, 404 M_NOT_FOUND for a user this server does not have, 403
// M_FORBIDDEN for a user who is not the caller and shares no joined room with the
// caller. A user with no tracked state reads as {"presence": "offline"}.
// currently_active is true for "online" users active within kPresenceActiveWindow.
//
// The bus: a change of presence or status_msg is published (key presence/<user>,
// value {"presence","status_msg"?,"last_active_ts"}, ttl 0: it lives as long as the
// publishing node, so with etcd a node that dies takes its users' keys with it) and
// the tracker changes when the update comes back. A deleted key (its node's lease
// expired) makes the user "offline" (last_active_ts and status_msg kept). A call that
// only refreshes last_active_ts changes it locally and publishes it at most every
// kPresenceActivePublishInterval per user, so other nodes' last_active_ago stays
// within that; such an update takes no serial.
//
// Serials: every change of presence or status_msg takes the serial of its bus update
// (in memory: the first one is the wall-clock ms at construction, then +1, as
// TypingTracker's; etcd: the revision, the same on every node), so a caller can ask
// for the users whose presence changed since a serial. Subscribers hear of every
// change that takes a serial (with the user's ID), after the tracker's lock is
// released; /sync uses it to wake the parked long-polls of users who share a room
// with that user.
//
// Thread-safety: PresenceTracker's methods are safe from any thread; the engine and
// the tracker must outlive the router.
#pragma once

#include <boost/json/object.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "api/ephemeral_bus.h"
#include "api/rate_limit.h"
#include "api/router.h"
#include "engine/common/status.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

inline constexpr size_t kPresenceStatusMsgBytesMax = 1024;
inline constexpr size_t kPresenceBodyBytesMax = 4096;
// Users tracked at once; beyond it, new users are not tracked (presence is best effort).
inline constexpr size_t kPresenceUsersMax = 100000;
inline constexpr std::chrono::milliseconds kPresenceActiveWindow{5 * 60 * 1000};
// A user's last_active_ts is published on the bus at most this often when nothing
// else about their presence changes (other nodes may see it this much older).
inline constexpr std::chrono::milliseconds kPresenceActivePublishInterval{60 * 1000};

struct PresenceState {
  std::string presence = "offline";  // online | offline | unavailable
  std::optional<std::string> status_msg;
  int64_t last_active_ts = 0;  // ms since the epoch; 0: never active
  uint64_t changed = 0;        // serial of the last change
  bool operator==(const PresenceState&) const = default;
};

class PresenceTracker {
 public:
  PresenceTracker();  // with its own InMemoryEphemeralBus
  explicit PresenceTracker(EphemeralBus* bus);  // `bus` must outlive the tracker
  ~PresenceTracker();
  PresenceTracker(const PresenceTracker&) = delete;
  PresenceTracker& operator=(const PresenceTracker&) = delete;

  // PUT /presence: kInvalidArgument for an unknown presence, kTooLarge for a long
  // status_msg (nothing changes then). "online" and "unavailable" also refresh
  // last_active_ts.
  [[nodiscard]] Status Set(std::string_view user_id, std::string_view presence,
                           std::optional<std::string> status_msg, int64_t now_ms);
  // /sync with set_presence absent or "online" (or "unavailable"): the user is
  // `presence` now and active; status_msg is kept. Takes a serial only when the
  // presence changes. (With the etcd bus both change the state when the update
  // comes back from etcd, a few ms later.)
  void MarkActive(std::string_view user_id, std::string_view presence, int64_t now_ms);
  [[nodiscard]] std::optional<PresenceState> Get(std::string_view user_id) const;
  [[nodiscard]] uint64_t serial() const;
  // Users whose presence changed after `since`, with their state now.
  [[nodiscard]] std::map<std::string, PresenceState> ChangedSince(uint64_t since) const;

  // callback(user_id) after each change that takes a serial, on the changing thread.
  // Callbacks run one at a time; a callback must not call Subscribe or Unsubscribe.
  using Callback = std::function<void(const std::string& user_id)>;
  using SubscriptionId = uint64_t;
  SubscriptionId Subscribe(Callback callback);
  // After it returns the callback is not running and will not run again.
  void Unsubscribe(SubscriptionId id);

 private:
  struct Entry {
    PresenceState state;
    int64_t published_active_ts = 0;  // last_active_ts of the last update from the bus
  };
  // Set and MarkActive: `status_msg` null keeps the current one.
  void Change(std::string_view user_id, std::string_view presence,
              const std::optional<std::string>* status_msg, int64_t now_ms);
  void OnUpdate(const EphemeralUpdate& update);  // from the bus
  void Notify(const std::string& user_id);

  std::unique_ptr<EphemeralBus> own_bus_;  // the default in-memory bus; destroyed last
  EphemeralBus* bus_;
  uint64_t bus_subscription_ = 0;

  std::mutex callbacks_mutex_;  // held while callbacks run
  std::map<SubscriptionId, Callback> callbacks_;  // guarded by callbacks_mutex_
  SubscriptionId next_subscription_ = 1;          // guarded by callbacks_mutex_
  mutable std::mutex mutex_;
  std::map<std::string, Entry, std::less<>> users_;  // guarded by mutex_
  uint64_t serial_ = 0;                                      // guarded by mutex_
};

// True for online, offline, unavailable.
[[nodiscard]] bool IsPresenceValue(std::string_view presence);

// The m.presence content for `state` as seen at `now_ms` (last_active_ago etc.).
[[nodiscard]] boost::json::object PresenceContent(const PresenceState& state, int64_t now_ms);

// `limits`: PUT /presence takes from limits->presence per user (429 M_LIMIT_EXCEEDED
// when empty); null: no limit.
void AddPresenceRoutes(Router& router, core::Engine& engine, PresenceTracker& presence,
                       std::shared_ptr<UserRateLimits> limits = nullptr);

}  // namespace nebu::api
