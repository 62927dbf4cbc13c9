// The only translation unit of nebu that includes Boost.Beast and Asio (see server.h;
// api/server_stream.h is its internal part).
// clang-format off
#include <utility>  // first: g++ 12 needs std::exchange declared before Asio's awaitables
// clang-format on

#include "api/server.h"

#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/buffer_body.hpp>
#include <boost/beast/http/chunk_encode.hpp>
#include <boost/beast/http/empty_body.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>

#include "api/body_source.h"
#include "api/errors.h"
#include "api/forwarded.h"
#include "api/rate_limit.h"
#include "api/server_stream.h"
#include "engine/common/crypto.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

namespace nebu::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using std::chrono::milliseconds;
using server_internal::HttpStream;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);
constexpr size_t kFirstReadBytes = 4096;          // the read that waits for a request
constexpr int64_t kAcceptRetryDelayMs = 50;       // after an accept error (EMFILE, ...)
constexpr uint64_t kAcceptErrorsLogEvery = 200;   // of a run of accept errors, log 1 in this
constexpr size_t kRejectDrainBytesMax = 1 << 20;  // unread body swallowed after a 413
constexpr int64_t kRejectDrainTimeoutMs = 1000;   // so the client sees the answer, not RST

// One open connection, shared by its session coroutine and Server::Stop().
struct Connection {
  explicit Connection(tcp::socket socket) : stream(std::move(socket)) {}
  Connection(tcp::socket socket, std::shared_ptr<asio::ssl::context> tls)
      : stream(std::move(socket), std::move(tls)) {}
  HttpStream stream;
  bool idle = true;  // waiting for a request's first byte; touched only on its strand
};

// One value (a request's answer, a streamed body's next piece) on its way back to its
// connection. The callback the producer gets holds only a weak reference: it stores the
// value and, if the session is already waiting, wakes it by cancelling the timer on the
// connection's strand. A value for a connection that is gone (the server stopped, the
// client left) is dropped.
template <class T>
struct PendingValue {
  explicit PendingValue(const asio::any_io_executor& executor)
      : timer(executor, asio::steady_timer::time_point::max()) {}
  std::mutex mutex;
  std::optional<T> value;    // guarded by mutex
  bool waiting = false;      // guarded by mutex: the session sleeps on timer
  asio::steady_timer timer;  // used only on the connection's strand
};

// Calls start(callback) and waits, without holding a thread, for the value the
// callback receives. The session coroutine runs on the connection's strand, so a
// wake-up posted there cannot run between its check of `value` and its wait.
template <class T>
asio::awaitable<T> AwaitCallback(const std::function<void(std::function<void(T)>)>& start) {
  auto pending = std::make_shared<PendingValue<T>>(co_await asio::this_coro::executor);
  std::weak_ptr<PendingValue<T>> weak = pending;
  start([weak](T value) {
    std::shared_ptr<PendingValue<T>> state = weak.lock();
    if (state == nullptr) return;
    bool wake = false;
    {
      std::lock_guard lock(state->mutex);
      state->value = std::move(value);
      wake = state->waiting;
    }
    if (!wake) return;
    asio::post(state->timer.get_executor(), [weak] {
      if (std::shared_ptr<PendingValue<T>> waiter = weak.lock()) waiter->timer.cancel();
    });
  });
  while (true) {
    {
      std::lock_guard lock(pending->mutex);
      if (pending->value) co_return std::move(*pending->value);
      pending->waiting = true;
    }
    (void)co_await pending->timer.async_wait(kTuple);
  }
}

// Runs the router on request and waits for its answer.
asio::awaitable<Response> AwaitAnswer(const Router& router, const Request& request) {
  co_return co_await AwaitCallback<Response>(
      [&](std::function<void(Response)> respond) { router.HandleAsync(request, std::move(respond)); });
}

std::string EndpointText(const tcp::endpoint& endpoint) {
  std::string ip = endpoint.address().to_string();
  if (endpoint.address().is_v6()) ip = "[" + ip + "]";
  return ip + ":" + std::to_string(endpoint.port());
}

std::string_view View(beast::string_view text) { return {text.data(), text.size()}; }

// remote_address is the peer's "ip:port", or the client's IP when a trusted proxy
// forwarded the request (api/forwarded.h).
template <class Body>
Request ToRequest(const http::request<Body>& message, std::string body, std::string remote,
                  const TrustedProxies& proxies) {
  Request request = MakeRequest(std::string(View(message.method_string())),
                                std::string(View(message.target())), std::move(body));
  std::vector<std::string_view> forwarded_for;
  for (const auto& field : message) {
    request.headers.Add(View(field.name_string()), View(field.value()));
    if (beast::iequals(field.name_string(), "X-Forwarded-For")) {
      forwarded_for.push_back(View(field.value()));
    }
  }
  request.remote_address = std::move(remote);
  std::string peer_ip = RemoteIp(request);
  std::string client = ClientAddress(peer_ip, forwarded_for, proxies);
  if (client != peer_ip) request.remote_address = std::move(client);
  return request;
}

// The access log's client: the peer, or "client via=peer" when forwarded.
std::string LoggedClient(const Request& request, const std::string& remote) {
  if (request.remote_address == remote) return remote;
  return request.remote_address + " via=" + remote;
}

// What a failed header/body read deserves: 0 means close silently (EOF, timeout, reset).
int RejectionStatus(const beast::error_code& ec) {
  if (ec == http::error::header_limit) return 431;
  if (ec == http::error::body_limit) return 413;
  if (ec == http::error::end_of_stream || ec == http::error::partial_message) return 0;
  if (ec.category() == http::make_error_code(http::error::bad_method).category()) return 400;
  return 0;
}

Response RejectionResponse(int status) {
  Response response;
  switch (status) {
    case 413:
      response = ErrorResponse(413, "M_TOO_LARGE", "Request body too large");
      break;
    case 431:
      response = ErrorResponse(431, "M_TOO_LARGE", "Request header too large");
      break;
    case 503:
      response = ErrorResponse(503, "M_LIMIT_EXCEEDED", "Too many connections");
      break;
    case 507:
      response = ErrorResponse(507, "M_UNKNOWN", "The server could not store the request body");
      break;
    default:
      response = ErrorResponse(400, "M_UNKNOWN", "Malformed HTTP request");
      break;
  }
  AddCorsHeaders(response);
  return response;
}

// Closes a file descriptor when it goes out of scope.
struct FdCloser {
  int fd = -1;
  ~FdCloser() {
    if (fd >= 0) ::close(fd);
  }
};

// A spooled request body (RouteOptions::spool_body): the file is deleted when the last
// reference goes (after the answer is written, or at once when reading fails).
struct SpoolFile {
  std::filesystem::path path;
  ~SpoolFile() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

struct DigestDeleter {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};

asio::awaitable<bool> WriteResponse(HttpStream& stream, Response response, unsigned version,
                                    bool keep_alive, int64_t timeout_ms);

// Streams response.body_file (see Response): the header, then the bytes in chunks, each
// write bounded by timeout_ms. false when the connection must be cut.
asio::awaitable<bool> WriteFileResponse(HttpStream& stream, Response response,
                                        unsigned version, bool keep_alive, int64_t timeout_ms) {
  FdCloser file{::open(response.body_file.c_str(), O_RDONLY | O_CLOEXEC)};
  if (file.fd < 0) {
    spdlog::error("http: cannot open {} for a response: {}", response.body_file,
                  std::strerror(errno));
    co_return co_await WriteResponse(stream, ErrorResponse(500, "M_UNKNOWN", "Internal error"),
                                     version, keep_alive, timeout_ms);
  }
  http::response<http::empty_body> message{static_cast<http::status>(response.status), version};
  for (const auto& [name, value] : response.headers.fields()) message.insert(name, value);
  message.set(http::field::server, "nebu");
  message.keep_alive(keep_alive);
  message.content_length(response.body_file_length);
  http::response_serializer<http::empty_body> serializer{message};
  stream.expires_after(milliseconds(timeout_ms));
  auto [header_ec, header_bytes] = co_await http::async_write_header(stream, serializer, kTuple);
  if (header_ec) co_return false;
  std::vector<char> chunk(kSpoolChunkBytes);
  uint64_t offset = response.body_file_offset;
  for (uint64_t left = response.body_file_length; left > 0;) {
    const size_t want = static_cast<size_t>(std::min<uint64_t>(left, chunk.size()));
    const ssize_t n = ::pread(file.fd, chunk.data(), want, static_cast<off_t>(offset));
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      spdlog::error("http: reading {} for a response failed", response.body_file);
      co_return false;
    }
    stream.expires_after(milliseconds(timeout_ms));
    auto [ec, bytes] = co_await asio::async_write(
        stream, asio::buffer(chunk.data(), static_cast<size_t>(n)), kTuple);
    if (ec) co_return false;
    offset += static_cast<uint64_t>(n);
    left -= static_cast<uint64_t>(n);
  }
  co_return true;
}

// Streams `source` (api/body_source.h): the header, then each piece as a chunk
// (HTTP/1.1) or as plain bytes up to the close (HTTP/1.0), each write bounded by
// timeout_ms. false when the connection must be closed (a failed piece, a write error,
// or HTTP/1.0, where the close ends the body).
asio::awaitable<bool> WriteStreamResponse(HttpStream& stream, Response response,
                                          std::shared_ptr<BodySource> source, unsigned version,
                                          bool keep_alive, int64_t timeout_ms) {
  const bool chunked = version >= 11;
  http::response<http::empty_body> message{static_cast<http::status>(response.status), version};
  for (const auto& [name, value] : response.headers.fields()) {
    if (!beast::iequals(name, kBodySourceHeader)) message.insert(name, value);
  }
  message.set(http::field::server, "nebu");
  message.keep_alive(chunked && keep_alive);
  message.chunked(chunked);
  http::response_serializer<http::empty_body> serializer{message};
  stream.expires_after(milliseconds(timeout_ms));
  auto [header_ec, header_bytes] = co_await http::async_write_header(stream, serializer, kTuple);
  if (header_ec) co_return false;
  const std::function<void(std::function<void(BodyPiece)>)> next =
      [&source](std::function<void(BodyPiece)> done) { source->Next(std::move(done)); };
  while (true) {
    BodyPiece piece = co_await AwaitCallback<BodyPiece>(next);
    if (piece.failed) co_return false;
    if (!piece.data.empty()) {
      stream.expires_after(milliseconds(timeout_ms));
      auto [ec, bytes] =
          chunked ? co_await asio::async_write(stream, http::make_chunk(asio::buffer(piece.data)),
                                               kTuple)
                  : co_await asio::async_write(stream, asio::buffer(piece.data), kTuple);
      if (ec) co_return false;
    }
    if (piece.end) break;
  }
  if (!chunked) co_return false;
  stream.expires_after(milliseconds(timeout_ms));
  auto [last_ec, last_bytes] = co_await asio::async_write(stream, http::make_chunk_last(), kTuple);
  co_return !last_ec && keep_alive;
}

asio::awaitable<bool> WriteResponse(HttpStream& stream, Response response, unsigned version,
                                    bool keep_alive, int64_t timeout_ms) {
  bool expired = false;
  if (std::shared_ptr<BodySource> source = TakeBodySource(response, &expired)) {
    co_return co_await WriteStreamResponse(stream, std::move(response), std::move(source),
                                           version, keep_alive, timeout_ms);
  }
  if (expired) {
    spdlog::error("http: a streamed body was claimed after {} ms", kBodySourceClaimMsMax);
    response = ErrorResponse(500, "M_UNKNOWN", "Internal error");
  }
  if (!response.body_file.empty()) {
    co_return co_await WriteFileResponse(stream, std::move(response), version, keep_alive,
                                         timeout_ms);
  }
  http::response<http::string_body> message{static_cast<http::status>(response.status), version};
  for (const auto& [name, value] : response.headers.fields()) message.insert(name, value);
  message.set(http::field::server, "nebu");
  message.keep_alive(keep_alive);
  // 1xx, 204 and 304 carry neither a body nor Content-Length (RFC 9110 8.6).
  bool bodiless = response.status < 200 || response.status == 204 || response.status == 304;
  if (!bodiless) {
    message.body() = std::move(response.body);
    message.prepare_payload();
  }
  stream.expires_after(milliseconds(timeout_ms));
  auto [ec, bytes] = co_await http::async_write(stream, message, kTuple);
  co_return !ec;
}

// After a rejection: stop sending, then swallow what the client still sends (bounded),
// so closing does not reset the connection before the client has read the answer.
asio::awaitable<void> CloseAfterRejection(HttpStream& stream) {
  beast::error_code ignored;
  stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
  stream.expires_after(milliseconds(kRejectDrainTimeoutMs));
  std::array<char, 8192> sink;
  for (size_t drained = 0; drained < kRejectDrainBytesMax;) {
    auto [ec, bytes] = co_await stream.async_read_some(asio::buffer(sink), kTuple);
    if (ec) break;
    drained += bytes;
  }
  stream.socket().close(ignored);
}

void LogAccess(const Router& router, std::string_view remote, std::string_view method,
               std::string_view target, int status, size_t body_bytes,
               std::chrono::steady_clock::time_point start) {
  std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
  spdlog::info("{} {} \"{} {}\" {} {}B {:.1f}ms", router.listener(), remote, method,
               RedactTarget(target), status, body_bytes, elapsed.count());
}

}  // namespace

struct Server::Impl {
  struct Listener {
    const Router* router;
    tcp::acceptor acceptor;
    uint16_t port = 0;
    bool reserved = false;
    std::unordered_map<std::string, size_t> per_ip;  // open connections; guarded by mutex
    bool tls = false;
  };
  enum class Admission { kAdmitted, kRefused, kDropped };
  // A complete request, or why there is none.
  struct ReadOutcome {
    std::optional<Request> request;
    unsigned version = 11;
    bool keep_alive = false;
    std::shared_ptr<SpoolFile> spool;  // the spooled body, deleted with the last reference
  };

  explicit Impl(ServerLimits l) : limits(l), ioc(static_cast<int>(ThreadCount(l))) {}

  static size_t ThreadCount(const ServerLimits& l) {
    if (l.threads > 0) return l.threads;
    return std::max(1u, std::thread::hardware_concurrency());
  }

  Status Bind(const ListenerConfig& config);
  Status LoadTls();
  std::shared_ptr<asio::ssl::context> TlsContext();
  asio::awaitable<bool> Handshake(Connection& connection);
  void Run();
  void Stop();
  asio::awaitable<void> AcceptLoop(Listener& listener);
  asio::awaitable<void> Session(std::shared_ptr<Connection> connection, Listener& listener);
  Admission Admit(Listener& listener, const std::string& ip, uint64_t* id,
                  const std::shared_ptr<Connection>& connection);
  void Release(Listener& listener, const std::string& ip, uint64_t id);
  asio::awaitable<void> ServeRequests(Connection& connection, const Router& router,
                                      const std::string& remote);
  asio::awaitable<bool> WaitForRequest(Connection& connection, beast::flat_buffer& buffer,
                                       bool first);
  asio::awaitable<ReadOutcome> ReadRequest(Connection& connection, beast::flat_buffer& buffer,
                                           const Router& router, const std::string& remote);
  asio::awaitable<ReadOutcome> ReadSpooled(Connection& connection, beast::flat_buffer& buffer,
                                           http::request_parser<http::string_body>& header,
                                           size_t body_bytes_max, const Router& router,
                                           const std::string& remote, const std::string& method,
                                           const std::string& target);
  asio::awaitable<void> Reject(HttpStream& stream, const Router& router,
                               std::string_view remote, std::string_view method,
                               std::string_view target, int status);

  const ServerLimits limits;
  std::atomic<bool> stopping{false};
  std::once_flag stop_once;
  // Declared before ioc so that sessions torn down with ioc can still deregister.
  std::mutex mutex;
  std::condition_variable drained;                                      // connections emptied
  std::unordered_map<uint64_t, std::weak_ptr<Connection>> connections;  // guarded by mutex
  uint64_t next_connection_id = 0;                                      // guarded by mutex
  size_t rejecting = 0;  // refused connections being answered; guarded by mutex
  std::mutex tls_mutex;
  std::shared_ptr<asio::ssl::context> tls_context;  // guarded by tls_mutex; null: no TLS
  asio::io_context ioc;
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> work;
  std::vector<std::unique_ptr<Listener>> listeners;
  std::vector<std::thread> threads;
};

Status Server::Impl::Bind(const ListenerConfig& config) {
  if (config.router == nullptr) return Status::InvalidArgument("listener without a router");
  beast::error_code ec;
  asio::ip::address address = asio::ip::make_address(config.address, ec);
  if (ec) return Status::InvalidArgument("not an IP address: " + config.address);
  tcp::endpoint endpoint(address, config.port);
  auto listener = std::make_unique<Listener>(Listener{
      .router = config.router, .acceptor = tcp::acceptor(asio::make_strand(ioc)), .port = 0,
      .reserved = config.reserved, .per_ip = {}, .tls = config.tls});
  if (config.tls && TlsContext() == nullptr) {
    return Status::InvalidArgument("a TLS listener without tls_cert_file and tls_key_file");
  }
  tcp::acceptor& acceptor = listener->acceptor;
  std::string where = EndpointText(endpoint);
  if (acceptor.open(endpoint.protocol(), ec); ec)
    return Status::IoError("open " + where + ": " + ec.message());
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) {
    return Status::IoError("reuse_address " + where + ": " + ec.message());
  }
  if (acceptor.bind(endpoint, ec); ec)
    return Status::IoError("bind " + where + ": " + ec.message());
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) {
    return Status::IoError("listen " + where + ": " + ec.message());
  }
  listener->port = acceptor.local_endpoint(ec).port();
  spdlog::info("http: {} listening on {}{}", config.router->listener(),
               EndpointText(tcp::endpoint(address, listener->port)), config.tls ? " (TLS)" : "");
  listeners.push_back(std::move(listener));
  return Status::Ok();
}

Status Server::Impl::LoadTls() {
  if (limits.tls_cert_file.empty()) return Status::InvalidArgument("TLS is not configured");
  NEBU_ASSIGN_OR_RETURN(std::shared_ptr<asio::ssl::context> context,
                        server_internal::MakeTlsContext(limits.tls_cert_file, limits.tls_key_file));
  std::lock_guard lock(tls_mutex);
  tls_context = std::move(context);
  return Status::Ok();
}

std::shared_ptr<asio::ssl::context> Server::Impl::TlsContext() {
  std::lock_guard lock(tls_mutex);
  return tls_context;
}

// The TLS handshake of a TLS listener's connection, within read_timeout_ms; false
// when it failed (the connection is closed without an answer).
asio::awaitable<bool> Server::Impl::Handshake(Connection& connection) {
  if (!connection.stream.tls()) co_return true;
  connection.stream.expires_after(milliseconds(limits.read_timeout_ms));
  auto [ec] = co_await connection.stream.async_handshake(kTuple);
  if (ec) spdlog::debug("http: TLS handshake failed: {}", ec.message());
  co_return !ec;
}

void Server::Impl::Run() {
  work.emplace(ioc.get_executor());
  for (auto& listener : listeners) {
    asio::co_spawn(listener->acceptor.get_executor(), AcceptLoop(*listener), asio::detached);
  }
  size_t count = ThreadCount(limits);
  for (size_t i = 0; i < count; ++i) threads.emplace_back([this] { ioc.run(); });
}

asio::awaitable<void> Server::Impl::AcceptLoop(Listener& listener) {
  uint64_t errors_in_a_row = 0;
  while (!stopping) {
    auto [ec, socket] = co_await listener.acceptor.async_accept(asio::make_strand(ioc), kTuple);
    if (ec) {
      if (stopping || ec == asio::error::operation_aborted) co_return;
      // Out of file descriptors (EMFILE) and the like: the pending connection stays in
      // the backlog; retry after a pause instead of spinning on it.
      if (errors_in_a_row++ % kAcceptErrorsLogEvery == 0) {
        spdlog::warn("http: accept on {}: {} (retrying every {} ms)", listener.router->listener(),
                     ec.message(), kAcceptRetryDelayMs);
      }
      asio::steady_timer pause(listener.acceptor.get_executor(), milliseconds(kAcceptRetryDelayMs));
      (void)co_await pause.async_wait(kTuple);
      continue;
    }
    errors_in_a_row = 0;
    auto connection = listener.tls
                          ? std::make_shared<Connection>(std::move(socket), TlsContext())
                          : std::make_shared<Connection>(std::move(socket));
    auto executor = connection->stream.get_executor();
    asio::co_spawn(executor, Session(std::move(connection), listener), asio::detached);
  }
}

// Counts the connection in (admitted), or as being refused, or not at all (dropped).
Server::Impl::Admission Server::Impl::Admit(Listener& listener, const std::string& ip,
                                            uint64_t* id,
                                            const std::shared_ptr<Connection>& connection) {
  const bool exempt = limits.per_ip_exempt && limits.per_ip_exempt(ip);
  const size_t cap =
      listener.reserved ? limits.connections_max
                        : limits.connections_max -
                              std::min(limits.connections_reserved, limits.connections_max);
  std::lock_guard lock(mutex);
  auto ip_count = listener.per_ip.find(ip);
  const bool ip_full = !exempt && ip_count != listener.per_ip.end() &&
                       ip_count->second >= limits.connections_per_ip_max;
  if (connections.size() < cap && !ip_full) {
    connections.emplace(*id = next_connection_id++, connection);
    ++listener.per_ip[ip];
    return Admission::kAdmitted;
  }
  if (rejecting >= limits.rejecting_connections_max) return Admission::kDropped;
  ++rejecting;
  return Admission::kRefused;
}

void Server::Impl::Release(Listener& listener, const std::string& ip, uint64_t id) {
  std::lock_guard lock(mutex);
  auto ip_count = listener.per_ip.find(ip);
  if (ip_count != listener.per_ip.end() && --ip_count->second == 0) listener.per_ip.erase(ip_count);
  connections.erase(id);
  if (connections.empty()) drained.notify_all();
}

asio::awaitable<void> Server::Impl::Session(std::shared_ptr<Connection> connection,
                                            Listener& listener) {
  const Router& router = *listener.router;
  beast::error_code ec;
  tcp::endpoint peer = connection->stream.socket().remote_endpoint(ec);
  std::string remote = ec ? std::string("?") : EndpointText(peer);
  const std::string peer_ip = ec ? std::string("?") : peer.address().to_string();
  uint64_t id = 0;
  Admission admission = Admit(listener, peer_ip, &id, connection);
  if (admission == Admission::kDropped) {
    router.RecordRejected("", 503);
    connection->stream.socket().close(ec);
    co_return;
  }
  if (admission == Admission::kRefused) {
    try {
      if (co_await Handshake(*connection)) {
        co_await Reject(connection->stream, router, remote, "", "", 503);
      }
    } catch (const std::exception& e) {
      spdlog::error("http: {} connection {}: {}", router.listener(), remote, e.what());
    }
    connection->stream.socket().close(ec);
    std::lock_guard lock(mutex);
    --rejecting;
    co_return;
  }
  try {
    if (co_await Handshake(*connection)) co_await ServeRequests(*connection, router, remote);
  } catch (const std::exception& e) {
    spdlog::error("http: {} connection {}: {}", router.listener(), remote, e.what());
  }
  connection->stream.socket().shutdown(tcp::socket::shutdown_both, ec);
  connection->stream.socket().close(ec);
  Release(listener, peer_ip, id);
}

asio::awaitable<void> Server::Impl::ServeRequests(Connection& connection, const Router& router,
                                                  const std::string& remote) {
  beast::flat_buffer buffer;
  for (bool first = true; !stopping; first = false) {
    if (!co_await WaitForRequest(connection, buffer, first)) co_return;
    auto start = std::chrono::steady_clock::now();
    ReadOutcome outcome = co_await ReadRequest(connection, buffer, router, remote);
    if (!outcome.request) co_return;
    const Request& request = *outcome.request;
    Response response = co_await AwaitAnswer(router, request);
    int status = response.status;
    size_t body_bytes = response.body_file.empty() ? response.body.size()
                                                   : static_cast<size_t>(response.body_file_length);
    bool keep_alive = outcome.keep_alive && !stopping;
    bool written = co_await WriteResponse(connection.stream, std::move(response), outcome.version,
                                          keep_alive, limits.write_timeout_ms);
    LogAccess(router, LoggedClient(request, remote), request.method, request.target, status,
              body_bytes, start);
    if (!written || !keep_alive) co_return;
  }
}

// Waits for the first byte of the next request (unless pipelined bytes are buffered).
// While waiting the connection is idle: Stop() may cancel it.
asio::awaitable<bool> Server::Impl::WaitForRequest(Connection& connection,
                                                   beast::flat_buffer& buffer, bool first) {
  if (buffer.size() > 0) co_return true;
  connection.idle = true;
  connection.stream.expires_after(
      milliseconds(first ? limits.read_timeout_ms : limits.idle_timeout_ms));
  auto [ec, bytes] =
      co_await connection.stream.async_read_some(buffer.prepare(kFirstReadBytes), kTuple);
  connection.idle = false;
  if (ec) co_return false;
  buffer.commit(bytes);
  co_return true;
}

asio::awaitable<Server::Impl::ReadOutcome> Server::Impl::ReadRequest(Connection& connection,
                                                                     beast::flat_buffer& buffer,
                                                                     const Router& router,
                                                                     const std::string& remote) {
  ReadOutcome outcome;
  http::request_parser<http::string_body> parser;
  parser.header_limit(static_cast<uint32_t>(limits.header_bytes_max));
  parser.body_limit(boost::none);  // the route's limit applies once the path is known
  connection.stream.expires_after(milliseconds(limits.read_timeout_ms));
  auto [header_ec, header_bytes] =
      co_await http::async_read_header(connection.stream, buffer, parser, kTuple);
  if (header_ec) {
    if (int status = RejectionStatus(header_ec)) {
      co_await Reject(connection.stream, router, remote, "", "", status);
    }
    co_return outcome;
  }
  const auto& header = parser.get();
  std::string method(View(header.method_string()));
  std::string target(View(header.target()));
  size_t body_bytes_max =
      router.BodyBytesMax(method, std::string_view(target).substr(0, target.find('?')));
  if (parser.content_length().value_or(0) > body_bytes_max) {
    co_await Reject(connection.stream, router, remote, method, target, 413);
    co_return outcome;
  }
  parser.body_limit(body_bytes_max);  // bounds chunked bodies
  if (header[http::field::expect] == "100-continue") {
    http::response<http::empty_body> proceed{http::status::continue_, header.version()};
    auto [ec, bytes] = co_await http::async_write(connection.stream, proceed, kTuple);
    if (ec) co_return outcome;
  }
  if (router.SpoolsBody(method, std::string_view(target).substr(0, target.find('?')))) {
    co_return co_await ReadSpooled(connection, buffer, parser, body_bytes_max, router, remote,
                                   method, target);
  }
  auto [body_ec, body_bytes] = co_await http::async_read(connection.stream, buffer, parser, kTuple);
  if (body_ec) {
    if (int status = RejectionStatus(body_ec)) {
      co_await Reject(connection.stream, router, remote, method, target, status);
    }
    co_return outcome;
  }
  outcome.version = parser.get().version();
  outcome.keep_alive = parser.get().keep_alive();
  auto message = parser.release();
  std::string body = std::move(message.body());
  outcome.request = ToRequest(message, std::move(body), remote, limits.trusted_proxies);
  co_return outcome;
}

// Reads the body of a spooling route (RouteOptions::spool_body) into a fresh file in
// chunks, hashing as it goes. Each read is bounded by read_timeout_ms (a large upload
// may take longer in total). Any failure leaves no file behind.
asio::awaitable<Server::Impl::ReadOutcome> Server::Impl::ReadSpooled(
    Connection& connection, beast::flat_buffer& buffer,
    http::request_parser<http::string_body>& header, size_t body_bytes_max, const Router& router,
    const std::string& remote, const std::string& method, const std::string& target) {
  ReadOutcome outcome;
  http::request_parser<http::buffer_body> parser(std::move(header));
  parser.body_limit(body_bytes_max);
  auto spool = std::make_shared<SpoolFile>();
  const std::filesystem::path dir = limits.spool_dir.empty()
                                        ? std::filesystem::temp_directory_path()
                                        : std::filesystem::path(limits.spool_dir);
  spool->path = dir / ("upload-" + RandomAlnum(20));
  FdCloser file{::open(spool->path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600)};
  std::unique_ptr<EVP_MD_CTX, DigestDeleter> digest(EVP_MD_CTX_new());
  if (file.fd < 0 || !digest || EVP_DigestInit_ex(digest.get(), EVP_sha256(), nullptr) != 1) {
    spdlog::error("http: cannot create a spool file in {}: {}", dir.string(), std::strerror(errno));
    if (file.fd < 0) spool->path.clear();
    co_await Reject(connection.stream, router, remote, method, target, 507);
    co_return outcome;
  }
  std::vector<char> chunk(kSpoolChunkBytes);
  uint64_t total = 0;
  while (!parser.is_done()) {
    parser.get().body().data = chunk.data();
    parser.get().body().size = chunk.size();
    connection.stream.expires_after(milliseconds(limits.read_timeout_ms));
    auto [ec, bytes] = co_await http::async_read_some(connection.stream, buffer, parser, kTuple);
    if (ec == http::error::need_buffer) ec = {};
    if (ec) {
      if (int status = RejectionStatus(ec)) {
        co_await Reject(connection.stream, router, remote, method, target, status);
      }
      co_return outcome;  // spool goes: no file left
    }
    const size_t got = chunk.size() - parser.get().body().size;
    for (size_t done = 0; done < got;) {
      const ssize_t n = ::write(file.fd, chunk.data() + done, got - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        spdlog::error("http: writing a spool file failed: {}", std::strerror(errno));
        co_await Reject(connection.stream, router, remote, method, target, 507);
        co_return outcome;
      }
      done += static_cast<size_t>(n);
    }
    EVP_DigestUpdate(digest.get(), chunk.data(), got);
    total += got;
  }
  std::array<unsigned char, EVP_MAX_MD_SIZE> md{};
  unsigned int md_size = 0;
  EVP_DigestFinal_ex(digest.get(), md.data(), &md_size);
  const int fd = std::exchange(file.fd, -1);
  if (::close(fd) != 0) {
    co_await Reject(connection.stream, router, remote, method, target, 507);
    co_return outcome;
  }
  outcome.version = parser.get().version();
  outcome.keep_alive = parser.get().keep_alive();
  Request request = ToRequest(parser.get(), std::string(), remote, limits.trusted_proxies);
  request.body_file = spool->path.string();
  request.body_file_bytes = total;
  request.body_sha256 =
      HexEncode(std::string_view(reinterpret_cast<const char*>(md.data()), md_size));
  outcome.request = std::move(request);
  outcome.spool = std::move(spool);
  co_return outcome;
}

asio::awaitable<void> Server::Impl::Reject(HttpStream& stream, const Router& router,
                                           std::string_view remote, std::string_view method,
                                           std::string_view target, int status) {
  auto start = std::chrono::steady_clock::now();
  Response response = RejectionResponse(status);
  size_t body_bytes = response.body.size();
  router.RecordRejected(method, status);
  bool written =
      co_await WriteResponse(stream, std::move(response), 11, false, limits.write_timeout_ms);
  LogAccess(router, remote, method.empty() ? "-" : method, target.empty() ? "-" : target, status,
            body_bytes, start);
  if (written) co_await CloseAfterRejection(stream);
}

void Server::Impl::Stop() {
  std::call_once(stop_once, [this] {
    stopping = true;
    for (auto& listener : listeners) {
      Listener* l = listener.get();
      asio::post(l->acceptor.get_executor(), [l] {
        beast::error_code ignored;
        l->acceptor.close(ignored);
      });
    }
    // Parked long-polls answer now (their routes stop parking), so the drain below
    // waits only for requests that are working, not for clients' timeouts.
    for (auto& listener : listeners) listener->router->Drain();
    std::unique_lock lock(mutex);
    for (auto& [id, weak] : connections) {
      if (auto connection = weak.lock()) {
        asio::post(connection->stream.get_executor(), [connection] {
          if (connection->idle) connection->stream.cancel();
        });
      }
    }
    bool clean = drained.wait_for(lock, milliseconds(limits.drain_timeout_ms),
                                  [this] { return connections.empty(); });
    size_t left = connections.size();
    lock.unlock();
    if (!clean) spdlog::warn("http: stop cut {} connection(s) after the drain timeout", left);
    work.reset();
    ioc.stop();
    for (std::thread& thread : threads) thread.join();
    spdlog::info("http: stopped");
  });
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { Stop(); }

Result<std::unique_ptr<Server>> Server::Start(std::vector<ListenerConfig> listeners,
                                              ServerLimits limits) {
  auto impl = std::make_unique<Impl>(limits);
  if (!limits.tls_cert_file.empty()) NEBU_RETURN_IF_ERROR(impl->LoadTls());
  for (const ListenerConfig& config : listeners) NEBU_RETURN_IF_ERROR(impl->Bind(config));
  impl->Run();
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port(size_t index) const {
  NEBU_CHECK(index < impl_->listeners.size(), "no such listener");
  return impl_->listeners[index]->port;
}

void Server::Stop() { impl_->Stop(); }

Status Server::ReloadTls() {
  Status status = impl_->LoadTls();
  if (status.ok()) {
    spdlog::info("http: TLS certificate reloaded from {}", impl_->limits.tls_cert_file);
  } else {
    spdlog::error("http: TLS reload failed, the previous certificate stays: {}",
                  status.ToString());
  }
  return status;
}

}  // namespace nebu::api
