#include "engine/compliance/internal/codec.h"

#include <boost/json.hpp>

#include "engine/event/canonical_json.h"
#include "engine/event/identifiers.h"
#include "engine/storage/keys.h"

namespace nebu::compliance {
namespace internal {
namespace {

namespace json = boost::json;

std::string Tagged(std::string_view tag, std::string_view rest) {
  std::string key(tag);
  key.append(rest);
  return key;
}

}  // namespace

std::string HoldKey(std::string_view hold_id) { return Tagged("hr", hold_id); }
std::string HoldTargetPrefix(std::string_view target) {
  std::string key = Tagged("ht", target);
  key.push_back('\0');
  return key;
}
std::string HoldTargetKey(std::string_view target, std::string_view hold_id) {
  return HoldTargetPrefix(target) + std::string(hold_id);
}
std::string PurgeKey(std::string_view purge_id) { return Tagged("pj", purge_id); }
std::string PurgedEventKey(std::string_view event_id) { return Tagged("pe", event_id); }
std::string PurgeQueuePrefix() { return "pq"; }
std::string PurgeQueueKey(uint64_t number) {
  std::string key = PurgeQueuePrefix();
  storage::PutU64(&key, number);
  return key;
}

}  // namespace internal

namespace {

namespace json = boost::json;

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
bool GetU64(const json::object& o, std::string_view key, uint64_t* out) {
  int64_t v = 0;
  if (!GetInt(o, key, &v) || v < 0) return false;
  *out = static_cast<uint64_t>(v);
  return true;
}
bool GetBool(const json::object& o, std::string_view key, bool* out) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_bool()) return false;
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

bool IsValidId(std::string_view id) {
  if (id.empty() || id.size() > kComplianceIdBytesMax) return false;
  for (char c : id) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status CheckLength(std::string_view name, std::string_view value, size_t max) {
  if (value.size() > max) {
    return Status::InvalidArgument(std::string(name) + " is longer than " + std::to_string(max) +
                                   " bytes");
  }
  return Status::Ok();
}

Status Validate(const PurgeCommand& command) {
  if (const auto* c = std::get_if<HoldCreate>(&command)) {
    if (!IsValidId(c->hold_id)) return Status::InvalidArgument("invalid hold ID");
    if (!event::IsValidUserId(c->target) && !event::IsValidRoomId(c->target)) {
      return Status::InvalidArgument("a hold's target is a user ID or a room ID");
    }
    if (c->ts < 0) return Status::InvalidArgument("negative timestamp");
    NEBU_RETURN_IF_ERROR(CheckLength("reason", c->reason, kHoldReasonBytesMax));
    NEBU_RETURN_IF_ERROR(CheckLength("case_id", c->case_id, kHoldFieldBytesMax));
    return CheckLength("actor", c->actor, kHoldFieldBytesMax);
  }
  if (const auto* c = std::get_if<HoldRelease>(&command)) {
    if (!IsValidId(c->hold_id)) return Status::InvalidArgument("invalid hold ID");
    if (c->ts < 0) return Status::InvalidArgument("negative timestamp");
    return CheckLength("actor", c->actor, kHoldFieldBytesMax);
  }
  const auto& c = std::get<PurgeEvents>(command);
  if (!IsValidId(c.purge_id)) return Status::InvalidArgument("invalid purge ID");
  if (!event::IsValidRoomId(c.room_id)) return Status::InvalidArgument("invalid room ID");
  if (c.ts < 0 || (c.before_ts && *c.before_ts < 0)) {
    return Status::InvalidArgument("negative timestamp");
  }
  if (c.upto_seq && *c.upto_seq == 0) return Status::InvalidArgument("upto_seq is 0");
  if (c.upto_seq && *c.upto_seq > static_cast<uint64_t>(event::kCanonicalIntMax)) {
    return Status::InvalidArgument("upto_seq is too large");
  }
  if (!c.keep_server.empty() && !event::IsValidServerName(c.keep_server)) {
    return Status::InvalidArgument("invalid keep_server");
  }
  NEBU_RETURN_IF_ERROR(CheckLength("reason", c.reason, kHoldReasonBytesMax));
  return CheckLength("actor", c.actor, kHoldFieldBytesMax);
}

}  // namespace

Result<std::string> EncodePurgeCommand(const PurgeCommand& command) {
  NEBU_RETURN_IF_ERROR(Validate(command));
  json::object o;
  if (const auto* c = std::get_if<HoldCreate>(&command)) {
    o = {{"op", "hold_create"}, {"hold_id", c->hold_id}, {"target", c->target},
         {"reason", c->reason}, {"case_id", c->case_id}, {"actor", c->actor},
         {"ts", c->ts}};
  } else if (const auto* r = std::get_if<HoldRelease>(&command)) {
    o = {{"op", "hold_release"}, {"hold_id", r->hold_id}, {"actor", r->actor}, {"ts", r->ts}};
  } else {
    const auto& p = std::get<PurgeEvents>(command);
    o = {{"op", "purge_events"}, {"purge_id", p.purge_id}, {"room_id", p.room_id},
         {"actor", p.actor},     {"reason", p.reason},     {"ts", p.ts}};
    if (p.before_ts) o["before_ts"] = *p.before_ts;
    if (p.upto_seq) o["upto_seq"] = static_cast<int64_t>(*p.upto_seq);
    if (!p.keep_server.empty()) o["keep_server"] = p.keep_server;
  }
  return event::CanonicalJson(o);
}

Result<PurgeCommand> DecodePurgeCommand(std::string_view payload) {
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(payload));
  const json::object* o = v.if_object();
  std::string op;
  if (o == nullptr || !GetString(*o, "op", &op)) return Status::BadJson("purge command has no op");
  PurgeCommand command;
  if (op == "hold_create") {
    HoldCreate c;
    if (!OnlyKeys(*o, {"op", "hold_id", "target", "reason", "case_id", "actor", "ts"}) ||
        !GetString(*o, "hold_id", &c.hold_id) || !GetString(*o, "target", &c.target) ||
        !GetString(*o, "reason", &c.reason) || !GetString(*o, "case_id", &c.case_id) ||
        !GetString(*o, "actor", &c.actor) || !GetInt(*o, "ts", &c.ts)) {
      return Status::BadJson("bad hold_create command");
    }
    command = std::move(c);
  } else if (op == "hold_release") {
    HoldRelease c;
    if (!OnlyKeys(*o, {"op", "hold_id", "actor", "ts"}) || !GetString(*o, "hold_id", &c.hold_id) ||
        !GetString(*o, "actor", &c.actor) || !GetInt(*o, "ts", &c.ts)) {
      return Status::BadJson("bad hold_release command");
    }
    command = std::move(c);
  } else if (op == "purge_events") {
    PurgeEvents c;
    if (!OnlyKeys(*o, {"op", "purge_id", "room_id", "actor", "reason", "ts", "before_ts",
                       "upto_seq", "keep_server"}) ||
        !GetString(*o, "purge_id", &c.purge_id) || !GetString(*o, "room_id", &c.room_id) ||
        !GetString(*o, "actor", &c.actor) || !GetString(*o, "reason", &c.reason) ||
        !GetInt(*o, "ts", &c.ts)) {
      return Status::BadJson("bad purge_events command");
    }
    int64_t before = 0;
    uint64_t upto = 0;
    if (o->contains("before_ts")) {
      if (!GetInt(*o, "before_ts", &before)) return Status::BadJson("bad before_ts");
      c.before_ts = before;
    }
    if (o->contains("upto_seq")) {
      if (!GetU64(*o, "upto_seq", &upto)) return Status::BadJson("bad upto_seq");
      c.upto_seq = upto;
    }
    if (o->contains("keep_server") && !GetString(*o, "keep_server", &c.keep_server)) {
      return Status::BadJson("bad keep_server");
    }
    command = std::move(c);
  } else {
    return Status::BadJson("unknown purge op");
  }
  if (Status valid = Validate(command); !valid.ok()) return Status::BadJson(valid.message());
  return command;
}

namespace internal {

Result<std::string> EncodeHold(const Hold& hold) {
  json::object o{{"hold_id", hold.hold_id}, {"target", hold.target},
                 {"reason", hold.reason},   {"case_id", hold.case_id},
                 {"actor", hold.actor},     {"created_ts", hold.created_ts}};
  if (hold.released_ts) {
    o["released_ts"] = *hold.released_ts;
    o["released_by"] = hold.released_by;
  }
  return event::CanonicalJson(o);
}

Result<Hold> DecodeHold(std::string_view bytes) {
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(bytes));
  const json::object* o = v.if_object();
  Hold hold;
  if (o == nullptr || !GetString(*o, "hold_id", &hold.hold_id) ||
      !GetString(*o, "target", &hold.target) || !GetString(*o, "reason", &hold.reason) ||
      !GetString(*o, "case_id", &hold.case_id) || !GetString(*o, "actor", &hold.actor) ||
      !GetInt(*o, "created_ts", &hold.created_ts)) {
    return Status::Corruption("bad hold record");
  }
  if (o->contains("released_ts")) {
    int64_t ts = 0;
    if (!GetInt(*o, "released_ts", &ts) || !GetString(*o, "released_by", &hold.released_by)) {
      return Status::Corruption("bad hold record");
    }
    hold.released_ts = ts;
  }
  return hold;
}

Result<std::string> EncodeProgress(const PurgeProgress& p) {
  json::object o{{"purge_id", p.purge_id},
                 {"room_id", p.room_id},
                 {"actor", p.actor},
                 {"reason", p.reason},
                 {"next_seq", static_cast<int64_t>(p.next_seq)},
                 {"last_seq", static_cast<int64_t>(p.last_seq)},
                 {"purged", static_cast<int64_t>(p.purged)},
                 {"kept", static_cast<int64_t>(p.kept)},
                 {"held", static_cast<int64_t>(p.held)},
                 {"done", p.done},
                 {"created_ts", p.created_ts},
                 {"updated_ts", p.updated_ts}};
  return event::CanonicalJson(o);
}

Result<PurgeProgress> DecodeProgress(std::string_view bytes) {
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(bytes));
  const json::object* o = v.if_object();
  PurgeProgress p;
  if (o == nullptr || !GetString(*o, "purge_id", &p.purge_id) ||
      !GetString(*o, "room_id", &p.room_id) || !GetString(*o, "actor", &p.actor) ||
      !GetString(*o, "reason", &p.reason) || !GetU64(*o, "next_seq", &p.next_seq) ||
      !GetU64(*o, "last_seq", &p.last_seq) || !GetU64(*o, "purged", &p.purged) ||
      !GetU64(*o, "kept", &p.kept) || !GetU64(*o, "held", &p.held) ||
      !GetBool(*o, "done", &p.done) || !GetInt(*o, "created_ts", &p.created_ts) ||
      !GetInt(*o, "updated_ts", &p.updated_ts)) {
    return Status::Corruption("bad purge progress record");
  }
  return p;
}

Result<PurgedEvent> DecodePurged(std::string_view bytes) {
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(bytes));
  const json::object* o = v.if_object();
  PurgedEvent p;
  if (o == nullptr || !GetString(*o, "event_id", &p.event_id) ||
      !GetString(*o, "room_id", &p.room_id) || !GetString(*o, "reason", &p.reason) ||
      !GetU64(*o, "stream_position", &p.stream_position) || !GetInt(*o, "ts", &p.ts)) {
    return Status::Corruption("bad purged event record");
  }
  return p;
}

}  // namespace internal
}  // namespace nebu::compliance
