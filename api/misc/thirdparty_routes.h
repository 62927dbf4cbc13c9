// Third-party networks and application services, answered as a server without
// bridges and without application services must:
//
//   GET /thirdparty/protocol/{protocol}              auth  404 M_NOT_FOUND (no protocols)
//   GET /thirdparty/location/{protocol}              auth  404 M_NOT_FOUND
//   GET /thirdparty/user/{protocol}                  auth  404 M_NOT_FOUND
//   GET /thirdparty/location?alias=                  auth  200 []
//   GET /thirdparty/user?userid=                     auth  200 []
//   POST /_matrix/client/v1/appservice/{appserviceId}/ping        403 M_FORBIDDEN
//   PUT  /directory/list/appservice/{networkId}/{roomId}           403 M_FORBIDDEN
// (the thirdparty and directory routes under /_matrix/client/v3 and /_matrix/client/r0;
// GET /thirdparty/protocols, {} , is in api/rooms/misc_routes.h).
//
//   AddThirdPartyRoutes(router, engine);
//
// The protocol routes answer the spec's 404 for an unknown protocol (every protocol
// is unknown: /thirdparty/protocols is {}); the lookups by alias or user ID find no
// third-party entity (an empty list; a missing alias / userid is 400
// M_MISSING_PARAM). The two application service routes need an application
// service's as_token; no access token is 401 M_MISSING_TOKEN, an unknown one 401
// M_UNKNOWN_TOKEN, and any user's token is the spec's 403 M_FORBIDDEN ("not the
// appservice's as_token"): no application service is registered.
//
// Thread-safety: handlers are safe from any thread; the engine must outlive the router.
#pragma once

#include "api/router.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

void AddThirdPartyRoutes(Router& router, core::Engine& engine);

}  // namespace nebu::api
