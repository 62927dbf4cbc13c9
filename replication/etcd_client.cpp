// EtcdClient over the generated gRPC stubs. See etcd_client.h for the contract.
#include "replication/etcd_client.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "replication/etcd_client_internal.h"

namespace nebu::replication {
namespace etcd_internal {


constexpr std::string_view kHttp = "http://";
constexpr std::string_view kHttps = "https://";

// etcd's messages for the conditions we tell apart (its rpctypes error strings).
constexpr std::string_view kMsgNoLeader = "no leader";
constexpr std::string_view kMsgLeaderChanged = "leader changed";
constexpr std::string_view kMsgTooLarge = "request is too large";
constexpr std::string_view kMsgGrpcTooLarge = "larger than max";
constexpr std::string_view kMsgNoSpace = "database space exceeded";
constexpr std::string_view kMsgCompacted = "compacted";
constexpr std::string_view kMsgInvalidToken = "invalid auth token";
constexpr std::string_view kMsgLeaseNotFound = "lease not found";

std::chrono::system_clock::time_point ToGrpc(Clock::time_point t) {
  return std::chrono::system_clock::now() +
         std::chrono::duration_cast<std::chrono::system_clock::duration>(t - Clock::now());
}

bool Contains(const std::string& s, std::string_view part) {
  return s.find(part) != std::string::npos;
}

Status FromGrpc(const grpc::Status& s, std::string_view what) {
  const std::string& m = s.error_message();
  std::string msg = std::string(what) + ": " + m;
  switch (s.error_code()) {
    case grpc::StatusCode::OK:
      return Status::Ok();
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::CANCELLED:
    case grpc::StatusCode::ABORTED:
      return Status::Unavailable(msg);
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      if (Contains(m, kMsgGrpcTooLarge)) return Status::TooLarge(msg);
      if (Contains(m, kMsgNoSpace)) return Status::NoSpace(msg);
      return Status::Unavailable(msg);  // "too many requests": etcd is behind; retry
    case grpc::StatusCode::INVALID_ARGUMENT:
      if (Contains(m, kMsgTooLarge)) return Status::TooLarge(msg);
      return Status::InvalidArgument(msg);
    case grpc::StatusCode::OUT_OF_RANGE:
      if (Contains(m, kMsgCompacted)) return Status::NotFound("compacted: " + msg);
      return Status::InvalidArgument(msg);
    case grpc::StatusCode::NOT_FOUND:
      return Status::NotFound(Contains(m, kMsgLeaseNotFound) ? "lease not found: " + msg : msg);
    case grpc::StatusCode::UNAUTHENTICATED:
      return Status::Unauthenticated(msg);
    case grpc::StatusCode::PERMISSION_DENIED:
      return Status::Forbidden(msg);
    case grpc::StatusCode::FAILED_PRECONDITION:
      return Status::InvalidArgument(msg);
    default:
      return Status::Internal(msg);
  }
}

// Worth another endpoint: the member could not be reached or cannot serve now.
bool Retryable(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return true;
    default:
      return Contains(s.error_message(), kMsgNoLeader) ||
             Contains(s.error_message(), kMsgLeaderChanged);
  }
}

Result<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot read " + path);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

EtcdKeyValue FromPb(const mvccpb::KeyValue& kv) {
  return {.key = kv.key(),
          .value = kv.value(),
          .create_revision = kv.create_revision(),
          .mod_revision = kv.mod_revision(),
          .version = kv.version(),
          .lease = kv.lease()};
}

namespace {

class EtcdClientImpl final : public EtcdClient, public EtcdConnections {
 public:
  explicit EtcdClientImpl(EtcdClientOptions options) : options_(std::move(options)) {}

  Status Init() {
    if (options_.endpoints.empty()) return Status::InvalidArgument("etcd: no endpoints");
    std::shared_ptr<grpc::ChannelCredentials> tls;
    for (const std::string& url : options_.endpoints) {
      bool https = url.starts_with(kHttps);
      std::string target = url.substr(https ? kHttps.size() : kHttp.size());
      std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
      if (https) {
        if (!tls) {
          NEBU_ASSIGN_OR_RETURN(tls, TlsCredentials());
        }
        creds = tls;
      }
      grpc::ChannelArguments args;
      args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
      args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
      args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, kEtcdReconnectBackoffMsMax);
      args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, kEtcdKeepaliveTimeMs);
      args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, kEtcdKeepaliveTimeoutMs);
      args.SetInt(GRPC_ARG_KEEPALIVE_PERMIT_WITHOUT_CALLS, 0);
      args.SetInt(GRPC_ARG_HTTP2_MAX_PINGS_WITHOUT_DATA, 0);
      args.SetInt(GRPC_ARG_ENABLE_RETRIES, 0);  // we retry, across endpoints
      args.SetMaxReceiveMessageSize(kEtcdResponseBytesMax);
      // One channel per client and endpoint (not shared with other clients).
      args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
      auto e = std::make_unique<Endpoint>();
      e->url = url;
      e->channel = grpc::CreateCustomChannel(target, creds, args);
      e->kv = pb::KV::NewStub(e->channel);
      e->watch = pb::Watch::NewStub(e->channel);
      e->lease = pb::Lease::NewStub(e->channel);
      e->maintenance = pb::Maintenance::NewStub(e->channel);
      e->auth = pb::Auth::NewStub(e->channel);
      endpoints_.push_back(std::move(e));
    }
    return Status::Ok();
  }

  // Runs `rpc(endpoint, context)` with failover (see the header). `what` names it.
  template <typename Rpc>
  Status Call(std::string_view what, Timeout timeout, Rpc&& rpc) {
    if (timeout.count() <= 0) timeout = options_.request_timeout;
    const Clock::time_point deadline = Clock::now() + timeout;
    const size_t n = endpoints_.size();
    size_t start = current_.load();
    bool reauthenticated = false;
    int64_t backoff_ms = kEtcdRetryBackoffMsMin;
    grpc::Status last;
    for (size_t attempt = 0;; ++attempt) {
      size_t index = (start + attempt) % n;
      Endpoint& endpoint = *endpoints_[index];
      Clock::time_point attempt_deadline =
          std::min(deadline, Clock::now() + options_.attempt_timeout);
      grpc::ClientContext context;
      context.set_deadline(ToGrpc(attempt_deadline));
      Status auth = AddToken(endpoint, context, deadline);
      if (!auth.ok()) {
        if (auth.code() != StatusCode::kUnavailable) return auth;
        last = grpc::Status(grpc::StatusCode::UNAVAILABLE, auth.message());
      } else {
        last = rpc(endpoint, context);
        if (last.ok()) {
          current_.store(index);
          return Status::Ok();
        }
        if (last.error_code() == grpc::StatusCode::UNAUTHENTICATED &&
            Contains(last.error_message(), kMsgInvalidToken) && !reauthenticated) {
          reauthenticated = true;
          DropToken();
          --attempt;  // the same endpoint again, with a fresh token
          continue;
        }
        if (!Retryable(last)) return FromGrpc(last, what);
      }
      if (Clock::now() >= deadline) break;
      if (attempt % n == n - 1) {  // a whole round failed: pause before the next
        auto pause = std::min(std::chrono::milliseconds(backoff_ms),
                              std::chrono::duration_cast<std::chrono::milliseconds>(
                                  deadline - Clock::now()));
        std::this_thread::sleep_for(pause);
        backoff_ms = std::min(backoff_ms * 2, kEtcdRetryBackoffMsMax);
        if (Clock::now() >= deadline) break;
      }
    }
    return Status::Unavailable(std::string(what) + ": no etcd endpoint answered within " +
                               std::to_string(timeout.count()) + " ms (last: " +
                               last.error_message() + ")");
  }

  // For the watch thread: the endpoint to try next, and the token metadata.
  size_t current() const override { return current_.load(); }
  Endpoint& endpoint(size_t i) override { return *endpoints_[i % endpoints_.size()]; }
  void set_current(size_t i) override { current_.store(i % endpoints_.size()); }
  Status AddToken(Endpoint& endpoint, grpc::ClientContext& context,
                  Clock::time_point deadline) override {
    if (options_.username.empty()) return Status::Ok();
    std::string token;
    {
      std::lock_guard lock(token_mu_);
      token = token_;
    }
    if (token.empty()) {
      NEBU_ASSIGN_OR_RETURN(token, Authenticate(endpoint, deadline));
    }
    context.AddMetadata("token", token);
    return Status::Ok();
  }
  void DropToken() {
    std::lock_guard lock(token_mu_);
    token_.clear();
  }

  Result<EtcdRangeResult> Range(std::string_view key, const EtcdRangeOptions& o,
                                Timeout timeout) override {
    pb::RangeRequest req;
    req.set_key(std::string(key));
    if (o.prefix) {
      req.set_range_end(EtcdPrefixEnd(key));
    } else if (!o.range_end.empty()) {
      req.set_range_end(o.range_end);
    }
    req.set_limit(o.limit);
    req.set_revision(o.revision);
    req.set_min_mod_revision(o.min_mod_revision);
    req.set_max_mod_revision(o.max_mod_revision);
    req.set_keys_only(o.keys_only);
    req.set_count_only(o.count_only);
    req.set_sort_order(static_cast<pb::RangeRequest::SortOrder>(o.sort_order));
    req.set_sort_target(static_cast<pb::RangeRequest::SortTarget>(o.sort_target));
    pb::RangeResponse resp;
    NEBU_RETURN_IF_ERROR(Call("etcd Range", timeout, [&](Endpoint& e, grpc::ClientContext& c) {
      return e.kv->Range(&c, req, &resp);
    }));
    EtcdRangeResult out;
    out.revision = resp.header().revision();
    out.more = resp.more();
    out.count = resp.count();
    out.kvs.reserve(resp.kvs_size());
    for (const auto& kv : resp.kvs()) out.kvs.push_back(FromPb(kv));
    return out;
  }

  Result<int64_t> Put(std::string_view key, std::string_view value, int64_t lease,
                      Timeout timeout) override {
    pb::PutRequest req;
    req.set_key(std::string(key));
    req.set_value(std::string(value));
    req.set_lease(lease);
    pb::PutResponse resp;
    NEBU_RETURN_IF_ERROR(Call("etcd Put", timeout, [&](Endpoint& e, grpc::ClientContext& c) {
      return e.kv->Put(&c, req, &resp);
    }));
    return resp.header().revision();
  }

  Result<EtcdPutIfAbsentResult> PutIfAbsent(std::string_view key, std::string_view value,
                                            int64_t lease, Timeout timeout) override {
    pb::TxnRequest req;
    pb::Compare* cmp = req.add_compare();
    cmp->set_result(pb::Compare::EQUAL);
    cmp->set_target(pb::Compare::CREATE);
    cmp->set_key(std::string(key));
    cmp->set_create_revision(0);
    pb::PutRequest* put = req.add_success()->mutable_request_put();
    put->set_key(std::string(key));
    put->set_value(std::string(value));
    put->set_lease(lease);
    pb::RangeRequest* get = req.add_failure()->mutable_request_range();
    get->set_key(std::string(key));
    get->set_keys_only(true);
    NEBU_ASSIGN_OR_RETURN(pb::TxnResponse resp, Txn(req, timeout));
    EtcdPutIfAbsentResult out;
    out.created = resp.succeeded();
    out.revision = resp.header().revision();
    if (out.created) {
      out.create_revision = out.revision;
    } else {
      if (resp.responses_size() != 1 || resp.responses(0).response_range().kvs_size() != 1) {
        // Deleted between the compare and the read cannot happen (one revision).
        return Status::Internal("etcd PutIfAbsent: existing key not returned");
      }
      out.create_revision = resp.responses(0).response_range().kvs(0).create_revision();
    }
    return out;
  }

  Result<bool> PutIfModRevision(std::string_view key, std::string_view value,
                                int64_t expected_mod_revision, int64_t lease,
                                Timeout timeout) override {
    pb::TxnRequest req;
    pb::Compare* cmp = req.add_compare();
    cmp->set_result(pb::Compare::EQUAL);
    cmp->set_target(pb::Compare::MOD);
    cmp->set_key(std::string(key));
    cmp->set_mod_revision(expected_mod_revision);
    pb::PutRequest* put = req.add_success()->mutable_request_put();
    put->set_key(std::string(key));
    put->set_value(std::string(value));
    put->set_lease(lease);
    NEBU_ASSIGN_OR_RETURN(pb::TxnResponse resp, Txn(req, timeout));
    return resp.succeeded();
  }

  Result<int64_t> DeleteRange(std::string_view key, bool prefix, Timeout timeout) override {
    pb::DeleteRangeRequest req;
    req.set_key(std::string(key));
    if (prefix) req.set_range_end(EtcdPrefixEnd(key));
    pb::DeleteRangeResponse resp;
    NEBU_RETURN_IF_ERROR(
        Call("etcd DeleteRange", timeout, [&](Endpoint& e, grpc::ClientContext& c) {
          return e.kv->DeleteRange(&c, req, &resp);
        }));
    return resp.deleted();
  }

  Result<pb::TxnResponse> Txn(const pb::TxnRequest& req, Timeout timeout) override {
    pb::TxnResponse resp;
    NEBU_RETURN_IF_ERROR(Call("etcd Txn", timeout, [&](Endpoint& e, grpc::ClientContext& c) {
      resp.Clear();
      return e.kv->Txn(&c, req, &resp);
    }));
    return resp;
  }

  Status Compact(int64_t revision, bool physical, Timeout timeout) override {
    pb::CompactionRequest req;
    req.set_revision(revision);
    req.set_physical(physical);
    pb::CompactionResponse resp;
    return Call("etcd Compact", timeout, [&](Endpoint& e, grpc::ClientContext& c) {
      return e.kv->Compact(&c, req, &resp);
    });
  }

  Result<EtcdLease> LeaseGrant(int64_t ttl_seconds, Timeout timeout) override {
    pb::LeaseGrantRequest req;
    req.set_ttl(ttl_seconds);
    pb::LeaseGrantResponse resp;
    NEBU_RETURN_IF_ERROR(
        Call("etcd LeaseGrant", timeout, [&](Endpoint& e, grpc::ClientContext& c) {
          return e.lease->LeaseGrant(&c, req, &resp);
        }));
    if (!resp.error().empty()) return Status::Unavailable("etcd LeaseGrant: " + resp.error());
    return EtcdLease{.id = resp.id(), .ttl_seconds = resp.ttl()};
  }

  Result<int64_t> LeaseKeepAliveOnce(int64_t lease_id, Timeout timeout) override {
    pb::LeaseKeepAliveResponse resp;
    NEBU_RETURN_IF_ERROR(
        Call("etcd LeaseKeepAlive", timeout, [&](Endpoint& e, grpc::ClientContext& c) {
          auto stream = e.lease->LeaseKeepAlive(&c);
          pb::LeaseKeepAliveRequest req;
          req.set_id(lease_id);
          bool ok = stream->Write(req) && stream->Read(&resp);
          stream->WritesDone();
          if (ok) c.TryCancel();  // we have our answer; end the stream now
          grpc::Status s = stream->Finish();
          return ok ? grpc::Status::OK : s;
        }));
    if (resp.ttl() <= 0) {
      return Status::NotFound("lease not found: lease " + std::to_string(lease_id) + " expired");
    }
    return resp.ttl();
  }

  Status LeaseRevoke(int64_t lease_id, Timeout timeout) override {
    pb::LeaseRevokeRequest req;
    req.set_id(lease_id);
    pb::LeaseRevokeResponse resp;
    return Call("etcd LeaseRevoke", timeout, [&](Endpoint& e, grpc::ClientContext& c) {
      return e.lease->LeaseRevoke(&c, req, &resp);
    });
  }

  Result<EtcdMemberStatus> MemberStatus(size_t index, Timeout timeout) override {
    if (index >= endpoints_.size()) return Status::InvalidArgument("etcd: no such endpoint");
    if (timeout.count() <= 0) timeout = options_.request_timeout;
    Endpoint& e = *endpoints_[index];
    grpc::ClientContext context;
    context.set_deadline(ToGrpc(Clock::now() + timeout));
    NEBU_RETURN_IF_ERROR(AddToken(e, context, Clock::now() + timeout));
    pb::StatusResponse resp;
    grpc::Status s = e.maintenance->Status(&context, pb::StatusRequest(), &resp);
    if (!s.ok()) return FromGrpc(s, "etcd Status " + e.url);
    return ToMemberStatus(e, resp);
  }

  Result<EtcdMemberStatus> MaintenanceStatus(Timeout timeout) override {
    pb::StatusResponse resp;
    Endpoint* answered = nullptr;
    NEBU_RETURN_IF_ERROR(Call("etcd Status", timeout, [&](Endpoint& e, grpc::ClientContext& c) {
      answered = &e;
      return e.maintenance->Status(&c, pb::StatusRequest(), &resp);
    }));
    return ToMemberStatus(*answered, resp);
  }

  std::unique_ptr<EtcdWatch> Watch(EtcdWatchOptions options, Callback callback) override {
    return StartWatch(this, std::move(options), std::move(callback));
  }

  const std::vector<std::string>& endpoints() const override { return options_.endpoints; }
  const EtcdClientOptions& options() const override { return options_; }

 private:
  static EtcdMemberStatus ToMemberStatus(const Endpoint& e, const pb::StatusResponse& r) {
    EtcdMemberStatus out{.endpoint = e.url,
                         .member_id = r.header().member_id(),
                         .leader = r.leader(),
                         .raft_term = r.raftterm(),
                         .raft_index = r.raftindex(),
                         .revision = r.header().revision(),
                         .db_size_bytes = r.dbsize(),
                         .db_size_in_use_bytes = r.dbsizeinuse(),
                         .version = r.version()};
    for (const auto& err : r.errors()) out.errors.push_back(err);
    return out;
  }

  Result<std::shared_ptr<grpc::ChannelCredentials>> TlsCredentials() {
    grpc::SslCredentialsOptions ssl;
    if (!options_.ca_file.empty()) {
      NEBU_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadFile(options_.ca_file));
    }
    if (options_.cert_file.empty() != options_.key_file.empty()) {
      return Status::InvalidArgument("etcd: a client certificate needs both cert and key files");
    }
    if (!options_.cert_file.empty()) {
      NEBU_ASSIGN_OR_RETURN(ssl.pem_cert_chain, ReadFile(options_.cert_file));
      NEBU_ASSIGN_OR_RETURN(ssl.pem_private_key, ReadFile(options_.key_file));
    }
    return grpc::SslCredentials(ssl);
  }

  Result<std::string> Authenticate(Endpoint& e, Clock::time_point deadline) {
    grpc::ClientContext context;
    context.set_deadline(ToGrpc(std::min(deadline, Clock::now() + options_.attempt_timeout)));
    pb::AuthenticateRequest req;
    req.set_name(options_.username);
    req.set_password(options_.password);
    pb::AuthenticateResponse resp;
    grpc::Status s = e.auth->Authenticate(&context, req, &resp);
    if (!s.ok()) {
      Status st = FromGrpc(s, "etcd Authenticate");
      // etcd answers a bad password with INVALID_ARGUMENT "authentication failed".
      if (st.code() == StatusCode::kInvalidArgument) return Status::Unauthenticated(st.message());
      return st;
    }
    std::lock_guard lock(token_mu_);
    token_ = resp.token();
    return token_;
  }

  const EtcdClientOptions options_;
  std::vector<std::unique_ptr<Endpoint>> endpoints_;
  std::atomic<size_t> current_{0};
  std::mutex token_mu_;
  std::string token_;  // guarded by token_mu_
};

bool ValidEndpoint(std::string_view url) {
  std::string_view rest;
  if (url.starts_with(kHttp)) {
    rest = url.substr(kHttp.size());
  } else if (url.starts_with(kHttps)) {
    rest = url.substr(kHttps.size());
  } else {
    return false;
  }
  size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos || colon == 0 || colon + 1 == rest.size()) return false;
  if (rest.find('/') != std::string_view::npos) return false;
  return std::all_of(rest.begin() + colon + 1, rest.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

}  // namespace
}  // namespace etcd_internal

using etcd_internal::ValidEndpoint;

std::string EtcdPrefixEnd(std::string_view prefix) {
  std::string end(prefix);
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();
  }
  return std::string(1, '\0');  // every key
}

Result<std::vector<std::string>> EtcdClientOptions::ParseEndpoints(std::string_view csv) {
  std::vector<std::string> out;
  while (!csv.empty()) {
    size_t comma = csv.find(',');
    std::string_view one = csv.substr(0, comma);
    while (!one.empty() && one.front() == ' ') one.remove_prefix(1);
    while (!one.empty() && one.back() == ' ') one.remove_suffix(1);
    if (!one.empty()) {
      if (!ValidEndpoint(one)) {
        return Status::InvalidArgument("etcd endpoint '" + std::string(one) +
                                       "' is not http://host:port or https://host:port");
      }
      out.emplace_back(one);
    }
    if (comma == std::string_view::npos) break;
    csv.remove_prefix(comma + 1);
  }
  if (out.empty()) return Status::InvalidArgument("etcd: no endpoints given");
  if (out.size() > kEtcdEndpointsMax) {
    return Status::InvalidArgument("etcd: more than " + std::to_string(kEtcdEndpointsMax) +
                                   " endpoints");
  }
  return out;
}

Result<std::unique_ptr<EtcdClient>> EtcdClient::Create(EtcdClientOptions options) {
  for (const std::string& url : options.endpoints) {
    if (!ValidEndpoint(url)) return Status::InvalidArgument("etcd endpoint '" + url + "' is invalid");
  }
  if (options.endpoints.size() > kEtcdEndpointsMax) {
    return Status::InvalidArgument("etcd: too many endpoints");
  }
  if (options.request_timeout.count() <= 0 || options.attempt_timeout.count() <= 0) {
    return Status::InvalidArgument("etcd: timeouts must be positive");
  }
  auto client = std::make_unique<etcd_internal::EtcdClientImpl>(std::move(options));
  NEBU_RETURN_IF_ERROR(client->Init());
  return std::unique_ptr<EtcdClient>(std::move(client));
}

}  // namespace nebu::replication
