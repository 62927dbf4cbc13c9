// TestHttpClient: a blocking HTTP/1.1 client over loopback for API tests; one
// keep-alive connection, Content-Length bodies only, a receive timeout so a hung
// server fails the test instead of hanging it.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <cctype>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nebu::api::testing {

struct HttpReply {
  int status = 0;  // 0: no response (closed or timed out)
  std::string head;
  std::string body;

  [[nodiscard]] boost::json::value Json() const {
    boost::system::error_code ec;
    boost::json::value value = boost::json::parse(body, ec);
    return ec ? boost::json::value() : value;
  }
  [[nodiscard]] std::string Errcode() const {
    boost::json::value json = Json();
    const boost::json::value* code =
        json.is_object() ? json.as_object().if_contains("errcode") : nullptr;
    return code != nullptr && code->is_string() ? std::string(code->as_string()) : "";
  }
};

// Percent-encodes every byte outside the URI's unreserved set (RFC 3986), for
// path segments and query values.
inline std::string PercentEncode(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (std::isalnum(u) || c == '-' || c == '.' || c == '_' || c == '~') {
      out.push_back(c);
    } else {
      out += {'%', kHex[u >> 4], kHex[u & 15]};
    }
  }
  return out;
}

class TestHttpClient {
 public:
  static constexpr int kReceiveTimeoutS = 10;

  explicit TestHttpClient(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    timeval timeout{.tv_sec = kReceiveTimeoutS, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~TestHttpClient() { ::close(fd_); }
  TestHttpClient(const TestHttpClient&) = delete;
  TestHttpClient& operator=(const TestHttpClient&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }

  // Sends one request; `token` becomes an Authorization: Bearer header;
  // `extra_headers` are whole header lines without CRLF ("X-Forwarded-For: 1.2.3.4").
  void Send(std::string_view method, std::string_view target, std::string_view body = {},
            std::optional<std::string_view> token = std::nullopt,
            const std::vector<std::string>& extra_headers = {}) {
    std::string request =
        std::string(method) + " " + std::string(target) +
        " HTTP/1.1\r\nHost: test\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    if (!body.empty()) request += "Content-Type: application/json\r\n";
    if (token) request += "Authorization: Bearer " + std::string(*token) + "\r\n";
    for (const std::string& line : extra_headers) request += line + "\r\n";
    request += "\r\n";
    request += body;
    for (std::string_view rest = request; !rest.empty();) {
      ssize_t n = ::send(fd_, rest.data(), rest.size(), MSG_NOSIGNAL);
      if (n <= 0) return;
      rest.remove_prefix(static_cast<size_t>(n));
    }
  }

  HttpReply Read() {
    HttpReply reply;
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return reply;
    }
    reply.head = buffer_.substr(0, end + 2);
    size_t length = 0;
    std::string lower = reply.head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t at = lower.find("content-length: ");
    if (at != std::string::npos) length = std::stoul(reply.head.substr(at + 16));
    while (buffer_.size() < end + 4 + length) {
      if (!Fill()) return reply;
    }
    reply.status = std::stoi(reply.head.substr(9, 3));
    reply.body = buffer_.substr(end + 4, length);
    buffer_.erase(0, end + 4 + length);
    return reply;
  }

  HttpReply Call(std::string_view method, std::string_view target, std::string_view body = {},
                 std::optional<std::string_view> token = std::nullopt,
                 const std::vector<std::string>& extra_headers = {}) {
    Send(method, target, body, token, extra_headers);
    return Read();
  }

 private:
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

}  // namespace nebu::api::testing
