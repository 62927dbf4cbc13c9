// MakeHttpPushGateway (pusher_delivery.h): an HTTP/1.1 client for push gateways, on
// Boost.Beast (the only file of api/push/ that includes Beast or Asio). One connection
// per POST on a private io_context driven by the calling (delivery) thread: connect,
// TLS handshake, write and read are asynchronous operations under the tcp_stream's
// deadline, so the whole exchange is bounded by the timeout (Beast's deadlines apply to
// asynchronous operations only). The name lookup runs on a helper thread of its own
// (getaddrinfo cannot be cancelled), waited for at most kPushResolveTimeoutMs; at most
// kPushResolvesInFlightMax lookups may be outstanding at once. The reply is bounded by
// kPushReplyBytesMax. https: TLS with the system's CA store, SNI and host verification.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "api/http_url.h"
#include "api/push/pusher_delivery.h"

namespace nebu::api {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// Loopback, private (RFC 1918, RFC 4193), link-local, CGNAT, unspecified, multicast
// and reserved addresses: what a user must not make the server POST to (SSRF).
bool IsPrivate(const asio::ip::address& a) {
  if (a.is_v6()) {
    const asio::ip::address_v6 v6 = a.to_v6();
    if (v6.is_v4_mapped()) return IsPrivate(asio::ip::make_address_v4(asio::ip::v4_mapped, v6));
    const auto bytes = v6.to_bytes();
    return v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() || v6.is_link_local() ||
           v6.is_site_local() || (bytes[0] & 0xFE) == 0xFC;
  }
  const uint32_t v = a.to_v4().to_uint();
  auto in = [v](uint32_t net, int bits) { return (v >> (32 - bits)) == (net >> (32 - bits)); };
  return in(0x00000000, 8) || in(0x0A000000, 8) || in(0x7F000000, 8) || in(0xA9FE0000, 16) ||
         in(0xAC100000, 12) || in(0xC0A80000, 16) || in(0x64400000, 10) || in(0xE0000000, 4) ||
         in(0xF0000000, 4);
}

// One name lookup on a detached thread: the caller waits at most timeout_ms, then
// leaves it behind (its result is dropped). `in_flight` counts the lookups not
// finished yet, the caller's abandoned ones included.
Result<std::vector<tcp::endpoint>> ResolveBounded(const HttpUrl& url, int64_t timeout_ms,
                                                  const std::shared_ptr<std::atomic<int>>& in_flight) {
  struct Lookup {
    std::mutex mu;
    std::condition_variable done_cv;
    bool done = false;
    Result<std::vector<tcp::endpoint>> result = Status::Unavailable("unset");
  };
  if (in_flight->fetch_add(1) >= static_cast<int>(kPushResolvesInFlightMax)) {
    in_flight->fetch_sub(1);
    return Status::Unavailable("push gateway: too many name lookups outstanding");
  }
  auto lookup = std::make_shared<Lookup>();
  std::thread([lookup, in_flight, host = url.host, port = url.port] {
    asio::io_context io;
    tcp::resolver resolver(io);
    boost::system::error_code ec;
    tcp::resolver::results_type found = resolver.resolve(host, port, ec);
    Result<std::vector<tcp::endpoint>> result =
        Status::Unavailable("push gateway: cannot resolve " + host + ": " + ec.message());
    if (!ec) {
      std::vector<tcp::endpoint> endpoints;
      for (const auto& entry : found) endpoints.push_back(entry.endpoint());
      result = std::move(endpoints);
    }
    {
      std::lock_guard lock(lookup->mu);
      lookup->result = std::move(result);
      lookup->done = true;
    }
    lookup->done_cv.notify_all();
    in_flight->fetch_sub(1);
  }).detach();
  std::unique_lock lock(lookup->mu);
  if (!lookup->done_cv.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                                [&] { return lookup->done; })) {
    return Status::Unavailable("push gateway: name lookup of " + url.host + " timed out");
  }
  return lookup->result;
}

// The resolved endpoints, or kInvalidArgument when one is private and that is refused.
Result<std::vector<tcp::endpoint>> GatewayResolve(
    const HttpUrl& url, bool allow_private, int64_t timeout_ms,
    const std::shared_ptr<std::atomic<int>>& in_flight) {
  NEBU_ASSIGN_OR_RETURN(std::vector<tcp::endpoint> endpoints,
                        ResolveBounded(url, timeout_ms, in_flight));
  if (endpoints.empty()) return Status::Unavailable("push gateway: no address for " + url.host);
  if (!allow_private) {
    for (const auto& endpoint : endpoints) {
      if (IsPrivate(endpoint.address())) {
        return Status::InvalidArgument("push gateway " + url.host +
                                       " resolves to a private address (refused)");
      }
    }
  }
  return endpoints;
}

template <typename Stream>
asio::awaitable<GatewayReply> GatewayExchange(Stream& stream, const HttpUrl& url,
                                              const std::string& body) {
  http::request<http::string_body> request{http::verb::post, url.target, 11};
  request.set(http::field::host, url.HostHeader());
  request.set(http::field::content_type, "application/json");
  request.set(http::field::user_agent, "nebu");
  request.body() = body;
  request.prepare_payload();
  co_await http::async_write(stream, request, asio::use_awaitable);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kPushReplyBytesMax);
  co_await http::async_read(stream, buffer, parser, asio::use_awaitable);
  co_return GatewayReply{static_cast<int>(parser.get().result_int()), parser.get().body()};
}

// Runs `op` on io until it completes: every operation in it is under the stream's
// deadline, so this returns within the timeout (plus scheduling).
Result<GatewayReply> RunExchange(asio::io_context& io, asio::awaitable<GatewayReply> op) {
  std::optional<Result<GatewayReply>> out;
  asio::co_spawn(io, std::move(op), [&out](std::exception_ptr error, GatewayReply reply) {
    if (!error) {
      out = std::move(reply);
      return;
    }
    try {
      std::rethrow_exception(error);
    } catch (const std::exception& e) {  // Asio/Beast errors: the gateway is unreachable
      out = Status::Unavailable(std::string("push gateway: ") + e.what());
    }
  });
  io.run();
  if (!out) return Status::Unavailable("push gateway: exchange did not complete");
  return *std::move(out);
}

class HttpPushGateway final : public PushGateway {
 public:
  HttpPushGateway(int64_t timeout_ms, bool allow_private)
      : timeout_(std::chrono::milliseconds(timeout_ms)),
        allow_private_(allow_private),
        tls_(asio::ssl::context::tls_client) {
    tls_.set_default_verify_paths();
    tls_.set_verify_mode(asio::ssl::verify_peer);
    tls_.set_options(asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  }

  Result<GatewayReply> Post(const std::string& url_text, const std::string& body) override {
    std::optional<HttpUrl> url = ParseHttpUrl(url_text);
    if (!url) return Status::InvalidArgument("push gateway URL not understood");
    const int64_t resolve_ms = std::min<int64_t>(kPushResolveTimeoutMs, timeout_.count());
    NEBU_ASSIGN_OR_RETURN(std::vector<tcp::endpoint> endpoints,
                          GatewayResolve(*url, allow_private_, resolve_ms, lookups_));
    try {
      return url->tls ? PostTls(*url, endpoints, body) : PostPlain(*url, endpoints, body);
    } catch (const std::exception& e) {  // Asio/Beast errors: the gateway is unreachable
      return Status::Unavailable(std::string("push gateway: ") + e.what());
    }
  }

 private:
  Result<GatewayReply> PostPlain(const HttpUrl& url, const std::vector<tcp::endpoint>& endpoints,
                                 const std::string& body) {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(timeout_);  // covers every operation below
    auto op = [&]() -> asio::awaitable<GatewayReply> {
      co_await stream.async_connect(endpoints, asio::use_awaitable);
      GatewayReply reply = co_await GatewayExchange(stream, url, body);
      beast::error_code ignored;
      stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return reply;
    };
    return RunExchange(io, op());
  }

  Result<GatewayReply> PostTls(const HttpUrl& url, const std::vector<tcp::endpoint>& endpoints,
                               const std::string& body) {
    asio::io_context io;
    beast::ssl_stream<beast::tcp_stream> stream(io, tls_);
    if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
      return Status::Unavailable("push gateway: SNI refused");
    }
    stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
    beast::get_lowest_layer(stream).expires_after(timeout_);  // covers every operation below
    auto op = [&]() -> asio::awaitable<GatewayReply> {
      co_await beast::get_lowest_layer(stream).async_connect(endpoints, asio::use_awaitable);
      co_await stream.async_handshake(asio::ssl::stream_base::client, asio::use_awaitable);
      GatewayReply reply = co_await GatewayExchange(stream, url, body);
      beast::error_code ignored;
      beast::get_lowest_layer(stream).socket().shutdown(tcp::socket::shutdown_both, ignored);
      co_return reply;
    };
    return RunExchange(io, op());
  }

  const std::chrono::milliseconds timeout_;
  const bool allow_private_;
  asio::ssl::context tls_;
  // Name lookups not finished yet (shared with their detached threads).
  std::shared_ptr<std::atomic<int>> lookups_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace

std::unique_ptr<PushGateway> MakeHttpPushGateway(bool allow_private, int64_t timeout_ms) {
  return std::make_unique<HttpPushGateway>(timeout_ms, allow_private);
}

}  // namespace nebu::api
