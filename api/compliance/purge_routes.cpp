// Synapse's purge history API (docs/admin_api/purge_history_api.md), for admins:
//
//   POST /_synapse/admin/v1/purge_history/{roomId}[/{eventId}]
//        {"delete_local_events"?: bool (default false), "purge_up_to_event_id"?: string,
//         "purge_up_to_ts"?: int ms}  -> 200 {"purge_id": "..."}
//   GET  /_synapse/admin/v1/purge_history_status/{purgeId}
//        -> 200 {"status": "active"|"complete"}, 404 M_NOT_FOUND for an unknown ID
//
// The point to purge up to is required: an event ID (in the path or the body; that event
// stays) or a timestamp (events older than it go). As in Synapse, events of this server's
// users stay unless delete_local_events is true (on nebu every user is local, so without
// it nothing is purged), and state events always stay. Unlike Synapse the purge runs
// before the answer (on the admin worker, in bounded commands: api/compliance/purge.h),
// so the status is "complete" once the POST answered; a purge interrupted by a crash
// reads "active". Errors: 400 M_BAD_JSON / M_INVALID_PARAM, 404 M_NOT_FOUND (room or
// event), 403 M_FORBIDDEN "legal hold <id> (case <case>) covers <room>".
#include <boost/json.hpp>

#include "api/compliance/compliance_routes.h"
#include "api/compliance/purge.h"
#include "api/errors.h"
#include "engine/compliance/compliance.h"
#include "engine/core/engine.h"

namespace nebu::api::admin_internal {
namespace {

namespace json = boost::json;

// The request's PurgeRoomRequest, or *error.
std::optional<PurgeRoomRequest> ParsePurge(const Call& call, Response* error) {
  PurgeRoomRequest request{.room_id = call.params.at("roomId"), .actor = call.caller.user_id};
  json::object body;
  if (!call.request.body.empty()) {
    boost::system::error_code ec;
    json::value parsed = json::parse(call.request.body, ec);
    if (ec || !parsed.is_object()) {
      *error = ErrorResponse(400, "M_NOT_JSON", "The body must be a JSON object");
      return std::nullopt;
    }
    body = std::move(parsed.as_object());
  }
  if (const json::value* local = body.if_contains("delete_local_events")) {
    if (!local->is_bool()) {
      *error = ErrorResponse(400, "M_BAD_JSON", "delete_local_events must be a boolean");
      return std::nullopt;
    }
    request.keep_local_events = !local->as_bool();
  } else {
    request.keep_local_events = true;
  }
  if (auto it = call.params.find("eventId"); it != call.params.end()) {
    request.upto_event_id = it->second;
  } else if (const json::value* id = body.if_contains("purge_up_to_event_id")) {
    if (!id->is_string()) {
      *error = ErrorResponse(400, "M_BAD_JSON", "purge_up_to_event_id must be a string");
      return std::nullopt;
    }
    request.upto_event_id = std::string(id->as_string());
  } else if (const json::value* ts = body.if_contains("purge_up_to_ts")) {
    if (!ts->is_int64() || ts->as_int64() < 0) {
      *error = ErrorResponse(400, "M_INVALID_PARAM", "purge_up_to_ts must be an integer >= 0");
      return std::nullopt;
    }
    request.before_ts = ts->as_int64();
  } else {
    *error = ErrorResponse(400, "M_UNKNOWN",
                           "must specify purge_up_to_ts or purge_up_to_event_id");
    return std::nullopt;
  }
  request.reason = "admin purge by " + call.caller.user_id;
  return request;
}

void PurgeHistory(Context* context, const Call& call, Finish finish) {
  Response error;
  std::optional<PurgeRoomRequest> request = ParsePurge(call, &error);
  if (!request) return finish(std::move(error));
  const bool posted = context->pool.Post([context, request = std::move(*request), finish] {
    Result<PurgeRoomReport> report = PurgeRoomHistory(context->engine, request);
    if (!report.ok()) return finish(ErrorResponse(report.status()));
    finish(JsonResponse(200, json::object{{"purge_id", report->purge_id}}));
  });
  if (!posted) finish(ErrorResponse(429, "M_LIMIT_EXCEEDED", "Too many admin tasks queued"));
}

void PurgeStatus(Context* context, const Call& call, Finish finish) {
  Result<std::optional<compliance::PurgeProgress>> progress =
      compliance::GetPurge(context->engine.Read(), call.params.at("purgeId"));
  if (!progress.ok()) return finish(ErrorResponse(progress.status()));
  if (!progress->has_value()) return finish(ErrorResponse(404, "M_NOT_FOUND", "No such purge"));
  const compliance::PurgeProgress& p = **progress;
  finish(JsonResponse(200, json::object{{"status", p.done ? "complete" : "active"},
                                        {"room_id", p.room_id},
                                        {"events_purged", p.purged},
                                        {"events_kept", p.kept + p.held},
                                        {"events_held", p.held}}));
}

}  // namespace

void AddPurgeRoutes(Router& router, const ContextPtr& context) {
  AddRoute(router, context, "POST", "/_synapse/admin/v1/purge_history/{roomId}", "rooms.purge",
           Surface::kAdmin, PurgeHistory);
  AddRoute(router, context, "POST", "/_synapse/admin/v1/purge_history/{roomId}/{eventId}",
           "rooms.purge", Surface::kAdmin, PurgeHistory);
  AddRoute(router, context, "GET", "/_synapse/admin/v1/purge_history_status/{purgeId}",
           "rooms.purge_status", Surface::kAdmin, PurgeStatus);
}

}  // namespace nebu::api::admin_internal
