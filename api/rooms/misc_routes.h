// The smaller Client-Server endpoints, each under /_matrix/client/v3 and
// /_matrix/client/r0:
//
//   GET  /publicRooms                      no auth  the published room directory
//   POST /publicRooms                      auth     the same with filter
//   GET  /directory/list/room/{roomId}     no auth  {visibility: public|private}
//   POST /user_directory/search            auth     {results, limited}
//   GET  /voip/turnServer                  auth     {} (no TURN server is configured)
//   GET  /thirdparty/protocols             auth     {} (no bridges)
//   GET  /rooms/{roomId}/relations/{eventId}[/{relType}[/{eventType}]]  auth (also v1)
//
//   Router router("client");
//   AddMiscRoutes(router, *engine);
//
// Published room directory. nebu stores no separate "published" flag (createRoom's
// `visibility` only picks the default preset), so a room is in the directory exactly
// while its current m.room.join_rules is "public": anyone may join it, so listing
// it reveals nothing a stranger could not see by joining. GET
// /directory/list/room answers "public" for such a room, "private" for another room
// the (authenticated) caller may read, and 404 M_NOT_FOUND otherwise, so it never
// tells an unknown room from a hidden one. PUT /directory/list/room is not served
// (405): publishing without changing the join rule needs a stored flag.
// /publicRooms lists rooms in room-ID order; `since` tokens are "n<room_id>" (the
// page after that room) and "p<room_id>" (the page before it). `limit` (default
// kPublicRoomsLimitDefault, at most kPublicRoomsLimitMax), filter.generic_search_term
// (case-insensitive substring of name, topic, canonical alias or room ID) and
// filter.room_types (null matches rooms without a type) are honoured; `server` other
// than this server is 400 M_INVALID_PARAM (no federation). A request examines at
// most kDirectoryRoomsScanMax rooms and then answers with a next_batch.
//
// User directory (engine/core/user_search.h over the index of
// engine/accounts/user_directory.h): active users whose tokens (the words of their
// user ID and display name, ASCII case-insensitive) have every word of search_term
// as a prefix (a term without letters or digits: every user), and who are joined to
// a room the caller is joined to or to a room whose join rule is public; sorted by
// user ID, `limit` (default 10, at most kUserSearchLimitMax) with `limited` when more
// matched or a bound of user_search.h cut the search (kUserSearchCandidatesMax users
// read from the index, kUserSearchMembershipsMax membership records).
//
// Relations: the events of the room whose content.m.relates_to.event_id is the
// parent (filtered by rel_type and type when given), visible to the caller by the
// history visibility rules, newest first (dir=b, default) or oldest first (dir=f),
// served as every room event is (redacted events' fields stripped); a redacted child
// is left out (its relation is broken, spec "Relationships"). Under the spec's
// /_matrix/client/v1 and the older v3 and r0 paths. from/to are this endpoint's or
// /messages' tokens ("s<sequence>") or /sync's next_batch or prev_batch
// (rooms_common.h RoomPositionOfToken); limit defaults to
// kRelationsLimitDefault (at most kMessagesLimitMax); next_batch when more may
// follow. recurse=true also returns events relating to those, up to
// kRelationsRecursionDepth levels, and sets recursion_depth. An unknown or hidden
// room is 403 M_FORBIDDEN (as every room read); an unknown or hidden parent 404.
// Read from the relations index (engine/core/relations.h): a page examines at most
// core::kRelationsPageEntriesMax children and then answers with a next_batch; a
// recursive request reads at most core::kRelationsRecursionEntriesMax index entries.
//
// Thread-safety: handlers are safe from any thread; the engine must outlive the router.
#pragma once

#include <cstddef>

#include "api/router.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

inline constexpr size_t kPublicRoomsLimitDefault = 100;
inline constexpr size_t kPublicRoomsLimitMax = 500;
inline constexpr size_t kDirectoryRoomsScanMax = 10000;  // rooms one request examines
inline constexpr size_t kUserSearchLimitDefault = 10;
inline constexpr size_t kUserSearchLimitMax = 100;
inline constexpr size_t kUserSearchTermBytesMax = 256;
inline constexpr size_t kRelationsLimitDefault = 50;
inline constexpr int kRelationsRecursionDepth = 3;

void AddMiscRoutes(Router& router, core::Engine& engine);

}  // namespace nebu::api
