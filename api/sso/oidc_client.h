// The relying-party side of OpenID Connect: discovery, the authorization URL, the
// code exchange and ID token verification against the provider's JWKS.
//
//   OidcClient oidc(settings, http);
//   Result<std::string> url = oidc.AuthorizationUrl(redirect_uri, state, nonce, challenge);
//   ... the browser comes back with ?code=&state= ...
//   Result<boost::json::object> claims =
//       oidc.Authenticate(code, verifier, redirect_uri, nonce, now_s);
//
// Discovery: {issuer}/.well-known/openid-configuration, fetched on first use and
// again after kDiscoveryTtlMs (a failed fetch is retried on the next login, not
// before kDiscoveryRetryMs); its "issuer" must equal the configured one. The JWKS
// (jwks_uri) is fetched with it and again when an ID token names a kid the cached set
// lacks (rotated keys), at most once per kJwksRefreshIntervalMs.
// Code exchange: authorization_code grant with the PKCE verifier; client
// authentication client_secret_basic, or client_secret_post when the provider lists
// only that in token_endpoint_auth_methods_supported.
//
// Errors: kUnavailable the provider is unreachable or answers garbage (a 5xx, bad
// JSON); kUnauthenticated the provider refused the code (invalid_grant: expired,
// used, or for another client) or the ID token is not acceptable (api/sso/jwt.h).
// Messages are for logs and the error page; they never contain the client secret.
// Thread-safety: every method is safe from any thread (one mutex guards the caches;
// HTTP calls are made outside it).
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "api/sso/http_client.h"
#include "api/sso/jwt.h"
#include "engine/common/status.h"

namespace nebu::api::sso {

inline constexpr int64_t kDiscoveryTtlMs = 60 * 60 * 1000;  // metadata re-read hourly
inline constexpr int64_t kDiscoveryRetryMs = 5000;          // after a failed discovery
inline constexpr int64_t kJwksRefreshIntervalMs = 1000;     // unknown-kid refreshes

struct OidcSettings {
  std::string idp_id = "oidc";  // the identity provider's id in /login and in the store
  std::string issuer;
  std::string client_id;
  std::string client_secret;  // never logged
  std::string scopes = "openid profile email";
  std::string display_name = "Single sign-on";
  std::string localpart_claim = "preferred_username";
};

struct ProviderMetadata {
  std::string authorization_endpoint;
  std::string token_endpoint;
  std::string jwks_uri;
  bool secret_post = false;  // client_secret_post instead of client_secret_basic
};

class OidcClient {
 public:
  // monotonic_ms: a monotonic clock in ms (rate limits, cache ages).
  OidcClient(OidcSettings settings, std::function<int64_t()> monotonic_ms);

  [[nodiscard]] const OidcSettings& settings() const { return settings_; }

  Result<ProviderMetadata> Metadata();
  Result<std::string> AuthorizationUrl(const std::string& redirect_uri, const std::string& state,
                                       const std::string& nonce,
                                       const std::string& code_challenge);
  // Exchanges the code and verifies the ID token; its claims.
  Result<boost::json::object> Authenticate(const std::string& code,
                                           const std::string& code_verifier,
                                           const std::string& redirect_uri,
                                           const std::string& nonce, int64_t now_s);

 private:
  Result<std::shared_ptr<const JwkSet>> Keys(const ProviderMetadata& metadata, bool refresh);
  Result<boost::json::object> VerifyWithRefresh(const ProviderMetadata& metadata,
                                                const std::string& id_token,
                                                const IdTokenExpectations& expect);

  const OidcSettings settings_;
  const std::function<int64_t()> monotonic_ms_;
  HttpClient http_;
  std::mutex mu_;
  std::optional<ProviderMetadata> metadata_;    // guarded by mu_
  int64_t metadata_at_ms_ = 0;                  // guarded by mu_
  int64_t discovery_failed_at_ms_ = -1;         // guarded by mu_; -1: no failure
  std::shared_ptr<const JwkSet> keys_;          // guarded by mu_
  int64_t keys_at_ms_ = -kJwksRefreshIntervalMs;  // guarded by mu_
};

}  // namespace nebu::api::sso
