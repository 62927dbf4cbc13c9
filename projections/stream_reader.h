// StreamReader: reads the engine's node-wide stream (Cf::kStream of the state DB) in
// position order and resolves each entry into what the projection stores: room events
// (their verified envelope and room ID) and account data (its current content). The
// deterministic half of the projector: no SQL, no clock, no threads.
//
//   StreamReader reader(engine.Latest());  // each Read pins its own snapshot
//   NEBU_ASSIGN_OR_RETURN(StreamBatch b, reader.Read(/*after=*/checkpoint, {.entries_max = 5000}));
//   // b.upto is the last position covered (>= every item's position); b.upto == after: nothing new
//
// Receipt entries resolve to the receipt stored at that position (`receipts`; none
// when a later receipt of the same room, type, user and thread replaced it: the later
// entry carries it). Device-key entries resolve, once per user and batch, to the
// user's CURRENT device keys and cross-signing keys (`device_keys`): a later entry
// for the user carries the same or newer keys, so replacing the user's rows with
// what is read now converges. One-time and fallback keys are not projected (they
// are consumed as they are claimed). To-device messages have no table: they are
// counted in `skipped`. Every entry is covered by `upto`, so the checkpoint moves
// past it.
//
// The stream is iterated by core::ScanStream (engine/core/stream_reader.h), the one
// reader of Cf::kStream; each Read resolves its batch from one snapshot of the store.
//
// Thread-safety: one reader per thread (it caches room IDs); the Store is shared.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "engine/common/status.h"
#include "engine/storage/envelope.h"
#include "engine/storage/read_view.h"
#include "engine/storage/room_log.h"
#include "engine/storage/store.h"
#include "engine/storage/stream_entry.h"

namespace nebu::projections {

inline constexpr size_t kBatchEntriesMax = 5000;        // stream entries per batch
inline constexpr size_t kBatchBytesMax = 8u << 20;      // event JSON bytes per batch
inline constexpr int64_t kBatchCollectMsMax = 250;      // reading one batch stops after this

struct RoomEventItem {
  std::string room_id;
  std::string room_version;
  storage::EventRecord record;  // record.stream_position is the item's position
};

struct AccountDataItem {
  storage::StreamPosition position = 0;
  std::string user_id;
  std::string room_id;                // "" for global account data
  std::string type;
  std::optional<std::string> content;  // canonical JSON; nullopt when absent now
};

// The current receipt stored at a 'r' entry's position (engine/receipts).
struct ReceiptItem {
  storage::StreamPosition position = 0;
  std::string room_id;
  std::string user_id;
  std::string receipt_type;  // m.read or m.read.private
  std::string thread_id;     // "" when unthreaded
  std::string event_id;
  int64_t ts = 0;
};

// A user's current published keys, for the 'k' entries of one user in one batch
// (engine/e2ee): every device that uploaded device keys and the cross-signing keys.
struct DeviceKeysItem {
  struct Device {
    std::string device_id;
    std::vector<std::string> algorithms;  // the "algorithms" array (strings only)
    std::vector<std::string> key_ids;     // the names in the "keys" object ("ed25519:DEV")
    std::string json;                     // the device keys as uploaded (canonical JSON)
  };
  storage::StreamPosition position = 0;  // the user's last 'k' entry in the batch
  std::string user_id;
  std::vector<Device> devices;                                   // by device ID
  std::vector<std::pair<std::string, std::string>> cross_signing;  // (usage, key JSON)
};

// The user's current device keys and cross-signing keys (position left 0).
// kCorruption when stored device keys are not a JSON object.
[[nodiscard]] Result<DeviceKeysItem> ReadUserKeys(const storage::ReadView& store,
                                                 std::string_view user_id);

struct StreamBatch {
  storage::StreamPosition after = 0;  // exclusive start
  storage::StreamPosition upto = 0;   // the last position read (== after when empty)
  std::vector<RoomEventItem> events;
  std::vector<AccountDataItem> account_data;
  std::vector<ReceiptItem> receipts;
  std::vector<DeviceKeysItem> device_keys;  // one per user, in order of first entry
  size_t receipt_entries = 0;     // 'r' entries read (some resolve to no item)
  size_t device_key_entries = 0;  // 'k' entries read (deduplicated per user)
  size_t skipped = 0;
  size_t bytes = 0;
  size_t entries() const {
    return events.size() + account_data.size() + receipt_entries + device_key_entries + skipped;
  }
};

struct ReadLimits {
  size_t entries_max = kBatchEntriesMax;
  size_t bytes_max = kBatchBytesMax;
  std::chrono::milliseconds collect_max{kBatchCollectMsMax};
};

class StreamReader {
 public:
  // `view` is the source (usually unpinned: each Read pins its own snapshot).
  explicit StreamReader(storage::ReadView view) : view_(std::move(view)) {}

  // Entries with position > after, in order, within the limits (at least one entry
  // when any exists). kCorruption when an entry or its event fails verification.
  [[nodiscard]] Result<StreamBatch> Read(storage::StreamPosition after, const ReadLimits& limits = {});

  // The last stream position written (0 for an empty stream).
  [[nodiscard]] Result<storage::StreamPosition> Head();

  // origin_server_ts of the first room event after `after` (nullopt when none), for lag.
  [[nodiscard]] Result<std::optional<int64_t>> FirstEventTsAfter(storage::StreamPosition after);

  // The room ID and version of a room number (cached).
  struct RoomInfo {
    std::string room_id;
    std::string room_version;
  };
  [[nodiscard]] Result<RoomInfo> Room(storage::RoomNumber room);

 private:
  // Resolvers of the tagged kinds; they append to batch.
  Status Resolve(const storage::ReadView& view, storage::RoomLog& log,
                 storage::StreamPosition position, const storage::StreamEntry& entry,
                 StreamBatch& batch, std::unordered_map<std::string, size_t>& key_users,
                 std::set<storage::RoomNumber>& receipt_rooms);
  Status ReadReceipts(const storage::ReadView& view, const std::set<storage::RoomNumber>& rooms,
                      StreamBatch& batch);
  Status ReadDeviceKeys(const storage::ReadView& view, storage::StreamPosition position,
                        const storage::StreamEntry& entry, StreamBatch& batch,
                        std::unordered_map<std::string, size_t>& by_user);

  storage::ReadView view_;
  std::unordered_map<storage::RoomNumber, RoomInfo> rooms_;
};

}  // namespace nebu::projections
