// Session endpoints of api/accounts/account_routes.h: refresh tokens, login tokens
// (m.login.token), OpenID tokens and the registration token validity check.
//
//   POST /_matrix/client/v3/refresh                       {refresh_token} -> new pair
//   POST /_matrix/client/v1/login/get_token               UIA m.login.password (rate:
//        the password-check bucket); m.login.token logins take the new-device bucket
//   POST /_matrix/client/v3/user/{userId}/openid/request_token   yourself only; per-user
//        rate limit: the account-data bucket (api/rate_limit.h kAccountDataRateLimit)
//   GET  /_matrix/federation/v1/openid/userinfo?access_token=    {sub}; the one
//        federation route nebu serves, on the client listener
//   GET  /_matrix/client/v1/register/m.login.registration_token/validity?token=
//
// Every token is made on this node (random), carried hashed in a replicated command
// and answered once that command applied.
#include <boost/json/object.hpp>

#include "api/accounts/account_common.h"
#include "api/errors.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"

namespace nebu::api::account_internal {
namespace {

using boost::json::object;

Response SessionSoftLogout(std::string_view errcode, std::string_view message) {
  return JsonResponse(
      401, object{{"errcode", errcode}, {"error", message}, {"soft_logout", true}});
}

// POST /refresh. The refresh token presented names the device; the command checks it
// is still that device's (or the one it replaced, never used since) when it applies.
void Refresh(Context* context, const Request& request, Respond respond) {
  auto parsed = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&parsed)) return respond(std::move(*error));
  Response error;
  std::optional<std::string> refresh_token;
  if (!ReadString(std::get<object>(parsed), "refresh_token", &refresh_token, &error)) {
    return respond(std::move(error));
  }
  if (!refresh_token) return respond(MissingParam("refresh_token"));
  const auto unknown = [] {
    return ErrorResponse(401, "M_UNKNOWN_TOKEN", "Unknown or already used refresh token");
  };
  Result<accounts::TokenOwner> owner =
      accounts::RefreshTokenOwner(context->engine.Read(), *refresh_token);
  if (!owner.ok()) {
    if (owner.status().code() == StatusCode::kUnauthenticated) return respond(unknown());
    return respond(ErrorResponse(owner.status()));
  }
  Result<accounts::User> user = accounts::GetUser(context->engine.Read(), owner->user_id);
  if (user.ok() && user->locked) {
    return respond(SessionSoftLogout("M_USER_LOCKED", "This account has been locked"));
  }
  Result<accounts::Prepared> prepared = accounts::PrepareRefresh(
      owner->user_id, owner->device_id, *refresh_token, context->config.access_token_lifetime_ms,
      context->engine.clock().NowUnixMs());
  if (!prepared.ok()) return respond(ErrorResponse(prepared.status()));
  object body{{"access_token", *prepared->access_token},
              {"refresh_token", *prepared->refresh_token},
              {"expires_in_ms", *prepared->expires_in_ms}};
  SubmitCommand(context->engine, prepared->command,
                [respond, body = std::move(body), unknown](core::ApplyOutcome outcome) {
                  if (outcome.ok()) return respond(JsonResponse(200, body));
                  if (outcome.status().code() == StatusCode::kUnauthenticated) {
                    return respond(unknown());
                  }
                  respond(ErrorResponse(outcome.status()));
                });
}

// POST /login/get_token: password UIA (the spec lets servers pick the stages), then a
// login token for kLoginTokenLifetimeMs.
void GetLoginToken(Context* context, const Request& request, Respond respond) {
  auto parsed = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&parsed)) return respond(std::move(*error));
  auto caller = Authenticate(request, context->engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(std::move(*error));
  const Caller& who = std::get<Caller>(caller);
  Response answer;
  std::optional<std::string> password =
      UiaPassword(std::get<object>(parsed), who, context->server_name(), &answer);
  if (!password) return respond(std::move(answer));
  VerifyThen(context, who.user_id, *password, respond, [context, respond, user_id = who.user_id] {
    std::string token = accounts::NewToken(accounts::kLoginTokenPrefix);
    accounts::CreateLoginTokenCommand command{
        .user_id = user_id,
        .token_hash = accounts::TokenHash(token),
        .expires_ms = context->engine.clock().NowUnixMs() + accounts::kLoginTokenLifetimeMs};
    SubmitAndAnswer(context->engine, command, respond,
                    object{{"login_token", token},
                           {"expires_in_ms", accounts::kLoginTokenLifetimeMs}});
  });
}

// POST /user/{userId}/openid/request_token: an OpenID token for the caller only.
void RequestOpenIdToken(Context* context, const Request& request, const PathParams& params,
                        Respond respond) {
  auto caller = AuthenticateOwner(request, context->engine, params.at("userId"),
                                  "Cannot request an OpenID token for another user");
  if (auto* error = std::get_if<Response>(&caller)) return respond(std::move(*error));
  // Each token is a stored record until it is pruned (never, yet): the per-user
  // account-data bucket (kAccountDataRateLimit) bounds how fast a user can add them.
  if (auto limited = Limited(context->limits->account_data, std::get<Caller>(caller).user_id,
                             context->MonotonicMs())) {
    return respond(std::move(*limited));
  }
  std::string token = accounts::NewToken(accounts::kOpenIdTokenPrefix);
  accounts::CreateOpenIdTokenCommand command{
      .user_id = std::get<Caller>(caller).user_id,
      .token_hash = accounts::TokenHash(token),
      .expires_ms = context->engine.clock().NowUnixMs() + accounts::kOpenIdTokenLifetimeMs};
  SubmitAndAnswer(context->engine, command, respond,
                  object{{"access_token", token},
                         {"token_type", "Bearer"},
                         {"matrix_server_name", context->server_name()},
                         {"expires_in", accounts::kOpenIdTokenLifetimeMs / 1000}});
}

// GET /_matrix/federation/v1/openid/userinfo: {sub} for a valid OpenID token.
Response OpenIdUserInfo(Context& context, const Request& request) {
  std::optional<std::string_view> token = request.Query("access_token");
  if (!token || token->empty()) {
    return ErrorResponse(401, "M_MISSING_TOKEN", "Missing access_token");
  }
  Result<std::string> user_id = accounts::OpenIdTokenOwner(context.engine.Read(), *token,
                                                           context.engine.clock().NowUnixMs());
  if (!user_id.ok()) {
    if (user_id.status().code() == StatusCode::kUnauthenticated) {
      return ErrorResponse(401, "M_UNKNOWN_TOKEN", "Unknown or expired OpenID token");
    }
    return ErrorResponse(user_id.status());
  }
  return JsonResponse(200, object{{"sub", *user_id}});
}

// GET /register/m.login.registration_token/validity, rate-limited as /register.
Response RegistrationTokenValidity(Context& context, const Request& request) {
  if (!context.config.registration_requires_token) {
    return ErrorResponse(403, "M_FORBIDDEN", "Registration with a token is not enabled");
  }
  std::optional<std::string_view> token = request.Query("token");
  if (!token) return MissingParam("token");
  int64_t wait_ms = context.register_limiter.Acquire(RemoteIp(request), context.MonotonicMs());
  if (wait_ms > 0) return RateLimitedResponse(wait_ms);
  Result<bool> valid = accounts::RegistrationTokenValid(context.engine.Read(), *token,
                                                        context.engine.clock().NowUnixMs());
  if (!valid.ok()) return ErrorResponse(valid.status());
  return JsonResponse(200, object{{"valid", *valid}});
}

}  // namespace

void AddSessionRoutes(Router& router, const ContextPtr& context) {
  router.AddAsync("POST", "/_matrix/client/v3/refresh",
                  [context](const Request& request, const PathParams&, Respond respond) {
                    Refresh(context.get(), request, std::move(respond));
                  });
  router.AddAsync("POST", "/_matrix/client/v1/login/get_token",
                  [context](const Request& request, const PathParams&, Respond respond) {
                    GetLoginToken(context.get(), request, std::move(respond));
                  });
  AddBothAsync(router, "POST", "/user/{userId}/openid/request_token",
               [context](const Request& request, const PathParams& params, Respond respond) {
                 RequestOpenIdToken(context.get(), request, params, std::move(respond));
               });
  router.Add("GET", "/_matrix/federation/v1/openid/userinfo",
             [context](const Request& request, const PathParams&) {
               return OpenIdUserInfo(*context, request);
             });
  router.Add("GET", "/_matrix/client/v1/register/m.login.registration_token/validity",
             [context](const Request& request, const PathParams&) {
               return RegistrationTokenValidity(*context, request);
             });
}

}  // namespace nebu::api::account_internal
