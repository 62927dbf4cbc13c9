// The room endpoints of the Client-Server API, each under /_matrix/client/v3 and
// /_matrix/client/r0:
//
//   POST /createRoom                                async  {room_id}
//   POST /join/{roomIdOrAlias}, /rooms/{id}/join    async  {room_id}
//   POST /knock/{roomIdOrAlias}                     async  {room_id}
//   POST /rooms/{id}/leave|invite|kick|ban|unban    async  {}
//   POST /rooms/{id}/forget                         async  {}  (accounts op forget_room)
//   GET  /joined_rooms                              sync   {joined_rooms}
//   GET  /directory/room/{roomAlias}                sync   {room_id, servers}
//   PUT  /rooms/{id}/send/{eventType}/{txnId}       async  {event_id}
//   PUT  /rooms/{id}/state/{eventType}[/{stateKey}] async  {event_id}
//   PUT  /rooms/{id}/redact/{eventId}/{txnId}       async  {event_id}
//   GET  /rooms/{id}/state                          pool   [ClientEvent]
//   GET  /rooms/{id}/state/{eventType}[/{stateKey}] pool   content (format=event: event)
//   GET  /rooms/{id}/event/{eventId}                pool   ClientEvent
//   GET  /rooms/{id}/members, /joined_members       pool
//   GET  /rooms/{id}/messages, /context/{eventId}   pool
//
//   Router router("client");
//   AddRoomRoutes(router, *engine);
//
// "async" routes answer when the event is committed and applied (Engine::SubmitAsync),
// without holding a server thread for the fsync; /createRoom too (Engine::PlanCreateRoom
// on the server thread, then SubmitAsync). "pool" routes are synchronous reads that
// run on the router's offload pool, off the I/O threads (RouteOptions::offload,
// api/router.h: 429 M_LIMIT_EXCEEDED when its queue is full).
//
// Access (one rule per endpoint, so no endpoint tells an unknown room from one the
// caller may not see: both are 403 M_FORBIDDEN):
// - Writes (send, state PUT, redact, invite, kick, ban, unban) need the caller to be
//   joined now; the room version 11 authorization rules then decide (403 on refusal).
//   join, knock and leave go straight to the authorization rules.
// - Joins honour restricted / knock_restricted join rules (core/room_applier.h,
//   "Restricted joins"): a caller joined to a room the rule's `allow` names joins,
//   authorised by a joined member with the invite level; 403 M_FORBIDDEN when the
//   caller is in none of them, 400 M_UNABLE_TO_AUTHORISE_JOIN when none of them is
//   known here, 400 M_UNABLE_TO_GRANT_JOIN when no member of this server may invite.
// - Knock (knock or knock_restricted rooms only; else 403): carries `reason` and the
//   caller's profile; 404 M_NOT_FOUND for an unknown room ID or alias. `via` and
//   `server_name` are ignored (every room is local). A knock is retracted by /leave,
//   accepted by /invite (then /join), refused by /kick (leave) or /ban.
// - Invites carry the invitee's displayname and avatar_url from their global profile
//   at the time the invite is applied.
// - Reads follow HistoryView (engine/core/room_reads.h), the spec's history
//   visibility rules: a caller who never joined may read only what was
//   world_readable; /messages and /context skip events the caller may not see;
//   /event answers 404 M_NOT_FOUND for one. State and members are the current ones
//   for a joined caller or a world_readable room, else as of the caller's departure
//   (leave, kick or ban) from the room; a caller who never joined a room that is not
//   world_readable now gets 403. joined_members ("the current user must be in the
//   room") answers a joined caller or anyone while the room is world_readable, else
//   403. /context's `state` is the state at the last event it returns (one the
//   caller may see), never the current state.
// - Redactions (/redact, and m.room.redaction sent through /send or /state) follow
//   engine/core/room_applier.h: 403 M_FORBIDDEN without the redact level on someone
//   else's event, 400 M_INVALID_PARAM for an event not in this room (or unknown),
//   400 M_BAD_JSON for a redaction without a target.
// - A room an admin blocked (PUT /_synapse/admin/v1/rooms/{roomId}/block, or a room
//   deletion with block) refuses joins, knocks and invites: 403 M_FORBIDDEN "This room
//   has been blocked on this server", decided when the event is applied (all nodes).
// - A shadow-banned caller (api/auth.h Caller::shadow_banned, set by the admin API)
//   gets success and changes nothing others see: send, state PUT and redact answer
//   {"event_id"} with kFakeEventIdChars random characters after "$" naming no event,
//   invite answers {} without inviting, createRoom makes the room without its
//   invites. Joins, leaves and reads work as usual (Synapse's shadow-ban).
// - An m.thread reply whose root has a relation itself is 400 M_UNKNOWN
//   (threads_routes.h CheckThreadTarget).
// Pagination tokens are "s<sequence>": the point just after that event of the room's
// log. `from`, `to` (/messages) and `at` (/members) also take /sync's next_batch
// ("s<position>_<typing>...", mapped to the room's last event at that stream position;
// rooms_common.h RoomPositionOfToken) and prev_batch (an "s<sequence>"). /members'
// membership and not_membership must be join, invite, knock, leave or ban (else 400).
// /messages defaults to the live end for dir=b and to the start for dir=f; `end`
// is absent when nothing further exists in that direction. Its `filter` honours
// types, not_types, senders and not_senders ('*' wildcards in types, matched in linear
// time by api/glob.h; a types or not_types list over kFilterPatternsMax patterns or a
// pattern over kGlobPatternBytesMax bytes is 400 M_INVALID_PARAM); `state` is always
// empty (no lazy-loading of members).
//
// Not done yet: PUT/DELETE /directory/room (the engine has no alias write command;
// the router answers 405).
// /forget: only after a leave or ban (400 M_UNKNOWN "User is in the room" otherwise,
// 403 M_FORBIDDEN for an unknown room or one the caller never was in); stored through
// the log (engine/accounts commands.h ForgetRoomCommand), so /sync no longer lists the
// room in rooms.leave; the caller's next membership in the room clears it.
//
// Thread-safety: handlers are safe from any thread; the engine must outlive the router.
#pragma once

#include <memory>

#include "api/rate_limit.h"
#include "api/router.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

// Bounds of the room endpoints.
inline constexpr size_t kEventBodyBytesMax = 65536;  // send / state / redact bodies
// The random characters of a shadow-banned caller's fake event ID (after "$"; the length
// of a real one).
inline constexpr size_t kFakeEventIdChars = 43;
inline constexpr size_t kMessagesLimitDefault = 10;
inline constexpr size_t kMessagesLimitMax = 1000;
// Events a /messages or /context request may examine (visible or not) before it
// answers with what it has and a token to continue.
inline constexpr size_t kMessagesScanEventsMax = 10000;
inline constexpr size_t kContextLimitDefault = 10;

struct RoomRoutesConfig {
  // Limits send, state and redact per user (kSendRateLimit: 10/s, burst 50); over
  // it 429 M_LIMIT_EXCEEDED with retry_after_ms. Off unless the caller turns it on.
  bool rate_limit = false;
  // Membership changes and createRoom per user (api/rate_limit.h); null: the routes'
  // own, on when rate_limit is.
  std::shared_ptr<UserRateLimits> user_limits = nullptr;
};

void AddRoomRoutes(Router& router, core::Engine& engine, RoomRoutesConfig config = {});

}  // namespace nebu::api
