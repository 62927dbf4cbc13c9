// ClusterNode: one nebu node's part in a cluster (docs/architecture.md, Cluster): the
// etcd client, the ordered log on it, the cluster ID, this node's incarnation, the
// node registry and the trimming of applied history.
//
//   NEBU_ASSIGN_OR_RETURN(auto node, ClusterNode::Open(options));   // checks cluster IDs
//   engine_options.make_committer = [&](auto& log, auto& applier) {
//     return node->MakeCommitter(applier);
//   };
//   ... Engine::Open ...
//   node->StartRegistry();   // leased registry entry, member record, trim
//   ... serve ...
//   node->Stop();            // before the engine closes
//
// Keys under the cluster prefix P (NEBU_ETCD_PREFIX):
//   P/cluster_id      the cluster's ID (32 hex digits), created by the first node to
//                     start with an empty prefix; every node's data directory records
//                     it in <data_dir>/cluster_id and a node whose data directory holds
//                     another ID, or a single node's state, refuses to start
//   P/log/...         the replicated groups (replication/etcd_log.h)
//   P/trimmed         the trim point (etcd_log.h)
//   P/nodes/<id>      the live registry: JSON NodeInfo, on a lease of
//                     kNodeLeaseTtlSeconds renewed every registry period; gone when the
//                     node stops or dies
//   P/members/<id>    the member record (no lease): the revision this node has applied
//                     *durably* (after an fsync of its state). History is trimmed only
//                     below every member's durable revision, so a node that was down
//                     for a while resumes from the log; a node that leaves the cluster
//                     for good is forgotten with `nebu cluster forget <id>`, or it holds
//                     back the trim. A node joining by checkpoint writes its record
//                     first, with the trim point as its durable revision
//                     (HoldTrimForJoin, app/cluster_join.h).
// The node with the lowest ID among the live ones trims, every registry period, once
// the members' minimum is kTrimSlackRevisions past the trim point.
//
// Thread-safety: every method is safe from any thread; the registry runs on its own
// thread ("nebu-registry").
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/core/committer.h"
#include "replication/etcd_client.h"
#include "replication/etcd_log.h"
#include "replication/replicated_committer.h"

namespace nebu::replication {

// The registry entry's lease: a node that stops renewing it leaves the live registry
// after this long.
inline constexpr int64_t kNodeLeaseTtlSeconds = 5;
// How often the registry entry, the member record and the trim are refreshed.
inline constexpr int64_t kRegistryPeriodMsDefault = 1000;
// The trim runs once the members' durable minimum is this many revisions past the trim
// point (so a trim deletes many keys at once, not one every period).
inline constexpr uint64_t kTrimSlackRevisions = 256;
// How long Open waits for etcd to read or create the cluster ID.
inline constexpr int64_t kClusterOpenTimeoutMs = 30000;

struct ClusterNodeOptions {
  EtcdClientOptions etcd;
  std::string prefix = "/nebu";  // NEBU_ETCD_PREFIX
  std::string node_id;           // NEBU_NODE_ID
  std::string data_dir;          // NEBU_DATA_DIR: holds <data_dir>/cluster_id
  std::string client_addr, ops_addr, grpc_addr;  // advertised in the registry
  std::string version;                           // nebu's version
  int64_t registry_period_ms = kRegistryPeriodMsDefault;
  ReplicatedCommitterOptions committer;  // node_id and incarnation are filled in
};

// A node as the registry and member records show it.
struct RegisteredNode {
  std::string id;
  std::string client_addr, ops_addr, grpc_addr, version;
  uint64_t incarnation = 0;
  int64_t applied_revision = 0;
  int64_t durable_revision = 0;
  int64_t last_seen_ms = 0;  // Unix ms of its last registry update (its own clock)
  bool live = false;         // has a leased registry entry
};

struct ClusterHealthView {
  bool etcd_reachable = true;
  int64_t applied_revision = 0;
  int64_t head_revision = 0;
  bool behind_trim = false;
};

class ClusterNode {
 public:
  // Connects to etcd (waiting up to kClusterOpenTimeoutMs for it), reads or creates
  // the cluster ID and checks it against the data directory's. kInvalidArgument
  // when the data directory belongs to another cluster or holds a single node's
  // state; kUnavailable when etcd cannot be reached in time.
  static Result<std::unique_ptr<ClusterNode>> Open(ClusterNodeOptions options);
  ~ClusterNode();

  // The committer Engine::Open uses (EngineOptions::make_committer). Call once.
  Result<std::unique_ptr<core::Committer>> MakeCommitter(core::Applier& applier);
  // Starts the registry thread (after the engine opened). Call once.
  void StartRegistry();
  // Revokes the registry lease (the node leaves the live list at once) and joins the
  // registry thread. The committer is stopped by the engine. Idempotent.
  void Stop();

  // The log's trim point (P/trimmed; 0 when never trimmed). kUnavailable from etcd.
  Result<uint64_t> TrimmedThrough() { return log_->TrimmedThrough(); }
  // Before a join by checkpoint (app/cluster_join.h): writes this node's member record
  // with durable revision = the current trim point, so nothing after the trim point is
  // trimmed until the node has started and published its real durable revision (the
  // trim needs every member's durable revision kTrimSlackRevisions past the trim
  // point). Returns that trim point.
  Result<uint64_t> HoldTrimForJoin();
  // After a failed join: deletes that member record again (a node without state
  // holds nothing back).
  Status ReleaseJoinHold();

  // The read barrier (api/cluster_view.h CatchUpBarrier, app/cluster_runtime.h): the
  // revision of the newest group in the log, read linearizably from etcd (one Range;
  // 0 for an empty log; etcd's errors, kUnavailable after `timeout`), this node's
  // applied revision, and a wait until it reaches `revision` (false at `deadline`;
  // blocks: never on a server I/O thread or the apply thread). After MakeCommitter.
  Result<uint64_t> NewestLogRevision(std::chrono::milliseconds timeout) {
    return log_->NewestRevision(timeout);
  }
  uint64_t applied_revision() const;
  bool WaitApplied(uint64_t revision, std::chrono::steady_clock::time_point deadline) const;

  const std::string& cluster_id() const { return cluster_id_; }
  const std::string& node_id() const { return options_.node_id; }
  const std::string& prefix() const { return options_.prefix; }
  uint64_t incarnation() const { return incarnation_; }
  // The last registry read (live nodes, sorted by id); from memory, never blocks.
  std::vector<RegisteredNode> Nodes() const;
  ClusterHealthView Health() const;
  EtcdClient& etcd() { return *etcd_; }

  // For `nebu cluster status|forget` (no running node needed): every node with a
  // member record or a registry entry, sorted by id; and the log's head revision.
  static Result<std::vector<RegisteredNode>> ReadNodes(EtcdClient& etcd,
                                                       const std::string& prefix,
                                                       int64_t* head_revision);
  // Deletes a member record (the node no longer holds back the trim). kNotFound if
  // it has none; kFailedPrecondition-like kInvalidArgument while it is live.
  static Status Forget(EtcdClient& etcd, const std::string& prefix, const std::string& id);

 private:
  explicit ClusterNode(ClusterNodeOptions options);
  Status CheckClusterId();
  void RegistryLoop();
  Status RefreshOnce();
  Status TrimIfLowest(const std::vector<RegisteredNode>& nodes);
  std::string NodeJson(int64_t applied, int64_t durable) const;

  ClusterNodeOptions options_;
  std::unique_ptr<EtcdClient> etcd_;
  std::unique_ptr<EtcdLog> log_;
  ReplicatedCommitter* committer_ = nullptr;  // owned by the engine
  core::Applier* applier_ = nullptr;
  std::string cluster_id_;
  uint64_t incarnation_ = 0;
  int64_t lease_id_ = 0;            // registry thread only
  int64_t published_durable_ = -1;  // registry thread only

  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;                 // guarded by mu_
  std::vector<RegisteredNode> nodes_;     // guarded by mu_
  bool etcd_reachable_ = true;            // guarded by mu_
  std::thread registry_thread_;
};

}  // namespace nebu::replication
