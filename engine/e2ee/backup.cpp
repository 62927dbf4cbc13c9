// Key backup commands (encode, decode, validate), the key layout and the reads of
// engine/e2ee/backup.h.
#include "engine/e2ee/backup.h"

#include <algorithm>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <set>
#include <tuple>
#include <utility>

#include "engine/e2ee/backup_keys.h"
#include "engine/event/canonical_json.h"
#include "engine/event/command_fields.h"
#include "engine/event/identifiers.h"

namespace nebu::e2ee {

namespace json = boost::json;
using storage::Cf;

// ---- layout ----

namespace backup_internal {

std::string CounterKey(std::string_view user_id) {
  std::string out(1, kTagVersionCounter);
  storage::PutLengthPrefixed(&out, user_id);
  return out;
}
std::string VersionPrefix(std::string_view user_id) {
  std::string out(1, kTagVersion);
  storage::PutLengthPrefixed(&out, user_id);
  return out;
}
std::string VersionKey(std::string_view user_id, uint64_t version) {
  std::string out = VersionPrefix(user_id);
  storage::PutU64(&out, version);
  return out;
}
std::string KeysPrefix(std::string_view user_id, uint64_t version,
                       std::optional<std::string_view> room_id) {
  std::string out(1, kTagKey);
  storage::PutLengthPrefixed(&out, user_id);
  storage::PutU64(&out, version);
  if (room_id) storage::PutLengthPrefixed(&out, *room_id);
  return out;
}
std::string KeyKey(std::string_view user_id, uint64_t version, std::string_view room_id,
                   std::string_view session_id) {
  std::string out = KeysPrefix(user_id, version, room_id);
  storage::PutLengthPrefixed(&out, session_id);
  return out;
}

std::optional<std::pair<std::string_view, std::string_view>> DecodeKeySuffix(
    std::string_view rest) {
  auto room = storage::GetLengthPrefixed(&rest);
  auto session = storage::GetLengthPrefixed(&rest);
  if (!room || !session || !rest.empty()) return std::nullopt;
  return std::pair{*room, *session};
}

std::string EncodeVersionRecord(const BackupVersionInfo& info) {
  json::object o{{"algorithm", info.algorithm},
                 {"auth_data", info.auth_data},
                 {"count", static_cast<int64_t>(info.count)},
                 {"etag", static_cast<int64_t>(info.etag)}};
  return event::CanonicalJson(o).value();  // built from canonical parts: cannot fail
}

Result<BackupVersionInfo> DecodeVersionRecord(uint64_t version, std::string_view value) {
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(value));
  if (!v.is_object()) return Status::Corruption("bad backup version record");
  event::CommandFields f(v.as_object(), "backup version record");
  BackupVersionInfo info{.version = version};
  Result<std::string> algorithm = f.String("algorithm");
  Result<const json::object*> auth_data = f.Object("auth_data");
  Result<uint64_t> count = f.Unsigned("count");
  Result<uint64_t> etag = f.Unsigned("etag");
  if (!algorithm.ok() || !auth_data.ok() || !count.ok() || !etag.ok() || !f.Finish().ok()) {
    return Status::Corruption("bad backup version record");
  }
  info.algorithm = std::move(*algorithm);
  info.auth_data = **auth_data;
  info.count = *count;
  info.etag = *etag;
  return info;
}

}  // namespace backup_internal

using namespace backup_internal;

// ---- key data ----

Result<BackupKeyData> ParseBackupKeyData(const json::value& v) {
  if (!v.is_object()) return Status::BadJson("key data must be an object");
  const json::object& o = v.as_object();
  BackupKeyData out;
  const json::value* index = o.if_contains("first_message_index");
  const json::value* forwarded = o.if_contains("forwarded_count");
  const json::value* verified = o.if_contains("is_verified");
  const json::value* data = o.if_contains("session_data");
  if (index == nullptr || !index->is_int64()) {
    return Status::BadJson("first_message_index must be an integer");
  }
  if (forwarded == nullptr || !forwarded->is_int64()) {
    return Status::BadJson("forwarded_count must be an integer");
  }
  if (verified == nullptr || !verified->is_bool()) {
    return Status::BadJson("is_verified must be a boolean");
  }
  if (data == nullptr || !data->is_object())
    return Status::BadJson("session_data must be an object");
  out.first_message_index = index->as_int64();
  out.forwarded_count = forwarded->as_int64();
  out.is_verified = verified->as_bool();
  out.session_data = data->as_object();
  if (out.first_message_index < 0 || out.forwarded_count < 0 ||
      out.first_message_index > event::kCanonicalIntMax ||
      out.forwarded_count > event::kCanonicalIntMax) {
    return Status::InvalidArgument("first_message_index and forwarded_count must be in 0..2^53-1");
  }
  return out;
}

json::object BackupKeyDataJson(const BackupKeyData& data) {
  return json::object{{"first_message_index", data.first_message_index},
                      {"forwarded_count", data.forwarded_count},
                      {"is_verified", data.is_verified},
                      {"session_data", data.session_data}};
}

std::optional<uint64_t> ParseBackupVersion(std::string_view text) {
  if (text.empty() || text.size() > 16 || text[0] == '0') return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    value = value * 10 + static_cast<uint64_t>(c - '0');
  }
  if (value > static_cast<uint64_t>(event::kCanonicalIntMax)) return std::nullopt;
  return value;
}

// ---- validation ----

namespace {

Status CheckUser(std::string_view user_id) {
  if (!event::IsValidUserId(user_id)) return Status::InvalidArgument("bad user ID");
  return Status::Ok();
}

Status CheckVersion(uint64_t version) {
  if (version == 0 || version > static_cast<uint64_t>(event::kCanonicalIntMax)) {
    return Status::InvalidArgument("bad backup version");
  }
  return Status::Ok();
}

Status CheckRoom(std::string_view room_id) {
  if (room_id.size() > kBackupIdBytesMax || !event::IsValidRoomId(room_id)) {
    return Status::InvalidArgument("bad room ID");
  }
  return Status::Ok();
}

Status CheckSession(std::string_view session_id) {
  if (session_id.empty() || session_id.size() > kBackupIdBytesMax) {
    return Status::InvalidArgument("bad session ID");
  }
  for (char c : session_id) {
    if (static_cast<unsigned char>(c) < 0x20) {
      return Status::InvalidArgument("session ID has a control character");
    }
  }
  return Status::Ok();
}

Status CheckAlgorithmAndAuth(std::string_view algorithm, const json::object& auth_data) {
  if (algorithm.empty()) return Status::InvalidArgument("algorithm is empty");
  if (algorithm.size() > kBackupAlgorithmBytesMax) return Status::TooLarge("algorithm is too long");
  NEBU_ASSIGN_OR_RETURN(std::string text, event::CanonicalJson(auth_data));
  if (text.size() > kBackupAuthDataBytesMax) return Status::TooLarge("auth_data is too large");
  return Status::Ok();
}

Status CheckKeyData(const BackupKeyData& data) {
  if (data.first_message_index < 0 || data.forwarded_count < 0 ||
      data.first_message_index > event::kCanonicalIntMax ||
      data.forwarded_count > event::kCanonicalIntMax) {
    return Status::InvalidArgument("first_message_index and forwarded_count must be in 0..2^53-1");
  }
  NEBU_ASSIGN_OR_RETURN(std::string text, event::CanonicalJson(data.session_data));
  if (text.size() > kBackupSessionDataBytesMax)
    return Status::TooLarge("session_data is too large");
  return Status::Ok();
}

struct BackupValidator {
  Status operator()(const CreateBackupVersion& c) const {
    NEBU_RETURN_IF_ERROR(CheckUser(c.user_id));
    return CheckAlgorithmAndAuth(c.algorithm, c.auth_data);
  }
  Status operator()(const UpdateBackupVersion& c) const {
    NEBU_RETURN_IF_ERROR(CheckUser(c.user_id));
    NEBU_RETURN_IF_ERROR(CheckVersion(c.version));
    return CheckAlgorithmAndAuth(c.algorithm, c.auth_data);
  }
  Status operator()(const DeleteBackupVersion& c) const {
    NEBU_RETURN_IF_ERROR(CheckUser(c.user_id));
    return CheckVersion(c.version);
  }
  Status operator()(const PutBackupKeys& c) const {
    NEBU_RETURN_IF_ERROR(CheckUser(c.user_id));
    NEBU_RETURN_IF_ERROR(CheckVersion(c.version));
    if (c.keys.size() > kBackupSessionsPerPutMax)
      return Status::TooLarge("too many keys in one upload");
    std::set<std::pair<std::string_view, std::string_view>> seen;
    for (const BackupKeyEntry& k : c.keys) {
      NEBU_RETURN_IF_ERROR(CheckRoom(k.room_id));
      NEBU_RETURN_IF_ERROR(CheckSession(k.session_id));
      NEBU_RETURN_IF_ERROR(CheckKeyData(k.data));
      if (!seen.emplace(k.room_id, k.session_id).second) {
        return Status::InvalidArgument("a session is repeated");
      }
    }
    return Status::Ok();
  }
  Status operator()(const DeleteBackupKeys& c) const {
    NEBU_RETURN_IF_ERROR(CheckUser(c.user_id));
    NEBU_RETURN_IF_ERROR(CheckVersion(c.version));
    if (c.session_id && !c.room_id) return Status::InvalidArgument("session_id without room_id");
    if (c.room_id) NEBU_RETURN_IF_ERROR(CheckRoom(*c.room_id));
    if (c.session_id) NEBU_RETURN_IF_ERROR(CheckSession(*c.session_id));
    return Status::Ok();
  }
};

// ---- encoding ----

struct BackupEncoder {
  json::object operator()(const CreateBackupVersion& c) const {
    return {{"user_id", c.user_id}, {"algorithm", c.algorithm}, {"auth_data", c.auth_data}};
  }
  json::object operator()(const UpdateBackupVersion& c) const {
    return {{"user_id", c.user_id},
            {"version", static_cast<int64_t>(c.version)},
            {"algorithm", c.algorithm},
            {"auth_data", c.auth_data}};
  }
  json::object operator()(const DeleteBackupVersion& c) const {
    return {{"user_id", c.user_id}, {"version", static_cast<int64_t>(c.version)}};
  }
  json::object operator()(const PutBackupKeys& c) const {
    json::object rooms;
    for (const BackupKeyEntry& k : c.keys) {
      json::value& room = rooms[k.room_id];
      if (!room.is_object()) room = json::object{};
      room.as_object()[k.session_id] = BackupKeyDataJson(k.data);
    }
    return {{"user_id", c.user_id},
            {"version", static_cast<int64_t>(c.version)},
            {"rooms", std::move(rooms)}};
  }
  json::object operator()(const DeleteBackupKeys& c) const {
    json::object o{{"user_id", c.user_id}, {"version", static_cast<int64_t>(c.version)}};
    if (c.room_id) o["room_id"] = *c.room_id;
    if (c.session_id) o["session_id"] = *c.session_id;
    return o;
  }
};

// put_keys' rooms: {room: {session: KeyBackupData}}, every field exactly.
Result<std::vector<BackupKeyEntry>> DecodeRooms(const json::object& rooms) {
  std::vector<BackupKeyEntry> out;
  for (const auto& [room_id, sessions] : rooms) {
    if (!sessions.is_object()) return Status::BadJson("put_keys: a room is not an object");
    for (const auto& [session_id, data] : sessions.as_object()) {
      if (!data.is_object() || data.as_object().size() != 4) {
        return Status::BadJson("put_keys: bad key data");
      }
      NEBU_ASSIGN_OR_RETURN(BackupKeyData parsed, ParseBackupKeyData(data));
      out.push_back({std::string(room_id), std::string(session_id), std::move(parsed)});
    }
  }
  std::sort(out.begin(), out.end(), [](const BackupKeyEntry& a, const BackupKeyEntry& b) {
    return std::tie(a.room_id, a.session_id) < std::tie(b.room_id, b.session_id);
  });
  return out;
}

Result<BackupCommand> BackupDecodeOp(std::string_view op, event::CommandFields& f) {
  if (op == "create_version") {
    CreateBackupVersion c;
    NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
    NEBU_ASSIGN_OR_RETURN(c.algorithm, f.String("algorithm"));
    NEBU_ASSIGN_OR_RETURN(const json::object* auth_data, f.Object("auth_data"));
    c.auth_data = *auth_data;
    return BackupCommand(std::move(c));
  }
  if (op == "update_version") {
    UpdateBackupVersion c;
    NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
    NEBU_ASSIGN_OR_RETURN(c.version, f.Unsigned("version"));
    NEBU_ASSIGN_OR_RETURN(c.algorithm, f.String("algorithm"));
    NEBU_ASSIGN_OR_RETURN(const json::object* auth_data, f.Object("auth_data"));
    c.auth_data = *auth_data;
    return BackupCommand(std::move(c));
  }
  if (op == "delete_version") {
    DeleteBackupVersion c;
    NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
    NEBU_ASSIGN_OR_RETURN(c.version, f.Unsigned("version"));
    return BackupCommand(std::move(c));
  }
  if (op == "put_keys") {
    PutBackupKeys c;
    NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
    NEBU_ASSIGN_OR_RETURN(c.version, f.Unsigned("version"));
    NEBU_ASSIGN_OR_RETURN(const json::object* rooms, f.Object("rooms"));
    NEBU_ASSIGN_OR_RETURN(c.keys, DecodeRooms(*rooms));
    return BackupCommand(std::move(c));
  }
  if (op == "delete_keys") {
    DeleteBackupKeys c;
    NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
    NEBU_ASSIGN_OR_RETURN(c.version, f.Unsigned("version"));
    NEBU_ASSIGN_OR_RETURN(c.room_id, f.OptionalString("room_id"));
    NEBU_ASSIGN_OR_RETURN(c.session_id, f.OptionalString("session_id"));
    return BackupCommand(std::move(c));
  }
  return Status::BadJson("unknown key backup op " + std::string(op));
}

}  // namespace

std::string_view BackupCommandName(const BackupCommand& command) {
  static constexpr std::string_view kNames[] = {"create_version", "update_version",
                                                "delete_version", "put_keys", "delete_keys"};
  return kNames[command.index()];
}

Status ValidateBackupCommand(const BackupCommand& command) {
  return std::visit(BackupValidator{}, command);
}

Result<std::string> EncodeBackupCommand(const BackupCommand& command) {
  NEBU_RETURN_IF_ERROR(ValidateBackupCommand(command));
  json::object o = std::visit(BackupEncoder{}, command);
  o["op"] = BackupCommandName(command);
  return event::CanonicalJson(o);
}

Result<BackupCommand> DecodeBackupCommand(std::string_view payload) {
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(payload));
  if (!v.is_object()) return Status::BadJson("key backup command is not an object");
  const json::object& o = v.as_object();
  const json::value* op = o.if_contains("op");
  if (op == nullptr || !op->is_string()) return Status::BadJson("key backup command has no op");
  event::CommandFields fields(o, "key backup command", /*already_read=*/1);
  NEBU_ASSIGN_OR_RETURN(BackupCommand command, BackupDecodeOp(op->as_string(), fields));
  NEBU_RETURN_IF_ERROR(fields.Finish());
  NEBU_RETURN_IF_ERROR(ValidateBackupCommand(command));
  return command;
}

// ---- reads ----

Result<std::optional<BackupVersionInfo>> GetBackupVersion(const storage::ReadView& store,
                                                          std::string_view user_id,
                                                          std::optional<uint64_t> version) {
  using Out = std::optional<BackupVersionInfo>;
  if (version) {
    NEBU_ASSIGN_OR_RETURN(auto value, store.Get(Cf::kKeyBackup, VersionKey(user_id, *version)));
    if (!value) return Out();
    NEBU_ASSIGN_OR_RETURN(BackupVersionInfo info, DecodeVersionRecord(*version, *value));
    return Out(std::move(info));
  }
  // The current version: the last record under the user's prefix.
  const std::string prefix = VersionPrefix(user_id);
  std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(Cf::kKeyBackup);
  it->SeekForPrev(storage::PrefixSuccessor(prefix));
  if (it->Valid() && it->key() == rocksdb::Slice(storage::PrefixSuccessor(prefix))) it->Prev();
  if (!it->Valid() || !it->key().starts_with(prefix)) {
    NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
    return Out();
  }
  std::string_view rest = it->key().ToStringView().substr(prefix.size());
  if (rest.size() != 8) return Status::Corruption("bad backup version key");
  NEBU_ASSIGN_OR_RETURN(BackupVersionInfo info, DecodeVersionRecord(storage::GetU64(rest.data()),
                                                                    it->value().ToStringView()));
  return Out(std::move(info));
}

Result<std::optional<BackupKeyData>> GetBackupKey(const storage::ReadView& store,
                                                  std::string_view user_id, uint64_t version,
                                                  std::string_view room_id,
                                                  std::string_view session_id) {
  NEBU_ASSIGN_OR_RETURN(auto value,
                        store.Get(Cf::kKeyBackup, KeyKey(user_id, version, room_id, session_id)));
  if (!value) return std::optional<BackupKeyData>();
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(*value));
  Result<BackupKeyData> data = ParseBackupKeyData(v);
  if (!data.ok()) return Status::Corruption("bad backup key record");
  return std::optional<BackupKeyData>(std::move(*data));
}

Result<json::object> ListBackupKeys(const storage::ReadView& store, std::string_view user_id,
                                    uint64_t version, std::optional<std::string_view> room_id) {
  const std::string version_prefix = KeysPrefix(user_id, version, std::nullopt);
  const std::string prefix = KeysPrefix(user_id, version, room_id);
  json::object rooms;
  std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(Cf::kKeyBackup);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto parts = DecodeKeySuffix(it->key().ToStringView().substr(version_prefix.size()));
    if (!parts) return Status::Corruption("bad backup key");
    NEBU_ASSIGN_OR_RETURN(json::value data, event::ParseJson(it->value().ToStringView()));
    json::value& room = rooms[parts->first];
    if (!room.is_object()) room = json::object{{"sessions", json::object{}}};
    room.as_object()["sessions"].as_object()[parts->second] = std::move(data);
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return rooms;
}

namespace {

void AppendJsonString(std::string_view text, std::string* out) {
  out->append(boost::json::serialize(json::value(json::string_view(text.data(), text.size()))));
}

Status TooLargeAnswer(size_t answer_bytes_max) {
  return Status::TooLarge("the backup's keys exceed " + std::to_string(answer_bytes_max) +
                          " bytes (kBackupKeysAnswerBytesMax); fetch them room by room");
}

}  // namespace

Result<std::string> BackupKeysAnswer(const storage::ReadView& store, std::string_view user_id,
                                     uint64_t version, std::optional<std::string_view> room_id,
                                     size_t answer_bytes_max) {
  const std::string version_prefix = KeysPrefix(user_id, version, std::nullopt);
  const std::string prefix = KeysPrefix(user_id, version, room_id);
  std::string out = room_id ? "{\"sessions\":{" : "{\"rooms\":{";
  std::optional<std::string> open_room;  // the room whose sessions are being written
  bool first_session = true;
  std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(Cf::kKeyBackup);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto parts = DecodeKeySuffix(it->key().ToStringView().substr(version_prefix.size()));
    if (!parts) return Status::Corruption("bad backup key");
    if (!room_id && open_room != parts->first) {
      if (open_room) out.append("}},");
      open_room = std::string(parts->first);
      AppendJsonString(parts->first, &out);
      out.append(":{\"sessions\":{");
      first_session = true;
    }
    if (!first_session) out.push_back(',');
    first_session = false;
    AppendJsonString(parts->second, &out);
    out.push_back(':');
    out.append(it->value().ToStringView());  // canonical JSON KeyBackupData
    if (out.size() > answer_bytes_max) return TooLargeAnswer(answer_bytes_max);
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  if (open_room) out.append("}}");
  out.append("}}");
  if (out.size() > answer_bytes_max) return TooLargeAnswer(answer_bytes_max);
  return out;
}

}  // namespace nebu::e2ee
