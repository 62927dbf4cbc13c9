// Goal: a client behind a load balancer reads its own writes on every node of a cluster
// (api/router.h "Catch-up on a miss"): a token registered on one node works at once on
// the others (never 401 M_UNKNOWN_TOKEN), a room created on one node takes a send at
// once on another (never 403), a room joined on one node takes a send there at once,
// an event sent on one node is readable at once on another (never 404); all while a
// concurrent send load makes the nodes lag. A genuinely forbidden send still gets 403
// M_FORBIDDEN on a cluster node, within the catch-up's bound; its latency is printed
// next to a 200 read's and a 200 send's under the same load (the cost of the barrier),
// and a burst of simultaneous refusals is refused in full (they share etcd reads).
// Method: three real nebu nodes over a real three-member etcd on loopback
// (etcd_process.h); every request goes to the node a round-robin balancer would pick.
// Skipped without etcd (failed with NEBU_TEST_ETCD_REQUIRED=1), as cluster_test.cpp.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "api/cluster_view.h"
#include "engine/testing/free_port.h"
#include "tests/cluster/etcd_process.h"
#include "tests/security/metrics_util.h"
#include "tests/security/nebu_process.h"

// A namespace of its own: in a unity build this file shares a translation unit with
// cluster_test.cpp and cluster_metrics_test.cpp.
namespace nebu::cluster_ryw_testing {
namespace {

using api::testing::HttpReply;
using cluster_testing::EtcdCluster;
using security::NebuProcess;
using RywClock = std::chrono::steady_clock;
namespace json = boost::json;

constexpr int kRywNodes = 3;
// Rounds of the read-your-writes loop, and its whole time bound.
constexpr int kRywRounds = 30;
constexpr int kRywLoopSecondsMax = 180;
// The background load: one sender per node in a room of its own.
constexpr int kRywLoadSendsEach = 400;
constexpr int kRywLoadSecondsMax = 200;
// Forbidden sends timed under load.
constexpr int kRywForbiddenTries = 20;
// Simultaneous forbidden sends (below api::kCatchUpRequestsMax: none is refused a catch-up).
constexpr int kRywBurstThreads = 16;

HttpReply RywCall(const NebuProcess& node, const std::string& method, const std::string& path,
                  const std::string& token = "", const std::string& body = "") {
  api::testing::TestHttpClient client(node.client_port());
  if (!client.connected()) return {};
  std::optional<std::string_view> bearer;
  if (!token.empty()) bearer = token;
  return client.Call(method, "/_matrix/client/v3" + path, body, bearer);
}

std::string RywEnc(std::string_view s) { return api::testing::PercentEncode(s); }

double RywMs(RywClock::duration d) {
  return std::chrono::duration<double, std::milli>(d).count();
}

double RywMedian(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

class ClusterReadYourWritesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NEBU_REQUIRE_ETCD_BINARY();
    etcd_ = std::make_unique<EtcdCluster>(dir_.path() + "/etcd", 3);
    ASSERT_TRUE(etcd_->Start()) << "etcd did not elect a leader";
    for (int i = 0; i < kRywNodes; ++i) {
      nodes_[i] = std::make_unique<NebuProcess>();
      ASSERT_TRUE(nodes_[i]->Start(
          dir_.path() + "/node" + std::to_string(i + 1),
          {{"NEBU_ETCD_ENDPOINTS", etcd_->Endpoints()},
           {"NEBU_ETCD_PREFIX", "/nebu-ryw-test"},
           {"NEBU_NODE_ID", "node" + std::to_string(i + 1)},
           {"NEBU_GRPC_ADDR",
            "127.0.0.1:" + std::to_string(nebu::testing::FreeLoopbackPort())},
           {"NEBU_INTERNAL_SECRET", "cluster-ryw-secret-0123456789abcdef"},
           {"NEBU_RATE_LIMIT", "off"}}));
    }
  }
  void TearDown() override {
    StopLoad();
    if (!HasFailure()) return;
    PrintCatchUps();
    for (const auto& node : nodes_) {
      if (node) std::cerr << "---- node log ----\n" << node->Log() << "\n";
    }
  }

  // Registers `name` on `node`; its access token ("" after a failure).
  std::string Register(int node, const std::string& name) {
    HttpReply r = RywCall(*nodes_[node], "POST", "/register", "",
                          json::serialize(json::object{{"username", name},
                                                       {"password", "password-" + name},
                                                       {"auth", {{"type", "m.login.dummy"}}}}));
    EXPECT_EQ(r.status, 200) << "register " << name << " on node " << node << ": " << r.body;
    return r.status == 200 ? std::string(r.Json().at("access_token").as_string()) : "";
  }
  HttpReply Send(int node, const std::string& token, const std::string& room,
                 const std::string& text) {
    return RywCall(*nodes_[node], "PUT",
                   "/rooms/" + RywEnc(room) + "/send/m.room.message/t" +
                       std::to_string(txn_.fetch_add(1)),
                   token, json::serialize(json::object{{"msgtype", "m.text"}, {"body", text}}));
  }
  std::string CreateRoom(int node, const std::string& token) {
    HttpReply r = RywCall(*nodes_[node], "POST", "/createRoom", token,
                          R"({"preset":"public_chat"})");
    EXPECT_EQ(r.status, 200) << "createRoom on node " << node << ": " << r.body;
    return r.status == 200 ? std::string(r.Json().at("room_id").as_string()) : "";
  }

  // One sender per node, each in a room of its own created on its node (so the load
  // needs no cross-node reads): every node applies every other node's groups.
  void StartLoad() {
    for (int i = 0; i < kRywNodes; ++i) {
      const std::string token = Register(i, "loader" + std::to_string(i));
      const std::string room = CreateRoom(i, token);
      ASSERT_FALSE(room.empty());
      load_.emplace_back([this, i, token, room] {
        const auto deadline = RywClock::now() + std::chrono::seconds(kRywLoadSecondsMax);
        for (int s = 0; s < kRywLoadSendsEach && !stop_load_ && RywClock::now() < deadline; ++s) {
          if (Send(i, token, room, "load " + std::to_string(s)).status == 200) load_sent_++;
        }
      });
    }
  }
  void StopLoad() {
    stop_load_ = true;
    for (std::thread& t : load_) {
      if (t.joinable()) t.join();
    }
  }

  double CatchUps(int node, std::string_view outcome) {
    api::testing::TestHttpClient client(nodes_[node]->ops_port());
    HttpReply r = client.connected() ? client.Call("GET", "/metrics") : HttpReply{};
    return security::SampleValue(r.body, "nebu_cluster_catchup_total{outcome=\"" +
                                             std::string(outcome) + "\"}")
        .value_or(0);
  }
  void PrintCatchUps() {
    for (int i = 0; i < kRywNodes; ++i) {
      std::cout << "node" << i + 1 << " catch-ups:";
      for (std::string_view outcome :
           {"not_behind", "changed", "unchanged", "still_behind", "unavailable", "busy"}) {
        std::cout << " " << outcome << "=" << CatchUps(i, outcome);
      }
      std::cout << "\n";
    }
  }

  nebu::testing::TempDir dir_;
  std::unique_ptr<EtcdCluster> etcd_;
  std::unique_ptr<NebuProcess> nodes_[kRywNodes];
  std::atomic<int> txn_{0};
  std::atomic<bool> stop_load_{false};
  std::atomic<int64_t> load_sent_{0};
  std::vector<std::thread> load_;
};

TEST_F(ClusterReadYourWritesTest, AClientReadsItsOwnWritesOnEveryNodeWhileTheNodesLag) {
  StartLoad();
  const auto deadline = RywClock::now() + std::chrono::seconds(kRywLoopSecondsMax);
  int rounds = 0;
  for (int r = 0; r < kRywRounds && RywClock::now() < deadline && !HasFailure(); ++r, ++rounds) {
    SCOPED_TRACE("round " + std::to_string(r));
    const int a = r % kRywNodes;
    const int b = (r + 1) % kRywNodes;
    const int c = (r + 2) % kRywNodes;
    // Register on a, use the token at once on b and c.
    const std::string owner = Register(a, "owner" + std::to_string(r));
    ASSERT_FALSE(owner.empty());
    for (int other : {b, c}) {
      HttpReply whoami = RywCall(*nodes_[other], "GET", "/account/whoami", owner);
      ASSERT_EQ(whoami.status, 200) << "whoami on node " << other << ": " << whoami.body;
    }
    // Create a room on a, send into it at once on b.
    const std::string room = CreateRoom(a, owner);
    ASSERT_FALSE(room.empty());
    HttpReply sent = Send(b, owner, room, "first");
    ASSERT_EQ(sent.status, 200) << "send on node " << b << ": " << sent.body;
    const std::string event_id(sent.Json().at("event_id").as_string());
    // A guest registered on c joins there, then sends there at once.
    const std::string guest = Register(c, "guest" + std::to_string(r));
    ASSERT_FALSE(guest.empty());
    HttpReply joined = RywCall(*nodes_[c], "POST", "/join/" + RywEnc(room), guest, "{}");
    ASSERT_EQ(joined.status, 200) << "join on node " << c << ": " << joined.body;
    HttpReply guest_sent = Send(c, guest, room, "hello from the guest");
    ASSERT_EQ(guest_sent.status, 200) << "guest send on node " << c << ": " << guest_sent.body;
    // The event sent on b is readable at once on c and on a.
    for (int other : {c, a}) {
      HttpReply event = RywCall(*nodes_[other], "GET",
                                "/rooms/" + RywEnc(room) + "/event/" + RywEnc(event_id), owner);
      ASSERT_EQ(event.status, 200) << "event on node " << other << ": " << event.body;
    }
  }
  StopLoad();
  EXPECT_GE(rounds, 10) << "too few rounds within " << kRywLoopSecondsMax << " s";
  std::cout << "rounds: " << rounds << ", load sends acknowledged: " << load_sent_.load() << "\n";
  PrintCatchUps();
  api::testing::TestHttpClient client(nodes_[0]->ops_port());
  HttpReply metrics = client.connected() ? client.Call("GET", "/metrics") : HttpReply{};
  ASSERT_TRUE(security::HasFamily(metrics.body, "nebu_cluster_catchup_total"));
  const std::string report = security::PromtoolCheck(metrics.body, dir_.path() + "/metrics.txt");
  if (report == "skip") GTEST_SKIP() << "promtool not installed (Debian: prometheus)";
  EXPECT_EQ(report, "");
}

TEST_F(ClusterReadYourWritesTest, AGenuinelyForbiddenSendIsStillRefusedQuicklyUnderLoad) {
  const std::string owner = Register(0, "owner");
  const std::string room = CreateRoom(0, owner);
  const std::string outsider = Register(1, "outsider");
  ASSERT_FALSE(room.empty());
  ASSERT_FALSE(outsider.empty());
  // Idle first: a refusal then costs one etcd read (the node is not behind).
  std::vector<double> idle_ms;
  for (int i = 0; i < kRywForbiddenTries; ++i) {
    const auto start = RywClock::now();
    HttpReply refused = Send(1, outsider, room, "not a member");
    idle_ms.push_back(RywMs(RywClock::now() - start));
    ASSERT_EQ(refused.status, 403) << refused.body;
  }
  StartLoad();
  std::vector<double> forbidden_ms, whoami_ms, own_send_ms;
  const std::string own_room = CreateRoom(1, outsider);
  ASSERT_FALSE(own_room.empty());
  for (int i = 0; i < kRywForbiddenTries; ++i) {
    auto start = RywClock::now();
    HttpReply refused = Send(1, outsider, room, "not a member");
    forbidden_ms.push_back(RywMs(RywClock::now() - start));
    ASSERT_EQ(refused.status, 403) << refused.body;
    EXPECT_EQ(refused.Json().at("errcode").as_string(), "M_FORBIDDEN");
    EXPECT_LT(forbidden_ms.back(), static_cast<double>(api::kCatchUpWaitMs) + 2000);
    start = RywClock::now();
    EXPECT_EQ(RywCall(*nodes_[1], "GET", "/account/whoami", outsider).status, 200);
    whoami_ms.push_back(RywMs(RywClock::now() - start));
    start = RywClock::now();
    EXPECT_EQ(Send(1, outsider, own_room, "mine").status, 200);
    own_send_ms.push_back(RywMs(RywClock::now() - start));
  }
  // A burst of simultaneous refusals (they share etcd reads): every one still 403.
  std::vector<std::thread> burst;
  std::atomic<int> burst_refused{0};
  for (int i = 0; i < kRywBurstThreads; ++i) {
    burst.emplace_back([&] {
      if (Send(1, outsider, room, "burst").status == 403) burst_refused++;
    });
  }
  for (std::thread& t : burst) t.join();
  EXPECT_EQ(burst_refused.load(), kRywBurstThreads);
  StopLoad();
  std::cout << "idle, median ms: forbidden send " << RywMedian(idle_ms) << " (max "
            << *std::max_element(idle_ms.begin(), idle_ms.end()) << ")\n";
  std::cout << "under load, median ms: forbidden send " << RywMedian(forbidden_ms)
            << " (max " << *std::max_element(forbidden_ms.begin(), forbidden_ms.end())
            << "), whoami " << RywMedian(whoami_ms) << ", own send " << RywMedian(own_send_ms)
            << "\n";
  PrintCatchUps();
  // Every refusal asked etcd once; none was re-run into another answer.
  EXPECT_GE(CatchUps(1, "not_behind") + CatchUps(1, "unchanged"),
            2 * kRywForbiddenTries + kRywBurstThreads);
  EXPECT_EQ(CatchUps(1, "changed"), 0);
  EXPECT_EQ(CatchUps(1, "unavailable") + CatchUps(1, "busy") + CatchUps(1, "still_behind"), 0);
}

}  // namespace
}  // namespace nebu::cluster_ryw_testing
