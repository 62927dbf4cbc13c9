// Server: nebu's HTTP/1.1 server. It accepts connections on one or more listeners, runs
// one coroutine per connection on a thread pool, reads requests within explicit limits,
// hands each complete request to the listener's Router (HandleAsync), and writes the
// Response once the route answers. While an asynchronous route (Router::AddAsync) has
// not answered, the connection's coroutine is suspended and holds no thread, so a
// single-thread server keeps serving other connections.
// This class and api/server.cpp are the only places that know Boost.Beast and Asio.
//
//   Router client("client", &metrics);
//   AddDiscoveryRoutes(client, {...});
//   NEBU_ASSIGN_OR_RETURN(auto server,
//       Server::Start({{.address = "127.0.0.1", .port = 8008, .router = &client}}, {}));
//   ...                 // serve until a signal
//   server->Stop();     // graceful: stop accepting, finish in-flight requests, close
//
// Connection behaviour:
// - Keep-alive per HTTP/1.1 (and HTTP/1.0 with Connection: keep-alive). Requests on one
//   connection are handled one at a time, in order; pipelined bytes wait in the read
//   buffer (at most one queued request per connection).
// - The wait for the first byte of a request is bounded by read_timeout_ms on a new
//   connection and idle_timeout_ms between keep-alive requests; the rest of the request
//   (header and body) by read_timeout_ms; writing a response by write_timeout_ms. A
//   timed-out connection is closed without a response.
// - Rejections, each answered with a Matrix error and Connection: close:
//   header over header_bytes_max 431 M_TOO_LARGE; body over the route's limit
//   (Router::BodyBytesMax) 413 M_TOO_LARGE, before the body is read when the length is
//   declared; malformed HTTP 400 M_UNKNOWN; a connection over a cap 503 M_LIMIT_EXCEEDED.
// - Connection caps, checked when a connection is accepted (the peer IP is the TCP
//   peer's, never a header): all listeners together hold at most connections_max; a
//   listener without `reserved` only connections_max - connections_reserved, so a
//   reserved one (the ops listener: /health, /ready, /metrics) still gets connections
//   when the client listener is saturated; one peer IP at most connections_per_ip_max
//   on one listener (unless per_ip_exempt says otherwise). At most
//   rejecting_connections_max refused connections are answered at once; beyond that a
//   refused connection is closed without an answer, so refusals cannot exhaust file
//   descriptors either.
// - An accept error (EMFILE, ENFILE, ENOBUFS, ...) never stops or spins the accept
//   loop: it waits kAcceptRetryDelayMs and tries again, logging the first error of a
//   run and then every kAcceptErrorsLogEvery-th.
// - The server puts no time limit on an asynchronous route's answer: the route bounds
//   its own wait (/sync's timeout). Stop() first runs each router's Drain(), which
//   answers the requests that wait only for time (parked /sync long-polls answer what
//   they have); a request still unanswered then is waited for like any in-flight
//   request (at most drain_timeout_ms); an answer that arrives after its connection is
//   gone is dropped safely.
// - Spooled bodies (RouteOptions::spool_body): read in chunks of kSpoolChunkBytes into
//   a fresh file in spool_dir (0600) while their SHA-256 is computed; a client that
//   goes away or times out mid-body, or a body over the limit, leaves no file. A disk
//   error while spooling answers 507 M_UNKNOWN. Response::body_file is written in
//   chunks of kSpoolChunkBytes too.
// - TLS (ListenerConfig::tls): the handshake must finish within read_timeout_ms or the
//   connection is closed without an answer; only TLS 1.3 is offered. Certificates are
//   reloaded by ReloadTls without closing a listener.
// - Every answered request is logged (spdlog, info) with the values of the query
//   parameters access_token, token, code and loginToken redacted (RedactTarget), under
//   the client's address: the peer's, or the one a trusted proxy forwarded
//   (limits.trusted_proxies; logged as "client via=peer").
//
// Thread-safety: Start/Stop/port from any thread; Stop is idempotent and is also run
// by the destructor. Routers must outlive the Server.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "api/forwarded.h"
#include "api/router.h"
#include "engine/common/status.h"

namespace nebu::api {

struct ServerLimits {
  size_t header_bytes_max = 16 * 1024;  // request line + header fields
  int64_t read_timeout_ms = 30'000;     // one request, first byte (new connection) to body end
  int64_t idle_timeout_ms = 75'000;     // keep-alive wait for the next request
  int64_t write_timeout_ms = 30'000;    // one response
  int64_t drain_timeout_ms = 10'000;    // Stop(): wait for in-flight requests, then cut
  size_t connections_max = 4096;        // open connections across all listeners
  size_t connections_reserved = 0;      // of connections_max, only for `reserved` listeners
  size_t connections_per_ip_max = 512;  // open connections of one peer IP on one listener
  size_t rejecting_connections_max = 64;  // refused connections being answered 503 at once
  size_t threads = 0;                   // I/O and handler threads; 0: one per hardware thread
  // Peer IPs (as printed by the server: "127.0.0.1", "::1") exempt from
  // connections_per_ip_max, e.g. a trusted reverse proxy; nullptr: none.
  std::function<bool(const std::string& ip)> per_ip_exempt;
  // Peers whose X-Forwarded-For names the client (Request::remote_address, the access
  // log); see api/forwarded.h. Empty: the header is ignored.
  TrustedProxies trusted_proxies;
  // TLS for the listeners with ListenerConfig::tls: the PEM certificate chain and
  // private key (TLS 1.3 only; ALPN is not negotiated: HTTP/1.1). Both empty: none.
  // Read by Start (an error fails it) and again by ReloadTls.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Where spooled request bodies (RouteOptions::spool_body) are written; empty: the
  // system's temporary directory. Put it on the media store's filesystem so that
  // storing an upload is a hard link, not a copy.
  std::string spool_dir;
};

// File descriptors a Server holds beyond its connections (acceptors, the io_context's
// epoll and eventfd), for the process's fd budget.
inline constexpr size_t kServerOtherFdsMax = 16;
// Chunk of a spooled request body and of a streamed file response (bytes).
inline constexpr size_t kSpoolChunkBytes = 256 * 1024;

struct ListenerConfig {
  std::string address;  // IP literal to bind, e.g. "127.0.0.1", "::"
  uint16_t port = 0;    // 0: an ephemeral port (see Server::port)
  const Router* router = nullptr;
  bool reserved = false;  // may use ServerLimits::connections_reserved (the ops listener)
  bool tls = false;       // speak TLS 1.3 (needs ServerLimits::tls_cert_file / tls_key_file)
};

class Server {
 public:
  // Binds every listener and starts serving. Errors: kInvalidArgument for a bad address,
  // a missing router, a TLS listener without TLS files, or TLS files that cannot be
  // loaded (unreadable, not PEM, key and certificate not matching); kIoError when a
  // bind or listen fails (port in use, ...).
  [[nodiscard]] static Result<std::unique_ptr<Server>> Start(std::vector<ListenerConfig> listeners,
                                                             ServerLimits limits);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound port of listeners[index] (resolves port 0).
  [[nodiscard]] uint16_t port(size_t index) const;

  // Stops accepting, drains the routers (Router::Drain: parked long-polls answer),
  // closes idle connections, lets in-flight requests finish (their responses say
  // Connection: close) for at most drain_timeout_ms, then stops the threads. Blocks
  // until done. Idempotent.
  void Stop();

  // Reads the TLS files again (the operator's SIGHUP): connections accepted from now
  // on use the new certificate and key; open ones keep theirs; no listener is closed.
  // kInvalidArgument without TLS, or the errors of Start for bad files; then the
  // previous certificate stays in use. Logged either way.
  Status ReloadTls();

 private:
  struct Impl;  // in server.cpp: the io_context, acceptors, threads, sessions
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace nebu::api
