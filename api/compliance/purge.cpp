// PLACEHOLDER (see purge.h).
#include "api/compliance/purge.h"

namespace nebu::api {

Result<PurgeRoomReport> PurgeRoomHistory(core::Engine& /*engine*/,
                                         const PurgeRoomRequest& /*request*/) {
  return Status(StatusCode::kUnavailable, "room purges are not built yet");
}

}  // namespace nebu::api
