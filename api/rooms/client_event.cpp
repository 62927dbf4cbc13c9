#include "api/rooms/client_event.h"

#include <algorithm>
#include <boost/json.hpp>

#include "api/rooms/aggregations.h"
#include "api/txn_scope.h"
#include "engine/core/relations.h"
#include "engine/core/room_reads.h"
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
Result<event::RoomVersion> VersionOf(const storage::ReadView& store, std::string_view room_id) {
  Result<event::RoomVersion> version = core::RoomVersionOf(store, room_id);
  if (!version.ok() && version.status().code() == StatusCode::kNotFound) {
    return Status::Corruption("redacted event of an unknown room");
  }
  return version;
}

// Where an event sits: what its unsigned.prev_content (state events: state_key set)
// and its aggregations are looked up by.
struct StatePlace {
  storage::RoomNumber room = 0;
  storage::Sequence sequence = 0;
  std::string_view type;
  std::optional<std::string_view> state_key;
};

// The PDU as served: redacted (the room version's algorithm) when a redaction has been
// applied to it, with that redaction's event id in *redacted_by.
Result<json::object> ServedPdu(std::string_view pdu_json, std::string_view event_id,
                               const storage::ReadView* store, std::optional<std::string>* redacted_by) {
  NEBU_ASSIGN_OR_RETURN(json::value parsed, event::ParseJson(pdu_json));
  if (!parsed.is_object()) return Status::Corruption("stored event is not an object");
  if (!store) return std::move(parsed.as_object());
  NEBU_ASSIGN_OR_RETURN(auto redaction, core::RedactedBy(*store, event_id));
  if (!redaction) return std::move(parsed.as_object());
  const json::value* room_id = parsed.as_object().if_contains("room_id");
  if (!room_id || !room_id->is_string()) return Status::Corruption("stored event has no room_id");
  NEBU_ASSIGN_OR_RETURN(event::RoomVersion version, VersionOf(*store, room_id->as_string()));
  *redacted_by = std::move(*redaction);
  return event::Redact(parsed.as_object(), version);
}

// An m.room.redaction event names its target in both places (spec rooms/v11 "Moving
// the redacts property"): content.redacts copied to the top level in v11 rooms, the
// top-level redacts into content in v10 rooms. A v10 event with content.redacts only
// was never a redaction (apply moves it to the top level and checks it), so it stays
// as it is and no client applies it.
void MirrorRedacts(json::object& out, std::optional<event::RoomVersion> version) {
  if (out["type"] != "m.room.redaction" || !version) return;
  json::object& content = out["content"].as_object();
  if (*version == event::RoomVersion::kV10) {
    const json::value* top = out.if_contains("redacts");
    if (top && top->is_string() && !content.contains("redacts")) content["redacts"] = *top;
    return;
  }
  const json::value* inner = content.if_contains("redacts");
  if (inner && inner->is_string() && !out.contains("redacts")) out["redacts"] = *inner;
}

Result<json::object> Serve(std::string_view pdu_json, std::string_view event_id, int64_t now_ms,
                           const storage::ReadView* store, const Viewer* viewer, const StatePlace* place,
                           std::optional<event::RoomVersion> version = std::nullopt) {
  std::optional<std::string> redacted_by;
  NEBU_ASSIGN_OR_RETURN(json::object pdu, ServedPdu(pdu_json, event_id, store, &redacted_by));
  const json::value* type = pdu.if_contains("type");
  const json::value* room_id = pdu.if_contains("room_id");
  if (!version && store && (redacted_by || (type && *type == "m.room.redaction")) && room_id &&
      room_id->is_string()) {
    NEBU_ASSIGN_OR_RETURN(version, VersionOf(*store, room_id->as_string()));
  }
  std::optional<json::object> redacted_because;
  if (redacted_by) {
    storage::RoomLog log(*store);
    NEBU_ASSIGN_OR_RETURN(auto where, log.Locate(*redacted_by));
    NEBU_ASSIGN_OR_RETURN(storage::EventRecord record, log.Read(where.first, where.second));
    // The redaction is an event of the same room (apply checks it): same version.
    NEBU_ASSIGN_OR_RETURN(redacted_because, Serve(record.json, record.event_id, now_ms, nullptr,
                                                  nullptr, nullptr, version));
  }
  // prev_content: the content of the state event this one replaced, as it is served.
  std::optional<json::value> prev_content;
  if (store && place && place->state_key && place->sequence > 1) {
    NEBU_ASSIGN_OR_RETURN(auto prev, core::StateRecordAt(*store, place->room, place->type,
                                                         *place->state_key, place->sequence - 1));
    if (prev) {
      std::optional<std::string> prev_redacted_by;
      NEBU_ASSIGN_OR_RETURN(json::object prev_pdu,
                            ServedPdu(prev->json, prev->event_id, store, &prev_redacted_by));
      if (const json::value* c = prev_pdu.if_contains("content"); c && c->is_object()) {
        prev_content = *c;
      }
    }
  }
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
  MirrorRedacts(out, version);
  int64_t ts = 0;
  if (const json::value* v = pdu.if_contains("origin_server_ts"); v && v->is_int64()) {
    ts = v->as_int64();
  }
  out["origin_server_ts"] = ts;
  json::object unsigned_fields{{"age", std::max<int64_t>(0, now_ms - ts)}};
  if (redacted_because) unsigned_fields["redacted_because"] = std::move(*redacted_because);
  if (prev_content) unsigned_fields["prev_content"] = std::move(*prev_content);
  if (store && viewer && out["sender"].is_string() && out["sender"].as_string() == viewer->user_id) {
    NEBU_ASSIGN_OR_RETURN(std::optional<core::TxnSender> origin, core::TxnOriginOf(*store, event_id));
    if (origin && origin->user_id == viewer->user_id && origin->device_id == viewer->device_id) {
      if (auto client_txn = ClientTxnId(origin->txn_id)) unsigned_fields["transaction_id"] = *client_txn;
    }
  }
  if (store && viewer && viewer->history && place) {
    std::optional<core::Relation> relation = core::RelationOf(pdu);
    AggregatedEvent aggregated{.room = place->room,
                               .event_id = event_id,
                               .sender = std::string_view(out["sender"].as_string()),
                               .type = place->type,
                               .state = place->state_key.has_value(),
                               .redacted = redacted_by.has_value(),
                               .is_replacement = relation && relation->rel_type == "m.replace"};
    NEBU_ASSIGN_OR_RETURN(auto relations, Aggregate(*store, aggregated, *viewer, now_ms));
    if (relations) unsigned_fields["m.relations"] = std::move(*relations);
  }
  out["unsigned"] = std::move(unsigned_fields);
  return out;
}

}  // namespace

Result<json::object> ToClientEvent(std::string_view pdu_json, std::string_view event_id,
                                   int64_t now_ms, const storage::ReadView* store, const Viewer* viewer) {
  return Serve(pdu_json, event_id, now_ms, store, viewer, nullptr);
}

Result<json::object> ToClientEvent(const storage::EventView& view, int64_t now_ms,
                                   const storage::ReadView* store, const Viewer* viewer) {
  StatePlace place{view.room, view.sequence, view.type, view.state_key};
  return Serve(view.json, view.event_id, now_ms, store, viewer, &place);
}

Result<json::object> ToClientEvent(const storage::EventRecord& record, int64_t now_ms,
                                   const storage::ReadView* store, const Viewer* viewer) {
  StatePlace place{record.room, record.sequence, record.type, std::nullopt};
  if (record.state_key) place.state_key = *record.state_key;
  return Serve(record.json, record.event_id, now_ms, store, viewer, &place);
}

}  // namespace nebu::api
