#include "app/cluster_join.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <thread>

#include "app/cluster_runtime.h"
#include "app/exit_codes.h"
#include "engine/storage/checkpoint.h"
#include "replication/checkpoint_client.h"

namespace nebu::app {

namespace fs = std::filesystem;

namespace {

constexpr int kExitFailed = 1;

// The caches of the state DB opened only to read its position (MoveAsideIfBehindTrim).
constexpr size_t kPeekCacheBytes = 8u << 20;
constexpr size_t kPeekWriteBufferBytes = 1u << 20;

int64_t UnixMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open " + dir);
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status::Ok() : Status::IoError("cannot fsync " + dir);
}

void RemoveStaleStates(const std::string& data_dir) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (fs::directory_iterator it(data_dir, ec), end; !ec && it != end; it.increment(ec)) {
    if (it->path().filename().string().starts_with("db.stale-")) stale.push_back(it->path());
  }
  for (const fs::path& path : stale) {
    spdlog::info("join: removing the old state {}", path.string());
    fs::remove_all(path, ec);
  }
}

// The live peers to ask, best first.
Result<std::vector<replication::RegisteredNode>> Peers(replication::ClusterNode& node,
                                                       const std::string& from) {
  NEBU_ASSIGN_OR_RETURN(auto nodes,
                        replication::ClusterNode::ReadNodes(node.etcd(), node.prefix(), nullptr));
  std::vector<replication::RegisteredNode> peers;
  for (const replication::RegisteredNode& n : nodes) {
    if (!n.live || n.grpc_addr.empty() || n.id == node.node_id()) continue;
    if (!from.empty() && n.id != from) continue;
    peers.push_back(n);
  }
  std::stable_sort(peers.begin(), peers.end(), [](const auto& a, const auto& b) {
    return a.applied_revision > b.applied_revision;
  });
  if (peers.empty() && !from.empty()) {
    return Status::InvalidArgument("node " + from + " is not a live peer with a gRPC address");
  }
  if (peers.empty()) return Status::Unavailable("no live peer to copy a checkpoint from");
  return peers;
}

// One download from `peer` into db.joining; renamed to db when it is usable.
Result<replication::DownloadedCheckpoint> TryPeer(const Config& config,
                                                  replication::ClusterNode& node,
                                                  const replication::RegisteredNode& peer) {
  const std::string joining = config.data_dir + "/db.joining";
  std::error_code ec;
  fs::remove_all(joining, ec);
  NEBU_ASSIGN_OR_RETURN(
      replication::DownloadedCheckpoint got,
      replication::DownloadCheckpoint(peer.grpc_addr,
                                      {.secret = config.cluster.internal_secret,
                                       .cluster_id = node.cluster_id(),
                                       .node_id = node.node_id()},
                                      joining));
  Result<uint64_t> trimmed = node.TrimmedThrough();
  Status usable = trimmed.status();
  if (trimmed.ok() && static_cast<uint64_t>(got.applied_revision) < *trimmed) {
    usable = Status::Unavailable("the checkpoint of " + peer.id + " is at revision " +
                                 std::to_string(got.applied_revision) +
                                 ", behind the trim point " + std::to_string(*trimmed));
  }
  if (usable.ok() && ::rename(joining.c_str(), (config.data_dir + "/db").c_str()) != 0) {
    usable = Status::IoError("cannot rename " + joining + " to db");
  }
  if (!usable.ok()) {
    fs::remove_all(joining, ec);
    return usable;
  }
  NEBU_RETURN_IF_ERROR(FsyncDir(config.data_dir));
  return got;
}

}  // namespace

bool HasStateDb(const std::string& data_dir) {
  std::error_code ec;
  return fs::exists(data_dir + "/db", ec);
}

Result<bool> NeedsCheckpoint(replication::ClusterNode& node, const std::string& data_dir) {
  if (HasStateDb(data_dir)) return false;
  NEBU_ASSIGN_OR_RETURN(uint64_t trimmed, node.TrimmedThrough());
  return trimmed > 0;
}

Result<bool> MoveAsideIfBehindTrim(replication::ClusterNode& node, const std::string& data_dir) {
  if (!HasStateDb(data_dir)) return false;
  NEBU_ASSIGN_OR_RETURN(uint64_t trimmed, node.TrimmedThrough());
  if (trimmed == 0) return false;
  uint64_t applied = 0;
  {
    NEBU_ASSIGN_OR_RETURN(auto store,
                          storage::Store::Open({.path = data_dir + "/db",
                                                .create_if_missing = false,
                                                .block_cache_bytes = kPeekCacheBytes,
                                                .write_buffer_bytes = kPeekWriteBufferBytes}));
    NEBU_ASSIGN_OR_RETURN(storage::CheckpointPosition at, storage::ReadPosition(*store));
    applied = at.group_revision;
  }
  if (applied >= trimmed) return false;
  NEBU_ASSIGN_OR_RETURN(std::string stale, MoveStateAside(data_dir));
  spdlog::warn("cluster: the state in {} is at log revision {} but the log is trimmed through "
               "{} (a backup restored after the cluster moved on, or a node down past a trim): "
               "it cannot catch up from the log, so it was moved to {} and this node joins by "
               "copying a peer's checkpoint",
               data_dir, applied, trimmed, stale);
  return true;
}

Result<std::string> MoveStateAside(const std::string& data_dir) {
  const std::string stale = data_dir + "/db.stale-" + std::to_string(UnixMs());
  if (::rename((data_dir + "/db").c_str(), stale.c_str()) != 0) {
    return Status::IoError("cannot move " + data_dir + "/db aside to " + stale);
  }
  NEBU_RETURN_IF_ERROR(FsyncDir(data_dir));
  return stale;
}

Result<JoinResult> JoinByCheckpoint(const Config& config, replication::ClusterNode& node,
                                    const std::string& from) {
  if (config.cluster.internal_secret.empty()) {
    return Status::InvalidArgument("NEBU_INTERNAL_SECRET is not set: cannot join by checkpoint");
  }
  if (HasStateDb(config.data_dir)) {
    return Status::InvalidArgument("the data directory " + config.data_dir + " already has a db");
  }
  const auto started = std::chrono::steady_clock::now();
  NEBU_ASSIGN_OR_RETURN(uint64_t held, node.HoldTrimForJoin());
  spdlog::info("join: member record of {} holds the log from revision {}", node.node_id(), held);
  Status last = Status::Unavailable("no attempt");
  for (int attempt = 0; attempt < kJoinAttemptsMax; ++attempt) {
    if (attempt > 0) std::this_thread::sleep_for(std::chrono::milliseconds(kJoinRetryPauseMs));
    Result<std::vector<replication::RegisteredNode>> peers = Peers(node, from);
    if (!peers.ok()) {
      last = peers.status();
      spdlog::warn("join: attempt {}: {}", attempt + 1, last.message());
      if (last.code() == StatusCode::kInvalidArgument) break;  // --from names no live peer
      continue;
    }
    const replication::RegisteredNode& peer =
        (*peers)[static_cast<size_t>(attempt) % peers->size()];
    spdlog::info("join: attempt {}: copying the checkpoint of {} ({}, applied revision {})",
                 attempt + 1, peer.id, peer.grpc_addr, peer.applied_revision);
    Result<replication::DownloadedCheckpoint> got = TryPeer(config, node, peer);
    if (got.ok()) {
      JoinResult result{.peer = peer.id,
                        .applied_revision = got->applied_revision,
                        .files = got->files,
                        .bytes = got->bytes,
                        .elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                          std::chrono::steady_clock::now() - started)
                                          .count()};
      spdlog::info("join: copied {} files ({} bytes) from {} at revision {} in {} ms",
                   result.files, result.bytes, result.peer, result.applied_revision,
                   result.elapsed_ms);
      RemoveStaleStates(config.data_dir);
      return result;
    }
    last = got.status();
    spdlog::warn("join: attempt {} from {} failed: {}", attempt + 1, peer.id, last.ToString());
    // Another peer would refuse the same secret or cluster ID.
    if (last.code() == StatusCode::kUnauthenticated || last.code() == StatusCode::kForbidden ||
        last.code() == StatusCode::kInvalidArgument) {
      break;
    }
  }
  if (Status released = node.ReleaseJoinHold(); !released.ok()) {
    spdlog::warn("join: cannot delete the member record of {}: {}", node.node_id(),
                 released.ToString());
  }
  return last;
}

namespace {

// True when a process holds the RocksDB lock of <data_dir>/db (a running node).
bool StateDbInUse(const std::string& data_dir) {
  int fd = ::open((data_dir + "/db/LOCK").c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  const bool in_use = ::fcntl(fd, F_GETLK, &lock) == 0 && lock.l_type != F_UNLCK;
  ::close(fd);
  return in_use;
}

}  // namespace

int RunJoinCommand(const std::vector<std::string_view>& args) {
  std::string from;
  bool force = false;
  for (size_t i = 2; i < args.size(); ++i) {
    if (args[i] == "--force") {
      force = true;
    } else if (args[i] == "--from" && i + 1 < args.size()) {
      from = std::string(args[++i]);
    } else {
      std::fprintf(stderr, "usage: nebu cluster join [--from <node-id>] [--force]\n");
      return kExitUsage;
    }
  }
  std::optional<Config> config = LoadClusterCommandConfig("cluster join");
  if (!config) return kExitUsage;
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  const std::string& dir = config->data_dir;
  std::string stale;
  if (HasStateDb(dir)) {
    if (StateDbInUse(dir)) {
      std::fprintf(stderr, "nebu: cluster join: %s/db is in use: stop the node first\n",
                   dir.c_str());
      return kExitFailed;
    }
    if (!force) {
      std::fprintf(stderr,
                   "nebu: cluster join: the data directory %s already has state (db); "
                   "add --force to replace it (it is kept until the join succeeded)\n",
                   dir.c_str());
      return kExitFailed;
    }
    Result<std::string> moved = MoveStateAside(dir);
    if (!moved.ok()) {
      std::fprintf(stderr, "nebu: cluster join: %s\n", moved.status().message().c_str());
      return kExitFailed;
    }
    stale = *moved;
  }
  auto fail = [&](const Status& s) {
    // The old state goes back where it was: nothing changed.
    if (!stale.empty() && ::rename(stale.c_str(), (dir + "/db").c_str()) != 0) {
      std::fprintf(stderr, "nebu: cluster join: the old state stays in %s\n", stale.c_str());
    }
    std::fprintf(stderr, "nebu: cluster join: %s\n", s.ToString().c_str());
    return kExitFailed;
  };
  Result<std::unique_ptr<ClusterRuntime>> cluster = ClusterRuntime::Open(*config);
  if (!cluster.ok()) return fail(cluster.status());
  Result<JoinResult> joined = JoinByCheckpoint(*config, (*cluster)->node(), from);
  if (!joined.ok()) return fail(joined.status());
  std::printf("joined cluster %s: copied %zu files (%llu bytes) from %s at revision %lld in "
              "%lld ms\n",
              (*cluster)->node().cluster_id().c_str(), joined->files,
              static_cast<unsigned long long>(joined->bytes), joined->peer.c_str(),
              static_cast<long long>(joined->applied_revision),
              static_cast<long long>(joined->elapsed_ms));
  return kExitOk;
}

}  // namespace nebu::app
