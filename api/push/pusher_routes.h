// Pushers (Client-Server API § Push notifications), under /_matrix/client/v3 and r0:
//
//   GET  /pushers        sync   {"pushers": [{app_id, pushkey, kind, app_display_name,
//                               device_display_name, profile_tag?, lang, data}]}
//                               the caller's live pushers (PusherIsLive), by (app_id, pushkey)
//   POST /pushers/set    async  {}
//        kind "http": creates or updates the caller's (app_id, pushkey) pusher (a kPusher
//        set command, engine/push/pushers.h); `append` false (the default) removes the
//        same app_id + pushkey of every other user. kind null: deletes it (absent: 200).
//
//   Router router("client");
//   AddPusherRoutes(router, *engine);
//
// Errors: 401 without a valid token; 400 M_MISSING_PARAM when kind, app_id or pushkey
// (or, for kind "http", app_display_name, device_display_name, lang or data) is absent;
// 400 M_BAD_JSON for a field of the wrong type; 400 M_INVALID_PARAM for a kind other
// than "http" or null (this server sends no e-mail), app_id over 64 characters, pushkey
// over 512 bytes, a display name/lang/profile_tag over push::kPusherTextBytesMax, a
// data.url that is not http(s) with a path ending in /_matrix/push/v1/notify, a
// data.format other than "event_id_only", more than push::kPushersPerUserMax pushers;
// 413 M_TOO_LARGE for `data` over push::kPusherDataBytesMax or a body over
// kPusherBodyBytesMax. Nothing changes on an error.
//
// A pusher belongs to the device that set it: once that device is logged out or
// deleted, or the user deactivated, the pusher is no longer listed nor pushed to (as
// Synapse removes them), and the delivery (pusher_delivery.h) removes it from the state.
//
// Thread-safety: handlers are safe from any thread; the engine must outlive the router.
#pragma once

#include <cstddef>

#include "api/router.h"
#include "engine/common/status.h"
#include "engine/push/pushers.h"
#include "engine/storage/read_view.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

inline constexpr size_t kPusherBodyBytesMax = 16 * 1024;

void AddPusherRoutes(Router& router, core::Engine& engine);

// False when the pusher's device no longer exists or its user is deactivated or gone.
[[nodiscard]] Result<bool> PusherIsLive(const storage::ReadView& view,
                                        const push::StoredPusher& pusher);

}  // namespace nebu::api
