// Filters (Client-Server API § Filtering): POST /user/{userId}/filter and
// GET /user/{userId}/filter/{filterId}, under v3 and r0.
//
// A filter ID is stateless: "F" + the URL-safe unpadded base64 of the filter's
// canonical JSON. Uploading the same filter twice gives the same ID, nothing is
// stored or replicated, and /sync?filter=<id> decodes it (FilterFromId). IDs never
// start with '{', as the spec requires. Filters are at most kFilterBytesMax bytes of
// canonical JSON (400 M_TOO_LARGE beyond), so an ID fits comfortably in a URL.
// An upload is checked as /sync will read it (ParseSyncFilter, api/sync/sync.h, which runs
// CheckFilterPatterns): a malformed field or a pattern list over its caps gives
// 400 M_BAD_JSON naming the list, and no ID. The same filter inline in /sync or
// /messages gives 400 M_INVALID_PARAM (a query parameter).
//
//   AddFilterRoutes(router, *engine);
//   std::optional<std::string> json = FilterFromId(id);   // the filter's JSON text
//
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "api/router.h"
#include "engine/common/status.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

inline constexpr size_t kFilterBytesMax = 4096;
// Glob patterns one types / not_types list of a filter may hold (each at most
// kGlobPatternBytesMax bytes, api/glob.h).
inline constexpr size_t kFilterPatternsMax = 64;

// Checks the glob lists of a filter: `types` and `not_types` of the object itself (a
// RoomEventFilter, as /messages takes) and of the event filters a /sync Filter nests
// (presence, account_data, room.timeline, room.state, room.ephemeral,
// room.account_data). kInvalidArgument naming the list when a list or a nested filter
// has the wrong JSON type, a pattern is not a string, a list holds more than
// kFilterPatternsMax patterns, or a pattern is longer than kGlobPatternBytesMax.
[[nodiscard]] Status CheckFilterPatterns(const boost::json::object& filter);

// The canonical JSON of the filter an ID stands for; nullopt for a malformed ID.
std::optional<std::string> FilterFromId(std::string_view filter_id);

void AddFilterRoutes(Router& router, core::Engine& engine);

}  // namespace nebu::api
