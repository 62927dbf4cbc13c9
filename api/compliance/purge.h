// Purging a room's history (issue 12): the events' content becomes tombstones
// (engine/compliance, kPurge commands), refused while a legal hold covers the room.
// Used by POST /_synapse/admin/v1/purge_history, DELETE /_synapse/admin/v2/rooms with
// "purge", and the retention job.
//
// PLACEHOLDER: the compliance work replaces purge.cpp (and may extend this header;
// keep PurgeRoomHistory's signature: the room deletion calls it).
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
};

struct PurgeRoomReport {
  uint64_t events_purged = 0;
  uint64_t events_kept = 0;  // kept: state, held, or newer than before_ts
};

// Blocks until done: call from a worker thread, never from an I/O thread. kForbidden
// with a message naming the hold when a legal hold covers the room.
[[nodiscard]] Result<PurgeRoomReport> PurgeRoomHistory(core::Engine& engine,
                                                       const PurgeRoomRequest& request);

}  // namespace nebu::api
