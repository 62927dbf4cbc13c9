// GET /api/v1/audit: the audit log for auditors (engine/admin/admin.h).
//
// Query: actor, action (exact), from / to (ms since the epoch, inclusive), limit
// (default kAdminPageDefault, at most kAdminPageMax), since (the next_token of the
// previous page). Answer: {"records": [{"seq","ts","actor","action","target","params",
// "outcome","status"}...], "next_token"?: string}, oldest first. One request reads at
// most kAuditScanRecordsMax records; a page that filtered them all away still carries
// next_token, so a client follows next_token until it is absent.
#include <boost/json.hpp>
#include <charconv>

#include "api/admin/admin_common.h"
#include "api/errors.h"
#include "engine/core/engine.h"

namespace nebu::api::admin_internal {
namespace {

namespace json = boost::json;

constexpr size_t kAuditScanRecordsMax = 10000;

void ListAudit(Context* context, const Call& call, Finish finish) {
  Response error;
  auto limit = QueryInt(call.request, "limit", kAdminPageDefault, 1, &error);
  auto from = QueryInt(call.request, "from", 0, 0, &error);
  auto to = QueryInt(call.request, "to", INT64_MAX, 0, &error);
  auto since = QueryInt(call.request, "since", 0, 0, &error);
  if (!limit || !from || !to || !since) return finish(std::move(error));
  const auto page = static_cast<size_t>(std::min(*limit, kAdminPageMax));
  auto actor = call.request.Query("actor");
  auto action = call.request.Query("action");
  json::array records;
  uint64_t last = static_cast<uint64_t>(*since);
  size_t scanned = 0;
  bool full = false;
  Status status = admin::ForEachAudit(
      context->engine.Read(), last, kAuditScanRecordsMax,
      [&](const admin::AuditRecord& r, bool* more) {
        last = r.seq;
        ++scanned;
        if ((actor && r.actor != *actor) || (action && r.action != *action) || r.ts < *from ||
            r.ts > *to) {
          return Status::Ok();
        }
        records.push_back(json::object{{"seq", r.seq},       {"ts", r.ts},
                                       {"actor", r.actor},   {"action", r.action},
                                       {"target", r.target}, {"params", r.params},
                                       {"outcome", r.outcome}, {"status", r.status}});
        full = records.size() == page;
        *more = !full;
        return Status::Ok();
      });
  if (!status.ok()) return finish(ErrorResponse(status));
  json::object body{{"records", std::move(records)}};
  if (full || scanned == kAuditScanRecordsMax) body["next_token"] = std::to_string(last);
  finish(JsonResponse(200, body));
}

}  // namespace

void AddAuditRoutes(Router& router, const ContextPtr& context) {
  AddRoute(router, context, "GET", "/api/v1/audit", "audit.list", Surface::kCompliance,
           ListAudit);
}

}  // namespace nebu::api::admin_internal
