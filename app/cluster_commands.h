// The `nebu cluster` subcommands (docs/architecture.md, Cluster; README, Cluster). They
// read the cluster's configuration from the same NEBU_* variables as `nebu serve`
// (NEBU_ETCD_ENDPOINTS, NEBU_ETCD_PREFIX, NEBU_INTERNAL_SECRET, the etcd auth/TLS
// variables) and need no running node on this machine.
//
//   nebu cluster status         every node (live or member), its applied and durable
//                               revisions, its lag behind the log's head, the trim point
//   nebu cluster verify         waits (up to kVerifyWaitMs) until every live node has
//                               applied the same revision, then compares their state
//                               digests per column family and per room log
//                               (GET /internal/digest on each node's ops listener, with
//                               the pre-shared key); prints every difference
//   nebu cluster forget <id>    deletes a stopped node's member record, so it no longer
//                               holds back the trimming of etcd's history
//   nebu cluster join [--from <id>] [--force]   with the node stopped: copies a live
//                               peer's checkpoint into NEBU_DATA_DIR (app/cluster_join.h);
//                               refuses a data directory with state unless --force
//                               (the old db is kept as db.stale-<ms> until the join
//                               succeeded, and put back if it fails)
// Exit status: 0 fine, 1 a difference or a failure, 2 bad usage or configuration.
#pragma once

#include <string_view>
#include <vector>

namespace nebu::app {

// How long `cluster verify` waits for the live nodes to reach one applied revision.
inline constexpr int kVerifyWaitMs = 60'000;

[[nodiscard]] bool IsClusterCommand(std::string_view command);
[[nodiscard]] int RunClusterCommand(const std::vector<std::string_view>& args);

}  // namespace nebu::app
