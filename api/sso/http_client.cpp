// HttpClient (api/sso/http_client.h) on Boost.Beast.
#include "api/http_url.h"
#include "api/sso/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <exception>
#include <optional>

namespace nebu::api::sso {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

bool IsLoopback(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
  }
  return a.is_loopback();
}

Result<tcp::resolver::results_type> Resolve(asio::io_context& io, const HttpUrl& url) {
  tcp::resolver resolver(io);
  tcp::resolver::results_type endpoints = resolver.resolve(url.host, url.port);
  if (!url.tls) {
    for (const auto& entry : endpoints) {
      if (!IsLoopback(entry.endpoint().address())) {
        return Status::InvalidArgument("plain http is only allowed to loopback addresses: " +
                                       url.host);
      }
    }
  }
  return endpoints;
}

struct Outgoing {
  http::verb verb;
  std::string body;
  std::string content_type;
  const HttpHeaders* headers;
};

template <typename Stream>
HttpReply Exchange(Stream& stream, const HttpUrl& url, const Outgoing& out) {
  http::request<http::string_body> request{out.verb, url.target, 11};
  request.set(http::field::host, url.HostHeader());
  request.set(http::field::user_agent, "nebu");
  request.set(http::field::accept, "application/json");
  for (const auto& [name, value] : *out.headers) request.set(name, value);
  if (!out.content_type.empty()) request.set(http::field::content_type, out.content_type);
  request.body() = out.body;
  request.prepare_payload();
  http::write(stream, request);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(kHttpReplyBytesMax);
  http::read(stream, buffer, parser);
  HttpReply reply;
  reply.status = static_cast<int>(parser.get().result_int());
  reply.content_type = std::string(parser.get()[http::field::content_type]);
  reply.body = std::move(parser.get().body());
  return reply;
}

}  // namespace

struct HttpClient::Impl {
  explicit Impl(Options options)
      : timeout(std::chrono::milliseconds(options.timeout_ms)),
        tls(asio::ssl::context::tls_client) {
    tls.set_default_verify_paths();
    tls.set_verify_mode(asio::ssl::verify_peer);
    tls.set_options(asio::ssl::context::no_tlsv1 | asio::ssl::context::no_tlsv1_1);
  }

  Result<HttpReply> Send(const std::string& url_text, const Outgoing& out) {
    std::optional<HttpUrl> url = ParseHttpUrl(url_text);
    if (!url) return Status::InvalidArgument("URL not understood: " + url_text);
    try {
      return url->tls ? SendTls(*url, out) : SendPlain(*url, out);
    } catch (const std::exception& e) {
      return Status::Unavailable(url->host + ": " + e.what());
    }
  }

  Result<HttpReply> SendPlain(const HttpUrl& url, const Outgoing& out) {
    asio::io_context io;
    beast::tcp_stream stream(io);
    stream.expires_after(timeout);
    NEBU_ASSIGN_OR_RETURN(auto endpoints, Resolve(io, url));
    stream.connect(endpoints);
    HttpReply reply = Exchange(stream, url, out);
    beast::error_code ignored;
    stream.socket().shutdown(tcp::socket::shutdown_both, ignored);
    return reply;
  }

  Result<HttpReply> SendTls(const HttpUrl& url, const Outgoing& out) {
    asio::io_context io;
    beast::ssl_stream<beast::tcp_stream> stream(io, tls);
    if (!SSL_set_tlsext_host_name(stream.native_handle(), url.host.c_str())) {
      return Status::Unavailable("SNI refused");
    }
    stream.set_verify_callback(asio::ssl::host_name_verification(url.host));
    beast::get_lowest_layer(stream).expires_after(timeout);
    NEBU_ASSIGN_OR_RETURN(auto endpoints, Resolve(io, url));
    beast::get_lowest_layer(stream).connect(endpoints);
    stream.handshake(asio::ssl::stream_base::client);
    HttpReply reply = Exchange(stream, url, out);
    beast::error_code ignored;
    stream.shutdown(ignored);
    return reply;
  }

  const std::chrono::milliseconds timeout;
  asio::ssl::context tls;  // set up once; SSL_CTX is safe to share across threads
};

HttpClient::HttpClient(Options options) : impl_(std::make_unique<Impl>(options)) {}
HttpClient::~HttpClient() = default;

Result<HttpReply> HttpClient::Get(const std::string& url, const HttpHeaders& headers) {
  return impl_->Send(url, {http::verb::get, "", "", &headers});
}

Result<HttpReply> HttpClient::PostForm(const std::string& url, const std::string& form,
                                       const HttpHeaders& headers) {
  return impl_->Send(url, {http::verb::post, form, "application/x-www-form-urlencoded", &headers});
}

std::string FormEncode(std::string_view value) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : value) {
    if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
        c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

}  // namespace nebu::api::sso
