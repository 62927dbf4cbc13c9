// Receipts: read receipts (m.read, m.read.private) of users in rooms, as replicated in
// core::CommandKind::kReceipt. (Read markers, m.fully_read, are room account data and
// go through the accounts module; see api/receipts/receipt_routes.h.)
//
// The write path has two halves, like every command. On the node that receives a
// request the API layer decides the timestamp and encodes a ReceiptCommand; every
// node then applies the committed payload with ApplyReceiptCommand, which is
// deterministic: it checks the command against stored state (the room exists, the
// user is joined, the event is in the room) and stages the new current receipt of
// (room, type, user, thread) plus a StreamKind::kReceipt stream entry. A receipt only
// moves forward: one for the event it already points at, or for an earlier event of
// the room's log, changes nothing (and takes no stream position).
//
//   // On the receiving node (api/):
//   ReceiptCommand c{.room_id = "!r:hs", .user_id = "@a:hs", .type = "m.read",
//                    .event_id = "$e", .ts = clock.NowUnixMs()};
//   NEBU_ASSIGN_OR_RETURN(std::string payload, EncodeReceiptCommand(c));
//   engine.SubmitAsync({core::CommandKind::kReceipt, payload}, done);
//
//   // /sync: what changed in a room between two stream positions.
//   NEBU_ASSIGN_OR_RETURN(auto changed, ReceiptsInRoom(store, room, since, now));
//
// Storage (Cf::kReceipts, docs/storage-format.md § receipts): the current receipt
// under 'c' [room][type][user][thread], and a copy under 'p' [room][position] so the
// receipts changed after a stream position are one short range scan of the room.
//
// Thread-safety: pure functions over RocksDB; ApplyReceiptCommand reads applied state,
// not the pending batch, so the state machine applies a kReceipt command alone in its
// batch (it does). Reads are safe from any thread.
#pragma once

#include <rocksdb/write_batch.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"
#include "engine/storage/stream_entry.h"

namespace nebu::receipts {

inline constexpr std::string_view kReceiptTypeRead = "m.read";
inline constexpr std::string_view kReceiptTypeReadPrivate = "m.read.private";
inline constexpr size_t kThreadIdBytesMax = 255;  // "main" or a thread root event ID
// ReceiptsInRoom answers at most this many receipts (the oldest changes first): a
// bound on memory, far above a room's real count (members x 2 types x threads).
inline constexpr size_t kReceiptsPerReadMax = 100000;

// op-less canonical JSON payload: {"event_id", "room_id", "thread_id"?, "ts", "type",
// "user_id"}; thread_id absent when the receipt is unthreaded. Stable: it is in every
// replicated log.
struct ReceiptCommand {
  std::string room_id;
  std::string user_id;
  std::string type;  // kReceiptTypeRead or kReceiptTypeReadPrivate
  std::string event_id;
  std::string thread_id;  // "" when unthreaded
  int64_t ts = 0;         // ms since the epoch, decided by the receiving node
  bool operator==(const ReceiptCommand&) const = default;
};

// Stateless checks: kInvalidArgument for a malformed room, user or event ID, an unknown
// type, a thread_id that is neither "main" nor an event ID, or a negative or
// non-canonical ts.
[[nodiscard]] Status ValidateReceiptCommand(const ReceiptCommand& command);
// The canonical JSON payload; errors of ValidateReceiptCommand.
[[nodiscard]] Result<std::string> EncodeReceiptCommand(const ReceiptCommand& command);
// kNotJson / kTooLarge from the parser; kBadJson for a missing, mistyped or unknown
// field; then ValidateReceiptCommand's errors.
[[nodiscard]] Result<ReceiptCommand> DecodeReceiptCommand(std::string_view payload);

// The state-machine side of a core::CommandKind::kReceipt command: deterministic,
// stages its writes into `batch` and a StreamKind::kReceipt entry per stored receipt.
// Returns "{}". Errors (nothing of the command is in `batch` then):
//   those of DecodeReceiptCommand;
//   kForbidden   the room is unknown or the user is not joined to it now;
//   kNotFound    the event is not in that room;
//   kCorruption  a stored record failed to decode; kIoError when RocksDB fails.
[[nodiscard]] Result<std::string> ApplyReceiptCommand(storage::Store& store,
                                                      rocksdb::WriteBatch& batch,
                                                      std::string_view payload,
                                                      storage::StreamAppender& stream);

// ---- reads /sync makes (api/sync/sync.cpp calls exactly this) ----

struct Receipt {
  std::string user_id;
  std::string type;  // m.read or m.read.private
  std::string event_id;
  std::string thread_id;  // "" when unthreaded
  int64_t ts = 0;         // origin_server_ts chosen when the receipt was proposed
  storage::StreamPosition position = 0;
  bool operator==(const Receipt&) const = default;
};

// The current receipts in `room` whose stream position is in (after, upto]
// (after = 0: every current receipt), in stream-position order, at most
// kReceiptsPerReadMax. Private receipts included: the caller filters. One range scan
// of the room's position index; a receipt replaced by a newer one is reported once,
// at its newer position. kCorruption for a malformed record.
[[nodiscard]] Result<std::vector<Receipt>> ReceiptsInRoom(const storage::ReadView& store,
                                                          storage::RoomNumber room,
                                                          storage::StreamPosition after,
                                                          storage::StreamPosition upto);

// The current receipt of (room, type, user, thread); nullopt when none.
[[nodiscard]] Result<std::optional<Receipt>> GetReceipt(const storage::ReadView& store,
                                                        storage::RoomNumber room,
                                                        std::string_view type,
                                                        std::string_view user_id,
                                                        std::string_view thread_id);

}  // namespace nebu::receipts
