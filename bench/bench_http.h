// Helpers shared by the benchmarks that drive real `nebu` processes over HTTP on
// loopback (bench_api, bench_cluster, bench_load): failing loudly, free ports, a
// server child process, the Matrix calls every scenario starts with, and a bounded
// parallel driver.
//
//   TestHttpClient client(port);
//   std::string token = Register(client, "alice");
//   std::string room = CreateRoom(client, token);
//   std::vector<double> ms = Parallel(64, 200, 60.0, [&](int t, int i) { ...; return ms; });
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "tests/api/test_http_client.h"

namespace nebu::bench {

inline constexpr std::string_view kV3 = "/_matrix/client/v3";

// Prints "<program>: what" and exits 1: a benchmark that cannot set up measures nothing.
[[noreturn]] inline void Die(const std::string& what) {
  std::fprintf(stderr, "%s: %s\n", program_invocation_short_name, what.c_str());
  std::exit(1);
}

inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// A loopback port the kernel had free a moment ago.
inline uint16_t FreePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  socklen_t length = sizeof address;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  ::close(fd);
  return ntohs(address.sin_port);
}

// The reply's JSON; Die unless it is a 200.
inline boost::json::value Ok(const api::testing::HttpReply& reply, const char* what) {
  if (reply.status != 200) {
    Die(std::string(what) + ": HTTP " + std::to_string(reply.status) + " " + reply.body);
  }
  return reply.Json();
}

// A `nebu serve` child process on loopback with its own data directory (removed at the
// end), registration open and rate limits off; `env` adds or overrides variables.
// Start waits up to 10 s for /_matrix/client/versions.
struct Server {
  pid_t pid = 0;
  uint16_t port = 0;
  std::string dir;

  void Start(const std::string& binary,
             const std::vector<std::pair<std::string, std::string>>& env = {}) {
    dir = (std::filesystem::temp_directory_path() / ("nebu-bench-" + std::to_string(getpid())))
              .string();
    std::filesystem::remove_all(dir);
    port = FreePort();
    uint16_t ops = FreePort();
    pid = fork();
    if (pid == 0) {
      // The server goes with the benchmark, even one that died (Die, a crash).
      prctl(PR_SET_PDEATHSIG, SIGTERM);
      setenv("NEBU_DATA_DIR", dir.c_str(), 1);
      setenv("NEBU_CLIENT_ADDR", ("127.0.0.1:" + std::to_string(port)).c_str(), 1);
      setenv("NEBU_OPS_ADDR", ("127.0.0.1:" + std::to_string(ops)).c_str(), 1);
      setenv("NEBU_REGISTRATION", "open", 1);
      setenv("NEBU_RATE_LIMIT", "off", 1);
      setenv("NEBU_LOG_LEVEL", "warn", 1);
      for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
      execl(binary.c_str(), binary.c_str(), "serve", static_cast<char*>(nullptr));
      _exit(127);
    }
    for (int i = 0; i < 200; ++i) {  // up to 10 s
      api::testing::TestHttpClient probe(port);
      if (probe.connected() && probe.Call("GET", "/_matrix/client/versions").status == 200) return;
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    Die("the server did not answer within 10 s");
  }
  ~Server() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
    if (!dir.empty()) std::filesystem::remove_all(dir);
  }
};

// Registers `name` (m.login.dummy); its access token.
inline std::string Register(api::testing::TestHttpClient& client, const std::string& name) {
  boost::json::value body =
      Ok(client.Call("POST", std::string(kV3) + "/register",
                     boost::json::serialize(boost::json::object{
                         {"username", name},
                         {"password", "bench password " + name},
                         {"auth", boost::json::object{{"type", "m.login.dummy"}}}})),
         "register");
  return std::string(body.at("access_token").as_string());
}

// A public_chat room; its ID.
inline std::string CreateRoom(api::testing::TestHttpClient& client, const std::string& token) {
  boost::json::value body = Ok(client.Call("POST", std::string(kV3) + "/createRoom",
                                           R"({"preset":"public_chat"})", token),
                               "createRoom");
  return std::string(body.at("room_id").as_string());
}

// One m.room.message (the room ID percent-encoded); the reply.
inline api::testing::HttpReply SendMessage(api::testing::TestHttpClient& client,
                                           const std::string& token, const std::string& room,
                                           const std::string& txn, const std::string& text) {
  return client.Call("PUT",
                     std::string(kV3) + "/rooms/" + api::testing::PercentEncode(room) +
                         "/send/m.room.message/" + txn,
                     boost::json::serialize(boost::json::object{{"msgtype", "m.text"},
                                                                {"body", text}}),
                     token);
}

// Runs `threads` workers that each call `work(thread, i)` for i = 0.. until `per_thread`
// calls or `seconds` have passed; `work` returns the latency in ms to record (< 0: none).
template <typename Work>
std::vector<double> Parallel(int threads, int per_thread, double seconds, Work work) {
  std::vector<std::vector<double>> samples(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      for (int i = 0; i < per_thread && std::chrono::steady_clock::now() < deadline; ++i) {
        double ms = work(t, i);
        if (ms >= 0) samples[static_cast<size_t>(t)].push_back(ms);
      }
    });
  }
  for (std::thread& thread : pool) thread.join();
  std::vector<double> all;
  for (auto& s : samples) all.insert(all.end(), s.begin(), s.end());
  return all;
}

}  // namespace nebu::bench
