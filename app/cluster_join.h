// Joining a cluster by copying a peer's checkpoint (docs/architecture.md, Cluster):
// the node's state DB (<data_dir>/db) is replaced by a verified copy of a live peer's
// (replication/checkpoint_client.h), and the engine then applies the etcd log from
// the checkpoint's applied revision on. Three ways in:
//   - `nebu serve` on a data directory without a state DB, when the cluster's log was
//     already trimmed (P/trimmed > 0: a replay from revision 0 cannot work). With an
//     untrimmed log (a young cluster, or the first node of a new one) the node starts
//     empty and replays the log as before;
//   - `nebu serve` on a node that finds itself behind the trim point while running
//     (/ready "behind_compaction"): app/main.cpp stops serving, moves the DB aside
//     (MoveStateAside) and joins again in the same process (kRejoinsMax times);
//   - `nebu serve` on a data directory whose state is behind the trim point already at
//     the start (a backup restored after the log was trimmed past its revision, or a
//     node that was down past a trim): MoveAsideIfBehindTrim moves the DB aside before
//     anything is served, then the node joins as one without state;
//   - `nebu cluster join [--from <node id>] [--force]` with the node stopped.
//
// JoinByCheckpoint:
//   1. writes this node's member record with durable revision = the trim point
//      (ClusterNode::HoldTrimForJoin). Why the log after the checkpoint then stays:
//      a trim to F happens only when every member's durable revision was >= F when
//      the trimmer read the records. The peer is a live node, so a member, and its
//      checkpoint holds at least its applied revision >= its durable revision >= F
//      for any trim computed before our record was seen. Once our record is seen the
//      floor is <= the trim point, so no trim runs until this node starts and
//      publishes its own durable revision. The checkpoint's revision is therefore >=
//      anything the trimmer could have trimmed to (checked again after the download:
//      a checkpoint behind the trim point is discarded and the next peer tried);
//   2. picks the live peers with a gRPC address, not itself (only `from` if given),
//      highest applied revision first;
//   3. downloads into <data_dir>/db.joining (removed first if a crash left it), at
//      most kJoinAttemptsMax attempts over the peers, kJoinRetryPauseMs apart; a
//      wrong secret or cluster ID stops at once (another peer would say the same);
//   4. renames db.joining to db and fsyncs the data directory (<data_dir>/cluster_id
//      was written by ClusterNode::Open before: a crash before the rename leaves no
//      db, so the next start joins again); then removes every db.stale-* (states
//      moved aside, see MoveStateAside).
// A failed join leaves no db.joining and no db, and deletes the member record again
// (<data_dir>/cluster_id stays: it names the right cluster).
//
// Thread-safety: none needed (called before the engine opens).
#pragma once

#include <string>

#include "app/config.h"
#include "replication/cluster_node.h"

namespace nebu::app {

// Download attempts of one join (the live peers in turn).
inline constexpr int kJoinAttemptsMax = 6;
// Pause between two attempts.
inline constexpr int64_t kJoinRetryPauseMs = 1000;

struct JoinResult {
  std::string peer;
  int64_t applied_revision = 0;
  size_t files = 0;
  uint64_t bytes = 0;
  int64_t elapsed_ms = 0;
};

// True when <data_dir>/db exists.
bool HasStateDb(const std::string& data_dir);
// True when `nebu serve` must join by checkpoint: no state DB and a trim point > 0.
Result<bool> NeedsCheckpoint(replication::ClusterNode& node, const std::string& data_dir);
// When <data_dir>/db exists and its applied log revision is below the trim point (a
// replay from there cannot work): moves it aside (MoveStateAside: db.stale-*, removed
// after the next successful join), logs why (warn) and answers true; false otherwise.
// Opens the DB briefly to read its position (before the engine opens it).
Result<bool> MoveAsideIfBehindTrim(replication::ClusterNode& node, const std::string& data_dir);
// See above. `from`: a peer's node ID, or "" for the best live peer.
Result<JoinResult> JoinByCheckpoint(const Config& config, replication::ClusterNode& node,
                                    const std::string& from);
// Renames <data_dir>/db to <data_dir>/db.stale-<unix ms>; returns that path.
Result<std::string> MoveStateAside(const std::string& data_dir);

// `nebu cluster join [--from <node id>] [--force]`: 0 joined, 1 failed, 2 bad usage.
int RunJoinCommand(const std::vector<std::string_view>& args);

}  // namespace nebu::app
