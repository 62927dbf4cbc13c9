// The admin API's reads of the PostgreSQL projection (api::AdminDirectory, declared in
// api/admin/admin_routes.h): the user and room lists of Synapse's admin API with their
// filters, orders and totals, and the statistics routes.
//
//   auto directory = MakeAdminDirectory(config.db_url, engine.server_name());
//   Result<api::DirectoryPage> page = directory->ListUsers({.limit = 10});
//
// Each call runs in one REPEATABLE READ, READ ONLY transaction that also reads the
// projector's checkpoint (nebu_projection_checkpoints, stream 'stream'): the page, its
// total and DirectoryPage::projection_position are one consistent snapshot, the state
// of the log up to that stream position (accounts and media are snapshots the projector
// writes every kAccountsSyncIntervalMs, so they may trail it by that much).
//
// Users (GET /_synapse/admin/v2/users): Synapse's objects {"name", "is_guest", "admin",
// "user_type", "deactivated", "erased", "shadow_banned", "displayname", "avatar_url",
// "creation_ts", "last_seen_ts", "locked"}. nebu has no user types, shadow bans or
// erasure marks: user_type is null, shadow_banned and erased false (ordering by them
// orders by name). last_seen_ts is the newest devices.last_seen_ts (null when none).
// Filters as Synapse's: `name` matches the localpart (case-sensitive) or the display
// name (case-insensitive); `user_id` a substring of the user ID; guests=false drops
// guests; deactivated users only with deactivated=true; locked users only with
// locked=true; admins=true|false keeps only admins or non-admins; not_user_type ""
// drops users without a type (every nebu user). Ties sort by name ascending.
//
// Rooms (GET /_synapse/admin/v1/rooms): Synapse's objects {"room_id", "name",
// "canonical_alias", "joined_members", "joined_local_members", "version", "creator",
// "encryption", "federatable", "public", "join_rules", "guest_access",
// "history_visibility", "state_events", "room_type"} from rooms, current_state (with
// each state event's content from events), room_memberships and room_directory.
// search_term matches the name or the canonical alias's localpart (case-insensitive)
// or the room ID (case-sensitive). As Synapse, joined_members, joined_local_members,
// version, state_events (and the deprecated `size`) sort largest first with dir=f;
// ties sort by room ID in the same direction. `alphabetical` is `name`.
//
// Statistics: UserMediaStats groups the `media` table by local uploader (Synapse's
// statistics/users/media); LargestRooms estimates the kLargestRoomsMax largest rooms'
// bytes in the database as their event count (rooms.last_sequence) times the average
// bytes per row of `events` (pg_total_relation_size, with indexes and TOAST, over the
// planner's row estimate): cheap (no scan of events) and, like Synapse's planner-based
// figure, an estimate.
//
// Search terms are matched literally (LIKE's % and _ are escaped). Errors: kUnavailable
// when PostgreSQL cannot be reached or fails (the route answers 503; the cause is
// logged, not answered), kInvalidArgument for an order the routes never pass.
//
// Thread-safety: thread-safe; it keeps up to kAdminDirectoryIdleConnectionsMax idle
// connections for reuse, and opens more while more calls run at once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "api/admin/admin_routes.h"

namespace nebu::projections {

inline constexpr size_t kAdminDirectoryIdleConnectionsMax = 4;
inline constexpr int64_t kLargestRoomsMax = 10;  // rooms in statistics/database/rooms
// A statement of the directory that runs longer is cancelled (kUnavailable).
inline constexpr int64_t kAdminDirectoryStatementTimeoutMs = 30'000;

// server_name: this server's name (local users and joined_local_members).
[[nodiscard]] std::shared_ptr<api::AdminDirectory> MakeAdminDirectory(std::string db_url,
                                                                      std::string server_name);

}  // namespace nebu::projections
