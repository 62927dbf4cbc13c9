#include "api/client_event.h"

#include <algorithm>
#include <boost/json.hpp>

#include "api/txn_scope.h"
#include "engine/event/canonical_json.h"
#include "engine/event/event.h"
#include "engine/storage/keys.h"
#include "engine/storage/room_log.h"
#include "engine/storage/store.h"

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

// The room version of `room_id` from its room record.
Result<event::RoomVersion> VersionOf(storage::Store& store, std::string_view room_id) {
  NEBU_ASSIGN_OR_RETURN(auto number, store.Get(storage::Cf::kRooms, storage::RoomIdKey(room_id)));
  if (!number || number->size() != 8) return Status::Corruption("redacted event of an unknown room");
  NEBU_ASSIGN_OR_RETURN(auto record, store.Get(storage::Cf::kRooms,
                                               storage::RoomNumberKey(storage::GetU64(number->data()))));
  if (!record) return Status::Corruption("room record missing");
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(*record));
  const json::value* name = v.is_object() ? v.as_object().if_contains("room_version") : nullptr;
  auto version = name && name->is_string() ? event::ParseRoomVersion(name->as_string()) : std::nullopt;
  if (!version) return Status::Corruption("bad room record");
  return *version;
}

}  // namespace

Result<json::object> ToClientEvent(std::string_view pdu_json, std::string_view event_id,
                                   int64_t now_ms, storage::Store* store, const Viewer* viewer) {
  NEBU_ASSIGN_OR_RETURN(json::value parsed, event::ParseJson(pdu_json));
  if (!parsed.is_object()) return Status::Corruption("stored event is not an object");
  std::optional<json::object> redacted_because;
  if (store) {
    NEBU_ASSIGN_OR_RETURN(auto redaction, store->Get(storage::Cf::kRedactions, event_id));
    if (redaction) {
      storage::RoomLog log(*store);
      NEBU_ASSIGN_OR_RETURN(auto where, log.Locate(*redaction));
      NEBU_ASSIGN_OR_RETURN(storage::EventRecord record, log.Read(where.first, where.second));
      NEBU_ASSIGN_OR_RETURN(redacted_because,
                            ToClientEvent(record.json, record.event_id, now_ms, nullptr));
      const json::value* room_id = parsed.is_object() ? parsed.as_object().if_contains("room_id") : nullptr;
      if (!room_id || !room_id->is_string()) return Status::Corruption("stored event has no room_id");
      NEBU_ASSIGN_OR_RETURN(event::RoomVersion version, VersionOf(*store, room_id->as_string()));
      parsed = event::Redact(parsed.as_object(), version);
    }
  }
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
  json::object unsigned_fields{{"age", std::max<int64_t>(0, now_ms - ts)}};
  if (redacted_because) unsigned_fields["redacted_because"] = std::move(*redacted_because);
  if (store && viewer && out["sender"].is_string() && out["sender"].as_string() == viewer->user_id) {
    NEBU_ASSIGN_OR_RETURN(auto txn_key, store->Get(storage::Cf::kTxnIds, storage::TxnOfEventKey(event_id)));
    std::optional<storage::TxnOrigin> origin = txn_key ? storage::DecodeTxnKey(*txn_key) : std::nullopt;
    if (origin && origin->user_id == viewer->user_id && origin->device_id == viewer->device_id) {
      if (auto client_txn = ClientTxnId(origin->txn_id)) unsigned_fields["transaction_id"] = *client_txn;
    }
  }
  out["unsigned"] = std::move(unsigned_fields);
  return out;
}

Result<json::object> ToClientEvent(const storage::EventView& view, int64_t now_ms,
                                   storage::Store* store, const Viewer* viewer) {
  return ToClientEvent(view.json, view.event_id, now_ms, store, viewer);
}

Result<json::object> ToClientEvent(const storage::EventRecord& record, int64_t now_ms,
                                   storage::Store* store, const Viewer* viewer) {
  return ToClientEvent(record.json, record.event_id, now_ms, store, viewer);
}

}  // namespace nebu::api
