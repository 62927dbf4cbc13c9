// Helpers of the operations tests (ops_*_test.cpp): a raw loopback connection that
// sends a request in pieces (a request in flight across a signal), and a bounded wait
// on a condition.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <thread>

#include "tests/api/test_http_client.h"

namespace nebu::security {

// Polls `condition` every few ms until it holds (true) or `timeout` passes (false).
inline bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return condition();
}

// True when a TCP connection to 127.0.0.1:port is refused (nothing listens).
inline bool ConnectionRefused(uint16_t port) {
  api::testing::TestHttpClient client(port);
  return !client.connected();
}

// One connection whose bytes the test sends as it likes; Read() parses one response
// (Content-Length bodies only), like TestHttpClient.
class RawConnection {
 public:
  static constexpr int kReceiveTimeoutS = 20;

  explicit RawConnection(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    timeval timeout{.tv_sec = kReceiveTimeoutS, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawConnection() { ::close(fd_); }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  [[nodiscard]] bool connected() const { return connected_; }

  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  api::testing::HttpReply Read() {
    api::testing::HttpReply reply;
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return reply;
    }
    reply.head = buffer_.substr(0, end + 2);
    std::string lower = reply.head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    size_t length = 0;
    if (size_t at = lower.find("content-length: "); at != std::string::npos) {
      length = std::stoul(reply.head.substr(at + 16));
    }
    while (buffer_.size() < end + 4 + length) {
      if (!Fill()) return reply;
    }
    reply.status = std::stoi(reply.head.substr(9, 3));
    reply.body = buffer_.substr(end + 4, length);
    buffer_.erase(0, end + 4 + length);
    return reply;
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

}  // namespace nebu::security
