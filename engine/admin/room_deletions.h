// Room deletions (issue 12): the replicated status of each DELETE
// /_synapse/admin/v2/rooms/{roomId} job, so any node answers its delete_status. Admin
// state under the prefix "d" of Cf::kAdmin (engine/admin/admin.h), changed by the
// kAudit op "delete_room"; the job itself runs in api/admin (room_delete_routes.cpp)
// on the node that accepted the request and reports each step with this op.
//
//   RoomDeletion d{.delete_id = id, .room_id = room, .status = "scheduled", ...};
//   Submit({kAudit, EncodeAdminCommand(d)});          // creates the record
//   d.status = "active"; ... Submit(...)             // updates it, forward only
//
// The op "delete_room" carries the whole record: {"actor", "delete_id",
// "failed_to_kick_users", "kicked_users", "local_aliases", "new_room_id"?, "error"?,
// "room_id", "status", "ts"}. Apply decides (deterministically, from the record and the
// command's proposer time `ts`):
//   - a new delete_id must come with status "scheduled"; kAlreadyExists when another
//     deletion of the same room is scheduled or active and was updated less than
//     kRoomDeletionStaleMs before `ts` (a job whose node died is taken over after that);
//   - an existing record keeps its room_id (kInvalidArgument otherwise) and never leaves
//     "complete" or "failed" (kForbidden "the deletion has finished"); its created_ts
//     stays.
//
// Storage (Cf::kAdmin):
//   "di" delete_id              -> the record (canonical JSON, with created_ts)
//   "dr" room_id 0x00 delete_id -> "" (the room's deletions, in delete_id order)
//
// Thread-safety: pure functions; ApplyRoomDeletion from the apply thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <boost/json/object.hpp>
#include <rocksdb/write_batch.h>

#include "engine/common/status.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"

namespace nebu::admin {

// The statuses of Synapse's delete_status.
inline constexpr std::string_view kDeletionScheduled = "scheduled";
inline constexpr std::string_view kDeletionActive = "active";
inline constexpr std::string_view kDeletionComplete = "complete";
inline constexpr std::string_view kDeletionFailed = "failed";
// A scheduled or active deletion not updated for this long no longer holds off a new
// deletion of its room (the node running it is presumed gone).
inline constexpr int64_t kRoomDeletionStaleMs = 10 * 60 * 1000;
// delete_id: 1 to this many characters of [A-Za-z0-9].
inline constexpr size_t kDeleteIdBytesMax = 64;
// Entries of each result list (kicked_users, failed_to_kick_users, local_aliases)
// one record holds; the job lists the first ones only.
inline constexpr size_t kRoomDeletionListedMax = 1000;
// The longest error message a record holds (bytes; the job truncates longer ones).
inline constexpr size_t kRoomDeletionErrorBytesMax = 1024;
// The most deletions of one room ListRoomDeletions returns (the oldest IDs first).
inline constexpr size_t kRoomDeletionsPerRoomMax = 100;

struct RoomDeletion {
  std::string delete_id{};
  std::string room_id{};
  std::string status{};  // one of the kDeletion* statuses
  std::string actor{};   // the admin who asked
  int64_t ts = 0;        // ms since the epoch: the proposer's time of this update
  int64_t created_ts = 0;  // set by apply: ts of the first record
  std::vector<std::string> kicked_users{};
  std::vector<std::string> failed_to_kick_users{};
  std::vector<std::string> local_aliases{};
  std::optional<std::string> new_room_id{};
  std::optional<std::string> error{};  // with status "failed"
  bool operator==(const RoomDeletion&) const = default;
};

// Field checks of a record (IDs, status, list and error sizes): kInvalidArgument.
[[nodiscard]] Status ValidateRoomDeletion(const RoomDeletion& deletion);
// The command's JSON object (with "op":"delete_room") and back (kBadJson).
[[nodiscard]] boost::json::object RoomDeletionJson(const RoomDeletion& deletion);
[[nodiscard]] Result<RoomDeletion> RoomDeletionFromJson(const boost::json::object& o);

// Applies one "delete_room" op (see the header comment).
[[nodiscard]] Result<std::string> ApplyRoomDeletion(storage::Store& store,
                                                    rocksdb::WriteBatch& batch,
                                                    const RoomDeletion& deletion);

// The record of delete_id; nullopt when there is none. kCorruption for a bad record.
[[nodiscard]] Result<std::optional<RoomDeletion>> GetRoomDeletion(const storage::ReadView& view,
                                                                  std::string_view delete_id);
// The room's deletions (at most kRoomDeletionsPerRoomMax), in delete_id order.
[[nodiscard]] Result<std::vector<RoomDeletion>> ListRoomDeletions(const storage::ReadView& view,
                                                                  std::string_view room_id);

}  // namespace nebu::admin
