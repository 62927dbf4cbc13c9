// api/sso/oidc_client.h.
#include "api/sso/oidc_client.h"

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "api/sso/sso_util.h"

namespace nebu::api::sso {
namespace {

namespace json = boost::json;

Result<json::object> JsonObject(const Result<HttpReply>& reply, std::string_view what) {
  if (!reply.ok()) return Status::Unavailable(std::string(what) + ": " + reply.status().message());
  boost::system::error_code ec;
  json::value v = json::parse(reply->body, ec);
  if (ec || !v.is_object()) {
    return Status::Unavailable(std::string(what) + ": HTTP " + std::to_string(reply->status) +
                               ", not a JSON object");
  }
  return std::move(v.as_object());
}

std::string OidcField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

std::string DiscoveryUrl(std::string issuer) {
  while (!issuer.empty() && issuer.back() == '/') issuer.pop_back();
  return issuer + "/.well-known/openid-configuration";
}

bool OnlySecretPost(const json::object& metadata) {
  const json::value* methods = metadata.if_contains("token_endpoint_auth_methods_supported");
  if (methods == nullptr || !methods->is_array()) return false;  // default: client_secret_basic
  bool basic = false, post = false;
  for (const json::value& m : methods->as_array()) {
    if (!m.is_string()) continue;
    basic = basic || m.as_string() == "client_secret_basic";
    post = post || m.as_string() == "client_secret_post";
  }
  return post && !basic;
}

}  // namespace

OidcClient::OidcClient(OidcSettings settings, std::function<int64_t()> monotonic_ms)
    : settings_(std::move(settings)), monotonic_ms_(std::move(monotonic_ms)), http_({}) {}

Result<ProviderMetadata> OidcClient::Metadata() {
  const int64_t now = monotonic_ms_();
  {
    std::lock_guard lock(mu_);
    if (metadata_ && now - metadata_at_ms_ < kDiscoveryTtlMs) return *metadata_;
    if (discovery_failed_at_ms_ >= 0 && now - discovery_failed_at_ms_ < kDiscoveryRetryMs) {
      if (metadata_) return *metadata_;
      return Status::Unavailable("OpenID discovery failed recently; retrying shortly");
    }
  }
  Result<json::object> doc =
      JsonObject(http_.Get(DiscoveryUrl(settings_.issuer)), "OpenID discovery");
  ProviderMetadata m;
  Status status = doc.status();
  if (doc.ok()) {
    m.authorization_endpoint = OidcField(*doc, "authorization_endpoint");
    m.token_endpoint = OidcField(*doc, "token_endpoint");
    m.jwks_uri = OidcField(*doc, "jwks_uri");
    m.secret_post = OnlySecretPost(*doc);
    if (OidcField(*doc, "issuer") != settings_.issuer) {
      status = Status::Unavailable("OpenID discovery: issuer " + OidcField(*doc, "issuer") +
                                   " is not the configured " + settings_.issuer);
    } else if (m.authorization_endpoint.empty() || m.token_endpoint.empty() || m.jwks_uri.empty()) {
      status = Status::Unavailable("OpenID discovery: an endpoint is missing");
    }
  }
  std::lock_guard lock(mu_);
  if (!status.ok()) {
    discovery_failed_at_ms_ = now;
    if (metadata_) return *metadata_;  // keep serving the last good metadata
    return status;
  }
  metadata_ = m;
  metadata_at_ms_ = now;
  discovery_failed_at_ms_ = -1;
  return m;
}

Result<std::string> OidcClient::AuthorizationUrl(const std::string& redirect_uri,
                                                 const std::string& state,
                                                 const std::string& nonce,
                                                 const std::string& code_challenge) {
  NEBU_ASSIGN_OR_RETURN(ProviderMetadata m, Metadata());
  std::string url = m.authorization_endpoint;
  url = AddQueryParam(url, "response_type", "code");
  url = AddQueryParam(url, "client_id", settings_.client_id);
  url = AddQueryParam(url, "redirect_uri", redirect_uri);
  url = AddQueryParam(url, "scope", settings_.scopes);
  url = AddQueryParam(url, "state", state);
  url = AddQueryParam(url, "nonce", nonce);
  url = AddQueryParam(url, "code_challenge", code_challenge);
  url = AddQueryParam(url, "code_challenge_method", "S256");
  return url;
}

Result<std::shared_ptr<const JwkSet>> OidcClient::Keys(const ProviderMetadata& metadata,
                                                       bool refresh) {
  const int64_t now = monotonic_ms_();
  {
    std::lock_guard lock(mu_);
    if (keys_ && !refresh) return keys_;
    if (keys_ && now - keys_at_ms_ < kJwksRefreshIntervalMs) return keys_;  // rate limit
    keys_at_ms_ = now;
  }
  Result<HttpReply> reply = http_.Get(metadata.jwks_uri);
  if (!reply.ok()) return Status::Unavailable("JWKS: " + reply.status().message());
  Result<JwkSet> parsed = JwkSet::Parse(reply->body);
  if (!parsed.ok()) return Status::Unavailable("JWKS: " + parsed.status().message());
  auto keys = std::make_shared<const JwkSet>(std::move(*parsed));
  std::lock_guard lock(mu_);
  keys_ = keys;
  return keys;
}

Result<json::object> OidcClient::VerifyWithRefresh(const ProviderMetadata& metadata,
                                                   const std::string& id_token,
                                                   const IdTokenExpectations& expect) {
  NEBU_ASSIGN_OR_RETURN(std::shared_ptr<const JwkSet> keys, Keys(metadata, false));
  Result<json::object> claims = VerifyIdToken(id_token, *keys, expect);
  if (claims.ok() || claims.status().code() != StatusCode::kNotFound) return claims;
  NEBU_ASSIGN_OR_RETURN(keys, Keys(metadata, true));  // rotated keys: one refresh
  claims = VerifyIdToken(id_token, *keys, expect);
  if (!claims.ok() && claims.status().code() == StatusCode::kNotFound) {
    return Status::Unauthenticated("ID token: signed with a key the provider does not publish");
  }
  return claims;
}

Result<json::object> OidcClient::Authenticate(const std::string& code,
                                              const std::string& code_verifier,
                                              const std::string& redirect_uri,
                                              const std::string& nonce, int64_t now_s) {
  NEBU_ASSIGN_OR_RETURN(ProviderMetadata m, Metadata());
  std::string form = "grant_type=authorization_code&code=" + FormEncode(code) +
                     "&redirect_uri=" + FormEncode(redirect_uri) +
                     "&code_verifier=" + FormEncode(code_verifier);
  HttpHeaders headers;
  if (m.secret_post) {
    form += "&client_id=" + FormEncode(settings_.client_id) +
            "&client_secret=" + FormEncode(settings_.client_secret);
  } else {
    // RFC 6749 2.3.1: the id and secret are form-encoded before base64.
    std::string credentials = FormEncode(settings_.client_id) + ":" +
                              FormEncode(settings_.client_secret);
    static constexpr char kB64[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string b64;
    for (size_t i = 0; i < credentials.size(); i += 3) {
      uint32_t v = uint8_t(credentials[i]) << 16;
      if (i + 1 < credentials.size()) v |= uint8_t(credentials[i + 1]) << 8;
      if (i + 2 < credentials.size()) v |= uint8_t(credentials[i + 2]);
      b64 += kB64[(v >> 18) & 63];
      b64 += kB64[(v >> 12) & 63];
      b64 += i + 1 < credentials.size() ? kB64[(v >> 6) & 63] : '=';
      b64 += i + 2 < credentials.size() ? kB64[v & 63] : '=';
    }
    headers.emplace_back("Authorization", "Basic " + b64);
  }
  Result<HttpReply> reply = http_.PostForm(m.token_endpoint, form, headers);
  NEBU_ASSIGN_OR_RETURN(json::object body, JsonObject(reply, "token endpoint"));
  if (reply->status != 200) {
    std::string error = OidcField(body, "error");
    if (reply->status >= 500 || error.empty()) {
      return Status::Unavailable("token endpoint: HTTP " + std::to_string(reply->status));
    }
    std::string description = OidcField(body, "error_description");
    return Status::Unauthenticated("the provider refused the authorization code: " + error +
                                   (description.empty() ? "" : " (" + description + ")"));
  }
  std::string id_token = OidcField(body, "id_token");
  if (id_token.empty()) return Status::Unauthenticated("token endpoint: no id_token");
  return VerifyWithRefresh(m, id_token,
                           {.issuer = settings_.issuer,
                            .client_id = settings_.client_id,
                            .nonce = nonce,
                            .now_s = now_s});
}

}  // namespace nebu::api::sso
