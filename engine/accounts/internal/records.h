// Internal: how engine/accounts lays its records out in RocksDB. Private to
// engine/accounts (and its tests); everyone else goes through accounts.h.
//
// Cf::kUsers
//   'u' user_id             -> {"admin":b,"created_ts":n,"deactivated":b,
//                               "password_hash":s?}            canonical JSON
//   'p' user_id             -> {"avatar_url":s?,"displayname":s?}  canonical JSON;
//                              absent when both are unset
// Cf::kDevices
//   [u16 len][user_id][device_id]
//                           -> {"created_ts":n,"display_name":s?,"token_hash":hex64}
// Cf::kTokens
//   [32 bytes SHA-256(access token)]
//                           -> [u16 len][user_id][u16 len][device_id]   binary
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
};
[[nodiscard]] Result<std::string> EncodeUserRecord(const UserRecord& r);
[[nodiscard]] Result<UserRecord> DecodeUserRecord(std::string_view bytes);

struct ProfileRecord {
  std::optional<std::string> displayname;
  std::optional<std::string> avatar_url;
};
[[nodiscard]] Result<std::string> EncodeProfileRecord(const ProfileRecord& r);
[[nodiscard]] Result<ProfileRecord> DecodeProfileRecord(std::string_view bytes);

struct DeviceRecord {
  std::optional<std::string> display_name;
  int64_t created_ts = 0;
  std::string token_hash;  // hex
};
[[nodiscard]] Result<std::string> EncodeDeviceRecord(const DeviceRecord& r);
[[nodiscard]] Result<DeviceRecord> DecodeDeviceRecord(std::string_view bytes);

struct TokenRecord {
  std::string user_id;
  std::string device_id;
};
std::string EncodeTokenRecord(const TokenRecord& r);
[[nodiscard]] Result<TokenRecord> DecodeTokenRecord(std::string_view bytes);

}  // namespace nebu::accounts::internal
