#include "app/http_get.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>

#include "app/config.h"

namespace nebu::app {

namespace {

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

Result<HttpGetReply> HttpGet(const std::string& address, const std::string& target,
                             const std::vector<std::string>& headers, int timeout_ms) {
  return HttpCall("GET", address, target, headers, {}, timeout_ms);
}

Result<HttpGetReply> HttpCall(const std::string& method, const std::string& address,
                              const std::string& target, const std::vector<std::string>& headers,
                              const std::string& json_body, int timeout_ms) {
  NEBU_ASSIGN_OR_RETURN(HostPort host_port, ParseHostPort(address));
  sockaddr_storage storage{};
  socklen_t length = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&storage);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&storage);
  if (::inet_pton(AF_INET, host_port.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(host_port.port);
    length = sizeof *v4;
  } else if (::inet_pton(AF_INET6, host_port.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(host_port.port);
    length = sizeof *v6;
  } else {
    return Status::InvalidArgument("not an IP literal: " + address);
  }
  Fd sock{::socket(storage.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)};
  if (sock.fd < 0) return Status::Unavailable("socket: cannot create");
  timeval timeout{.tv_sec = timeout_ms / 1000, .tv_usec = (timeout_ms % 1000) * 1000};
  ::setsockopt(sock.fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  ::setsockopt(sock.fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
  if (::connect(sock.fd, reinterpret_cast<sockaddr*>(&storage), length) != 0) {
    return Status::Unavailable("cannot connect to " + address);
  }
  std::string request = method + " " + target + " HTTP/1.1\r\nHost: " + address +
                        "\r\nConnection: close\r\n";
  for (const std::string& h : headers) request += h + "\r\n";
  if (method != "GET") {
    request += "Content-Type: application/json\r\nContent-Length: " +
               std::to_string(json_body.size()) + "\r\n";
  }
  request += "\r\n" + json_body;
  if (::send(sock.fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    return Status::Unavailable("cannot send to " + address);
  }
  std::string response;
  char buffer[16384];
  for (;;) {
    ssize_t n = ::recv(sock.fd, buffer, sizeof buffer, 0);
    if (n < 0) return Status::Unavailable("no answer from " + address + " in time");
    if (n == 0) break;
    response.append(buffer, static_cast<size_t>(n));
    if (response.size() > kHttpGetBodyBytesMax) {
      return Status::Unavailable("answer from " + address + " is too large");
    }
  }
  // "HTTP/1.1 200 OK\r\n...\r\n\r\nbody" (Connection: close: the body runs to the end).
  const size_t header_end = response.find("\r\n\r\n");
  if (!response.starts_with("HTTP/1.") || response.size() < 12 ||
      header_end == std::string::npos) {
    return Status::Unavailable("no HTTP answer from " + address);
  }
  HttpGetReply reply;
  reply.status = std::atoi(response.c_str() + 9);
  reply.body = response.substr(header_end + 4);
  return reply;
}

}  // namespace nebu::app
