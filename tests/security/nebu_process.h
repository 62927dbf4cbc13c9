// NebuProcess and SecurityTest: the security suite attacks the real `nebu` binary
// (built by this tree; its path comes from CMake as NEBU_BINARY) over real HTTP on
// loopback, the way an ordinary user with curl would. Each test gets its own process
// and data directory, so a crash, a kill -9 or a full disk is seen exactly as an
// operator would see it: the process's exit status, its log, what survives a restart.
//
//   class MyTest : public SecurityTest {};
//   TEST_F(MyTest, SomethingHolds) {
//     Start();                                   // or Start({{"NEBU_RATE_LIMIT", "on"}})
//     std::string alice = Register("alice");     // access token, via POST /register
//     std::string room = CreateRoom(alice);
//     HttpReply r = Call("POST", "/rooms/%FF/leave", alice);
//     EXPECT_EQ(r.status, 400);
//     ExpectAlive();                             // /health answers, process running
//   }
//
// Defaults of every started process: NEBU_REGISTRATION=open, NEBU_RATE_LIMIT=off,
// NEBU_LOG_LEVEL=warn, server name "localhost", data in a fresh temp dir (or the
// `data_dir` given), both listeners on free loopback ports below the ephemeral
// range. Environment given to Start() overrides the defaults; a value of "" removes
// the variable. The process's output goes to <data dir>.log, printed on failure.
#pragma once

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "engine/testing/free_port.h"
#include "engine/testing/temp_dir.h"
#include "tests/api/test_http_client.h"

namespace nebu::security {

namespace json = boost::json;
using api::testing::HttpReply;
using api::testing::TestHttpClient;

inline constexpr std::string_view kV3 = "/_matrix/client/v3";

using Env = std::map<std::string, std::string>;

class NebuProcess {
 public:
  static constexpr int kStartTimeoutMs = 20'000;
  static constexpr int kStartTriesMax = 4;  // a port taken meanwhile: another pair

  NebuProcess() = default;
  // How Start() sees that nebu serves; unset: GET /health over plain HTTP on the ops
  // port answers 200 (a TLS listener needs its own probe).
  std::function<bool(uint16_t ops_port)> health_probe;
  ~NebuProcess() { Kill(SIGKILL); }
  NebuProcess(const NebuProcess&) = delete;
  NebuProcess& operator=(const NebuProcess&) = delete;

  // Starts nebu with `env` over the defaults, on `data_dir`; waits until /health
  // answers. False (with the log printed) if it never does.
  bool Start(const std::string& data_dir, const Env& env = {}) {
    if (TryStart(data_dir, env)) return true;
    ADD_FAILURE() << "nebu did not start; log:\n" << Log();
    return false;
  }

  // Starts nebu as Start does, expecting it to refuse: true if it exited (with a
  // non-zero status) before serving /health.
  bool StartRefused(const std::string& data_dir, const Env& env = {}) {
    if (TryStart(data_dir, env, /*tries=*/1)) return false;
    return exit_status_.has_value() && *exit_status_ != 0;
  }

 private:
  bool TryStart(const std::string& data_dir, const Env& env, int tries = kStartTriesMax) {
    data_dir_ = data_dir;
    log_path_ = data_dir + ".log";
    for (int attempt = 0; attempt < tries; ++attempt) {
      client_port_ = PickPort();
      ops_port_ = PickPort();
      if (ops_port_ == client_port_) continue;
      Env merged = {{"NEBU_DATA_DIR", data_dir},
                    {"NEBU_CLIENT_ADDR", "127.0.0.1:" + std::to_string(client_port_)},
                    {"NEBU_OPS_ADDR", "127.0.0.1:" + std::to_string(ops_port_)},
                    {"NEBU_REGISTRATION", "open"},
                    {"NEBU_RATE_LIMIT", "off"},
                    {"NEBU_LOG_LEVEL", "warn"},
                    {"NEBU_SERVER_NAME", "localhost"}};
      for (const auto& [name, value] : env) {
        if (value.empty()) {
          merged.erase(name);
        } else {
          merged[name] = value;
        }
      }
      if (Spawn(merged) && WaitHealthy()) return true;
      if (Running()) Kill(SIGKILL);
    }
    return false;
  }

 public:

  // Sends `sig`; for SIGKILL/SIGTERM/SIGINT also reaps the process and returns its
  // wait status. -1 if no process runs.
  int Kill(int sig) {
    if (pid_ <= 0) return -1;
    ::kill(pid_, sig);
    if (sig != SIGKILL && sig != SIGTERM && sig != SIGINT) return 0;
    return Wait();
  }

  // Waits for the process to exit (at most `timeout_ms`, then SIGKILL); its status.
  int Wait(int timeout_ms = 15'000) {
    if (pid_ <= 0) return -1;
    int status = 0;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > deadline) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    pid_ = -1;
    return status;
  }

  // True while the process has not exited (reaps it if it has).
  bool Running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      exit_status_ = status;
      return false;
    }
    return true;
  }

  [[nodiscard]] uint16_t client_port() const { return client_port_; }
  [[nodiscard]] uint16_t ops_port() const { return ops_port_; }
  [[nodiscard]] pid_t pid() const { return pid_; }
  [[nodiscard]] std::optional<int> exit_status() const { return exit_status_; }

  [[nodiscard]] std::string Log() const {
    std::ifstream in(log_path_);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  // A port in [20000, 32000): below Linux's default ephemeral range, so no client
  // connection's local end holds it; a taken one makes nebu exit and Start retry.
  // A port from the kernel's ephemeral range (engine/testing/free_port.h): random ports
  // in 20000-32000 could be the ones scripts/etcd.sh had just given etcd.
  static uint16_t PickPort() { return nebu::testing::FreeLoopbackPort(); }

  bool Spawn(const Env& env) {
    exit_status_.reset();
    std::vector<std::string> entries;
    for (char** e = environ; *e != nullptr; ++e) {
      std::string_view entry(*e);
      if (!entry.starts_with("NEBU_")) entries.emplace_back(entry);  // no inherited config
    }
    for (const auto& [name, value] : env) entries.push_back(name + "=" + value);
    std::vector<char*> envp;
    for (std::string& entry : entries) envp.push_back(entry.data());
    envp.push_back(nullptr);
    std::string binary = NEBU_BINARY;
    char* argv[] = {binary.data(), nullptr};
    int log_fd = ::open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    pid_ = ::fork();
    if (pid_ == 0) {
      ::setpgid(0, 0);
      if (log_fd >= 0) {
        ::dup2(log_fd, 1);
        ::dup2(log_fd, 2);
      }
      ::execve(binary.c_str(), argv, envp.data());
      ::_exit(127);
    }
    if (log_fd >= 0) ::close(log_fd);
    return pid_ > 0;
  }

  bool WaitHealthy() {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kStartTimeoutMs);
    while (std::chrono::steady_clock::now() < deadline) {
      if (!Running()) return false;
      if (health_probe) {
        if (health_probe(ops_port_)) return true;
      } else {
        TestHttpClient client(ops_port_);
        if (client.connected() && client.Call("GET", "/health").status == 200) return true;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  std::string data_dir_;
  std::string log_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
  uint16_t client_port_ = 0;
  uint16_t ops_port_ = 0;
};

// A test with one nebu process and helpers that act as its users over HTTP.
class SecurityTest : public ::testing::Test {
 protected:
  void TearDown() override {
    if (HasFailure()) std::cerr << "---- nebu log ----\n" << nebu_.Log() << "------------------\n";
  }

  // Starts nebu on this test's data dir (kept across Restart()).
  void Start(const Env& env = {}) {
    env_ = env;
    ASSERT_TRUE(nebu_.Start(DataDir(), env_));
  }
  // Stops nebu with `sig` (SIGKILL: a crash) and starts it again on the same data.
  void Restart(int sig = SIGTERM, const Env& env = {}) {
    nebu_.Kill(sig);
    if (!env.empty()) env_ = env;
    ASSERT_TRUE(nebu_.Start(DataDir(), env_));
  }
  std::string DataDir() const { return dir_.path() + "/data"; }

  // One request over a fresh connection. `path` is below /_matrix/client/v3 unless
  // it starts with '/_'; it is sent as given (encode what needs encoding yourself).
  HttpReply Call(const std::string& method, const std::string& path, const std::string& token = "",
                 const std::string& body = "", const std::vector<std::string>& headers = {}) {
    std::string target = path.starts_with("/_") ? path : std::string(kV3) + path;
    TestHttpClient client(nebu_.client_port());
    if (!client.connected()) return {};
    std::optional<std::string_view> bearer;
    if (!token.empty()) bearer = token;
    return client.Call(method, target, body, bearer, headers);
  }
  HttpReply Call(const std::string& method, const std::string& path, const std::string& token,
                 const json::value& body, const std::vector<std::string>& headers = {}) {
    return Call(method, path, token, json::serialize(body), headers);
  }
  HttpReply Ops(const std::string& path) {
    TestHttpClient client(nebu_.ops_port());
    return client.connected() ? client.Call("GET", path) : HttpReply{};
  }

  // Registers @localpart:localhost (password "password-<localpart>"); its access token.
  std::string Register(const std::string& localpart) {
    HttpReply r = Call("POST", "/register", "",
                       json::object{{"username", localpart},
                                    {"password", "password-" + localpart},
                                    {"auth", {{"type", "m.login.dummy"}}}});
    EXPECT_EQ(r.status, 200) << r.body;
    json::value v = r.Json();
    return r.status == 200 ? std::string(v.at("access_token").as_string()) : "";
  }
  static std::string UserId(const std::string& localpart) { return "@" + localpart + ":localhost"; }

  std::string CreateRoom(const std::string& token, const json::object& body = {}) {
    HttpReply r = Call("POST", "/createRoom", token, body);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(r.Json().at("room_id").as_string()) : "";
  }
  int Join(const std::string& token, const std::string& room_id) {
    return Call("POST", "/join/" + Encode(room_id), token, json::object{}).status;
  }
  // Sends an m.room.message; its event ID ("" on failure, with a test failure).
  std::string Send(const std::string& token, const std::string& room_id, const std::string& text) {
    HttpReply r = Call("PUT",
                       "/rooms/" + Encode(room_id) + "/send/m.room.message/t" +
                           std::to_string(++txn_),
                       token, json::object{{"msgtype", "m.text"}, {"body", text}});
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(r.Json().at("event_id").as_string()) : "";
  }

  // The process is running and /health and /versions answer.
  void ExpectAlive() {
    EXPECT_TRUE(nebu_.Running()) << "nebu exited with status " << nebu_.exit_status().value_or(-1);
    EXPECT_EQ(Ops("/health").status, 200);
    EXPECT_EQ(Call("GET", "/_matrix/client/versions").status, 200);
  }

  // The event IDs of a 200 answer's "chunk" (/messages, /relations); empty otherwise.
  static std::vector<std::string> ChunkEventIds(const HttpReply& reply) {
    std::vector<std::string> ids;
    if (reply.status != 200) return ids;
    const json::value body = reply.Json();
    for (const json::value& e : body.at("chunk").as_array()) {
      ids.emplace_back(e.at("event_id").as_string());
    }
    return ids;
  }

  // Percent-encodes every byte outside the URI's unreserved set.
  static std::string Encode(std::string_view text) { return api::testing::PercentEncode(text); }

  nebu::testing::TempDir dir_;  // on disk: durability is what some tests check
  NebuProcess nebu_;
  Env env_;
  int txn_ = 0;
};

}  // namespace nebu::security

// ---- resources (issue 7, item 7) ----
#include <pthread.h>
#include <sys/resource.h>

#include <atomic>
#include <mutex>

namespace nebu::security {

// While one lives, every process the test forks (so every nebu it starts) gets
// RLIMIT_NOFILE lowered to `fds` (soft and hard, so nebu cannot raise it): how an
// fd-exhaustion test gives the server a small budget without lowering its own. Set in
// the forked child by a pthread_atfork handler, before execve.
class ChildFdLimit {
 public:
  explicit ChildFdLimit(rlim_t fds) {
    static std::once_flag once;
    std::call_once(once, [] { ::pthread_atfork(nullptr, nullptr, &ChildFdLimit::InChild); });
    Value() = fds;
  }
  ~ChildFdLimit() { Value() = 0; }
  ChildFdLimit(const ChildFdLimit&) = delete;
  ChildFdLimit& operator=(const ChildFdLimit&) = delete;

 private:
  static std::atomic<rlim_t>& Value() {
    static std::atomic<rlim_t> fds{0};
    return fds;
  }
  static void InChild() {
    rlim_t fds = Value().load();
    if (fds == 0) return;
    rlimit limit{.rlim_cur = fds, .rlim_max = fds};
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
};

// Raises this (test) process's soft RLIMIT_NOFILE to its hard limit, for tests that
// hold many connections; the limit in force.
inline rlim_t RaiseOwnFdLimit() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0) return 0;
  limit.rlim_cur = limit.rlim_max;
  ::setrlimit(RLIMIT_NOFILE, &limit);
  ::getrlimit(RLIMIT_NOFILE, &limit);
  return limit.rlim_cur;
}

}  // namespace nebu::security
