// Client-format events: the shape the Client-Server API serves room events in
// (spec: "ClientEvent" in data/event-schemas/schema/core-event-schema and the
// "Room Events" section), made from the PDUs stored in the room log.
//
//   NEBU_ASSIGN_OR_RETURN(storage::EventRecord record, engine.GetEvent(event_id));
//   NEBU_ASSIGN_OR_RETURN(boost::json::object event,
//                         ToClientEvent(record.json, record.event_id, now_ms));
//
// A client event carries event_id, room_id, sender, type, state_key (state events
// only), content, origin_server_ts and unsigned {age}. PDU-only fields (auth_events,
// prev_events, depth, hashes, signatures) are dropped; "redacts" (room versions
// before 11 keep it at the top level) is copied when present; with a `store`, an
// m.room.redaction names its target in both places (v11: content.redacts also at the
// top level for older clients; v10: the top-level redacts also in content, spec
// rooms/v11), except a v10 event with content.redacts only (never a checked
// redaction: apply moves a real one's target to the top level). unsigned.age is the
// time since origin_server_ts, never negative. With a `store`, an event that a
// redaction has been applied to is served redacted (the room version's algorithm)
// with unsigned.redacted_because = that redaction (Cf::kRedactions); the log keeps
// the original bytes. With a `viewer` too, an event that viewer's device sent with a
// transaction ID (PUT /send, /redact) carries unsigned.transaction_id — the spec gives
// it only to "the same client which sent it" — from the reverse entry in Cf::kTxnIds.
// With a `store`, a state event read through the EventView/EventRecord overloads (they
// know its room and sequence) carries unsigned.prev_content: the content of the state
// event it replaced (same type and state_key, as served: redacted when redacted).
// With a `store` and a `viewer` whose history is set, the EventView/EventRecord
// overloads add unsigned.m.relations (m.thread, m.replace: api/rooms/aggregations.h).
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string_view>

#include "engine/common/status.h"
#include "engine/storage/envelope.h"

namespace nebu::storage {
class ReadView;
}
namespace nebu::core {
class HistoryView;
}

namespace nebu::api {

// Who an event is served to (see above).
struct Viewer {
  std::string_view user_id;
  std::string_view device_id;
  // The viewer's history in the event's room. Set (with a `store`, through the
  // EventView/EventRecord overloads): the event carries unsigned.m.relations, the
  // aggregations of its children the viewer may see (api/rooms/aggregations.h).
  const core::HistoryView* history = nullptr;
  bool aggregate_threads = true;  // false: no m.thread aggregation (a latest_event)
};

// The client format of one stored PDU (canonical JSON) whose id is event_id.
// kCorruption when the JSON is not an object or misses room_id, sender, type or
// content (the log never holds such an event).
[[nodiscard]] Result<boost::json::object> ToClientEvent(std::string_view pdu_json,
                                                        std::string_view event_id, int64_t now_ms,
                                                        const storage::ReadView* store = nullptr,
                                                        const Viewer* viewer = nullptr);
[[nodiscard]] Result<boost::json::object> ToClientEvent(const storage::EventView& view,
                                                        int64_t now_ms,
                                                        const storage::ReadView* store = nullptr,
                                                        const Viewer* viewer = nullptr);
[[nodiscard]] Result<boost::json::object> ToClientEvent(const storage::EventRecord& record,
                                                        int64_t now_ms,
                                                        const storage::ReadView* store = nullptr,
                                                        const Viewer* viewer = nullptr);

}  // namespace nebu::api
