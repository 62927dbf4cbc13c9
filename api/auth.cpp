#include "api/auth.h"

#include <boost/json/value.hpp>

#include "api/errors.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "engine/event/canonical_json.h"

namespace nebu::api {

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
  // is_admin stays false: the token record names only the user and device, and the
  // contract is one point lookup. An admin endpoint reads accounts::GetUser itself.
  return Caller{.user_id = std::move(owner->user_id),
                .device_id = std::move(owner->device_id),
                .is_admin = false};
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
