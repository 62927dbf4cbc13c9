// Room upgrades, a room's aliases and mutual rooms:
//
//   POST /rooms/{roomId}/upgrade            v3, r0  async  {replacement_room}
//   GET  /rooms/{roomId}/aliases            v3, r0  pool   {aliases}
//   GET  /_matrix/client/v1/mutual_rooms            pool   {joined, count, next_batch?}
//
//   AddUpgradeRoutes(router, engine, limits);
//
// Upgrade (spec "Room Upgrades"): body {"new_version"} (required string: 400
// M_MISSING_PARAM / M_BAD_JSON); a version this server does not support is 400
// M_UNSUPPORTED_ROOM_VERSION; additional_creators is ignored (versions 10 and 11 have
// none). The caller must be joined to the room (403 M_FORBIDDEN otherwise, the same
// for an unknown room) and hold the power to send m.room.tombstone (403 M_FORBIDDEN
// "You cannot upgrade this room"). One kRoomUpgrade command does the rest atomically
// (engine/core/room_applier.h ApplyRoomUpgrade, engine/rooms/room_upgrade.h): the
// tombstone, the replacement room with `predecessor`, the copied state, bans and the
// invites of the old room's joined members (non-public rooms), the old room's
// canonical alias cleared and power levels restricted, aliases and the directory
// listing moved. Rate-limited with createRoom (UserRateLimits::create_room): an
// upgrade creates a room.
//
// Aliases (spec: "the local aliases for the room"): every alias of this server that
// points to the room, in alias order, for a caller who may read the room (joined, or
// was, or the room is world_readable: HistoryView::MayReadRoom); 403 M_FORBIDDEN
// otherwise and for an unknown room. A scan of the server's aliases
// (core::ForEachRoomAlias); at most kRoomAliasesListedMax are listed.
//
// Mutual rooms (v1): the rooms both the caller and user_id are joined to now, in
// room ID order, kMutualRoomsPageMax per page; `count` is the total; `next_batch`
// ("r<room_id>": after that room) when more follow. user_id missing, malformed or the
// caller's own: 400 M_INVALID_PARAM; a bad `from`: 400 M_INVALID_PARAM; a
// well-formed user ID of no one: an empty list (the spec's MUST).
//
// Thread-safety: handlers are safe from any thread; the engine must outlive the router.
#pragma once

#include <cstddef>
#include <memory>

#include "api/rate_limit.h"
#include "api/router.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

inline constexpr size_t kRoomAliasesListedMax = 1'000;
inline constexpr size_t kMutualRoomsPageMax = 100;

void AddUpgradeRoutes(Router& router, core::Engine& engine,
                      const std::shared_ptr<UserRateLimits>& limits);

}  // namespace nebu::api
