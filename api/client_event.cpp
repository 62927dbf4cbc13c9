#include "api/client_event.h"

#include <algorithm>
#include <boost/json.hpp>

#include "engine/event/canonical_json.h"

namespace nebu::api {

namespace json = boost::json;

namespace {

// Copies `key` from `from` to `to` when present; false when it is absent.
bool CopyField(const json::object& from, std::string_view key, json::object& to) {
  const json::value* v = from.if_contains(key);
  if (v == nullptr) return false;
  to[key] = *v;
  return true;
}

}  // namespace

Result<json::object> ToClientEvent(std::string_view pdu_json, std::string_view event_id,
                                   int64_t now_ms) {
  NEBU_ASSIGN_OR_RETURN(json::value parsed, event::ParseJson(pdu_json));
  if (!parsed.is_object()) return Status::Corruption("stored event is not an object");
  const json::object& pdu = parsed.as_object();
  json::object out;
  out["event_id"] = event_id;
  bool complete = true;
  for (std::string_view key : {"room_id", "sender", "type", "content"}) {
    complete = CopyField(pdu, key, out) && complete;
  }
  if (!complete || !out["content"].is_object()) {
    return Status::Corruption("stored event misses room_id, sender, type or content");
  }
  CopyField(pdu, "state_key", out);
  CopyField(pdu, "redacts", out);
  int64_t ts = 0;
  if (const json::value* v = pdu.if_contains("origin_server_ts"); v && v->is_int64()) {
    ts = v->as_int64();
  }
  out["origin_server_ts"] = ts;
  out["unsigned"] = json::object{{"age", std::max<int64_t>(0, now_ms - ts)}};
  return out;
}

Result<json::object> ToClientEvent(const storage::EventView& view, int64_t now_ms) {
  return ToClientEvent(view.json, view.event_id, now_ms);
}

Result<json::object> ToClientEvent(const storage::EventRecord& record, int64_t now_ms) {
  return ToClientEvent(record.json, record.event_id, now_ms);
}

}  // namespace nebu::api
