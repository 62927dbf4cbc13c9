#include "api/forwarded.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

namespace nebu::api {
namespace {

std::string_view TrimForwarded(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Splits at commas, trimming each part (empty parts kept).
std::vector<std::string_view> SplitList(std::string_view text) {
  std::vector<std::string_view> parts;
  while (true) {
    size_t comma = text.find(',');
    parts.push_back(TrimForwarded(text.substr(0, comma)));
    if (comma == std::string_view::npos) return parts;
    text.remove_prefix(comma + 1);
  }
}

// IPv4 only: a bare IPv4 literal is an IPv4 CIDR (prefix counted from 96).
std::optional<IpBytes> ParseV4(std::string_view text) {
  if (text.empty() || text.size() > 15) return std::nullopt;
  std::array<uint8_t, 4> v4{};
  if (inet_pton(AF_INET, std::string(text).c_str(), v4.data()) != 1) return std::nullopt;
  IpBytes out{};
  out[10] = 0xff;
  out[11] = 0xff;
  std::copy(v4.begin(), v4.end(), out.begin() + 12);
  return out;
}

std::optional<IpBytes> ParseV6(std::string_view text) {
  if (text.empty() || text.size() > 45) return std::nullopt;
  IpBytes out{};
  if (inet_pton(AF_INET6, std::string(text).c_str(), out.data()) != 1) return std::nullopt;
  return out;
}

void ClearHostBits(IpBytes& ip, int prefix_bits) {
  for (int bit = prefix_bits; bit < 128; ++bit) {
    ip[static_cast<size_t>(bit / 8)] &= static_cast<uint8_t>(~(0x80u >> (bit % 8)));
  }
}

bool InCidr(const IpBytes& ip, const Cidr& cidr) {
  IpBytes masked = ip;
  ClearHostBits(masked, cidr.prefix_bits);
  return masked == cidr.address;
}

}  // namespace

std::optional<IpBytes> ParseIp(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    return ParseV6(text.substr(1, text.size() - 2));
  }
  if (auto v4 = ParseV4(text)) return v4;
  return ParseV6(text);
}

std::optional<Cidr> ParseCidr(std::string_view text) {
  size_t slash = text.find('/');
  std::string_view ip_text = text.substr(0, slash);
  std::optional<IpBytes> ip = ParseV4(ip_text);
  bool v4 = ip.has_value();
  if (!v4) ip = ParseV6(ip_text);
  if (!ip) return std::nullopt;
  int bits = v4 ? 32 : 128;
  if (slash != std::string_view::npos) {
    std::string_view digits = text.substr(slash + 1);
    if (digits.empty() || digits.size() > 3) return std::nullopt;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), bits);
    if (ec != std::errc() || end != digits.data() + digits.size()) return std::nullopt;
    if (bits < 0 || bits > (v4 ? 32 : 128)) return std::nullopt;
  }
  Cidr cidr{.address = *ip, .prefix_bits = v4 ? bits + 96 : bits};
  ClearHostBits(cidr.address, cidr.prefix_bits);
  return cidr;
}

Result<TrustedProxies> ParseTrustedProxies(std::string_view text) {
  TrustedProxies proxies;
  if (TrimForwarded(text).empty()) return proxies;
  for (std::string_view entry : SplitList(text)) {
    std::optional<Cidr> cidr = ParseCidr(entry);
    if (!cidr) {
      return Status::InvalidArgument("not a CIDR such as 10.0.0.0/8 or ::1/128: \"" +
                                     std::string(entry) + "\"");
    }
    proxies.push_back(*cidr);
  }
  if (proxies.size() > kTrustedProxiesMax) {
    return Status::InvalidArgument("more than " + std::to_string(kTrustedProxiesMax) + " CIDRs");
  }
  return proxies;
}

bool IsTrusted(const IpBytes& ip, const TrustedProxies& proxies) {
  return std::any_of(proxies.begin(), proxies.end(),
                     [&](const Cidr& cidr) { return InCidr(ip, cidr); });
}

std::string ClientAddress(std::string_view peer_ip,
                          const std::vector<std::string_view>& forwarded_for,
                          const TrustedProxies& proxies) {
  std::string peer(peer_ip);
  std::optional<IpBytes> peer_bytes = ParseIp(peer_ip);
  if (proxies.empty() || forwarded_for.empty() || !peer_bytes || !IsTrusted(*peer_bytes, proxies)) {
    return peer;
  }
  std::vector<std::string_view> hops;
  for (std::string_view field : forwarded_for) {
    for (std::string_view hop : SplitList(field)) hops.push_back(hop);
  }
  std::string_view client;
  size_t read = 0;
  for (auto hop = hops.rbegin(); hop != hops.rend(); ++hop) {
    if (++read > kForwardedHopsMax) return peer;
    std::optional<IpBytes> ip = ParseIp(*hop);
    if (!ip) return peer;
    client = *hop;
    if (!IsTrusted(*ip, proxies)) break;
  }
  if (client.size() >= 2 && client.front() == '[') client = client.substr(1, client.size() - 2);
  return std::string(client);
}

}  // namespace nebu::api
