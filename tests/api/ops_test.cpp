// Goal: the ops listener's cluster surfaces (api/ops.h, api/cluster_view.h): /health
// lists cluster_nodes, /ready carries the "cluster" section (and is 503 behind the
// compaction point), /internal/nodes answers only to the pre-shared key and is 404
// without a cluster. Method: the real Server on loopback with a fake ClusterView whose
// answers the test sets; requests over HTTP with TestHttpClient.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <memory>
#include <mutex>

#include "api/cluster_view.h"
#include "api/metrics.h"
#include "api/ops.h"
#include "api/router.h"
#include "api/server.h"
#include "test_http_client.h"

namespace nebu::api {
namespace {

using testing::TestHttpClient;
namespace json = boost::json;

const std::string kOpsSecret = "0123456789abcdef0123456789abcdef-secret";

// A working fake: the registry state the test sets.
class FakeClusterView : public ClusterView {
 public:
  std::string NodeId() const override { return "node-1"; }
  std::vector<NodeInfo> Nodes() const override {
    std::lock_guard lock(mutex_);
    return nodes_;
  }
  ClusterHealth Health() const override {
    std::lock_guard lock(mutex_);
    return health_;
  }
  void Set(std::vector<NodeInfo> nodes, ClusterHealth health) {
    std::lock_guard lock(mutex_);
    nodes_ = std::move(nodes);
    health_ = health;
  }

 private:
  mutable std::mutex mutex_;
  std::vector<NodeInfo> nodes_;
  ClusterHealth health_;
};

NodeInfo Node(std::string id, int64_t revision) {
  return {.id = id,
          .client_addr = "127.0.0.1:8008",
          .ops_addr = "127.0.0.1:8080",
          .grpc_addr = "127.0.0.1:9000",
          .applied_revision = revision,
          .version = "0.1.0",
          .incarnation = 7,
          .last_seen_ms = 1'700'000'000'000};
}

class OpsClusterTest : public ::testing::Test {
 protected:
  // `view` null: a single node.
  void Start(const ClusterView* view, std::string secret = kOpsSecret) {
    router_ = std::make_unique<Router>("ops", &metrics_);
    AddOpsRoutes(*router_, metrics_, AlwaysReady,
                 {.view = view, .internal_secret = std::move(secret)});
    auto server = Server::Start({{.address = "127.0.0.1", .port = 0, .router = router_.get()}},
                                {.threads = 1});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  testing::HttpReply Get(std::string_view target,
                         std::optional<std::string_view> token = std::nullopt,
                         const std::vector<std::string>& headers = {}) {
    TestHttpClient client(server_->port(0));
    return client.Call("GET", target, {}, token, headers);
  }

  FakeClusterView view_;
  Metrics metrics_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<Server> server_;  // declared last: stopped before the router goes
};

TEST_F(OpsClusterTest, HealthListsTheClusterNodes) {
  view_.Set({Node("node-1", 10), Node("node-2", 9)}, {});
  Start(&view_);
  auto health = Get("/health");
  ASSERT_EQ(health.status, 200) << health.body;
  EXPECT_EQ(health.Json(), json::parse(R"({"status":"ok","cluster_nodes":["node-1","node-2"]})"));
}

TEST_F(OpsClusterTest, ReadyCarriesTheClusterSection) {
  view_.Set({Node("node-1", 10)}, {.etcd_reachable = true, .applied_revision = 10,
                                   .head_revision = 12});
  Start(&view_);
  auto ready = Get("/ready");
  ASSERT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.Json(), json::parse(R"({"status":"ready","cluster":{"etcd":"ok",
      "node_id":"node-1","applied_revision":10,"head_revision":12,"lag":2,
      "behind_compaction":false},"core_status":"GRÜN","degraded":[]})"));
  // etcd down: reads are still served, so the node stays ready and says why writes fail.
  view_.Set({Node("node-1", 10)}, {.etcd_reachable = false, .applied_revision = 10});
  ready = Get("/ready");
  ASSERT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.Json().at("cluster").at("etcd"), "unreachable");
  EXPECT_EQ(ready.Json().at("cluster").at("lag"), 0);
  EXPECT_EQ(ready.Json().at("core_status"), "GELB");
  EXPECT_EQ(ready.Json().at("degraded"), json::parse(R"(["etcd_unreachable"])"));
  // Behind the compaction point: it applies nothing more, so it is not ready.
  view_.Set({}, {.etcd_reachable = true, .applied_revision = 10, .head_revision = 5000,
                 .behind_compaction = true});
  ready = Get("/ready");
  ASSERT_EQ(ready.status, 503) << ready.body;
  EXPECT_EQ(ready.Json().at("status"), "behind_compaction");
  EXPECT_EQ(ready.Json().at("cluster").at("lag"), 4990);
  EXPECT_EQ(ready.Json().at("core_status"), "ROT");
}

// A peer this node saw registered and that is gone makes the node GELB (still 200);
// it stays GELB until the peer is back.
TEST_F(OpsClusterTest, AMissingPeerMakesTheNodeDegraded) {
  view_.Set({Node("node-1", 10), Node("node-2", 10)}, {.applied_revision = 10,
                                                       .head_revision = 10});
  Start(&view_);
  auto ready = Get("/ready");
  ASSERT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.Json().at("core_status"), "GRÜN");
  view_.Set({Node("node-1", 10)}, {.applied_revision = 10, .head_revision = 10});
  ready = Get("/ready");
  ASSERT_EQ(ready.status, 200) << ready.body;
  EXPECT_EQ(ready.Json().at("core_status"), "GELB");
  EXPECT_EQ(ready.Json().at("degraded"), json::parse(R"(["peer_missing:node-2"])"));
  // This node itself missing from the registry (its lease lapsed) is degraded too.
  view_.Set({Node("node-2", 10)}, {.applied_revision = 10, .head_revision = 10});
  ready = Get("/ready");
  EXPECT_EQ(ready.Json().at("degraded"), json::parse(R"(["not_registered"])"));
  view_.Set({Node("node-1", 10), Node("node-2", 10)}, {.applied_revision = 10,
                                                       .head_revision = 10});
  EXPECT_EQ(Get("/ready").Json().at("core_status"), "GRÜN");
}

// The probe's own sections decide GELB: PostgreSQL down, the projection lagging.
TEST(CoreStatusTest, PostgresDownOrLaggingIsYellowAndNotReadyIsRed) {
  auto status = [](const char* body, bool ready = true) {
    std::vector<std::string> degraded;
    Readiness readiness{.ready = ready, .body = json::parse(body).as_object()};
    CoreStatus s = CoreStatusOf(readiness, {}, &degraded);
    std::string out(CoreStatusName(s));
    for (const std::string& reason : degraded) out += " " + reason;
    return out;
  };
  EXPECT_EQ(status(R"({"status":"ready"})"), "GRÜN");
  EXPECT_EQ(status(R"({"migrations":{"status":"UP"},"projector":{"state":"live","lag_ms":10}})"),
            "GRÜN");
  EXPECT_EQ(status(R"({"migrations":{"status":"RETRYING"},"projector":{"state":"stopped"}})"),
            "GELB postgres_down");
  EXPECT_EQ(status(R"({"migrations":{"status":"UP"},"projector":{"state":"retrying"}})"),
            "GELB postgres_down");
  EXPECT_EQ(status(R"({"migrations":{"status":"UP"},"projector":{"state":"catching_up",
      "lag_ms":30001}})"),
            "GELB projection_lagging");
  EXPECT_EQ(status(R"({"status":"writes_stopped"})", false), "ROT");
  std::vector<std::string> degraded;
  EXPECT_EQ(CoreStatusOf(AlwaysReady(), {"node-3"}, &degraded), CoreStatus::kYellow);
  EXPECT_EQ(degraded, std::vector<std::string>{"peer_missing:node-3"});
}

TEST_F(OpsClusterTest, InternalNodesAnswersThePreSharedKeyOnly) {
  view_.Set({Node("node-1", 10), Node("node-2", 9)}, {});
  Start(&view_);
  auto list = Get("/internal/nodes", kOpsSecret);
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.Json().at("nodes").as_array().size(), 2u);
  EXPECT_EQ(list.Json().at("nodes").at(1), json::parse(R"({"node_id":"node-2",
      "client_addr":"127.0.0.1:8008","ops_addr":"127.0.0.1:8080","grpc_addr":"127.0.0.1:9000",
      "applied_revision":9,"version":"0.1.0","incarnation":7,"last_seen_ms":1700000000000})"));
  auto one = Get("/internal/nodes/node-2", kOpsSecret);
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.Json().at("node_id"), "node-2");
  auto unknown = Get("/internal/nodes/node-9", kOpsSecret);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(unknown.Errcode(), "M_NOT_FOUND");

  for (const char* target : {"/internal/nodes", "/internal/nodes/node-1"}) {
    auto none = Get(target);
    EXPECT_EQ(none.status, 401) << target;
    EXPECT_EQ(none.Errcode(), "M_MISSING_TOKEN");
    auto basic = Get(target, std::nullopt, {"Authorization: Basic " + kOpsSecret});
    EXPECT_EQ(basic.status, 401) << target;
    for (const std::string& wrong : {kOpsSecret + "x", kOpsSecret.substr(0, kOpsSecret.size() - 1),
                                     std::string("x") + kOpsSecret.substr(1), std::string("a")}) {
      auto refused = Get(target, wrong);
      EXPECT_EQ(refused.status, 403) << target << " " << wrong;
      EXPECT_EQ(refused.Errcode(), "M_FORBIDDEN");
      EXPECT_EQ(refused.body.find("node-1"), std::string::npos);
    }
  }
}

TEST_F(OpsClusterTest, AViewWithoutASecretRefusesEveryone) {
  view_.Set({Node("node-1", 10)}, {});
  Start(&view_, "");
  EXPECT_EQ(Get("/internal/nodes", "").status, 401);
  EXPECT_EQ(Get("/internal/nodes", kOpsSecret).status, 403);
}

TEST_F(OpsClusterTest, WithoutAClusterInternalNodesIsNotFoundAndHealthIsUnchanged) {
  Start(nullptr);
  for (const char* target : {"/internal/nodes", "/internal/nodes/node-1"}) {
    auto reply = Get(target, kOpsSecret);
    EXPECT_EQ(reply.status, 404) << target;
    EXPECT_EQ(reply.Errcode(), "M_NOT_FOUND");
  }
  EXPECT_EQ(Get("/health").Json(), json::parse(R"({"status":"ok"})"));
  EXPECT_EQ(Get("/ready").Json(),
            json::parse(R"({"status":"ready","core_status":"GRÜN","degraded":[]})"));
}

// A counter another module keeps (the etcd bus's dropped updates) is read at each scrape.
TEST_F(OpsClusterTest, MetricsServesACounterFunctionWithItsCurrentValue) {
  std::atomic<uint64_t> dropped{0};
  metrics_.AddCounterFunction("nebu_ephemeral_updates_dropped_total", "dropped updates",
                              [&dropped] { return static_cast<double>(dropped.load()); });
  Start(nullptr);
  auto before = Get("/metrics");
  ASSERT_EQ(before.status, 200);
  EXPECT_NE(before.body.find("# TYPE nebu_ephemeral_updates_dropped_total counter\n"
                             "nebu_ephemeral_updates_dropped_total 0\n"),
            std::string::npos)
      << before.body;
  dropped = 3;
  auto after = Get("/metrics");
  EXPECT_NE(after.body.find("\nnebu_ephemeral_updates_dropped_total 3\n"), std::string::npos)
      << after.body;
  EXPECT_NE(after.body.find("nebu_http_requests_total"), std::string::npos);
}

}  // namespace
}  // namespace nebu::api
