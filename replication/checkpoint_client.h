// DownloadCheckpoint: the joining side of CoreService.GetCheckpoint
// (replication/checkpoint_server.h): asks one peer for a checkpoint of its state DB
// and writes it into a fresh directory, verified (replication/checkpoint_codec.h: every
// envelope authenticated, in order, complete; every file's size and SHA-256) and
// durable (each file and the directory fsynced). The caller renames the directory
// into place (app/cluster_join.h).
//
//   NEBU_ASSIGN_OR_RETURN(DownloadedCheckpoint got,
//       DownloadCheckpoint("127.0.0.1:9001", {.secret = s, .cluster_id = id,
//                                            .node_id = "node4"}, data_dir + "/db.joining"));
//
// Errors (the directory is then removed, nothing of it stays): kInvalidArgument (no
// secret: "NEBU_INTERNAL_SECRET is not set"); kUnauthenticated (the peer refused the
// MAC: another secret, or clocks more than kCheckpointRequestSkewMs apart); kForbidden
// (another cluster ID); kResourceExhausted (the peer is busy with another transfer);
// kUnavailable (unreachable, the stream broke, longer than kCheckpointTransferMsMax);
// kCorruption (an envelope or a file failed verification); kIoError (the local disk).
//
// Thread-safety: a free function; safe from any thread.
#pragma once

#include <cstdint>
#include <string>

#include "engine/common/status.h"

namespace nebu::replication {

// A whole transfer must finish within this long.
inline constexpr int64_t kCheckpointTransferMsMax = 30 * 60 * 1000;
// A peer that does not answer the call within this long is skipped.
inline constexpr int64_t kCheckpointConnectMsMax = 5000;

struct CheckpointClientOptions {
  std::string secret;      // NEBU_INTERNAL_SECRET
  std::string cluster_id;  // from etcd
  std::string node_id;     // this node
};

struct DownloadedCheckpoint {
  int64_t applied_revision = 0;  // the header's (the checkpoint holds at least this)
  size_t files = 0;
  uint64_t bytes = 0;
};

// `target_dir` must not exist; it is created with mode 0700.
Result<DownloadedCheckpoint> DownloadCheckpoint(const std::string& grpc_addr,
                                                const CheckpointClientOptions& options,
                                                const std::string& target_dir);

}  // namespace nebu::replication
