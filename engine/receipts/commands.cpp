// The kReceipt payload codec (receipts.h § ReceiptCommand).
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <utility>

#include "engine/event/canonical_json.h"
#include "engine/event/command_fields.h"
#include "engine/event/identifiers.h"
#include "engine/receipts/receipts.h"

namespace nebu::receipts {
namespace {

namespace json = boost::json;

constexpr std::string_view kMainThread = "main";

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
  event::CommandFields f(v.get_object(), "receipt command");
  ReceiptCommand c;
  NEBU_ASSIGN_OR_RETURN(c.room_id, f.String("room_id"));
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.type, f.String("type"));
  NEBU_ASSIGN_OR_RETURN(c.event_id, f.String("event_id"));
  NEBU_ASSIGN_OR_RETURN(auto thread_id, f.OptionalString("thread_id"));
  if (thread_id) {
    if (thread_id->empty()) return Status::BadJson("receipt command has an empty thread_id");
    c.thread_id = std::move(*thread_id);
  }
  NEBU_ASSIGN_OR_RETURN(c.ts, f.Int("ts"));
  NEBU_RETURN_IF_ERROR(f.Finish());
  NEBU_RETURN_IF_ERROR(ValidateReceiptCommand(c));
  return c;
}

}  // namespace nebu::receipts
