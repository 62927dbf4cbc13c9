#include "api/ops.h"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <mutex>
#include <optional>
#include <set>

#include "api/errors.h"
#include "engine/common/crypto.h"

namespace nebu::api {

namespace {

// nullopt when the caller may read /internal/*; otherwise the refusal.
std::optional<Response> RefuseInternal(const OpsCluster& cluster, const Request& request) {
  if (cluster.view == nullptr) {
    return ErrorResponse(404, "M_NOT_FOUND", "This node runs without a cluster");
  }
  std::optional<std::string_view> header = request.headers.Get("Authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (!header || !header->starts_with(kBearer) || header->size() == kBearer.size()) {
    return ErrorResponse(401, "M_MISSING_TOKEN", "The internal pre-shared key is required");
  }
  if (cluster.internal_secret.empty() ||
      !SecretsEqual(header->substr(kBearer.size()), cluster.internal_secret)) {
    return ErrorResponse(403, "M_FORBIDDEN", "Wrong internal pre-shared key");
  }
  return std::nullopt;
}

// A string field of an object field of `body` ("" when absent).
std::string_view NestedString(const boost::json::object& body, std::string_view section,
                              std::string_view key) {
  const boost::json::value* outer = body.if_contains(section);
  if (outer == nullptr || !outer->is_object()) return {};
  const boost::json::value* inner = outer->as_object().if_contains(key);
  return inner != nullptr && inner->is_string() ? std::string_view(inner->as_string())
                                                : std::string_view();
}

int64_t NestedInt(const boost::json::object& body, std::string_view section, std::string_view key) {
  const boost::json::value* outer = body.if_contains(section);
  if (outer == nullptr || !outer->is_object()) return 0;
  const boost::json::value* inner = outer->as_object().if_contains(key);
  if (inner == nullptr) return 0;
  if (inner->is_int64()) return inner->as_int64();
  if (inner->is_uint64()) return static_cast<int64_t>(inner->as_uint64());
  return 0;
}

// The cluster nodes this process saw registered: the ones gone since are "missing".
class PeerMemory {
 public:
  // The IDs seen before but not in `nodes`; remembers `nodes`.
  std::vector<std::string> Missing(const std::vector<NodeInfo>& nodes) {
    std::set<std::string> live;
    for (const NodeInfo& node : nodes) live.insert(node.id);
    std::lock_guard lock(mutex_);
    std::vector<std::string> missing;
    for (const std::string& id : seen_) {
      if (!live.contains(id)) missing.push_back(id);
    }
    seen_.insert(live.begin(), live.end());
    return missing;
  }

 private:
  std::mutex mutex_;
  std::set<std::string> seen_;  // guarded by mutex_
};

void AddInternalRoutes(Router& router, const OpsCluster& cluster) {
  router.Add("GET", "/internal/nodes", [cluster](const Request& request, const PathParams&) {
    if (auto refused = RefuseInternal(cluster, request)) return *refused;
    boost::json::array nodes;
    for (const NodeInfo& node : cluster.view->Nodes()) nodes.emplace_back(NodeInfoJson(node));
    return JsonResponse(200, boost::json::object{{"nodes", std::move(nodes)}});
  });
  router.Add("GET", "/internal/nodes/{nodeId}",
             [cluster](const Request& request, const PathParams& params) {
               if (auto refused = RefuseInternal(cluster, request)) return *refused;
               for (const NodeInfo& node : cluster.view->Nodes()) {
                 if (node.id == params.at("nodeId")) return JsonResponse(200, NodeInfoJson(node));
               }
               return ErrorResponse(404, "M_NOT_FOUND", "No such node");
             });
  router.Add(
      "GET", "/internal/digest",
      [cluster](const Request& request, const PathParams&) {
        if (auto refused = RefuseInternal(cluster, request)) return *refused;
        if (!cluster.digest) return ErrorResponse(404, "M_NOT_FOUND", "No digest here");
        Result<boost::json::object> digest = cluster.digest();
        if (!digest.ok()) return ErrorResponse(digest.status());
        return JsonResponse(200, *digest);
      },
      {.offload = true});
}

}  // namespace

boost::json::object NodeInfoJson(const NodeInfo& node) {
  return {{"node_id", node.id},
          {"client_addr", node.client_addr},
          {"ops_addr", node.ops_addr},
          {"grpc_addr", node.grpc_addr},
          {"applied_revision", node.applied_revision},
          {"version", node.version},
          {"incarnation", node.incarnation},
          {"last_seen_ms", node.last_seen_ms}};
}

boost::json::object ClusterHealthJson(const std::string& node_id, const ClusterHealth& health) {
  int64_t lag = health.head_revision > health.applied_revision
                    ? health.head_revision - health.applied_revision
                    : 0;
  return {{"etcd", health.etcd_reachable ? "ok" : "unreachable"},
          {"node_id", node_id},
          {"applied_revision", health.applied_revision},
          {"head_revision", health.head_revision},
          {"lag", lag},
          {"behind_compaction", health.behind_compaction}};
}

std::string_view CoreStatusName(CoreStatus status) {
  switch (status) {
    case CoreStatus::kGreen: return "GRÜN";
    case CoreStatus::kYellow: return "GELB";
    case CoreStatus::kRed: return "ROT";
  }
  return "ROT";
}

CoreStatus CoreStatusOf(const Readiness& readiness, const std::vector<std::string>& missing_peers,
                        std::vector<std::string>* degraded) {
  if (!readiness.ready) return CoreStatus::kRed;
  const boost::json::object& body = readiness.body;
  std::string_view migrations = NestedString(body, "migrations", "status");
  std::string_view projector = NestedString(body, "projector", "state");
  if ((!migrations.empty() && migrations != "UP") || projector == "connecting" ||
      projector == "retrying" || projector == "failed") {
    degraded->emplace_back("postgres_down");
  }
  if (NestedInt(body, "projector", "lag_ms") > kProjectionLagMsDegraded) {
    degraded->emplace_back("projection_lagging");
  }
  if (NestedString(body, "cluster", "etcd") == "unreachable") {
    degraded->emplace_back("etcd_unreachable");
  }
  for (const std::string& peer : missing_peers) degraded->push_back("peer_missing:" + peer);
  return degraded->empty() ? CoreStatus::kGreen : CoreStatus::kYellow;
}

Readiness AlwaysReady() { return {.ready = true, .body = {{"status", "ready"}}}; }

ReadinessProbe WithWriteHealth(std::function<Status()> write_status, ReadinessProbe other) {
  return [write_status = std::move(write_status), other = std::move(other)] {
    Status status = write_status();
    if (status.ok()) return other();
    const char* what = status.code() == StatusCode::kNoSpace ? "disk_full" : "writes_stopped";
    return Readiness{.ready = false,
                     .body = {{"status", what}, {"cause", status.message()}}};
  };
}

void AddOpsRoutes(Router& router, Metrics& metrics, ReadinessProbe probe, OpsCluster cluster) {
  const ClusterView* view = cluster.view;
  router.Add("GET", "/health", [view](const Request&, const PathParams&) {
    boost::json::object body{{"status", "ok"}};
    if (view != nullptr) {
      boost::json::array ids;
      for (const NodeInfo& node : view->Nodes()) ids.emplace_back(node.id);
      body["cluster_nodes"] = std::move(ids);
    }
    return JsonResponse(200, body);
  });
  router.Add("GET", "/ready",
             [probe = std::move(probe), view, peers = std::make_shared<PeerMemory>()](
                 const Request&, const PathParams&) {
               Readiness readiness = probe();
               std::vector<std::string> degraded;
               std::vector<std::string> missing;
               if (view != nullptr) {
                 ClusterHealth health = view->Health();
                 if (health.behind_compaction) {
                   readiness.ready = false;
                   readiness.body["status"] = "behind_compaction";
                 }
                 const std::string self = view->NodeId();
                 readiness.body["cluster"] = ClusterHealthJson(self, health);
                 std::vector<NodeInfo> nodes = view->Nodes();
                 missing = peers->Missing(nodes);
                 std::erase(missing, self);
                 bool registered = false;
                 for (const NodeInfo& node : nodes) registered = registered || node.id == self;
                 if (!registered) degraded.emplace_back("not_registered");
               }
               CoreStatus status = CoreStatusOf(readiness, missing, &degraded);
               if (status == CoreStatus::kRed) degraded.clear();
               readiness.body["core_status"] = CoreStatusName(status);
               boost::json::array reasons;
               for (std::string& reason : degraded) reasons.emplace_back(std::move(reason));
               readiness.body["degraded"] = std::move(reasons);
               return JsonResponse(status == CoreStatus::kRed ? 503 : 200, readiness.body);
             });
  AddInternalRoutes(router, cluster);
  router.Add("GET", "/metrics", [&metrics](const Request&, const PathParams&) {
    Response response;
    response.headers.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    response.body = metrics.Serialize();
    return response;
  });
}

}  // namespace nebu::api
