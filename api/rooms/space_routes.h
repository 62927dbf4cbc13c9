// Spaces and room summaries (Client-Server API "Spaces", room_summary.yaml), over
// the rooms of this server only (no federation):
//
//   GET /_matrix/client/v1/rooms/{roomId}/hierarchy     pool  {rooms, next_batch?}
//       ?suggested_only=true|false &max_depth=N &limit=N &from=token
//   GET /_matrix/client/v1/room_summary/{roomIdOrAlias} pool  RoomSummary + membership?
//       (also under MSC3266's /_matrix/client/unstable/im.nheko.summary/summary/...,
//       which matrix-js-sdk's getRoomSummary calls)
//
//   Router router("client");
//   AddSpaceRoutes(router, *engine);
//
// Who sees a room (both routes; the spec's rule for the hierarchy's `rooms`): the
// caller is joined or invited, or the join rule is public, knock or knock_restricted,
// or it is restricted and the caller is joined to a room its `allow` names (at most
// core::kJoinAllowConditionsMax conditions read), or the history visibility is
// world_readable.
//
// Hierarchy: a depth-first walk from the room through the m.space.child state events
// of m.space rooms (a room whose m.room.create has no `type` "m.space" gets no
// children). A child event counts only with a non-empty `via` array; children are
// ordered by a valid `order` (1-50 printable ASCII characters; those without one
// after), then the child event's origin_server_ts, then room ID. Each room appears
// once (cycles are cut); children unknown here or not visible to the caller are left
// out, with their subtrees. The root is at depth 0; children of a room at max_depth
// are not walked. suggested_only follows only children whose content.suggested is
// true. Every room's children_state lists its valid m.space.child events as stripped
// state with origin_server_ts (empty for a room that is not a space).
// Pagination is stateless: next_batch encodes how many rooms the walk has returned
// and the request's max_depth and suggested_only; a later page walks again and skips
// them (state that changed in between shows in later pages). Errors: 403 M_FORBIDDEN
// for an unknown room or one the caller may not see; 400 M_INVALID_PARAM for a limit
// that is not a positive integer, a max_depth that is not a non-negative integer, a
// suggested_only that is not true/false, a `from` this server did not make, or a
// `from` whose max_depth / suggested_only differ from the request's.
// Bounds: limit defaults to kHierarchyLimitDefault and is capped at
// kHierarchyLimitMax; max_depth defaults to and is capped at kHierarchyDepthMax; a
// request examines at most kHierarchyRoomsExaminedMax rooms (including those a
// page skips) and at most kHierarchyChildrenPerRoomMax children per room (the first
// in the order above); the walk ends there, without next_batch.
//
// Room summary: the room's summary (room_id, name, topic, avatar_url,
// canonical_alias, num_joined_members, world_readable, guest_can_join, join_rule,
// room_type, room_version, encryption, allowed_room_ids) and the caller's
// `membership` when they have one. Without an access token it answers for rooms
// whose join rule is public, knock or knock_restricted or that are world_readable
// (the spec allows unauthenticated access for those), without `membership`; an
// invalid token is 401 as everywhere. 404 M_NOT_FOUND for an unknown room or alias
// and for a room the caller may not see; 400 M_INVALID_PARAM for text that is
// neither a room ID nor an alias. `via` is ignored.
// num_joined_members costs one scan of the room's member index.
//
// Thread-safety: handlers are safe from any thread; the engine must outlive the router.
#pragma once

#include <cstddef>

#include "api/router.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

inline constexpr size_t kHierarchyLimitDefault = 50;
inline constexpr size_t kHierarchyLimitMax = 100;
inline constexpr size_t kHierarchyDepthMax = 10;
inline constexpr size_t kHierarchyRoomsExaminedMax = 500;
inline constexpr size_t kHierarchyChildrenPerRoomMax = 100;

void AddSpaceRoutes(Router& router, core::Engine& engine);

}  // namespace nebu::api
