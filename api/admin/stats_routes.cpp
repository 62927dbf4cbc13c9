// Synapse's statistics admin API (docs/admin_api/statistics.md), read from the
// PostgreSQL projection through the AdminDirectory (503 M_UNAVAILABLE without one):
//
// GET /_synapse/admin/v1/statistics/users/media
//   from, limit (default kAdminPageDefault, at most kAdminPageMax), from_ts, until_ts
//   (ms; until_ts >= from_ts), order_by (user_id | displayname | media_length |
//   media_count), dir (f | b), search_term (not empty). Answer: {"users": [{"user_id",
//   "displayname", "media_count", "media_length"}], "total", "next_token"? (an integer:
//   the next `from`), "projection_position"}.
// GET /_synapse/admin/v1/statistics/database/rooms
//   {"rooms": [{"room_id", "estimated_size"}], "projection_position"}: the
//   projections::kLargestRooms largest rooms, largest first; the estimate is the room's
//   events times the average bytes of an `events` row (projections/admin_directory.h).
//
// Both carry the projection's lag (X-Nebu-Projection-Lag, admin_routes.h).
#include <boost/json.hpp>

#include "api/admin/admin_common.h"
#include "api/errors.h"

namespace nebu::api::admin_internal {
namespace {

namespace json = boost::json;

Response NoDirectory() {
  return ErrorResponse(503, "M_UNAVAILABLE",
                       "Statistics are served from PostgreSQL, which is not configured on "
                       "this server (NEBU_DB_URL)");
}

// The query, or a 400 answer.
std::variant<UserMediaStatsQuery, Response> ParseUserMediaQuery(const Request& request) {
  Response error;
  auto from = QueryInt(request, "from", 0, 0, &error);
  auto limit = QueryInt(request, "limit", kAdminPageDefault, 0, &error);
  auto from_ts = QueryInt(request, "from_ts", 0, 0, &error);
  auto until_ts = QueryInt(request, "until_ts", INT64_MAX, 0, &error);
  if (!from || !limit || !from_ts || !until_ts) return error;
  UserMediaStatsQuery query{.from = *from, .limit = std::min(*limit, kAdminPageMax),
                            .from_ts = *from_ts};
  if (request.Query("until_ts")) {
    if (*until_ts < *from_ts) {
      return ErrorResponse(400, "M_INVALID_PARAM",
                           "Query parameter until_ts must be greater than from_ts");
    }
    query.until_ts = *until_ts;
  }
  if (auto term = request.Query("search_term")) {
    if (term->empty()) {
      return ErrorResponse(400, "M_INVALID_PARAM",
                           "Query parameter search_term cannot be an empty string");
    }
    query.search_term = std::string(*term);
  }
  static constexpr std::string_view kOrders[] = {"user_id", "displayname", "media_length",
                                                 "media_count"};
  if (auto bad = ParseListOrder(request, kOrders, &query.order_by, &query.backwards)) {
    return std::move(*bad);
  }
  return query;
}

void StatsUserMedia(Context* context, const Call& call, Finish finish) {
  if (!context->options.directory) return finish(NoDirectory());
  auto parsed = ParseUserMediaQuery(call.request);
  if (auto* error = std::get_if<Response>(&parsed)) return finish(std::move(*error));
  const auto& query = std::get<UserMediaStatsQuery>(parsed);
  Result<DirectoryPage> page = context->options.directory->UserMediaStats(query);
  if (!page.ok()) return finish(ErrorResponse(page.status()));
  json::array users;
  for (json::object& user : page->items) users.push_back(std::move(user));
  const int64_t next = query.from + static_cast<int64_t>(users.size());
  json::object body{{"users", std::move(users)},
                    {"total", page->total},
                    {"projection_position", page->projection_position}};
  if (next < page->total) body["next_token"] = next;
  finish(ListResponse(*context, body, page->projection_position));
}

void DatabaseRooms(Context* context, const Call&, Finish finish) {
  if (!context->options.directory) return finish(NoDirectory());
  Result<DirectoryPage> page = context->options.directory->LargestRooms();
  if (!page.ok()) return finish(ErrorResponse(page.status()));
  json::array rooms;
  for (json::object& room : page->items) rooms.push_back(std::move(room));
  json::object body{{"rooms", std::move(rooms)},
                    {"projection_position", page->projection_position}};
  finish(ListResponse(*context, body, page->projection_position));
}

}  // namespace

void AddStatsRoutes(Router& router, const ContextPtr& context) {
  const std::string v1 = "/_synapse/admin/v1";
  AddRoute(router, context, "GET", v1 + "/statistics/users/media", "statistics.users_media",
           Surface::kAdmin, StatsUserMedia);
  AddRoute(router, context, "GET", v1 + "/statistics/database/rooms",
           "statistics.database_rooms", Surface::kAdmin, DatabaseRooms);
}

}  // namespace nebu::api::admin_internal
