// GET /_matrix/client/v3/notifications (and r0): the caller's notifications, newest
// first, from the push worker's records (engine/push/notifications.h).
//
//   Router router("client");
//   AddNotificationRoutes(router, *engine, worker);  // worker nullable
//
// Query parameters:
//   from   a next_token of an earlier page: notifications older than it. Anything but a
//          decimal position is 400 M_INVALID_PARAM.
//   limit  notifications per page, default kNotificationsLimitDefault, capped at
//          kNotificationsLimitMax; not a non-negative integer: 400 M_INVALID_PARAM.
//   only   "highlight": only notifications that highlighted. Any other value is ignored
//          (the spec defines no other).
// Answer: {"notifications": [{actions, event (client format), read, room_id, ts}],
// "next_token"?} — next_token present when older records may follow. `read`: the
// caller's read receipt (any thread rule of the worker) covers the event. Each page
// reads one snapshot; a page scans at most kNotificationsScanMax records (only=highlight
// skips the others), then answers what it found with a next_token after them.
// A user keeps at most push::kNotificationsPerUserMax records (older ones are gone).
// Without a worker (it failed to start): an empty list.
//
// Errors: 401 without a valid token; 400 M_INVALID_PARAM as above.
// Thread-safety: handlers are safe from any thread; engine and worker outlive the router.
#pragma once

#include <cstddef>

#include "api/router.h"

namespace nebu::core {
class Engine;
}
namespace nebu::push {
class NotificationWorker;
}

namespace nebu::api {

inline constexpr size_t kNotificationsLimitDefault = 50;
inline constexpr size_t kNotificationsLimitMax = 200;
inline constexpr size_t kNotificationsScanMax = 1000;

void AddNotificationRoutes(Router& router, core::Engine& engine,
                           push::NotificationWorker* worker);

}  // namespace nebu::api
