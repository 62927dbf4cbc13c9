// Goal: a cluster node's /metrics shows the cluster's figures, not a single node's
// zeros. nebu_commit_group_size (commands per Append to etcd) and
// nebu_commit_groups_total count this node's groups, nebu_commit_seconds its commits;
// the single-node-only series (nebu_committed_index, nebu_apply_lag_commands, the
// empty local commit log's db="log" RocksDB gauges) are left out and the cluster's
// revisions are there instead; the whole text passes `promtool check metrics`.
// Method: two real nebu nodes over a one-member etcd on loopback, sends through both.
// Skipped without etcd (failed with NEBU_TEST_ETCD_REQUIRED=1), as cluster_test.cpp.
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "engine/testing/free_port.h"
#include "tests/cluster/etcd_process.h"
#include "tests/security/metrics_util.h"
#include "tests/security/nebu_process.h"

namespace nebu::cluster_testing {
namespace {

using nebu::testing::FreeLoopbackPort;

using api::testing::HttpReply;
using security::NebuProcess;
using security::SampleValue;
namespace json = boost::json;

constexpr int kMetricsNodes = 2;
constexpr int kSendsPerNode = 5;

HttpReply CallNode(const NebuProcess& node, const std::string& method, const std::string& path,
                   const std::string& token, const std::string& body) {
  api::testing::TestHttpClient client(node.client_port());
  if (!client.connected()) return {};
  std::optional<std::string_view> bearer;
  if (!token.empty()) bearer = token;
  return client.Call(method, "/_matrix/client/v3" + path, body, bearer);
}

std::string Metrics(const NebuProcess& node) {
  api::testing::TestHttpClient client(node.ops_port());
  HttpReply r = client.connected() ? client.Call("GET", "/metrics") : HttpReply{};
  EXPECT_EQ(r.status, 200);
  return r.body;
}

class ClusterMetricsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NEBU_REQUIRE_ETCD_BINARY();
    etcd_ = std::make_unique<EtcdCluster>(dir_.path() + "/etcd", 1);
    ASSERT_TRUE(etcd_->Start()) << "etcd did not elect a leader";
    for (int i = 0; i < kMetricsNodes; ++i) {
      nodes_[i] = std::make_unique<NebuProcess>();
      ASSERT_TRUE(nodes_[i]->Start(
          dir_.path() + "/node" + std::to_string(i + 1),
          {{"NEBU_ETCD_ENDPOINTS", etcd_->Endpoints()},
           {"NEBU_ETCD_PREFIX", "/nebu-metrics-test"},
           {"NEBU_NODE_ID", "node" + std::to_string(i + 1)},
           {"NEBU_GRPC_ADDR", "127.0.0.1:" + std::to_string(FreeLoopbackPort())},
           {"NEBU_INTERNAL_SECRET", "cluster-metrics-secret-0123456789abcdef"}}));
    }
  }
  void TearDown() override {
    if (!HasFailure()) return;
    for (const auto& node : nodes_) {
      if (node) std::cerr << "---- node log ----\n" << node->Log() << "\n";
    }
  }

  nebu::testing::TempDir dir_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::unique_ptr<NebuProcess> nodes_[kMetricsNodes];
};

TEST_F(ClusterMetricsTest, ANodeCountsItsOwnCommitGroupsAndLeavesSingleNodeSeriesOut) {
  for (int i = 0; i < kMetricsNodes; ++i) {
    const std::string name = "user" + std::to_string(i);
    HttpReply reg = CallNode(*nodes_[i], "POST", "/register", "",
                             json::serialize(json::object{{"username", name},
                                                          {"password", "password-" + name},
                                                          {"auth", {{"type", "m.login.dummy"}}}}));
    ASSERT_EQ(reg.status, 200) << reg.body;
    const std::string token(reg.Json().at("access_token").as_string());
    HttpReply room = CallNode(*nodes_[i], "POST", "/createRoom", token, "{}");
    ASSERT_EQ(room.status, 200) << room.body;
    const std::string room_id(room.Json().at("room_id").as_string());
    for (int s = 0; s < kSendsPerNode; ++s) {
      HttpReply sent = CallNode(
          *nodes_[i], "PUT",
          "/rooms/" + api::testing::PercentEncode(room_id) + "/send/m.room.message/t" +
              std::to_string(s),
          token, R"({"msgtype":"m.text","body":"hello"})");
      ASSERT_EQ(sent.status, 200) << sent.body;
    }
  }
  for (int i = 0; i < kMetricsNodes; ++i) {
    SCOPED_TRACE("node" + std::to_string(i + 1));
    const std::string text = Metrics(*nodes_[i]);
    // Every send (and register, createRoom) was a command of this node's own groups.
    const std::optional<double> groups = SampleValue(text, "nebu_commit_group_size_count");
    const std::optional<double> commands = SampleValue(text, "nebu_commit_group_size_sum");
    ASSERT_TRUE(groups.has_value() && commands.has_value()) << text.substr(0, 4000);
    EXPECT_GT(*groups, 0);
    EXPECT_GE(*commands, kSendsPerNode + 2);
    EXPECT_GE(*commands, *groups);
    // Read after the histogram, so a group committed meanwhile may count here only.
    EXPECT_GE(SampleValue(text, "nebu_commit_groups_total").value_or(0), *groups);
    EXPECT_EQ(SampleValue(text, "nebu_commit_group_size_bucket{le=\"+Inf\"}"), groups);
    EXPECT_TRUE(SampleValue(text, "nebu_commit_group_size_bucket{le=\"4096\"}").has_value());
    EXPECT_GE(SampleValue(text, "nebu_commit_seconds_count").value_or(0), kSendsPerNode + 2);
    // The cluster's own series instead of a single node's zeros.
    EXPECT_GT(SampleValue(text, "nebu_cluster_applied_revision").value_or(0), 0);
    EXPECT_TRUE(SampleValue(text, "nebu_cluster_apply_lag_revisions").has_value());
    EXPECT_GT(SampleValue(text, "nebu_applied_index").value_or(0), 0);
    for (const char* absent : {"nebu_committed_index", "nebu_apply_lag_commands"}) {
      EXPECT_FALSE(security::HasFamily(text, absent)) << absent;
    }
    EXPECT_TRUE(SampleValue(text, "nebu_rocksdb_estimate_keys{db=\"state\"}").has_value());
    EXPECT_EQ(text.find("db=\"log\""), std::string::npos) << "the empty local commit log";
    const std::string report =
        security::PromtoolCheck(text, dir_.path() + "/metrics" + std::to_string(i) + ".txt");
    if (report == "skip") GTEST_SKIP() << "promtool not installed (Debian: prometheus)";
    EXPECT_EQ(report, "");
  }
}

}  // namespace
}  // namespace nebu::cluster_testing
