#include "api/ops.h"

#include <boost/json/array.hpp>
#include <boost/json/value.hpp>
#include <optional>

#include "api/errors.h"
#include "engine/common/crypto.h"

namespace nebu::api {

namespace {

// Compares two secrets in time independent of where they differ: both are hashed to
// equal-length digests first, then every byte is compared.
bool SecretsEqual(std::string_view presented, std::string_view expected) {
  Sha256Digest a = Sha256(presented);
  Sha256Digest b = Sha256(expected);
  volatile uint8_t diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff = diff | static_cast<uint8_t>(a[i] ^ b[i]);
  return diff == 0;
}

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
             [probe = std::move(probe), view](const Request&, const PathParams&) {
               Readiness readiness = probe();
               if (view != nullptr) {
                 ClusterHealth health = view->Health();
                 if (health.behind_compaction) {
                   readiness.ready = false;
                   readiness.body["status"] = "behind_compaction";
                 }
                 readiness.body["cluster"] = ClusterHealthJson(view->NodeId(), health);
               }
               return JsonResponse(readiness.ready ? 200 : 503, readiness.body);
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
