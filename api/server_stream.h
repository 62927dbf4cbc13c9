// Internal to api/server.cpp (the only file that includes it): a connection's byte
// stream, plain TCP or TLS 1.3 over it, chosen per listener, and the TLS context that
// ServerLimits::tls_cert_file / tls_key_file describe. Not a public API.
//
// HttpStream models Asio's AsyncReadStream and AsyncWriteStream, so Beast's HTTP
// reads and writes work on either kind; timeouts are the TCP layer's
// (beast::tcp_stream::expires_after), which bound the TLS records' I/O too.
#pragma once

#include <openssl/ssl.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "engine/common/status.h"

namespace nebu::api::server_internal {

namespace asio = boost::asio;
namespace beast = boost::beast;

// A TLS 1.3-only server context with the PEM certificate chain and private key.
// kInvalidArgument naming the file when one cannot be read or parsed, or when the key
// does not match the certificate.
inline Result<std::shared_ptr<asio::ssl::context>> MakeTlsContext(const std::string& cert_file,
                                                                  const std::string& key_file) {
  auto context = std::make_shared<asio::ssl::context>(asio::ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  if (SSL_CTX_set_min_proto_version(native, TLS1_3_VERSION) != 1) {
    return Status::Internal("TLS: cannot require TLS 1.3");
  }
  context->set_options(asio::ssl::context::default_workarounds |
                       asio::ssl::context::no_compression);
  boost::system::error_code ec;
  context->use_certificate_chain_file(cert_file, ec);
  if (ec) return Status::InvalidArgument("TLS certificate " + cert_file + ": " + ec.message());
  context->use_private_key_file(key_file, asio::ssl::context::pem, ec);
  if (ec) return Status::InvalidArgument("TLS private key " + key_file + ": " + ec.message());
  if (SSL_CTX_check_private_key(native) != 1) {
    return Status::InvalidArgument("TLS private key " + key_file +
                                   " does not match the certificate " + cert_file);
  }
  return context;
}

class HttpStream {
 public:
  using executor_type = beast::tcp_stream::executor_type;
  using Tls = beast::ssl_stream<beast::tcp_stream>;

  // Plain HTTP.
  explicit HttpStream(asio::ip::tcp::socket socket) : plain_(std::in_place, std::move(socket)) {}
  // TLS with `context` (kept alive as long as the stream).
  HttpStream(asio::ip::tcp::socket socket, std::shared_ptr<asio::ssl::context> context)
      : context_(std::move(context)),
        tls_(std::make_unique<Tls>(beast::tcp_stream(std::move(socket)), *context_)) {}

  [[nodiscard]] bool tls() const { return tls_ != nullptr; }
  beast::tcp_stream& tcp() { return tls_ ? tls_->next_layer() : *plain_; }
  asio::ip::tcp::socket& socket() { return tcp().socket(); }
  executor_type get_executor() { return tcp().get_executor(); }
  template <class Duration>
  void expires_after(Duration duration) {
    tcp().expires_after(duration);
  }
  void cancel() { tcp().cancel(); }

  // The server side of the TLS handshake (a plain stream has none).
  template <class Token>
  auto async_handshake(Token&& token) {
    return tls_->async_handshake(asio::ssl::stream_base::server, std::forward<Token>(token));
  }

  template <class MutableBuffers, class Token>
  auto async_read_some(const MutableBuffers& buffers, Token&& token) {
    if (tls_) return tls_->async_read_some(buffers, std::forward<Token>(token));
    return plain_->async_read_some(buffers, std::forward<Token>(token));
  }
  template <class ConstBuffers, class Token>
  auto async_write_some(const ConstBuffers& buffers, Token&& token) {
    if (tls_) return tls_->async_write_some(buffers, std::forward<Token>(token));
    return plain_->async_write_some(buffers, std::forward<Token>(token));
  }

 private:
  std::optional<beast::tcp_stream> plain_;
  std::shared_ptr<asio::ssl::context> context_;
  std::unique_ptr<Tls> tls_;
};

}  // namespace nebu::api::server_internal
