#include "replication/cluster_node.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "engine/common/crypto.h"

namespace nebu::replication {

namespace {

namespace json = boost::json;
using Ms = std::chrono::milliseconds;

constexpr size_t kClusterIdBytes = 16;  // 32 hex digits

int64_t NowMs() {
  return std::chrono::duration_cast<Ms>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Result<std::string> ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Status::IoError("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  std::string s = text.str();
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Writes `path` durably: a temporary file, fsync, rename, fsync of the directory.
Status WriteFileDurably(const std::string& dir, const std::string& name,
                        const std::string& contents) {
  const std::string tmp = dir + "/." + name + ".tmp";
  const std::string path = dir + "/" + name;
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return Status::IoError("cannot create " + tmp);
  const std::string line = contents + "\n";
  bool ok = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return Status::IoError("cannot write " + path);
  }
  int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

int64_t IntField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr) return 0;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(v->as_uint64());
  return 0;
}

std::string StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

// Fills `node` from a registry or member record's JSON; bad JSON leaves it as is (a
// record written by a newer or broken node must not stop the registry).
void MergeNodeJson(std::string_view text, RegisteredNode* node) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return;
  const json::object& o = v.as_object();
  if (std::string s = StringField(o, "client_addr"); !s.empty()) node->client_addr = s;
  if (std::string s = StringField(o, "ops_addr"); !s.empty()) node->ops_addr = s;
  if (std::string s = StringField(o, "grpc_addr"); !s.empty()) node->grpc_addr = s;
  if (std::string s = StringField(o, "version"); !s.empty()) node->version = s;
  if (const json::value* inc = o.if_contains("incarnation"); inc && inc->is_string()) {
    node->incarnation = std::strtoull(std::string(inc->as_string()).c_str(), nullptr, 10);
  }
  node->applied_revision = std::max(node->applied_revision, IntField(o, "applied_revision"));
  node->durable_revision = std::max(node->durable_revision, IntField(o, "durable_revision"));
  node->last_seen_ms = std::max(node->last_seen_ms, IntField(o, "last_seen_ms"));
}

}  // namespace

ClusterNode::ClusterNode(ClusterNodeOptions options) : options_(std::move(options)) {}

ClusterNode::~ClusterNode() { Stop(); }

Result<std::unique_ptr<ClusterNode>> ClusterNode::Open(ClusterNodeOptions options) {
  std::unique_ptr<ClusterNode> node(new ClusterNode(std::move(options)));
  NEBU_ASSIGN_OR_RETURN(node->etcd_, EtcdClient::Create(node->options_.etcd));
  NEBU_RETURN_IF_ERROR(node->CheckClusterId());
  node->log_ = std::make_unique<EtcdLog>(node->etcd_.get(), node->options_.prefix);
  node->incarnation_ = NewIncarnation();
  return node;
}

Status ClusterNode::CheckClusterId() {
  const std::string& dir = options_.data_dir;
  const std::string id_path = dir + "/cluster_id";
  std::error_code ec;
  std::string local;
  if (std::filesystem::exists(id_path, ec)) {
    NEBU_ASSIGN_OR_RETURN(local, ReadSmallFile(id_path));
  } else if (std::filesystem::exists(dir + "/db", ec)) {
    return Status::InvalidArgument(
        "the data directory " + dir +
        " holds a single node's state (no cluster_id): a cluster node starts from an empty "
        "data directory or from a peer's checkpoint");
  }
  // The first node to start with an empty prefix creates the ID; everyone else reads it.
  const std::string key = options_.prefix + "/cluster_id";
  const std::string fresh = HexEncode(RandomBytes(kClusterIdBytes));
  const auto deadline = std::chrono::steady_clock::now() + Ms(kClusterOpenTimeoutMs);
  Result<EtcdPutIfAbsentResult> put = Status::Unavailable("not tried");
  for (int64_t backoff = 100;; backoff = std::min<int64_t>(backoff * 2, 2000)) {
    put = etcd_->PutIfAbsent(key, fresh);
    if (put.ok() || put.status().code() != StatusCode::kUnavailable ||
        std::chrono::steady_clock::now() + Ms(backoff) > deadline) {
      break;
    }
    std::this_thread::sleep_for(Ms(backoff));
  }
  if (!put.ok()) return put.status();
  NEBU_ASSIGN_OR_RETURN(EtcdRangeResult got, etcd_->Range(key, {}));
  if (got.kvs.empty()) return Status::Internal("cluster_id vanished from etcd");
  cluster_id_ = got.kvs[0].value;
  // A data directory of a cluster never adopts a new, empty prefix: its state was
  // built from another log.
  if (!local.empty() && local != cluster_id_) {
    return Status::InvalidArgument("the data directory " + dir + " belongs to cluster " + local +
                                   ", but etcd prefix " + options_.prefix + " holds cluster " +
                                   cluster_id_);
  }
  if (local.empty()) {
    std::filesystem::create_directories(dir, ec);
    std::filesystem::permissions(dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, ec);
    NEBU_RETURN_IF_ERROR(WriteFileDurably(dir, "cluster_id", cluster_id_));
  }
  return Status::Ok();
}

Result<uint64_t> ClusterNode::HoldTrimForJoin() {
  NEBU_ASSIGN_OR_RETURN(uint64_t trimmed, log_->TrimmedThrough());
  const std::string record = NodeJson(0, static_cast<int64_t>(trimmed));
  NEBU_RETURN_IF_ERROR(
      etcd_->Put(options_.prefix + "/members/" + options_.node_id, record).status());
  return trimmed;
}

Status ClusterNode::ReleaseJoinHold() {
  return etcd_->DeleteRange(options_.prefix + "/members/" + options_.node_id, false).status();
}

Result<std::unique_ptr<core::Committer>> ClusterNode::MakeCommitter(core::Applier& applier) {
  NEBU_CHECK(committer_ == nullptr, "MakeCommitter called twice");
  ReplicatedCommitterOptions committer_options = options_.committer;
  committer_options.node_id = options_.node_id;
  committer_options.incarnation = incarnation_;
  auto committer = std::make_unique<ReplicatedCommitter>(*log_, applier, committer_options);
  committer_ = committer.get();
  applier_ = &applier;
  return std::unique_ptr<core::Committer>(std::move(committer));
}

uint64_t ClusterNode::applied_revision() const {
  NEBU_CHECK(committer_ != nullptr, "applied_revision before MakeCommitter");
  return committer_->applied_revision();
}

bool ClusterNode::WaitApplied(uint64_t revision,
                              std::chrono::steady_clock::time_point deadline) const {
  NEBU_CHECK(committer_ != nullptr, "WaitApplied before MakeCommitter");
  return committer_->WaitApplied(revision, deadline);
}

void ClusterNode::StartRegistry() {
  NEBU_CHECK(committer_ != nullptr, "StartRegistry before MakeCommitter");
  registry_thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "nebu-registry");
    RegistryLoop();
  });
}

void ClusterNode::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (registry_thread_.joinable()) registry_thread_.join();
  if (lease_id_ != 0) (void)etcd_->LeaseRevoke(lease_id_, Ms(1000));
}

void ClusterNode::RegistryLoop() {
  for (;;) {
    Status s = RefreshOnce();
    {
      std::unique_lock lock(mu_);
      etcd_reachable_ = s.code() != StatusCode::kUnavailable;
      if (stop_cv_.wait_for(lock, Ms(options_.registry_period_ms), [this] { return stopping_; })) {
        return;
      }
    }
  }
}

std::string ClusterNode::NodeJson(int64_t applied, int64_t durable) const {
  json::object o;
  o["node_id"] = options_.node_id;
  o["client_addr"] = options_.client_addr;
  o["ops_addr"] = options_.ops_addr;
  o["grpc_addr"] = options_.grpc_addr;
  o["version"] = options_.version;
  o["incarnation"] = std::to_string(incarnation_);  // 64 bits: a string for JSON readers
  o["applied_revision"] = applied;
  o["durable_revision"] = durable;
  o["last_seen_ms"] = NowMs();
  return json::serialize(o);
}

Status ClusterNode::RefreshOnce() {
  // What this node has applied, and what it needs no more even after a restart (a
  // skipped duplicate is not recorded; a partly applied group counts one revision
  // less): read it first, then fsync, so it is on disk before the member record says so.
  const auto applied = static_cast<int64_t>(committer_->applied_revision());
  const auto trim_safe = static_cast<int64_t>(committer_->trim_safe_revision());
  const Status synced = applier_->SyncApplied();
  const int64_t durable = synced.ok() ? trim_safe : std::max<int64_t>(published_durable_, 0);
  if (lease_id_ == 0 || !etcd_->LeaseKeepAliveOnce(lease_id_).ok()) {
    NEBU_ASSIGN_OR_RETURN(EtcdLease lease, etcd_->LeaseGrant(kNodeLeaseTtlSeconds));
    lease_id_ = lease.id;
  }
  const std::string record = NodeJson(applied, durable);
  NEBU_RETURN_IF_ERROR(
      etcd_->Put(options_.prefix + "/nodes/" + options_.node_id, record, lease_id_).status());
  if (durable != published_durable_) {
    NEBU_RETURN_IF_ERROR(
        etcd_->Put(options_.prefix + "/members/" + options_.node_id, record).status());
    published_durable_ = durable;
  }
  int64_t head = 0;
  NEBU_ASSIGN_OR_RETURN(std::vector<RegisteredNode> nodes,
                        ReadNodes(*etcd_, options_.prefix, &head));
  std::vector<RegisteredNode> live;
  for (const RegisteredNode& n : nodes) {
    if (n.live) live.push_back(n);
  }
  {
    std::lock_guard lock(mu_);
    nodes_ = live;
  }
  return TrimIfLowest(nodes);
}

Status ClusterNode::TrimIfLowest(const std::vector<RegisteredNode>& nodes) {
  bool lowest = false;
  for (const RegisteredNode& n : nodes) {
    if (!n.live) continue;
    lowest = n.id == options_.node_id;  // nodes are sorted: the first live one decides
    break;
  }
  if (!lowest) return Status::Ok();
  int64_t floor = INT64_MAX;
  for (const RegisteredNode& n : nodes) floor = std::min(floor, n.durable_revision);
  if (floor == INT64_MAX || floor <= 0) return Status::Ok();
  NEBU_ASSIGN_OR_RETURN(uint64_t trimmed, log_->TrimmedThrough());
  if (static_cast<uint64_t>(floor) < trimmed + kTrimSlackRevisions) return Status::Ok();
  return log_->Trim(static_cast<uint64_t>(floor));
}

Result<std::vector<RegisteredNode>> ClusterNode::ReadNodes(EtcdClient& etcd,
                                                           const std::string& prefix,
                                                           int64_t* head_revision) {
  std::map<std::string, RegisteredNode> by_id;
  for (const char* folder : {"/members/", "/nodes/"}) {
    const std::string dir = prefix + folder;
    NEBU_ASSIGN_OR_RETURN(EtcdRangeResult got, etcd.Range(dir, {.prefix = true}));
    for (const EtcdKeyValue& kv : got.kvs) {
      const std::string id = kv.key.substr(dir.size());
      RegisteredNode& node = by_id[id];
      node.id = id;
      MergeNodeJson(kv.value, &node);
      if (std::string_view(folder) == "/nodes/") node.live = true;
    }
  }
  std::vector<RegisteredNode> out;
  out.reserve(by_id.size());
  for (auto& entry : by_id) out.push_back(std::move(entry.second));
  if (head_revision != nullptr) {
    // The log's head: the newest group's revision (etcd's own revision also counts
    // registry writes); with every group trimmed, the furthest node.
    NEBU_ASSIGN_OR_RETURN(EtcdRangeResult last,
                          etcd.Range(prefix + "/log/", {.prefix = true,
                                                        .limit = 1,
                                                        .keys_only = true,
                                                        .sort_order = EtcdSortOrder::kDescend,
                                                        .sort_target = EtcdSortTarget::kMod}));
    *head_revision = last.kvs.empty() ? 0 : last.kvs[0].mod_revision;
    for (const RegisteredNode& n : out) {
      *head_revision = std::max(*head_revision, n.applied_revision);
    }
  }
  return out;
}

Status ClusterNode::Forget(EtcdClient& etcd, const std::string& prefix, const std::string& id) {
  NEBU_ASSIGN_OR_RETURN(EtcdRangeResult live, etcd.Range(prefix + "/nodes/" + id, {}));
  if (!live.kvs.empty()) {
    return Status::InvalidArgument("node " + id + " is live: stop it before forgetting it");
  }
  NEBU_ASSIGN_OR_RETURN(int64_t deleted, etcd.DeleteRange(prefix + "/members/" + id, false));
  if (deleted == 0) return Status::NotFound("node " + id + " has no member record");
  return Status::Ok();
}

std::vector<RegisteredNode> ClusterNode::Nodes() const {
  std::lock_guard lock(mu_);
  return nodes_;
}

ClusterHealthView ClusterNode::Health() const {
  ClusterHealthView health;
  {
    std::lock_guard lock(mu_);
    health.etcd_reachable = etcd_reachable_;
  }
  if (committer_ != nullptr) {
    health.applied_revision = static_cast<int64_t>(committer_->applied_revision());
    health.head_revision = std::max(health.applied_revision,
                                    static_cast<int64_t>(committer_->last_seen_revision()));
    const Status ws = committer_->write_status();
    if (!ws.ok() && ws.code() == StatusCode::kUnavailable &&
        ws.message().find("etcd unreachable") != std::string::npos) {
      health.etcd_reachable = false;
    }
    health.behind_trim = ws.code() == StatusCode::kNotFound;
  }
  return health;
}

}  // namespace nebu::replication
