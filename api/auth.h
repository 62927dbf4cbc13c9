// Authentication of client requests and the JSON body helper shared by handlers.
//
//   auto caller = Authenticate(request, engine);
//   if (auto* error = std::get_if<Response>(&caller)) return *error;
//   const Caller& who = std::get<Caller>(caller);
//
//   auto body = ParseJsonBody(request);
//   if (auto* error = std::get_if<Response>(&body)) return *error;
//
// Thread-safety: pure functions over the engine's thread-safe reads.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <string_view>
#include <variant>

#include "api/http.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

struct Caller {
  std::string user_id;
  std::string device_id;
  bool is_admin = false;
  // Shadow-banned by an admin (POST /_synapse/admin/v1/users/{userId}/shadow_ban): the
  // room write routes answer success without changing anything (rooms_routes.h).
  bool shadow_banned = false;
};

// The caller of a request from its access token (Authorization: Bearer, or the
// access_token query parameter): one point lookup, which also carries the token's
// expiry and its user's lock and suspension. Errors are ready responses: 401
// M_MISSING_TOKEN (no token), 401 M_UNKNOWN_TOKEN (unknown, logged out, or deactivated
// user), 401 M_UNKNOWN_TOKEN with soft_logout true (expired: a token issued with a
// refresh token, past its lifetime on this node's clock), 401 M_USER_LOCKED with
// soft_logout true (a locked user, on anything but POST /logout and /logout/all), 403
// M_USER_SUSPENDED (a suspended user creating, joining, knocking on or upgrading a
// room, inviting, sending anything but a redaction, setting state, changing the
// profile or a room alias). The first use of a token from /refresh also proposes
// accounts::ConfirmRefreshCommand (revoking the refresh token it replaced), once.
std::variant<Caller, Response> Authenticate(const Request& request, core::Engine& engine);

// Authenticate, then require the caller to be `path_user_id` (the {userId} of routes
// such as /user/{userId}/filter): otherwise 403 M_FORBIDDEN with `forbidden_message`.
std::variant<Caller, Response> AuthenticateOwner(const Request& request, core::Engine& engine,
                                                 std::string_view path_user_id,
                                                 std::string_view forbidden_message);

// The request body as a JSON object. Errors: 400 M_NOT_JSON (not JSON), 400
// M_BAD_JSON (JSON but not an object, or floats / out-of-range integers when
// `canonical_numbers`). An empty body is an empty object.
std::variant<boost::json::object, Response> ParseJsonBody(const Request& request,
                                                         bool canonical_numbers = true);

}  // namespace nebu::api
