// Forwarded: which address a request comes from when nebu runs behind reverse proxies.
//
//   Result<TrustedProxies> proxies = ParseTrustedProxies("10.0.0.0/8, ::1/128");
//   std::string client = ClientAddress("10.1.2.3", {"203.0.113.9, 10.0.0.2"}, *proxies);
//   // client == "203.0.113.9"
//
// Rule (the operator's NEBU_TRUSTED_PROXIES, app/config.h):
// - The TCP peer is not in a trusted CIDR: it is the client; X-Forwarded-For is ignored
//   (anyone can send the header).
// - The peer is trusted: the X-Forwarded-For fields, joined in order, are read from the
//   right; the first address that is not itself a trusted proxy is the client (each
//   proxy appends the address it saw, so everything left of the first untrusted hop
//   may be forged and is never looked at). When every address is trusted, the leftmost
//   is the client.
// - No header, or an entry that is not an IP literal among those read, or more than
//   kForwardedHopsMax trusted hops read: the peer is the client.
// Addresses are compared as 128-bit values; an IPv4 address, an IPv4 CIDR and an
// IPv4-mapped IPv6 address (::ffff:a.b.c.d, what a dual-stack listener reports) are the
// same thing. Entries may be bracketed IPv6 ("[2001:db8::1]"); ports are not accepted.
//
// Thread-safety: values and pure functions.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"

namespace nebu::api {

inline constexpr size_t kTrustedProxiesMax = 64;  // CIDRs in NEBU_TRUSTED_PROXIES
inline constexpr size_t kForwardedHopsMax = 32;   // X-Forwarded-For entries read

using IpBytes = std::array<uint8_t, 16>;  // IPv6, or IPv4 as ::ffff:a.b.c.d

struct Cidr {
  IpBytes address{};      // with the bits past prefix_bits cleared
  int prefix_bits = 128;  // of the 128-bit form (an IPv4 /24 is 120)
  bool operator==(const Cidr&) const = default;
};

using TrustedProxies = std::vector<Cidr>;

// "a.b.c.d", "a.b.c.d/n", IPv6 "x::y" or "x::y/n"; nullopt when malformed.
[[nodiscard]] std::optional<Cidr> ParseCidr(std::string_view text);

// A comma-separated list of CIDRs (spaces around entries allowed; "" is the empty
// list). kInvalidArgument naming the bad entry, or when there are more than
// kTrustedProxiesMax.
[[nodiscard]] Result<TrustedProxies> ParseTrustedProxies(std::string_view text);

// An IP literal (IPv4, IPv6, or IPv6 in brackets), as 128 bits; nullopt otherwise.
[[nodiscard]] std::optional<IpBytes> ParseIp(std::string_view text);

[[nodiscard]] bool IsTrusted(const IpBytes& ip, const TrustedProxies& proxies);

// The client's IP (no port, no brackets), by the rule above. `peer_ip` is the TCP
// peer's IP (as RemoteIp gives it); `forwarded_for` the X-Forwarded-For field values
// in the order received.
[[nodiscard]] std::string ClientAddress(std::string_view peer_ip,
                                        const std::vector<std::string_view>& forwarded_for,
                                        const TrustedProxies& proxies);

}  // namespace nebu::api
