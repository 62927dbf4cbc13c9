#include "engine/admin/room_deletions.h"

#include <boost/json.hpp>

#include "engine/event/canonical_json.h"
#include "engine/event/identifiers.h"

namespace nebu::admin {
namespace {

namespace json = boost::json;
using storage::Cf;

std::string RecordKey(std::string_view delete_id) {
  std::string key = "di";
  key.append(delete_id);
  return key;
}
std::string RoomPrefix(std::string_view room_id) {
  std::string key = "dr";
  key.append(room_id);
  key.push_back('\0');
  return key;
}

bool IsFinal(std::string_view status) {
  return status == kDeletionComplete || status == kDeletionFailed;
}
bool IsStatus(std::string_view status) {
  return status == kDeletionScheduled || status == kDeletionActive || IsFinal(status);
}
bool IsDeleteId(std::string_view id) {
  if (id.empty() || id.size() > kDeleteIdBytesMax) return false;
  for (char c : id) {
    if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) return false;
  }
  return true;
}

json::array ToArray(const std::vector<std::string>& list) {
  json::array out;
  for (const std::string& item : list) out.push_back(json::value(item));
  return out;
}
bool FromArray(const json::object& o, std::string_view key, std::vector<std::string>* out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_array()) return false;
  for (const json::value& item : v->as_array()) {
    if (!item.is_string()) return false;
    out->emplace_back(item.as_string());
  }
  return true;
}
bool DeletionGetString(const json::object& o, std::string_view key, std::string* out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return false;
  *out = std::string(v->as_string());
  return true;
}
bool GetOptString(const json::object& o, std::string_view key, std::optional<std::string>* out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return true;
  if (!v->is_string()) return false;
  *out = std::string(v->as_string());
  return true;
}
bool DeletionGetInt(const json::object& o, std::string_view key, int64_t* out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_int64()) return false;
  *out = v->as_int64();
  return true;
}

Result<RoomDeletion> Parse(std::string_view bytes) {
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(bytes));
  if (!v.is_object()) return Status::Corruption("room deletion record is not an object");
  Result<RoomDeletion> d = RoomDeletionFromJson(v.as_object());
  if (!d.ok()) return Status::Corruption("bad room deletion record: " + d.status().message());
  return d;
}

// A scheduled or active deletion of room_id, other than delete_id, updated less than
// kRoomDeletionStaleMs before now_ms; its ID, or nullopt.
Result<std::optional<std::string>> RunningDeletion(const storage::ReadView& view,
                                                   std::string_view room_id,
                                                   std::string_view delete_id, int64_t now_ms) {
  NEBU_ASSIGN_OR_RETURN(std::vector<RoomDeletion> deletions, ListRoomDeletions(view, room_id));
  for (const RoomDeletion& d : deletions) {
    if (d.delete_id == delete_id || IsFinal(d.status)) continue;
    if (now_ms - d.ts < kRoomDeletionStaleMs) return std::optional<std::string>(d.delete_id);
  }
  return std::optional<std::string>();
}

}  // namespace

Status ValidateRoomDeletion(const RoomDeletion& d) {
  if (!IsDeleteId(d.delete_id)) return Status::InvalidArgument("invalid delete_id");
  if (!event::IsValidRoomId(d.room_id)) return Status::InvalidArgument("invalid room ID");
  if (!IsStatus(d.status)) return Status::InvalidArgument("unknown deletion status");
  if (d.ts < 0) return Status::InvalidArgument("negative timestamp");
  if (d.actor.size() > 512) return Status::InvalidArgument("actor too long");
  for (const auto* list : {&d.kicked_users, &d.failed_to_kick_users, &d.local_aliases}) {
    if (list->size() > kRoomDeletionListedMax) {
      return Status::InvalidArgument("a result list is over kRoomDeletionListedMax");
    }
  }
  if (d.error && d.error->size() > kRoomDeletionErrorBytesMax) {
    return Status::InvalidArgument("error is over kRoomDeletionErrorBytesMax");
  }
  if (d.new_room_id && !event::IsValidRoomId(*d.new_room_id)) {
    return Status::InvalidArgument("invalid new_room_id");
  }
  return Status::Ok();
}

json::object RoomDeletionJson(const RoomDeletion& d) {
  json::object o{{"op", "delete_room"},
                 {"delete_id", d.delete_id},
                 {"room_id", d.room_id},
                 {"status", d.status},
                 {"actor", d.actor},
                 {"ts", d.ts},
                 {"kicked_users", ToArray(d.kicked_users)},
                 {"failed_to_kick_users", ToArray(d.failed_to_kick_users)},
                 {"local_aliases", ToArray(d.local_aliases)}};
  if (d.new_room_id) o["new_room_id"] = *d.new_room_id;
  if (d.error) o["error"] = *d.error;
  return o;
}

Result<RoomDeletion> RoomDeletionFromJson(const json::object& o) {
  for (const auto& [key, value] : o) {
    static constexpr std::string_view kKeys[] = {
        "op", "delete_id", "room_id", "status", "actor", "ts", "created_ts", "kicked_users",
        "failed_to_kick_users", "local_aliases", "new_room_id", "error"};
    bool known = false;
    for (std::string_view k : kKeys) known = known || key == k;
    if (!known) return Status::BadJson("unknown field in delete_room");
  }
  RoomDeletion d;
  if (!DeletionGetString(o, "delete_id", &d.delete_id) ||
      !DeletionGetString(o, "room_id", &d.room_id) || !DeletionGetString(o, "status", &d.status) ||
      !DeletionGetString(o, "actor", &d.actor) || !DeletionGetInt(o, "ts", &d.ts) ||
      !FromArray(o, "kicked_users", &d.kicked_users) ||
      !FromArray(o, "failed_to_kick_users", &d.failed_to_kick_users) ||
      !FromArray(o, "local_aliases", &d.local_aliases) ||
      !GetOptString(o, "new_room_id", &d.new_room_id) || !GetOptString(o, "error", &d.error)) {
    return Status::BadJson("bad delete_room");
  }
  if (o.contains("created_ts") && !DeletionGetInt(o, "created_ts", &d.created_ts)) {
    return Status::BadJson("bad delete_room created_ts");
  }
  if (Status valid = ValidateRoomDeletion(d); !valid.ok()) return Status::BadJson(valid.message());
  return d;
}

Result<std::string> ApplyRoomDeletion(storage::Store& store, rocksdb::WriteBatch& batch,
                                      const RoomDeletion& command) {
  NEBU_ASSIGN_OR_RETURN(std::optional<RoomDeletion> existing,
                        GetRoomDeletion(store, command.delete_id));
  RoomDeletion record = command;
  if (existing) {
    if (existing->room_id != command.room_id) {
      return Status::InvalidArgument("the deletion is of another room");
    }
    if (IsFinal(existing->status)) return Status::Forbidden("the deletion has finished");
    record.created_ts = existing->created_ts;
  } else {
    if (command.status != kDeletionScheduled) {
      return Status::InvalidArgument("a new deletion starts scheduled");
    }
    NEBU_ASSIGN_OR_RETURN(std::optional<std::string> running,
                          RunningDeletion(store, command.room_id, command.delete_id, command.ts));
    if (running) {
      return Status::AlreadyExists("the room is being deleted already (delete_id " + *running +
                                   ")");
    }
    record.created_ts = command.ts;
    batch.Put(store.handle(Cf::kAdmin), RoomPrefix(command.room_id) + command.delete_id, "");
  }
  json::object o = RoomDeletionJson(record);
  o.erase("op");
  o["created_ts"] = record.created_ts;
  NEBU_ASSIGN_OR_RETURN(std::string bytes, event::CanonicalJson(o));
  batch.Put(store.handle(Cf::kAdmin), RecordKey(command.delete_id), bytes);
  return std::string(R"({"status":")") + record.status + "\"}";
}

Result<std::optional<RoomDeletion>> GetRoomDeletion(const storage::ReadView& view,
                                                    std::string_view delete_id) {
  if (!IsDeleteId(delete_id)) return std::optional<RoomDeletion>();
  NEBU_ASSIGN_OR_RETURN(auto bytes, view.Get(Cf::kAdmin, RecordKey(delete_id)));
  if (!bytes) return std::optional<RoomDeletion>();
  NEBU_ASSIGN_OR_RETURN(RoomDeletion d, Parse(*bytes));
  return std::optional<RoomDeletion>(std::move(d));
}

Result<std::vector<RoomDeletion>> ListRoomDeletions(const storage::ReadView& view,
                                                    std::string_view room_id) {
  std::vector<RoomDeletion> out;
  const std::string prefix = RoomPrefix(room_id);
  auto it = view.NewIterator(Cf::kAdmin);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix) &&
                         out.size() < kRoomDeletionsPerRoomMax;
       it->Next()) {
    std::string_view id = it->key().ToStringView().substr(prefix.size());
    NEBU_ASSIGN_OR_RETURN(std::optional<RoomDeletion> d, GetRoomDeletion(view, id));
    if (!d) return Status::Corruption("room deletion index without its record");
    out.push_back(std::move(*d));
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return out;
}

}  // namespace nebu::admin
