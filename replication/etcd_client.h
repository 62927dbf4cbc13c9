// EtcdClient: a small synchronous client of etcd v3's gRPC API (our own minimal
// .proto in proto/etcd/). It is what the cluster's code talks to etcd through: the
// ordered log (etcd_log.h), the node registry, leases, elections.
//
//   NEBU_ASSIGN_OR_RETURN(auto endpoints, EtcdClientOptions::ParseEndpoints(env));
//   NEBU_ASSIGN_OR_RETURN(auto etcd, EtcdClient::Create({.endpoints = endpoints}));
//   NEBU_ASSIGN_OR_RETURN(int64_t rev, etcd->Put("/nebu/x", "v"));
//   NEBU_ASSIGN_OR_RETURN(auto got, etcd->Range("/nebu/", {.prefix = true, .limit = 10}));
//   auto watch = etcd->Watch({.key = "/nebu/log/", .prefix = true, .start_revision = rev},
//                            [](const EtcdWatchUpdate& u) { ...; return true; });
//
// Endpoints and failover: one gRPC channel per endpoint (http:// plain, https:// TLS).
// A call goes to the endpoint that last answered; when it is unreachable (gRPC
// UNAVAILABLE, or no answer within `attempt_timeout`) or etcd answers "no leader",
// the call is tried on the next endpoint, round after round with a short back-off,
// until its deadline. So a write whose answer was lost may be applied twice: Put is
// then idempotent in value, PutIfAbsent is idempotent outright.
//
// Every call has a deadline (`timeout`, default options.request_timeout) and never
// blocks longer. Errors (nebu Status codes):
//   kUnavailable       no endpoint answered in time, no leader, connection lost:
//                      the outcome of a write is unknown; retry
//   kTooLarge          the request is over etcd's --max-request-bytes
//   kNoSpace           etcd's database is over its quota (NOSPACE alarm)
//   kNotFound          "compacted: ..." (a revision older than the compaction point),
//                      "lease not found: ..." (expired or revoked lease)
//   kUnauthenticated   bad username/password
//   kForbidden         the user lacks permission for the key
//   kInvalidArgument   a request etcd refuses (future revision, bad range, ...)
//   kInternal          anything else (an etcd or client bug)
//
// Authentication (optional): with a username, the client calls Auth.Authenticate
// and sends the token in the "token" metadata of every call; when etcd says the
// token is invalid (expired), it authenticates again and retries once.
//
// Thread-safety: every method is safe from any thread at once; calls are
// multiplexed over the channels. EtcdWatch runs its own thread (see below).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"

namespace etcdserverpb {
class TxnRequest;
class TxnResponse;
}  // namespace etcdserverpb

namespace nebu::replication {

// Default deadline of one call (all endpoints and retries together).
inline constexpr int64_t kEtcdRequestTimeoutMsDefault = 5000;
// One endpoint's share of a call before the client fails over to the next one.
inline constexpr int64_t kEtcdAttemptTimeoutMsDefault = 2000;
// Pause after every endpoint failed once, doubling up to the max, within the deadline.
inline constexpr int64_t kEtcdRetryBackoffMsMin = 10;
inline constexpr int64_t kEtcdRetryBackoffMsMax = 200;
// gRPC reconnection back-off towards an endpoint that refused (so a restarted etcd
// member is used again within about a second).
inline constexpr int kEtcdReconnectBackoffMsMax = 1000;
// HTTP/2 pings on a connection with an open call (watch): a member that stops
// answering (SIGSTOP, network loss) is detected within time + timeout. etcd refuses
// pings more often than its --grpc-keepalive-min-time (5 s by default).
inline constexpr int kEtcdKeepaliveTimeMs = 6000;
inline constexpr int kEtcdKeepaliveTimeoutMs = 3000;
// A watch stream silent this long gets a progress request; silent for the stall
// timeout it is dropped and resumed on the next endpoint (a stopped member holds a
// stream open without answering).
inline constexpr int64_t kEtcdWatchProgressIntervalMs = 1000;
inline constexpr int64_t kEtcdWatchStallTimeoutMs = 3000;
// Largest answer the client accepts (a Range over many keys).
inline constexpr int kEtcdResponseBytesMax = 64 << 20;
// At most this many endpoints in NEBU_ETCD_ENDPOINTS.
inline constexpr size_t kEtcdEndpointsMax = 16;

struct EtcdClientOptions {
  std::vector<std::string> endpoints;  // "http://127.0.0.1:2379", "https://etcd-0:2379"
  std::chrono::milliseconds request_timeout{kEtcdRequestTimeoutMsDefault};
  std::chrono::milliseconds attempt_timeout{kEtcdAttemptTimeoutMsDefault};
  // Authentication: empty username = none.
  std::string username;
  std::string password;
  // TLS for https:// endpoints (PEM files): the CA that signed etcd's certificate
  // (empty: the system's roots) and an optional client certificate + key.
  std::string ca_file;
  std::string cert_file;
  std::string key_file;

  // "http://a:2379,http://b:2379" → the list; kInvalidArgument for an empty list,
  // a URL without http:// or https:// or host:port, or more than kEtcdEndpointsMax.
  static Result<std::vector<std::string>> ParseEndpoints(std::string_view csv);
};

struct EtcdKeyValue {
  std::string key;
  std::string value;
  int64_t create_revision = 0;
  int64_t mod_revision = 0;
  int64_t version = 0;
  int64_t lease = 0;
};

// Values are etcd's enum numbers.
enum class EtcdSortOrder { kNone = 0, kAscend = 1, kDescend = 2 };
enum class EtcdSortTarget { kKey = 0, kVersion = 1, kCreate = 2, kMod = 3, kValue = 4 };

struct EtcdRangeOptions {
  bool prefix = false;    // every key starting with `key` (range_end is ignored)
  std::string range_end;  // [key, range_end); empty: the key alone
  int64_t limit = 0;      // 0: no limit
  int64_t revision = 0;   // 0: newest; older than the compaction point: kNotFound
  int64_t min_mod_revision = 0;
  int64_t max_mod_revision = 0;
  bool keys_only = false;
  bool count_only = false;
  EtcdSortOrder sort_order = EtcdSortOrder::kNone;
  EtcdSortTarget sort_target = EtcdSortTarget::kKey;
};

struct EtcdRangeResult {
  int64_t revision = 0;  // the store's revision the range was read at
  std::vector<EtcdKeyValue> kvs;
  bool more = false;  // more keys matched than `limit`
  int64_t count = 0;  // keys in the range, whatever the limit
};

struct EtcdPutIfAbsentResult {
  bool created = false;         // false: the key existed; nothing was written
  int64_t create_revision = 0;  // the key's create revision (now or earlier)
  int64_t revision = 0;         // the store's revision after the call
};

struct EtcdLease {
  int64_t id = 0;
  int64_t ttl_seconds = 0;
};

struct EtcdMemberStatus {
  std::string endpoint;
  uint64_t member_id = 0;
  uint64_t leader = 0;  // member id of the leader (0: none known)
  uint64_t raft_term = 0;
  uint64_t raft_index = 0;
  int64_t revision = 0;
  int64_t db_size_bytes = 0;
  int64_t db_size_in_use_bytes = 0;
  std::string version;
  std::vector<std::string> errors;  // active alarms, e.g. "NOSPACE"
};

struct EtcdEvent {
  enum class Type { kPut = 0, kDelete = 1 };
  Type type = Type::kPut;
  EtcdKeyValue kv;  // kDelete: key and the delete's mod_revision, no value
};

// What a watch reports to its callback, on the watch's thread.
struct EtcdWatchUpdate {
  enum class Kind {
    kCreated,       // the watch is established (again, after a reconnect)
    kEvents,        // `events`, in revision order
    kCompacted,     // start revision older than the compaction point; final
    kCanceled,      // etcd canceled the watch (`reason`); the watch reconnects
    kDisconnected,  // the stream broke (`error`); the watch reconnects
  };
  Kind kind = Kind::kEvents;
  std::vector<EtcdEvent> events;
  int64_t header_revision = 0;   // the store's revision when etcd sent this
  int64_t compact_revision = 0;  // kCompacted: the oldest revision still watchable
  std::string reason;            // kCanceled
  Status error;                  // kDisconnected
};

struct EtcdWatchOptions {
  std::string key;
  bool prefix = false;
  std::string range_end;
  int64_t start_revision = 0;  // 0: changes after now
};

// A watch running on its own thread until destroyed (or its callback returns false,
// or etcd reports the start revision compacted). After a broken stream it reconnects
// (next endpoint, back-off) and resumes after the last revision it delivered, so
// every change is delivered once, in revision order. A stream that stays silent
// (no answer to progress requests for kEtcdWatchStallTimeoutMs) is dropped the same
// way. The callback may block: that holds back the stream (gRPC flow control),
// nothing is lost (the stall check does not count time spent in the callback).
// Destroy every watch before its client.
class EtcdWatch {
 public:
  virtual ~EtcdWatch() = default;  // stops: cancels the stream, joins the thread
  // The revision the watch will resume from after a reconnect.
  virtual int64_t next_revision() const = 0;
};

class EtcdClient {
 public:
  using Callback = std::function<bool(const EtcdWatchUpdate&)>;  // false: stop
  using Timeout = std::chrono::milliseconds;

  // Channels are made lazily by gRPC: Create does not contact etcd (and so succeeds
  // with etcd down). With a username it authenticates on the first call.
  // kInvalidArgument for bad options, kIoError for unreadable TLS files.
  static Result<std::unique_ptr<EtcdClient>> Create(EtcdClientOptions options);
  virtual ~EtcdClient() = default;

  virtual Result<EtcdRangeResult> Range(std::string_view key, const EtcdRangeOptions& options,
                                        Timeout timeout = Timeout{0}) = 0;
  // Returns the revision of the write.
  virtual Result<int64_t> Put(std::string_view key, std::string_view value, int64_t lease = 0,
                              Timeout timeout = Timeout{0}) = 0;
  // One Txn: if the key does not exist (create revision 0) put it, else read its
  // create revision. Retry-safe.
  virtual Result<EtcdPutIfAbsentResult> PutIfAbsent(std::string_view key,
                                                    std::string_view value, int64_t lease = 0,
                                                    Timeout timeout = Timeout{0}) = 0;
  // Compare-and-set: puts only if the key's mod revision is `expected_mod_revision`
  // (0: the key must not exist). Returns whether it wrote.
  virtual Result<bool> PutIfModRevision(std::string_view key, std::string_view value,
                                        int64_t expected_mod_revision, int64_t lease = 0,
                                        Timeout timeout = Timeout{0}) = 0;
  // Deletes `key`, or every key starting with it. Returns how many were deleted.
  virtual Result<int64_t> DeleteRange(std::string_view key, bool prefix,
                                      Timeout timeout = Timeout{0}) = 0;
  // Any transaction (etcd's --max-txn-ops bounds the operations, 128 by default).
  virtual Result<etcdserverpb::TxnResponse> Txn(const etcdserverpb::TxnRequest& request,
                                                Timeout timeout = Timeout{0}) = 0;
  // Drops history before `revision` (physical: returns once the backend has
  // compacted). kNotFound "compacted: ..." when already compacted at or past it.
  virtual Status Compact(int64_t revision, bool physical = true,
                         Timeout timeout = Timeout{0}) = 0;

  virtual Result<EtcdLease> LeaseGrant(int64_t ttl_seconds, Timeout timeout = Timeout{0}) = 0;
  // Renews the lease once; returns its new TTL. kNotFound when it expired or was
  // revoked. Call it every TTL/3.
  virtual Result<int64_t> LeaseKeepAliveOnce(int64_t lease_id, Timeout timeout = Timeout{0}) = 0;
  virtual Status LeaseRevoke(int64_t lease_id, Timeout timeout = Timeout{0}) = 0;

  // Maintenance.Status of the member behind endpoint `index` (no failover).
  virtual Result<EtcdMemberStatus> MemberStatus(size_t index, Timeout timeout = Timeout{0}) = 0;
  // The first member that answers, starting with the current endpoint.
  virtual Result<EtcdMemberStatus> MaintenanceStatus(Timeout timeout = Timeout{0}) = 0;

  virtual std::unique_ptr<EtcdWatch> Watch(EtcdWatchOptions options, Callback callback) = 0;

  virtual const std::vector<std::string>& endpoints() const = 0;
};

// Keeps one lease alive from a background thread, for keys that must vanish when
// this process does (node registry, projector election, typing, presence):
//
//   EtcdLeaseKeeper lease(etcd.get(), 10, [&](int64_t id) { RegisterNode(id); });
//
// It grants a lease of `ttl_seconds`, calls `on_new_lease(id)` (on its thread: put
// the leased keys there), and renews it every TTL/3. When etcd says the lease is
// gone (it expired while etcd was unreachable, or was revoked) it grants a new one
// and calls `on_new_lease` again; on other errors it retries after
// kEtcdLeaseRetryMs until the lease would have expired. The destructor stops the
// thread and revokes the lease (bounded by the client's request timeout), so the
// keys go at once. lease_id() is 0 while there is none. Thread-safe; the client
// must outlive it.
inline constexpr int64_t kEtcdLeaseRetryMs = 250;
inline constexpr int64_t kEtcdLeaseTtlSecondsMin = 2;

class EtcdLeaseKeeper {
 public:
  // ttl_seconds below kEtcdLeaseTtlSecondsMin is raised to it.
  EtcdLeaseKeeper(EtcdClient* etcd, int64_t ttl_seconds,
                  std::function<void(int64_t lease_id)> on_new_lease);
  ~EtcdLeaseKeeper();
  EtcdLeaseKeeper(const EtcdLeaseKeeper&) = delete;
  EtcdLeaseKeeper& operator=(const EtcdLeaseKeeper&) = delete;

  int64_t lease_id() const;
  // The last grant or renewal error (Ok after a success).
  nebu::Status last_error() const;

 private:
  void Run();
  struct State;
  std::unique_ptr<State> state_;
};

// The end of the range of keys starting with `prefix` ("a/" → "a0"; all 0xff → "\0").
std::string EtcdPrefixEnd(std::string_view prefix);

}  // namespace nebu::replication
