#include "api/accounts/account_routes.h"

#include <spdlog/spdlog.h>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <atomic>

#include "api/accounts/account_common.h"
#include "api/errors.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "engine/core/room_applier.h"
#include "engine/rooms/room_state.h"

namespace nebu::api {
namespace account_internal {
namespace {

using boost::json::object;

constexpr std::string_view kDummyStage = "m.login.dummy";
constexpr std::string_view kTokenStage = "m.login.registration_token";
constexpr std::string_view kPasswordType = "m.login.password";
constexpr std::string_view kLoginTokenType = "m.login.token";

// The lifetime of the access token of a login or registration that asked for a refresh
// token (refresh_token: true), or nullopt. false with *error for a non-boolean.
bool RefreshLifetime(const Context& context, const object& body, std::optional<int64_t>* out,
                     Response* error) {
  std::optional<bool> refresh;
  if (!ReadBool(body, "refresh_token", &refresh, error)) return false;
  if (refresh.value_or(false)) *out = context.config.access_token_lifetime_ms;
  return true;
}

// ---- registration ----

// The fields of a /register body, read and checked before any hashing.
struct RegisterBody {
  accounts::RegistrationRequest request;
  bool has_auth = false;
};

// Checks the username (or generates one): 400 M_INVALID_USERNAME / M_USER_IN_USE.
std::optional<std::string> RegisterUserId(Context& context, const std::optional<std::string>& name,
                                          Response* error) {
  std::string localpart = name ? Lowercase(*name) : Lowercase(accounts::NewDeviceId());
  Result<std::string> user_id = accounts::NewUserId(localpart, context.server_name());
  if (!user_id.ok()) {
    *error = ErrorResponse(400, "M_INVALID_USERNAME", user_id.status().message());
    return std::nullopt;
  }
  Result<bool> exists = accounts::UserExists(context.engine.Read(), *user_id);
  if (!exists.ok()) {
    *error = ErrorResponse(exists.status());
    return std::nullopt;
  }
  if (*exists) {
    *error = ErrorResponse(400, "M_USER_IN_USE", "User ID already taken");
    return std::nullopt;
  }
  return std::move(*user_id);
}

std::optional<RegisterBody> ReadRegisterBody(Context& context, const object& body,
                                             Response* error) {
  RegisterBody out;
  std::optional<std::string> username;
  std::optional<bool> inhibit_login;
  if (!ReadString(body, "username", &username, error) ||
      !ReadString(body, "password", &out.request.password, error) ||
      !ReadString(body, "device_id", &out.request.device_id, error) ||
      !ReadString(body, "initial_device_display_name", &out.request.device_display_name, error) ||
      !ReadBool(body, "inhibit_login", &inhibit_login, error)) {
    return std::nullopt;
  }
  if (out.request.device_display_name) {
    if (Status checked = accounts::CheckNewDisplayName(*out.request.device_display_name);
        !checked.ok()) {
      *error = ErrorResponse(checked);
      return std::nullopt;
    }
  }
  std::optional<std::string> user_id = RegisterUserId(context, username, error);
  if (!user_id) return std::nullopt;
  if (out.request.password) {
    if (Status checked = accounts::CheckPassword(*out.request.password); !checked.ok()) {
      *error = checked.code() == StatusCode::kTooLarge
                   ? ErrorResponse(400, "M_INVALID_PARAM", "Password too long")
                   : ErrorResponse(400, "M_WEAK_PASSWORD", "Password must not be empty");
      return std::nullopt;
    }
  }
  out.request.user_id = std::move(*user_id);
  out.request.displayname = out.request.user_id.substr(1, out.request.user_id.find(':') - 1);
  out.request.inhibit_login = inhibit_login.value_or(false);
  if (!RefreshLifetime(context, body, &out.request.access_token_lifetime_ms, error)) {
    return std::nullopt;
  }
  const boost::json::value* auth = body.if_contains("auth");
  out.has_auth = auth != nullptr && !auth->is_null();
  const std::string_view stage =
      context.config.registration_requires_token ? kTokenStage : kDummyStage;
  if (out.has_auth) {
    std::optional<std::string> type;
    if (!auth->is_object() || !ReadString(auth->as_object(), "type", &type, error)) {
      if (!auth->is_object()) *error = ErrorResponse(400, "M_BAD_JSON", "auth must be an object");
      return std::nullopt;
    }
    if (type != stage) {
      *error = UiaChallenge(stage, "M_UNRECOGNIZED", "Unsupported authentication type");
      return std::nullopt;
    }
    if (stage == kTokenStage) {
      std::optional<std::string> token;
      if (!ReadString(auth->as_object(), "token", &token, error)) return std::nullopt;
      Result<bool> valid = token ? accounts::RegistrationTokenValid(
                                       context.engine.Read(), *token,
                                       context.engine.clock().NowUnixMs())
                                 : Result<bool>(false);
      if (!valid.ok()) {
        *error = ErrorResponse(valid.status());
        return std::nullopt;
      }
      if (!*valid) {
        *error = UiaChallenge(stage, "M_FORBIDDEN", "Invalid registration token");
        return std::nullopt;
      }
      out.request.registration_token = std::move(token);
    }
  }
  return out;
}

// The login answer of register and login: user_id, plus access_token and device_id.
object SessionBody(const accounts::Prepared& prepared, const std::string& user_id) {
  object body{{"user_id", user_id}};
  if (prepared.access_token) body["access_token"] = *prepared.access_token;
  if (prepared.device_id) body["device_id"] = *prepared.device_id;
  if (prepared.refresh_token) body["refresh_token"] = *prepared.refresh_token;
  if (prepared.expires_in_ms) body["expires_in_ms"] = *prepared.expires_in_ms;
  return body;
}

void Register(Context* context, const Request& request, Respond respond) {
  std::string_view kind = request.Query("kind").value_or("user");
  if (kind == "guest") {
    return respond(ErrorResponse(403, "M_GUEST_ACCESS_FORBIDDEN", "Guest access is disabled"));
  }
  if (kind != "user") return respond(ErrorResponse(400, "M_INVALID_PARAM", "Unknown kind"));
  if (!context->config.password_login ||
      (!context->config.registration_open && !context->config.registration_requires_token)) {
    return respond(ErrorResponse(403, "M_FORBIDDEN", "Registration is disabled"));
  }
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return respond(std::move(*error));
  Response error;
  std::optional<RegisterBody> fields = ReadRegisterBody(*context, std::get<object>(body), &error);
  if (!fields) return respond(std::move(error));
  if (!fields->has_auth) {
    return respond(
        UiaChallenge(context->config.registration_requires_token ? kTokenStage : kDummyStage));
  }
  int64_t wait_ms = context->register_limiter.Acquire(RemoteIp(request), context->MonotonicMs());
  if (wait_ms > 0) return respond(RateLimitedResponse(wait_ms));
  OnWorkers(context, respond, [context, respond, registration = std::move(fields->request)] {
    Result<accounts::Prepared> prepared =
        accounts::PrepareRegistration(registration, context->engine.clock().NowUnixMs());
    if (!prepared.ok()) return respond(ErrorResponse(prepared.status()));
    SubmitCommand(
        context->engine, prepared->command,
        [respond,
         session = SessionBody(*prepared, registration.user_id)](core::ApplyOutcome outcome) {
          if (outcome.ok()) return respond(JsonResponse(200, session));
          if (outcome.status().code() == StatusCode::kForbidden) {  // the token ran out
            return respond(UiaChallenge(kTokenStage, "M_FORBIDDEN", outcome.status().message()));
          }
          respond(ErrorResponse(outcome.status()));
        });
  });
}

Response RegisterAvailable(Context& context, const Request& request) {
  std::optional<std::string_view> username = request.Query("username");
  if (!username) return MissingParam("username");
  Response error;
  if (!RegisterUserId(context, std::string(*username), &error)) return error;
  return JsonResponse(200, object{{"available", true}});
}

// ---- login, logout, whoami ----

Response LoginFlows(const Context& context) {
  boost::json::array flows;
  if (context.config.password_login) flows.push_back(object{{"type", kPasswordType}});
  if (!context.config.sso_idp_id.empty()) {
    flows.push_back(object{
        {"type", "m.login.sso"},
        {"identity_providers",
         boost::json::array{object{{"id", context.config.sso_idp_id},
                                   {"name", context.config.sso_idp_name}}}}});
  }
  flows.push_back(object{{"type", kLoginTokenType}, {"get_login_token", true}});
  return JsonResponse(200, object{{"flows", std::move(flows)}});
}

// 401 M_USER_LOCKED (soft_logout) when the user is locked: no new session for them.
std::optional<Response> LockedLogin(Context& context, const std::string& user_id) {
  Result<accounts::User> user = accounts::GetUser(context.engine.Read(), user_id);
  if (!user.ok() || !user->locked) return std::nullopt;
  return JsonResponse(401, object{{"errcode", "M_USER_LOCKED"},
                                  {"error", "This account has been locked"},
                                  {"soft_logout", true}});
}

// Proposes the login and answers the session (or the error).
void SubmitLogin(Context* context, const accounts::Prepared& prepared, const std::string& user_id,
                 const Respond& respond) {
  SubmitCommand(context->engine, prepared.command,
                [respond, session = SessionBody(prepared, user_id)](core::ApplyOutcome outcome) {
                  respond(outcome.ok() ? JsonResponse(200, session)
                                       : ErrorResponse(outcome.status()));
                });
}

// m.login.token: a token from POST /login/get_token, single use (the command consumes
// it; a second login with it is refused when it applies).
void TokenLogin(Context* context, const object& body, std::optional<std::string> device_id,
                std::optional<std::string> display_name,
                std::optional<int64_t> lifetime, const Respond& respond) {
  Response error;
  std::optional<std::string> token;
  if (!ReadString(body, "token", &token, &error)) return respond(std::move(error));
  if (!token) return respond(MissingParam("token"));
  const int64_t now = context->engine.clock().NowUnixMs();
  Result<std::string> user_id = accounts::LoginTokenOwner(context->engine.Read(), *token, now);
  if (!user_id.ok()) {
    if (user_id.status().code() != StatusCode::kUnauthenticated) {
      return respond(ErrorResponse(user_id.status()));
    }
    return respond(ErrorResponse(403, "M_FORBIDDEN", "Invalid login token"));
  }
  if (auto locked = LockedLogin(*context, *user_id)) return respond(std::move(*locked));
  if (auto limited = Limited(context->limits->new_device, *user_id, context->MonotonicMs())) {
    return respond(std::move(*limited));
  }
  Result<accounts::Prepared> prepared =
      accounts::PrepareLogin(*user_id, device_id, display_name, now, lifetime, *token);
  if (!prepared.ok()) return respond(ErrorResponse(prepared.status()));
  SubmitLogin(context, *prepared, *user_id, respond);
}

void Login(Context* context, const Request& request, Respond respond) {
  auto parsed = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&parsed)) return respond(std::move(*error));
  const object& body = std::get<object>(parsed);
  Response error;
  std::optional<std::string> type, password, device_id, display_name;
  if (!ReadString(body, "type", &type, &error) ||
      !ReadString(body, "password", &password, &error) ||
      !ReadString(body, "device_id", &device_id, &error) ||
      !ReadString(body, "initial_device_display_name", &display_name, &error)) {
    return respond(std::move(error));
  }
  std::optional<int64_t> lifetime;
  if (!RefreshLifetime(*context, body, &lifetime, &error)) return respond(std::move(error));
  if (type != kPasswordType && type != kLoginTokenType) {
    return respond(ErrorResponse(400, "M_UNKNOWN", "Bad login type"));
  }
  if (display_name) {
    if (Status checked = accounts::CheckNewDisplayName(*display_name); !checked.ok()) {
      return respond(ErrorResponse(checked));
    }
  }
  if (type == kLoginTokenType) {
    return TokenLogin(context, body, device_id, display_name, lifetime, respond);
  }
  if (!context->config.password_login) {
    return respond(ErrorResponse(403, "M_FORBIDDEN", "Password login is disabled"));
  }
  std::optional<std::string> user_id = LoginUserId(body, context->server_name(), &error);
  if (!user_id) return respond(std::move(error));
  if (!password) return respond(MissingParam("password"));
  int64_t wait_ms = context->login_limiter.Acquire(RemoteIp(request), context->MonotonicMs());
  if (wait_ms > 0) return respond(RateLimitedResponse(wait_ms));
  // Per account, whatever the IP: every attempt takes a token, a success refills.
  UserRateLimits& limits = *context->limits;
  if (auto limited = Limited(limits.login_attempts, *user_id, context->MonotonicMs())) {
    return respond(std::move(*limited));
  }
  OnWorkers(context, respond, [=, &limits] {
    Status verified = accounts::VerifyLogin(context->engine.Read(), *user_id, *password);
    if (verified.code() == StatusCode::kForbidden) {
      return respond(ErrorResponse(403, "M_FORBIDDEN", "Invalid username or password"));
    }
    if (!verified.ok()) return respond(ErrorResponse(verified));
    limits.login_attempts.Reset(*user_id);
    if (auto locked = LockedLogin(*context, *user_id)) return respond(std::move(*locked));
    if (auto limited = Limited(limits.new_device, *user_id, context->MonotonicMs())) {
      return respond(std::move(*limited));
    }
    Result<accounts::Prepared> prepared = accounts::PrepareLogin(
        *user_id, device_id, display_name, context->engine.clock().NowUnixMs(), lifetime);
    if (!prepared.ok()) return respond(ErrorResponse(prepared.status()));
    SubmitLogin(context, *prepared, *user_id, respond);
  });
}

// Runs `then` with the caller, or answers the authentication error.
void WithCaller(Context* context, const Request& request, const Respond& respond,
                const std::function<void(const Caller&)>& then) {
  auto caller = Authenticate(request, context->engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(std::move(*error));
  then(std::get<Caller>(caller));
}

void Logout(Context* context, const Request& request, Respond respond) {
  WithCaller(context, request, respond, [&](const Caller& caller) {
    SubmitAndAnswer(
        context->engine,
        accounts::LogoutCommand{.user_id = caller.user_id, .device_id = caller.device_id},
        respond);
  });
}

void LogoutAll(Context* context, const Request& request, Respond respond) {
  WithCaller(context, request, respond, [&](const Caller& caller) {
    SubmitAndAnswer(context->engine, accounts::LogoutAllCommand{.user_id = caller.user_id},
                    respond);
  });
}

Response WhoAmI(Context& context, const Request& request) {
  auto caller = Authenticate(request, context.engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  const Caller& who = std::get<Caller>(caller);
  return JsonResponse(
      200, object{{"user_id", who.user_id}, {"device_id", who.device_id}, {"is_guest", false}});
}

// ---- password, deactivation ----

void ChangePassword(Context* context, const Request& request, Respond respond) {
  auto parsed = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&parsed)) return respond(std::move(*error));
  WithCaller(context, request, respond, [&](const Caller& caller) {
    const object& body = std::get<object>(parsed);
    Response answer;
    std::optional<std::string> password =
        UiaPassword(body, caller, context->server_name(), &answer);
    if (!password) return respond(std::move(answer));
    std::optional<std::string> new_password;
    std::optional<bool> logout_devices;
    if (!ReadString(body, "new_password", &new_password, &answer) ||
        !ReadBool(body, "logout_devices", &logout_devices, &answer)) {
      return respond(std::move(answer));
    }
    if (!new_password) return respond(MissingParam("new_password"));
    if (!context->config.password_login) {
      return respond(ErrorResponse(403, "M_FORBIDDEN", "Password login is disabled"));
    }
    if (!accounts::CheckPassword(*new_password).ok()) {
      return respond(ErrorResponse(400, "M_WEAK_PASSWORD", "Unacceptable new password"));
    }
    VerifyThen(context, caller.user_id, *password, respond,
               [context, respond, caller, new_password = *new_password,
                logout = logout_devices.value_or(true)] {
                 Result<accounts::Prepared> prepared = accounts::PrepareSetPassword(
                     caller.user_id, new_password, logout, caller.device_id);
                 if (!prepared.ok()) return respond(ErrorResponse(prepared.status()));
                 SubmitAndAnswer(context->engine, prepared->command, respond);
               });
  });
}

// Leaves the rooms first, then deactivates: a deactivation cut short (a crash between
// the two) leaves an account that can still log in and try again, never a
// deactivated account stuck in its rooms. The deactivate command deletes the devices,
// their keys and the cross-signing keys in one batch (engine/accounts/commands.h).
void Deactivate(Context* context, const Request& request, Respond respond) {
  auto parsed = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&parsed)) return respond(std::move(*error));
  WithCaller(context, request, respond, [&](const Caller& caller) {
    const object& body = std::get<object>(parsed);
    Response answer;
    std::optional<bool> erase;
    if (!ReadBool(body, "erase", &erase, &answer)) return respond(std::move(answer));
    std::optional<std::string> password =
        UiaPassword(body, caller, context->server_name(), &answer);
    if (!password) return respond(std::move(answer));
    accounts::DeactivateCommand command{.user_id = caller.user_id, .erase = erase.value_or(false)};
    VerifyThen(context, caller.user_id, *password, respond, [context, respond, command] {
      LeaveAllRooms(context->engine, command.user_id, [context, respond, command] {
        SubmitAndAnswer(context->engine, command, respond,
                        object{{"id_server_unbind_result", "no-support"}});
      });
    });
  });
}

// ---- capabilities ----

Response Capabilities(Context& context, const Request& request) {
  auto caller = Authenticate(request, context.engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  object versions{{"10", "stable"}, {"11", "stable"}};
  object capabilities{
      {"m.change_password", object{{"enabled", context.config.password_login}}},
      {"m.room_versions", object{{"default", "11"}, {"available", std::move(versions)}}},
      {"m.set_displayname", object{{"enabled", true}}},
      {"m.set_avatar_url", object{{"enabled", true}}},
      {"m.3pid_changes", object{{"enabled", false}}},
      {"m.get_login_token", object{{"enabled", true}}},
      {"m.profile_fields", object{{"enabled", true}}}};
  return JsonResponse(200, object{{"capabilities", std::move(capabilities)}});
}

// Binds a handler taking Context* / Context& to the shared context.
AsyncHandler Bind(const ContextPtr& context, void (*handler)(Context*, const Request&, Respond)) {
  return [context, handler](const Request& request, const PathParams&, Respond respond) {
    handler(context.get(), request, std::move(respond));
  };
}
Handler Bind(const ContextPtr& context, Response (*handler)(Context&, const Request&)) {
  return [context, handler](const Request& request, const PathParams&) {
    return handler(*context, request);
  };
}

}  // namespace
}  // namespace account_internal

void LeaveAllRooms(core::Engine& engine, const std::string& user_id, std::function<void()> then) {
  auto rooms_of_user = engine.RoomsOf(user_id);
  if (!rooms_of_user.ok()) {
    spdlog::warn("deactivate: rooms of {}: {}", user_id, rooms_of_user.status().ToString());
    return then();
  }
  std::vector<std::string> rooms;
  for (const auto& [room_id, membership] : *rooms_of_user) {
    if (membership == rooms::Membership::kJoin || membership == rooms::Membership::kInvite ||
        membership == rooms::Membership::kKnock) {
      rooms.push_back(room_id);
    }
  }
  if (rooms.empty()) return then();
  // `then` runs once every leave was answered (or could not be built).
  auto remaining = std::make_shared<std::atomic<size_t>>(rooms.size());
  auto done_one = [remaining, shared_then = std::make_shared<std::function<void()>>(std::move(then))] {
    if (remaining->fetch_sub(1) == 1) (*shared_then)();
  };
  for (const std::string& room_id : rooms) {
    core::SendEventRequest leave;
    leave.room_id = room_id;
    leave.sender = user_id;
    leave.type = "m.room.member";
    leave.state_key = user_id;
    leave.content["membership"] = "leave";
    leave.origin_server_ts = engine.clock().NowUnixMs();
    Result<core::Command> command = core::MakeSendEventCommand(leave);
    if (!command.ok()) {  // a room ID from the store always encodes; counted as done
      spdlog::warn("deactivate: leave {}: {}", room_id, command.status().ToString());
      done_one();
      continue;
    }
    engine.SubmitAsync(std::move(command).value(),
                       [done_one, room_id](const core::ApplyOutcome& outcome) {
                         if (!outcome.ok()) {
                           spdlog::warn("deactivate: leave {}: {}", room_id,
                                        outcome.status().ToString());
                         }
                         done_one();
                       });
  }
}

void AddAccountRoutes(Router& router, core::Engine& engine, const AccountRoutesConfig& config) {
  using namespace account_internal;  // NOLINT: this file's and the other account files' helpers
  auto context = std::make_shared<Context>(engine, config);
  // Unauthenticated: never re-run by the cluster's catch-up (api/router.h).
  AddBothAsync(router, "POST", "/register", Bind(context, Register), {.catch_up = false});
  AddBoth(router, "GET", "/register/available", Bind(context, RegisterAvailable));
  AddBoth(router, "GET", "/login",
          [context](const Request&, const PathParams&) { return LoginFlows(*context); });
  AddBothAsync(router, "POST", "/login", Bind(context, Login), {.catch_up = false});
  AddBothAsync(router, "POST", "/logout", Bind(context, Logout));
  AddBothAsync(router, "POST", "/logout/all", Bind(context, LogoutAll));
  AddBoth(router, "GET", "/account/whoami", Bind(context, WhoAmI));
  AddBothAsync(router, "POST", "/account/password", Bind(context, ChangePassword));
  AddBothAsync(router, "POST", "/account/deactivate", Bind(context, Deactivate));
  AddBoth(router, "GET", "/capabilities", Bind(context, Capabilities));
  AddDeviceRoutes(router, context);
  AddProfileRoutes(router, context);
  AddAccountDataRoutes(router, context);
  AddSessionRoutes(router, context);
  AddAdminRoutes(router, context);
}

}  // namespace nebu::api
