// StreamReader: reads the engine's node-wide stream (Cf::kStream of the state DB) in
// position order and resolves each entry into what the projection stores: room events
// (their verified envelope and room ID) and account data (its current content). The
// deterministic half of the projector: no SQL, no clock, no threads.
//
//   StreamReader reader(engine.store());
//   NEBU_ASSIGN_OR_RETURN(StreamBatch b, reader.Read(/*after=*/checkpoint, {.entries_max = 5000}));
//   // b.upto is the last position covered (>= every item's position); b.upto == after: nothing new
//
// Kinds the projection has no table for (to-device messages, device-key changes) and
// receipts (not projected yet) are counted in `skipped` and covered by `upto`, so the
// checkpoint moves past them.
//
// Thread-safety: one reader per thread (it caches room IDs); the Store is shared.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/common/status.h"
#include "engine/storage/envelope.h"
#include "engine/storage/store.h"

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

struct StreamBatch {
  storage::StreamPosition after = 0;  // exclusive start
  storage::StreamPosition upto = 0;   // the last position read (== after when empty)
  std::vector<RoomEventItem> events;
  std::vector<AccountDataItem> account_data;
  size_t skipped = 0;
  size_t bytes = 0;
  size_t entries() const { return events.size() + account_data.size() + skipped; }
};

struct ReadLimits {
  size_t entries_max = kBatchEntriesMax;
  size_t bytes_max = kBatchBytesMax;
  std::chrono::milliseconds collect_max{kBatchCollectMsMax};
};

class StreamReader {
 public:
  explicit StreamReader(storage::Store& store) : store_(store) {}

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
  storage::Store& store_;
  std::unordered_map<storage::RoomNumber, RoomInfo> rooms_;
};

}  // namespace nebu::projections
