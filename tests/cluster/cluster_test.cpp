// The cluster against real processes: a three-member etcd (etcd_process.h) and three
// `nebu` nodes on loopback, driven over HTTP as clients would. Each test builds its
// own cluster. Skipped (with "etcd test skipped") when no etcd binary is installed,
// failed instead when NEBU_TEST_ETCD_REQUIRED=1 (scripts/test.sh sets it).
#include <gtest/gtest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <filesystem>
#include <set>

#include "engine/testing/free_port.h"
#include "replication/checkpoint_client.h"
#include "tests/cluster/etcd_process.h"
#include "tests/projections/pg_test_util.h"
#include "tests/security/nebu_process.h"

namespace nebu::cluster_testing {
namespace {

using nebu::testing::FreeLoopbackPort;

using api::testing::HttpReply;
using security::Env;
using security::NebuProcess;
using Clock = std::chrono::steady_clock;
namespace json = boost::json;

constexpr std::string_view kSecret = "cluster-test-secret-0123456789abcdef";
constexpr int kNodes = 3;
// A write must fail within the committer's write bound (5 s) plus a margin.
constexpr int kWriteFailBoundMs = 9'000;

HttpReply CallPort(uint16_t port, const std::string& method, const std::string& path,
                   const std::string& token = "", const std::string& body = "") {
  std::string target = path.starts_with("/_") ? path : "/_matrix/client/v3" + path;
  api::testing::TestHttpClient client(port);
  if (!client.connected()) return {};
  std::optional<std::string_view> bearer;
  if (!token.empty()) bearer = token;
  return client.Call(method, target, body, bearer);
}

std::string Enc(std::string_view s) { return api::testing::PercentEncode(s); }

class ClusterTest : public ::testing::Test {
 public:
  void SetUp() override {
    NEBU_REQUIRE_ETCD_BINARY();
    etcd_ = std::make_unique<EtcdCluster>(dir_.path() + "/etcd", 3);
    ASSERT_TRUE(etcd_->Start()) << "etcd did not elect a leader";
    for (int i = 0; i < kNodes; ++i) StartNode(i);
  }

  void TearDown() override {
    if (HasFailure()) {
      for (size_t i = 0; i < nodes_.size(); ++i) {
        std::cerr << "---- node " << i << " log ----\n" << nodes_[i]->Log() << "\n";
      }
    }
  }

  void StartNode(int i) {
    while (static_cast<int>(nodes_.size()) <= i) nodes_.push_back(std::make_unique<NebuProcess>());
    Env env = extra_env_;
    env.insert({{"NEBU_ETCD_ENDPOINTS", etcd_->Endpoints()},
               {"NEBU_ETCD_PREFIX", "/nebu-test"},
               {"NEBU_NODE_ID", "node" + std::to_string(i + 1)},
               {"NEBU_GRPC_ADDR", GrpcAddr(i)},
               {"NEBU_INTERNAL_SECRET", std::string(kSecret)}});
    ASSERT_TRUE(nodes_[i]->Start(dir_.path() + "/node" + std::to_string(i + 1), env));
  }

  uint16_t Port(int i) const { return nodes_[i]->client_port(); }
  // Node i's gRPC address, chosen once per test and kept across its restarts.
  std::string GrpcAddr(int i) {
    if (!grpc_ports_.contains(i)) grpc_ports_[i] = FreeLoopbackPort();
    return "127.0.0.1:" + std::to_string(grpc_ports_[i]);
  }

  std::string Register(int node, const std::string& name) {
    json::object body{{"username", name},
                      {"password", "password-" + name},
                      {"auth", {{"type", "m.login.dummy"}}}};
    HttpReply r = CallPort(Port(node), "POST", "/register", "", json::serialize(body));
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(r.Json().at("access_token").as_string()) : "";
  }

  // A public room created on `node` by `token`, joined by the others' tokens.
  std::string SharedRoom(int node, const std::string& token,
                         const std::vector<std::pair<int, std::string>>& joiners) {
    HttpReply r = CallPort(Port(node), "POST", "/createRoom", token,
                           R"({"preset":"public_chat"})");
    EXPECT_EQ(r.status, 200) << r.body;
    std::string room = r.status == 200 ? std::string(r.Json().at("room_id").as_string()) : "";
    for (const auto& [n, t] : joiners) {
      // The joiner's node may not have applied the creation yet: retry briefly.
      int status = 0;
      for (int attempt = 0; attempt < 100 && status != 200; ++attempt) {
        status = CallPort(Port(n), "POST", "/join/" + Enc(room), t, "{}").status;
        if (status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      EXPECT_EQ(status, 200);
    }
    return room;
  }

  // The send's reply (status 200 with event_id, or the error).
  HttpReply SendPublic(int node, const std::string& token, const std::string& room,
                 const std::string& text) {
    static std::atomic<int> txn{0};
    return CallPort(Port(node), "PUT",
                    "/rooms/" + Enc(room) + "/send/m.room.message/c" + std::to_string(++txn),
                    token, json::serialize(json::object{{"msgtype", "m.text"}, {"body", text}}));
  }

  // Every event ID of the room's timeline as `node` sees it, oldest first.
  std::vector<std::string> Timeline(int node, const std::string& token, const std::string& room) {
    std::optional<std::vector<std::string>> ids = TryTimeline(node, token, room);
    EXPECT_TRUE(ids.has_value()) << "no timeline from node " << node;
    return ids.value_or(std::vector<std::string>{});
  }

  // The same; nullopt when the node does not answer 200 (yet).
  std::optional<std::vector<std::string>> TryTimeline(int node, const std::string& token,
                                                      const std::string& room) {
    std::vector<std::string> ids;
    std::string from;
    for (int page = 0; page < 200; ++page) {
      std::string path = "/rooms/" + Enc(room) + "/messages?dir=b&limit=1000";
      if (!from.empty()) path += "&from=" + Enc(from);
      HttpReply r = CallPort(Port(node), "GET", path, token);
      if (r.status != 200) {
        std::cerr << "messages on node " << node << ": " << r.status << " " << r.body << "\n";
        return std::nullopt;
      }
      json::value v = r.Json();
      for (const json::value& e : v.at("chunk").as_array()) {
        ids.emplace_back(e.at("event_id").as_string());
      }
      const json::value* end = v.as_object().if_contains("end");
      if (end == nullptr || v.at("chunk").as_array().empty()) break;
      from = std::string(end->as_string());
    }
    std::reverse(ids.begin(), ids.end());
    return ids;
  }

  // Waits (bounded) until `node`'s timeline holds every ID of `want`.
  bool WaitForEvents(int node, const std::string& token, const std::string& room,
                     const std::set<std::string>& want, int timeout_ms = 20'000) {
    auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    while (Clock::now() < deadline) {
      // A node that is catching up may not know the token or the room yet.
      std::optional<std::vector<std::string>> timeline = TryTimeline(node, token, room);
      if (!timeline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        continue;
      }
      const std::vector<std::string>& have = *timeline;
      std::set<std::string> have_set(have.begin(), have.end());
      if (have_set.size() != have.size()) {
        ADD_FAILURE() << "node " << node << " holds an event twice";
        return false;
      }
      if (std::includes(have_set.begin(), have_set.end(), want.begin(), want.end())) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    return false;
  }

  json::value Ready(int node) {
    api::testing::TestHttpClient client(nodes_[node]->ops_port());
    HttpReply r = client.connected() ? client.Call("GET", "/ready") : HttpReply{};
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    return ec ? json::value() : v;
  }

  // GET /sync on `node` (since: "" for an initial sync); the reply.
  HttpReply Sync(int node, const std::string& token, const std::string& since, int timeout_ms) {
    std::string path = "/sync?timeout=" + std::to_string(timeout_ms);
    if (!since.empty()) path += "&since=" + Enc(since);
    return CallPort(Port(node), "GET", path, token);
  }

  // Syncs on `node` from `since` until the room's timeline shows `event_id` (bounded);
  // the next_batch of that sync, "" if it never came.
  std::string SyncUntilEvent(int node, const std::string& token, std::string since,
                             const std::string& room, const std::string& event_id) {
    auto deadline = Clock::now() + std::chrono::seconds(20);
    while (Clock::now() < deadline) {
      HttpReply r = Sync(node, token, since, 2000);
      if (r.status != 200) {
        ADD_FAILURE() << "sync on node " << node << ": " << r.status << " " << r.body;
        return "";
      }
      json::value v = r.Json();
      since = std::string(v.at("next_batch").as_string());
      const json::value* rooms = v.as_object().if_contains("rooms");
      if (rooms == nullptr) continue;
      const json::value* join = rooms->as_object().if_contains("join");
      if (join == nullptr) continue;
      const json::value* entry = join->as_object().if_contains(room);
      if (entry == nullptr) continue;
      for (const json::value& e : entry->at("timeline").at("events").as_array()) {
        if (e.at("event_id").as_string() == event_id) return since;
      }
    }
    return "";
  }

  // Runs `nebu <args>` with this cluster's configuration; its exit status, its output
  // (stdout and stderr) in *output.
  // `env`: more NEBU_X=value assignments (they win over the defaults).
  int RunNebu(const std::string& args, std::string* output, const std::string& env = "") {
    std::string command = "env -i NEBU_ETCD_ENDPOINTS=" + etcd_->Endpoints() +
                          " NEBU_ETCD_PREFIX=/nebu-test NEBU_INTERNAL_SECRET=" +
                          std::string(kSecret) + " " + env + " " + NEBU_BINARY + " " + args +
                          " 2>&1";
    output->clear();
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return -1;
    char buffer[4096];
    size_t n = 0;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output->append(buffer, n);
    int status = ::pclose(pipe);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  int Live(int node) {
    api::testing::TestHttpClient client(nodes_[node]->ops_port());
    HttpReply r = client.connected() ? client.Call("GET", "/health") : HttpReply{};
    if (r.status != 200) return -1;
    json::value health = r.Json();
    const json::value* ids = health.as_object().if_contains("cluster_nodes");
    return ids != nullptr && ids->is_array() ? static_cast<int>(ids->as_array().size()) : -1;
  }

  // P/trimmed: the revision through which etcd's history was trimmed (0: never).
  int64_t Trimmed() {
    if (!etcd_client_) {
      auto etcd = replication::EtcdClient::Create({.endpoints = {etcd_->Endpoint(0)}});
      if (!etcd.ok()) return -1;
      etcd_client_ = std::move(*etcd);
    }
    auto r = etcd_client_->Range("/nebu-test/trimmed", {});
    return r.ok() && !r->kvs.empty() ? std::stoll(r->kvs[0].value) : 0;
  }

  // Sends one message at a time from the `senders` nodes (one group each) until the
  // log was trimmed past `past` (bounded: 1,500 sends, 120 s); the IDs into *sent.
  // False if it never was.
  bool SendUntilTrimmed(const std::vector<int>& senders, const std::string& token,
                        const std::string& room, int64_t past, std::set<std::string>* sent) {
    auto deadline = Clock::now() + std::chrono::seconds(120);
    for (int i = 0; i < 1500 && Clock::now() < deadline; ++i) {
      if (i % 20 == 0 && Trimmed() > past) return true;
      HttpReply r = SendPublic(senders[i % senders.size()], token, room, "m" + std::to_string(i));
      if (r.status != 200) {
        ADD_FAILURE() << "send: " << r.status << " " << r.body;
        return false;
      }
      sent->insert(std::string(r.Json().at("event_id").as_string()));
    }
    return projections::testing::WaitFor([&] { return Trimmed() > past; },
                                          std::chrono::seconds(20));
  }

  std::string NodeDir(int i) const { return dir_.path() + "/node" + std::to_string(i + 1); }

  // True when nothing is left in a node's <data_dir>/checkpoints.
  bool NoCheckpointsLeft(int i) const {
    std::error_code ec;
    return std::filesystem::is_empty(NodeDir(i) + "/checkpoints", ec) || ec;
  }

  nebu::testing::TempDir dir_;
  std::unique_ptr<replication::EtcdClient> etcd_client_;
  Env extra_env_;  // given to every node StartNode starts
  std::unique_ptr<EtcdCluster> etcd_;
  std::vector<std::unique_ptr<NebuProcess>> nodes_;
  std::map<int, uint16_t> grpc_ports_;  // GrpcAddr
};

// A load of sends spread over some nodes; records what each sender got acknowledged.
class SendLoad {
 public:
  struct Sender {
    int node;
    std::string token;
  };
  SendLoad(ClusterTest* test, std::string room, std::vector<Sender> senders, int sends_each)
      : test_(test), room_(std::move(room)) {
    for (const Sender& s : senders) {
      threads_.emplace_back([this, s, sends_each] { Run(s, sends_each); });
    }
  }
  ~SendLoad() { Join(); }
  void Join() {
    for (std::thread& t : threads_) {
      if (t.joinable()) t.join();
    }
  }
  void Stop() { stop_ = true; }

  std::set<std::string> acked() {
    std::lock_guard lock(mu_);
    return acked_;
  }
  std::map<int, int> errors() {
    std::lock_guard lock(mu_);
    return errors_;
  }
  int64_t sent() const { return sent_.load(); }

 private:
  void Run(const Sender& s, int sends_each) {
    auto deadline = Clock::now() + std::chrono::seconds(60);
    for (int i = 0; i < sends_each && !stop_ && Clock::now() < deadline; ++i) {
      HttpReply r = test_->SendPublic(s.node, s.token, room_, "load " + std::to_string(i));
      std::lock_guard lock(mu_);
      if (r.status == 200) {
        acked_.insert(std::string(r.Json().at("event_id").as_string()));
        ++sent_;
      } else {
        ++errors_[s.node];
        if (r.status == 0) return;  // the node is gone
      }
    }
  }

  ClusterTest* test_;
  std::string room_;
  std::atomic<bool> stop_{false};
  std::atomic<int64_t> sent_{0};
  std::mutex mu_;
  std::set<std::string> acked_;
  std::map<int, int> errors_;
  std::vector<std::thread> threads_;
};

// One user per node, all joined to one room, each sending `sends_each` messages from
// its own node; returns once `acked_min` sends were acknowledged (or 20 s passed).
struct LoadedRoom {
  std::vector<std::string> tokens;  // by node
  std::string room;
  std::unique_ptr<SendLoad> load;
};
LoadedRoom StartLoadInSharedRoom(ClusterTest* test, int sends_each = 150, int64_t acked_min = 60) {
  LoadedRoom out;
  for (int i = 0; i < kNodes; ++i) {
    out.tokens.push_back(test->Register(i, "user" + std::to_string(i)));
  }
  out.room = test->SharedRoom(0, out.tokens[0], {{1, out.tokens[1]}, {2, out.tokens[2]}});
  out.load = std::make_unique<SendLoad>(
      test, out.room,
      std::vector<SendLoad::Sender>{{0, out.tokens[0]}, {1, out.tokens[1]}, {2, out.tokens[2]}},
      sends_each);
  auto deadline = Clock::now() + std::chrono::seconds(20);
  while (out.load->sent() < acked_min && Clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return out;
}

TEST_F(ClusterTest, ClientsOnDifferentNodesChatAndTokensWorkOnEveryNode) {
  std::string alice = Register(0, "alice");
  std::string bob = Register(2, "bob");
  std::string room = SharedRoom(0, alice, {{2, bob}});
  HttpReply first = Sync(2, bob, "", 0);
  ASSERT_EQ(first.status, 200) << first.body;
  std::string since(first.Json().at("next_batch").as_string());

  HttpReply sent = SendPublic(0, alice, room, "hello from node 1");
  ASSERT_EQ(sent.status, 200) << sent.body;
  std::string id(sent.Json().at("event_id").as_string());
  std::string next = SyncUntilEvent(2, bob, since, room, id);
  ASSERT_FALSE(next.empty()) << "node 3 never delivered the message sent on node 1";

  // A token issued by node 3 is valid on node 2 and node 1 (it names positions every
  // node shares): a sync from it sees the next message, sent on node 2.
  HttpReply reply = SendPublic(1, bob, room, "hello from node 2");
  ASSERT_EQ(reply.status, 200) << reply.body;
  std::string id2(reply.Json().at("event_id").as_string());
  EXPECT_FALSE(SyncUntilEvent(0, bob, next, room, id2).empty());

  // Every node lists all three in /health once the registry saw them.
  for (int i = 0; i < kNodes; ++i) {
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (Live(i) != kNodes && Clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    EXPECT_EQ(Live(i), kNodes) << "node " << i;
  }
  // The registry is behind the pre-shared key.
  api::testing::TestHttpClient anonymous(nodes_[0]->ops_port());
  EXPECT_EQ(anonymous.Call("GET", "/internal/nodes").status, 401);
  api::testing::TestHttpClient wrong(nodes_[0]->ops_port());
  EXPECT_EQ(wrong.Call("GET", "/internal/nodes", "", std::string_view("not-the-secret")).status,
            403);
  api::testing::TestHttpClient insider(nodes_[0]->ops_port());
  HttpReply nodes = insider.Call("GET", "/internal/nodes", "", kSecret);
  ASSERT_EQ(nodes.status, 200) << nodes.body;
  EXPECT_EQ(nodes.Json().at("nodes").as_array().size(), static_cast<size_t>(kNodes));
}

TEST_F(ClusterTest, KillingANodeUnderLoadLosesNoAcknowledgedEvent) {
  auto [tokens, room, load_ptr] = StartLoadInSharedRoom(this);
  SendLoad& load = *load_ptr;
  nodes_[1]->Kill(SIGKILL);  // node 2 dies mid-load
  load.Join();
  std::set<std::string> acked = load.acked();
  std::map<int, int> errors = load.errors();
  EXPECT_EQ(errors[0], 0) << "a client of node 1 saw an error";
  EXPECT_EQ(errors[2], 0) << "a client of node 3 saw an error";
  ASSERT_GT(acked.size(), 200u);
  EXPECT_TRUE(WaitForEvents(0, tokens[0], room, acked));
  EXPECT_TRUE(WaitForEvents(2, tokens[2], room, acked));
  // The restarted node catches up, and every node holds the same timeline.
  StartNode(1);
  EXPECT_TRUE(WaitForEvents(1, tokens[1], room, acked));
  std::vector<std::string> t0 = Timeline(0, tokens[0], room);
  EXPECT_EQ(Timeline(1, tokens[1], room), t0);
  EXPECT_EQ(Timeline(2, tokens[2], room), t0);
  // `nebu cluster verify` compares every node's state digests at one revision.
  std::string output;
  EXPECT_EQ(RunNebu("cluster verify", &output), 0) << output;
  EXPECT_NE(output.find("3 nodes at revision"), std::string::npos) << output;
  EXPECT_NE(output.find("identical"), std::string::npos) << output;
  EXPECT_EQ(RunNebu("cluster status", &output), 0) << output;
  EXPECT_NE(output.find("node2"), std::string::npos) << output;
}

TEST_F(ClusterTest, KillingTheEtcdLeaderUnderLoadLosesNothingAndWritesResume) {
  auto [tokens, room, load_ptr] = StartLoadInSharedRoom(this);
  SendLoad& load = *load_ptr;
  int leader = etcd_->Leader();
  ASSERT_GE(leader, 0);
  auto killed = Clock::now();
  etcd_->Signal(leader, SIGKILL);
  // The failover: from the kill to the first acknowledged send on node 1.
  int64_t failover_ms = -1;
  for (int i = 0; i < 100; ++i) {
    if (SendPublic(0, tokens[0], room, "after failover").status == 200) {
      failover_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - killed)
                        .count();
      break;
    }
  }
  load.Join();
  std::cout << "etcd leader SIGKILL -> first acknowledged send: " << failover_ms << " ms\n";
  EXPECT_GE(failover_ms, 0) << "writes never resumed";
  std::set<std::string> acked = load.acked();
  for (int i = 0; i < kNodes; ++i) EXPECT_TRUE(WaitForEvents(i, tokens[i], room, acked));
  ASSERT_TRUE(etcd_->Restart(leader));
}

TEST_F(ClusterTest, AStoppedEtcdFollowerDoesNotDisturbClients) {
  std::string alice = Register(0, "alice");
  std::string room = SharedRoom(0, alice, {});
  int leader = etcd_->Leader();
  ASSERT_GE(leader, 0);
  int follower = leader == 0 ? 1 : 0;  // member 0 is every node's first endpoint
  etcd_->Signal(follower, SIGSTOP);
  int failures = 0;
  for (int i = 0; i < 30; ++i) failures += SendPublic(i % kNodes, alice, room, "x").status != 200;
  etcd_->Signal(follower, SIGCONT);
  // alice is only registered... any node serves her: tokens are replicated state.
  EXPECT_EQ(failures, 0);
}

TEST_F(ClusterTest, WithoutEtcdWritesFailWithinTheBoundReadsGoOnAndWritesRecover) {
  std::string alice = Register(0, "alice");
  std::string room = SharedRoom(0, alice, {});
  HttpReply before = SendPublic(0, alice, room, "before");
  ASSERT_EQ(before.status, 200);
  for (int m = 0; m < etcd_->members(); ++m) etcd_->Signal(m, SIGSTOP);
  auto start = Clock::now();
  HttpReply during = SendPublic(0, alice, room, "during");
  auto took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
  EXPECT_EQ(during.status, 503) << during.body;
  EXPECT_LE(took, kWriteFailBoundMs);
  // Reads are served from the node's applied state.
  std::vector<std::string> timeline = Timeline(1, alice, room);
  EXPECT_NE(std::find(timeline.begin(), timeline.end(),
                      std::string(before.Json().at("event_id").as_string())),
            timeline.end());
  json::value ready = Ready(0);
  ASSERT_TRUE(ready.is_object()) << "no /ready JSON";
  EXPECT_EQ(ready.at("cluster").at("etcd"), "unreachable") << json::serialize(ready);
  for (int m = 0; m < etcd_->members(); ++m) etcd_->Signal(m, SIGCONT);
  bool recovered = false;
  for (int i = 0; i < 30 && !recovered; ++i) {
    recovered = SendPublic(0, alice, room, "after").status == 200;
  }
  EXPECT_TRUE(recovered);
}

TEST_F(ClusterTest, AFourthNodeJoinsWithAnEmptyDataDirectoryAndCatchesUp) {
  std::string alice = Register(0, "alice");
  std::string room = SharedRoom(0, alice, {});
  std::set<std::string> sent;
  for (int i = 0; i < 20; ++i) {
    HttpReply r = SendPublic(i % kNodes, alice, room, "m" + std::to_string(i));
    ASSERT_EQ(r.status, 200) << r.body;
    sent.insert(std::string(r.Json().at("event_id").as_string()));
  }
  StartNode(3);
  EXPECT_TRUE(WaitForEvents(3, alice, room, sent));
  EXPECT_EQ(Timeline(3, alice, room), Timeline(0, alice, room));
}

TEST_F(ClusterTest, ADataDirectoryOfAnotherClusterOrOfASingleNodeIsRefused) {
  nodes_[0]->Kill(SIGTERM);
  // Same data directory, another cluster (another prefix: another cluster ID).
  NebuProcess other;
  EXPECT_TRUE(other.StartRefused(dir_.path() + "/node1",
                           {{"NEBU_ETCD_ENDPOINTS", etcd_->Endpoints()},
                            {"NEBU_ETCD_PREFIX", "/another"},
                            {"NEBU_NODE_ID", "node1"},
                            {"NEBU_INTERNAL_SECRET", std::string(kSecret)}}));
  EXPECT_NE(other.Log().find("belongs to cluster"), std::string::npos) << other.Log();
  // A single node's data directory cannot become a cluster node.
  NebuProcess single;
  ASSERT_TRUE(single.Start(dir_.path() + "/single"));
  single.Kill(SIGTERM);
  NebuProcess joined;
  EXPECT_TRUE(joined.StartRefused(dir_.path() + "/single",
                            {{"NEBU_ETCD_ENDPOINTS", etcd_->Endpoints()},
                             {"NEBU_ETCD_PREFIX", "/nebu-test"},
                             {"NEBU_NODE_ID", "node9"},
                             {"NEBU_INTERNAL_SECRET", std::string(kSecret)}}));
  EXPECT_NE(joined.Log().find("single node"), std::string::npos) << joined.Log();
}

// Joining by checkpoint (app/cluster_join.h): once etcd's history was trimmed a new
// node cannot replay the log from revision 0; it copies a live peer's checkpoint over
// CoreService and applies the log from there on.
TEST_F(ClusterTest, AFourthNodeJoinsFromAPeerCheckpointAfterTheLogWasTrimmed) {
  std::string alice = Register(0, "alice");
  std::string room = SharedRoom(0, alice, {});
  std::set<std::string> sent;
  // NEBU_TEST_JOIN_EVENTS=N: N more events first (3 concurrent senders), for a figure.
  if (const char* more = std::getenv("NEBU_TEST_JOIN_EVENTS"); more != nullptr) {
    SendLoad load(this, room, {{0, alice}, {1, alice}, {2, alice}}, std::atoi(more) / kNodes);
    load.Join();
    for (const std::string& id : load.acked()) sent.insert(id);
  }
  ASSERT_TRUE(SendUntilTrimmed({0, 1, 2}, alice, room, 0, &sent)) << "the log was never trimmed";
  const int64_t trimmed = Trimmed();
  ASSERT_GT(trimmed, 0);
  extra_env_["NEBU_LOG_LEVEL"] = "info";  // the join's figures
  auto started = Clock::now();
  StartNode(3);
  EXPECT_TRUE(WaitForEvents(3, alice, room, sent));
  const auto ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  EXPECT_EQ(Timeline(3, alice, room), Timeline(0, alice, room));
  const std::string log = nodes_[3]->Log();
  const size_t copied = log.find("join: copied");
  ASSERT_NE(copied, std::string::npos) << log;
  std::cout << sent.size() << " events, trimmed through " << trimmed << ": "
            << log.substr(copied, log.find('\n', copied) - copied) << "; serving all within "
            << ms << " ms of the start\n";
  // A new message reaches it, and every node agrees on the state.
  HttpReply r = SendPublic(3, alice, room, "from the joiner");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(WaitForEvents(0, alice, room, {std::string(r.Json().at("event_id").as_string())}));
  std::string output;
  EXPECT_EQ(RunNebu("cluster verify", &output), 0) << output;
  EXPECT_NE(output.find("4 nodes"), std::string::npos) << output;
  for (int i = 0; i < kNodes; ++i) EXPECT_TRUE(NoCheckpointsLeft(i)) << "node " << i;
}

// A node that was stopped, forgotten (so it held nothing back) and left behind the
// trim point finds its state behind at restart and, before serving it, moves it aside
// and joins by a peer's checkpoint, in its process (MoveAsideIfBehindTrim).
TEST_F(ClusterTest, AForgottenNodeLeftBehindTheTrimRejoinsByItselfAndCatchesUp) {
  nodes_[2]->Kill(SIGTERM);
  std::string output;
  ASSERT_EQ(RunNebu("cluster forget node3", &output), 0) << output;
  std::string alice = Register(0, "alice");
  std::string room = SharedRoom(0, alice, {});
  std::set<std::string> sent;
  ASSERT_TRUE(SendUntilTrimmed({0, 1}, alice, room, 0, &sent)) << "the log was never trimmed";
  extra_env_["NEBU_LOG_LEVEL"] = "info";
  StartNode(2);
  auto started = Clock::now();
  EXPECT_TRUE(WaitForEvents(2, alice, room, sent, 60'000));
  std::cout << sent.size() << " events: the restarted node served them all within "
            << std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count()
            << " ms of answering /health\n";
  const std::string log = nodes_[2]->Log();
  if (std::getenv("NEBU_TEST_SHOW_LOG") != nullptr) std::cout << log;
  EXPECT_NE(log.find("cannot catch up from the log"), std::string::npos) << log;
  EXPECT_NE(log.find("join: copied"), std::string::npos) << log;
  HttpReply r = SendPublic(2, alice, room, "back again");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(WaitForEvents(1, alice, room, {std::string(r.Json().at("event_id").as_string())}));
  EXPECT_EQ(RunNebu("cluster verify", &output), 0) << output;
  EXPECT_NE(output.find("3 nodes"), std::string::npos) << output;
  // The old state was removed once the join succeeded.
  for (const auto& e : std::filesystem::directory_iterator(NodeDir(2))) {
    EXPECT_FALSE(e.path().filename().string().starts_with("db.")) << e.path();
  }
}

// CoreService refuses a wrong secret and another cluster's ID and creates nothing;
// `nebu cluster join` refuses a data directory with state unless --force.
TEST_F(ClusterTest, AJoinWithAWrongSecretOrAnotherClusterIsRefusedAndWritesNothing) {
  std::string output;
  const std::string joiner = dir_.path() + "/joiner";
  const std::string joiner_env = "NEBU_DATA_DIR=" + joiner + " NEBU_NODE_ID=node9";
  EXPECT_EQ(RunNebu("cluster join", &output,
                    joiner_env + " NEBU_INTERNAL_SECRET=wrong-secret-0123456789abcdef0123456"),
            1)
      << output;
  EXPECT_NE(output.find("bad MAC"), std::string::npos) << output;
  EXPECT_FALSE(std::filesystem::exists(joiner + "/db"));
  EXPECT_FALSE(std::filesystem::exists(joiner + "/db.joining"));
  EXPECT_EQ(RunNebu("cluster join --from node7", &output, joiner_env), 1) << output;
  EXPECT_NE(output.find("node7 is not a live peer"), std::string::npos) << output;
  EXPECT_FALSE(std::filesystem::exists(joiner + "/db"));
  // Straight at a node: another cluster's ID (right secret), a wrong secret.
  const std::string target = dir_.path() + "/direct";
  auto other = replication::DownloadCheckpoint(
      GrpcAddr(0),
      {.secret = std::string(kSecret), .cluster_id = "ffffffffffffffffffffffffffffffff",
       .node_id = "node9"},
      target);
  EXPECT_EQ(other.status().code(), StatusCode::kForbidden) << other.status().ToString();
  EXPECT_NE(other.status().message().find("belongs to cluster"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(target));
  for (int i = 0; i < kNodes; ++i) EXPECT_TRUE(NoCheckpointsLeft(i)) << "node " << i;

  // A data directory with state: refused without --force, replaced with it.
  std::string alice = Register(0, "alice");
  std::string room = SharedRoom(0, alice, {});
  HttpReply r = SendPublic(0, alice, room, "before the join");
  ASSERT_EQ(r.status, 200);
  nodes_[2]->Kill(SIGTERM);
  const std::string node3_env = "NEBU_DATA_DIR=" + NodeDir(2) + " NEBU_NODE_ID=node3";
  EXPECT_EQ(RunNebu("cluster join", &output, node3_env), 1) << output;
  EXPECT_NE(output.find("--force"), std::string::npos) << output;
  EXPECT_TRUE(std::filesystem::exists(NodeDir(2) + "/db"));
  EXPECT_EQ(RunNebu("cluster join --from node2 --force", &output, node3_env), 0) << output;
  EXPECT_NE(output.find("from node2"), std::string::npos) << output;
  for (const auto& e : std::filesystem::directory_iterator(NodeDir(2))) {
    EXPECT_FALSE(e.path().filename().string().starts_with("db.")) << e.path();
  }
  StartNode(2);
  EXPECT_TRUE(WaitForEvents(2, alice, room, {std::string(r.Json().at("event_id").as_string())}));
  EXPECT_EQ(RunNebu("cluster forget node9", &output), 1) << output;  // released after failing
  EXPECT_EQ(RunNebu("cluster verify", &output), 0) << output;
}

// Bounded etcd storage: once every member has applied and fsynced a stretch of the log,
// the lowest live node deletes it and compacts etcd's history, so the number of log keys
// stays bounded under a long write load; a node restarted afterwards resumes after it.
TEST_F(ClusterTest, AppliedHistoryIsTrimmedFromEtcdAndRestartsStillWork) {
  std::string alice = Register(0, "alice");
  std::string room = SharedRoom(0, alice, {});
  auto etcd = replication::EtcdClient::Create({.endpoints = {etcd_->Endpoint(0)}});
  ASSERT_TRUE(etcd.ok());
  auto log_keys = [&] {
    auto r = (*etcd)->Range("/nebu-test/log/", {.prefix = true, .count_only = true});
    return r.ok() ? r->count : -1;
  };
  auto trimmed = [&] {
    auto r = (*etcd)->Range("/nebu-test/trimmed", {});
    return r.ok() && !r->kvs.empty() ? std::stoll(r->kvs[0].value) : 0LL;
  };
  // Sequential sends: one group each, so well over the trim slack (256 revisions).
  int64_t peak = 0;
  auto deadline = Clock::now() + std::chrono::seconds(120);
  int sent = 0;
  for (; sent < 1200 && Clock::now() < deadline && trimmed() == 0; ++sent) {
    ASSERT_EQ(SendPublic(sent % kNodes, alice, room, "t").status, 200);
    if (sent % 50 == 0) peak = std::max<int64_t>(peak, log_keys());
  }
  ASSERT_TRUE(projections::testing::WaitFor([&] { return trimmed() > 0; },
                                            std::chrono::seconds(20)))
      << "nothing was trimmed after " << sent << " sends";
  // Keep writing: the log keys stay bounded (trim slack + what a registry period adds).
  for (int i = 0; i < 600 && Clock::now() < deadline; ++i) {
    ASSERT_EQ(SendPublic(i % kNodes, alice, room, "u").status, 200);
    if (i % 50 == 0) peak = std::max<int64_t>(peak, log_keys());
  }
  std::cout << "sends " << sent + 600 << ", log keys at most " << peak << ", trimmed through "
            << trimmed() << "\n";
  EXPECT_LT(peak, sent + 600) << "the log was never trimmed under load";
  EXPECT_LT(log_keys(), 1000);
  // A node restarted after the trim resumes from its own applied state.
  nodes_[2]->Kill(SIGKILL);
  ASSERT_EQ(SendPublic(0, alice, room, "while node 3 is down").status, 200);
  StartNode(2);
  std::vector<std::string> expected = Timeline(0, alice, room);
  EXPECT_TRUE(WaitForEvents(2, alice, room, {expected.back()}));
}

// One projector per cluster: with NEBU_DB_URL on every node exactly one projects (an
// etcd lease), the others stand by; killing it hands the role over and the projection
// goes on without a gap or a duplicate.
TEST_F(ClusterTest, OneNodeProjectsIntoPostgreSqlAndAnotherTakesOverWhenItDies) {
  if (!projections::testing::EnvUrl("NEBU_TEST_PG_URL")) {
    NEBU_PG_SKIP("NEBU_TEST_PG_URL is unset (scripts/test.sh starts PostgreSQL)");
  }
  projections::testing::TestDatabase db;
  for (int i = 0; i < kNodes; ++i) nodes_[i]->Kill(SIGTERM);
  extra_env_ = {{"NEBU_DB_URL", db.url()}};
  for (int i = 0; i < kNodes; ++i) StartNode(i);
  auto roles = [&] {
    std::map<std::string, int> count;
    int active = -1;
    for (int i = 0; i < kNodes; ++i) {
      if (!nodes_[i]->Running()) continue;
      json::value ready = Ready(i);
      const json::value* projector =
          ready.is_object() ? ready.as_object().if_contains("projector") : nullptr;
      const json::value* role = projector && projector->is_object()
                                    ? projector->as_object().if_contains("role")
                                    : nullptr;
      std::string r = role && role->is_string() ? std::string(role->as_string()) : "none";
      ++count[r];
      if (r == "active") active = i;
    }
    return std::make_pair(count, active);
  };
  int active = -1;
  ASSERT_TRUE(projections::testing::WaitFor(
      [&] {
        auto [count, a] = roles();
        active = a;
        return count["active"] == 1 && count["standby"] == kNodes - 1;
      },
      std::chrono::seconds(20)))
      << "not exactly one active projector";
  std::string alice = Register(0, "alice");
  std::string room = SharedRoom(0, alice, {});
  for (int i = 0; i < 10; ++i) ASSERT_EQ(SendPublic(i % kNodes, alice, room, "a").status, 200);
  nodes_[active]->Kill(SIGKILL);
  int survivor = (active + 1) % kNodes;
  for (int i = 0; i < 10; ++i) ASSERT_EQ(SendPublic(survivor, alice, room, "b").status, 200);
  ASSERT_TRUE(projections::testing::WaitFor(
      [&] { return roles().first["active"] == 1; }, std::chrono::seconds(20)))
      << "no node took the projector over";
  const size_t want = Timeline(survivor, alice, room).size();
  const std::string count_sql =
      "SELECT count(*), count(DISTINCT event_id) FROM events WHERE room_id = '" + room + "'";
  std::vector<std::vector<std::string>> rows;
  EXPECT_TRUE(projections::testing::WaitFor(
      [&] {
        rows = projections::testing::Query(db.url(), count_sql);
        return rows.size() == 1 && rows[0][0] == std::to_string(want);
      },
      std::chrono::seconds(30)))
      << "projected " << (rows.empty() ? "?" : rows[0][0]) << " of " << want << " events";
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0][0], rows[0][1]) << "an event projected twice";
}

// Typing and presence are cluster-wide (replication/etcd_ephemeral.h): bob types on
// node 3 and alice's /sync on node 1 shows it, then shows it stop after the timeout
// (the etcd lease); carol's presence set on node 2 reaches alice on node 1; alice's
// token (typing and presence serials are etcd revisions) works on node 2.
TEST_F(ClusterTest, TypingAndPresenceReachEveryNode) {
  std::string alice = Register(0, "alice");
  std::string carol = Register(1, "carol");
  std::string bob = Register(2, "bob");
  std::string room = SharedRoom(0, alice, {{1, carol}, {2, bob}});
  HttpReply first = Sync(0, alice, "", 0);
  ASSERT_EQ(first.status, 200) << first.body;
  std::string since(first.Json().at("next_batch").as_string());

  // Alice syncs on `node` from `since` (advancing it) until `done` holds for a reply
  // (true), or `bound` passed (false).
  auto sync_until = [&](int node, const std::function<bool(const json::value&)>& done,
                        std::chrono::milliseconds bound) -> bool {
    auto deadline = Clock::now() + bound;
    while (Clock::now() < deadline) {
      HttpReply r = Sync(node, alice, since, 1000);
      if (r.status != 200) {
        ADD_FAILURE() << "sync on node " << node << ": " << r.status << " " << r.body;
        return false;
      }
      json::value v = r.Json();
      since = std::string(v.at("next_batch").as_string());
      if (done(v)) return true;
    }
    return false;
  };
  // nullopt: the sync has no m.typing for the room; else who types.
  auto typing_of = [&](const json::value& v) -> std::optional<std::vector<std::string>> {
    const json::value* rooms = v.as_object().if_contains("rooms");
    const json::value* join = rooms ? rooms->as_object().if_contains("join") : nullptr;
    const json::value* entry = join ? join->as_object().if_contains(room) : nullptr;
    const json::value* eph = entry ? entry->as_object().if_contains("ephemeral") : nullptr;
    if (eph == nullptr) return std::nullopt;
    for (const json::value& e : eph->at("events").as_array()) {
      if (e.at("type").as_string() != "m.typing") continue;
      std::vector<std::string> users;
      for (const json::value& u : e.at("content").at("user_ids").as_array()) {
        users.emplace_back(u.as_string());
      }
      return users;
    }
    return std::nullopt;
  };
  const std::string bob_id = "@bob:localhost";
  auto bob_types = [&](const json::value& v) {
    auto users = typing_of(v);
    return users && std::find(users->begin(), users->end(), bob_id) != users->end();
  };
  auto bob_stopped = [&](const json::value& v) {
    auto users = typing_of(v);
    return users && std::find(users->begin(), users->end(), bob_id) == users->end();
  };

  constexpr int kTypingTimeoutMs = 2000;
  const auto typed = Clock::now();
  HttpReply put = CallPort(Port(2), "PUT", "/rooms/" + Enc(room) + "/typing/" + Enc(bob_id), bob,
                           R"({"typing":true,"timeout":)" + std::to_string(kTypingTimeoutMs) + "}");
  ASSERT_EQ(put.status, 200) << put.body;
  ASSERT_TRUE(sync_until(0, bob_types, std::chrono::seconds(5)))
      << "bob typing on node 3 never showed on node 1";
  const auto shown_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - typed).count();
  ASSERT_TRUE(sync_until(0, bob_stopped, std::chrono::seconds(15)))
      << "bob's typing never stopped on node 1 after its timeout";
  const auto stopped_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - typed).count();
  EXPECT_GE(stopped_ms, kTypingTimeoutMs);
  std::printf("typing on node 3 shown on node 1 after %lld ms; stopped after %lld ms (timeout %d)\n",
              static_cast<long long>(shown_ms), static_cast<long long>(stopped_ms),
              kTypingTimeoutMs);

  const std::string carol_id = "@carol:localhost";
  HttpReply presence = CallPort(Port(1), "PUT", "/presence/" + Enc(carol_id) + "/status", carol,
                                R"({"presence":"unavailable","status_msg":"on node 2"})");
  ASSERT_EQ(presence.status, 200) << presence.body;
  auto carol_unavailable = [&](const json::value& v) {
    const json::value* p = v.as_object().if_contains("presence");
    if (p == nullptr) return false;
    for (const json::value& e : p->at("events").as_array()) {
      if (e.at("sender").as_string() == carol_id &&
          e.at("content").at("presence").as_string() == "unavailable" &&
          e.at("content").at("status_msg").as_string() == "on node 2") {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(sync_until(0, carol_unavailable, std::chrono::seconds(5)))
      << "carol's presence set on node 2 never showed on node 1";
  // Node 1's token (typing and presence parts are etcd revisions) works on node 2, and
  // bob typing again is seen there.
  HttpReply again = CallPort(Port(2), "PUT", "/rooms/" + Enc(room) + "/typing/" + Enc(bob_id), bob,
                             R"({"typing":true,"timeout":30000})");
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_TRUE(sync_until(1, bob_types, std::chrono::seconds(5)))
      << "a node 1 token on node 2 missed bob typing";
  // Every node counts the updates its bus could not share in /metrics; none here.
  for (int i = 0; i < kNodes; ++i) {
    api::testing::TestHttpClient ops(nodes_[i]->ops_port());
    HttpReply metrics = ops.Call("GET", "/metrics");
    ASSERT_EQ(metrics.status, 200) << "node " << i;
    EXPECT_NE(metrics.body.find("\nnebu_ephemeral_updates_dropped_total 0\n"), std::string::npos)
        << "node " << i << ": " << metrics.body.substr(0, 2000);
  }
}

}  // namespace
}  // namespace nebu::cluster_testing
