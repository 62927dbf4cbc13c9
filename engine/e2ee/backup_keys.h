// Internal to engine/e2ee: the Cf::kKeyBackup key layout of backup.h (tags, codecs)
// and the version record codec, shared by backup.cpp (reads) and backup_apply.cpp.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "engine/e2ee/backup.h"
#include "engine/storage/keys.h"

namespace nebu::e2ee::backup_internal {

inline constexpr char kTagVersionCounter = 'n';  // 'n' lp(user) -> u64 last version
inline constexpr char kTagVersion = 'v';         // 'v' lp(user) u64 version -> record
inline constexpr char kTagKey = 'k';  // 'k' lp(user) u64 version lp(room) lp(session) -> data

std::string CounterKey(std::string_view user_id);
std::string VersionPrefix(std::string_view user_id);
std::string VersionKey(std::string_view user_id, uint64_t version);
// The version's keys, or one room's of them when room_id is set.
std::string KeysPrefix(std::string_view user_id, uint64_t version,
                       std::optional<std::string_view> room_id);
std::string KeyKey(std::string_view user_id, uint64_t version, std::string_view room_id,
                   std::string_view session_id);
// (room, session) of the part of a key after KeysPrefix(user, version, nullopt).
std::optional<std::pair<std::string_view, std::string_view>> DecodeKeySuffix(std::string_view rest);

std::string EncodeVersionRecord(const BackupVersionInfo& info);
Result<BackupVersionInfo> DecodeVersionRecord(uint64_t version, std::string_view value);

}  // namespace nebu::e2ee::backup_internal
