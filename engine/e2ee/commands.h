// E2EE commands: the deterministic mutations of device keys, one-time and fallback
// keys, cross-signing keys and signatures, and to-device queues, as replicated in
// core::CommandKind::kE2ee. The API layer checks a request, builds one of these
// structs and proposes EncodeE2eeCommand(...); every node applies the same bytes with
// ApplyE2eeCommand (e2ee.h).
//
//   UploadKeysCommand upload{.user_id = "@a:hs", .device_id = "DEV"};
//   upload.one_time_keys["signed_curve25519:AAAAAQ"] = key_object;
//   NEBU_ASSIGN_OR_RETURN(std::string payload, EncodeE2eeCommand(upload));
//   engine.SubmitAsync({core::CommandKind::kE2ee, payload}, done);
//
// Payload: one canonical JSON object {"op": <name>, ...}; ops and fields (stable, they
// are in every replicated log):
//   upload_keys          {user_id, device_id, device_keys?, one_time_keys, fallback_keys}
//   claim_keys           {claims: [[user, device, algorithm], ...]}
//   upload_signing_keys  {user_id, master_key?, self_signing_key?, user_signing_key?,
//                         without_uia?, check_master_signature?}  (the flags:
//                         present only when true)
//   upload_signatures    {signer, signatures: [[target user, target key id,
//                                               signer key id, signature], ...],
//                         check_signatures?}  (present only when true)
//   send_to_device       {sender, sender_device, txn_id, type,
//                         messages: [[user, device or "*", content], ...]}
//   delete_to_device     {user_id, device_id, upto}
//   prune_devices        {user_id}
// Decode(Encode(c)) == c for every valid c; unknown ops and fields are refused.
//
// Thread-safety: values and pure functions.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/common/status.h"

namespace nebu::e2ee {

// Limits checked by ValidateE2eeCommand (so by encode, decode and apply). A command
// must also fit core::kCommandBytesMax (256 KiB) once encoded.
inline constexpr size_t kOneTimeKeysPerUploadMax = 200;    // matrix-rust-sdk sends <= 50
inline constexpr size_t kFallbackKeysPerUploadMax = 8;     // one per algorithm
// Quotas decided in apply (e2ee.h; over one, the command is refused, kForbidden):
// one-time keys stored per device, all algorithms together (clients keep ~50-100 per
// algorithm: libolm/vodozemac's target is half of their 100-key store).
inline constexpr size_t kOneTimeKeysPerDeviceMax = 1000;
// fallback keys stored per device (one per algorithm; clients use one or two).
inline constexpr size_t kFallbackKeysPerDeviceMax = 16;
inline constexpr size_t kKeyJsonBytesMax = 8 * 1024;       // one key object, canonical
inline constexpr size_t kClaimsPerRequestMax = 1000;       // (user, device, algorithm)
inline constexpr size_t kSignaturesPerUploadMax = 1000;
inline constexpr size_t kToDeviceMessagesPerRequestMax = 1000;
inline constexpr size_t kToDeviceQueueMax = 10000;  // queued per device; more are dropped
// Queued for one device from one sender, so one sender cannot fill another's queue.
// A message over it is dropped; a command that queues nothing because of it is
// refused (kForbidden). Room-key shares to a device that never syncs are what grows
// this for a real client: 1,000 is years of them.
inline constexpr size_t kToDeviceFromSenderMax = 1000;
inline constexpr size_t kToDeviceContentBytesMax = 64 * 1024;
inline constexpr size_t kIdBytesMax = 255;  // user, device, key, txn IDs

struct UploadKeysCommand {
  std::string user_id{};
  std::string device_id{};
  std::optional<boost::json::object> device_keys{};
  boost::json::object one_time_keys{};  // "<algorithm>:<key id>" -> key (string or object)
  boost::json::object fallback_keys{};  // the same, at most one per algorithm
  bool operator==(const UploadKeysCommand&) const = default;
};

struct KeyClaim {
  std::string user_id{};
  std::string device_id{};
  std::string algorithm{};
  bool operator==(const KeyClaim&) const = default;
};
struct ClaimKeysCommand {
  std::vector<KeyClaim> claims{};  // distinct triples
  bool operator==(const ClaimKeysCommand&) const = default;
};

// without_uia: the API skipped user-interactive auth because the keys it read looked
// like a first upload (no master key) or a retry (every given key equal to the stored
// one). That is a compare-and-set decided in apply on the applied state: unless the
// user has no master key yet, or every given key equals the stored key of its usage,
// the command is refused with kAlreadyExists ("cross-signing keys exist"), so two
// racing "first" uploads cannot both skip the password. Logs written before the field
// existed decode with without_uia = false (applied unconditionally, as then).
//
// check_master_signature: the self-signing and user-signing keys must be signed by
// the master key in effect when the command applies (its own master_key, else the
// stored one), not by the one the proposer read (another node may have replaced it
// since): apply checks (signatures.h, CheckSignedByMaster) and refuses the whole
// command with kInvalidArgument (kNoMasterSigningKey, kNotSignedByMaster). Logs
// written before the field decode with false (not checked in apply, as then).
struct UploadSigningKeysCommand {
  std::string user_id{};
  std::optional<boost::json::object> master_key{};
  std::optional<boost::json::object> self_signing_key{};
  std::optional<boost::json::object> user_signing_key{};
  bool without_uia = false;
  bool check_master_signature = false;
  bool operator==(const UploadSigningKeysCommand&) const = default;
};

struct SignatureEntry {
  std::string target_user{};
  std::string target_key_id{};  // a device ID, or the public key of a cross-signing key
  std::string signer_key_id{};  // "ed25519:<device id or public key>"
  std::string signature{};
  bool operator==(const SignatureEntry&) const = default;
};
// check_signatures: apply checks each signature against the applied state
// (e2ee.h, FindSignatureTarget: the stored target key and the signer keys allowed
// now), not the state the proposer read; an entry that does not verify is not stored
// and is reported in the outcome's "failures" ({user: {key: {errcode, error}}}).
// Logs written before the field decode with false (stored unchecked, as then).
struct UploadSignaturesCommand {
  std::string signer{};
  std::vector<SignatureEntry> signatures{};
  bool check_signatures = false;
  bool operator==(const UploadSignaturesCommand&) const = default;
};

struct ToDeviceTarget {
  std::string user_id{};
  std::string device_id{};  // or "*": every device the user has when it applies
  boost::json::object content{};
  bool operator==(const ToDeviceTarget&) const = default;
};
struct SendToDeviceCommand {
  std::string sender{};
  std::string sender_device{};
  std::string txn_id{};
  std::string type{};
  std::vector<ToDeviceTarget> messages{};
  bool operator==(const SendToDeviceCommand&) const = default;
};

struct DeleteToDeviceCommand {
  std::string user_id{};
  std::string device_id{};
  uint64_t upto = 0;
  bool operator==(const DeleteToDeviceCommand&) const = default;
};

// Deletes every e2ee record of the user's devices that no longer exist in the
// accounts' device table (after logout, device deletion, deactivation).
struct PruneDevicesCommand {
  std::string user_id{};
  bool operator==(const PruneDevicesCommand&) const = default;
};

using E2eeCommand = std::variant<UploadKeysCommand, ClaimKeysCommand, UploadSigningKeysCommand,
                                 UploadSignaturesCommand, SendToDeviceCommand,
                                 DeleteToDeviceCommand, PruneDevicesCommand>;

std::string_view E2eeCommandName(const E2eeCommand& command);

// Stateless checks: kInvalidArgument for an empty or oversized ID, a key name that is
// not "<algorithm>:<key id>", two fallback keys of one algorithm, a key that is neither
// a string nor an object; kTooLarge beyond the *Max limits; kBadJson for JSON without
// a canonical form (floats).
[[nodiscard]] Status ValidateE2eeCommand(const E2eeCommand& command);
[[nodiscard]] Result<std::string> EncodeE2eeCommand(const E2eeCommand& command);
// kNotJson, kBadJson (unknown op or field, missing or mistyped field), then Validate's.
[[nodiscard]] Result<E2eeCommand> DecodeE2eeCommand(std::string_view payload);

// "<algorithm>:<key id>" split at the first ':'; nullopt when either part is empty.
std::optional<std::pair<std::string_view, std::string_view>> SplitKeyName(std::string_view name);

}  // namespace nebu::e2ee
