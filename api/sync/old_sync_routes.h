// The deprecated sync endpoints (spec old_sync.yaml, room_initial_sync.yaml,
// peeking_events.yaml), under /_matrix/client/v3 and /_matrix/client/r0:
//
//   GET /events                       auth  {start, end, chunk}: room events after `from`
//   GET /events?room_id=...           auth  the same for one room, which may be peeked
//   GET /initialSync                  auth  {end, rooms, presence, account_data}
//   GET /rooms/{roomId}/initialSync   auth  {room_id, membership, messages, state, ...}
//   GET /events/{eventId}             auth  one client event
//
//   AddOldSyncRoutes(router, *engine);
//
// Built on the /sync assembler (api/sync/sync.h) and the room reads (rooms_common.h):
// events are served as /sync and /messages serve them (unsigned.m.relations included).
//
// GET /initialSync (limit: timeline events per room, default kSyncTimelineLimitDefault,
// at most kSyncTimelineLimitMax; archived=true adds rooms the caller left): an initial
// /sync (its bounds) reshaped: one entry per joined, invited (with `invite`: the
// stripped invite_state member event of the caller) and left room, with `messages`
// {start: /messages token before the first event, end: after the last, chunk} and
// `state` (the state before the timeline plus the timeline's state events: the state
// after the last event), `visibility` (public when the join rule is public, else
// private), `account_data`; `end` is a /sync token for /events, `presence` /sync's.
// A bad limit or archived is 400 M_INVALID_PARAM.
//
// GET /events: from = a /sync or /events token (absent: now); malformed or beyond the
// stream 400 M_INVALID_PARAM. Without room_id: the timeline events /sync would report
// after `from` in the caller's joined and left rooms (at most kSyncTimelineLimitMax
// newest per room per answer, /sync's limited rule), with room_id. Invites are not in
// the chunk (use /sync). With room_id: that room's events after `from` the caller may
// see — the room must be world_readable now or joined by the caller, else 403
// M_FORBIDDEN (unknown rooms too): peeking needs no membership. At most
// kPeekEventsMax events per answer (the oldest after `from`; `end` then stops there).
// timeout (milliseconds, default 0) waits for something to report, at most
// kEventsWaitMsMax; an answer with nothing has chunk [] and end = the position reached.
// A wait holds a worker thread: beyond kEventsWaitersMax waiting requests an answer
// comes at once; a server stop (Router::Drain) ends waits within kEventsWaitSliceMs.
//
// GET /rooms/{roomId}/initialSync: rooms_common.h OpenForRead (403 M_FORBIDDEN for an
// unknown room or one the caller may not read: a world_readable room may be peeked);
// messages: the newest kRoomInitialSyncLimit visible events (examining at most
// kSyncTimelineScanEventsMax), state: the state the caller may see (StateHorizon),
// membership (absent when the caller has none), visibility, account_data, presence [].
//
// GET /events/{eventId}: the event when the caller may see it (the room readable and
// the event visible by history visibility); otherwise 404 M_NOT_FOUND (unknown or
// hidden: the answers do not tell them apart).
//
// Thread-safety: handlers are safe from any thread; the engine must outlive the router.
#pragma once

#include <cstddef>
#include <cstdint>

#include "api/router.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

inline constexpr int64_t kEventsWaitMsMax = 30'000;
inline constexpr int64_t kEventsWaitSliceMs = 500;
inline constexpr size_t kEventsWaitersMax = 16;
inline constexpr size_t kPeekEventsMax = 100;
inline constexpr size_t kRoomInitialSyncLimit = 20;

void AddOldSyncRoutes(Router& router, core::Engine& engine);

}  // namespace nebu::api
