#include "app/cluster_runtime.h"

#include <spdlog/spdlog.h>

#include <cstdio>

#include "engine/core/state_digest.h"

namespace nebu::app {

Result<boost::json::object> StateDigestJson(core::Engine& engine) {
  for (int attempt = 0; attempt < kDigestTriesMax; ++attempt) {
    const core::GroupPosition before = engine.applied_group();
    const core::LogIndex index_before = engine.applied_index();
    NEBU_ASSIGN_OR_RETURN(core::StateDigests digests, core::DigestState(engine.store()));
    NEBU_ASSIGN_OR_RETURN(auto rooms, core::RoomLogDigests(engine.store()));
    if (engine.applied_group().revision != before.revision ||
        engine.applied_index() != index_before) {
      continue;  // apply moved: the snapshot may be from either side
    }
    boost::json::object families;
    for (size_t cf = 0; cf < digests.per_family.size(); ++cf) {
      if (digests.per_family[cf].empty()) continue;
      families[storage::CfName(static_cast<storage::Cf>(cf))] = digests.per_family[cf];
    }
    boost::json::object room_digests;
    for (const auto& [number, hex] : rooms) {
      NEBU_ASSIGN_OR_RETURN(std::optional<std::string> id, engine.RoomIdOf(number));
      room_digests[id ? *id : "#" + std::to_string(number)] = hex;
    }
    return boost::json::object{{"applied_revision", before.revision},
                               {"applied_index", index_before},
                               {"digest", digests.overall},
                               {"families", std::move(families)},
                               {"rooms", std::move(room_digests)}};
  }
  return Status::Unavailable("apply kept moving during the digest: try again when idle");
}

replication::EtcdClientOptions EtcdOptions(const ClusterConfig& cluster) {
  replication::EtcdClientOptions options;
  for (const EtcdEndpoint& endpoint : cluster.etcd_endpoints) {
    options.endpoints.push_back(endpoint.ToString());
  }
  options.username = cluster.etcd_username;
  options.password = cluster.etcd_password;
  options.ca_file = cluster.etcd_ca_file;
  options.cert_file = cluster.etcd_cert_file;
  options.key_file = cluster.etcd_key_file;
  return options;
}

ClusterRuntime::ClusterRuntime(std::unique_ptr<replication::ClusterNode> node,
                               const std::string& prefix)
    : node_(std::move(node)),
      ephemeral_(std::make_unique<replication::EtcdEphemeralBus>(
          node_->etcd(), replication::EtcdEphemeralOptions{.prefix = prefix})),
      catch_up_pool_(std::make_unique<api::WorkerPool>(api::WorkerPoolOptions{
          .threads = api::kCatchUpThreads, .queue_max = api::kCatchUpRequestsMax})) {}

ClusterRuntime::~ClusterRuntime() { Stop(); }

Result<std::unique_ptr<ClusterRuntime>> ClusterRuntime::Open(const Config& config) {
  if (!config.cluster.enabled()) return std::unique_ptr<ClusterRuntime>();
  replication::ClusterNodeOptions options;
  options.etcd = EtcdOptions(config.cluster);
  options.prefix = config.cluster.etcd_prefix;
  options.node_id = config.cluster.node_id;
  options.data_dir = config.data_dir;
  options.client_addr = config.client_addr.ToString();
  options.ops_addr = config.ops_addr.ToString();
  options.grpc_addr = config.cluster.grpc_addr.ToString();
  options.version = NEBU_VERSION;
  NEBU_ASSIGN_OR_RETURN(auto node, replication::ClusterNode::Open(std::move(options)));
  return std::unique_ptr<ClusterRuntime>(
      new ClusterRuntime(std::move(node), config.cluster.etcd_prefix));
}

Status ClusterRuntime::StartCheckpointServer(const Config& config, core::Engine& engine) {
  NEBU_ASSIGN_OR_RETURN(
      checkpoints_,
      replication::CheckpointServer::Start(
          {.address = config.cluster.grpc_addr.ToString(),
           .data_dir = config.data_dir,
           .cluster_id = node_->cluster_id(),
           .secret = config.cluster.internal_secret,
           .db = engine.store().db(),
           .applied_revision = [&engine] {
             return static_cast<int64_t>(engine.applied_group().revision);
           }}));
  return Status::Ok();
}

void ClusterRuntime::Configure(core::EngineOptions* options) {
  options->make_committer = [this](storage::Store& /*commit_log*/, core::Applier& applier) {
    return node_->MakeCommitter(applier);
  };
}

std::unique_ptr<replication::LeaseElection> ClusterRuntime::MakeProjectorElection() {
  return std::make_unique<replication::LeaseElection>(
      node_->etcd(), node_->prefix() + "/projector",
      node_->node_id() + "/" + std::to_string(node_->incarnation()));
}

std::unique_ptr<replication::LeaseElection> ClusterRuntime::MakePusherElection() {
  return std::make_unique<replication::LeaseElection>(
      node_->etcd(), node_->prefix() + "/pusher",
      node_->node_id() + "/" + std::to_string(node_->incarnation()));
}

std::vector<api::NodeInfo> ClusterRuntime::Nodes() const {
  std::vector<api::NodeInfo> out;
  for (const replication::RegisteredNode& n : node_->Nodes()) {
    out.push_back({.id = n.id,
                   .client_addr = n.client_addr,
                   .ops_addr = n.ops_addr,
                   .grpc_addr = n.grpc_addr,
                   .applied_revision = n.applied_revision,
                   .version = n.version,
                   .incarnation = n.incarnation,
                   .last_seen_ms = n.last_seen_ms});
  }
  return out;
}

api::ClusterHealth ClusterRuntime::Health() const {
  replication::ClusterHealthView h = node_->Health();
  return {.etcd_reachable = h.etcd_reachable,
          .applied_revision = h.applied_revision,
          .head_revision = h.head_revision,
          .behind_compaction = h.behind_trim};
}

void ClusterRuntime::CatchUpAsync(uint64_t seen_applied,
                                  std::function<void(api::CatchUpResult)> done) {
  const auto missed_at = std::chrono::steady_clock::now();
  const auto deadline = missed_at + std::chrono::milliseconds(api::kCatchUpWaitMs);
  if (catch_ups_.fetch_add(1) >= api::kCatchUpRequestsMax) {
    catch_ups_.fetch_sub(1);
    return done(api::CatchUpResult::kBusy);
  }
  auto shared_done = std::make_shared<std::function<void(api::CatchUpResult)>>(std::move(done));
  bool queued = false;
  {
    std::lock_guard lock(catch_up_mu_);
    if (catch_up_pool_ != nullptr) {
      queued = catch_up_pool_->Post([this, seen_applied, missed_at, deadline, shared_done] {
        const api::CatchUpResult result = CatchUpBy(seen_applied, missed_at, deadline);
        catch_ups_.fetch_sub(1);
        (*shared_done)(result);
      });
    }
  }
  if (!queued) {
    catch_ups_.fetch_sub(1);
    (*shared_done)(api::CatchUpResult::kBusy);
  }
}

void ClusterRuntime::StopCatchUp() {
  std::unique_ptr<api::WorkerPool> pool;
  {
    std::lock_guard lock(catch_up_mu_);
    pool = std::move(catch_up_pool_);
  }
  pool.reset();  // outside the lock: queued catch-ups run to their answer first
}

Result<uint64_t> ClusterRuntime::NewestLogRevisionAfter(
    std::chrono::steady_clock::time_point missed_at,
    std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(newest_mu_);
  while (newest_in_flight_) {
    if (newest_started_ >= missed_at) {  // join it: it is linearizable for this miss
      const uint64_t joined = newest_reads_started_;
      if (!newest_cv_.wait_until(lock, deadline,
                                 [this, joined] { return newest_reads_done_ >= joined; })) {
        return Status::Unavailable("catch-up: the shared etcd read did not end in time");
      }
      return newest_last_;  // this read's, or a later one's: started after the miss too
    }
    // A read from before the miss: wait for its end, then start or join a newer one.
    if (!newest_cv_.wait_until(lock, deadline, [this, missed_at] {
          return !newest_in_flight_ || newest_started_ >= missed_at;
        })) {
      return Status::Unavailable("catch-up: an earlier etcd read did not end in time");
    }
  }
  newest_in_flight_ = true;
  newest_started_ = std::chrono::steady_clock::now();
  const uint64_t mine = ++newest_reads_started_;
  lock.unlock();
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      deadline - std::chrono::steady_clock::now());
  Result<uint64_t> newest = left.count() > 0
                                ? node_->NewestLogRevision(left)
                                : Result<uint64_t>(Status::Unavailable("catch-up: no time left"));
  lock.lock();
  newest_in_flight_ = false;
  newest_reads_done_ = mine;
  newest_last_ = newest;
  lock.unlock();
  newest_cv_.notify_all();
  return newest;
}

api::CatchUpResult ClusterRuntime::CatchUpBy(uint64_t seen_applied,
                                             std::chrono::steady_clock::time_point missed_at,
                                             std::chrono::steady_clock::time_point deadline) {
  if (std::chrono::steady_clock::now() >= deadline) {
    return api::CatchUpResult::kStillBehind;  // queued too long
  }
  // Known trouble answers at once instead of spending the bound on it.
  const replication::ClusterHealthView health = node_->Health();
  if (!health.etcd_reachable) return api::CatchUpResult::kUnavailable;
  if (health.behind_trim) return api::CatchUpResult::kStillBehind;  // it stopped applying
  Result<uint64_t> newest = NewestLogRevisionAfter(missed_at, deadline);
  if (!newest.ok()) {
    spdlog::warn("cluster: catch-up on a miss: {}", newest.status().ToString());
    return api::CatchUpResult::kUnavailable;
  }
  // The answer saw everything up to seen_applied: behind only if the log has more.
  if (seen_applied >= *newest) return api::CatchUpResult::kNotBehind;
  return node_->WaitApplied(*newest, deadline) ? api::CatchUpResult::kCaughtUp
                                               : api::CatchUpResult::kStillBehind;
}

std::optional<Config> LoadClusterCommandConfig(std::string_view command) {
  Result<Config> config = LoadConfig(ProcessEnvironment());
  if (!config.ok()) {
    std::fprintf(stderr, "nebu: bad configuration: %s\n", config.status().message().c_str());
    return std::nullopt;
  }
  if (!config->cluster.enabled()) {
    std::fprintf(stderr, "nebu: %.*s: NEBU_ETCD_ENDPOINTS is not set\n",
                 static_cast<int>(command.size()), command.data());
    return std::nullopt;
  }
  return std::move(config).value();
}

}  // namespace nebu::app
