// A small blocking HTTP/1.1 client for the OpenID provider (discovery, JWKS, token
// endpoint), on Boost.Beast: one connection per request, the whole exchange bounded by
// timeout_ms and the reply body by kHttpReplyBytesMax.
//
// https: TLS 1.2+ with the system's CA store, SNI and host name verification (the
// peer's certificate must be valid for the URL's host). http: only to loopback
// addresses (a provider on the same machine, e.g. in tests); any other address is
// refused (kInvalidArgument) before connecting. Redirects are not followed.
//
//   HttpClient client({.timeout_ms = 10000});
//   Result<HttpReply> reply = client.Get("https://idp.example.org/.well-known/openid-configuration");
//
// Errors: kInvalidArgument bad URL or refused address; kUnavailable the server could
// not be reached or answered something unreadable (message says what).
// Thread-safety: Get/Post may be called from any thread concurrently.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "engine/common/status.h"

namespace nebu::api::sso {

inline constexpr size_t kHttpReplyBytesMax = 1024 * 1024;  // a JWKS or token reply
inline constexpr int64_t kHttpTimeoutMsDefault = 10000;

struct HttpReply {
  int status = 0;
  std::string content_type;
  std::string body;
};

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

class HttpClient {
 public:
  struct Options {
    int64_t timeout_ms = kHttpTimeoutMsDefault;
  };
  explicit HttpClient(Options options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  Result<HttpReply> Get(const std::string& url, const HttpHeaders& headers = {});
  // POST application/x-www-form-urlencoded `form` (already encoded).
  Result<HttpReply> PostForm(const std::string& url, const std::string& form,
                             const HttpHeaders& headers = {});

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// application/x-www-form-urlencoded encoding of one value (RFC 6749 appendix B).
std::string FormEncode(std::string_view value);

}  // namespace nebu::api::sso
