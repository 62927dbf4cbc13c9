// Operations endpoints of the ops listener (port 8080 by default): liveness, readiness
// and Prometheus metrics, for load balancers, orchestrators and scrapers.
//
//   Router ops("ops", &metrics);
//   AddOpsRoutes(ops, metrics, [] { return Readiness{.ready = true, .body = {...}}; });
//
//   GET /health   200 {"status":"ok"} while the process serves HTTP at all
//   GET /ready    200 with the probe's JSON when ready, 503 with it when not
//   GET /metrics  200 text/plain; version=0.0.4 (Metrics::Serialize)
//
// Thread-safety: the probe is called from server threads concurrently.
#pragma once

#include <boost/json/object.hpp>
#include <functional>

#include "api/metrics.h"
#include "api/router.h"
#include "engine/common/status.h"

namespace nebu::api {

struct Readiness {
  bool ready = true;
  boost::json::object body;  // e.g. {"status":"ready"}; later migrations, projector lag
};
using ReadinessProbe = std::function<Readiness()>;

// The probe used until engine, migrations and projector report: {"status":"ready"}.
[[nodiscard]] Readiness AlwaysReady();

// The write path's health first: while `write_status` is not OK the answer is not
// ready, {"status":"writes_stopped","cause":...} (a storage failure stopped writes:
// kUnavailable) or {"status":"disk_full","cause":...} (kNoSpace), whatever `other`
// says (a storage failure wins over the projection's report); otherwise `other`'s.
[[nodiscard]] ReadinessProbe WithWriteHealth(std::function<Status()> write_status,
                                             ReadinessProbe other);

// Registers /health, /ready and /metrics. `metrics` must outlive the router.
void AddOpsRoutes(Router& router, Metrics& metrics, ReadinessProbe probe = AlwaysReady);

}  // namespace nebu::api
