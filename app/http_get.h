// HttpGet: one plain HTTP/1.1 GET to an IP:PORT, for the `nebu cluster` commands that
// ask each node's ops listener (no TLS: the ops listener is internal). Bounded: the
// connect and every read time out after `timeout_ms`; the body is cut at kBodyBytesMax.
//
//   Result<HttpGetReply> r = HttpGet("127.0.0.1:8080", "/internal/digest",
//                                    {"Authorization: Bearer " + secret}, 10'000);
//
// kUnavailable when the node cannot be reached or answers no HTTP; kInvalidArgument
// for an address that is not IP:PORT. Thread-safety: a pure function.
#pragma once

#include <string>
#include <vector>

#include "engine/common/status.h"

namespace nebu::app {

struct HttpGetReply {
  int status = 0;
  std::string body;
};

inline constexpr size_t kHttpGetBodyBytesMax = 64 << 20;

Result<HttpGetReply> HttpGet(const std::string& address, const std::string& target,
                             const std::vector<std::string>& headers, int timeout_ms);
// The same with another method; json_body is sent with Content-Type: application/json
// (for `nebu admin create-user`).
Result<HttpGetReply> HttpCall(const std::string& method, const std::string& address,
                              const std::string& target, const std::vector<std::string>& headers,
                              const std::string& json_body, int timeout_ms);

}  // namespace nebu::app
