// The end-to-end encryption endpoints of the Client-Server API (§ End-to-End
// Encryption, § Send-to-Device messaging), each under /_matrix/client/v3 and r0:
//
//   POST /keys/upload                     async  {one_time_key_counts}
//   POST /keys/query                      sync   {device_keys, master_keys, self_signing_keys,
//                                                 user_signing_keys (own only), failures}
//   POST /keys/claim                      async  {one_time_keys, failures}
//   GET  /keys/changes?from=&to=          sync (offloaded)   {changed, left}
//   POST /keys/device_signing/upload      async  {}   UIA m.login.password when replacing keys
//   POST /keys/signatures/upload          async  {failures}
//   PUT  /sendToDevice/{eventType}/{txnId} async {}
//   /room_keys/...                        key backup: api/keys/backup_routes.h
//
//   Router client("client");
//   AddKeysRoutes(client, *engine);
//
// Every write is one core::CommandKind::kE2ee command (engine/e2ee/commands.h), so it
// is replicated and survives restarts; a write answers after it is applied. Claims go
// through the log too: the state machine picks the key (the lowest key ID of the
// algorithm, then the fallback key, which it marks used), so two claimants never get
// the same one-time key.
//
// Rules worth knowing:
// - /keys/upload: device_keys must name the caller's user and device (400
//   M_INVALID_PARAM otherwise); re-uploading a one-time key ID with other content is
//   400 M_INVALID_PARAM; at most e2ee::kOneTimeKeysPerUploadMax keys per request.
// - /keys/query and /keys/claim serve local users; users of other servers are listed
//   in `failures` (no federation yet). Device keys carry the signatures uploaded
//   through /keys/signatures/upload and unsigned.device_display_name; a master key
//   carries the signatures by its owner and by the caller.
// - /keys/changes: users (the caller included) whose device or cross-signing keys
//   changed in (from, to] and who share a joined room with the caller now; tokens are
//   sync tokens "s<position>[_...]". `left`: users whose membership changed in
//   (from, to] in a room the caller is or was in (or, when the caller's own
//   membership changed, that room's members) and who share no joined room with the
//   caller now. In a cluster (api/token_wait.h) a token ahead of this node's stream
//   waits up to TokenWaitMs() for the node to apply it, then is 400 M_INVALID_PARAM;
//   on a single node (TokenWaitMs() 0) the range just ends at the node's position.
// - /keys/device_signing/upload: no UIA when the user has no master key yet or the
//   request repeats the stored keys exactly; otherwise UIA m.login.password. Skipping
//   UIA is decided again in apply on the applied state (e2ee without_uia, a
//   compare-and-set): when another upload stored keys first (two racing "first"
//   uploads, on one node or several), the loser gets the UIA 401 challenge as if the
//   keys had existed, or, with auth in the body, its password is checked then.
//   Self-signing and user-signing keys must carry a valid ed25519 signature by the
//   master key (400 M_INVALID_SIGNATURE otherwise).
// - /keys/signatures/upload: own devices are signed by the own self-signing key, the
//   own master key by an own device, other users' master keys by the own
//   user-signing key, each with a valid ed25519 signature over the key as stored;
//   anything else is a failure M_INVALID_SIGNATURE.
// - /sendToDevice: messages to unknown users or devices are dropped (like Synapse);
//   remote users are skipped; a repeated txnId (per device) is answered {} again and
//   queues nothing.
//
// Thread-safety: handlers are safe from any thread; the engine must outlive the router.
#pragma once

#include <cstddef>
#include <string>

#include <memory>

#include "api/rate_limit.h"
#include "api/router.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

inline constexpr size_t kKeysBodyBytesMax = 192 * 1024;      // upload, claim, query, signatures
inline constexpr size_t kToDeviceBodyBytesMax = 224 * 1024;  // must fit core::kCommandBytesMax
inline constexpr size_t kKeysQueryUsersMax = 1000;
// /keys/changes examines at most this many stream entries; past it, it answers every
// user who shares a room with the caller (a superset the client re-queries).
inline constexpr size_t kKeyChangesScanEntriesMax = 100000;

// `limits`: the UIA password check of /keys/device_signing/upload takes from
// limits->password_check (shared with the account routes); null: no limit.
void AddKeysRoutes(Router& router, core::Engine& engine,
                   std::shared_ptr<UserRateLimits> limits = nullptr);

}  // namespace nebu::api
