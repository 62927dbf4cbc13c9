// ClusterView: what the ops listener shows of the cluster (ISSUE 8, node registry). The
// cluster code (over etcd) implements it; api/ only reads it, so the HTTP layer needs no
// etcd and tests use a fake.
//
//   class EtcdClusterView : public api::ClusterView { ... };  // the registry's cache
//   api::AddOpsRoutes(ops, metrics, probe,
//                     {.view = &cluster_view, .internal_secret = config.cluster.internal_secret});
//
// What the ops routes make of it (api/ops.h):
//   GET /health                 + "cluster_nodes": [ids of Nodes()]
//   GET /ready                  + "cluster": ClusterHealth as JSON (see ClusterHealthJson)
//   GET /internal/nodes         {"nodes": [NodeInfo...]}   (pre-shared key only)
//   GET /internal/nodes/{id}    NodeInfo, 404 M_NOT_FOUND when unknown
//
// Thread-safety: implementations must allow Nodes() and Health() from any thread,
// concurrently (the ops server's threads); they should answer from memory (the last
// state the registry watch saw), never block on etcd: /health and /ready must answer
// while etcd is down.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <string>
#include <vector>

namespace nebu::api {

// One registered node, as its registry entry (leased key under the cluster prefix) says.
struct NodeInfo {
  std::string id;           // NEBU_NODE_ID
  std::string client_addr;  // "IP:PORT" of the Client-Server API listener
  std::string ops_addr;     // "IP:PORT" of the ops listener
  std::string grpc_addr;    // "IP:PORT" of the node-to-node gRPC listener
  int64_t applied_revision = 0;  // etcd revision of the last group the node applied
  std::string version;           // nebu version (NEBU_VERSION)
  uint64_t incarnation = 0;      // changes at every start of the node
  int64_t last_seen_ms = 0;      // Unix ms of the node's last registry update
};

// This node's view of the replicated log, for /ready.
struct ClusterHealth {
  bool etcd_reachable = true;    // false: the last etcd call or watch failed
  int64_t applied_revision = 0;  // revision of the last group this node applied
  int64_t head_revision = 0;     // etcd's latest revision as last seen (>= applied)
  // The node fell behind etcd's compaction point: it stopped applying and must rejoin
  // from a peer's checkpoint (`nebu cluster join`). /ready is 503 then.
  bool behind_compaction = false;
};

class ClusterView {
 public:
  virtual ~ClusterView() = default;
  // This node's ID (NEBU_NODE_ID).
  [[nodiscard]] virtual std::string NodeId() const = 0;
  // The live registered nodes (this one included), sorted by id.
  [[nodiscard]] virtual std::vector<NodeInfo> Nodes() const = 0;
  [[nodiscard]] virtual ClusterHealth Health() const = 0;
};

// {"node_id", "client_addr", "ops_addr", "grpc_addr", "applied_revision", "version",
//  "incarnation", "last_seen_ms"}.
[[nodiscard]] boost::json::object NodeInfoJson(const NodeInfo& node);
// {"etcd": "ok"|"unreachable", "node_id", "applied_revision", "head_revision",
//  "lag": head - applied (0 when head is unknown), "behind_compaction"}.
[[nodiscard]] boost::json::object ClusterHealthJson(const std::string& node_id,
                                                    const ClusterHealth& health);

}  // namespace nebu::api
