// Legal holds, retention and purges (issue 12, the compliance half), as replicated
// state in Cf::kAdmin (prefixes "h" and "p", engine/admin/admin.h) changed by
// core::CommandKind::kPurge commands.
//
// PLACEHOLDER: the compliance work replaces this header and compliance.cpp. Keep
// FindHold's signature: api/admin (deactivation with erase, room deletion) calls it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <rocksdb/write_batch.h>

#include "engine/common/status.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"

namespace nebu::compliance {

struct Hold {
  std::string hold_id{};
  std::string target{};  // a user ID or a room ID
  std::string reason{};
  std::string case_id{};
  std::string actor{};
  int64_t created_ts = 0;
};

// A hold covering `target` (a user ID or a room ID); nullopt when none does.
[[nodiscard]] Result<std::optional<Hold>> FindHold(const storage::ReadView& view,
                                                   std::string_view target);

// Applies a committed kPurge payload.
[[nodiscard]] Result<std::string> ApplyPurgeCommand(storage::Store& store,
                                                    rocksdb::WriteBatch& batch,
                                                    std::string_view payload);

}  // namespace nebu::compliance
