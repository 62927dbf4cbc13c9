// Helpers shared by the benchmarks that drive real `nebu` processes over HTTP on
// loopback (bench_api, bench_cluster): failing loudly, free ports, the Matrix calls
// every scenario starts with, and a bounded parallel driver.
//
//   TestHttpClient client(port);
//   std::string token = Register(client, "alice");
//   std::string room = CreateRoom(client, token);
//   std::vector<double> ms = Parallel(64, 200, 60.0, [&](int t, int i) { ...; return ms; });
#pragma once

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <thread>
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
