#include "api/rooms/report_routes.h"

#include <boost/json.hpp>
#include <string>
#include <utility>

#include "api/auth.h"
#include "api/errors.h"
#include "api/rooms/rooms_common.h"
#include "engine/core/engine.h"
#include "engine/event/identifiers.h"
#include "engine/reports/reports.h"

namespace nebu::api {

namespace json = boost::json;
using rooms_internal::AddAsyncRoute;

namespace {

// Reason from the body: required for room and user reports, optional for events.
std::variant<std::string, Response> ReasonOf(const json::object& body, bool required) {
  const json::value* v = body.if_contains("reason");
  if (v == nullptr || v->is_null()) {
    if (required) return ErrorResponse(400, "M_MISSING_PARAM", "reason is required");
    return std::string();
  }
  if (!v->is_string()) return ErrorResponse(400, "M_BAD_JSON", "reason must be a string");
  if (v->as_string().size() > reports::kReportReasonBytesMax) {
    return ErrorResponse(400, "M_INVALID_PARAM",
                         "reason is longer than " +
                             std::to_string(reports::kReportReasonBytesMax) + " bytes");
  }
  return std::string(v->as_string());
}

// A malformed ID in the path names nothing, so saying so reveals nothing.
std::optional<Response> CheckIds(const reports::Report& r) {
  const bool ok = r.kind == reports::ReportKind::kUser
                      ? event::IsValidUserId(r.user_id)
                      : event::IsValidRoomId(r.room_id) &&
                            (r.kind != reports::ReportKind::kEvent ||
                             event::IsValidEventId(r.event_id));
  if (ok) return std::nullopt;
  return ErrorResponse(400, "M_INVALID_PARAM", "Not a valid ID");
}

void HandleReport(core::Engine& engine, UserRateLimits& limits, const Request& request,
                  reports::Report report, const Respond& respond) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(*error);
  report.reporter = std::get<Caller>(caller).user_id;
  if (auto limited = Limited(limits.reports, report.reporter,
                             engine.clock().NowMonotonicNs() / 1'000'000)) {
    return respond(*limited);
  }
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return respond(*error);
  auto reason = ReasonOf(std::get<json::object>(body), report.kind != reports::ReportKind::kEvent);
  if (auto* error = std::get_if<Response>(&reason)) return respond(*error);
  report.reason = std::get<std::string>(std::move(reason));
  if (auto error = CheckIds(report)) return respond(*error);
  report.received_ts = engine.clock().NowUnixMs();
  Result<std::string> payload = reports::EncodeReportCommand(report);
  if (!payload.ok()) return respond(ErrorResponse(payload.status()));
  engine.SubmitAsync(core::Command{core::CommandKind::kReport, std::move(payload).value()},
                     [respond](const core::ApplyOutcome& outcome) {
                       // Stored or dropped alike: the answer reveals nothing.
                       respond(outcome.ok() ? JsonResponse(200, json::object{})
                                            : ErrorResponse(outcome.status()));
                     });
}

}  // namespace

void AddReportRoutes(Router& router, core::Engine& engine,
                     const std::shared_ptr<UserRateLimits>& limits) {
  AddAsyncRoute(router, "POST", "/rooms/{roomId}/report/{eventId}",
                [&engine, limits](const Request& r, const PathParams& p, Respond respond) {
                  HandleReport(engine, *limits, r,
                               {.kind = reports::ReportKind::kEvent,
                                .room_id = p.at("roomId"),
                                .event_id = p.at("eventId")},
                               respond);
                });
  AddAsyncRoute(router, "POST", "/rooms/{roomId}/report",
                [&engine, limits](const Request& r, const PathParams& p, Respond respond) {
                  HandleReport(engine, *limits, r,
                               {.kind = reports::ReportKind::kRoom, .room_id = p.at("roomId")},
                               respond);
                });
  AddAsyncRoute(router, "POST", "/users/{userId}/report",
                [&engine, limits](const Request& r, const PathParams& p, Respond respond) {
                  HandleReport(engine, *limits, r,
                               {.kind = reports::ReportKind::kUser, .user_id = p.at("userId")},
                               respond);
                });
}

}  // namespace nebu::api
