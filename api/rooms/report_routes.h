// Reports of content and users:
//
//   POST /rooms/{roomId}/report/{eventId}   v3, r0  async  {}
//   POST /rooms/{roomId}/report             v3, r0  async  {}
//   POST /users/{userId}/report             v3, r0  async  {}
//
//   AddReportRoutes(router, engine, limits);
//
// Reports (spec "Reporting content", engine/reports/reports.h): body {"reason"}
// (string; required for room and user reports, may be empty; at most
// reports::kReportReasonBytesMax bytes, else 400 M_INVALID_PARAM; `score` is ignored).
// Malformed IDs in the path: 400 M_INVALID_PARAM. Every well-formed report answers
// 200 {} after its command is committed, whether or not the event/room/user exists
// and whether the reporter is joined to the event's room: the server does not reveal
// which exist (the spec allows it); apply stores only reports naming something real.
// Rate-limited per user (UserRateLimits::reports, kReportRateLimit).
//
// Thread-safety: handlers are safe from any thread; the engine must outlive the router.
#pragma once

#include <memory>

#include "api/rate_limit.h"
#include "api/router.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

void AddReportRoutes(Router& router, core::Engine& engine,
                     const std::shared_ptr<UserRateLimits>& limits);

}  // namespace nebu::api
