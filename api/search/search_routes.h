// POST /_matrix/client/v3/search (and r0): server-side search of room events
// (spec search.yaml, "Server Side Search"), served from the node's full-text index
// (engine/search/search_index.h); no PostgreSQL.
//
//   AddSearchRoutes(router, engine);
//
// Request: search_categories.room_events with
//   search_term   every word must be a whole word of the event (search/tokenizer.h:
//                 case-insensitive for Latin, Greek and Cyrillic; no prefix matching,
//                 no stemming). No word (empty or only punctuation): no results.
//   keys          content.body, content.name, content.topic (default all).
//   filter        RoomEventFilter: rooms, not_rooms, senders, not_senders, types,
//                 not_types (globs), limit (default kSearchLimitDefault, capped at
//                 kSearchLimitMax). Other fields are accepted and ignored.
//   order_by      rank (default; rank = occurrences of the words) or recent.
//   event_context before_limit / after_limit (default 5, capped at
//                 kSearchContextLimitMax), include_profile (the sender's
//                 displayname/avatar_url from their member event at the result).
//   include_state the state of each room with a result, as GET /rooms/{id}/state
//                 would give it to the caller (current while joined, else at their
//                 departure).
//   groupings     group_by room_id and/or sender: groups of the page's results, in
//                 the order of their first result; each group carries the page's
//                 next_batch when there is one.
// Response: results (rank, result, context), count (matches in the searched window,
// search_index.h: exact when no next_batch came from the work bound), highlights
// (the query's words), state, groups, next_batch (opaque; pass it back with the same
// body).
//
// Only events the caller may see: rooms where the caller has a membership record and
// HistoryView::MayReadRoom (joined, or joined before), minus forgotten rooms, and in
// those the events HistoryView::Visible allows (the rules the room read routes use).
// Redacted events are never results.
//
// Bounds: a request examines at most search::kSearchPostingsExaminedMax postings
// (then next_batch continues below); at most kSearchRoomsMax rooms may be searched
// (400 M_INVALID_PARAM: narrow with filter.rooms); a query of more than
// kSearchQueryWordsMax distinct words, or a filter list over kSearchFilterListMax
// entries, is 400 M_INVALID_PARAM.
//
// Errors: 400 M_NOT_JSON / M_BAD_JSON (body not an object, a field of the wrong
// JSON type, search_term missing); 400 M_INVALID_PARAM (a category other than
// room_events, an unknown key, order_by or group key, a malformed next_batch, the
// bounds above); 401 as Authenticate.
//
// Thread-safety: handlers run on the worker pool; reads through one engine snapshot.
#pragma once

#include <cstddef>

#include "api/router.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

inline constexpr size_t kSearchLimitDefault = 10;
inline constexpr size_t kSearchLimitMax = 100;
inline constexpr size_t kSearchContextLimitDefault = 5;
inline constexpr size_t kSearchContextLimitMax = 20;
// Log entries one side of one result's context examines (hidden ones count): a
// page costs at most 2 x kSearchLimitMax x this event reads for context.
inline constexpr size_t kSearchContextScanEventsMax = 200;
// Entries one of filter.rooms / not_rooms / senders / not_senders may hold.
inline constexpr size_t kSearchFilterListMax = 1000;

void AddSearchRoutes(Router& router, core::Engine& engine);

}  // namespace nebu::api
