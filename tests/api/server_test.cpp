// Goal: the server over real loopback TCP: routing through the listeners, keep-alive
// and pipelining, the size limits (413, 431), the read and idle timeouts, the
// connection limit, and a graceful stop. Method: a Server on 127.0.0.1 with ephemeral
// ports and short timeouts (300 ms), driven by a small blocking socket client.
#include "api/server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>

#include "api/discovery.h"
#include "api/metrics.h"
#include "api/ops.h"

namespace nebu::api {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kShortTimeoutMs = 300;
constexpr int kClientTimeoutS = 5;  // a hung test fails instead of hanging

struct RawResponse {
  int status = 0;
  std::string head;  // status line and header fields
  std::string body;

  bool HasHeader(std::string_view line) const { return head.find(line) != std::string::npos; }
  std::string Errcode() const {
    return std::string(boost::json::parse(body).at("errcode").as_string());
  }
};

// A blocking HTTP/1.1 client on one TCP connection; reads Content-Length bodies only.
class Client {
 public:
  // `source_ip`: the local address to connect from (any of 127.0.0.0/8), or nullptr.
  explicit Client(uint16_t port, const char* source_ip = nullptr)
      : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    timeval timeout{.tv_sec = kClientTimeoutS, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    if (source_ip != nullptr) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      ::inet_pton(AF_INET, source_ip, &local.sin_addr);
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) return;
    }
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~Client() { ::close(fd_); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return connected_; }

  void Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
  }

  // The next response, or nullopt when the connection closes (or times out) first.
  std::optional<RawResponse> Read() {
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    RawResponse response;
    response.head = buffer_.substr(0, end + 2);
    response.status = std::stoi(response.head.substr(9, 3));
    size_t length = 0;
    size_t at = Lowercase(response.head).find("content-length: ");
    if (at != std::string::npos) length = std::stoul(response.head.substr(at + 16));
    while (buffer_.size() < end + 4 + length) {
      if (!Fill()) return std::nullopt;
    }
    response.body = buffer_.substr(end + 4, length);
    buffer_.erase(0, end + 4 + length);
    return response;
  }

  // True when the server closes the connection (EOF or reset) before the client timeout.
  bool ClosedByServer() {
    char byte;
    ssize_t n = ::recv(fd_, &byte, 1, 0);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

  std::optional<RawResponse> Get(std::string_view target, std::string_view extra_headers = "") {
    Send("GET " + std::string(target) + " HTTP/1.1\r\nHost: test\r\n" + std::string(extra_headers) +
         "\r\n");
    return Read();
  }

 private:
  static std::string Lowercase(std::string text) {
    for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return text;
  }
  bool Fill() {
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }

  int fd_;
  bool connected_ = false;
  std::string buffer_;
};

class ServerTest : public ::testing::Test {
 protected:
  static constexpr size_t kEchoBodyBytesMax = 1024;

  ServerTest() : client_router_("client", &metrics_), ops_router_("ops", &metrics_) {
    AddDiscoveryRoutes(client_router_, {.public_base_url = "http://localhost:8008"});
    client_router_.Add("POST", "/echo",
                       [](const Request& request, const PathParams&) {
                         Response response;
                         response.body = request.body;
                         return response;
                       },
                       {.body_bytes_max = kEchoBodyBytesMax});
    AddOpsRoutes(ops_router_, metrics_);
  }

  void StartServer(ServerLimits limits = ShortLimits(), bool ops_reserved = false) {
    auto server = Server::Start({{.address = "127.0.0.1", .port = 0, .router = &client_router_},
                                 {.address = "127.0.0.1",
                                  .port = 0,
                                  .router = &ops_router_,
                                  .reserved = ops_reserved}},
                                limits);
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }

  static ServerLimits ShortLimits() {
    return {.header_bytes_max = 4096,
            .read_timeout_ms = kShortTimeoutMs,
            .idle_timeout_ms = kShortTimeoutMs,
            .write_timeout_ms = 2000,
            .drain_timeout_ms = 2000,
            .connections_max = 64,
            .threads = 2};
  }

  void SetUp() override { StartServer(); }

  uint16_t client_port() const { return server_->port(0); }
  uint16_t ops_port() const { return server_->port(1); }

  Metrics metrics_;
  Router client_router_;
  Router ops_router_;
  std::unique_ptr<Server> server_;
};

TEST_F(ServerTest, ServesVersionsWithCorsAndJson) {
  Client client(client_port());
  ASSERT_TRUE(client.connected());
  auto response = client.Get("/_matrix/client/versions");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_TRUE(response->HasHeader("Content-Type: application/json"));
  EXPECT_TRUE(response->HasHeader("Access-Control-Allow-Origin: *"));
  EXPECT_NE(response->body.find("\"v1.11\""), std::string::npos) << response->body;
}

TEST_F(ServerTest, OpsListenerServesHealthAndMetrics) {
  Client client(ops_port());
  auto health = client.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
  EXPECT_EQ(health->body, R"({"status":"ok"})");
  auto metrics = client.Get("/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_TRUE(metrics->HasHeader("text/plain; version=0.0.4"));
  EXPECT_NE(metrics->body.find(R"(listener="ops",method="GET",route="/health",status="200"} 1)"),
            std::string::npos)
      << metrics->body;
  EXPECT_NE(metrics->body.find("nebu_http_request_duration_seconds_count"), std::string::npos);
}

TEST_F(ServerTest, ListenersKeepTheirOwnRoutes) {
  Client client(client_port());
  auto response = client.Get("/health");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->Errcode(), "M_UNRECOGNIZED");
}

TEST_F(ServerTest, UnknownPathIs404Unrecognized) {
  Client client(client_port());
  auto response = client.Get("/_matrix/client/v3/nothing_here?access_token=secret");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(response->Errcode(), "M_UNRECOGNIZED");
}

TEST_F(ServerTest, KeepsConnectionsAliveAndAnswersPipelinedRequestsInOrder) {
  Client client(client_port());
  auto first = client.Get("/_matrix/client/versions");
  auto second = client.Get("/.well-known/matrix/client");
  ASSERT_TRUE(first && second);
  EXPECT_EQ(first->status, 200);
  EXPECT_EQ(second->status, 200);
  EXPECT_NE(second->body.find("m.homeserver"), std::string::npos);
  client.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\none"
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\ntwo");
  auto one = client.Read();
  auto two = client.Read();
  ASSERT_TRUE(one && two);
  EXPECT_EQ(one->body, "one");
  EXPECT_EQ(two->body, "two");
}

TEST_F(ServerTest, AnswersPreflightWithoutContentLength) {
  Client client(client_port());
  client.Send(
      "OPTIONS /_matrix/client/v3/login HTTP/1.1\r\nHost: t\r\n"
      "Origin: https://app.example\r\nAccess-Control-Request-Method: POST\r\n\r\n");
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 204);
  EXPECT_TRUE(response->HasHeader("Access-Control-Allow-Methods: GET, POST, PUT, DELETE, OPTIONS"));
  EXPECT_FALSE(response->HasHeader("Content-Length"));
  EXPECT_TRUE(client.Get("/_matrix/client/versions"));  // the connection stays usable
}

TEST_F(ServerTest, HonoursConnectionClose) {
  Client client(client_port());
  auto response = client.Get("/_matrix/client/versions", "Connection: close\r\n");
  ASSERT_TRUE(response);
  EXPECT_TRUE(response->HasHeader("Connection: close"));
  EXPECT_TRUE(client.ClosedByServer());
}

TEST_F(ServerTest, DeclaredOversizedBodyIs413BeforeTheBodyIsSent) {
  Client client(client_port());
  client.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1025\r\n\r\n");
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->Errcode(), "M_TOO_LARGE");
  EXPECT_TRUE(client.ClosedByServer());
}

TEST_F(ServerTest, OversizedBodySentEagerlyStillGets413) {
  Client client(client_port());
  client.Send("POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 4096\r\n\r\n" +
              std::string(4096, 'x'));
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
}

TEST_F(ServerTest, OversizedChunkedBodyIs413) {
  Client client(client_port());
  client.Send("POST /echo HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n800\r\n" +
              std::string(0x800, 'x') + "\r\n0\r\n\r\n");
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 413);
  EXPECT_EQ(response->Errcode(), "M_TOO_LARGE");
}

TEST_F(ServerTest, BodyWithinTheRouteLimitIsAccepted) {
  Client client(client_port());
  std::string body(kEchoBodyBytesMax, 'y');
  client.Send(
      "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\nExpect: 100-continue\r\n\r\n");
  auto proceed = client.Read();
  ASSERT_TRUE(proceed);
  EXPECT_EQ(proceed->status, 100);
  client.Send(body);
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, body);
}

TEST_F(ServerTest, OversizedHeaderIs431) {
  Client client(client_port());
  auto response =
      client.Get("/_matrix/client/versions", "X-Big: " + std::string(8192, 'h') + "\r\n");
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 431);
}

TEST_F(ServerTest, MalformedRequestIs400) {
  Client client(client_port());
  client.Send("GET /x HTTP/1.1\r\nBad Header Without Colon\r\n\r\n");
  auto response = client.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 400);
}

TEST_F(ServerTest, SlowClientIsCutAtTheReadTimeout) {
  Client client(client_port());
  auto start = Clock::now();
  client.Send("GET /_matrix/client/versions HTTP/1.1\r\nHost: t\r\n");  // never finishes
  EXPECT_TRUE(client.ClosedByServer());
  auto elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  EXPECT_GE(elapsed.count(), kShortTimeoutMs - 50);
  EXPECT_LT(elapsed.count(), kClientTimeoutS * 1000 - 1000);
}

TEST_F(ServerTest, IdleKeepAliveConnectionIsClosedAfterTheIdleTimeout) {
  Client client(client_port());
  ASSERT_TRUE(client.Get("/_matrix/client/versions"));
  auto start = Clock::now();
  EXPECT_TRUE(client.ClosedByServer());
  EXPECT_GE(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count(),
            kShortTimeoutMs - 50);
}

TEST_F(ServerTest, ConnectionsOverTheLimitGet503) {
  server_.reset();
  ServerLimits limits = ShortLimits();
  limits.connections_max = 1;
  limits.read_timeout_ms = 3000;
  StartServer(limits);
  Client first(client_port());
  ASSERT_TRUE(first.Get("/_matrix/client/versions"));  // admitted and still open
  Client second(client_port());
  auto response = second.Read();
  ASSERT_TRUE(response);
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(response->Errcode(), "M_LIMIT_EXCEEDED");
}

TEST_F(ServerTest, TheReservedListenerIsServedWhenTheOthersAreFull) {
  server_.reset();
  ServerLimits limits = ShortLimits();
  limits.connections_max = 3;
  limits.connections_reserved = 2;  // the client listener gets 1
  limits.read_timeout_ms = 3000;
  StartServer(limits, /*ops_reserved=*/true);
  Client first(client_port());
  ASSERT_TRUE(first.Get("/_matrix/client/versions"));  // admitted and still open
  Client second(client_port());
  auto refused = second.Read();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->Errcode(), "M_LIMIT_EXCEEDED");
  Client ops1(ops_port());
  Client ops2(ops_port());
  for (Client* ops : {&ops1, &ops2}) {
    auto health = ops->Get("/health");
    ASSERT_TRUE(health);
    EXPECT_EQ(health->status, 200);
  }
}

TEST_F(ServerTest, OnePeerIpIsCappedOtherPeersAreNot) {
  server_.reset();
  ServerLimits limits = ShortLimits();
  limits.connections_per_ip_max = 1;
  limits.read_timeout_ms = 3000;
  StartServer(limits);
  Client first(client_port(), "127.0.0.1");
  ASSERT_TRUE(first.Get("/_matrix/client/versions"));  // admitted and still open
  Client same_ip(client_port(), "127.0.0.1");
  auto refused = same_ip.Read();
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 503);
  EXPECT_EQ(refused->Errcode(), "M_LIMIT_EXCEEDED");
  Client other_ip(client_port(), "127.0.0.2");
  auto served = other_ip.Get("/_matrix/client/versions");
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200);
  Client ops(ops_port(), "127.0.0.1");  // caps are per listener
  auto health = ops.Get("/health");
  ASSERT_TRUE(health);
  EXPECT_EQ(health->status, 200);
}

TEST_F(ServerTest, AnExemptPeerIpIsNotCapped) {
  server_.reset();
  ServerLimits limits = ShortLimits();
  limits.connections_per_ip_max = 1;
  limits.read_timeout_ms = 3000;
  limits.per_ip_exempt = [](const std::string& ip) { return ip == "127.0.0.1"; };
  StartServer(limits);
  Client first(client_port(), "127.0.0.1");
  ASSERT_TRUE(first.Get("/_matrix/client/versions"));
  Client second(client_port(), "127.0.0.1");
  auto served = second.Get("/_matrix/client/versions");
  ASSERT_TRUE(served);
  EXPECT_EQ(served->status, 200);
}

TEST_F(ServerTest, RefusalsBeyondTheRejectingCapAreClosedWithoutAnAnswer) {
  server_.reset();
  ServerLimits limits = ShortLimits();
  limits.connections_max = 1;
  limits.rejecting_connections_max = 0;
  limits.read_timeout_ms = 3000;
  StartServer(limits);
  Client first(client_port());
  ASSERT_TRUE(first.Get("/_matrix/client/versions"));
  Client second(client_port());
  EXPECT_FALSE(second.Read());  // closed, no 503
  EXPECT_TRUE(first.Get("/_matrix/client/versions"));
}

// /ready on the ops router: the write path's health wins over the other probe's.
TEST(OpsReadinessTest, StoppedWritesAndAFullDiskWinOverTheOtherProbe) {
  Metrics metrics;
  Router ops("ops", &metrics);
  Status write_status = Status::Ok();
  AddOpsRoutes(ops, metrics, WithWriteHealth([&] { return write_status; }, AlwaysReady));
  EXPECT_EQ(ops.Handle(MakeRequest("GET", "/ready")).status, 200);
  write_status = Status::Unavailable("writes stopped: IoError: injected EIO");
  Response stopped = ops.Handle(MakeRequest("GET", "/ready"));
  EXPECT_EQ(stopped.status, 503);
  boost::json::value body = boost::json::parse(stopped.body);
  EXPECT_EQ(body.at("status").as_string(), "writes_stopped");
  EXPECT_EQ(body.at("cause").as_string(), "writes stopped: IoError: injected EIO");
  write_status = Status::NoSpace("disk full: 0 bytes free");
  Response full = ops.Handle(MakeRequest("GET", "/ready"));
  EXPECT_EQ(full.status, 503);
  EXPECT_EQ(boost::json::parse(full.body).at("status").as_string(), "disk_full");
  write_status = Status::Ok();
  EXPECT_EQ(ops.Handle(MakeRequest("GET", "/ready")).status, 200);
}

// True when a fresh socket can bind and listen on 127.0.0.1:port.
// Whether a socket listens on the IPv4 port, from the kernel's table (/proc/net/tcp: a
// local address ending in :PPPP, state 0A). Binding the port ourselves instead was
// flaky when tests run side by side: another process's outgoing connection may take
// the released port as its source port, and the bind then fails although nothing
// listens.
bool ListensOn(uint16_t port) {
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, ":%04X", port);
  std::ifstream table("/proc/net/tcp");
  std::string line;
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local_address, remote_address, state;
    fields >> slot >> local_address >> remote_address >> state;
    if (local_address.ends_with(suffix) && state == "0A") return true;
  }
  return false;
}

TEST_F(ServerTest, StopClosesIdleConnectionsWithoutWaitingForTimeouts) {
  server_.reset();
  ServerLimits limits = ShortLimits();
  limits.idle_timeout_ms = 60'000;
  limits.drain_timeout_ms = 60'000;
  StartServer(limits);
  Client client(client_port());
  ASSERT_TRUE(client.Get("/_matrix/client/versions"));
  ASSERT_TRUE(ListensOn(client_port()));
  auto start = Clock::now();
  server_->Stop();
  EXPECT_LT(std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count(),
            2000);
  EXPECT_TRUE(client.ClosedByServer());
  // The listening socket is closed. (Connecting to the port instead was flaky: a
  // connect to a free port in the ephemeral range can pick that same port as its source
  // and connect to itself.)
  EXPECT_FALSE(ListensOn(client_port()));
}

TEST(ServerStartTest, ReportsBadAddressesAndBusyPorts) {
  Router router("client");
  auto bad = Server::Start({{.address = "localhost", .port = 0, .router = &router}}, {});
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  auto first =
      Server::Start({{.address = "127.0.0.1", .port = 0, .router = &router}}, {.threads = 1});
  ASSERT_TRUE(first.ok());
  auto busy = Server::Start(
      {{.address = "127.0.0.1", .port = (*first)->port(0), .router = &router}}, {.threads = 1});
  ASSERT_FALSE(busy.ok());
  EXPECT_EQ(busy.status().code(), StatusCode::kIoError);
}

}  // namespace
}  // namespace nebu::api
