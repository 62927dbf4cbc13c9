// Operations endpoints of the ops listener (port 8080 by default): liveness, readiness
// and Prometheus metrics, for load balancers, orchestrators and scrapers.
//
//   Router ops("ops", &metrics);
//   AddOpsRoutes(ops, metrics, [] { return Readiness{.ready = true, .body = {...}}; });
//
//   GET /health   200 {"status":"ok"} while the process serves HTTP at all
//   GET /ready    200 with the probe's JSON when ready, 503 with it when not; the JSON
//                 also carries the seed's core status (CoreStatusOf below):
//                 "core_status": "GRÜN" | "GELB" | "ROT" and "degraded": [reasons...]
//                 (empty when GRÜN). Only ROT (not accepting writes) answers 503.
//   GET /metrics  200 text/plain; version=0.0.4 (Metrics::Serialize)
//
// In a cluster (OpsCluster::view set; api/cluster_view.h):
//   GET /health   also "cluster_nodes": ["node-1", ...] (the live registered nodes' IDs)
//   GET /ready    also "cluster": {"etcd":"ok"|"unreachable","node_id":...,
//                 "applied_revision":N,"head_revision":N,"lag":N,"behind_compaction":B}.
//                 An unreachable etcd does not by itself make the node unready (it
//                 still serves reads; writes answer 503); behind_compaction does (503,
//                 "status":"behind_compaction"), whatever the other probes say.
//   GET /internal/nodes          200 {"nodes":[NodeInfo JSON...]}
//   GET /internal/nodes/{nodeId} 200 NodeInfo JSON; 404 M_NOT_FOUND for an unknown ID
//   GET /internal/digest         200 the node's state digest (OpsCluster::digest)
// The /internal routes need "Authorization: Bearer <NEBU_INTERNAL_SECRET>": no or a
// malformed header is 401 M_MISSING_TOKEN, a wrong key 403 M_FORBIDDEN (compared in
// constant time: SHA-256 of both, then every byte of the digests). Without a cluster
// (no view) they are 404 M_NOT_FOUND for everyone; with a view but an empty secret
// (a wiring error; the configuration requires one) every caller is refused with 403.
//
// Thread-safety: the probe and the view are called from server threads concurrently.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "api/cluster_view.h"
#include "api/metrics.h"
#include "api/router.h"
#include "engine/common/status.h"

namespace nebu::api {

struct Readiness {
  bool ready = true;
  boost::json::object body;  // e.g. {"status":"ready"}; later migrations, projector lag
};
using ReadinessProbe = std::function<Readiness()>;

// The seed's core status of /ready:
//   kGreen  "GRÜN"  everything serving.
//   kYellow "GELB"  degraded but accepting writes; "degraded" names each cause:
//                   "postgres_down" (migrations not "UP", or the projector connecting,
//                   retrying or failed), "projection_lagging" (the oldest unprojected
//                   event older than kProjectionLagMsDegraded), "etcd_unreachable" (the
//                   last etcd call failed; writes still succeed), "peer_missing:<id>" (a
//                   cluster node this node saw registered is gone; a node removed with
//                   `nebu cluster forget` counts until this node restarts) and
//                   "not_registered" (this node is not in the live registry).
//   kRed    "ROT"   not accepting writes: the probe says not ready (writes stopped, disk
//                   full, behind the compaction point). The only status answered 503.
enum class CoreStatus { kGreen, kYellow, kRed };
[[nodiscard]] std::string_view CoreStatusName(CoreStatus status);

// The projection lag from which /ready says GELB "projection_lagging" (ms; the age of
// the oldest event PostgreSQL does not have yet, /ready's projector.lag_ms).
inline constexpr int64_t kProjectionLagMsDegraded = 30'000;

// The core status of a readiness answer (its body as the probes make it: the
// "migrations" and "projector" sections of app/pg_commands.h's probe, the "cluster"
// section), with `missing_peers` the cluster nodes seen before but gone now; the
// causes of GELB are appended to *degraded (see CoreStatus). A cause the caller put
// in *degraded before ("not_registered") makes GELB too.
[[nodiscard]] CoreStatus CoreStatusOf(const Readiness& readiness,
                                      const std::vector<std::string>& missing_peers,
                                      std::vector<std::string>* degraded);

// The probe used until engine, migrations and projector report: {"status":"ready"}.
[[nodiscard]] Readiness AlwaysReady();

// The write path's health first: while `write_status` is not OK the answer is not
// ready, {"status":"writes_stopped","cause":...} (a storage failure stopped writes:
// kUnavailable) or {"status":"disk_full","cause":...} (kNoSpace), whatever `other`
// says (a storage failure wins over the projection's report); otherwise `other`'s.
[[nodiscard]] ReadinessProbe WithWriteHealth(std::function<Status()> write_status,
                                             ReadinessProbe other);

// The cluster part of the ops routes; the default is a single node.
struct OpsCluster {
  const ClusterView* view = nullptr;  // nullable; must outlive the router
  std::string internal_secret;        // NEBU_INTERNAL_SECRET (never logged)
  // GET /internal/digest (pre-shared key): this node's state digest for `nebu cluster
  // verify`, {"applied_revision","applied_index","digest","families":{},"rooms":{}}.
  // Reads the whole state: runs on the router's offload pool. Unset: 404.
  std::function<Result<boost::json::object>()> digest;
};

// Registers /health, /ready, /metrics and /internal/nodes. `metrics` must outlive the
// router.
void AddOpsRoutes(Router& router, Metrics& metrics, ReadinessProbe probe = AlwaysReady,
                  OpsCluster cluster = {});

}  // namespace nebu::api
