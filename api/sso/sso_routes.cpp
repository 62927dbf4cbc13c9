// api/sso/sso_routes.h: the SSO redirect, the provider's callback, the UIA fallback.
#include "api/sso/sso_routes.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include "api/errors.h"
#include "api/rate_limit.h"
#include "api/sso/pages.h"
#include "api/sso/sso_util.h"
#include "api/worker_pool.h"
#include "engine/accounts/accounts.h"
#include "engine/accounts/external_ids.h"
#include "engine/core/engine.h"

namespace nebu::api {
namespace {

namespace json = boost::json;
using sso::FlowCookie;

constexpr size_t kRandomBytes = 32;  // state, nonce, PKCE verifier: 256 bits each

struct SsoContext {
  SsoContext(core::Engine& engine_ref, const SsoConfig& config_value)
      : engine(engine_ref),
        config(config_value),
        oidc(config_value.oidc,
             [&clock = engine_ref.clock()] { return clock.NowMonotonicNs() / 1'000'000; }),
        cookie_key(sso::HmacSha256("nebu sso flow cookie", config_value.oidc.client_secret +
                                                               "\n" + config_value.oidc.issuer)),
        pool({.threads = kSsoThreads, .queue_max = kSsoQueueMax}) {}

  [[nodiscard]] std::string RedirectUri() const {
    std::string base = config.public_base_url;
    while (!base.empty() && base.back() == '/') base.pop_back();
    return base + std::string(kSsoCallbackPath);
  }
  [[nodiscard]] bool SecureCookie() const { return config.public_base_url.starts_with("https://"); }

  core::Engine& engine;
  const SsoConfig config;
  sso::OidcClient oidc;
  const std::string cookie_key;
  WorkerPool pool;  // last: destroyed first, finishing its queue
};
using ContextPtr = std::shared_ptr<SsoContext>;

std::string FlowCookieHeader(const SsoContext& context, std::string_view value, int64_t max_age_s) {
  std::string header = std::string(kSsoFlowCookieName) + "=" + std::string(value) +
                       "; Path=" + std::string(kSsoCallbackPath) +
                       "; Max-Age=" + std::to_string(max_age_s) + "; HttpOnly; SameSite=Lax";
  if (context.SecureCookie()) header += "; Secure";
  return header;
}

std::optional<std::string> CookieValue(const Request& request, std::string_view name) {
  for (const auto& [field, value] : request.headers.fields()) {
    if (field.size() != 6 || strncasecmp(field.c_str(), "cookie", 6) != 0) continue;
    std::string_view rest = value;
    while (!rest.empty()) {
      const size_t semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      while (pair.starts_with(' ')) pair.remove_prefix(1);
      if (pair.starts_with(name) && pair.size() > name.size() && pair[name.size()] == '=') {
        return std::string(pair.substr(name.size() + 1));
      }
      if (semi == std::string_view::npos) break;
      rest.remove_prefix(semi + 1);
    }
  }
  return std::nullopt;
}

// Starts a flow: the cookie and the 302 to the provider (on the pool: discovery may
// fetch).
void StartFlow(SsoContext* context, FlowCookie flow, Respond respond) {
  flow.state = sso::RandomToken(kRandomBytes);
  flow.nonce = sso::RandomToken(kRandomBytes);
  flow.code_verifier = sso::RandomToken(kRandomBytes);
  flow.expires_ms = context->engine.clock().NowUnixMs() + kSsoFlowLifetimeMs;
  const bool posted = context->pool.Post([context, flow, respond] {
    Result<std::string> url = context->oidc.AuthorizationUrl(
        context->RedirectUri(), flow.state, flow.nonce, sso::CodeChallengeS256(flow.code_verifier));
    if (!url.ok()) {
      spdlog::warn("sso: cannot start a login: {}", url.status().message());
      return respond(ErrorResponse(502, "M_UNKNOWN", "The identity provider is unavailable"));
    }
    Response response;
    response.status = 302;
    response.headers.Set("Location", *url);
    response.headers.Set("Cache-Control", "no-store");
    response.headers.Add("Set-Cookie",
                         FlowCookieHeader(*context, sso::SealFlowCookie(flow, context->cookie_key),
                                          kSsoFlowLifetimeMs / 1000));
    respond(std::move(response));
  });
  if (!posted) respond(RateLimitedResponse(1000));
}

void Redirect(SsoContext* context, const Request& request, const PathParams& params,
              Respond respond) {
  if (auto idp = params.find("idpId"); idp != params.end() &&
                                       idp->second != context->config.oidc.idp_id) {
    return respond(ErrorResponse(404, "M_NOT_FOUND", "Unknown identity provider"));
  }
  std::optional<std::string_view> redirect_url = request.Query("redirectUrl");
  if (!redirect_url) {
    return respond(ErrorResponse(400, "M_MISSING_PARAM", "Missing redirectUrl"));
  }
  if (!sso::RedirectUrlAllowed(*redirect_url, context->config.client_allow_list)) {
    return respond(ErrorResponse(400, "M_INVALID_PARAM",
                                 "redirectUrl is not an allowed client URL"));
  }
  StartFlow(context, FlowCookie{.redirect_url = std::string(*redirect_url)}, std::move(respond));
}

// The failure page of the callback, logged once.
Response SsoFailure(int status, std::string_view errcode, std::string_view message,
                    std::string_view log_detail) {
  spdlog::warn("sso: login refused ({} {}): {}", status, errcode, log_detail);
  Response response = sso::ErrorPage(status, errcode, message);
  return response;
}

// The claims as an sso_login command (a fresh login token in *token).
Result<accounts::SsoLoginCommand> LoginCommand(const SsoContext& context, const json::object& claims,
                                               std::string* token) {
  auto text = [&claims](std::string_view key) -> std::string {
    const json::value* v = claims.if_contains(key);
    return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
  };
  const std::string& claim = context.config.oidc.localpart_claim;
  accounts::SsoLoginCommand c;
  c.idp_id = context.config.oidc.idp_id;
  c.subject = text("sub");
  c.localpart = sso::LocalpartFromClaims(claim, text(claim), text("email"));
  c.server_name = context.engine.server_name();
  std::string name = text("name");
  if (name.empty()) name = text(claim);
  if (!name.empty() && name.size() <= accounts::kDisplayNameBytesMax) c.displayname = name;
  c.ts = context.engine.clock().NowUnixMs();
  *token = accounts::NewToken(accounts::kLoginTokenPrefix);
  c.login_token_hash = accounts::TokenHash(*token);
  c.login_token_expires_ms = c.ts + accounts::kLoginTokenLifetimeMs;
  NEBU_RETURN_IF_ERROR(accounts::ValidateSsoLoginCommand(c));
  return c;
}

Response Finish(SsoContext* context, const FlowCookie& flow, const std::string& token,
                const std::string& user_id, bool created) {
  spdlog::info("sso: {} {} through {}", user_id, created ? "registered" : "signed in",
               context->config.oidc.idp_id);
  Response page = sso::ConfirmPage(user_id, flow.redirect_url,
                                   sso::AddQueryParam(flow.redirect_url, "loginToken", token));
  page.headers.Add("Set-Cookie", FlowCookieHeader(*context, "", 0));
  return page;
}

// UIA: the provider confirmed a subject; the session is done for the user it is
// linked to (nothing is registered here; an unlinked subject confirms nobody).
Response ConfirmUia(SsoContext* context, const FlowCookie& flow, const json::object& claims) {
  const json::value* sub = claims.if_contains("sub");
  Result<std::optional<std::string>> owner =
      sub != nullptr && sub->is_string()
          ? accounts::ExternalIdOwner(context->engine.Read(), context->config.oidc.idp_id,
                                      std::string(sub->as_string()))
          : Result<std::optional<std::string>>(std::nullopt);
  if (!owner.ok())
    return SsoFailure(500, "M_UNKNOWN", "Internal error.", owner.status().ToString());
  if (!*owner) {
    return SsoFailure(403, "M_FORBIDDEN", "This identity is not linked to any account.",
                      "UIA with an unlinked subject");
  }
  SsoUiaSessions().Complete(flow.uia_session, **owner, context->engine.clock().NowUnixMs());
  Response page = sso::UiaDonePage();
  page.headers.Add("Set-Cookie", FlowCookieHeader(*context, "", 0));
  return page;
}

// After the provider: the code exchange and the command (on the pool).
void Complete(SsoContext* context, FlowCookie flow, std::string code, Respond respond) {
  const int64_t now_s = context->engine.clock().NowUnixMs() / 1000;
  Result<json::object> claims = context->oidc.Authenticate(code, flow.code_verifier,
                                                           context->RedirectUri(), flow.nonce, now_s);
  if (!claims.ok()) {
    if (claims.status().code() == StatusCode::kUnavailable) {
      return respond(SsoFailure(502, "M_UNKNOWN", "The identity provider could not be reached.",
                                claims.status().message()));
    }
    return respond(SsoFailure(403, "M_FORBIDDEN",
                              "The identity provider's answer was not accepted.",
                              claims.status().message()));
  }
  if (!flow.uia_session.empty()) return respond(ConfirmUia(context, flow, *claims));
  std::string token;
  Result<accounts::SsoLoginCommand> command = LoginCommand(*context, *claims, &token);
  if (!command.ok()) {
    return respond(SsoFailure(403, "M_FORBIDDEN",
                              "The identity provider's answer was not accepted.",
                              command.status().message()));
  }
  Result<std::string> payload = accounts::EncodeSsoLoginCommand(*command);
  if (!payload.ok()) {
    return respond(SsoFailure(500, "M_UNKNOWN", "Internal error.", payload.status().message()));
  }
  context->engine.SubmitAsync(
      {.kind = core::CommandKind::kExternalId, .payload = std::move(*payload)},
      [context, flow, token, respond](core::ApplyOutcome outcome) {
        if (!outcome.ok()) {
          if (outcome.status().code() == StatusCode::kForbidden) {
            return respond(SsoFailure(403, "M_USER_DEACTIVATED",
                                      "This account cannot sign in: " + outcome.status().message(),
                                      outcome.status().message()));
          }
          return respond(SsoFailure(500, "M_UNKNOWN", "The account could not be set up.",
                                    outcome.status().ToString()));
        }
        boost::system::error_code ec;
        json::value v = json::parse(*outcome, ec);
        if (ec || !v.is_object() || !v.as_object().contains("user_id")) {
          return respond(SsoFailure(500, "M_UNKNOWN", "Internal error.", "bad outcome"));
        }
        const std::string user_id(v.as_object().at("user_id").as_string());
        const bool created = v.as_object().at("created").as_bool();
        respond(Finish(context, flow, token, user_id, created));
      });
}

void Callback(SsoContext* context, const Request& request, Respond respond) {
  if (auto error = request.Query("error")) {
    // The provider's redirect is form-encoded (RFC 6749 4.1.2.1): '+' is a space.
    std::string detail(*error);
    if (auto description = request.Query("error_description")) detail += ": " + std::string(*description);
    std::replace(detail.begin(), detail.end(), '+', ' ');
    return respond(SsoFailure(403, "M_FORBIDDEN",
                              "The identity provider refused the login: " + detail,
                              "provider error " + detail));
  }
  std::optional<std::string_view> code = request.Query("code"), state = request.Query("state");
  if (!code || !state) {
    return respond(SsoFailure(400, "M_MISSING_PARAM", "The provider's answer lacks code or state.",
                              "callback without code or state"));
  }
  std::optional<std::string> sealed = CookieValue(request, kSsoFlowCookieName);
  Result<FlowCookie> flow = sealed ? sso::OpenFlowCookie(*sealed, context->cookie_key,
                                                         context->engine.clock().NowUnixMs())
                                   : Result<FlowCookie>(Status::Unauthenticated(
                                         "no single sign-on session cookie: start the login again"));
  if (!flow.ok()) {
    return respond(
        SsoFailure(403, "M_FORBIDDEN", flow.status().message(), flow.status().message()));
  }
  if (flow->state != *state) {
    return respond(SsoFailure(403, "M_FORBIDDEN",
                              "The login's state does not match this browser's session: start the "
                              "login again.",
                              "state mismatch"));
  }
  const bool posted = context->pool.Post(
      [context, flow = std::move(*flow), code = std::string(*code), respond]() mutable {
        Complete(context, std::move(flow), std::move(code), std::move(respond));
      });
  if (!posted) respond(RateLimitedResponse(1000));
}

// GET /auth/m.login.sso/fallback/web?session=: the page that starts the confirmation.
Response UiaFallback(const Request& request) {
  std::optional<std::string_view> session = request.Query("session");
  if (!session || session->empty()) return ErrorResponse(400, "M_MISSING_PARAM", "Missing session");
  return sso::UiaStartPage(std::string(*session));
}

void UiaStart(SsoContext* context, const Request& request, Respond respond) {
  std::optional<std::string_view> session = request.Query("session");
  if (!session || session->empty() || session->size() > 128) {
    return respond(ErrorResponse(400, "M_MISSING_PARAM", "Missing session"));
  }
  StartFlow(context, FlowCookie{.uia_session = std::string(*session)}, std::move(respond));
}

}  // namespace

void UiaSsoRegistry::Complete(const std::string& session, const std::string& user_id,
                              int64_t now_ms) {
  std::lock_guard lock(mu_);
  if (sessions_.size() >= kUiaSsoSessionsMax) {
    for (auto it = sessions_.begin(); it != sessions_.end();) {
      it = now_ms - it->second.at_ms >= kUiaSsoLifetimeMs ? sessions_.erase(it) : std::next(it);
    }
    if (sessions_.size() >= kUiaSsoSessionsMax) sessions_.erase(sessions_.begin());
  }
  sessions_[session] = {user_id, now_ms};
}

bool UiaSsoRegistry::Consume(const std::string& session, const std::string& user_id,
                             int64_t now_ms) {
  std::lock_guard lock(mu_);
  auto it = sessions_.find(session);
  if (it == sessions_.end() || it->second.user_id != user_id ||
      now_ms - it->second.at_ms >= kUiaSsoLifetimeMs) {
    return false;
  }
  sessions_.erase(it);
  return true;
}

namespace {
std::atomic<bool> sso_uia_enabled{false};
}  // namespace

bool SsoUiaEnabled() { return sso_uia_enabled.load(std::memory_order_relaxed); }

UiaSsoRegistry& SsoUiaSessions() {
  static UiaSsoRegistry* registry = new UiaSsoRegistry();  // never destroyed
  return *registry;
}

void AddSsoRoutes(Router& router, core::Engine& engine, const SsoConfig& config) {
  if (!config.enabled()) return;
  sso_uia_enabled = true;
  auto context = std::make_shared<SsoContext>(engine, config);
  // What the operator registers at the provider (the secret is never logged).
  spdlog::info("sso: OpenID Connect issuer {}, client {}, redirect URI {}, scopes \"{}\"",
               config.oidc.issuer, config.oidc.client_id, context->RedirectUri(),
               config.oidc.scopes);
  for (std::string_view version : {"v3", "r0"}) {
    const std::string base = "/_matrix/client/" + std::string(version) + "/login/sso/redirect";
    auto redirect = [context](const Request& request, const PathParams& params, Respond respond) {
      Redirect(context.get(), request, params, std::move(respond));
    };
    router.AddAsync("GET", base, redirect);
    router.AddAsync("GET", base + "/{idpId}", redirect);
  }
  router.AddAsync("GET", kSsoCallbackPath,
                  [context](const Request& request, const PathParams&, Respond respond) {
                    Callback(context.get(), request, std::move(respond));
                  });
  router.Add("GET", "/_matrix/client/v3/auth/m.login.sso/fallback/web",
             [](const Request& request, const PathParams&) { return UiaFallback(request); });
  router.AddAsync("GET", "/_nebu/sso/uia",
                  [context](const Request& request, const PathParams&, Respond respond) {
                    UiaStart(context.get(), request, std::move(respond));
                  });
}

}  // namespace nebu::api
