#include "engine/admin/admin.h"

#include <boost/json.hpp>

#include "engine/accounts/accounts.h"
#include "engine/event/canonical_json.h"
#include "engine/event/identifiers.h"
#include "engine/storage/keys.h"

namespace nebu::admin {
namespace {

namespace json = boost::json;
using storage::Cf;

constexpr std::string_view kNextSeqKey = "n";
constexpr char kRoleTag = 'r';
constexpr char kAuditTag = 'a';
constexpr char kBlockTag = 'b';
constexpr char kNoticeRoomTag = 's';

std::string TaggedKey(char tag, std::string_view id) {
  std::string key(1, tag);
  key.append(id);
  return key;
}

std::string AuditKey(uint64_t seq) {
  std::string key(1, kAuditTag);
  storage::PutU64(&key, seq);
  return key;
}

// Field readers over a decoded object: false when the field is missing or mistyped.
bool GetString(const json::object& o, std::string_view key, std::string* out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return false;
  *out = std::string(v->as_string());
  return true;
}
bool GetInt(const json::object& o, std::string_view key, int64_t* out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_int64()) return false;
  *out = v->as_int64();
  return true;
}
bool GetOptBool(const json::object& o, std::string_view key, std::optional<bool>* out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return true;
  if (!v->is_bool()) return false;
  *out = v->as_bool();
  return true;
}
bool OnlyKeys(const json::object& o, std::initializer_list<std::string_view> keys) {
  for (const auto& [key, value] : o) {
    bool known = false;
    for (std::string_view k : keys) known = known || key == k;
    if (!known) return false;
  }
  return true;
}

Status CheckField(std::string_view name, std::string_view value) {
  if (value.size() > kAuditFieldBytesMax) {
    return Status::InvalidArgument(std::string(name) + " is longer than " +
                                   std::to_string(kAuditFieldBytesMax) + " bytes");
  }
  return Status::Ok();
}

Status Validate(const AdminCommand& command) {
  if (const auto* roles = std::get_if<SetRolesCommand>(&command)) {
    if (!event::IsValidUserId(roles->user_id)) return Status::InvalidArgument("invalid user ID");
    return Status::Ok();
  }
  if (const auto* block = std::get_if<BlockRoomCommand>(&command)) {
    if (!event::IsValidRoomId(block->room_id)) return Status::InvalidArgument("invalid room ID");
    if (block->ts < 0) return Status::InvalidArgument("negative timestamp");
    return CheckField("actor", block->actor);
  }
  if (const auto* notice = std::get_if<SetNoticeRoomCommand>(&command)) {
    if (!event::IsValidUserId(notice->user_id)) return Status::InvalidArgument("invalid user ID");
    if (!event::IsValidRoomId(notice->room_id)) return Status::InvalidArgument("invalid room ID");
    return Status::Ok();
  }
  if (const auto* deletion = std::get_if<RoomDeletion>(&command)) {
    return ValidateRoomDeletion(*deletion);
  }
  const auto& record = std::get<AuditRecord>(command);
  if (record.ts < 0) return Status::InvalidArgument("negative timestamp");
  NEBU_RETURN_IF_ERROR(CheckField("actor", record.actor));
  NEBU_RETURN_IF_ERROR(CheckField("action", record.action));
  NEBU_RETURN_IF_ERROR(CheckField("target", record.target));
  NEBU_RETURN_IF_ERROR(CheckField("outcome", record.outcome));
  if (record.action.empty()) return Status::InvalidArgument("empty action");
  if (json::serialize(record.params).size() > kAuditParamsBytesMax) {
    return Status::InvalidArgument("audit parameters are over kAuditParamsBytesMax");
  }
  return Status::Ok();
}

json::object RecordJson(const AuditRecord& r) {
  json::object o{{"action", r.action}, {"actor", r.actor},   {"outcome", r.outcome},
                 {"params", r.params}, {"status", r.status}, {"target", r.target},
                 {"ts", r.ts}};
  return o;
}

Result<AuditRecord> RecordFromJson(const json::object& o, StatusCode bad) {
  AuditRecord r;
  const json::value* params = o.if_contains("params");
  if (!GetString(o, "action", &r.action) || !GetString(o, "actor", &r.actor) ||
      !GetString(o, "outcome", &r.outcome) || !GetString(o, "target", &r.target) ||
      !GetInt(o, "status", &r.status) || !GetInt(o, "ts", &r.ts) || params == nullptr ||
      !params->is_object()) {
    return Status(bad, "audit record misses or mistypes a field");
  }
  r.params = params->as_object();
  if (const json::value* seq = o.if_contains("seq"); seq != nullptr && seq->is_int64()) {
    r.seq = static_cast<uint64_t>(seq->as_int64());
  }
  return r;
}

Result<Roles> StoredRoles(const storage::ReadView& view, std::string_view user_id,
                          bool* found) {
  *found = false;
  NEBU_ASSIGN_OR_RETURN(auto bytes, view.Get(Cf::kAdmin, TaggedKey(kRoleTag, user_id)));
  if (!bytes) return Roles{};
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(*bytes));
  const json::object* o = v.if_object();
  std::optional<bool> admin, auditor;
  if (o == nullptr || !GetOptBool(*o, "admin", &admin) || !GetOptBool(*o, "auditor", &auditor)) {
    return Status::Corruption("bad role record");
  }
  *found = true;
  return Roles{.admin = admin.value_or(false), .auditor = auditor.value_or(false)};
}

Result<std::string> ApplySetRoles(storage::Store& store, rocksdb::WriteBatch& batch,
                                  const SetRolesCommand& command) {
  Result<accounts::User> user = accounts::GetUser(store, command.user_id);
  if (!user.ok()) return user.status();
  if (user->deactivated) return Status::Forbidden("the user is deactivated");
  bool found = false;
  NEBU_ASSIGN_OR_RETURN(Roles roles, StoredRoles(store, command.user_id, &found));
  if (!found) roles.admin = user->admin;
  if (command.admin) roles.admin = *command.admin;
  if (command.auditor) roles.auditor = *command.auditor;
  json::object record{{"admin", roles.admin}, {"auditor", roles.auditor}};
  NEBU_ASSIGN_OR_RETURN(std::string bytes, event::CanonicalJson(record));
  batch.Put(store.handle(Cf::kAdmin), TaggedKey(kRoleTag, command.user_id), bytes);
  return bytes;
}

Result<std::string> ApplyAudit(storage::Store& store, rocksdb::WriteBatch& batch,
                               AuditRecord record) {
  NEBU_ASSIGN_OR_RETURN(auto next, store.Get(Cf::kAdmin, kNextSeqKey));
  if (next && next->size() != 8) return Status::Corruption("bad next audit sequence");
  record.seq = next ? storage::GetU64(next->data()) : 1;
  json::object o = RecordJson(record);
  o["seq"] = static_cast<int64_t>(record.seq);
  NEBU_ASSIGN_OR_RETURN(std::string bytes, event::CanonicalJson(o));
  batch.Put(store.handle(Cf::kAdmin), AuditKey(record.seq), bytes);
  batch.Put(store.handle(Cf::kAdmin), kNextSeqKey, storage::U64Key(record.seq + 1));
  return R"({"seq":)" + std::to_string(record.seq) + "}";
}

Result<std::string> ApplyBlock(storage::Store& store, rocksdb::WriteBatch& batch,
                               const BlockRoomCommand& command) {
  const std::string key = TaggedKey(kBlockTag, command.room_id);
  if (!command.block) {
    batch.Delete(store.handle(Cf::kAdmin), key);
    return std::string(R"({"block":false})");
  }
  NEBU_ASSIGN_OR_RETURN(std::string bytes,
                        event::CanonicalJson(json::object{{"actor", command.actor},
                                                          {"ts", command.ts}}));
  batch.Put(store.handle(Cf::kAdmin), key, bytes);
  return std::string(R"({"block":true})");
}

}  // namespace

Result<std::string> EncodeAdminCommand(const AdminCommand& command) {
  NEBU_RETURN_IF_ERROR(Validate(command));
  json::object o;
  if (const auto* roles = std::get_if<SetRolesCommand>(&command)) {
    o = {{"op", "set_roles"}, {"user_id", roles->user_id}};
    if (roles->admin) o["admin"] = *roles->admin;
    if (roles->auditor) o["auditor"] = *roles->auditor;
  } else if (const auto* block = std::get_if<BlockRoomCommand>(&command)) {
    o = {{"op", "block_room"},
         {"room_id", block->room_id},
         {"block", block->block},
         {"actor", block->actor},
         {"ts", block->ts}};
  } else if (const auto* notice = std::get_if<SetNoticeRoomCommand>(&command)) {
    o = {{"op", "set_notice_room"}, {"user_id", notice->user_id}, {"room_id", notice->room_id}};
  } else if (const auto* deletion = std::get_if<RoomDeletion>(&command)) {
    o = RoomDeletionJson(*deletion);
  } else {
    o = RecordJson(std::get<AuditRecord>(command));
    o["op"] = "audit";
  }
  return event::CanonicalJson(o);
}

Result<AdminCommand> DecodeAdminCommand(std::string_view payload) {
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(payload));
  const json::object* o = v.if_object();
  std::string op;
  if (o == nullptr || !GetString(*o, "op", &op)) return Status::BadJson("admin command has no op");
  AdminCommand command;
  if (op == "set_roles") {
    SetRolesCommand c;
    if (!OnlyKeys(*o, {"op", "user_id", "admin", "auditor"}) ||
        !GetString(*o, "user_id", &c.user_id) || !GetOptBool(*o, "admin", &c.admin) ||
        !GetOptBool(*o, "auditor", &c.auditor)) {
      return Status::BadJson("bad set_roles command");
    }
    command = std::move(c);
  } else if (op == "block_room") {
    BlockRoomCommand c;
    const json::value* block = o->if_contains("block");
    if (!OnlyKeys(*o, {"op", "room_id", "block", "actor", "ts"}) ||
        !GetString(*o, "room_id", &c.room_id) || !GetString(*o, "actor", &c.actor) ||
        !GetInt(*o, "ts", &c.ts) || block == nullptr || !block->is_bool()) {
      return Status::BadJson("bad block_room command");
    }
    c.block = block->as_bool();
    command = std::move(c);
  } else if (op == "set_notice_room") {
    SetNoticeRoomCommand c;
    if (!OnlyKeys(*o, {"op", "user_id", "room_id"}) || !GetString(*o, "user_id", &c.user_id) ||
        !GetString(*o, "room_id", &c.room_id)) {
      return Status::BadJson("bad set_notice_room command");
    }
    command = std::move(c);
  } else if (op == "delete_room") {
    if (o->contains("created_ts")) return Status::BadJson("bad delete_room command");
    NEBU_ASSIGN_OR_RETURN(RoomDeletion d, RoomDeletionFromJson(*o));
    command = std::move(d);
  } else if (op == "audit") {
    if (!OnlyKeys(*o, {"op", "action", "actor", "outcome", "params", "status", "target", "ts"})) {
      return Status::BadJson("bad audit command");
    }
    NEBU_ASSIGN_OR_RETURN(AuditRecord record, RecordFromJson(*o, StatusCode::kBadJson));
    command = std::move(record);
  } else {
    return Status::BadJson("unknown admin op");
  }
  if (Status valid = Validate(command); !valid.ok()) return Status::BadJson(valid.message());
  return command;
}

Result<std::string> ApplyAdminCommand(storage::Store& store, rocksdb::WriteBatch& batch,
                                      std::string_view payload) {
  NEBU_ASSIGN_OR_RETURN(AdminCommand command, DecodeAdminCommand(payload));
  if (const auto* roles = std::get_if<SetRolesCommand>(&command)) {
    return ApplySetRoles(store, batch, *roles);
  }
  if (const auto* block = std::get_if<BlockRoomCommand>(&command)) {
    return ApplyBlock(store, batch, *block);
  }
  if (const auto* notice = std::get_if<SetNoticeRoomCommand>(&command)) {
    batch.Put(store.handle(Cf::kAdmin), TaggedKey(kNoticeRoomTag, notice->user_id),
              notice->room_id);
    return std::string(R"({"notice_room":true})");
  }
  if (const auto* deletion = std::get_if<RoomDeletion>(&command)) {
    return ApplyRoomDeletion(store, batch, *deletion);
  }
  return ApplyAudit(store, batch, std::get<AuditRecord>(std::move(command)));
}

Result<Roles> GetRoles(const storage::ReadView& view, std::string_view user_id) {
  Result<accounts::User> user = accounts::GetUser(view, user_id);
  if (!user.ok()) {
    if (user.status().code() == StatusCode::kNotFound) return Roles{};
    return user.status();
  }
  if (user->deactivated) return Roles{};
  bool found = false;
  NEBU_ASSIGN_OR_RETURN(Roles roles, StoredRoles(view, user_id, &found));
  if (!found) roles.admin = user->admin;
  return roles;
}

bool CanUseAdminApi(const Roles& roles) { return roles.admin; }
bool CanUseComplianceApi(const Roles& roles) { return roles.auditor; }

Status ForEachAudit(const storage::ReadView& view, uint64_t after_seq, size_t limit,
                    const AuditVisitor& visit) {
  if (after_seq == UINT64_MAX) return Status::Ok();
  const std::string prefix(1, kAuditTag);
  auto it = view.NewIterator(Cf::kAdmin);
  size_t visited = 0;
  bool more = true;
  for (it->Seek(AuditKey(after_seq + 1));
       more && it->Valid() && it->key().starts_with(prefix) && visited < limit;
       it->Next(), ++visited) {
    NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(it->value().ToStringView()));
    if (!v.is_object()) return Status::Corruption("audit record is not an object");
    NEBU_ASSIGN_OR_RETURN(AuditRecord record,
                          RecordFromJson(v.as_object(), StatusCode::kCorruption));
    NEBU_RETURN_IF_ERROR(visit(record, &more));
  }
  return storage::FromRocks(it->status());
}

Result<std::optional<RoomBlock>> GetRoomBlock(const storage::ReadView& view,
                                              std::string_view room_id) {
  NEBU_ASSIGN_OR_RETURN(auto bytes, view.Get(Cf::kAdmin, TaggedKey(kBlockTag, room_id)));
  if (!bytes) return std::optional<RoomBlock>();
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(*bytes));
  const json::object* o = v.if_object();
  RoomBlock block;
  if (o == nullptr || !GetString(*o, "actor", &block.actor) || !GetInt(*o, "ts", &block.ts)) {
    return Status::Corruption("bad room block record");
  }
  return std::optional<RoomBlock>(std::move(block));
}

Result<std::optional<std::string>> GetNoticeRoom(const storage::ReadView& view,
                                                 std::string_view user_id) {
  return view.Get(Cf::kAdmin, TaggedKey(kNoticeRoomTag, user_id));
}

}  // namespace nebu::admin
