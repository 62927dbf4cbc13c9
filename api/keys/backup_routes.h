// Server-side key backup endpoints of the Client-Server API (§ End-to-End Encryption,
// "Server-side key backups"; key_backup.yaml), each under /_matrix/client/v3 and r0:
//
//   POST   /room_keys/version                    async {version}
//   GET    /room_keys/version                    sync  {algorithm, auth_data, count, etag,
//                                                       version}; 404 M_NOT_FOUND none
//   GET    /room_keys/version/{version}          sync  the same; 404 M_NOT_FOUND
//   PUT    /room_keys/version/{version}          async {}  (auth_data only; 400
//                                                       M_INVALID_PARAM for another
//                                                       algorithm or body version)
//   DELETE /room_keys/version/{version}          async {}  (its keys too; a version
//                                                       deleted before: {} again)
//   PUT    /room_keys/keys[/{roomId}[/{sessionId}]]?version=   async {count, etag}
//   GET    /room_keys/keys[/{roomId}[/{sessionId}]]?version=   offloaded {rooms} / {sessions} /
//                                                       KeyBackupData (404 for a session
//                                                       not backed up); 413 M_TOO_LARGE
//                                                       for an answer over
//                                                       e2ee::kBackupKeysAnswerBytesMax
//                                                       (64 MiB; no paging in the spec:
//                                                       the per-room route still serves)
//   DELETE /room_keys/keys[/{roomId}[/{sessionId}]]?version=   async {count, etag}
//
//   AddBackupRoutes(router, engine);   // called by AddKeysRoutes
//
// Every write is one core::CommandKind::kKeyBackup command (engine/e2ee/backup.h,
// which also holds the replacement rule and the quotas), answered once applied.
// Errors: 401 without a valid token; 400 M_NOT_JSON / M_BAD_JSON for a malformed body
// (a missing or mistyped field, key data without its four fields); 400
// M_MISSING_PARAM without ?version= on a keys route; 400 M_INVALID_PARAM for a
// malformed room or session ID; 404 M_NOT_FOUND for a version the caller does not
// have (another user's version number is just unknown: versions are per user);
// 403 M_WRONG_ROOM_KEYS_VERSION {current_version} for an upload to a version that is
// not the current one; 413 M_TOO_LARGE over kBackupBodyBytesMax, over
// e2ee::kBackupSessionsPerPutMax keys, or a session_data over
// e2ee::kBackupSessionDataBytesMax; 403 M_FORBIDDEN over a quota
// (e2ee::kBackupVersionsPerUserMax, e2ee::kBackupKeysPerUserMax).
//
// Thread-safety: handlers are safe from any thread; the engine must outlive the router.
#pragma once

#include <cstddef>

#include "api/router.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

// A request body of the version routes (auth_data is at most 16 KiB).
inline constexpr size_t kBackupBodyBytesMax = 224 * 1024;
// A request body of PUT /room_keys/keys...: 4 MiB, room for e2ee::kBackupSessionsPerPutMax
// (1,000) keys of ~4 KiB. A keys upload whose command would exceed
// core::kCommandBytesMax (256 KiB) is split into several commands of whole keys,
// applied in order (the replacement rule decides each key alone, so the outcome is
// that of one command; an upload refused part way keeps its earlier parts, and its
// retry changes them no more). The answer is the last part's {count, etag}.
inline constexpr size_t kBackupKeysBodyBytesMax = 4 * 1024 * 1024;

void AddBackupRoutes(Router& router, core::Engine& engine);

}  // namespace nebu::api
