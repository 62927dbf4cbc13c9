// JSON Web Tokens for OpenID Connect: JWK sets (RSA and P-256/P-384 public keys, made
// into OpenSSL EVP_PKEYs with EVP_PKEY_fromdata) and ID token verification.
//
//   Result<JwkSet> keys = JwkSet::Parse(jwks_json);
//   Result<boost::json::object> claims = VerifyIdToken(id_token, *keys,
//       {.issuer = "https://idp.example.org", .client_id = "nebu", .nonce = nonce,
//        .now_s = now});
//   // kNotFound: the token's kid is not in the set (refresh the JWKS and retry);
//   // kUnauthenticated: anything else wrong (message says what).
//
// Accepted algorithms: RS256, RS384, RS512 (RSA keys of kRsaBitsMin bits or more),
// ES256 (P-256), ES384 (P-384). Refused: "none", HS* (a shared-secret MAC checked
// with a public key is the classic JWT forgery), every other alg, a key whose type or
// curve does not fit the alg, a JWK whose own "alg" differs from the header's.
// Claims checked: iss equals the issuer; aud is the client ID or an array containing
// it; with several audiences azp is required; azp, when present, is the client ID;
// exp is after now - kClockSkewS; iat is present, not after now + kClockSkewS and not
// before now - kIdTokenAgeMaxS; nonce equals the one sent; sub is a non-empty string.
//
// Thread-safety: a JwkSet is immutable after Parse; share it with shared_ptr.
#pragma once

#include <openssl/evp.h>

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"

namespace nebu::api::sso {

inline constexpr int64_t kClockSkewS = 60;          // tolerated clock difference
inline constexpr int64_t kIdTokenAgeMaxS = 10 * 60;  // iat older than this: refused
inline constexpr size_t kJwtBytesMax = 16 * 1024;    // longer ID tokens are refused
inline constexpr size_t kJwksKeysMax = 64;           // keys read from one JWKS
inline constexpr int kRsaBitsMin = 2048;

// base64url without padding (RFC 7515); Decode also accepts padding, nullopt on bad input.
std::string Base64UrlEncode(std::string_view bytes);
std::optional<std::string> Base64UrlDecode(std::string_view text);

struct EvpKeyFree {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};
using EvpKey = std::unique_ptr<EVP_PKEY, EvpKeyFree>;

struct Jwk {
  std::string kid;             // "" when the JWK has none
  std::optional<std::string> alg;
  std::string kty;             // "RSA" or "EC"
  std::string crv;             // EC: "P-256" or "P-384"
  std::shared_ptr<EVP_PKEY> key;
};

// A public JWK (RFC 7517) as an OpenSSL key: kInvalidArgument for anything else.
Result<Jwk> ParseJwk(const boost::json::object& jwk);

class JwkSet {
 public:
  // {"keys": [...]}: the signing keys usable here (others, e.g. "use":"enc" or
  // unsupported types, are skipped); kInvalidArgument when not a JWKS at all.
  static Result<JwkSet> Parse(std::string_view json);
  // The key for a token's kid; without kid, the only key (if there is one).
  [[nodiscard]] const Jwk* Find(std::optional<std::string_view> kid) const;
  [[nodiscard]] size_t size() const { return keys_.size(); }

 private:
  std::vector<Jwk> keys_;
};

struct IdTokenExpectations {
  std::string issuer;
  std::string client_id;
  std::string nonce;
  int64_t now_s = 0;  // seconds since the epoch
};

// The header's kid of a compact JWS (nullopt without one); kUnauthenticated when the
// token is not a well-formed JWS.
Result<std::optional<std::string>> JwtKeyId(std::string_view token);

// Verifies the signature and the claims (see above); the claims on success.
Result<boost::json::object> VerifyIdToken(std::string_view token, const JwkSet& keys,
                                          const IdTokenExpectations& expect);

}  // namespace nebu::api::sso
