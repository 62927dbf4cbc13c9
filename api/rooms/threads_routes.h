// Threads list and timestamp lookup, under /_matrix/client/v1 (spec threads_list.yaml,
// room_event_by_timestamp.yaml):
//
//   GET /rooms/{roomId}/threads             auth  {chunk: [thread roots], next_batch}
//   GET /rooms/{roomId}/timestamp_to_event  auth  {event_id, origin_server_ts}
//
//   AddThreadsRoutes(router, *engine);
//
// Both read the room as the caller may (rooms_common.h OpenForRead): an unknown room or
// one the caller may not read is 403 M_FORBIDDEN; events are those the history
// visibility rules let the caller see, up to the room's last event while joined or
// ever world_readable, else up to the caller's departure.
//
// /threads lists the room's thread roots (events that m.thread replies name) newest
// activity first, served as every room event with their unsigned.m.relations
// (aggregations.h: m.thread latest_event, count, current_user_participated).
// include=all (default) or participated (threads whose root or a reply the caller
// sent); anything else 400 M_INVALID_PARAM. limit: default kThreadsLimitDefault, at
// most kThreadsLimitMax (larger is lowered), 0 or not a number 400 M_INVALID_PARAM.
// from: a next_batch of this endpoint ("s<sequence>": threads whose latest activity
// is at or before it), else 400 M_INVALID_PARAM. A root the caller may not see, or
// whose replies are all redacted or hidden from the caller, is left out. The order is
// by latest activity in the log, redacted replies and replies hidden from the caller
// included (their content never shows; count and latest_event leave them out). A page
// examines at most core::kThreadsPageEntriesMax index entries and answers with a
// next_batch when more may follow (core/threads.h).
//
// /timestamp_to_event: ts (integer milliseconds, required) and dir (f|b, required),
// else 400 M_INVALID_PARAM (M_MISSING_PARAM when absent). The event closest to ts in
// that direction (dir=f: the first with origin_server_ts >= ts; b: the last with <=)
// that the caller may see. A binary search over the log by origin_server_ts (stamped
// by the proposing node's clock, so nearly in log order; ~log2(events) reads) and then
// a scan of at most kTimestampScanEventsMax events in that direction (skipping hidden
// events and out-of-order timestamps); 404 M_NOT_FOUND when none is found within it.
// Clock skew between nodes can make it miss an event whose timestamp is out of order
// beyond the binary search's landing point.
//
// Sending (CheckThreadTarget, called by PUT /send): an m.thread reply whose root is an
// event of the room that itself has content.m.relates_to is 400 M_UNKNOWN (spec
// "Validation of m.thread relationships": a thread never starts off a relation). A
// root this server does not hold is not checked.
//
// Thread-safety: handlers are safe from any thread; the engine must outlive the router.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <optional>
#include <string_view>

#include "api/router.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

inline constexpr size_t kThreadsLimitDefault = 20;
inline constexpr size_t kThreadsLimitMax = 100;
// Events /timestamp_to_event examines after its binary search.
inline constexpr size_t kTimestampScanEventsMax = 1'000;

void AddThreadsRoutes(Router& router, core::Engine& engine);

// The 400 for a message event `content` in `room_id` that starts a thread off an event
// with a relation (above); nullopt when it may be sent. One event lookup when the
// content is an m.thread reply, none otherwise.
[[nodiscard]] std::optional<Response> CheckThreadTarget(core::Engine& engine,
                                                        std::string_view room_id,
                                                        const boost::json::object& content);

}  // namespace nebu::api
