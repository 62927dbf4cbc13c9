#include "engine/event/identifiers.h"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstring>

namespace nebu::event {
namespace {

constexpr size_t kDnsNameBytesMax = 255;
constexpr size_t kIpv6LiteralBytesMax = 45;
constexpr size_t kPortDigitsMax = 5;
constexpr uint32_t kPortMax = 65535;
constexpr size_t kEventIdHashChars = 43;  // unpadded base64 of a 32-byte SHA-256

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAlnum(char c) { return IsDigit(c) || IsAlpha(c); }

bool AllDigits(std::string_view s) {
  for (char c : s) {
    if (!IsDigit(c)) return false;
  }
  return !s.empty();
}

// "1*3DIGIT . 1*3DIGIT . 1*3DIGIT . 1*3DIGIT" — the shape, ignoring ranges.
bool LooksLikeIpv4(std::string_view host) {
  int parts = 0;
  size_t start = 0;
  while (start <= host.size()) {
    size_t dot = host.find('.', start);
    size_t end = dot == std::string_view::npos ? host.size() : dot;
    std::string_view part = host.substr(start, end - start);
    if (part.size() > 3 || !AllDigits(part)) return false;
    ++parts;
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return parts == 4;
}

bool IsValidIpv4(std::string_view host) {
  if (!LooksLikeIpv4(host)) return false;
  size_t start = 0;
  for (int i = 0; i < 4; ++i) {
    size_t end = host.find('.', start);
    if (end == std::string_view::npos) end = host.size();
    int value = 0;
    for (size_t j = start; j < end; ++j) value = value * 10 + (host[j] - '0');
    if (value > 255) return false;
    start = end + 1;
  }
  return true;
}

bool IsValidIpv6(std::string_view literal) {
  if (literal.size() < 2 || literal.size() > kIpv6LiteralBytesMax) return false;
  for (char c : literal) {
    bool hex = IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    if (!hex && c != ':' && c != '.') return false;
  }
  char buf[kIpv6LiteralBytesMax + 1];
  std::memcpy(buf, literal.data(), literal.size());
  buf[literal.size()] = '\0';
  in6_addr addr;
  return inet_pton(AF_INET6, buf, &addr) == 1;
}

// Labels of [A-Za-z0-9-], separated by single dots, no empty label.
bool IsValidDnsName(std::string_view host) {
  if (host.empty() || host.size() > kDnsNameBytesMax) return false;
  bool label_empty = true;
  for (char c : host) {
    if (c == '.') {
      if (label_empty) return false;
      label_empty = true;
    } else if (IsAlnum(c) || c == '-') {
      label_empty = false;
    } else {
      return false;
    }
  }
  return !label_empty;
}

bool IsValidPort(std::string_view port) {
  if (port.empty() || port.size() > kPortDigitsMax || !AllDigits(port)) return false;
  uint32_t value = 0;
  for (char c : port) value = value * 10 + static_cast<uint32_t>(c - '0');
  return value <= kPortMax;
}

bool IsValidHostname(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    return host.back() == ']' && IsValidIpv6(host.substr(1, host.size() - 2));
  }
  // A name shaped like a dotted quad is an IPv4 literal and must be in range.
  if (LooksLikeIpv4(host)) return IsValidIpv4(host);
  return IsValidDnsName(host);
}

// Opaque localparts (historical user IDs, room IDs, aliases): UTF-8 without ':' or NUL.
bool IsValidOpaqueLocalpart(std::string_view localpart) {
  if (localpart.find(':') != std::string_view::npos) return false;
  if (localpart.find('\0') != std::string_view::npos) return false;
  return IsValidUtf8(localpart);
}

// `sigil localpart ":" server_name`, at most kIdentifierBytesMax bytes.
bool IsValidSigilId(std::string_view id, char sigil, bool allow_empty_localpart) {
  if (id.size() < 3 || id.size() > kIdentifierBytesMax || id.front() != sigil) return false;
  size_t colon = id.find(':');
  if (colon == std::string_view::npos) return false;
  std::string_view localpart = id.substr(1, colon - 1);
  if (localpart.empty() && !allow_empty_localpart) return false;
  return IsValidOpaqueLocalpart(localpart) && IsValidServerName(id.substr(colon + 1));
}

bool IsNewLocalpartChar(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'z') || c == '-' || c == '.' || c == '=' || c == '_' ||
         c == '/' || c == '+';
}

bool IsBase64UrlChar(char c) { return IsAlnum(c) || c == '-' || c == '_'; }

// Length of the UTF-8 sequence led by b, or 0 for a byte that cannot lead one.
size_t Utf8SequenceLength(uint8_t b) {
  if (b < 0x80) return 1;
  if (b >= 0xC2 && b <= 0xDF) return 2;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xF0 && b <= 0xF4) return 4;
  return 0;
}

bool IsContinuation(uint8_t b) { return (b & 0xC0) == 0x80; }

// Checks one multi-byte sequence at p (n bytes, already known to be available).
bool IsValidSequence(const uint8_t* p, size_t n) {
  for (size_t i = 1; i < n; ++i) {
    if (!IsContinuation(p[i])) return false;
  }
  if (n == 3) {
    if (p[0] == 0xE0 && p[1] < 0xA0) return false;   // overlong
    if (p[0] == 0xED && p[1] >= 0xA0) return false;  // surrogate
  } else if (n == 4) {
    if (p[0] == 0xF0 && p[1] < 0x90) return false;   // overlong
    if (p[0] == 0xF4 && p[1] >= 0x90) return false;  // above U+10FFFF
  }
  return true;
}

}  // namespace

bool IsValidUtf8(std::string_view bytes) {
  const auto* p = reinterpret_cast<const uint8_t*>(bytes.data());
  size_t n = bytes.size();
  size_t i = 0;
  while (i < n) {
    // Fast path: eight ASCII bytes at a time.
    if (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, p + i, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    size_t len = Utf8SequenceLength(p[i]);
    if (len == 0 || len > n - i) return false;
    if (len > 1 && !IsValidSequence(p + i, len)) return false;
    i += len;
  }
  return true;
}

bool IsValidServerName(std::string_view server_name) {
  if (server_name.empty()) return false;
  std::string_view host = server_name;
  size_t colon = server_name.rfind(':');
  size_t bracket = server_name.rfind(']');
  // A ':' after the IPv6 literal (or in a name without brackets) starts the port.
  if (colon != std::string_view::npos && (bracket == std::string_view::npos || colon > bracket)) {
    if (!IsValidPort(server_name.substr(colon + 1))) return false;
    host = server_name.substr(0, colon);
  }
  return IsValidHostname(host);
}

bool IsValidNewLocalpart(std::string_view localpart, std::string_view server_name) {
  if (localpart.empty()) return false;
  // "@" + localpart + ":" + server_name
  if (localpart.size() + server_name.size() + 2 > kIdentifierBytesMax) return false;
  for (char c : localpart) {
    if (!IsNewLocalpartChar(c)) return false;
  }
  return true;
}

bool IsValidUserId(std::string_view user_id) {
  return IsValidSigilId(user_id, '@', /*allow_empty_localpart=*/true);
}

bool IsValidRoomId(std::string_view room_id) {
  return IsValidSigilId(room_id, '!', /*allow_empty_localpart=*/false);
}

bool IsValidRoomAlias(std::string_view alias) {
  return IsValidSigilId(alias, '#', /*allow_empty_localpart=*/false);
}

bool IsValidEventId(std::string_view event_id) {
  if (event_id.size() != 1 + kEventIdHashChars || event_id.front() != '$') return false;
  for (char c : event_id.substr(1)) {
    if (!IsBase64UrlChar(c)) return false;
  }
  return true;
}

bool IsValidEventType(std::string_view type) {
  return !type.empty() && type.size() <= kEventTypeBytesMax &&
         type.find('\0') == std::string_view::npos;
}

bool IsValidStateKey(std::string_view state_key) {
  return state_key.size() <= kStateKeyBytesMax && state_key.find('\0') == std::string_view::npos;
}

std::string_view ServerNameOf(std::string_view id) {
  size_t colon = id.find(':');
  if (id.empty() || colon == std::string_view::npos) return {};
  return id.substr(colon + 1);
}

std::string_view LocalpartOf(std::string_view id) {
  size_t colon = id.find(':');
  if (id.empty() || colon == std::string_view::npos) return {};
  return id.substr(1, colon - 1);
}

}  // namespace nebu::event
