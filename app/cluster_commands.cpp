#include "app/cluster_commands.h"

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "app/cluster_join.h"
#include "app/cluster_runtime.h"
#include "app/config.h"
#include "app/exit_codes.h"
#include "app/http_get.h"
#include "replication/cluster_node.h"

namespace nebu::app {

namespace {

namespace json = boost::json;
using replication::RegisteredNode;

constexpr int kExitDifference = 1;
constexpr int kDigestTimeoutMs = 120'000;  // a digest reads the node's whole state
constexpr int kVerifyPollMs = 250;

void ClusterUsage() {
  std::fprintf(stderr,
               "usage: nebu cluster status | verify | forget <node-id> |\n"
               "       join [--from <node-id>] [--force]\n"
               "  (reads NEBU_ETCD_ENDPOINTS, NEBU_ETCD_PREFIX, NEBU_INTERNAL_SECRET, ...)\n");
}

int PrintStatus(replication::EtcdClient& etcd, const Config& config) {
  int64_t head = 0;
  auto nodes = replication::ClusterNode::ReadNodes(etcd, config.cluster.etcd_prefix, &head);
  if (!nodes.ok()) {
    std::fprintf(stderr, "nebu: cluster status: %s\n", nodes.status().ToString().c_str());
    return kExitDifference;
  }
  auto trimmed = etcd.Range(config.cluster.etcd_prefix + "/trimmed", {});
  std::string trim_point = trimmed.ok() && !trimmed->kvs.empty() ? trimmed->kvs[0].value : "0";
  while (trim_point.size() > 1 && trim_point[0] == '0') trim_point.erase(0, 1);
  std::printf("cluster prefix %s, log head revision %lld, history trimmed through %s\n",
              config.cluster.etcd_prefix.c_str(), static_cast<long long>(head),
              trim_point.c_str());
  std::printf("%-20s %-5s %10s %10s %8s %-22s %-22s %s\n", "node", "live", "applied", "durable",
              "lag", "client", "ops", "version");
  for (const RegisteredNode& n : *nodes) {
    std::printf("%-20s %-5s %10lld %10lld %8lld %-22s %-22s %s\n", n.id.c_str(),
                n.live ? "yes" : "no", static_cast<long long>(n.applied_revision),
                static_cast<long long>(n.durable_revision),
                static_cast<long long>(head > n.applied_revision ? head - n.applied_revision : 0),
                n.client_addr.c_str(), n.ops_addr.c_str(), n.version.c_str());
  }
  return kExitOk;
}

struct NodeDigest {
  std::string id;
  int64_t revision = 0;
  int64_t index = 0;
  json::object body;
};

Result<NodeDigest> FetchDigest(const RegisteredNode& node, const std::string& secret) {
  NEBU_ASSIGN_OR_RETURN(HttpGetReply reply,
                        HttpGet(node.ops_addr, "/internal/digest",
                                {"Authorization: Bearer " + secret}, kDigestTimeoutMs));
  if (reply.status != 200) {
    return Status::Unavailable("node " + node.id + " answered " + std::to_string(reply.status) +
                               ": " + reply.body.substr(0, 200));
  }
  boost::system::error_code ec;
  json::value v = json::parse(reply.body, ec);
  if (ec || !v.is_object()) return Status::Unavailable("node " + node.id + ": not JSON");
  NodeDigest d;
  d.id = node.id;
  d.body = v.as_object();
  d.revision = d.body["applied_revision"].to_number<int64_t>();
  d.index = d.body["applied_index"].to_number<int64_t>();
  return d;
}

// Prints every difference between `a` and `b` under `field` (an object of name → hex).
int CompareField(const NodeDigest& a, const NodeDigest& b, std::string_view field) {
  int differences = 0;
  const json::object empty;
  const json::value* fa = a.body.if_contains(field);
  const json::value* fb = b.body.if_contains(field);
  const json::object& oa = fa && fa->is_object() ? fa->as_object() : empty;
  const json::object& ob = fb && fb->is_object() ? fb->as_object() : empty;
  std::set<std::string> names;
  for (const auto& kv : oa) names.insert(std::string(kv.key()));
  for (const auto& kv : ob) names.insert(std::string(kv.key()));
  for (const std::string& name : names) {
    const json::value* va = oa.if_contains(name);
    const json::value* vb = ob.if_contains(name);
    if (va != nullptr && vb != nullptr && *va == *vb) continue;
    ++differences;
    std::printf("DIFFERENT %s %s: %s has %s, %s has %s\n", std::string(field).c_str(),
                name.c_str(), a.id.c_str(), va ? json::serialize(*va).c_str() : "nothing",
                b.id.c_str(), vb ? json::serialize(*vb).c_str() : "nothing");
  }
  return differences;
}

int ClusterVerify(replication::EtcdClient& etcd, const Config& config) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kVerifyWaitMs);
  std::vector<NodeDigest> digests;
  for (;;) {
    auto nodes = replication::ClusterNode::ReadNodes(etcd, config.cluster.etcd_prefix, nullptr);
    if (!nodes.ok()) {
      std::fprintf(stderr, "nebu: cluster verify: %s\n", nodes.status().ToString().c_str());
      return kExitDifference;
    }
    digests.clear();
    bool failed = false;
    for (const RegisteredNode& n : *nodes) {
      if (!n.live) {
        std::printf("skipping %s: not live\n", n.id.c_str());
        continue;
      }
      auto d = FetchDigest(n, config.cluster.internal_secret);
      if (!d.ok()) {
        std::fprintf(stderr, "nebu: cluster verify: %s\n", d.status().ToString().c_str());
        failed = true;
        break;
      }
      digests.push_back(std::move(*d));
    }
    bool same_point = !failed && !digests.empty();
    for (const NodeDigest& d : digests) {
      same_point = same_point && d.revision == digests[0].revision && d.index == digests[0].index;
    }
    if (same_point) break;
    if (std::chrono::steady_clock::now() > deadline) {
      std::fprintf(stderr,
                   "nebu: cluster verify: the live nodes did not reach one applied revision "
                   "within %d ms (is the cluster still taking writes?)\n",
                   kVerifyWaitMs);
      return kExitDifference;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(kVerifyPollMs));
  }
  int differences = 0;
  for (size_t i = 1; i < digests.size(); ++i) {
    differences += CompareField(digests[0], digests[i], "families");
    differences += CompareField(digests[0], digests[i], "rooms");
  }
  std::printf("%zu nodes at revision %lld (applied index %lld): %s\n", digests.size(),
              static_cast<long long>(digests[0].revision),
              static_cast<long long>(digests[0].index),
              differences == 0 ? "identical" : "DIFFERENT");
  if (differences == 0) {
    std::printf("state digest %s\n",
                json::serialize(digests[0].body["digest"]).c_str());
  }
  return differences == 0 ? kExitOk : kExitDifference;
}

}  // namespace

bool IsClusterCommand(std::string_view command) { return command == "cluster"; }

int RunClusterCommand(const std::vector<std::string_view>& args) {
  const bool status = args.size() == 2 && args[1] == "status";
  const bool verify = args.size() == 2 && args[1] == "verify";
  const bool forget = args.size() == 3 && args[1] == "forget";
  if (args.size() >= 2 && args[1] == "join") return RunJoinCommand(args);
  if (!status && !verify && !forget) {
    ClusterUsage();
    return kExitUsage;
  }
  std::optional<Config> config = LoadClusterCommandConfig("cluster");
  if (!config) return kExitUsage;
  auto etcd = replication::EtcdClient::Create(EtcdOptions(config->cluster));
  if (!etcd.ok()) {
    std::fprintf(stderr, "nebu: cluster: %s\n", etcd.status().ToString().c_str());
    return kExitUsage;
  }
  if (status) return PrintStatus(**etcd, *config);
  if (verify) return ClusterVerify(**etcd, *config);
  nebu::Status s = replication::ClusterNode::Forget(**etcd, config->cluster.etcd_prefix,
                                                    std::string(args[2]));
  if (!s.ok()) {
    std::fprintf(stderr, "nebu: cluster forget: %s\n", s.ToString().c_str());
    return kExitDifference;
  }
  std::printf("forgot %s\n", std::string(args[2]).c_str());
  return kExitOk;
}

}  // namespace nebu::app
