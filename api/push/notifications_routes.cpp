// GET /notifications (notifications_routes.h).
#include "api/push/notifications_routes.h"

#include <boost/json.hpp>
#include <charconv>
#include <optional>
#include <string>
#include <variant>

#include "api/auth.h"
#include "api/errors.h"
#include "api/rooms/client_event.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/push/notifications.h"
#include "engine/storage/room_log.h"

namespace nebu::api {
namespace {

namespace json = boost::json;

std::optional<uint64_t> NotificationsParseDecimal(std::string_view s) {
  uint64_t v = 0;
  if (s.empty() || s.size() > 20) return std::nullopt;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) return std::nullopt;
  return v;
}

Result<json::object> Entry(const core::Snapshot& view, const push::Notification& n,
                           const Caller& caller, int64_t now_ms) {
  NEBU_ASSIGN_OR_RETURN(auto room, core::LocateEvent(view, n.event_id));
  NEBU_ASSIGN_OR_RETURN(storage::EventRecord record,
                        storage::RoomLog(view).Read(room.first, room.second));
  const Viewer viewer{caller.user_id, caller.device_id};
  NEBU_ASSIGN_OR_RETURN(json::object event, ToClientEvent(record, now_ms, &view, &viewer));
  NEBU_ASSIGN_OR_RETURN(bool unread,
                        push::IsNotificationUnread(view, caller.user_id, room.first, room.second));
  return json::object{{"actions", n.actions},
                      {"event", std::move(event)},
                      {"read", !unread},
                      {"room_id", n.room_id},
                      {"ts", n.ts}};
}

Response Handle(const Request& request, core::Engine& engine, bool have_worker) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return std::move(*error);
  const Caller& who = std::get<Caller>(caller);
  uint64_t before = 0;
  if (auto from = request.Query("from")) {
    auto parsed = NotificationsParseDecimal(*from);
    if (!parsed) return ErrorResponse(400, "M_INVALID_PARAM", "from is not a notifications token");
    before = *parsed;
  }
  size_t limit = kNotificationsLimitDefault;
  if (auto l = request.Query("limit")) {
    auto parsed = NotificationsParseDecimal(*l);
    if (!parsed) return ErrorResponse(400, "M_INVALID_PARAM", "limit must be a non-negative integer");
    limit = static_cast<size_t>(std::min<uint64_t>(*parsed, kNotificationsLimitMax));
  }
  const bool only_highlight = request.Query("only") == std::optional<std::string_view>("highlight");
  json::array out;
  if (!have_worker || limit == 0) {
    return JsonResponse(200, json::object{{"notifications", std::move(out)}});
  }
  const core::Snapshot view = engine.Read();
  const int64_t now_ms = engine.clock().NowUnixMs();
  Status failure = Status::Ok();
  size_t scanned = 0;
  storage::StreamPosition last = 0;
  bool more = false;
  Status scan = push::ForEachNotificationBefore(
      view, who.user_id, before, kNotificationsScanMax, [&](const push::Notification& n) {
        if (out.size() == limit) {
          more = true;
          return false;
        }
        ++scanned;
        last = n.position;
        if (only_highlight && !n.highlight) return true;
        auto entry = Entry(view, n, who, now_ms);
        if (!entry.ok()) {
          failure = entry.status();
          return false;
        }
        out.emplace_back(std::move(*entry));
        return true;
      });
  if (!scan.ok()) return ErrorResponse(scan);
  if (!failure.ok()) return ErrorResponse(failure);
  if (scanned == kNotificationsScanMax && last > 1) more = true;
  json::object body{{"notifications", std::move(out)}};
  if (more) body["next_token"] = std::to_string(last);
  return JsonResponse(200, std::move(body));
}

}  // namespace

void AddNotificationRoutes(Router& router, core::Engine& engine, push::NotificationWorker* worker) {
  const bool have_worker = worker != nullptr;
  for (std::string_view prefix : {"/_matrix/client/v3", "/_matrix/client/r0"}) {
    router.Add("GET", std::string(prefix) + "/notifications",
               [&engine, have_worker](const Request& r, const PathParams&) {
                 return Handle(r, engine, have_worker);
               });
  }
}

}  // namespace nebu::api
