// PLACEHOLDER (see compliance.h): no holds, and kPurge commands are refused.
#include "engine/compliance/compliance.h"

namespace nebu::compliance {

Result<std::optional<Hold>> FindHold(const storage::ReadView& /*view*/,
                                     std::string_view /*target*/) {
  return std::optional<Hold>{};
}

Result<std::string> ApplyPurgeCommand(storage::Store& /*store*/, rocksdb::WriteBatch& /*batch*/,
                                      std::string_view /*payload*/) {
  return Status(StatusCode::kInvalidArgument, "purge commands are not built yet");
}

}  // namespace nebu::compliance
