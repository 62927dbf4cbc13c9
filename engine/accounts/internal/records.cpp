#include "engine/accounts/internal/records.h"

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "engine/event/canonical_json.h"
#include "engine/storage/keys.h"

namespace nebu::accounts::internal {
namespace {

namespace json = boost::json;

constexpr char kUserTag = 'u';
constexpr char kProfileTag = 'p';

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

bool IsTokenHashHex(std::string_view hex) {
  if (hex.size() != 64) return false;
  for (char c : hex) {
    if (HexValue(c) < 0) return false;
  }
  return true;
}

Status Corrupt(std::string_view what) {
  return Status::Corruption("malformed " + std::string(what) + " record");
}

// A stored record's JSON object, or kCorruption.
Result<json::object> ParseRecord(std::string_view bytes, std::string_view what) {
  Result<json::value> v = event::ParseJson(bytes);
  if (!v.ok() || !v->is_object()) return Corrupt(what);
  return std::move(v->get_object());
}

// Reads an optional string field; false when present with another type.
bool ReadOptionalString(const json::object& o, std::string_view key,
                        std::optional<std::string>* out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return true;
  if (!v->is_string()) return false;
  *out = std::string(v->get_string());
  return true;
}

bool ReadBool(const json::object& o, std::string_view key, bool* out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_bool()) return false;
  *out = v->get_bool();
  return true;
}

bool ReadInt(const json::object& o, std::string_view key, int64_t* out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_int64()) return false;
  *out = v->get_int64();
  return true;
}

}  // namespace

std::string UserKey(std::string_view user_id) {
  std::string key(1, kUserTag);
  key.append(user_id);
  return key;
}

std::string ProfileKey(std::string_view user_id) {
  std::string key(1, kProfileTag);
  key.append(user_id);
  return key;
}

std::string DevicesPrefix(std::string_view user_id) {
  std::string key;
  storage::PutLengthPrefixed(&key, user_id);
  return key;
}

std::string DeviceKey(std::string_view user_id, std::string_view device_id) {
  std::string key = DevicesPrefix(user_id);
  key.append(device_id);
  return key;
}

std::string TokenKey(std::string_view token_hash_hex) {
  std::string key;
  key.reserve(token_hash_hex.size() / 2);
  for (size_t i = 0; i + 1 < token_hash_hex.size(); i += 2) {
    int hi = HexValue(token_hash_hex[i]);
    int lo = HexValue(token_hash_hex[i + 1]);
    NEBU_CHECK(hi >= 0 && lo >= 0, "TokenKey: token hash is not hex");
    key.push_back(static_cast<char>(hi * 16 + lo));
  }
  return key;
}

std::string SideTokenKey(char tag, std::string_view token_hash_hex) {
  std::string key(1, tag);
  key += TokenKey(token_hash_hex);
  return key;
}

std::string AccountDataUserPrefix(std::string_view user_id) {
  std::string key;
  storage::PutLengthPrefixed(&key, user_id);
  return key;
}

std::string AccountDataPrefix(std::string_view user_id, std::string_view room_id) {
  std::string key = AccountDataUserPrefix(user_id);
  storage::PutLengthPrefixed(&key, room_id);
  return key;
}

std::string AccountDataKey(std::string_view user_id, std::string_view room_id,
                           std::string_view type) {
  std::string key = AccountDataPrefix(user_id, room_id);
  key.append(type);
  return key;
}

Result<std::string> EncodeUserRecord(const UserRecord& r) {
  json::object o;
  if (r.password_hash) o["password_hash"] = *r.password_hash;
  o["admin"] = r.admin;
  o["created_ts"] = r.created_ts;
  o["deactivated"] = r.deactivated;
  if (r.locked) o["locked"] = true;
  if (r.suspended) o["suspended"] = true;
  if (r.shadow_banned) o["shadow_banned"] = true;
  return event::CanonicalJson(json::value(std::move(o)));
}

Result<UserRecord> DecodeUserRecord(std::string_view bytes) {
  NEBU_ASSIGN_OR_RETURN(json::object o, ParseRecord(bytes, "user"));
  UserRecord r;
  if (!ReadOptionalString(o, "password_hash", &r.password_hash) ||
      !ReadBool(o, "admin", &r.admin) || !ReadInt(o, "created_ts", &r.created_ts) ||
      !ReadBool(o, "deactivated", &r.deactivated)) {
    return Corrupt("user");
  }
  if ((o.contains("locked") && !ReadBool(o, "locked", &r.locked)) ||
      (o.contains("suspended") && !ReadBool(o, "suspended", &r.suspended)) ||
      (o.contains("shadow_banned") && !ReadBool(o, "shadow_banned", &r.shadow_banned))) {
    return Corrupt("user");
  }
  return r;
}

Result<std::string> EncodeProfileRecord(const ProfileRecord& r) {
  json::object o;
  if (r.displayname) o["displayname"] = *r.displayname;
  if (r.avatar_url) o["avatar_url"] = *r.avatar_url;
  if (!r.fields.empty()) o["fields"] = r.fields;
  return event::CanonicalJson(json::value(std::move(o)));
}

Result<ProfileRecord> DecodeProfileRecord(std::string_view bytes) {
  NEBU_ASSIGN_OR_RETURN(json::object o, ParseRecord(bytes, "profile"));
  ProfileRecord r;
  if (!ReadOptionalString(o, "displayname", &r.displayname) ||
      !ReadOptionalString(o, "avatar_url", &r.avatar_url)) {
    return Corrupt("profile");
  }
  if (const json::value* fields = o.if_contains("fields")) {
    if (!fields->is_object()) return Corrupt("profile");
    r.fields = fields->get_object();
  }
  return r;
}

Result<std::string> EncodeDeviceRecord(const DeviceRecord& r) {
  json::object o;
  if (r.display_name) o["display_name"] = *r.display_name;
  o["created_ts"] = r.created_ts;
  o["token_hash"] = r.token_hash;
  if (r.refresh_hash) o["refresh_hash"] = *r.refresh_hash;
  if (r.prev_refresh_hash) o["prev_refresh_hash"] = *r.prev_refresh_hash;
  return event::CanonicalJson(json::value(std::move(o)));
}

Result<DeviceRecord> DecodeDeviceRecord(std::string_view bytes) {
  NEBU_ASSIGN_OR_RETURN(json::object o, ParseRecord(bytes, "device"));
  DeviceRecord r;
  std::optional<std::string> token_hash;
  if (!ReadOptionalString(o, "display_name", &r.display_name) ||
      !ReadInt(o, "created_ts", &r.created_ts) ||
      !ReadOptionalString(o, "token_hash", &token_hash) || !token_hash ||
      !IsTokenHashHex(*token_hash)) {
    return Corrupt("device");
  }
  if (!ReadOptionalString(o, "refresh_hash", &r.refresh_hash) ||
      !ReadOptionalString(o, "prev_refresh_hash", &r.prev_refresh_hash) ||
      (r.refresh_hash && !IsTokenHashHex(*r.refresh_hash)) ||
      (r.prev_refresh_hash && !IsTokenHashHex(*r.prev_refresh_hash))) {
    return Corrupt("device");
  }
  r.token_hash = std::move(*token_hash);
  return r;
}

std::string EncodeTokenRecord(const TokenRecord& r) {
  std::string out;
  storage::PutLengthPrefixed(&out, r.user_id);
  storage::PutLengthPrefixed(&out, r.device_id);
  if (r.flags == 0) return out;
  out.push_back(static_cast<char>(r.flags));
  if (r.flags & kTokenExpires) storage::PutU64(&out, static_cast<uint64_t>(r.expires_ms));
  return out;
}

Result<TokenRecord> DecodeTokenRecord(std::string_view bytes) {
  std::optional<std::string_view> user_id = storage::GetLengthPrefixed(&bytes);
  std::optional<std::string_view> device_id;
  if (user_id) device_id = storage::GetLengthPrefixed(&bytes);
  if (!device_id) return Corrupt("token");
  TokenRecord r{std::string(*user_id), std::string(*device_id)};
  if (bytes.empty()) return r;
  r.flags = static_cast<uint8_t>(bytes[0]);
  bytes.remove_prefix(1);
  if (r.flags & kTokenExpires) {
    std::optional<uint64_t> expires = storage::GetU64(&bytes);
    if (!expires) return Corrupt("token");
    r.expires_ms = static_cast<int64_t>(*expires);
  }
  if (!bytes.empty()) return Corrupt("token");
  return r;
}

std::string EncodeSideTokenRecord(const SideTokenRecord& r) {
  std::string out;
  storage::PutLengthPrefixed(&out, r.user_id);
  storage::PutLengthPrefixed(&out, r.device_id);
  storage::PutU64(&out, static_cast<uint64_t>(r.expires_ms));
  return out;
}

Result<SideTokenRecord> DecodeSideTokenRecord(std::string_view bytes) {
  std::optional<std::string_view> user_id = storage::GetLengthPrefixed(&bytes);
  std::optional<std::string_view> device_id;
  if (user_id) device_id = storage::GetLengthPrefixed(&bytes);
  std::optional<uint64_t> expires;
  if (device_id) expires = storage::GetU64(&bytes);
  if (!expires || !bytes.empty()) return Corrupt("token");
  return SideTokenRecord{std::string(*user_id), std::string(*device_id),
                         static_cast<int64_t>(*expires)};
}

Result<std::string> EncodeRegistrationTokenRecord(const RegistrationTokenRecord& r) {
  json::object o;
  if (r.uses_allowed) o["uses_allowed"] = *r.uses_allowed;
  o["pending"] = r.pending;
  o["completed"] = r.completed;
  if (r.expiry_time) o["expiry_time"] = *r.expiry_time;
  return event::CanonicalJson(json::value(std::move(o)));
}

Result<RegistrationTokenRecord> DecodeRegistrationTokenRecord(std::string_view bytes) {
  NEBU_ASSIGN_OR_RETURN(json::object o, ParseRecord(bytes, "registration token"));
  RegistrationTokenRecord r;
  int64_t n = 0;
  if (o.contains("uses_allowed")) {
    if (!ReadInt(o, "uses_allowed", &n)) return Corrupt("registration token");
    r.uses_allowed = n;
  }
  if (o.contains("expiry_time")) {
    if (!ReadInt(o, "expiry_time", &n)) return Corrupt("registration token");
    r.expiry_time = n;
  }
  if (!ReadInt(o, "pending", &r.pending) || !ReadInt(o, "completed", &r.completed)) {
    return Corrupt("registration token");
  }
  return r;
}

}  // namespace nebu::accounts::internal
