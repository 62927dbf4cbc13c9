// ClusterView: what the ops listener shows of the cluster (ISSUE 8, node registry). The
// cluster code (over etcd) implements it; api/ only reads it, so the HTTP layer needs no
// etcd and tests use a fake. CatchUpBarrier (below): the client router's read barrier
// on a miss, implemented the same way (app/cluster_runtime.h).
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
#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
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

// ---- Catch-up on a miss: a read barrier on the failure path only ----
//
// A proposer is answered once ITS OWN node has applied its write, so another node may
// not have applied it yet when the client's next request reaches it (a load balancer).
// The router (api/router.h, "Catch-up on a miss") then answers 401 M_UNKNOWN_TOKEN /
// 403 M_FORBIDDEN / 404 M_NOT_FOUND for something that exists. Before it does, it asks
// the node's CatchUpBarrier: the barrier learns with ONE linearizable etcd read the
// revision of the newest group in the cluster's log (an etcd Range over P/log/, newest
// first, limit 1, keys only; to sort, etcd reads every untrimmed record of the log, a
// few hundred while the trim keeps up; misses at the same time share one read) and,
// if the first answer was computed before this node applied
// that group (the applied revision read before the handler ran is lower), waits until
// it has applied at least that much. The router re-runs the request only after
// kCaughtUp.
//
//   router.SetCatchUp(&cluster_runtime);      // app/main.cpp, through ClientApiOptions
//   uint64_t seen = barrier.AppliedRevision();   // before the handler runs
//   ... the handler answers 403 ...
//   barrier.CatchUpAsync(seen, [](CatchUpResult r) { ... r == CatchUpResult::kCaughtUp ... });
//
// A single node has no barrier (null): nothing of this runs, nothing is copied.
//
// The bounds (app/cluster_runtime.* implements them over the node's etcd client and
// the replicated committer's applied revision):
//   kCatchUpWaitMs        one catch-up, from the miss to the decision (the etcd read
//                         included); not caught up by then: kStillBehind (or
//                         kUnavailable when etcd did not answer in time)
//   kCatchUpThreads       threads of the barrier's own pool that read etcd and wait
//                         (never a server I/O thread nor the apply thread)
//   kCatchUpRequestsMax   catch-ups under way at once (running or queued); beyond it
//                         a miss gets kBusy at once and keeps its first answer
inline constexpr int64_t kCatchUpWaitMs = 3000;
inline constexpr size_t kCatchUpThreads = 4;
inline constexpr size_t kCatchUpRequestsMax = 64;

enum class CatchUpResult {
  kNotBehind,    // the answer saw the newest group of the log: the miss is real
  kCaughtUp,     // it was behind and has now applied at least that group
  kStillBehind,  // it was behind and did not catch up within kCatchUpWaitMs (or it
                 // fell behind the log's trim point: it applies nothing until it rejoins)
  kUnavailable,  // etcd did not answer within kCatchUpWaitMs (or refused the read), or
                 // the node already knows etcd is unreachable (then at once, no read)
  kBusy,         // kCatchUpRequestsMax catch-ups already under way: etcd not asked
};
// "not_behind", "caught_up", "still_behind", "unavailable", "busy".
[[nodiscard]] constexpr std::string_view CatchUpResultName(CatchUpResult result) {
  switch (result) {
    case CatchUpResult::kNotBehind:
      return "not_behind";
    case CatchUpResult::kCaughtUp:
      return "caught_up";
    case CatchUpResult::kStillBehind:
      return "still_behind";
    case CatchUpResult::kUnavailable:
      return "unavailable";
    case CatchUpResult::kBusy:
      return "busy";
  }
  return "unknown";
}

class CatchUpBarrier {
 public:
  virtual ~CatchUpBarrier() = default;
  // The revision of the last group this node applied (an atomic load). The router
  // reads it BEFORE a request's handler runs: a group applied while the handler ran
  // must still count as "behind" for that answer.
  [[nodiscard]] virtual uint64_t AppliedRevision() const = 0;
  // Starts one catch-up for an answer computed from state at least `seen_applied`
  // (AppliedRevision() before the handler ran) and returns at once: never blocks the
  // calling thread (a server I/O thread, an offload thread or the engine's apply
  // thread all call it). The node was behind when the log's newest group is past
  // `seen_applied`; then it waits until it has applied that group. `done` is called
  // exactly once, from the barrier's pool thread, or on the calling thread before
  // CatchUpAsync returns for kBusy (and when the barrier is stopping). Safe from any
  // thread at once.
  virtual void CatchUpAsync(uint64_t seen_applied, std::function<void(CatchUpResult)> done) = 0;
};

// {"node_id", "client_addr", "ops_addr", "grpc_addr", "applied_revision", "version",
//  "incarnation", "last_seen_ms"}.
[[nodiscard]] boost::json::object NodeInfoJson(const NodeInfo& node);
// {"etcd": "ok"|"unreachable", "node_id", "applied_revision", "head_revision",
//  "lag": head - applied (0 when head is unknown), "behind_compaction"}.
[[nodiscard]] boost::json::object ClusterHealthJson(const std::string& node_id,
                                                    const ClusterHealth& health);

}  // namespace nebu::api
