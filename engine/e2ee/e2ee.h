// End-to-end encryption, server side: device keys, one-time and fallback keys,
// cross-signing keys and signatures, and to-device messages (Client-Server API
// § End-to-End Encryption, § Send-to-Device messaging).
//
// Everything is replicated state: the API layer (api/keys/keys_routes.cpp) checks a
// request against applied state, builds an E2eeCommand (commands.h) and proposes it
// as core::CommandKind::kE2ee; every node applies it with ApplyE2eeCommand, which is
// deterministic (a claim takes the lowest key ID of the algorithm, then the fallback
// key; a to-device message to "*" goes to the devices the user has when it applies).
// Reads are point lookups and short prefix scans of applied state. Layout:
// engine/e2ee/keys.h and docs/storage-format.md § e2ee.
//
//   // api: propose an upload, answer with the counts the state machine returns
//   UploadKeysCommand c{.user_id = caller.user_id, .device_id = caller.device_id, ...};
//   engine.SubmitAsync({core::CommandKind::kE2ee, *EncodeE2eeCommand(c)}, done);
//   // /sync: messages for this device past the client's token
//   auto messages = ToDeviceMessages(store, user, device, since, now, 100);
//
// Stream entries (engine/storage/stream_entry.h): kToDevice(user, device or "*") per
// queued message group, kDeviceKeys(user) when a user's device keys, cross-signing
// keys or signatures change, kDeviceKeys(user, left) when a device with keys is gone.
//
// Thread-safety: reads are safe from any thread (RocksDB's guarantees).
// ApplyE2eeCommand reads stored state, not the pending batch: the state machine
// applies each kE2ee command alone in its batch.
#pragma once

#include <rocksdb/write_batch.h>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/common/status.h"
#include "engine/e2ee/commands.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"
#include "engine/storage/stream_entry.h"

namespace nebu::e2ee {

inline constexpr std::string_view kUsageMaster = "master";
inline constexpr std::string_view kUsageSelfSigning = "self_signing";
inline constexpr std::string_view kUsageUserSigning = "user_signing";
// Reported in device_one_time_keys_count even when zero (clients use its presence).
inline constexpr std::string_view kSignedCurve25519 = "signed_curve25519";

// The state-machine side of a core::CommandKind::kE2ee command: deterministic,
// stages its writes into `batch` and a stream entry per change /sync reports
// (kToDevice for a queued to-device message, kDeviceKeys for a key change).
// Returns a canonical JSON object:
//   upload_keys     {"one_time_key_counts": {algorithm: n}} after the upload
//   claim_keys      {"one_time_keys": {user: {device: {"alg:id": key}}}}
//   send_to_device  {"queued": n}  (device queues written; 0 for a repeated txn)
//   upload_signatures with check_signatures: {"failures": {user: {key: {errcode,
//                   error}}}} for the entries that did not verify (none: {})
//   others          {}
// Errors: DecodeE2eeCommand's; kNotFound (upload_keys: the device does not exist);
// kInvalidArgument (upload_keys: a one-time key ID already holds another key);
// kAlreadyExists (upload_signing_keys with without_uia when the user has a master key
// and a given key differs from the stored one: the caller must authenticate);
// kInvalidArgument (upload_signing_keys with check_master_signature when a
// self-signing or user-signing key is not signed by the master key in effect, or
// there is none: signatures.h, kNotSignedByMaster / kNoMasterSigningKey);
// kForbidden for a quota (commands.h): upload_keys when the device would hold more
// than kOneTimeKeysPerDeviceMax one-time keys (all algorithms) or
// kFallbackKeysPerDeviceMax fallback keys; send_to_device when nothing was queued
// because every target device already holds kToDeviceFromSenderMax from the sender
// (a target over it among others is skipped, like a full queue);
// kCorruption, kIoError from reads. On error nothing of the command is staged.
[[nodiscard]] Result<std::string> ApplyE2eeCommand(storage::Store& store,
                                                   rocksdb::WriteBatch& batch,
                                                   std::string_view payload,
                                                   storage::StreamAppender& stream);

// ---- reads /sync makes (api/sync/sync.cpp calls exactly these) ----

struct ToDeviceMessage {
  storage::StreamPosition position = 0;
  std::string sender;
  std::string type;
  std::string content;  // a JSON object, as text
};

// Messages queued for (user, device) with stream position in (after, upto], oldest
// first, at most `limit`.
[[nodiscard]] Result<std::vector<ToDeviceMessage>> ToDeviceMessages(
    const storage::ReadView& store, std::string_view user_id, std::string_view device_id,
    storage::StreamPosition after, storage::StreamPosition upto, size_t limit);
// True when (user, device) still has queued messages at or below `upto`; a /sync
// with since >= upto acknowledges them, and proposes EncodeDeleteToDevice.
[[nodiscard]] Result<bool> HasToDeviceUpTo(const storage::ReadView& store, std::string_view user_id,
                                           std::string_view device_id,
                                           storage::StreamPosition upto);
// The kE2ee payload that deletes (user, device)'s messages at or below `upto`;
// kInvalidArgument for a malformed ID or an `upto` over event::kCanonicalIntMax (a
// client's since token can name any position).
[[nodiscard]] Result<std::string> EncodeDeleteToDevice(std::string_view user_id,
                                                       std::string_view device_id,
                                                       storage::StreamPosition upto);
// device_one_time_keys_count: algorithm -> unclaimed one-time keys of the device
// (signed_curve25519 always present).
[[nodiscard]] Result<std::map<std::string, uint64_t>> OneTimeKeyCounts(const storage::ReadView& store,
                                                                       std::string_view user_id,
                                                                       std::string_view device_id);
// device_unused_fallback_key_types: algorithms with an unused fallback key.
[[nodiscard]] Result<std::vector<std::string>> UnusedFallbackKeyTypes(const storage::ReadView& store,
                                                                      std::string_view user_id,
                                                                      std::string_view device_id);

// ---- reads the key endpoints make ----

// The device keys (canonical JSON, as uploaded) of every device of the user that
// uploaded some, sorted by device ID.
[[nodiscard]] Result<std::vector<std::pair<std::string, std::string>>> ListDeviceKeys(
    const storage::ReadView& store, std::string_view user_id);
[[nodiscard]] Result<std::optional<std::string>> GetDeviceKeys(const storage::ReadView& store,
                                                               std::string_view user_id,
                                                               std::string_view device_id);
// The cross-signing key of `usage` (kUsageMaster, ...) as uploaded; nullopt if none.
[[nodiscard]] Result<std::optional<std::string>> GetCrossSigningKey(const storage::ReadView& store,
                                                                    std::string_view user_id,
                                                                    std::string_view usage);

// Every user with device keys or a cross-signing key, sorted and distinct: one scan
// of each family (the projection's verification, projections/verify.h). kCorruption
// for a malformed key.
[[nodiscard]] Result<std::vector<std::string>> UsersWithKeys(const storage::ReadView& store);

// Who may sign which key through /keys/signatures/upload, read from `store`: the
// stored object of target_user's key target_key_id (a device ID, or the public key
// of the master key) and the signer key IDs allowed to sign it ("ed25519:<id>" ->
// public key):
//   signer's own device           by the signer's self-signing key;
//   signer's own master key       by one of the signer's devices (its device key);
//   another user's master key     by the signer's user-signing key.
// nullopt with *why for anything else, or a key that is not stored. kCorruption,
// kIoError from reads. The API answers early from it; apply decides with it.
struct SignatureTarget {
  boost::json::object stored;
  std::map<std::string, std::string> allowed_signers;
};
[[nodiscard]] Result<std::optional<SignatureTarget>> FindSignatureTarget(
    const storage::ReadView& store, std::string_view signer, std::string_view target_user,
    std::string_view target_key_id, std::string* why);

struct StoredSignature {
  std::string signer;
  std::string signer_key_id;
  std::string signature;
  bool operator==(const StoredSignature&) const = default;
};
// Signatures uploaded through /keys/signatures/upload on one key of a user (a device
// ID, or the public key of a cross-signing key), sorted by signer and key ID.
[[nodiscard]] Result<std::vector<StoredSignature>> SignaturesOf(const storage::ReadView& store,
                                                                std::string_view target_user,
                                                                std::string_view target_key_id);

}  // namespace nebu::e2ee
