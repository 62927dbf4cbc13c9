// EtcdCluster: a throwaway etcd cluster of real `etcd` processes (Debian's etcd-server)
// on loopback, for the cluster tests. Members listen on free ports below the
// ephemeral range; data lives under the given directory; short heartbeat and
// election timeouts make a leader failover take well under a second.
//
//   EtcdCluster etcd(dir + "/etcd", 3);
//   ASSERT_TRUE(etcd.Start());
//   std::string endpoints = etcd.Endpoints();        // "http://127.0.0.1:P1,..."
//   int leader = etcd.Leader();                      // member index, -1 if none
//   etcd.Signal(leader, SIGKILL); etcd.Restart(leader);
//
// The binary is $NEBU_TEST_ETCD_BINARY or /usr/bin/etcd; Available() says whether it
// exists (scripts/test.sh installs it). In a fixture's SetUp:
//
//   NEBU_REQUIRE_ETCD_BINARY();   // skips the test without it; fails it instead when
//                                 // NEBU_TEST_ETCD_REQUIRED=1 (scripts/test.sh sets it)
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "replication/etcd_client.h"

namespace nebu::cluster_testing {

class EtcdCluster {
 public:
  static constexpr int kStartTimeoutMs = 20'000;

  EtcdCluster(std::string dir, int members) : dir_(std::move(dir)), members_(members) {}
  ~EtcdCluster() {
    for (int i = 0; i < members_; ++i) Signal(i, SIGKILL);
  }

  static std::string Binary() {
    const char* env = std::getenv("NEBU_TEST_ETCD_BINARY");
    return env != nullptr && *env != '\0' ? env : "/usr/bin/etcd";
  }
  static bool Available() { return ::access(Binary().c_str(), X_OK) == 0; }

  // Starts every member and waits until the cluster has a leader.
  bool Start() {
    // Distinct ports in [20000, 32000) (below the ephemeral range); nebu's test
    // processes pick theirs from the same range, a clash makes one of them retry.
    std::mt19937 rng(std::random_device{}());
    const auto base = static_cast<uint16_t>(20000 + rng() % 11800);
    for (int i = 0; i < members_; ++i) {
      client_ports_.push_back(static_cast<uint16_t>(base + 2 * i));
      peer_ports_.push_back(static_cast<uint16_t>(base + 2 * i + 1));
    }
    pids_.assign(members_, -1);
    for (int i = 0; i < members_; ++i) {
      if (!Spawn(i, /*existing=*/false)) return false;
    }
    return WaitForLeader(kStartTimeoutMs);
  }

  // Starts a member that was stopped, on its old data (it rejoins the cluster).
  bool Restart(int i) {
    Signal(i, SIGKILL);
    return Spawn(i, /*existing=*/true) && WaitForLeader(kStartTimeoutMs);
  }

  // Sends `sig` to member i; SIGKILL/SIGTERM also reap it.
  void Signal(int i, int sig) {
    if (i < 0 || i >= static_cast<int>(pids_.size()) || pids_[i] <= 0) return;
    ::kill(pids_[i], sig);
    if (sig == SIGKILL || sig == SIGTERM) {
      ::waitpid(pids_[i], nullptr, 0);
      pids_[i] = -1;
    }
  }

  std::string Endpoint(int i) const {
    return "http://127.0.0.1:" + std::to_string(client_ports_[i]);
  }
  std::string Endpoints() const {
    std::string out;
    for (int i = 0; i < members_; ++i) out += (i ? "," : "") + Endpoint(i);
    return out;
  }

  // The index of the member that is the leader, -1 if none answers.
  int Leader() const {
    for (int i = 0; i < members_; ++i) {
      if (pids_[i] <= 0) continue;
      auto client = replication::EtcdClient::Create({.endpoints = {Endpoint(i)}});
      if (!client.ok()) continue;
      auto status = (*client)->MemberStatus(0, std::chrono::milliseconds(1000));
      if (status.ok() && status->leader != 0 && status->leader == status->member_id) return i;
    }
    return -1;
  }

  bool WaitForLeader(int timeout_ms) const {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      if (Leader() >= 0) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return false;
  }

  int members() const { return members_; }

 private:
  std::string Name(int i) const { return "m" + std::to_string(i); }
  std::string PeerUrl(int i) const { return "http://127.0.0.1:" + std::to_string(peer_ports_[i]); }

  bool Spawn(int i, bool existing) {
    std::string initial;
    for (int j = 0; j < members_; ++j) initial += (j ? "," : "") + Name(j) + "=" + PeerUrl(j);
    const std::string data = dir_ + "/" + Name(i);
    std::filesystem::create_directories(dir_);
    std::vector<std::string> args = {
        Binary(),
        "--name=" + Name(i),
        "--data-dir=" + data,
        "--listen-client-urls=" + Endpoint(i),
        "--advertise-client-urls=" + Endpoint(i),
        "--listen-peer-urls=" + PeerUrl(i),
        "--initial-advertise-peer-urls=" + PeerUrl(i),
        "--initial-cluster=" + initial,
        std::string("--initial-cluster-state=") + (existing ? "existing" : "new"),
        "--initial-cluster-token=nebu-test",
        "--heartbeat-interval=50",
        "--election-timeout=500",
        "--logger=zap",
        "--log-level=error",
    };
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const std::string log = dir_ + "/" + Name(i) + ".log";
    int log_fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    pid_t pid = ::fork();
    if (pid == 0) {
      ::setpgid(0, 0);
      if (log_fd >= 0) {
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
      }
      ::execv(argv[0], argv.data());
      ::_exit(127);
    }
    if (log_fd >= 0) ::close(log_fd);
    pids_[i] = pid;
    return pid > 0;
  }

  std::string dir_;
  int members_;
  std::vector<uint16_t> client_ports_, peer_ports_;
  std::vector<pid_t> pids_;
};

}  // namespace nebu::cluster_testing

#define NEBU_REQUIRE_ETCD_BINARY()                                                           \
  do {                                                                                       \
    if (!::nebu::cluster_testing::EtcdCluster::Available()) {                                \
      const char* required_ = std::getenv("NEBU_TEST_ETCD_REQUIRED");                        \
      if (required_ != nullptr && std::string_view(required_) == "1") {                      \
        FAIL() << "etcd is required (NEBU_TEST_ETCD_REQUIRED=1) but "                        \
               << ::nebu::cluster_testing::EtcdCluster::Binary() << " is missing";           \
      }                                                                                      \
      GTEST_SKIP() << "etcd test skipped: no " << ::nebu::cluster_testing::EtcdCluster::Binary(); \
    }                                                                                        \
  } while (false)
