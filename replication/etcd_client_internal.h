// Internal to replication/etcd_*.cpp: what the client's parts share (the
// per-endpoint channel and stubs, error mapping). Not for use outside the client.
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "proto/etcd/rpc.grpc.pb.h"
#include "replication/etcd_client.h"

namespace nebu::replication::etcd_internal {

using Clock = std::chrono::steady_clock;
namespace pb = etcdserverpb;

// gRPC takes system_clock deadlines; we measure with the steady clock.
std::chrono::system_clock::time_point ToGrpc(Clock::time_point t);
// A gRPC status (etcd's code + message) as nebu's Status; `what` names the call.
Status FromGrpc(const grpc::Status& s, std::string_view what);
EtcdKeyValue FromPb(const mvccpb::KeyValue& kv);

// One etcd endpoint: its channel and the stubs over it.
struct Endpoint {
  std::string url;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::KV::Stub> kv;
  std::unique_ptr<pb::Watch::Stub> watch;
  std::unique_ptr<pb::Lease::Stub> lease;
  std::unique_ptr<pb::Maintenance::Stub> maintenance;
  std::unique_ptr<pb::Auth::Stub> auth;
};

// What a watch needs of its client (EtcdClientImpl implements it).
class EtcdConnections {
 public:
  virtual ~EtcdConnections() = default;
  // The endpoint that answered last; endpoint(i) wraps around.
  virtual size_t current() const = 0;
  virtual void set_current(size_t i) = 0;
  virtual Endpoint& endpoint(size_t i) = 0;
  // Adds the auth token to `context` (authenticating first if needed).
  virtual Status AddToken(Endpoint& endpoint, grpc::ClientContext& context,
                          Clock::time_point deadline) = 0;
  virtual const EtcdClientOptions& options() const = 0;
};

// The watch (etcd_watch.cpp): starts its thread now.
std::unique_ptr<EtcdWatch> StartWatch(EtcdConnections* connections, EtcdWatchOptions options,
                                      EtcdClient::Callback callback);

}  // namespace nebu::replication::etcd_internal
