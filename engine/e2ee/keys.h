// Key codecs of the e2ee column families (docs/storage-format.md § e2ee). Every
// component is length-prefixed (storage::PutLengthPrefixed), so no user's or
// device's keys are a prefix of another's, and a one-byte tag separates the key
// kinds that share a family.
//
//   std::string k = OneTimeKeyKey("@a:hs", "DEV", "signed_curve25519", "AAAAAQ");
//   auto parts = DecodeParts(k, 4);   // {"@a:hs", "DEV", "signed_curve25519", "AAAAAQ"}
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/storage/keys.h"

namespace nebu::e2ee::internal {

// Cf::kDeviceKeys: lp(user) lp(device) -> device keys (canonical JSON object).
std::string DeviceKeysKey(std::string_view user_id, std::string_view device_id);
std::string DeviceKeysPrefix(std::string_view user_id);

// Cf::kOneTimeKeys tags.
inline constexpr char kTagOneTimeKey =
    'k';  // 'k' lp(user) lp(device) lp(algorithm) lp(key id) -> key JSON
inline constexpr char kTagKeyCount = 'c';  // 'c' lp(user) lp(device) lp(algorithm) -> u64 count
inline constexpr char kTagFallback =
    'f';  // 'f' lp(user) lp(device) lp(algorithm) -> fallback record

// Cf::kCrossSigning tags.
inline constexpr char kTagSigningKey = 'k';  // 'k' lp(user) lp(usage) -> key JSON
inline constexpr char kTagSignature =
    's';  // 's' lp(target user) lp(target key id) lp(signer) lp(signer key id) -> signature

// Cf::kToDevice tags.
inline constexpr char kTagMessage = 'm';     // 'm' lp(user) lp(device) u64 position -> message JSON
inline constexpr char kTagQueueCount = 'n';  // 'n' lp(user) lp(device) -> u64 queued messages
inline constexpr char kTagTxn = 't';         // 't' lp(sender) lp(sender device) lp(txn id) -> ""
inline constexpr char kTagSenderCount = 's';  // 's' lp(user) lp(device) lp(sender) -> u64 queued

// tag, then each part length-prefixed. With no tag (0) the key starts with the parts.
std::string TaggedKey(char tag, std::initializer_list<std::string_view> parts);

std::string OneTimeKeyKey(std::string_view user_id, std::string_view device_id,
                          std::string_view algorithm, std::string_view key_id);
std::string FallbackKey(std::string_view user_id, std::string_view device_id,
                        std::string_view algorithm);
std::string KeyCountKey(std::string_view user_id, std::string_view device_id,
                        std::string_view algorithm);
std::string SigningKeyKey(std::string_view user_id, std::string_view usage);
std::string SignatureKey(std::string_view target_user, std::string_view target_key_id,
                         std::string_view signer, std::string_view signer_key_id);
std::string ToDeviceKey(std::string_view user_id, std::string_view device_id,
                        storage::StreamPosition position);
std::string QueueCountKey(std::string_view user_id, std::string_view device_id);
std::string SenderCountKey(std::string_view user_id, std::string_view device_id,
                           std::string_view sender);
std::string TxnKey(std::string_view sender, std::string_view sender_device,
                   std::string_view txn_id);

// The `count` length-prefixed parts after `skip` leading bytes (the tag), and the
// rest of the key in *rest (may be null); nullopt when malformed.
std::optional<std::vector<std::string_view>> DecodeParts(std::string_view key, size_t count,
                                                         size_t skip = 0,
                                                         std::string_view* rest = nullptr);

// Fallback key record: u8 used (0/1) | lp(key id) | key JSON.
struct FallbackRecord {
  bool used = false;
  std::string key_id;
  std::string json;
  bool operator==(const FallbackRecord&) const = default;
};
std::string EncodeFallback(const FallbackRecord& record);
std::optional<FallbackRecord> DecodeFallback(std::string_view value);

}  // namespace nebu::e2ee::internal
