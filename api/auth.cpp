#include "api/auth.h"

#include <boost/json/value.hpp>
#include <mutex>
#include <unordered_set>

#include "api/errors.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "engine/event/canonical_json.h"

namespace nebu::api {
namespace {

// 401 with soft_logout: true (spec: the client may refresh or log in again and keep
// its local state).
Response SoftLogout(std::string_view errcode, std::string_view message) {
  return JsonResponse(
      401, boost::json::object{{"errcode", errcode}, {"error", message}, {"soft_logout", true}});
}

bool EndsWith(std::string_view path, std::string_view suffix) { return path.ends_with(suffix); }

// What a locked user may still do: log out (spec, "Account locking").
bool LockedMayCall(const Request& request) {
  return request.method == "POST" && (EndsWith(request.path, "/logout") ||
                                      EndsWith(request.path, "/logout/all"));
}

// The actions a suspended user is refused (spec, "Account suspension": reading, leaving,
// redacting, logging out, devices, keys and deactivation stay allowed): creating,
// joining, knocking on and upgrading rooms, inviting, sending events other than
// redactions, setting state, changing the profile, creating aliases.
bool SuspendedRefused(const Request& request) {
  if (request.method == "GET") return false;
  std::string_view path = request.path;
  auto has = [path](std::string_view part) { return path.find(part) != std::string_view::npos; };
  if (has("/send/")) return !has("/send/m.room.redaction/");
  return has("/createRoom") || has("/join") || has("/knock/") || has("/invite") ||
         has("/state/") || has("/upgrade") || has("/profile/") || has("/directory/room/");
}

// The first use of an access token from /refresh revokes the refresh token it replaced
// (accounts::ConfirmRefreshCommand). Proposed once per token at a time: until it applies
// the token's record still says fresh, so the hashes in flight are remembered here.
void ConfirmRefresh(core::Engine& engine, const accounts::TokenOwner& owner,
                    std::string_view token) {
  static std::mutex mu;
  static auto* in_flight = new std::unordered_set<std::string>();
  std::string hash = accounts::TokenHash(token);
  {
    std::lock_guard lock(mu);
    if (!in_flight->insert(hash).second) return;
  }
  accounts::ConfirmRefreshCommand confirm{
      .user_id = owner.user_id, .device_id = owner.device_id, .token_hash = hash};
  Result<std::string> payload = accounts::EncodeAccountCommand(confirm);
  if (!payload.ok()) {
    std::lock_guard lock(mu);
    in_flight->erase(hash);
    return;
  }
  engine.SubmitAsync({.kind = core::CommandKind::kAccount, .payload = std::move(*payload)},
                     [hash](const core::ApplyOutcome&) {
                       std::lock_guard lock(mu);
                       in_flight->erase(hash);
                     });
}

}  // namespace

std::variant<Caller, Response> Authenticate(const Request& request, core::Engine& engine) {
  std::optional<std::string_view> token = request.AccessToken();
  if (!token || token->empty()) {
    return ErrorResponse(401, "M_MISSING_TOKEN", "Missing access token");
  }
  Result<accounts::TokenOwner> owner = accounts::AuthenticateToken(engine.Read(), *token);
  if (!owner.ok()) {
    if (owner.status().code() == StatusCode::kUnauthenticated) {
      return ErrorResponse(401, "M_UNKNOWN_TOKEN", "Unrecognised access token");
    }
    return ErrorResponse(owner.status());
  }
  // Flags and expiry come with the one lookup; the clock is read only for tokens that
  // expire (those issued with a refresh token).
  if (owner->expires_ms != 0 && engine.clock().NowUnixMs() >= owner->expires_ms) {
    return SoftLogout("M_UNKNOWN_TOKEN", "Access token has expired");
  }
  if (owner->locked && !LockedMayCall(request)) {
    return SoftLogout("M_USER_LOCKED", "This account has been locked");
  }
  if (owner->suspended && SuspendedRefused(request)) {
    return ErrorResponse(403, "M_USER_SUSPENDED", "This account is suspended");
  }
  if (owner->fresh) ConfirmRefresh(engine, *owner, *token);
  // is_admin stays false: the token record names only the user and device, and the
  // contract is one point lookup. An admin endpoint reads accounts::GetUser itself.
  return Caller{.user_id = std::move(owner->user_id),
                .device_id = std::move(owner->device_id),
                .is_admin = false,
                .shadow_banned = owner->shadow_banned};
}

std::variant<Caller, Response> AuthenticateOwner(const Request& request, core::Engine& engine,
                                                 std::string_view path_user_id,
                                                 std::string_view forbidden_message) {
  auto caller = Authenticate(request, engine);
  if (std::holds_alternative<Caller>(caller) &&
      std::get<Caller>(caller).user_id != path_user_id) {
    return ErrorResponse(403, "M_FORBIDDEN", std::string(forbidden_message));
  }
  return caller;
}

std::variant<boost::json::object, Response> ParseJsonBody(const Request& request,
                                                          bool canonical_numbers) {
  if (request.body.empty()) return boost::json::object{};
  Result<boost::json::value> parsed =
      event::ParseJson(request.body, {.canonical_numbers = canonical_numbers});
  if (!parsed.ok()) {
    switch (parsed.status().code()) {
      case StatusCode::kNotJson:
        return ErrorResponse(400, "M_NOT_JSON", "Content not JSON");
      case StatusCode::kTooLarge:
        return ErrorResponse(413, "M_TOO_LARGE", "Request body too large");
      default:
        return ErrorResponse(400, "M_BAD_JSON", parsed.status().message());
    }
  }
  if (!parsed->is_object()) return ErrorResponse(400, "M_BAD_JSON", "Body is not a JSON object");
  return std::move(parsed->as_object());
}

}  // namespace nebu::api
