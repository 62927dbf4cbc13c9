// Goal: ID tokens are accepted only when signed by a published key with an accepted
// algorithm and carrying the expected iss, aud, azp, exp, iat and nonce; localparts
// are normalised to the user ID grammar; redirectUrls outside the allow-list are
// refused; the flow cookie cannot be forged. Method: RSA and P-256 keys generated with
// OpenSSL per run, exported as JWKs, tokens signed here.
#include <gtest/gtest.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "api/sso/jwt.h"
#include "api/sso/sso_util.h"
#include "engine/accounts/external_ids.h"

namespace nebu::api::sso {
namespace {

namespace json = boost::json;

constexpr int64_t kNow = 1700000000;

std::string BnParam(EVP_PKEY* key, const char* name) {
  BIGNUM* bn = nullptr;
  EXPECT_EQ(EVP_PKEY_get_bn_param(key, name, &bn), 1);
  std::string out(static_cast<size_t>(BN_num_bytes(bn)), '\0');
  BN_bn2bin(bn, reinterpret_cast<unsigned char*>(out.data()));
  BN_free(bn);
  return out;
}

struct Signer {
  EvpKey key;
  std::string alg;
  std::string kid;

  json::object Jwk() const {
    if (alg.starts_with("RS")) {
      return {{"kty", "RSA"}, {"kid", kid}, {"use", "sig"},
              {"n", Base64UrlEncode(BnParam(key.get(), OSSL_PKEY_PARAM_RSA_N))},
              {"e", Base64UrlEncode(BnParam(key.get(), OSSL_PKEY_PARAM_RSA_E))}};
    }
    unsigned char point[65];
    size_t size = 0;
    EXPECT_EQ(EVP_PKEY_get_octet_string_param(key.get(), OSSL_PKEY_PARAM_PUB_KEY, point,
                                              sizeof point, &size), 1);
    std::string x(reinterpret_cast<char*>(point + 1), 32), y(reinterpret_cast<char*>(point + 33), 32);
    return {{"kty", "EC"}, {"crv", "P-256"}, {"kid", kid},
            {"x", Base64UrlEncode(x)}, {"y", Base64UrlEncode(y)}};
  }

  std::string Sign(const json::object& header, const json::object& claims) const {
    std::string input = Base64UrlEncode(json::serialize(header)) + "." +
                        Base64UrlEncode(json::serialize(claims));
    EVP_MD_CTX* ctx = EVP_MD_CTX_new();
    EXPECT_EQ(EVP_DigestSignInit(ctx, nullptr, EVP_sha256(), nullptr, key.get()), 1);
    size_t size = 0;
    EVP_DigestSign(ctx, nullptr, &size, reinterpret_cast<const unsigned char*>(input.data()),
                   input.size());
    std::string sig(size, '\0');
    EXPECT_EQ(EVP_DigestSign(ctx, reinterpret_cast<unsigned char*>(sig.data()), &size,
                             reinterpret_cast<const unsigned char*>(input.data()), input.size()),
              1);
    sig.resize(size);
    EVP_MD_CTX_free(ctx);
    if (alg == "ES256") {  // DER -> r || s
      const unsigned char* p = reinterpret_cast<const unsigned char*>(sig.data());
      ECDSA_SIG* ec = d2i_ECDSA_SIG(nullptr, &p, static_cast<long>(sig.size()));
      std::string raw(64, '\0');
      BN_bn2binpad(ECDSA_SIG_get0_r(ec), reinterpret_cast<unsigned char*>(raw.data()), 32);
      BN_bn2binpad(ECDSA_SIG_get0_s(ec), reinterpret_cast<unsigned char*>(raw.data()) + 32, 32);
      ECDSA_SIG_free(ec);
      sig = raw;
    }
    return input + "." + Base64UrlEncode(sig);
  }

  std::string Sign(const json::object& claims) const {
    return Sign(json::object{{"alg", alg}, {"kid", kid}, {"typ", "JWT"}}, claims);
  }
};

Signer MakeRsa(std::string kid) {
  return {EvpKey(EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048})), "RS256", std::move(kid)};
}
Signer MakeEc(std::string kid) {
  return {EvpKey(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256")), "ES256", std::move(kid)};
}

json::object GoodClaims() {
  return {{"iss", "https://idp.example.org"}, {"aud", "nebu"}, {"sub", "sub-1"},
          {"exp", kNow + 300}, {"iat", kNow - 5}, {"nonce", "n0nce"}};
}

const IdTokenExpectations kExpect{.issuer = "https://idp.example.org", .client_id = "nebu",
                                  .nonce = "n0nce", .now_s = kNow};

JwkSet Keys(std::initializer_list<const Signer*> signers) {
  json::array keys;
  for (const Signer* s : signers) keys.push_back(s->Jwk());
  Result<JwkSet> set = JwkSet::Parse(json::serialize(json::object{{"keys", keys}}));
  EXPECT_TRUE(set.ok());
  return std::move(*set);
}

class JwtTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    rsa_ = new Signer(MakeRsa("rsa-1"));
    ec_ = new Signer(MakeEc("ec-1"));
  }
  static Signer* rsa_;
  static Signer* ec_;
};
Signer* JwtTest::rsa_ = nullptr;
Signer* JwtTest::ec_ = nullptr;

StatusCode Code(const Result<json::object>& r) { return r.ok() ? StatusCode::kOk : r.status().code(); }

TEST_F(JwtTest, GoodRs256AndEs256Verify) {
  JwkSet keys = Keys({rsa_, ec_});
  ASSERT_EQ(keys.size(), 2u);
  Result<json::object> rsa = VerifyIdToken(rsa_->Sign(GoodClaims()), keys, kExpect);
  ASSERT_TRUE(rsa.ok()) << rsa.status().ToString();
  EXPECT_EQ(rsa->at("sub").as_string(), "sub-1");
  Result<json::object> ec = VerifyIdToken(ec_->Sign(GoodClaims()), keys, kExpect);
  ASSERT_TRUE(ec.ok()) << ec.status().ToString();
}

TEST_F(JwtTest, WrongClaimsAreRefused) {
  JwkSet keys = Keys({rsa_});
  auto with = [](std::string_view key, json::value value) {
    json::object c = GoodClaims();
    c[key] = std::move(value);
    return c;
  };
  const std::vector<std::pair<std::string, json::object>> cases = {
      {"aud", with("aud", "other-client")},
      {"aud array without azp", with("aud", json::array{"nebu", "other"})},
      {"iss", with("iss", "https://evil.example.org")},
      {"exp", with("exp", kNow - kClockSkewS - 1)},
      {"iat future", with("iat", kNow + kClockSkewS + 10)},
      {"iat old", with("iat", kNow - kIdTokenAgeMaxS - 1)},
      {"nonce", with("nonce", "other")},
      {"azp", with("azp", "other-client")},
      {"sub", with("sub", "")},
  };
  for (const auto& [name, claims] : cases) {
    EXPECT_EQ(Code(VerifyIdToken(rsa_->Sign(claims), keys, kExpect)), StatusCode::kUnauthenticated)
        << name;
  }
  json::object no_nonce = GoodClaims();
  no_nonce.erase("nonce");
  EXPECT_EQ(Code(VerifyIdToken(rsa_->Sign(no_nonce), keys, kExpect)), StatusCode::kUnauthenticated);
  // Several audiences are fine with azp naming this client.
  json::object multi = with("aud", json::array{"nebu", "other"});
  multi["azp"] = "nebu";
  EXPECT_TRUE(VerifyIdToken(rsa_->Sign(multi), keys, kExpect).ok());
}

TEST_F(JwtTest, WrongSignatureAndAlgorithmsAreRefused) {
  JwkSet keys = Keys({rsa_, ec_});
  std::string token = rsa_->Sign(GoodClaims());
  std::string tampered = token;
  tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
  EXPECT_EQ(Code(VerifyIdToken(tampered, keys, kExpect)), StatusCode::kUnauthenticated);
  // Claims changed after signing.
  json::object changed = GoodClaims();
  changed["sub"] = "admin";
  std::string payload_swap = token.substr(0, token.find('.') + 1) +
                             Base64UrlEncode(json::serialize(changed)) +
                             token.substr(token.rfind('.'));
  EXPECT_EQ(Code(VerifyIdToken(payload_swap, keys, kExpect)), StatusCode::kUnauthenticated);
  // alg none, with no signature.
  std::string none = Base64UrlEncode(R"({"alg":"none","kid":"rsa-1"})") + "." +
                     Base64UrlEncode(json::serialize(GoodClaims())) + ".";
  EXPECT_EQ(Code(VerifyIdToken(none, keys, kExpect)), StatusCode::kUnauthenticated);
  // HS256 "signed" with the public key as the secret: refused before any MAC.
  std::string hs = Base64UrlEncode(R"({"alg":"HS256","kid":"rsa-1"})") + "." +
                   Base64UrlEncode(json::serialize(GoodClaims())) + "." + Base64UrlEncode("mac");
  EXPECT_EQ(Code(VerifyIdToken(hs, keys, kExpect)), StatusCode::kUnauthenticated);
  // An RS256 header naming the EC key: the key does not fit the alg.
  std::string mixed = rsa_->Sign(json::object{{"alg", "RS256"}, {"kid", "ec-1"}}, GoodClaims());
  EXPECT_EQ(Code(VerifyIdToken(mixed, keys, kExpect)), StatusCode::kUnauthenticated);
  EXPECT_EQ(Code(VerifyIdToken("not.a.jwt.at-all", keys, kExpect)), StatusCode::kUnauthenticated);
}

TEST_F(JwtTest, UnknownKidIsNotFoundSoTheCallerRefreshes) {
  JwkSet old_keys = Keys({rsa_});
  Signer rotated = MakeRsa("rsa-2");
  std::string token = rotated.Sign(GoodClaims());
  EXPECT_EQ(Code(VerifyIdToken(token, old_keys, kExpect)), StatusCode::kNotFound);
  Result<std::optional<std::string>> kid = JwtKeyId(token);
  ASSERT_TRUE(kid.ok());
  EXPECT_EQ(kid->value_or(""), "rsa-2");
  JwkSet new_keys = Keys({rsa_, &rotated});
  EXPECT_TRUE(VerifyIdToken(token, new_keys, kExpect).ok());
}

TEST(JwkTest, PrivateAndUnsupportedKeysAreSkipped) {
  Result<JwkSet> set = JwkSet::Parse(
      R"({"keys":[{"kty":"oct","k":"c2VjcmV0"},{"kty":"RSA","n":"AQAB","e":"AQAB"}]})");
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set->size(), 0u);  // a symmetric key; a 24-bit RSA key
  EXPECT_FALSE(JwkSet::Parse("[]").ok());
}

TEST(LocalpartTest, NormalisesToTheGrammar) {
  EXPECT_EQ(NormaliseLocalpart("Alice").value(), "alice");
  EXPECT_EQ(NormaliseLocalpart("alice.smith-2").value(), "alice.smith-2");
  EXPECT_EQ(NormaliseLocalpart("Jos\xC3\xA9 M").value(), "jos__m");
  EXPECT_EQ(NormaliseLocalpart("a@b:c").value(), "a_b_c");
  EXPECT_FALSE(NormaliseLocalpart("").has_value());
  EXPECT_FALSE(NormaliseLocalpart("\xE6\x97\xA5\xE6\x9C\xAC").has_value());  // only '_' left
  EXPECT_EQ(NormaliseLocalpart(std::string(500, 'x'))->size(), accounts::kLocalpartBytesMax);
  EXPECT_EQ(LocalpartFromClaims("preferred_username", "Bob", "x@y"), "bob");
  EXPECT_EQ(LocalpartFromClaims("preferred_username", "", "Carol.D@example.org"), "carol.d");
  EXPECT_EQ(LocalpartFromClaims("preferred_username", "", ""), "user");
}

TEST(RedirectUrlTest, AllowListAndSchemes) {
  const std::vector<std::string> none;
  EXPECT_TRUE(RedirectUrlAllowed("https://app.example.org/#/login", none));
  EXPECT_TRUE(RedirectUrlAllowed("io.element.app:/callback", none));
  EXPECT_FALSE(RedirectUrlAllowed("javascript:alert(1)", none));
  EXPECT_FALSE(RedirectUrlAllowed("https://a b", none));
  EXPECT_FALSE(RedirectUrlAllowed("", none));
  EXPECT_FALSE(RedirectUrlAllowed("no-scheme", none));
  const std::vector<std::string> list = {"https://app.example.org", "http://127.0.0.1:9/cb/"};
  EXPECT_TRUE(RedirectUrlAllowed("https://app.example.org", list));
  EXPECT_TRUE(RedirectUrlAllowed("https://app.example.org/#/home", list));
  EXPECT_TRUE(RedirectUrlAllowed("https://app.example.org?x=1", list));
  EXPECT_FALSE(RedirectUrlAllowed("https://app.example.org.evil.com/", list));
  EXPECT_FALSE(RedirectUrlAllowed("https://app.example.orgx", list));
  EXPECT_TRUE(RedirectUrlAllowed("http://127.0.0.1:9/cb/done", list));
  EXPECT_FALSE(RedirectUrlAllowed("http://127.0.0.1:9/other", list));
  EXPECT_FALSE(RedirectUrlAllowed("https://evil.example.org/", list));
}

TEST(UrlTest, AddQueryParamKeepsTheFragment) {
  EXPECT_EQ(AddQueryParam("https://a/b", "loginToken", "t+1"), "https://a/b?loginToken=t%2B1");
  EXPECT_EQ(AddQueryParam("https://a/b?x=1#/f", "loginToken", "t"),
            "https://a/b?x=1&loginToken=t#/f");
  EXPECT_EQ(HtmlEscape("<a href=\"x\">'&'</a>"),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
}

TEST(FlowCookieTest, SealedCookiesOpenOnlyUntouchedAndInTime) {
  FlowCookie c{.state = "s", .nonce = "n", .code_verifier = "v", .redirect_url = "https://a/",
               .expires_ms = 2000};
  std::string sealed = SealFlowCookie(c, "key");
  Result<FlowCookie> opened = OpenFlowCookie(sealed, "key", 1000);
  ASSERT_TRUE(opened.ok());
  EXPECT_EQ(opened->state, "s");
  EXPECT_EQ(opened->redirect_url, "https://a/");
  EXPECT_FALSE(OpenFlowCookie(sealed, "other key", 1000).ok());
  EXPECT_FALSE(OpenFlowCookie(sealed, "key", 2000).ok());  // expired
  std::string forged = sealed;
  forged[2] = forged[2] == 'a' ? 'b' : 'a';
  EXPECT_FALSE(OpenFlowCookie(forged, "key", 1000).ok());
  EXPECT_FALSE(OpenFlowCookie("garbage", "key", 1000).ok());
  EXPECT_EQ(CodeChallengeS256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");  // RFC 7636 appendix B
}

}  // namespace
}  // namespace nebu::api::sso
