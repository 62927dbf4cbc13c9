// Legal holds for auditors (/api/v1/holds), the retention report, and the mount of the
// compliance route groups (compliance_routes.h). engine/compliance/compliance.h is the
// model; every route goes through admin_internal::AddRoute (auditor role, audit record).
//
//   POST   /api/v1/holds            {"user_id"|"room_id", "reason", "case_id"} -> 200 the hold
//   GET    /api/v1/holds            ?active=true|false&limit=&from=  -> {"holds":[...], "next_token"?}
//   GET    /api/v1/holds/{holdId}   -> the hold, 404 M_NOT_FOUND
//   DELETE /api/v1/holds/{holdId}   release -> the hold; 404 unknown, 400 already released
//   GET    /api/v1/retention/report -> what a retention run would purge now (retention.h)
// A hold: {"hold_id", "user_id"|"room_id", "reason", "case_id", "created_by", "created_ts",
// "active", "released_by"?, "released_ts"?}. Bad input: 400 M_BAD_JSON / M_INVALID_PARAM.
#include <boost/json.hpp>

#include "api/compliance/compliance_routes.h"
#include "api/compliance/retention.h"
#include "api/errors.h"
#include "engine/common/crypto.h"
#include "engine/compliance/compliance.h"
#include "engine/core/engine.h"
#include "engine/event/identifiers.h"

namespace nebu::api::admin_internal {
namespace {

namespace json = boost::json;

json::object HoldJson(const compliance::Hold& h) {
  json::object o{{"hold_id", h.hold_id}, {"reason", h.reason},         {"case_id", h.case_id},
                 {"created_by", h.actor}, {"created_ts", h.created_ts}, {"active", h.active()}};
  o[h.target.starts_with('@') ? "user_id" : "room_id"] = h.target;
  if (h.released_ts) {
    o["released_ts"] = *h.released_ts;
    o["released_by"] = h.released_by;
  }
  return o;
}

std::optional<std::string> HoldBodyString(const json::object& body, std::string_view key,
                                          Response* error) {
  const json::value* v = body.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (!v->is_string()) {
    *error = ErrorResponse(400, "M_BAD_JSON", std::string(key) + " must be a string");
    return std::nullopt;
  }
  return std::string(v->as_string());
}

void SubmitHold(Context* context, const compliance::PurgeCommand& command,
                const std::string& hold_id, Finish finish) {
  Result<std::string> payload = compliance::EncodePurgeCommand(command);
  if (!payload.ok()) return finish(ErrorResponse(400, "M_INVALID_PARAM", payload.status().message()));
  context->engine.SubmitAsync(
      {core::CommandKind::kPurge, std::move(payload).value()},
      [context, hold_id, finish = std::move(finish)](core::ApplyOutcome outcome) {
        if (!outcome.ok()) return finish(ErrorResponse(outcome.status()));
        Result<std::optional<compliance::Hold>> hold =
            compliance::GetHold(context->engine.Read(), hold_id);
        if (!hold.ok() || !hold->has_value()) {
          return finish(ErrorResponse(Status::Internal("the hold is not readable after apply")));
        }
        finish(JsonResponse(200, HoldJson(**hold)));
      });
}

void CreateHold(Context* context, const Call& call, Finish finish) {
  boost::system::error_code ec;
  json::value parsed = json::parse(call.request.body, ec);
  if (ec || !parsed.is_object()) {
    return finish(ErrorResponse(400, "M_NOT_JSON", "The body must be a JSON object"));
  }
  const json::object& body = parsed.as_object();
  Response error;
  auto user_id = HoldBodyString(body, "user_id", &error);
  auto room_id = HoldBodyString(body, "room_id", &error);
  auto reason = HoldBodyString(body, "reason", &error);
  auto case_id = HoldBodyString(body, "case_id", &error);
  if (error.status >= 400) return finish(std::move(error));
  if (user_id.has_value() == room_id.has_value()) {
    return finish(ErrorResponse(400, "M_BAD_JSON", "Give exactly one of user_id and room_id"));
  }
  if (!reason || reason->empty() || !case_id || case_id->empty()) {
    return finish(ErrorResponse(400, "M_BAD_JSON", "reason and case_id are required strings"));
  }
  if (user_id && !event::IsValidUserId(*user_id)) {
    return finish(ErrorResponse(400, "M_INVALID_PARAM", "user_id is not a user ID"));
  }
  if (room_id && !event::IsValidRoomId(*room_id)) {
    return finish(ErrorResponse(400, "M_INVALID_PARAM", "room_id is not a room ID"));
  }
  const std::string hold_id = "hold_" + RandomAlnum(16);
  SubmitHold(context,
             compliance::HoldCreate{.hold_id = hold_id,
                                    .target = user_id ? *user_id : *room_id,
                                    .reason = *reason,
                                    .case_id = *case_id,
                                    .actor = call.caller.user_id,
                                    .ts = context->NowMs()},
             hold_id, std::move(finish));
}

void ListHolds(Context* context, const Call& call, Finish finish) {
  Response error;
  auto limit = QueryInt(call.request, "limit", kAdminPageDefault, 1, &error);
  auto active = QueryBool(call.request, "active", &error);
  if (!limit || error.status >= 400) return finish(std::move(error));
  const auto page = static_cast<size_t>(std::min<int64_t>(*limit, kHoldsPageMax));
  const std::string from(call.request.Query("from").value_or(""));
  json::array holds;
  std::string last;
  size_t scanned = 0;
  Status status = compliance::ForEachHold(context->engine.Read(), from, kHoldsPageMax,
                                          [&](const compliance::Hold& h) {
                                            last = h.hold_id;
                                            ++scanned;
                                            if (!active || *active == h.active()) {
                                              holds.push_back(HoldJson(h));
                                            }
                                            return holds.size() < page;
                                          });
  if (!status.ok()) return finish(ErrorResponse(status));
  json::object body{{"holds", std::move(holds)}};
  if (body["holds"].as_array().size() == page || scanned == kHoldsPageMax) {
    body["next_token"] = last;
  }
  finish(JsonResponse(200, body));
}

void GetHold(Context* context, const Call& call, Finish finish) {
  Result<std::optional<compliance::Hold>> hold =
      compliance::GetHold(context->engine.Read(), call.params.at("holdId"));
  if (!hold.ok()) return finish(ErrorResponse(hold.status()));
  if (!hold->has_value()) return finish(ErrorResponse(404, "M_NOT_FOUND", "No such hold"));
  finish(JsonResponse(200, HoldJson(**hold)));
}

void ReleaseHold(Context* context, const Call& call, Finish finish) {
  const std::string& hold_id = call.params.at("holdId");
  Result<std::optional<compliance::Hold>> hold = compliance::GetHold(context->engine.Read(), hold_id);
  if (!hold.ok()) return finish(ErrorResponse(hold.status()));
  if (!hold->has_value()) return finish(ErrorResponse(404, "M_NOT_FOUND", "No such hold"));
  SubmitHold(context,
             compliance::HoldRelease{
                 .hold_id = hold_id, .actor = call.caller.user_id, .ts = context->NowMs()},
             hold_id, std::move(finish));
}

void RetentionReport(Context* context, const Call& /*call*/, Finish finish) {
  const bool posted = context->pool.Post([context, finish] {
    const int64_t now = context->NowMs();
    const std::optional<int64_t> default_ms = RetentionDefault();
    Result<api::RetentionReport> report =
        RunRetention(context->engine, default_ms, now, /*dry_run=*/true);
    if (!report.ok()) return finish(ErrorResponse(report.status()));
    finish(JsonResponse(200, RetentionReportJson(*report, default_ms, now)));
  });
  if (!posted) finish(ErrorResponse(429, "M_LIMIT_EXCEEDED", "Too many admin tasks queued"));
}

}  // namespace

void AddComplianceRoutes(Router& router, const ContextPtr& context) {
  AddRoute(router, context, "POST", "/api/v1/holds", "holds.create", Surface::kCompliance,
           CreateHold);
  AddRoute(router, context, "GET", "/api/v1/holds", "holds.list", Surface::kCompliance, ListHolds);
  AddRoute(router, context, "GET", "/api/v1/holds/{holdId}", "holds.get", Surface::kCompliance,
           GetHold);
  AddRoute(router, context, "DELETE", "/api/v1/holds/{holdId}", "holds.release",
           Surface::kCompliance, ReleaseHold);
  AddRoute(router, context, "GET", "/api/v1/retention/report", "retention.report",
           Surface::kCompliance, RetentionReport);
  AddPurgeRoutes(router, context);
}

}  // namespace nebu::api::admin_internal
