// The third-party identifier (3PID) endpoints, answered as a server without an
// identity server and without 3PID support must (each under /_matrix/client/v3 and
// /_matrix/client/r0):
//
//   GET  /account/3pid                          auth  200 {"threepids": []}
//   POST /account/3pid (deprecated)             auth  403 M_THREEPID_AUTH_FAILED
//   POST /account/3pid/add                      auth  400 M_THREEPID_AUTH_FAILED
//   POST /account/3pid/bind                     auth  400 M_SERVER_NOT_TRUSTED
//   POST /account/3pid/delete                   auth  200 {"id_server_unbind_result": "no-support"}
//   POST /account/3pid/unbind                   auth  200 {"id_server_unbind_result": "no-support"}
//   POST /account/3pid/email/requestToken       -     403 M_THREEPID_DENIED
//   POST /account/3pid/msisdn/requestToken      -     403 M_THREEPID_DENIED
//   POST /account/password/email/requestToken   -     403 M_THREEPID_DENIED
//   POST /account/password/msisdn/requestToken  -     403 M_THREEPID_DENIED
//   POST /register/email/requestToken           -     403 M_THREEPID_DENIED
//   POST /register/msisdn/requestToken          -     403 M_THREEPID_DENIED
//
//   AddThreepidRoutes(router, engine);
//
// Why these answers: no account has a 3PID, so the list is empty; the six
// requestToken routes answer the spec's 403 "the homeserver does not allow the
// third-party identifier" (no email or SMS is ever sent), so no validation session
// (sid) ever exists and /add, which needs one, is refused with
// M_THREEPID_AUTH_FAILED (the deprecated POST /account/3pid with its documented 403);
// /bind would need an identity server this server trusts (M_SERVER_NOT_TRUSTED);
// /delete and /unbind succeed trivially (the 3PID is not associated) and report
// "no-support" for the identity-server unbind, as the spec defines it. Bodies are
// still checked first: a body that is not a JSON object is 400 M_NOT_JSON/M_BAD_JSON,
// a missing required field 400 M_MISSING_PARAM (client_secret, email / country and
// phone_number, send_attempt for requestToken; medium and address for delete and
// unbind; client_secret and sid for add and bind).
//
// Thread-safety: handlers are safe from any thread; the engine must outlive the router.
#pragma once

#include "api/router.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

void AddThreepidRoutes(Router& router, core::Engine& engine);

}  // namespace nebu::api
