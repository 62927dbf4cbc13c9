#include "engine/e2ee/keys.h"

namespace nebu::e2ee::internal {

using storage::PutLengthPrefixed;

std::string TaggedKey(char tag, std::initializer_list<std::string_view> parts) {
  std::string out;
  if (tag != 0) out.push_back(tag);
  for (std::string_view part : parts) PutLengthPrefixed(&out, part);
  return out;
}

std::string DeviceKeysKey(std::string_view user_id, std::string_view device_id) {
  return TaggedKey(0, {user_id, device_id});
}
std::string DeviceKeysPrefix(std::string_view user_id) { return TaggedKey(0, {user_id}); }

std::string OneTimeKeyKey(std::string_view user_id, std::string_view device_id,
                          std::string_view algorithm, std::string_view key_id) {
  return TaggedKey(kTagOneTimeKey, {user_id, device_id, algorithm, key_id});
}
std::string FallbackKey(std::string_view user_id, std::string_view device_id,
                        std::string_view algorithm) {
  return TaggedKey(kTagFallback, {user_id, device_id, algorithm});
}
std::string KeyCountKey(std::string_view user_id, std::string_view device_id,
                        std::string_view algorithm) {
  return TaggedKey(kTagKeyCount, {user_id, device_id, algorithm});
}
std::string SigningKeyKey(std::string_view user_id, std::string_view usage) {
  return TaggedKey(kTagSigningKey, {user_id, usage});
}
std::string SignatureKey(std::string_view target_user, std::string_view target_key_id,
                         std::string_view signer, std::string_view signer_key_id) {
  return TaggedKey(kTagSignature, {target_user, target_key_id, signer, signer_key_id});
}
std::string ToDeviceKey(std::string_view user_id, std::string_view device_id,
                        storage::StreamPosition position) {
  std::string out = TaggedKey(kTagMessage, {user_id, device_id});
  storage::PutU64(&out, position);
  return out;
}
std::string QueueCountKey(std::string_view user_id, std::string_view device_id) {
  return TaggedKey(kTagQueueCount, {user_id, device_id});
}

std::string SenderCountKey(std::string_view user_id, std::string_view device_id,
                           std::string_view sender) {
  return TaggedKey(kTagSenderCount, {user_id, device_id, sender});
}
std::string TxnKey(std::string_view sender, std::string_view sender_device,
                   std::string_view txn_id) {
  return TaggedKey(kTagTxn, {sender, sender_device, txn_id});
}

std::optional<std::vector<std::string_view>> DecodeParts(std::string_view key, size_t count,
                                                         size_t skip, std::string_view* rest) {
  if (key.size() < skip) return std::nullopt;
  key.remove_prefix(skip);
  std::vector<std::string_view> parts;
  for (size_t i = 0; i < count; ++i) {
    auto part = storage::GetLengthPrefixed(&key);
    if (!part) return std::nullopt;
    parts.push_back(*part);
  }
  if (rest != nullptr) {
    *rest = key;
  } else if (!key.empty()) {
    return std::nullopt;
  }
  return parts;
}

std::string EncodeFallback(const FallbackRecord& record) {
  std::string out(1, record.used ? '\1' : '\0');
  PutLengthPrefixed(&out, record.key_id);
  out.append(record.json);
  return out;
}

std::optional<FallbackRecord> DecodeFallback(std::string_view value) {
  if (value.empty() || static_cast<unsigned char>(value[0]) > 1) return std::nullopt;
  FallbackRecord record;
  record.used = value[0] == 1;
  value.remove_prefix(1);
  auto key_id = storage::GetLengthPrefixed(&value);
  if (!key_id || value.empty()) return std::nullopt;
  record.key_id = std::string(*key_id);
  record.json = std::string(value);
  return record;
}

}  // namespace nebu::e2ee::internal
