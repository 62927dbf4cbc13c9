// bench_cluster: the cluster's write path and delivery over real HTTP on loopback,
// against real `nebu` child processes and a real three-member etcd (Debian's
// etcd-server, started like tests/cluster does; or a running one given by
// --etcd-endpoints). Prints the figures issue 8 sets targets for:
//   1. the single-node default (one nebu without etcd), for comparison in the same run:
//      one writer send p50/p99; --writers writers (one room each) events/s and p99;
//   2. the cluster (3 nebu nodes): one writer on node 1, send answered (commit) p50/p99
//      over --sends sends; --writers writers spread over the three nodes (writer i on
//      node i % 3, one room each, or one shared room with --shared-room=1): events/s
//      and p50/p99;
//   3. send on node 1 -> delivery to a /sync long-poll on node 3: p50/p99 over
//      --deliveries messages, one in flight at a time; each body carries its send time;
//   4. failover (only with our own etcd): SIGKILL of the etcd leader -> the first send
//      on node 1 answered 200, in ms.
// After each many-writers phase it prints where the time went: CPU seconds used by the
// nebu processes, by the etcd members (ours only) and by the bench itself, the load
// average, and etcd's writes in the phase (revisions: the Puts of groups, plus the
// node registry's) with the events per write.
// Every loop is bounded by a count and by time (--phase-seconds per phase).
//
//   build/bench/bench_cluster                              # everything, defaults
//   build/bench/bench_cluster --sends=500 --writer-sends=100 --single=0
//   build/bench/bench_cluster --etcd-endpoints=$(scripts/etcd.sh endpoints)   # no failover
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <netinet/in.h>
#include <arpa/inet.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/bench_http.h"
#include "bench/bench_util.h"
#include "tests/api/test_http_client.h"
#include "tests/cluster/etcd_process.h"

namespace {

namespace json = boost::json;
using nebu::api::testing::HttpReply;
using nebu::api::testing::PercentEncode;
using nebu::api::testing::TestHttpClient;
using nebu::bench::Percentile;
using Clock = std::chrono::steady_clock;
using nebu::bench::CreateRoom;
using nebu::bench::Die;
using nebu::bench::FreePort;
using nebu::bench::kV3;
using nebu::bench::NowNs;
using nebu::bench::Ok;
using nebu::bench::Parallel;
using nebu::bench::Register;
using nebu::bench::SendMessage;

constexpr std::string_view kSecret = "bench-cluster-secret-0123456789abcdef";
constexpr int kNodes = 3;
constexpr int kStartTimeoutMs = 30'000;   // one nebu's start-up
constexpr int kJoinTriesMax = 200;        // x 20 ms: a room not applied yet on the joiner's node
constexpr int kFailoverTriesMax = 200;    // sends after the leader's kill
constexpr int kFailoverSecondsMax = 30;


double MsSince(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}


// CPU seconds (user + system) process `pid` has used; 0 if it is gone.
double CpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  double ticks = 0;
  for (int i = 3; i <= 15 && fields >> field; ++i) {  // utime is field 14, stime 15
    if (i >= 14) ticks += std::stod(field);
  }
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// This process's children named `comm` (etcd members, nebu nodes).
std::vector<pid_t> Children(const std::string& comm) {
  std::vector<pid_t> out;
  for (const auto& entry : std::filesystem::directory_iterator("/proc")) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    std::ifstream in(entry.path() / "stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    size_t open = text.find('('), close = text.rfind(')');
    if (open == std::string::npos || close == std::string::npos) continue;
    std::istringstream rest(text.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid == getpid() && text.substr(open + 1, close - open - 1) == comm) {
      out.push_back(static_cast<pid_t>(std::stoi(name)));
    }
  }
  return out;
}

// etcd's current revision (every write raises it by one), -1 if unknown.
int64_t EtcdRevision(nebu::replication::EtcdClient* etcd) {
  if (etcd == nullptr) return -1;
  auto status = etcd->MaintenanceStatus(std::chrono::milliseconds(2000));
  return status.ok() ? status->revision : -1;
}

// Where a phase's time goes (2 cores shared by everything): CPU used by the nebu
// processes `nebu`, by this process's etcd children and by this process, and the
// etcd writes (revisions) made, between construction and Print().
class PhaseMeter {
 public:
  PhaseMeter(std::vector<pid_t> nebu, nebu::replication::EtcdClient* etcd)
      : nebu_pids_(std::move(nebu)), etcd_client_(etcd), start_(Clock::now()),
        nebu_(Nebu()), etcd_(Etcd()), self_(CpuSeconds(getpid())),
        revision_(EtcdRevision(etcd)) {}
  void Print(const std::string& label, size_t events) const {
    const double wall = std::chrono::duration<double>(Clock::now() - start_).count();
    double load[3] = {0, 0, 0};
    getloadavg(load, 3);
    std::printf("%s: CPU in the phase (%.2f s wall): nebu %.2f s, etcd %.2f s, bench %.2f s; "
                "load average %.1f\n",
                label.c_str(), wall, Nebu() - nebu_, Etcd() - etcd_,
                CpuSeconds(getpid()) - self_, load[0]);
    const int64_t revision = EtcdRevision(etcd_client_);
    if (revision_ >= 0 && revision > revision_) {
      const auto writes = static_cast<double>(revision - revision_);
      std::printf("%s: etcd writes in the phase: %.0f (%.1f events per write, %.0f writes/s)\n",
                  label.c_str(), writes, static_cast<double>(events) / writes, writes / wall);
    }
  }

 private:
  double Nebu() const {
    double total = 0;
    for (pid_t pid : nebu_pids_) total += CpuSeconds(pid);
    return total;
  }
  static double Etcd() {
    double total = 0;
    for (pid_t pid : Children("etcd")) total += CpuSeconds(pid);
    return total;
  }
  std::vector<pid_t> nebu_pids_;
  nebu::replication::EtcdClient* etcd_client_;
  Clock::time_point start_;
  double nebu_, etcd_, self_;
  int64_t revision_;
};


// One `nebu serve` child: its own data directory, registration open, rate limits off,
// `extra` environment on top (the cluster variables).
struct Node {
  pid_t pid = 0;
  uint16_t port = 0;
  uint16_t ops = 0;
  std::string dir;

  void Start(const std::string& binary, const std::string& data_dir,
             const std::map<std::string, std::string>& extra) {
    dir = data_dir;
    std::filesystem::remove_all(dir);
    port = FreePort();
    ops = FreePort();
    std::map<std::string, std::string> env = {
        {"NEBU_DATA_DIR", dir},
        {"NEBU_CLIENT_ADDR", "127.0.0.1:" + std::to_string(port)},
        {"NEBU_OPS_ADDR", "127.0.0.1:" + std::to_string(ops)},
        {"NEBU_SERVER_NAME", "localhost"},
        {"NEBU_REGISTRATION", "open"},
        {"NEBU_RATE_LIMIT", "off"},
        {"NEBU_LOG_LEVEL", "warn"}};
    for (const auto& [name, value] : extra) env[name] = value;
    std::vector<std::string> entries;
    for (char** e = environ; *e != nullptr; ++e) {  // no inherited NEBU_* configuration
      if (!std::string_view(*e).starts_with("NEBU_")) entries.emplace_back(*e);
    }
    for (const auto& [name, value] : env) entries.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (std::string& entry : entries) envp.push_back(entry.data());
    envp.push_back(nullptr);
    std::string program = binary;
    std::string serve = "serve";
    char* args[] = {program.data(), serve.data(), nullptr};
    const std::string log = dir + ".log";
    const int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    pid = fork();
    if (pid == 0) {
      if (log_fd >= 0) {
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
      }
      ::execve(program.c_str(), args, envp.data());
      ::_exit(127);
    }
    if (log_fd >= 0) ::close(log_fd);
    const auto deadline = Clock::now() + std::chrono::milliseconds(kStartTimeoutMs);
    while (Clock::now() < deadline) {
      if (waitpid(pid, nullptr, WNOHANG) == pid) {
        pid = 0;
        Die("nebu exited at start; see " + dir + ".log");
      }
      TestHttpClient probe(ops);
      if (probe.connected() && probe.Call("GET", "/health").status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Die("nebu did not answer /health within 30 s; see " + dir + ".log");
  }
  void Stop() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
      pid = 0;
    }
  }
  ~Node() { Stop(); }
};




// Joins `room` (created on maybe another node: retried until this node applied it).
void Join(TestHttpClient& client, const std::string& token, const std::string& room) {
  HttpReply reply;
  for (int attempt = 0; attempt < kJoinTriesMax; ++attempt) {
    reply = client.Call("POST", std::string(kV3) + "/join/" + PercentEncode(room), "{}", token);
    if (reply.status == 200) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  Ok(reply, "join");
}



// A set of nodes and what the phases share: one user and one room per writer, user w
// registered on (and sending to) node w % nodes.size().
struct Setup {
  std::vector<Node*> nodes;
  nebu::replication::EtcdClient* etcd = nullptr;  // for the revision count; may be null
  std::vector<std::string> tokens;
  std::vector<std::string> rooms;
  std::string label;

  uint16_t PortOf(int writer) const {
    return nodes[static_cast<size_t>(writer) % nodes.size()]->port;
  }

  void Prepare(int writers, bool shared_room, double seconds) {
    tokens.assign(static_cast<size_t>(writers), "");
    rooms.assign(static_cast<size_t>(writers), "");
    {
      TestHttpClient client(PortOf(0));
      tokens[0] = Register(client, "writer0");
      rooms[0] = CreateRoom(client, tokens[0]);
    }
    constexpr int kSetupThreads = 8;
    Parallel(kSetupThreads, writers, seconds, [&](int t, int i) {
      const int w = i * kSetupThreads + t;
      if (w == 0 || w >= writers) return -1.0;
      TestHttpClient client(PortOf(w));
      const auto index = static_cast<size_t>(w);
      tokens[index] = Register(client, "writer" + std::to_string(w));
      if (shared_room) {
        rooms[index] = rooms[0];
        Join(client, tokens[index], rooms[0]);
      } else {
        rooms[index] = CreateRoom(client, tokens[index]);
      }
      return -1.0;
    });
    for (const std::string& token : tokens) {
      if (token.empty()) Die(label + ": the setup of the writers did not finish in time");
    }
  }

  // Writer 0 alone (on node 0): `sends` sends one after the other.
  void OneWriter(int sends, double seconds) {
    TestHttpClient client(PortOf(0));
    std::vector<double> latencies;
    int errors = 0;
    const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
    for (int i = 0; i < sends && Clock::now() < deadline; ++i) {
      const auto start = Clock::now();
      HttpReply reply = SendMessage(client, tokens[0], rooms[0], "one" + std::to_string(i), "one");
      if (reply.status != 200) ++errors;
      latencies.push_back(MsSince(start));
    }
    const size_t count = latencies.size();
    std::printf("%s: one writer: %zu sends, p50 %.2f ms, p99 %.2f ms, max %.2f ms, errors %d\n",
                label.c_str(), count, Percentile(latencies, 50), Percentile(latencies, 99),
                Percentile(latencies, 100), errors);
    std::fflush(stdout);
  }

  // Every writer sends `sends_each` messages into its room over its own connection.
  void ManyWriters(int sends_each, double seconds) {
    const int writers = static_cast<int>(tokens.size());
    std::atomic<int> errors{0};
    std::vector<pid_t> pids;
    for (const Node* node : nodes) pids.push_back(node->pid);
    const PhaseMeter meter(pids, etcd);
    const auto begin = Clock::now();
    std::vector<double> latencies = Parallel(writers, sends_each, seconds, [&](int t, int i) {
      thread_local std::unique_ptr<TestHttpClient> client;
      if (i == 0) client = std::make_unique<TestHttpClient>(PortOf(t));
      const auto index = static_cast<size_t>(t);
      const auto start = Clock::now();
      HttpReply reply =
          SendMessage(*client, tokens[index], rooms[index], "many" + std::to_string(i), "many");
      if (reply.status != 200) ++errors;
      return MsSince(start);
    });
    const double took = std::chrono::duration<double>(Clock::now() - begin).count();
    const size_t count = latencies.size();
    std::printf("%s: %d writers over %zu node(s): %zu sends in %.2f s = %.0f events/s, "
                "p50 %.2f ms, p99 %.2f ms, errors %d\n",
                label.c_str(), writers, nodes.size(), count, took,
                static_cast<double>(count) / took, Percentile(latencies, 50),
                Percentile(latencies, 99), errors.load());
    meter.Print(label, count);
    std::fflush(stdout);
  }
};

// Send on `from` -> a /sync long-poll on `to` answers with it; one message in flight.
void Delivery(const Node& from, const Node& to, int deliveries, double seconds) {
  TestHttpClient setup_from(from.port);
  TestHttpClient setup_to(to.port);
  const std::string sender = Register(setup_from, "delivery-sender");
  const std::string receiver = Register(setup_to, "delivery-receiver");
  const std::string room = CreateRoom(setup_from, sender);
  Join(setup_to, receiver, room);
  json::value first = Ok(setup_to.Call("GET",
                                       std::string(kV3) + "/sync?filter=" +
                                           PercentEncode(R"({"room":{"timeline":{"limit":1}}})"),
                                       {}, receiver),
                         "initial sync");
  std::string since(first.at("next_batch").as_string());
  std::vector<double> latencies;
  std::mutex mutex;
  std::atomic<int> received{0};
  std::atomic<bool> stop{false};
  std::thread listener([&] {
    auto client = std::make_unique<TestHttpClient>(to.port);
    const auto deadline = Clock::now() + std::chrono::duration<double>(seconds + 10);
    while (!stop && Clock::now() < deadline) {
      HttpReply reply = client->Call(
          "GET", std::string(kV3) + "/sync?timeout=5000&since=" + PercentEncode(since), {},
          receiver);
      const int64_t now = NowNs();
      if (reply.status != 200) {
        client = std::make_unique<TestHttpClient>(to.port);
        continue;
      }
      json::value body = reply.Json();
      since = std::string(body.at("next_batch").as_string());
      const json::value* rooms = body.as_object().if_contains("rooms");
      const json::value* join = rooms ? rooms->as_object().if_contains("join") : nullptr;
      const json::value* entry = join ? join->as_object().if_contains(room) : nullptr;
      if (entry == nullptr) continue;
      for (const json::value& event : entry->at("timeline").at("events").as_array()) {
        if (event.at("type").as_string() != "m.room.message") continue;
        if (event.at("content").at("body").as_string() == "end") continue;
        const int64_t sent = std::stoll(std::string(event.at("content").at("body").as_string()));
        std::lock_guard lock(mutex);
        latencies.push_back(static_cast<double>(now - sent) / 1e6);
        ++received;
      }
    }
  });
  TestHttpClient client(from.port);
  int lost = 0;
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  for (int i = 0; i < deliveries && Clock::now() < deadline; ++i) {
    const int before = received.load();
    SendMessage(client, sender, room, "d" + std::to_string(i), std::to_string(NowNs()));
    int spin = 0;
    for (; spin < 25'000 && received.load() == before; ++spin) {  // <= 5 s
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    lost += spin == 25'000;
    std::this_thread::sleep_for(std::chrono::milliseconds(2));  // let the receiver re-park
  }
  stop = true;
  SendMessage(client, sender, room, "end", "end");  // wakes the listener
  listener.join();
  std::lock_guard lock(mutex);
  std::printf("cluster: send on node 1 -> /sync long-poll on node 3: %zu messages, p50 %.2f ms, "
              "p99 %.2f ms, max %.2f ms, not delivered within 5 s: %d\n",
              latencies.size(), Percentile(latencies, 50),
              Percentile(latencies, 99), Percentile(latencies, 100), lost);
  std::fflush(stdout);
}

// SIGKILL of etcd's leader, then sends on node 0 until one is answered 200.
void Failover(nebu::cluster_testing::EtcdCluster& etcd, const Setup& setup) {
  const int leader = etcd.Leader();
  if (leader < 0) Die("failover: etcd has no leader");
  auto client = std::make_unique<TestHttpClient>(setup.PortOf(0));
  // Warm: the connection is open and the path is idle.
  SendMessage(*client, setup.tokens[0], setup.rooms[0], "pre-failover", "before");
  const auto killed = Clock::now();
  etcd.Signal(leader, SIGKILL);
  double failover_ms = -1;
  int failed = 0;
  const auto deadline = killed + std::chrono::seconds(kFailoverSecondsMax);
  for (int i = 0; i < kFailoverTriesMax && Clock::now() < deadline; ++i) {
    HttpReply reply = SendMessage(*client, setup.tokens[0], setup.rooms[0],
                                  "failover" + std::to_string(i), "after the kill");
    if (reply.status == 200) {
      failover_ms = MsSince(killed);
      break;
    }
    ++failed;
    if (reply.status == 0) client = std::make_unique<TestHttpClient>(setup.PortOf(0));
  }
  std::printf("cluster: etcd leader (member %d of %d) SIGKILL -> first send answered 200 on "
              "node 1: %.0f ms (%d sends failed before it)\n",
              leader + 1, etcd.members(), failover_ms, failed);
  std::fflush(stdout);
}

std::vector<std::string> SplitEndpoints(const std::string& text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string::npos) comma = text.size();
    if (comma > start) out.push_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using nebu::bench::Arg;
  nebu::bench::PrintCommand(argc, argv);
  const std::string binary = Arg(argc, argv, "nebu", "build/app/nebu");
  std::string endpoints = Arg(argc, argv, "etcd-endpoints", "");
  const int sends = std::stoi(Arg(argc, argv, "sends", "1000"));
  const int writers = std::stoi(Arg(argc, argv, "writers", "64"));
  const int writer_sends = std::stoi(Arg(argc, argv, "writer-sends", "200"));
  const int deliveries = std::stoi(Arg(argc, argv, "deliveries", "300"));
  const bool shared_room = Arg(argc, argv, "shared-room", "0") == "1";
  const bool single = Arg(argc, argv, "single", "1") == "1";
  const bool failover = Arg(argc, argv, "failover", "1") == "1";
  const double phase_seconds = std::stod(Arg(argc, argv, "phase-seconds", "60"));
  if (writers < 1 || sends < 1 || writer_sends < 1) Die("--writers, --sends, --writer-sends >= 1");

  const std::string dir =
      (std::filesystem::temp_directory_path() / ("nebu-bench-cluster-" + std::to_string(getpid())))
          .string();
  std::filesystem::create_directories(dir);
  std::printf("data under %s\n", dir.c_str());

  // ---- 1. the single-node default ----
  if (single) {
    Node node;
    node.Start(binary, dir + "/single", {});
    Setup setup{.nodes = {&node}, .label = "single node"};
    setup.Prepare(writers, shared_room, phase_seconds);
    setup.OneWriter(sends, phase_seconds);
    setup.ManyWriters(writer_sends, phase_seconds);
    node.Stop();
  }

  // ---- 2.-4. the cluster ----
  std::unique_ptr<nebu::cluster_testing::EtcdCluster> etcd;
  if (endpoints.empty()) {
    if (!nebu::cluster_testing::EtcdCluster::Available()) {
      Die("no " + nebu::cluster_testing::EtcdCluster::Binary() +
          " (apt-get install etcd-server, or give --etcd-endpoints=)");
    }
    etcd = std::make_unique<nebu::cluster_testing::EtcdCluster>(dir + "/etcd", 3);
    if (!etcd->Start()) Die("etcd did not elect a leader");
    endpoints = etcd->Endpoints();
  }
  std::printf("etcd: %s (%zu members)\n", endpoints.c_str(), SplitEndpoints(endpoints).size());
  const std::string prefix = "/nebu-bench-" + std::to_string(getpid());
  std::vector<std::unique_ptr<Node>> nodes;
  for (int i = 0; i < kNodes; ++i) {
    nodes.push_back(std::make_unique<Node>());
    nodes.back()->Start(binary, dir + "/node" + std::to_string(i + 1),
                        {{"NEBU_ETCD_ENDPOINTS", endpoints},
                         {"NEBU_ETCD_PREFIX", prefix},
                         {"NEBU_NODE_ID", "node" + std::to_string(i + 1)},
                         {"NEBU_GRPC_ADDR", "127.0.0.1:" + std::to_string(FreePort())},
                         {"NEBU_INTERNAL_SECRET", std::string(kSecret)}});
  }
  auto etcd_client =
      nebu::replication::EtcdClient::Create({.endpoints = SplitEndpoints(endpoints)});
  if (!etcd_client.ok()) Die("etcd client: " + etcd_client.status().ToString());
  Setup setup{.nodes = {nodes[0].get(), nodes[1].get(), nodes[2].get()},
              .etcd = etcd_client->get(),
              .label = "cluster"};
  setup.Prepare(writers, shared_room, phase_seconds);
  setup.OneWriter(sends, phase_seconds);
  setup.ManyWriters(writer_sends, phase_seconds);
  Delivery(*nodes[0], *nodes[2], deliveries, phase_seconds);
  if (failover && etcd) {
    Failover(*etcd, setup);
  } else {
    std::printf("cluster: failover not measured (%s)\n",
                etcd ? "--failover=0" : "etcd given by --etcd-endpoints");
  }
  for (auto& node : nodes) node->Stop();
  etcd.reset();
  std::filesystem::remove_all(dir);
  return 0;
}
