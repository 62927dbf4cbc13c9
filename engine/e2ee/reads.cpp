// The reads of e2ee.h: point lookups and prefix scans of applied state.
#include <boost/json/value.hpp>
#include <memory>
#include <set>

#include "engine/e2ee/e2ee.h"
#include "engine/e2ee/keys.h"
#include "engine/e2ee/signatures.h"
#include "engine/event/canonical_json.h"

namespace nebu::e2ee {
namespace {

namespace json = boost::json;
using storage::Cf;

// Visits every (key, value) under prefix from `start` (>= prefix) in order; stops
// when visit returns false.
template <typename Visit>
Status ScanFrom(const storage::ReadView& store, Cf cf, std::string_view prefix, std::string_view start,
                Visit&& visit) {
  std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(cf);
  for (it->Seek(start); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    NEBU_ASSIGN_OR_RETURN(bool more, visit(it->key().ToStringView(), it->value().ToStringView()));
    if (!more) break;
  }
  return storage::FromRocks(it->status());
}

}  // namespace

Result<std::vector<ToDeviceMessage>> ToDeviceMessages(const storage::ReadView& store,
                                                      std::string_view user_id,
                                                      std::string_view device_id,
                                                      storage::StreamPosition after,
                                                      storage::StreamPosition upto, size_t limit) {
  std::vector<ToDeviceMessage> out;
  if (limit == 0 || upto <= after) return out;
  const std::string prefix = internal::TaggedKey(internal::kTagMessage, {user_id, device_id});
  NEBU_RETURN_IF_ERROR(
      ScanFrom(store, Cf::kToDevice, prefix, internal::ToDeviceKey(user_id, device_id, after + 1),
               [&](std::string_view key, std::string_view value) -> Result<bool> {
                 std::string_view rest = key.substr(prefix.size());
                 if (rest.size() != 8) return Status::Corruption("bad to-device key");
                 const storage::StreamPosition position = storage::GetU64(rest.data());
                 if (position > upto) return false;
                 NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(value));
                 const json::object* o = v.if_object();
                 const json::value* content = o ? o->if_contains("content") : nullptr;
                 const json::value* sender = o ? o->if_contains("sender") : nullptr;
                 const json::value* type = o ? o->if_contains("type") : nullptr;
                 if (!content || !content->is_object() || !sender || !sender->is_string() ||
                     !type || !type->is_string()) {
                   return Status::Corruption("bad to-device message");
                 }
                 NEBU_ASSIGN_OR_RETURN(std::string content_text, event::CanonicalJson(*content));
                 out.push_back({position, std::string(sender->as_string()),
                                std::string(type->as_string()), std::move(content_text)});
                 return out.size() < limit;
               }));
  return out;
}

Result<bool> HasToDeviceUpTo(const storage::ReadView& store, std::string_view user_id,
                             std::string_view device_id, storage::StreamPosition upto) {
  const std::string prefix = internal::TaggedKey(internal::kTagMessage, {user_id, device_id});
  bool found = false;
  NEBU_RETURN_IF_ERROR(ScanFrom(store, Cf::kToDevice, prefix, prefix,
                                [&](std::string_view key, std::string_view) -> Result<bool> {
                                  std::string_view rest = key.substr(prefix.size());
                                  if (rest.size() != 8)
                                    return Status::Corruption("bad to-device key");
                                  found = storage::GetU64(rest.data()) <= upto;
                                  return false;
                                }));
  return found;
}

Result<std::string> EncodeDeleteToDevice(std::string_view user_id, std::string_view device_id,
                                         storage::StreamPosition upto) {
  return EncodeE2eeCommand(DeleteToDeviceCommand{
      .user_id = std::string(user_id), .device_id = std::string(device_id), .upto = upto});
}

Result<std::map<std::string, uint64_t>> OneTimeKeyCounts(const storage::ReadView& store,
                                                         std::string_view user_id,
                                                         std::string_view device_id) {
  std::map<std::string, uint64_t> counts{{std::string(kSignedCurve25519), 0}};
  const std::string prefix = internal::TaggedKey(internal::kTagKeyCount, {user_id, device_id});
  NEBU_RETURN_IF_ERROR(ScanFrom(store, Cf::kOneTimeKeys, prefix, prefix,
                                [&](std::string_view key, std::string_view value) -> Result<bool> {
                                  auto parts = internal::DecodeParts(key, 3, 1);
                                  if (!parts || value.size() != 8) {
                                    return Status::Corruption("bad one-time key count");
                                  }
                                  counts[std::string((*parts)[2])] = storage::GetU64(value.data());
                                  return true;
                                }));
  return counts;
}

Result<std::vector<std::string>> UnusedFallbackKeyTypes(const storage::ReadView& store,
                                                        std::string_view user_id,
                                                        std::string_view device_id) {
  std::vector<std::string> out;
  const std::string prefix = internal::TaggedKey(internal::kTagFallback, {user_id, device_id});
  NEBU_RETURN_IF_ERROR(ScanFrom(store, Cf::kOneTimeKeys, prefix, prefix,
                                [&](std::string_view key, std::string_view value) -> Result<bool> {
                                  auto parts = internal::DecodeParts(key, 3, 1);
                                  auto record = internal::DecodeFallback(value);
                                  if (!parts || !record)
                                    return Status::Corruption("bad fallback key");
                                  if (!record->used) out.emplace_back((*parts)[2]);
                                  return true;
                                }));
  return out;
}

Result<std::vector<std::pair<std::string, std::string>>> ListDeviceKeys(const storage::ReadView& store,
                                                                        std::string_view user_id) {
  std::vector<std::pair<std::string, std::string>> out;
  const std::string prefix = internal::DeviceKeysPrefix(user_id);
  NEBU_RETURN_IF_ERROR(ScanFrom(store, Cf::kDeviceKeys, prefix, prefix,
                                [&](std::string_view key, std::string_view value) -> Result<bool> {
                                  auto parts = internal::DecodeParts(key, 2);
                                  if (!parts) return Status::Corruption("bad device keys key");
                                  out.emplace_back((*parts)[1], value);
                                  return true;
                                }));
  return out;
}

Result<std::optional<std::string>> GetDeviceKeys(const storage::ReadView& store, std::string_view user_id,
                                                 std::string_view device_id) {
  return store.Get(Cf::kDeviceKeys, internal::DeviceKeysKey(user_id, device_id));
}

namespace {

Result<std::optional<json::object>> ParsedKey(Result<std::optional<std::string>> text) {
  if (!text.ok()) return text.status();
  if (!*text) return std::optional<json::object>();
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(**text));
  if (!v.is_object()) return Status::Corruption("stored key is not an object");
  return std::optional<json::object>(std::move(v.as_object()));
}

// The public key of user_id's cross-signing key of `usage`, when there is one.
Result<std::optional<std::string>> SigningPublic(const storage::ReadView& store, std::string_view user_id,
                                                 std::string_view usage) {
  NEBU_ASSIGN_OR_RETURN(auto key, ParsedKey(GetCrossSigningKey(store, user_id, usage)));
  if (!key) return std::optional<std::string>();
  return CrossSigningPublicKey(*key);
}

}  // namespace

Result<std::optional<SignatureTarget>> FindSignatureTarget(const storage::ReadView& store,
                                                           std::string_view signer,
                                                           std::string_view target_user,
                                                           std::string_view target_key_id,
                                                           std::string* why) {
  using Out = std::optional<SignatureTarget>;
  NEBU_ASSIGN_OR_RETURN(auto master,
                        ParsedKey(GetCrossSigningKey(store, target_user, kUsageMaster)));
  const bool is_master = master && CrossSigningPublicKey(*master) == target_key_id;
  SignatureTarget target;
  if (target_user == signer && !is_master) {
    NEBU_ASSIGN_OR_RETURN(auto device,
                          ParsedKey(GetDeviceKeys(store, target_user, target_key_id)));
    if (!device) {
      *why = "Unknown device or key";
      return Out();
    }
    target.stored = std::move(*device);
    NEBU_ASSIGN_OR_RETURN(auto self, SigningPublic(store, signer, kUsageSelfSigning));
    if (self) target.allowed_signers["ed25519:" + *self] = *self;
  } else if (target_user == signer) {
    target.stored = std::move(*master);
    NEBU_ASSIGN_OR_RETURN(auto devices, ListDeviceKeys(store, target_user));
    for (const auto& [device_id, text] : devices) {
      // A device signs with its own ed25519 key, found in its device keys.
      Result<json::value> parsed = event::ParseJson(text);
      const json::value* map =
          parsed.ok() && parsed->is_object() ? parsed->as_object().if_contains("keys") : nullptr;
      const json::value* device_key =
          map && map->is_object() ? map->as_object().if_contains("ed25519:" + device_id) : nullptr;
      if (device_key != nullptr && device_key->is_string()) {
        target.allowed_signers["ed25519:" + device_id] = std::string(device_key->as_string());
      }
    }
  } else if (is_master) {
    target.stored = std::move(*master);
    NEBU_ASSIGN_OR_RETURN(auto user_signing, SigningPublic(store, signer, kUsageUserSigning));
    if (user_signing) target.allowed_signers["ed25519:" + *user_signing] = *user_signing;
  } else {
    *why = "Only another user's master key can be signed";
    return Out();
  }
  return Out(std::move(target));
}

Result<std::optional<std::string>> GetCrossSigningKey(const storage::ReadView& store,
                                                      std::string_view user_id,
                                                      std::string_view usage) {
  return store.Get(Cf::kCrossSigning, internal::SigningKeyKey(user_id, usage));
}

Result<std::vector<std::string>> UsersWithKeys(const storage::ReadView& store) {
  std::set<std::string> users;
  auto it = store.NewIterator(Cf::kDeviceKeys);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    auto parts = internal::DecodeParts(it->key().ToStringView(), 2);
    if (!parts) return Status::Corruption("bad device keys key");
    users.emplace((*parts)[0]);
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  auto cs = store.NewIterator(Cf::kCrossSigning);
  const std::string tag(1, internal::kTagSigningKey);
  for (cs->Seek(tag); cs->Valid() && cs->key().starts_with(tag); cs->Next()) {
    auto parts = internal::DecodeParts(cs->key().ToStringView(), 2, 1);
    if (!parts) return Status::Corruption("bad cross-signing key");
    users.emplace((*parts)[0]);
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(cs->status()));
  return std::vector<std::string>(users.begin(), users.end());
}

Result<std::vector<StoredSignature>> SignaturesOf(const storage::ReadView& store,
                                                  std::string_view target_user,
                                                  std::string_view target_key_id) {
  std::vector<StoredSignature> out;
  const std::string prefix =
      internal::TaggedKey(internal::kTagSignature, {target_user, target_key_id});
  NEBU_RETURN_IF_ERROR(ScanFrom(
      store, Cf::kCrossSigning, prefix, prefix,
      [&](std::string_view key, std::string_view value) -> Result<bool> {
        auto parts = internal::DecodeParts(key, 4, 1);
        if (!parts) return Status::Corruption("bad signature key");
        out.push_back({std::string((*parts)[2]), std::string((*parts)[3]), std::string(value)});
        return true;
      }));
  return out;
}

}  // namespace nebu::e2ee
