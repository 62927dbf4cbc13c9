// Event reports under /_synapse/admin/v1/event_reports (Synapse's event reports admin
// API): list (from, limit, dir, user_id, room_id), get one (with the event) and delete
// one. Reports come from the client report routes (engine/reports); room and user
// reports are not listed here, as in Synapse.
#include <algorithm>
#include <boost/json.hpp>
#include <charconv>

#include "api/admin/admin_common.h"
#include "api/errors.h"
#include "engine/core/engine.h"
#include "engine/reports/reports.h"

namespace nebu::api::admin_internal {
namespace {

namespace json = boost::json;

// The most stored reports one event_reports request looks at (they are filtered and
// paged in memory); older ones beyond it are not listed.
constexpr size_t kEventReportsScanMax = 100000;

// Synapse's event report object.
json::object ReportJson(Context* context, const reports::Report& report, bool with_event) {
  json::object o{{"id", report.id},
                 {"received_ts", report.received_ts},
                 {"room_id", report.room_id},
                 {"event_id", report.event_id},
                 {"user_id", report.reporter},
                 {"reason", report.reason.empty() ? json::value(nullptr) : json::value(report.reason)},
                 {"score", nullptr},
                 {"name", nullptr},
                 {"canonical_alias", nullptr},
                 {"sender", nullptr}};
  if (Result<rooms::RoomState> state = context->engine.CurrentState(report.room_id); state.ok()) {
    o["name"] = StateField(*state, "m.room.name", "name");
    o["canonical_alias"] = StateField(*state, "m.room.canonical_alias", "alias");
  }
  if (Result<storage::EventRecord> event = context->engine.GetEvent(report.event_id); event.ok()) {
    o["sender"] = event->sender;
    if (with_event) {
      boost::system::error_code ec;
      json::value parsed = json::parse(event->json, ec);
      if (!ec) o["event_json"] = std::move(parsed);
    }
  }
  return o;
}

void ListReports(Context* context, const Call& call, Finish finish) {
  Response error;
  auto from = QueryInt(call.request, "from", 0, 0, &error);
  auto limit = QueryInt(call.request, "limit", kAdminPageDefault, 0, &error);
  if (!from || !limit) return finish(std::move(error));
  const bool backwards = call.request.Query("dir").value_or("b") == "b";
  auto user = call.request.Query("user_id");
  auto room = call.request.Query("room_id");
  std::vector<reports::Report> matching;
  Status scanned = reports::ForEachReport(
      context->engine.Read(), 0, kEventReportsScanMax, [&](const reports::Report& r) {
        if (r.kind != reports::ReportKind::kEvent) return Status::Ok();
        if (user && r.reporter.find(*user) == std::string::npos) return Status::Ok();
        if (room && r.room_id.find(*room) == std::string::npos) return Status::Ok();
        matching.push_back(r);
        return Status::Ok();
      });
  if (!scanned.ok()) return finish(ErrorResponse(scanned));
  if (backwards) std::reverse(matching.begin(), matching.end());
  const auto total = static_cast<int64_t>(matching.size());
  const int64_t page = std::min(*limit, kAdminPageMax);
  json::array list;
  for (int64_t i = *from; i < total && i < *from + page; ++i) {
    list.push_back(ReportJson(context, matching[static_cast<size_t>(i)], false));
  }
  json::object body{{"total", total}};
  const int64_t end = *from + static_cast<int64_t>(list.size());
  body["event_reports"] = std::move(list);
  if (end < total) body["next_token"] = end;
  finish(JsonResponse(200, body));
}

// The event report the path names: its ID, or an answer (400 for a malformed ID, 404
// for no such event report).
std::variant<reports::Report, Response> FindReport(Context* context, const Call& call) {
  const std::string& text = call.params.at("reportId");
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size() || id == 0) {
    return ErrorResponse(400, "M_INVALID_PARAM", "The report ID must be a positive integer");
  }
  Result<std::optional<reports::Report>> report = reports::GetReport(context->engine.Read(), id);
  if (!report.ok()) return ErrorResponse(report.status());
  if (!*report || (*report)->kind != reports::ReportKind::kEvent) {
    return ErrorResponse(404, "M_NOT_FOUND", "Event report not found");
  }
  return **report;
}

void GetReportRoute(Context* context, const Call& call, Finish finish) {
  auto found = FindReport(context, call);
  if (auto* error = std::get_if<Response>(&found)) return finish(std::move(*error));
  finish(JsonResponse(200, ReportJson(context, std::get<reports::Report>(found), true)));
}

void DeleteReportRoute(Context* context, const Call& call, Finish finish) {
  auto found = FindReport(context, call);
  if (auto* error = std::get_if<Response>(&found)) return finish(std::move(*error));
  const uint64_t id = std::get<reports::Report>(found).id;
  context->engine.SubmitAsync(
      {core::CommandKind::kReport, reports::EncodeDeleteReportCommand(id)},
      [finish = std::move(finish)](core::ApplyOutcome outcome) {
        if (!outcome.ok()) {
          if (outcome.status().code() == StatusCode::kNotFound) {
            return finish(ErrorResponse(404, "M_NOT_FOUND", "Event report not found"));
          }
          return finish(ErrorResponse(outcome.status()));
        }
        finish(JsonResponse(200, json::object{}));
      });
}

}  // namespace

void AddReportRoutes(Router& router, const ContextPtr& context) {
  constexpr auto kAdmin = Surface::kAdmin;
  const std::string base = "/_synapse/admin/v1/event_reports";
  AddRoute(router, context, "GET", base, "event_reports.list", kAdmin, ListReports);
  AddRoute(router, context, "GET", base + "/{reportId}", "event_reports.get", kAdmin,
           GetReportRoute);
  AddRoute(router, context, "DELETE", base + "/{reportId}", "event_reports.delete", kAdmin,
           DeleteReportRoute);
}

}  // namespace nebu::api::admin_internal
