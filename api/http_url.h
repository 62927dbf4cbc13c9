// HttpUrl: the parts of an http(s) URL that nebu's outgoing HTTP clients need (push
// gateways, the OpenID provider).
//
//   std::optional<HttpUrl> url = ParseHttpUrl("https://push.example:8443/_matrix/push/v1/notify");
//   // url->tls, url->host == "push.example", url->port == "8443",
//   // url->target == "/_matrix/push/v1/notify", url->HostHeader() == "push.example:8443"
//
// Accepted: "http://" or "https://", a host name, IPv4 or bracketed IPv6 address, an
// optional port, then an optional path and query (no path: "/"). Refused (nullopt): any
// other scheme, userinfo ("user@host": a classic way to disguise the real host), an empty
// host or port, text after "]" that is not ":port". The port is not range-checked here:
// the resolver refuses a bad one.
//
// Thread-safety: values and a pure function.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace nebu::api {

struct HttpUrl {
  bool tls = false;
  std::string host;    // without brackets
  std::string port;    // "443" / "80" when the URL names none
  std::string target;  // path and query, starting with "/"

  // The Host header (RFC 9110 7.2): the host, bracketed when IPv6, and ":port" when it is
  // not the scheme's default.
  [[nodiscard]] std::string HostHeader() const;
};

[[nodiscard]] std::optional<HttpUrl> ParseHttpUrl(std::string_view url);

}  // namespace nebu::api
