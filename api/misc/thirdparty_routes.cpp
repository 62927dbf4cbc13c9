#include "api/misc/thirdparty_routes.h"

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "api/auth.h"
#include "api/errors.h"
#include "engine/core/engine.h"

namespace nebu::api {

namespace json = boost::json;

namespace {

void AddThirdPartyBoth(Router& router, std::string_view method, std::string_view suffix,
                       const Handler& handler) {
  for (std::string_view prefix : kClientPrefixes) {
    router.Add(method, std::string(prefix) + std::string(suffix), handler);
  }
}

Handler UnknownProtocol(core::Engine& engine) {
  return [&engine](const Request& r, const PathParams&) {
    auto caller = Authenticate(r, engine);
    if (auto* error = std::get_if<Response>(&caller)) return *error;
    return ErrorResponse(404, "M_NOT_FOUND", "Unknown protocol: this server has no bridges");
  };
}

// A lookup by `param` that finds nothing.
Handler EmptyLookup(core::Engine& engine, std::string param) {
  return [&engine, param](const Request& r, const PathParams&) {
    auto caller = Authenticate(r, engine);
    if (auto* error = std::get_if<Response>(&caller)) return *error;
    if (!r.Query(param)) return ErrorResponse(400, "M_MISSING_PARAM", param + " is required");
    return JsonResponse(200, json::array{});
  };
}

Response NotAnAppservice(core::Engine& engine, const Request& r) {
  auto caller = Authenticate(r, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  return ErrorResponse(403, "M_FORBIDDEN",
                       "Provided access token is not the appservice's as_token: this server has "
                       "no application services");
}

}  // namespace

void AddThirdPartyRoutes(Router& router, core::Engine& engine) {
  AddThirdPartyBoth(router, "GET", "/thirdparty/protocol/{protocol}", UnknownProtocol(engine));
  AddThirdPartyBoth(router, "GET", "/thirdparty/location/{protocol}", UnknownProtocol(engine));
  AddThirdPartyBoth(router, "GET", "/thirdparty/user/{protocol}", UnknownProtocol(engine));
  AddThirdPartyBoth(router, "GET", "/thirdparty/location", EmptyLookup(engine, "alias"));
  AddThirdPartyBoth(router, "GET", "/thirdparty/user", EmptyLookup(engine, "userid"));
  Handler not_an_appservice = [&engine](const Request& r, const PathParams&) {
    return NotAnAppservice(engine, r);
  };
  router.Add("POST", "/_matrix/client/v1/appservice/{appserviceId}/ping", not_an_appservice);
  AddThirdPartyBoth(router, "PUT", "/directory/list/appservice/{networkId}/{roomId}",
                    not_an_appservice);
}

}  // namespace nebu::api
