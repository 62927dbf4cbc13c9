// Server-side key backup (Client-Server API § End-to-End Encryption, "Server-side
// key backups"; key_backup.yaml): a user's backup versions and the encrypted room
// keys each holds, as replicated state.
//
// The API layer (api/keys/backup_routes.cpp) checks a request, builds a
// BackupCommand and proposes EncodeBackupCommand(...) as core::CommandKind::kKeyBackup;
// every node applies it with ApplyBackupCommand, which reads stored state (the state
// machine applies each kKeyBackup command alone in its batch) and is deterministic:
// version numbers come from a per-user counter, `etag` is a per-version counter bumped
// by every change of its keys, `count` is kept with the version. No clock, no
// randomness: every node writes the same bytes.
//
//   BackupCommand c = CreateBackupVersion{.user_id = u, .algorithm = a, .auth_data = d};
//   engine.SubmitAsync({core::CommandKind::kKeyBackup, *EncodeBackupCommand(c)}, done);
//   auto info = GetBackupVersion(engine.Read(), u, std::nullopt);   // the current one
//
// Versions: decimal strings "1", "2", ... allocated per user, never reused (a deleted
// version's number stays taken). The current version is the highest one not deleted;
// deleting it makes the previous one current again (as Synapse). Keys are uploaded
// only to the current version; they are read and deleted in any existing one.
//
// Replacing a key (the spec's rule): a stored key is replaced when the new one has
// is_verified true and the stored one false; with equal is_verified, when the new
// first_message_index is lower; with both equal, when the new forwarded_count is
// lower. Otherwise the stored key stays (an equal key changes nothing, not the etag).
//
// Layout, Cf::kKeyBackup (engine/e2ee/backup_keys.h):
//   'n' lp(user)                              -> u64 last version number allocated
//   'v' lp(user) u64 version                  -> canonical JSON {algorithm, auth_data,
//                                                 count, etag}  (etag, count: integers)
//   'k' lp(user) u64 version lp(room) lp(session) -> canonical JSON KeyBackupData
//
// Thread-safety: values and pure functions; reads are safe from any thread.
#pragma once

#include <rocksdb/write_batch.h>

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "engine/common/status.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"

namespace nebu::e2ee {

// Limits. Stateless ones are checked by ValidateBackupCommand (encode, decode, apply);
// the quotas (Per*Max) in apply, where over one the command is refused, kForbidden.
inline constexpr size_t kBackupAlgorithmBytesMax = 255;
inline constexpr size_t kBackupAuthDataBytesMax = 16 * 1024;     // canonical JSON
inline constexpr size_t kBackupSessionDataBytesMax = 16 * 1024;  // one session_data, canonical
inline constexpr size_t kBackupSessionsPerPutMax = 1000;         // keys in one upload
inline constexpr size_t kBackupIdBytesMax = 255;                 // room and session IDs
// Versions a user holds (not deleted) at once; creating one more is refused.
inline constexpr size_t kBackupVersionsPerUserMax = 100;
// Keys a user holds over all their versions; an upload that would store more is
// refused as a whole. (A heavy user has tens of thousands of megolm sessions.)
inline constexpr uint64_t kBackupKeysPerUserMax = 500000;
// first_message_index and forwarded_count are non-negative canonical integers.

struct BackupKeyData {
  int64_t first_message_index = 0;
  int64_t forwarded_count = 0;
  bool is_verified = false;
  boost::json::object session_data{};
  bool operator==(const BackupKeyData&) const = default;
};

struct CreateBackupVersion {
  std::string user_id{};
  std::string algorithm{};
  boost::json::object auth_data{};
  bool operator==(const CreateBackupVersion&) const = default;
};
// Only auth_data changes; the algorithm must be the stored one (kInvalidArgument).
struct UpdateBackupVersion {
  std::string user_id{};
  uint64_t version = 0;
  std::string algorithm{};
  boost::json::object auth_data{};
  bool operator==(const UpdateBackupVersion&) const = default;
};
struct DeleteBackupVersion {
  std::string user_id{};
  uint64_t version = 0;
  bool operator==(const DeleteBackupVersion&) const = default;
};
struct BackupKeyEntry {
  std::string room_id{};
  std::string session_id{};
  BackupKeyData data{};
  bool operator==(const BackupKeyEntry&) const = default;
};
// Entries distinct by (room, session) (Validate refuses a repeat).
struct PutBackupKeys {
  std::string user_id{};
  uint64_t version = 0;
  std::vector<BackupKeyEntry> keys{};
  bool operator==(const PutBackupKeys&) const = default;
};
// Every key of the version, of one room (room_id), or one session (both set).
struct DeleteBackupKeys {
  std::string user_id{};
  uint64_t version = 0;
  std::optional<std::string> room_id{};
  std::optional<std::string> session_id{};  // only with room_id
  bool operator==(const DeleteBackupKeys&) const = default;
};

using BackupCommand = std::variant<CreateBackupVersion, UpdateBackupVersion, DeleteBackupVersion,
                                   PutBackupKeys, DeleteBackupKeys>;

// Payload: canonical JSON {"op": <name>, ...}; ops and fields (stable, in every log):
//   create_version {user_id, algorithm, auth_data}
//   update_version {user_id, version, algorithm, auth_data}
//   delete_version {user_id, version}
//   put_keys       {user_id, version, rooms: {room: {session: KeyBackupData}}}
//   delete_keys    {user_id, version, room_id?, session_id?}
// Decode(Encode(c)) == c for every valid c (put_keys' entries in (room, session)
// order); unknown ops and fields are refused.
std::string_view BackupCommandName(const BackupCommand& command);
// kInvalidArgument for a malformed user/room/session ID, an empty algorithm,
// version 0, session_id without room_id, a repeated (room, session), a negative
// index or count; kTooLarge over the limits above; kBadJson for JSON without a
// canonical form.
[[nodiscard]] Status ValidateBackupCommand(const BackupCommand& command);
[[nodiscard]] Result<std::string> EncodeBackupCommand(const BackupCommand& command);
// kNotJson, kBadJson (unknown op or field, missing or mistyped field), then Validate's.
[[nodiscard]] Result<BackupCommand> DecodeBackupCommand(std::string_view payload);

// KeyBackupData of a request body: {first_message_index, forwarded_count,
// is_verified, session_data}, all required (extra fields are ignored). kBadJson
// naming what is missing or mistyped; kInvalidArgument for a negative integer.
[[nodiscard]] Result<BackupKeyData> ParseBackupKeyData(const boost::json::value& v);
boost::json::object BackupKeyDataJson(const BackupKeyData& data);

// The state-machine side of a kKeyBackup command. Returns canonical JSON:
//   create_version  {"version": "<n>"}
//   update_version, delete_version  {}
//   put_keys, delete_keys  {"count": n, "etag": "<e>"} (the version after the change)
//   put_keys to a version that is not the current one (or does not exist while
//   another one is current): {"wrong_version": true, "current_version": "<n>"},
//   nothing written (the API answers 403 M_WRONG_ROOM_KEYS_VERSION).
// Errors (nothing staged): DecodeBackupCommand's; kNotFound for an unknown version
// (delete_version of a version deleted before is {}: the spec wants success);
// kInvalidArgument (update_version: another algorithm); kForbidden for a quota
// (kBackupVersionsPerUserMax, kBackupKeysPerUserMax); kCorruption, kIoError.
[[nodiscard]] Result<std::string> ApplyBackupCommand(storage::Store& store,
                                                     rocksdb::WriteBatch& batch,
                                                     std::string_view payload);

// ---- reads ----

struct BackupVersionInfo {
  uint64_t version = 0;
  std::string algorithm;
  boost::json::object auth_data;
  uint64_t count = 0;
  uint64_t etag = 0;
};
// The version (nullopt: the current one) of the user; nullopt when there is none.
[[nodiscard]] Result<std::optional<BackupVersionInfo>> GetBackupVersion(
    const storage::ReadView& store, std::string_view user_id, std::optional<uint64_t> version);
// The key of one session; nullopt when absent.
[[nodiscard]] Result<std::optional<BackupKeyData>> GetBackupKey(const storage::ReadView& store,
                                                                std::string_view user_id,
                                                                uint64_t version,
                                                                std::string_view room_id,
                                                                std::string_view session_id);
// The keys of the version (all rooms, or one): {room: {"sessions": {session: data}}},
// in key order. At most kBackupKeysPerUserMax entries exist to read (about 1 KiB each
// for m.megolm_backup.v1: a full backup is an answer of some 500 MB).
[[nodiscard]] Result<boost::json::object> ListBackupKeys(const storage::ReadView& store,
                                                         std::string_view user_id, uint64_t version,
                                                         std::optional<std::string_view> room_id);

// The answer of GET /room_keys/keys (room_id nullopt): {"rooms": {room: {"sessions":
// {session: data}}}}, or of GET /room_keys/keys/{roomId}: {"sessions": {...}}, as JSON
// text built straight from the stored canonical key data (no JSON tree: the memory is
// the answer itself). The spec has no paging for these routes, so the answer is
// bounded instead: kTooLarge (message naming kBackupKeysAnswerBytesMax) when it would
// exceed answer_bytes_max; the per-room route then still serves each room.
[[nodiscard]] Result<std::string> BackupKeysAnswer(const storage::ReadView& store,
                                                   std::string_view user_id, uint64_t version,
                                                   std::optional<std::string_view> room_id,
                                                   size_t answer_bytes_max);
// The bound of one keys answer: 64 MiB, some 60,000 sessions of m.megolm_backup.v1
// (about 1 KiB each). Over it GET /room_keys/keys answers 413 M_TOO_LARGE.
inline constexpr size_t kBackupKeysAnswerBytesMax = 64 * 1024 * 1024;

// "<n>" -> n for a version string a client sends (1..2^53-1 in decimal, no sign, no
// leading zero); nullopt otherwise (the API answers 404 M_NOT_FOUND, or 403
// M_WRONG_ROOM_KEYS_VERSION for an upload while another version is current).
std::optional<uint64_t> ParseBackupVersion(std::string_view text);

}  // namespace nebu::e2ee
