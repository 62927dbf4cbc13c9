// Read receipts (m.read, m.read.private) and read markers (m.fully_read).
// (Contract header; the module is being built — see issue 3.)
#pragma once

#include <rocksdb/write_batch.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/storage/store.h"
#include "engine/storage/stream_entry.h"

namespace nebu::receipts {

// The state-machine side of a core::CommandKind::kReceipt command: deterministic,
// stages its writes into `batch` and a StreamKind::kReceipt entry per stored receipt.
[[nodiscard]] Result<std::string> ApplyReceiptCommand(storage::Store& store,
                                                      rocksdb::WriteBatch& batch,
                                                      std::string_view payload,
                                                      storage::StreamAppender& stream);

// ---- reads /sync makes (api/sync.cpp calls exactly this) ----

struct Receipt {
  std::string user_id;
  std::string type;       // m.read or m.read.private
  std::string event_id;
  std::string thread_id;  // "" when unthreaded
  int64_t ts = 0;         // origin_server_ts chosen when the receipt was proposed
  storage::StreamPosition position = 0;
};

// The current receipts in `room` whose stream position is in (after, upto]
// (after = 0: every current receipt). Private receipts included: the caller filters.
[[nodiscard]] Result<std::vector<Receipt>> ReceiptsInRoom(storage::Store& store,
                                                          storage::RoomNumber room,
                                                          storage::StreamPosition after,
                                                          storage::StreamPosition upto);

}  // namespace nebu::receipts
