// api/sso/sso_util.h.
#include "api/sso/sso_util.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "api/sso/http_client.h"
#include "api/sso/jwt.h"
#include "engine/accounts/external_ids.h"

namespace nebu::api::sso {
namespace {

namespace json = boost::json;

bool LocalpartChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '=' ||
         c == '-' || c == '/' || c == '+';
}

}  // namespace

std::optional<std::string> NormaliseLocalpart(std::string_view claim) {
  std::string out;
  bool meaningful = false;
  for (char raw : claim) {
    const auto byte = static_cast<unsigned char>(raw);
    if ((byte & 0xC0) == 0x80) continue;  // UTF-8 continuation: one '_' per code point
    char c = (raw >= 'A' && raw <= 'Z') ? static_cast<char>(raw - 'A' + 'a') : raw;
    if (LocalpartChar(c)) {
      out += c;
      meaningful = meaningful || c != '_';
    } else {
      out += '_';
    }
    if (out.size() >= accounts::kLocalpartBytesMax) break;
  }
  if (!meaningful) return std::nullopt;
  return out;
}

std::string LocalpartFromClaims(std::string_view, std::string_view claim_value,
                                std::string_view email) {
  if (auto localpart = NormaliseLocalpart(claim_value)) return *localpart;
  const size_t at = email.find('@');
  if (at != std::string_view::npos) {
    if (auto localpart = NormaliseLocalpart(email.substr(0, at))) return *localpart;
  }
  return "user";
}

bool RedirectUrlAllowed(std::string_view url, const std::vector<std::string>& allow_list) {
  if (url.empty() || url.size() > kRedirectUrlBytesMax) return false;
  for (char c : url) {
    if (c < 0x21 || c > 0x7E) return false;
  }
  const size_t colon = url.find(':');
  if (colon == std::string_view::npos || colon == 0) return false;
  for (char c : url.substr(0, colon)) {
    const bool scheme_char = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                             (c >= '0' && c <= '9') || c == '+' || c == '.' || c == '-';
    if (!scheme_char) return false;
  }
  const std::string_view scheme = url.substr(0, colon);
  if (scheme == "javascript" || scheme == "data" || scheme == "vbscript" || scheme == "file") {
    return false;
  }
  if (allow_list.empty()) return true;
  for (const std::string& entry : allow_list) {
    if (entry.empty() || !url.starts_with(entry)) continue;
    if (entry.back() == '/' || url.size() == entry.size()) return true;
    const char next = url[entry.size()];
    if (next == '/' || next == '?' || next == '#') return true;
  }
  return false;
}

std::string AddQueryParam(std::string_view url, std::string_view name, std::string_view value) {
  const size_t hash = url.find('#');
  std::string_view base = url.substr(0, hash);
  std::string out(base);
  out += base.find('?') == std::string_view::npos ? '?' : '&';
  out += FormEncode(name);
  out += '=';
  out += FormEncode(value);
  if (hash != std::string_view::npos) out += url.substr(hash);
  return out;
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string HmacSha256(std::string_view key, std::string_view data) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), mac, &size);
  return std::string(reinterpret_cast<char*>(mac), size);
}

std::string CodeChallengeS256(std::string_view verifier) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(verifier.data()), verifier.size(), digest);
  return Base64UrlEncode(std::string_view(reinterpret_cast<char*>(digest), sizeof digest));
}

std::string RandomToken(size_t bytes) {
  std::string raw(bytes, '\0');
  NEBU_CHECK(RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) == 1,
             "RAND_bytes failed");
  return Base64UrlEncode(raw);
}

std::string SealFlowCookie(const FlowCookie& c, std::string_view key) {
  json::object o{{"s", c.state},        {"n", c.nonce},       {"v", c.code_verifier},
                 {"r", c.redirect_url}, {"u", c.uia_session}, {"e", c.expires_ms}};
  std::string payload = Base64UrlEncode(json::serialize(o));
  return payload + "." + Base64UrlEncode(HmacSha256(key, payload));
}

Result<FlowCookie> OpenFlowCookie(std::string_view sealed, std::string_view key, int64_t now_ms) {
  const Status bad = Status::Unauthenticated("no valid single sign-on session (cookie missing, "
                                             "forged or expired): start the login again");
  const size_t dot = sealed.find('.');
  if (dot == std::string_view::npos) return bad;
  const std::string_view payload = sealed.substr(0, dot);
  std::optional<std::string> mac = Base64UrlDecode(sealed.substr(dot + 1));
  const std::string expected = HmacSha256(key, payload);
  if (!mac || mac->size() != expected.size() ||
      CRYPTO_memcmp(mac->data(), expected.data(), expected.size()) != 0) {
    return bad;
  }
  std::optional<std::string> text = Base64UrlDecode(payload);
  if (!text) return bad;
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec || !v.is_object()) return bad;
  const json::object& o = v.as_object();
  FlowCookie c;
  try {
    c.state = std::string(o.at("s").as_string());
    c.nonce = std::string(o.at("n").as_string());
    c.code_verifier = std::string(o.at("v").as_string());
    c.redirect_url = std::string(o.at("r").as_string());
    c.uia_session = std::string(o.at("u").as_string());
    c.expires_ms = o.at("e").as_int64();
  } catch (const std::exception&) {
    return bad;
  }
  if (c.expires_ms <= now_ms) return bad;
  return c;
}

}  // namespace nebu::api::sso
