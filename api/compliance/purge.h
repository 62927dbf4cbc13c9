// Purging a room's history (issue 12): the events' content becomes tombstones
// (engine/compliance, kPurge commands), refused while a legal hold covers the room.
// Used by POST /_synapse/admin/v1/purge_history, DELETE /_synapse/admin/v2/rooms with
// "purge", and the retention job (api/compliance/retention.h).
//
//   PurgeRoomRequest request{.room_id = room, .before_ts = now - 90 days, .actor = "retention"};
//   Result<PurgeRoomReport> report = PurgeRoomHistory(engine, request);
//   if (report.status().code() == StatusCode::kForbidden) ... // the message names the hold
//
// What is purged: every non-state event of the room older than before_ts (all when unset),
// before upto_event_id when given (that event stays), except events of a user under an
// active legal hold (kept and counted as held: the room's history stays readable for the
// rest) and, with keep_local_events, events of this server's users. State events are never
// purged (auth and state resolution need them). Purged events keep a tombstone in the log
// (event ID, type, sender, room, origin_server_ts, hashes; compliance.h) and disappear
// from what clients read; the PostgreSQL projection marks their rows purged.
//
// Errors: kNotFound (unknown room, unknown upto_event_id or one of another room),
// kForbidden "legal hold <id> (case <case>) covers <room>", kInvalidArgument (bad IDs),
// and the write path's errors (kUnavailable, kNoSpace, ...); a purge stopped by an error
// keeps what it purged (its progress record says how far it came; repeating the request
// with the same purge_id continues it).
// Thread-safety: any thread; blocks until done: call from a worker thread, never from an
// I/O thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "engine/common/status.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

struct PurgeRoomRequest {
  std::string room_id{};
  std::optional<int64_t> before_ts{};  // purge events older than this (ms); nullopt: all
  std::string actor{};                 // who asked: a user ID, or "retention"
  bool dry_run = false;                // count only
  std::string purge_id{};              // "" : a fresh one (reported)
  std::optional<std::string> upto_event_id{};  // purge only events before this one
  bool keep_local_events = false;      // Synapse's delete_local_events = false
  std::string reason{};                // recorded with each tombstone ("" : "purge")
};

struct PurgeRoomReport {
  uint64_t events_purged = 0;
  uint64_t events_kept = 0;  // kept: state, held, or newer than before_ts
  uint64_t events_held = 0;  // of those kept: sent by a user under a legal hold
  std::string purge_id{};
};

// Blocks until done: call from a worker thread, never from an I/O thread. kForbidden
// with a message naming the hold when a legal hold covers the room.
[[nodiscard]] Result<PurgeRoomReport> PurgeRoomHistory(core::Engine& engine,
                                                       const PurgeRoomRequest& request);

}  // namespace nebu::api
