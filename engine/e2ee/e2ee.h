// End-to-end encryption, server side: device keys, one-time and fallback keys,
// cross-signing keys and signatures, and to-device messages.
// (Contract header; the module is being built — see issue 3.)
#pragma once

#include <rocksdb/write_batch.h>

#include <cstddef>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/storage/store.h"
#include "engine/storage/stream_entry.h"

namespace nebu::e2ee {

// The state-machine side of a core::CommandKind::kE2ee command: deterministic,
// stages its writes into `batch` and a stream entry per change /sync reports
// (kToDevice for a queued to-device message, kDeviceKeys for a key change).
[[nodiscard]] Result<std::string> ApplyE2eeCommand(storage::Store& store,
                                                   rocksdb::WriteBatch& batch,
                                                   std::string_view payload,
                                                   storage::StreamAppender& stream);

// ---- reads /sync makes (api/sync.cpp calls exactly these) ----

struct ToDeviceMessage {
  storage::StreamPosition position = 0;
  std::string sender;
  std::string type;
  std::string content;  // a JSON object, as text
};

// Messages queued for (user, device) with stream position in (after, upto], oldest
// first, at most `limit`.
[[nodiscard]] Result<std::vector<ToDeviceMessage>> ToDeviceMessages(
    storage::Store& store, std::string_view user_id, std::string_view device_id,
    storage::StreamPosition after, storage::StreamPosition upto, size_t limit);
// True when (user, device) still has queued messages at or below `upto`; a /sync
// with since >= upto acknowledges them, and proposes EncodeDeleteToDevice.
[[nodiscard]] Result<bool> HasToDeviceUpTo(storage::Store& store, std::string_view user_id,
                                           std::string_view device_id,
                                           storage::StreamPosition upto);
// The kE2ee payload that deletes (user, device)'s messages at or below `upto`.
[[nodiscard]] std::string EncodeDeleteToDevice(std::string_view user_id,
                                               std::string_view device_id,
                                               storage::StreamPosition upto);
// device_one_time_keys_count: algorithm -> unclaimed one-time keys of the device.
[[nodiscard]] Result<std::map<std::string, uint64_t>> OneTimeKeyCounts(
    storage::Store& store, std::string_view user_id, std::string_view device_id);
// device_unused_fallback_key_types: algorithms with an unused fallback key.
[[nodiscard]] Result<std::vector<std::string>> UnusedFallbackKeyTypes(
    storage::Store& store, std::string_view user_id, std::string_view device_id);

}  // namespace nebu::e2ee
