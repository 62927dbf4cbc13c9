// Helpers shared by the benchmarks that drive real `nebu` processes over HTTP on
// loopback (bench_api, bench_cluster, bench_load): failing loudly, free ports, a
// server child process, the Matrix calls every scenario starts with, a bounded
// parallel driver, and for load drivers a client bound to its own loopback source
// address with a 429 retry that obeys retry_after_ms.
//
//   TestHttpClient client(port);
//   std::string token = Register(client, "alice");
//   std::string room = CreateRoom(client, token);
//   std::vector<double> ms = Parallel(64, 200, 60.0, [&](int t, int i) { ...; return ms; });
//   LoadClient vu(port, SourceAddress(7), 60);  // from 127.0.0.9
//   Retried r = RetryLimitExceeded(
//       [&](int64_t left_ms) { return vu.Call("POST", login, body, {}, left_ms); }, 1000,
//       now + 60s, run_end);
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <optional>
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

// A loopback source address for load client `index` (host byte order): 127.0.y.z with
// z in 2..254 (never the server's 127.0.0.1, never .0 or .255), 253 per y. All of
// 127.0.0.0/8 is loopback on Linux, so a client can bind() any of them before
// connect(): every client then counts as its own peer IP for the server's per-IP caps.
inline constexpr int kSourceAddressesMax = 253 * 256;
inline uint32_t SourceAddress(int index) {
  if (index < 0 || index >= kSourceAddressesMax) Die("source address index out of range");
  return (127u << 24) | (static_cast<uint32_t>(index / 253) << 8) |
         static_cast<uint32_t>(index % 253 + 2);
}
inline std::string AddressText(uint32_t host_order) {
  return std::to_string(host_order >> 24) + "." + std::to_string((host_order >> 16) & 255) + "." +
         std::to_string((host_order >> 8) & 255) + "." + std::to_string(host_order & 255);
}

// LoadClient: a blocking HTTP/1.1 client on one keep-alive loopback connection, like
// api::testing::TestHttpClient (Content-Length bodies only), but connected from
// `source` (a loopback address in host byte order; 0: the kernel's choice, 127.0.0.1)
// and with a receive timeout of `timeout_s` (k6's default is 60 s). A reply with
// status 0 means no answer (refused, closed, or timed out): make a new client.
class LoadClient {
 public:
  LoadClient(uint16_t port, uint32_t source, int timeout_s)
      : fd_(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)),
        timeout_ms_(int64_t{timeout_s} * 1000) {
    if (fd_ < 0) return;
    SetTimeout(timeout_ms_);
    if (source != 0) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      local.sin_addr.s_addr = htonl(source);  // port 0: an ephemeral one of this address
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) return;
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~LoadClient() {
    if (fd_ >= 0) ::close(fd_);
  }
  LoadClient(const LoadClient&) = delete;
  LoadClient& operator=(const LoadClient&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }

  // One request; `timeout_ms` (when shorter than the client's timeout) bounds this
  // one's wait for its answer, e.g. to what is left of a login's budget.
  api::testing::HttpReply Call(std::string_view method, std::string_view target,
                               std::string_view body = {},
                               std::optional<std::string_view> token = std::nullopt,
                               std::optional<int64_t> timeout_ms = std::nullopt) {
    api::testing::HttpReply reply;
    if (!connected_) return reply;
    const int64_t wait_ms = std::max<int64_t>(1, std::min(timeout_ms.value_or(timeout_ms_),
                                                          timeout_ms_));
    if (wait_ms != current_ms_) SetTimeout(wait_ms);
    std::string request = std::string(method) + " " + std::string(target) +
                          " HTTP/1.1\r\nHost: load\r\nContent-Length: " +
                          std::to_string(body.size()) + "\r\n";
    if (!body.empty()) request += "Content-Type: application/json\r\n";
    if (token) request += "Authorization: Bearer " + std::string(*token) + "\r\n";
    request += "\r\n";
    request += body;
    for (std::string_view rest = request; !rest.empty();) {
      ssize_t n = ::send(fd_, rest.data(), rest.size(), MSG_NOSIGNAL);
      if (n <= 0) return Broken();
      rest.remove_prefix(static_cast<size_t>(n));
    }
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return Broken();
    }
    reply.head = buffer_.substr(0, end + 2);
    std::string lower = reply.head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t length = 0;
    if (size_t at = lower.find("content-length: "); at != std::string::npos) {
      length = std::stoul(reply.head.substr(at + 16));
    }
    while (buffer_.size() < end + 4 + length) {
      if (!Fill()) return Broken();
    }
    reply.status = std::stoi(reply.head.substr(9, 3));
    reply.body = buffer_.substr(end + 4, length);
    buffer_.erase(0, end + 4 + length);
    if (lower.find("connection: close") != std::string::npos) connected_ = false;
    return reply;
  }

 private:
  void SetTimeout(int64_t ms) {
    timeval timeout{.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    current_ms_ = ms;
  }
  api::testing::HttpReply Broken() {
    connected_ = false;
    return {};
  }
  bool Fill() {
    char chunk[16384];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  const int64_t timeout_ms_;  // the client's
  int64_t current_ms_ = 0;    // the socket's now
  bool connected_ = false;
  std::string buffer_;
};

// retry_after_ms of a 429 M_LIMIT_EXCEEDED reply; nullopt for any other reply. A 429
// M_LIMIT_EXCEEDED without the field counts as 5000 ms (matrix-nio's default).
inline std::optional<int64_t> RetryAfterMs(const api::testing::HttpReply& reply) {
  if (reply.status != 429 || reply.Errcode() != "M_LIMIT_EXCEEDED") return std::nullopt;
  boost::json::value json = reply.Json();
  if (!json.is_object()) return 5000;
  const boost::json::value* ms = json.as_object().if_contains("retry_after_ms");
  if (ms != nullptr && ms->is_int64() && ms->as_int64() >= 0) return ms->as_int64();
  return 5000;
}

// The outcome of RetryLimitExceeded.
struct Retried {
  enum class End { kAnswered, kBudgetSpent, kStopped };
  api::testing::HttpReply reply;  // the last one
  int retries = 0;                // calls after the first
  int64_t waited_ms = 0;          // slept, obeying retry_after_ms
  End end = End::kAnswered;
};

// Calls `call(remaining_ms)` (returning an HttpReply; remaining_ms: what is left of the
// budget, to bound the call's own wait) again after each 429 M_LIMIT_EXCEEDED,
// sleeping its retry_after_ms first, as matrix-nio does for every request and
// matrix-js-sdk for event sends. Bounded: at most `attempts_max` calls; a wait that
// would end past `budget_end` is not started (kBudgetSpent: the client gives up, an
// error) nor one past `stop` (kStopped: the run is over; neither success nor error).
template <typename Call>
Retried RetryLimitExceeded(Call call, int attempts_max,
                           std::chrono::steady_clock::time_point budget_end,
                           std::chrono::steady_clock::time_point stop) {
  Retried out;
  for (int attempt = 1;; ++attempt) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        budget_end - std::chrono::steady_clock::now());
    out.reply = call(std::max<int64_t>(1, left.count()));
    std::optional<int64_t> wait_ms = RetryAfterMs(out.reply);
    if (!wait_ms) return out;
    const auto resume = std::chrono::steady_clock::now() + std::chrono::milliseconds(*wait_ms);
    if (resume > stop && stop <= budget_end) {
      out.end = Retried::End::kStopped;
      return out;
    }
    if (resume > budget_end || attempt >= attempts_max) {
      out.end = Retried::End::kBudgetSpent;
      return out;
    }
    std::this_thread::sleep_until(resume);
    out.waited_ms += *wait_ms;
    ++out.retries;
  }
}

}  // namespace nebu::bench
