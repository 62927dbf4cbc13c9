// The kReceipt payload codec (receipts.h § ReceiptCommand).
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <utility>

#include "engine/event/canonical_json.h"
#include "engine/event/identifiers.h"
#include "engine/receipts/receipts.h"

namespace nebu::receipts {
namespace {

namespace json = boost::json;

constexpr std::string_view kMainThread = "main";

Result<std::string> StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return Status::BadJson("receipt command lacks \"" + std::string(key) + "\"");
  if (!v->is_string()) {
    return Status::BadJson("receipt command field \"" + std::string(key) + "\" is not a string");
  }
  return std::string(v->get_string());
}

}  // namespace

Status ValidateReceiptCommand(const ReceiptCommand& c) {
  if (!event::IsValidRoomId(c.room_id)) return Status::InvalidArgument("invalid room_id");
  if (!event::IsValidUserId(c.user_id)) return Status::InvalidArgument("invalid user_id");
  if (c.type != kReceiptTypeRead && c.type != kReceiptTypeReadPrivate) {
    return Status::InvalidArgument("unknown receipt type");
  }
  if (!event::IsValidEventId(c.event_id)) return Status::InvalidArgument("invalid event_id");
  if (!c.thread_id.empty() && c.thread_id != kMainThread && !event::IsValidEventId(c.thread_id)) {
    return Status::InvalidArgument("thread_id is neither \"main\" nor an event ID");
  }
  if (c.thread_id.size() > kThreadIdBytesMax) return Status::InvalidArgument("thread_id too long");
  if (c.ts < 0 || c.ts > event::kCanonicalIntMax) return Status::InvalidArgument("bad ts");
  return Status::Ok();
}

Result<std::string> EncodeReceiptCommand(const ReceiptCommand& c) {
  NEBU_RETURN_IF_ERROR(ValidateReceiptCommand(c));
  json::object o;
  o["room_id"] = c.room_id;
  o["user_id"] = c.user_id;
  o["type"] = c.type;
  o["event_id"] = c.event_id;
  if (!c.thread_id.empty()) o["thread_id"] = c.thread_id;
  o["ts"] = c.ts;
  return event::CanonicalJson(o);
}

Result<ReceiptCommand> DecodeReceiptCommand(std::string_view payload) {
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(payload));
  if (!v.is_object()) return Status::BadJson("receipt command is not an object");
  const json::object& o = v.get_object();
  ReceiptCommand c;
  NEBU_ASSIGN_OR_RETURN(c.room_id, StringField(o, "room_id"));
  NEBU_ASSIGN_OR_RETURN(c.user_id, StringField(o, "user_id"));
  NEBU_ASSIGN_OR_RETURN(c.type, StringField(o, "type"));
  NEBU_ASSIGN_OR_RETURN(c.event_id, StringField(o, "event_id"));
  size_t fields = 5;
  if (o.contains("thread_id")) {
    NEBU_ASSIGN_OR_RETURN(c.thread_id, StringField(o, "thread_id"));
    if (c.thread_id.empty()) return Status::BadJson("receipt command has an empty thread_id");
    ++fields;
  }
  const json::value* ts = o.if_contains("ts");
  if (ts == nullptr || !ts->is_int64())
    return Status::BadJson("receipt command lacks an integer ts");
  c.ts = ts->get_int64();
  if (o.size() != fields) return Status::BadJson("receipt command has an unknown field");
  NEBU_RETURN_IF_ERROR(ValidateReceiptCommand(c));
  return c;
}

}  // namespace nebu::receipts
