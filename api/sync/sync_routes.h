// GET /_matrix/client/v3/sync and /_matrix/client/r0/sync: the long-poll around the
// assembler of api/sync/sync.h.
//
//   Router router("client");
//   AddSyncRoutes(router, *engine);
//
// Query parameters:
//   since        a next_batch token ("s<position>_<typing>[_<presence>[_<push>]]"); absent: initial sync. A malformed
//                token is 400 M_INVALID_PARAM, and so is one beyond this node's stream,
//                at once on a single node; in a cluster (TokenWaitMs() > 0,
//                api/token_wait.h) the request first waits, parked without a thread,
//                up to TokenWaitMs() for the node to apply the token's position (it
//                may come from another node), then is answered as a fresh request with
//                what is left of its timeout (400 when the bound passes first). A
//                typing or presence serial this node has not reached reads as 0: the
//                current typing state and every known presence (api/sync/sync.h).
//   timeout      milliseconds to wait for something to report (default 0, capped at
//                kSyncTimeoutMsMax). Initial syncs and full_state syncs never wait.
//   filter       an inline filter (JSON text starting with '{'; see SyncFilter) or an
//                uploaded filter's ID (api/accounts/filter_routes.h; a malformed ID is
//                404 M_NOT_FOUND). A bad filter, or one whose types / not_types are
//                over their caps (kFilterPatternsMax, kGlobPatternBytesMax), is
//                400 M_INVALID_PARAM.
//   full_state   "true": every joined room with its full state (api/sync/sync.h).
//   set_presence absent or "online": with a PresenceTracker, the caller is marked
//                online and active (api/sync/presence.h); "unavailable": unavailable;
//                "offline": nothing changes. Any other value is 400 M_INVALID_PARAM.
//                A change of presence wakes the parked long-polls of the users who
//                share a joined room with that user (and the user's own).
//
// Waiting: when an incremental sync has nothing to report and timeout > 0, the
// request is parked without a thread: a Notifier subscription (engine/core/notifier.h)
// wakes it when the stream moves, and — with a notification worker whose cursor was
// behind the token's position when it answered (the token's push cursor, api/sync/sync.h)
// — when the worker's cursor passes the token's push cursor, so the rooms whose unread
// counts changed are delivered without a new event (a sync whose counts are current
// never wakes on the worker; a lagging one at most once per worker batch, until the
// worker reaches its position). It is re-assembled on the routes' own worker
// threads (never on the engine's apply thread); a DeadlineTimer answers the empty
// response (next_batch = the position reached) when the timeout passes. Every request
// is answered exactly once, and its subscription and timer are removed on every path.
// Beyond kSyncWaitersMax parked requests, or when the worker queue is full, a request
// is answered at once with what it has (an empty response), which is a valid answer.
//
// Heavy syncs: an initial sync, a full_state one, or an incremental one more than
// kSyncInlineWindowMax stream positions behind is assembled on the routes' own heavy
// pool (kSyncHeavyThreads threads), never on the server's I/O threads; when
// kSyncHeavyQueueMax such syncs already wait, the request is answered at once with
// 429 M_LIMIT_EXCEEDED and retry_after_ms kSyncBusyRetryAfterMs. Short incremental
// syncs (the long-poll loop of a client that keeps up) assemble inline: they are cheap
// and a hop would add latency to every delivery.
//
// Lifetime: the routes own their worker threads and timer; they are released with the
// router. Server::Stop() drains the router first (Router::Drain): every parked
// long-poll is answered at once with what it has (a sync still catching up to a token
// gets 503), and later syncs answer without parking, so a stop never waits out a
// client's timeout. Stop the server before destroying the router: requests still
// parked then are answered the same way from the router's destructor. The engine must outlive the
// router.
//
// Thread-safety: handlers are safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "api/router.h"

namespace nebu::core {
class Engine;
}
namespace nebu::push {
class NotificationWorker;
}

namespace nebu::api {

inline constexpr int64_t kSyncTimeoutMsMax = 30000;
// Long-polls parked at once; beyond it a request is answered without waiting.
inline constexpr size_t kSyncWaitersMax = 10000;
// Threads that re-assemble woken long-polls, and how many wake-ups may queue for them.
inline constexpr size_t kSyncWorkerThreads = 2;
inline constexpr size_t kSyncWorkerQueueMax = 4096;
// Heavy syncs (see above): the window beyond which an incremental sync is heavy, in
// stream positions; the threads that assemble them; how many may wait; the retry hint
// of the 429 beyond that.
inline constexpr uint64_t kSyncInlineWindowMax = 1024;
inline constexpr size_t kSyncHeavyThreads = 2;
inline constexpr size_t kSyncHeavyQueueMax = 1024;
inline constexpr int64_t kSyncBusyRetryAfterMs = 500;

class TypingTracker;
class PresenceTracker;
struct UserRateLimits;

// `typing` (nullable; must outlive the router): typing notifications for the
// ephemeral section, and long-polls wake when typing changes in one of their rooms.
// `presence` (nullable; must outlive the router): set_presence and m.presence events.
// `limits` (nullable): a set_presence that changes the caller's presence takes from
// limits->presence (shared with PUT /presence); over it the change is ignored and the
// sync answers as usual.
// `notifications` (nullable; must outlive the router): unread counts in rooms.join at
// its cursor (never holding back the window), and parked syncs whose counts lag woken
// by its notifier (SyncRequest in api/sync/sync.h).
void AddSyncRoutes(Router& router, core::Engine& engine, TypingTracker* typing = nullptr,
                   PresenceTracker* presence = nullptr,
                   std::shared_ptr<UserRateLimits> limits = nullptr,
                   push::NotificationWorker* notifications = nullptr);

}  // namespace nebu::api
