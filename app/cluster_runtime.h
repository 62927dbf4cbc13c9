// ClusterRuntime: the composition root's cluster wiring (docs/architecture.md,
// Cluster). With NEBU_ETCD_ENDPOINTS set it opens the node's ClusterNode (cluster ID
// check, etcd client), hands Engine::Open the replicated committer, runs the node
// registry, and shows the cluster to the ops listener (api::ClusterView). Without it,
// Start returns nullptr and the engine keeps its LocalCommitter.
//
//   NEBU_ASSIGN_OR_RETURN(auto cluster, ClusterRuntime::Open(config));  // nullptr: one node
//   if (cluster) cluster->Configure(&engine_options);
//   ... Engine::Open ...; if (cluster) cluster->StartRegistry();
//   api::AddOpsRoutes(ops, metrics, probe, {.view = cluster.get(), ...});
//   api::ClientApi api(engine, ..., &metrics, &cluster->ephemeral());
//   cluster->ephemeral().Start();   // typing and presence shared through etcd
//
// It is also the client router's read barrier (api::CatchUpBarrier, api/cluster_view.h;
// api/router.h "Catch-up on a miss"): CatchUpAsync runs on a pool of
// api::kCatchUpThreads threads of its own; each catch-up reads the newest log
// revision from etcd (ClusterNode::NewestLogRevision, linearizable) and, when the miss
// was answered from less (the applied revision the router read before the handler
// ran), waits on the replicated committer until this node has (WaitApplied), all
// within api::kCatchUpWaitMs from the miss; at most api::kCatchUpRequestsMax are under
// way at once (beyond: kBusy at once). Misses at the same time share one etcd read (any
// read that started after a miss serves it; one read in flight at a time), so a burst
// of misses costs etcd about one Range per round trip, not one per miss. Known trouble
// answers at once: etcd unreachable (the node's health) kUnavailable, fallen behind the
// trim point kStillBehind. Stop() ends the pool (queued catch-ups still run).
//
//   api::ClientApi api(engine, {..., .catch_up = cluster.get()}, ...);  // app/main.cpp
//
// Thread-safety: the ClusterView and CatchUpBarrier methods may be called from any thread.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>

#include "api/cluster_view.h"
#include "api/worker_pool.h"
#include "app/config.h"
#include "engine/core/engine.h"
#include "replication/checkpoint_server.h"
#include "replication/cluster_node.h"
#include "replication/lease_election.h"
#include "replication/etcd_ephemeral.h"

namespace nebu::app {

class ClusterRuntime final : public api::ClusterView, public api::CatchUpBarrier {
 public:
  // nullptr without NEBU_ETCD_ENDPOINTS; the ClusterNode::Open errors otherwise.
  static Result<std::unique_ptr<ClusterRuntime>> Open(const Config& config);
  ~ClusterRuntime() override;

  // Makes Engine::Open use the replicated committer.
  void Configure(core::EngineOptions* options);
  void StartRegistry() { node_->StartRegistry(); }
  // Starts CoreService (checkpoints for joining nodes, replication/checkpoint_server.h)
  // on NEBU_GRPC_ADDR over the engine's state DB. kUnavailable when it cannot listen.
  Status StartCheckpointServer(const Config& config, core::Engine& engine);
  // Stops the checkpoint server and the ephemeral bus (this node's presence keys go
  // at once) and leaves the live registry (before the engine closes). Idempotent.
  void Stop() {
    StopCatchUp();  // before the engine (its committer) goes
    if (checkpoints_) checkpoints_->Stop();
    ephemeral_->Stop();
    node_->Stop();
  }
  // Typing and presence of the whole cluster (replication/etcd_ephemeral.h).
  replication::EtcdEphemeralBus& ephemeral() { return *ephemeral_; }

  replication::ClusterNode& node() { return *node_; }
  // The projector's election (one PostgreSQL projector per cluster): key
  // <prefix>/projector, held by "<node id>/<incarnation>".
  std::unique_ptr<replication::LeaseElection> MakeProjectorElection();
  // The pusher delivery's election (one node sends to push gateways): key
  // <prefix>/pusher, held by "<node id>/<incarnation>".
  std::unique_ptr<replication::LeaseElection> MakePusherElection();

  // api::ClusterView
  [[nodiscard]] std::string NodeId() const override { return node_->node_id(); }
  [[nodiscard]] std::vector<api::NodeInfo> Nodes() const override;
  [[nodiscard]] api::ClusterHealth Health() const override;

  // api::CatchUpBarrier (see above). Before StartRegistry-time use the engine must be
  // open (the committer exists); after Stop() every call answers kBusy.
  [[nodiscard]] uint64_t AppliedRevision() const override { return node_->applied_revision(); }
  void CatchUpAsync(uint64_t seen_applied, std::function<void(api::CatchUpResult)> done) override;

 private:
  ClusterRuntime(std::unique_ptr<replication::ClusterNode> node, const std::string& prefix);
  // Ends the catch-up pool: what is queued still runs (each within kCatchUpWaitMs).
  void StopCatchUp();
  // One catch-up on a pool thread (the miss at `missed_at`), decided by `deadline`.
  api::CatchUpResult CatchUpBy(uint64_t seen_applied,
                               std::chrono::steady_clock::time_point missed_at,
                               std::chrono::steady_clock::time_point deadline);
  // The log's newest revision from an etcd read that STARTED after `missed_at` (so it
  // is linearizable for that miss): concurrent catch-ups share one read; one read is
  // in flight at a time. kUnavailable at `deadline`.
  Result<uint64_t> NewestLogRevisionAfter(std::chrono::steady_clock::time_point missed_at,
                                          std::chrono::steady_clock::time_point deadline);

  std::unique_ptr<replication::ClusterNode> node_;
  std::unique_ptr<replication::EtcdEphemeralBus> ephemeral_;  // on node_'s client: goes first
  std::unique_ptr<replication::CheckpointServer> checkpoints_;
  std::atomic<size_t> catch_ups_{0};  // under way (queued or running)
  std::mutex catch_up_mu_;  // guards catch_up_pool_ (Post is quick, never blocks)
  std::unique_ptr<api::WorkerPool> catch_up_pool_;  // null after Stop()
  // The shared read of NewestLogRevisionAfter; all guarded by newest_mu_.
  std::mutex newest_mu_;
  std::condition_variable newest_cv_;  // a read ended
  bool newest_in_flight_ = false;
  std::chrono::steady_clock::time_point newest_started_;  // of the read in flight
  uint64_t newest_reads_started_ = 0;
  uint64_t newest_reads_done_ = 0;
  Result<uint64_t> newest_last_ = uint64_t{0};  // of read number newest_reads_done_
};

// This node's state digest for GET /internal/digest (`nebu cluster verify`):
// {"applied_revision","applied_index","digest","families":{name: hex},"rooms":{id: hex}}.
// Taken while apply goes on: the applied position is read before and after, and the
// digest retried (kDigestTriesMax) until apply did not move meanwhile; kUnavailable if
// it kept moving.
inline constexpr int kDigestTriesMax = 5;
Result<boost::json::object> StateDigestJson(core::Engine& engine);

// The etcd client options of a configuration (endpoints as URLs, auth, TLS).
replication::EtcdClientOptions EtcdOptions(const ClusterConfig& cluster);

// For the `nebu cluster ...` commands: the configuration from the environment; nullopt
// after printing why to stderr ("nebu: bad configuration: ...", or "nebu: <command>:
// NEBU_ETCD_ENDPOINTS is not set"), which the command answers with kExitUsage.
std::optional<Config> LoadClusterCommandConfig(std::string_view command);

}  // namespace nebu::app
