// The room endpoints of the Client-Server API, each under /_matrix/client/v3 and
// /_matrix/client/r0:
//
//   POST /createRoom                                sync   {room_id}
//   POST /join/{roomIdOrAlias}, /rooms/{id}/join    async  {room_id}
//   POST /rooms/{id}/leave|invite|kick|ban|unban    async  {}
//   POST /rooms/{id}/forget                         async  {}  (accounts op forget_room)
//   GET  /joined_rooms                              sync   {joined_rooms}
//   GET  /directory/room/{roomAlias}                sync   {room_id, servers}
//   PUT  /rooms/{id}/send/{eventType}/{txnId}       async  {event_id}
//   PUT  /rooms/{id}/state/{eventType}[/{stateKey}] async  {event_id}
//   PUT  /rooms/{id}/redact/{eventId}/{txnId}       async  {event_id}
//   GET  /rooms/{id}/state                          sync   [ClientEvent]
//   GET  /rooms/{id}/state/{eventType}[/{stateKey}] sync   content (format=event: event)
//   GET  /rooms/{id}/event/{eventId}                sync   ClientEvent
//   GET  /rooms/{id}/members, /joined_members       sync
//   GET  /rooms/{id}/messages, /context/{eventId}   sync
//
//   Router router("client");
//   AddRoomRoutes(router, *engine);
//
// "async" routes answer when the event is committed and applied (Engine::SubmitAsync),
// without holding a server thread for the fsync; /createRoom waits on the server
// thread (Engine::CreateRoom plans and submits in one call).
//
// Access (one rule per endpoint, so no endpoint tells an unknown room from one the
// caller may not see: both are 403 M_FORBIDDEN):
// - Writes (send, state PUT, redact, invite, kick, ban, unban) need the caller to be
//   joined now; the room version 11 authorization rules then decide (403 on refusal).
//   join and leave go straight to the authorization rules.
// - Reads follow HistoryView (engine/core/room_reads.h), the spec's history
//   visibility rules: a caller who never joined may read only what was
//   world_readable; /messages and /context skip events the caller may not see;
//   /event answers 404 M_NOT_FOUND for one. State, members and joined_members are
//   the current ones for a joined caller or a world_readable room, else as of the
//   caller's departure (leave, kick or ban) from the room; a caller who never
//   joined a room that is not world_readable now gets 403.
// Pagination tokens are "s<sequence>": the point just after that event of the room's
// log. /messages defaults to the live end for dir=b and to the start for dir=f; `end`
// is absent when nothing further exists in that direction. Its `filter` honours
// types, not_types, senders and not_senders ('*' wildcards in types); `state` is
// always empty (no lazy-loading of members).
//
// Not done yet: PUT/DELETE /directory/room (the engine has no alias write command;
// the router answers 405), unsigned.transaction_id, redacted event content.
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

// After a profile change: proposes, for every room user_id has joined, a new join
// event carrying the current displayname and avatar_url (spec: profile changes
// update m.room.member). Does not wait; a failure is logged, not answered.
void RefreshJoinedMemberEvents(core::Engine& engine, const std::string& user_id);

}  // namespace nebu::api
