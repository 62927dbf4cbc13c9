// HttpClient (api/sso/http_client.h) on Boost.Beast.
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

struct Url {
  bool tls = false;
  std::string host;  // without brackets
  std::string port;
  std::string target;
};

std::optional<Url> ParseUrl(std::string_view url) {
  Url out;
  if (url.starts_with("https://")) {
    out.tls = true;
    url.remove_prefix(8);
  } else if (url.starts_with("http://")) {
    url.remove_prefix(7);
  } else {
    return std::nullopt;
  }
  const size_t slash = url.find_first_of("/?");
  std::string_view authority = url.substr(0, slash);
  out.target = slash == std::string_view::npos ? "/" : std::string(url.substr(slash));
  if (out.target.starts_with('?')) out.target.insert(0, "/");
  out.port = out.tls ? "443" : "80";
  if (authority.find('@') != std::string_view::npos) return std::nullopt;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = std::string(authority.substr(1, close - 1));
    authority.remove_prefix(close + 1);
    if (authority.starts_with(':')) out.port = std::string(authority.substr(1));
    else if (!authority.empty()) return std::nullopt;
  } else {
    const size_t colon = authority.rfind(':');
    out.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) out.port = std::string(authority.substr(colon + 1));
  }
  if (out.host.empty() || out.port.empty()) return std::nullopt;
  return out;
}

bool IsLoopback(const asio::ip::address& a) {
  if (a.is_v6() && a.to_v6().is_v4_mapped()) {
    return asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).is_loopback();
  }
  return a.is_loopback();
}

Result<tcp::resolver::results_type> Resolve(asio::io_context& io, const Url& url) {
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
HttpReply Exchange(Stream& stream, const Url& url, const Outgoing& out) {
  http::request<http::string_body> request{out.verb, url.target, 11};
  std::string host = url.host.find(':') != std::string::npos ? "[" + url.host + "]" : url.host;
  if (url.port != (url.tls ? "443" : "80")) host += ":" + url.port;
  request.set(http::field::host, host);
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
    std::optional<Url> url = ParseUrl(url_text);
    if (!url) return Status::InvalidArgument("URL not understood: " + url_text);
    try {
      return url->tls ? SendTls(*url, out) : SendPlain(*url, out);
    } catch (const std::exception& e) {
      return Status::Unavailable(url->host + ": " + e.what());
    }
  }

  Result<HttpReply> SendPlain(const Url& url, const Outgoing& out) {
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

  Result<HttpReply> SendTls(const Url& url, const Outgoing& out) {
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
