// CheckpointServer: every cluster node's CoreService (proto/core/core.proto) on
// NEBU_GRPC_ADDR. GetCheckpoint gives a joining node a copy of this node's state DB:
//   1. the request is verified (replication/checkpoint_codec.h: MAC with the pre-shared
//      NEBU_INTERNAL_SECRET, cluster ID, clock skew) and its nonce must be new
//      (remembered for 2 x kCheckpointRequestSkewMs, at most kCheckpointNoncesMax):
//      refused with UNAUTHENTICATED, PERMISSION_DENIED or FAILED_PRECONDITION (no
//      secret) and a one-line message; nothing is created;
//   2. at most kCheckpointTransfersMax run at once; others get RESOURCE_EXHAUSTED;
//   3. a RocksDB checkpoint of the state DB (hard links to its table files, a flush
//      first) is made in <data_dir>/checkpoints/<nonce hex>, hashed, streamed as
//      sealed envelopes (header, chunks, trailer) and removed afterwards, also when
//      the transfer fails or the client goes away. Start() removes leftovers of a
//      crash. The commit log DB (<data_dir>/log) is not sent: a cluster node does not
//      use it (the etcd log is the commit log); the joiner starts with an empty one.
// The header's applied revision is this node's applied group revision read just before
// the checkpoint: the checkpoint holds at least that much.
//
//   NEBU_ASSIGN_OR_RETURN(auto server, CheckpointServer::Start({.address = "127.0.0.1:9000",
//       .data_dir = dir, .cluster_id = id, .secret = secret, .db = store.db(),
//       .applied_revision = [&] { return engine.applied_group().revision; }}));
//   ...
//   server->Stop();   // before the DB closes; cancels a transfer in progress
//
// Thread-safety: Stop() from any thread; calls are served on gRPC's threads.
#pragma once

#include <rocksdb/db.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "engine/common/status.h"

namespace grpc {
class Server;
}

namespace nebu::replication {

// Checkpoint transfers served at once by one node.
inline constexpr int kCheckpointTransfersMax = 1;
// Request nonces remembered to refuse a replayed request (the oldest are forgotten
// first; a request older than kCheckpointRequestSkewMs is refused anyway).
inline constexpr size_t kCheckpointNoncesMax = 4096;
// How long Stop() lets a transfer in progress run before cancelling it.
inline constexpr int64_t kCheckpointServerStopMs = 1000;

struct CheckpointServerOptions {
  std::string address;     // host:port (NEBU_GRPC_ADDR)
  std::string data_dir;    // the checkpoints go to <data_dir>/checkpoints
  std::string cluster_id;  // this node's cluster
  std::string secret;      // NEBU_INTERNAL_SECRET; empty: every request is refused
  rocksdb::DB* db = nullptr;                // the state DB; outlives the server's Stop()
  std::function<int64_t()> applied_revision;  // this node's applied group revision
};

class CheckpointServer {
 public:
  // Listens on options.address. kUnavailable when it cannot listen there;
  // kInvalidArgument without a secret (the service does not start).
  static Result<std::unique_ptr<CheckpointServer>> Start(CheckpointServerOptions options);
  ~CheckpointServer();
  // Stops listening and cancels a transfer in progress (after kCheckpointServerStopMs);
  // its checkpoint directory is removed. Idempotent.
  void Stop();
  int port() const { return port_; }

  class Service;  // the gRPC service (checkpoint_server.cpp)

 private:
  CheckpointServer() = default;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace nebu::replication
