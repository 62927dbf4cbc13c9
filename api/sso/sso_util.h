// Pure helpers of single sign-on (api/sso/): localpart normalisation, the redirectUrl
// allow-list, URLs and HTML escaping, and the sealed flow cookie.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"

namespace nebu::api::sso {

inline constexpr size_t kRedirectUrlBytesMax = 2048;

// A claim value as a Matrix localpart: ASCII lower-cased; every character outside
// [a-z0-9._=/+-] becomes '_' (one per code point); cut to accounts::kLocalpartBytesMax
// bytes; nullopt when nothing but '_' is left (then the caller tries the fallback).
std::optional<std::string> NormaliseLocalpart(std::string_view claim);

// The localpart for a set of claims: `claim_name`'s value if it is a string that
// normalises, else the local part of "email", else "user". Collisions with existing
// users are resolved when the command applies (engine/accounts/external_ids.h).
std::string LocalpartFromClaims(std::string_view claim_name, std::string_view claim_value,
                                std::string_view email);

// Whether a client's redirectUrl is acceptable: at most kRedirectUrlBytesMax printable
// ASCII characters with a scheme ("https://", "http://" or an app's "name:"); with a
// non-empty allow-list it must also start with one entry, at a boundary (the entry
// ends with '/', or the URL continues with '/', '?' or '#' or ends there), so
// "https://app.example.org" does not allow "https://app.example.org.evil.com".
bool RedirectUrlAllowed(std::string_view url, const std::vector<std::string>& allow_list);

// url with `name=value` (value form-encoded) added to its query, before any fragment.
std::string AddQueryParam(std::string_view url, std::string_view name, std::string_view value);

// &, <, >, " and ' as HTML entities.
std::string HtmlEscape(std::string_view text);

// The state of one login between the redirect and the callback, carried by the
// browser in a cookie sealed with HMAC-SHA256 (so any node of a cluster that knows
// the key can open it, and nobody can forge one).
struct FlowCookie {
  std::string state;          // also sent to the provider; the callback must echo it
  std::string nonce;          // must come back in the ID token
  std::string code_verifier;  // PKCE S256
  std::string redirect_url;   // the client's redirectUrl ("" for user-interactive auth)
  std::string uia_session;    // the UIA session being confirmed ("" for a login)
  int64_t expires_ms = 0;     // wall clock
};
std::string SealFlowCookie(const FlowCookie& cookie, std::string_view key);
// kUnauthenticated when forged, malformed or expired at now_ms.
Result<FlowCookie> OpenFlowCookie(std::string_view sealed, std::string_view key, int64_t now_ms);

// PKCE (RFC 7636): base64url(SHA-256(verifier)).
std::string CodeChallengeS256(std::string_view verifier);
// HMAC-SHA256 of data with key (raw bytes).
std::string HmacSha256(std::string_view key, std::string_view data);
// A random base64url string of `bytes` random bytes.
std::string RandomToken(size_t bytes);

}  // namespace nebu::api::sso
