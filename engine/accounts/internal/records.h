// Internal: how engine/accounts lays its records out in RocksDB. Private to
// engine/accounts (and its tests); everyone else goes through accounts.h.
//
// Cf::kUsers
//   'u' user_id             -> {"admin":b,"created_ts":n,"deactivated":b,"locked":true?,
//                               "password_hash":s?,"shadow_banned":true?,"suspended":true?}
//                              canonical JSON
//   'p' user_id             -> {"avatar_url":s?,"displayname":s?,"fields":{key:value}?}
//                              canonical JSON; absent when nothing is set
// Cf::kDevices
//   [u16 len][user_id][device_id]
//                           -> {"created_ts":n,"display_name":s?,"prev_refresh_hash":hex64?,
//                               "refresh_hash":hex64?,"token_hash":hex64}
// Cf::kTokens
//   [32 bytes SHA-256(access token)]
//                           -> [u16 len][user_id][u16 len][device_id]
//                              ([u8 flags][u64 expires_ms if flags & kTokenExpires])?  binary;
//                              the trailer is absent for a token without flags (older
//                              records are all of that form)
//   [tag][32 bytes SHA-256(token)], tag 'r' refresh, 'l' login (m.login.token), 'o' OpenID
//                           -> [u16 len][user_id][u16 len][device_id, "" but for 'r']
//                              [u64 expires_ms, 0: never]                  binary
// Cf::kRegistrationTokens
//   token                   -> {"completed":n,"expiry_time":n?,"pending":n,
//                               "uses_allowed":n?}                  canonical JSON
// Cf::kAccountData
//   [u16 len][user_id][u16 len][room_id, "" for global][type]
//                           -> content, canonical JSON object
//
// Lengths are big-endian (storage/keys.h PutLengthPrefixed), so a user's devices
// and a user's (room's) account data are contiguous and sorted by device ID / type.
// Every device has exactly one token and every token one device; a deactivated user
// has none. Values are checked when read back: a malformed one is kCorruption.
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/common/status.h"

namespace nebu::accounts::internal {

std::string UserKey(std::string_view user_id);
std::string ProfileKey(std::string_view user_id);
std::string DevicesPrefix(std::string_view user_id);
std::string DeviceKey(std::string_view user_id, std::string_view device_id);
// token_hash_hex: 64 lower-case hex digits (commands.h checks this before).
std::string TokenKey(std::string_view token_hash_hex);
// The tagged keys of the other tokens in Cf::kTokens (33 bytes).
inline constexpr char kRefreshTokenTag = 'r';
inline constexpr char kLoginTokenTag = 'l';
inline constexpr char kOpenIdTokenTag = 'o';
std::string SideTokenKey(char tag, std::string_view token_hash_hex);
// All of the user's account data, global and per room.
std::string AccountDataUserPrefix(std::string_view user_id);
// room_id "" is the user's global account data.
std::string AccountDataPrefix(std::string_view user_id, std::string_view room_id);
std::string AccountDataKey(std::string_view user_id, std::string_view room_id,
                           std::string_view type);

struct UserRecord {
  std::optional<std::string> password_hash;
  bool admin = false;
  int64_t created_ts = 0;
  bool deactivated = false;
  bool locked = false;
  bool suspended = false;
  bool shadow_banned = false;
};
[[nodiscard]] Result<std::string> EncodeUserRecord(const UserRecord& r);
[[nodiscard]] Result<UserRecord> DecodeUserRecord(std::string_view bytes);

struct ProfileRecord {
  std::optional<std::string> displayname;
  std::optional<std::string> avatar_url;
  boost::json::object fields;  // every other profile key (m.tz, ...)
  [[nodiscard]] bool empty() const { return !displayname && !avatar_url && fields.empty(); }
};
[[nodiscard]] Result<std::string> EncodeProfileRecord(const ProfileRecord& r);
[[nodiscard]] Result<ProfileRecord> DecodeProfileRecord(std::string_view bytes);

struct DeviceRecord {
  std::optional<std::string> display_name;
  int64_t created_ts = 0;
  std::string token_hash;  // hex
  std::optional<std::string> refresh_hash;       // hex; the device's current refresh token
  std::optional<std::string> prev_refresh_hash;  // hex; the one it replaced, valid until the
                                                 // new access token is first used
};
[[nodiscard]] Result<std::string> EncodeDeviceRecord(const DeviceRecord& r);
[[nodiscard]] Result<DeviceRecord> DecodeDeviceRecord(std::string_view bytes);

// Access token flags (TokenRecord::flags).
inline constexpr uint8_t kTokenLocked = 1;     // the user is locked
inline constexpr uint8_t kTokenSuspended = 2;  // the user is suspended
inline constexpr uint8_t kTokenFresh = 4;      // issued by /refresh, not used yet
inline constexpr uint8_t kTokenExpires = 8;    // expires_ms is set
inline constexpr uint8_t kTokenShadowBanned = 16;  // the user is shadow-banned

struct TokenRecord {
  std::string user_id;
  std::string device_id;
  uint8_t flags = 0;
  int64_t expires_ms = 0;  // with kTokenExpires
};
std::string EncodeTokenRecord(const TokenRecord& r);
[[nodiscard]] Result<TokenRecord> DecodeTokenRecord(std::string_view bytes);

// A refresh, login or OpenID token (SideTokenKey).
struct SideTokenRecord {
  std::string user_id;
  std::string device_id;   // refresh tokens only
  int64_t expires_ms = 0;  // 0: never
};
std::string EncodeSideTokenRecord(const SideTokenRecord& r);
[[nodiscard]] Result<SideTokenRecord> DecodeSideTokenRecord(std::string_view bytes);

struct RegistrationTokenRecord {
  std::optional<int64_t> uses_allowed;
  int64_t pending = 0;
  int64_t completed = 0;
  std::optional<int64_t> expiry_time;  // ms since the epoch
};
[[nodiscard]] Result<std::string> EncodeRegistrationTokenRecord(const RegistrationTokenRecord& r);
[[nodiscard]] Result<RegistrationTokenRecord> DecodeRegistrationTokenRecord(std::string_view bytes);

}  // namespace nebu::accounts::internal
