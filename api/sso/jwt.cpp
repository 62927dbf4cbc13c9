// JWK parsing and ID token verification with OpenSSL 3 (api/sso/jwt.h).
#include "api/sso/jwt.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/param_build.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace nebu::api::sso {
namespace {

namespace json = boost::json;

Status Bad(std::string message) { return Status::Unauthenticated(std::move(message)); }

struct ParamBldFree {
  void operator()(OSSL_PARAM_BLD* b) const { OSSL_PARAM_BLD_free(b); }
};
struct ParamFree {
  void operator()(OSSL_PARAM* p) const { OSSL_PARAM_free(p); }
};
struct CtxFree {
  void operator()(EVP_PKEY_CTX* c) const { EVP_PKEY_CTX_free(c); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct BnFree {
  void operator()(BIGNUM* b) const { BN_free(b); }
};
using Bn = std::unique_ptr<BIGNUM, BnFree>;

std::optional<std::string> JwtStringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string(v->as_string());
}

// The decoded bytes of a base64url member, or nullopt.
std::optional<std::string> B64Field(const json::object& o, std::string_view key) {
  std::optional<std::string> text = JwtStringField(o, key);
  if (!text) return std::nullopt;
  return Base64UrlDecode(*text);
}

Result<EvpKey> FromData(const char* type, OSSL_PARAM_BLD* bld) {
  std::unique_ptr<OSSL_PARAM, ParamFree> params(OSSL_PARAM_BLD_to_param(bld));
  std::unique_ptr<EVP_PKEY_CTX, CtxFree> ctx(EVP_PKEY_CTX_new_from_name(nullptr, type, nullptr));
  EVP_PKEY* key = nullptr;
  if (!params || !ctx || EVP_PKEY_fromdata_init(ctx.get()) <= 0 ||
      EVP_PKEY_fromdata(ctx.get(), &key, EVP_PKEY_PUBLIC_KEY, params.get()) <= 0) {
    return Status::InvalidArgument(std::string("JWK: not a valid ") + type + " public key");
  }
  return EvpKey(key);
}

Result<EvpKey> RsaKey(const json::object& jwk) {
  std::optional<std::string> n = B64Field(jwk, "n"), e = B64Field(jwk, "e");
  if (!n || !e || n->empty() || e->empty()) return Status::InvalidArgument("JWK: RSA needs n and e");
  Bn bn_n(BN_bin2bn(reinterpret_cast<const unsigned char*>(n->data()), static_cast<int>(n->size()), nullptr));
  Bn bn_e(BN_bin2bn(reinterpret_cast<const unsigned char*>(e->data()), static_cast<int>(e->size()), nullptr));
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bn_n || !bn_e || !bld || !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_N, bn_n.get()) ||
      !OSSL_PARAM_BLD_push_BN(bld.get(), OSSL_PKEY_PARAM_RSA_E, bn_e.get())) {
    return Status::InvalidArgument("JWK: bad RSA parameters");
  }
  NEBU_ASSIGN_OR_RETURN(EvpKey key, FromData("RSA", bld.get()));
  if (EVP_PKEY_get_bits(key.get()) < kRsaBitsMin) return Status::InvalidArgument("JWK: RSA key too short");
  return key;
}

// P-256 / P-384: the OpenSSL group name and the coordinate size in bytes.
std::optional<std::pair<const char*, size_t>> Curve(std::string_view crv) {
  if (crv == "P-256") return std::pair{"prime256v1", size_t{32}};
  if (crv == "P-384") return std::pair{"secp384r1", size_t{48}};
  return std::nullopt;
}

Result<EvpKey> EcKey(const json::object& jwk, std::string_view crv) {
  auto curve = Curve(crv);
  if (!curve) return Status::InvalidArgument("JWK: unsupported curve");
  std::optional<std::string> x = B64Field(jwk, "x"), y = B64Field(jwk, "y");
  if (!x || !y || x->size() != curve->second || y->size() != curve->second) {
    return Status::InvalidArgument("JWK: bad EC coordinates");
  }
  std::string point = "\x04" + *x + *y;  // uncompressed SEC1 point
  std::unique_ptr<OSSL_PARAM_BLD, ParamBldFree> bld(OSSL_PARAM_BLD_new());
  if (!bld ||
      !OSSL_PARAM_BLD_push_utf8_string(bld.get(), OSSL_PKEY_PARAM_GROUP_NAME, curve->first, 0) ||
      !OSSL_PARAM_BLD_push_octet_string(bld.get(), OSSL_PKEY_PARAM_PUB_KEY, point.data(),
                                        point.size())) {
    return Status::InvalidArgument("JWK: bad EC parameters");
  }
  return FromData("EC", bld.get());
}

struct AlgInfo {
  const EVP_MD* md;
  std::string_view kty;
  std::string_view crv;  // EC only
};

std::optional<AlgInfo> Algorithm(std::string_view alg) {
  if (alg == "RS256") return AlgInfo{EVP_sha256(), "RSA", ""};
  if (alg == "RS384") return AlgInfo{EVP_sha384(), "RSA", ""};
  if (alg == "RS512") return AlgInfo{EVP_sha512(), "RSA", ""};
  if (alg == "ES256") return AlgInfo{EVP_sha256(), "EC", "P-256"};
  if (alg == "ES384") return AlgInfo{EVP_sha384(), "EC", "P-384"};
  return std::nullopt;
}

// JWS ECDSA signatures are r || s; OpenSSL verifies DER.
std::optional<std::string> EcdsaDer(std::string_view raw, size_t coordinate_bytes) {
  if (raw.size() != 2 * coordinate_bytes) return std::nullopt;
  const auto* bytes = reinterpret_cast<const unsigned char*>(raw.data());
  ECDSA_SIG* sig = ECDSA_SIG_new();
  BIGNUM* r = BN_bin2bn(bytes, static_cast<int>(coordinate_bytes), nullptr);
  BIGNUM* s = BN_bin2bn(bytes + coordinate_bytes, static_cast<int>(coordinate_bytes), nullptr);
  if (sig == nullptr || r == nullptr || s == nullptr || !ECDSA_SIG_set0(sig, r, s)) {
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return std::nullopt;
  }
  unsigned char* der = nullptr;
  int size = i2d_ECDSA_SIG(sig, &der);
  ECDSA_SIG_free(sig);
  if (size <= 0) return std::nullopt;
  std::string out(reinterpret_cast<char*>(der), static_cast<size_t>(size));
  OPENSSL_free(der);
  return out;
}

bool VerifySignature(const AlgInfo& alg, EVP_PKEY* key, std::string_view signed_part,
                     std::string signature) {
  if (alg.kty == "EC") {
    std::optional<std::string> der = EcdsaDer(signature, Curve(alg.crv)->second);
    if (!der) return false;
    signature = std::move(*der);
  }
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestVerifyInit(ctx.get(), nullptr, alg.md, nullptr, key) <= 0) return false;
  return EVP_DigestVerify(ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()),
                          signature.size(),
                          reinterpret_cast<const unsigned char*>(signed_part.data()),
                          signed_part.size()) == 1;
}

struct Parts {
  json::object header;
  json::object payload;
  std::string signature;
  std::string_view signed_part;
};

Result<json::object> DecodeObject(std::string_view b64) {
  std::optional<std::string> text = Base64UrlDecode(b64);
  if (!text) return Bad("ID token: bad base64url");
  boost::system::error_code ec;
  json::value v = json::parse(*text, ec);
  if (ec || !v.is_object()) return Bad("ID token: not a JSON object");
  return std::move(v.as_object());
}

Result<Parts> Split(std::string_view token) {
  if (token.size() > kJwtBytesMax) return Bad("ID token too long");
  const size_t first = token.find('.');
  const size_t second = first == std::string_view::npos ? first : token.find('.', first + 1);
  if (second == std::string_view::npos || token.find('.', second + 1) != std::string_view::npos) {
    return Bad("ID token: not a compact JWS");
  }
  Parts parts;
  NEBU_ASSIGN_OR_RETURN(parts.header, DecodeObject(token.substr(0, first)));
  NEBU_ASSIGN_OR_RETURN(parts.payload, DecodeObject(token.substr(first + 1, second - first - 1)));
  std::optional<std::string> signature = Base64UrlDecode(token.substr(second + 1));
  if (!signature) return Bad("ID token: bad signature encoding");
  parts.signature = std::move(*signature);
  parts.signed_part = token.substr(0, second);
  return parts;
}

std::optional<int64_t> NumericDate(const json::object& claims, std::string_view key) {
  const json::value* v = claims.if_contains(key);
  if (v == nullptr) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64() && v->as_uint64() < (uint64_t{1} << 62)) return static_cast<int64_t>(v->as_uint64());
  if (v->is_double()) return static_cast<int64_t>(v->as_double());
  return std::nullopt;
}

Status CheckAudience(const json::object& claims, const std::string& client_id) {
  const json::value* aud = claims.if_contains("aud");
  size_t audiences = 0;
  bool ours = false;
  if (aud != nullptr && aud->is_string()) {
    audiences = 1;
    ours = aud->as_string() == client_id;
  } else if (aud != nullptr && aud->is_array()) {
    for (const json::value& a : aud->as_array()) {
      ++audiences;
      ours = ours || (a.is_string() && a.as_string() == client_id);
    }
  }
  if (!ours) return Bad("ID token: aud is not this client");
  std::optional<std::string> azp = JwtStringField(claims, "azp");
  if (audiences > 1 && !azp) return Bad("ID token: several audiences and no azp");
  if (claims.contains("azp") && azp != client_id) return Bad("ID token: azp is not this client");
  return Status::Ok();
}

Status CheckClaims(const json::object& claims, const IdTokenExpectations& expect) {
  if (JwtStringField(claims, "iss") != expect.issuer) return Bad("ID token: wrong iss");
  NEBU_RETURN_IF_ERROR(CheckAudience(claims, expect.client_id));
  std::optional<int64_t> exp = NumericDate(claims, "exp"), iat = NumericDate(claims, "iat");
  if (!exp || *exp <= expect.now_s - kClockSkewS) return Bad("ID token: expired");
  if (!iat || *iat > expect.now_s + kClockSkewS) return Bad("ID token: iat in the future");
  if (*iat < expect.now_s - kIdTokenAgeMaxS) return Bad("ID token: iat too old");
  if (JwtStringField(claims, "nonce") != expect.nonce) return Bad("ID token: wrong nonce");
  std::optional<std::string> sub = JwtStringField(claims, "sub");
  if (!sub || sub->empty()) return Bad("ID token: no sub");
  return Status::Ok();
}

}  // namespace

std::string Base64UrlEncode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  size_t i = 0;
  for (; i + 2 < bytes.size(); i += 3) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8) | uint8_t(bytes[i + 2]);
    for (int shift : {18, 12, 6, 0}) out += kAlphabet[(v >> shift) & 63];
  }
  if (i + 1 == bytes.size()) {
    uint32_t v = uint8_t(bytes[i]) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
  } else if (i + 2 == bytes.size()) {
    uint32_t v = (uint8_t(bytes[i]) << 16) | (uint8_t(bytes[i + 1]) << 8);
    for (int shift : {18, 12, 6}) out += kAlphabet[(v >> shift) & 63];
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  if (text.size() % 4 == 1) return std::nullopt;
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '-') v = 62;
    else if (c == '_') v = 63;
    else return std::nullopt;
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xFF);
    }
  }
  return out;
}

Result<Jwk> ParseJwk(const json::object& jwk) {
  Jwk out;
  out.kty = JwtStringField(jwk, "kty").value_or("");
  out.kid = JwtStringField(jwk, "kid").value_or("");
  out.alg = JwtStringField(jwk, "alg");
  if (jwk.contains("d")) return Status::InvalidArgument("JWK: a private key");
  EvpKey key;
  if (out.kty == "RSA") {
    NEBU_ASSIGN_OR_RETURN(key, RsaKey(jwk));
  } else if (out.kty == "EC") {
    out.crv = JwtStringField(jwk, "crv").value_or("");
    NEBU_ASSIGN_OR_RETURN(key, EcKey(jwk, out.crv));
  } else {
    return Status::InvalidArgument("JWK: unsupported kty");
  }
  out.key = std::shared_ptr<EVP_PKEY>(key.release(), EvpKeyFree());
  return out;
}

Result<JwkSet> JwkSet::Parse(std::string_view text) {
  boost::system::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object() || !v.as_object().contains("keys") ||
      !v.as_object().at("keys").is_array()) {
    return Status::InvalidArgument("JWKS: not {\"keys\": [...]}");
  }
  JwkSet set;
  for (const json::value& entry : v.as_object().at("keys").as_array()) {
    if (set.keys_.size() >= kJwksKeysMax) break;
    if (!entry.is_object()) continue;
    std::optional<std::string> use = JwtStringField(entry.as_object(), "use");
    if (use && *use != "sig") continue;
    Result<Jwk> jwk = ParseJwk(entry.as_object());
    if (jwk.ok()) set.keys_.push_back(std::move(*jwk));
  }
  return set;
}

const Jwk* JwkSet::Find(std::optional<std::string_view> kid) const {
  if (!kid) return keys_.size() == 1 ? &keys_[0] : nullptr;
  for (const Jwk& key : keys_) {
    if (key.kid == *kid) return &key;
  }
  return nullptr;
}

Result<std::optional<std::string>> JwtKeyId(std::string_view token) {
  NEBU_ASSIGN_OR_RETURN(Parts parts, Split(token));
  return JwtStringField(parts.header, "kid");
}

Result<json::object> VerifyIdToken(std::string_view token, const JwkSet& keys,
                                   const IdTokenExpectations& expect) {
  NEBU_ASSIGN_OR_RETURN(Parts parts, Split(token));
  std::optional<std::string> alg_name = JwtStringField(parts.header, "alg");
  if (!alg_name) return Bad("ID token: no alg");
  std::optional<AlgInfo> alg = Algorithm(*alg_name);
  if (!alg) return Bad("ID token: alg " + *alg_name + " is not accepted");
  if (parts.header.contains("crit")) return Bad("ID token: crit header not supported");
  std::optional<std::string> kid = JwtStringField(parts.header, "kid");
  const Jwk* jwk = keys.Find(kid ? std::optional<std::string_view>(*kid) : std::nullopt);
  if (jwk == nullptr) return Status::NotFound("ID token: unknown signing key");
  if (jwk->kty != alg->kty || (alg->kty == "EC" && jwk->crv != alg->crv) ||
      (jwk->alg && *jwk->alg != *alg_name)) {
    return Bad("ID token: key does not fit alg " + *alg_name);
  }
  if (!VerifySignature(*alg, jwk->key.get(), parts.signed_part, parts.signature)) {
    return Bad("ID token: bad signature");
  }
  NEBU_RETURN_IF_ERROR(CheckClaims(parts.payload, expect));
  return std::move(parts.payload);
}

}  // namespace nebu::api::sso
