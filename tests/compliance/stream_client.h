// StreamClient: a blocking HTTP/1.1 GET over loopback that reads a chunked (or
// Content-Length) answer chunk by chunk, for the export tests: it counts the chunks,
// splits the body into lines, and can stop after a number of lines (closing the
// connection mid-stream, as a client that breaks off would).
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace nebu::compliance_testing {

struct StreamReply {
  int status = 0;            // 0: no answer
  std::string head;          // status line and header fields
  bool chunked = false;      // Transfer-Encoding: chunked
  bool complete = false;     // the final (zero) chunk arrived
  size_t chunks = 0;         // data chunks received
  uint64_t bytes = 0;        // body bytes received
  std::vector<std::string> lines;  // the body's lines (without '\n'), up to the stop
  std::string body;          // a non-chunked body
};

class StreamClient {
 public:
  static constexpr int kReceiveTimeoutS = 120;

  // GET target with `token`; reads up to lines_max lines (then closes), or all.
  static StreamReply Get(uint16_t port, const std::string& target, const std::string& token,
                         size_t lines_max = SIZE_MAX) {
    StreamClient client(port);
    StreamReply reply;
    if (!client.connected_) return reply;
    std::string request = "GET " + target + " HTTP/1.1\r\nHost: localhost\r\n";
    if (!token.empty()) request += "Authorization: Bearer " + token + "\r\n";
    request += "\r\n";
    if (::send(client.fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
      return reply;
    }
    if (!client.ReadHead(&reply)) return reply;
    if (!reply.chunked) {
      client.ReadBody(&reply);
      return reply;
    }
    std::string partial;
    while (reply.lines.size() < lines_max) {
      std::optional<std::string> chunk = client.ReadChunk();
      if (!chunk) break;
      if (chunk->empty()) {
        reply.complete = true;
        break;
      }
      ++reply.chunks;
      reply.bytes += chunk->size();
      partial += *chunk;
      size_t start = 0;
      for (size_t nl; (nl = partial.find('\n', start)) != std::string::npos; start = nl + 1) {
        if (reply.lines.size() < lines_max) reply.lines.push_back(partial.substr(start, nl - start));
      }
      partial.erase(0, start);
    }
    return reply;
  }

 private:
  explicit StreamClient(uint16_t port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    timeval timeout{.tv_sec = kReceiveTimeoutS, .tv_usec = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~StreamClient() { ::close(fd_); }

  bool Fill() {
    char buf[65536];
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  }

  std::optional<std::string> Line() {  // one CRLF-terminated line
    size_t end;
    while ((end = buffer_.find("\r\n")) == std::string::npos) {
      if (!Fill()) return std::nullopt;
    }
    std::string line = buffer_.substr(0, end);
    buffer_.erase(0, end + 2);
    return line;
  }

  bool ReadHead(StreamReply* reply) {
    size_t end;
    while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill()) return false;
    }
    reply->head = buffer_.substr(0, end);
    buffer_.erase(0, end + 4);
    if (reply->head.size() < 12) return false;
    reply->status = std::stoi(reply->head.substr(9, 3));
    std::string lower;
    for (char c : reply->head) lower.push_back(static_cast<char>(std::tolower(c)));
    reply->chunked = lower.find("transfer-encoding: chunked") != std::string::npos;
    if (size_t at = lower.find("content-length: "); at != std::string::npos) {
      content_length_ = std::stoull(lower.substr(at + 16));
    }
    return true;
  }

  void ReadBody(StreamReply* reply) {
    while (buffer_.size() < content_length_ && Fill()) {
    }
    reply->body = buffer_.substr(0, content_length_);
  }

  // The next chunk's data; "" for the final chunk; nullopt when the stream broke.
  std::optional<std::string> ReadChunk() {
    std::optional<std::string> size_line = Line();
    if (!size_line) return std::nullopt;
    size_t size = std::stoul(*size_line, nullptr, 16);
    while (buffer_.size() < size + 2) {
      if (!Fill()) return std::nullopt;
    }
    std::string data = buffer_.substr(0, size);
    buffer_.erase(0, size + 2);
    if (size == 0) return std::string();
    return data;
  }

  int fd_;
  bool connected_ = false;
  std::string buffer_;
  size_t content_length_ = 0;
};

}  // namespace nebu::compliance_testing
