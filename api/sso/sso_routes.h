// Single sign-on with OpenID Connect: the Matrix legacy SSO login flow (as Element and
// matrix-js-sdk use it) and the m.login.sso stage of User-Interactive Auth.
//
//   GET /_matrix/client/{v3,r0}/login/sso/redirect[/{idpId}]?redirectUrl=
//       302 to the provider's authorization endpoint (code flow, PKCE S256, state and
//       nonce), with the flow cookie (kFlowCookieName: sealed, HttpOnly, SameSite=Lax,
//       Secure under an https base URL, Path kCallbackPath, kFlowLifetimeMs).
//       400 M_MISSING_PARAM without redirectUrl; 400 M_INVALID_PARAM when redirectUrl
//       is not allowed (sso_util.h RedirectUrlAllowed, the client allow-list);
//       404 M_NOT_FOUND for another idpId; 502 M_UNKNOWN when discovery fails.
//   GET kCallbackPath?code=&state=   (the provider's redirect URI:
//       {public_base_url}/_nebu/sso/callback)
//       Checks the cookie and state, exchanges the code, verifies the ID token, then
//       proposes one kExternalId command that maps the subject to its user (or
//       registers one: engine/accounts/external_ids.h) and stores a single-use login
//       token; answers the confirmation page, whose link goes to the client's
//       redirectUrl with loginToken=... (the client then POSTs /login m.login.token).
//       Every failure is an HTML error page with its Matrix errcode, logged once:
//       400 M_MISSING_PARAM, 403 M_FORBIDDEN (bad/missing session or state, the
//       provider refused, the ID token is not acceptable, the account is deactivated
//       or locked), 502 M_UNKNOWN (the provider is unreachable), 429 when busy.
//   GET /_matrix/client/v3/auth/m.login.sso/fallback/web?session=
//       the UIA fallback page: a link through the provider (the same callback); once
//       the provider confirms the account the session is marked done for that user
//       (UiaSsoRegistry) and the page tells the client to continue.
//
// Work: provider round trips run on a pool of kSsoThreads threads (queue kSsoQueueMax;
// beyond it 429). Thread-safety: handlers are safe from any thread; the engine must
// outlive the router.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "api/router.h"
#include "api/sso/oidc_client.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

inline constexpr std::string_view kSsoCallbackPath = "/_nebu/sso/callback";
inline constexpr std::string_view kSsoFlowCookieName = "nebu_sso";
inline constexpr int64_t kSsoFlowLifetimeMs = 10 * 60 * 1000;  // redirect -> callback
inline constexpr size_t kSsoThreads = 2;
inline constexpr size_t kSsoQueueMax = 64;
// How long a UIA session confirmed through the provider stays usable, and how many
// such sessions one node remembers (the oldest are dropped beyond it).
inline constexpr int64_t kUiaSsoLifetimeMs = 10 * 60 * 1000;
inline constexpr size_t kUiaSsoSessionsMax = 10000;

struct SsoConfig {
  sso::OidcSettings oidc;     // issuer empty: single sign-on is off
  std::string public_base_url;  // the callback's base (NEBU_PUBLIC_BASEURL)
  std::vector<std::string> client_allow_list;  // NEBU_SSO_CLIENT_WHITELIST; empty: any
  [[nodiscard]] bool enabled() const { return !oidc.issuer.empty(); }
};

// UIA sessions completed with m.login.sso on this node (memory; sessions are
// per node, so in a cluster the client must finish on the node that confirmed).
class UiaSsoRegistry {
 public:
  void Complete(const std::string& session, const std::string& user_id, int64_t now_ms);
  // True when `session` was confirmed for user_id within kUiaSsoLifetimeMs; it is
  // consumed (single use).
  bool Consume(const std::string& session, const std::string& user_id, int64_t now_ms);

 private:
  struct Entry {
    std::string user_id;
    int64_t at_ms;
  };
  std::mutex mu_;
  std::unordered_map<std::string, Entry> sessions_;  // guarded by mu_
};

// The process-wide registry (the account routes' UIA reads it), and whether
// AddSsoRoutes mounted single sign-on in this process (the UIA offers m.login.sso).
UiaSsoRegistry& SsoUiaSessions();
bool SsoUiaEnabled();

void AddSsoRoutes(Router& router, core::Engine& engine, const SsoConfig& config);

}  // namespace nebu::api
