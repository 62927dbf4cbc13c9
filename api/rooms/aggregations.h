// Aggregations: unsigned.m.relations of a served room event (spec "Aggregations of
// child events", "Server-side aggregation of m.thread relationships" and, since v1.7,
// "Server-side aggregation of m.replace relationships"), read from the relations index
// (core/relations.h) and the thread index (core/threads.h).
//
// ToClientEvent (client_event.h) calls Aggregate for every event it serves with a
// store and a Viewer that carries the caller's HistoryView (sync timelines, /messages,
// /context, /event, /relations, /threads, the deprecated /events and initialSync):
//   m.thread  {latest_event, count, current_user_participated} on a thread root:
//             count and latest_event over the m.thread children that are not redacted
//             and that the caller may see (history visibility); latest_event is the
//             newest of them in the log, served like any event (with its own m.replace
//             aggregation, never an m.thread one: no loops); current_user_participated
//             when the caller sent the root or a reply (a redacted reply still counts).
//   m.replace the most recent valid replacement (same sender and type as the original,
//             neither a state event, m.new_content an object, not redacted, visible):
//             greatest origin_server_ts, then greatest event ID. Not on a redacted
//             original, not on an event that is itself an m.replace. The original's
//             content is left as it is (the spec since v1.7).
// Ignored users are not left out (nebu keeps no ignore list on the server side).
//
// Cost per served event (bounded): one seek in Cf::kRelations, then at most
// kAggregationEntriesMax index entries newest first (one Cf::kRedactions point read
// for each m.thread or m.replace entry), at most kAggregationReplaceReadsMax event
// reads for edit candidates, one read of the latest thread event (its own aggregation
// reads no m.thread entries) and one Cf::kThreads point read. A thread with more
// entries than the bound reports the count of those read (the spec calls count
// approximate); its latest_event is always right (the scan starts at the newest).
//
// Thread-safety: pure functions over a ReadView.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "api/rooms/client_event.h"
#include "engine/common/status.h"
#include "engine/storage/envelope.h"

namespace nebu::api {

inline constexpr size_t kAggregationEntriesMax = 1'000;
inline constexpr size_t kAggregationReplaceReadsMax = 20;

// The served event Aggregate looks at.
struct AggregatedEvent {
  storage::RoomNumber room = 0;
  std::string_view event_id;
  std::string_view sender;
  std::string_view type;
  bool state = false;     // has a state_key
  bool redacted = false;  // served redacted
  bool is_replacement = false;  // itself has rel_type m.replace
};

// unsigned.m.relations of `event` for `viewer` (history set); nullopt when it has none.
Result<std::optional<boost::json::object>> Aggregate(const storage::ReadView& store,
                                                     const AggregatedEvent& event,
                                                     const Viewer& viewer, int64_t now_ms);

}  // namespace nebu::api
