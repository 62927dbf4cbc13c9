#include "api/accounts/threepid_routes.h"

#include <boost/json.hpp>
#include <initializer_list>
#include <string>
#include <string_view>

#include "api/auth.h"
#include "api/errors.h"
#include "engine/core/engine.h"

namespace nebu::api {

namespace json = boost::json;

namespace {

void AddBoth(Router& router, std::string_view method, std::string_view suffix,
             const Handler& handler) {
  for (std::string_view prefix : kClientPrefixes) {
    router.Add(method, std::string(prefix) + std::string(suffix), handler);
  }
}

// An authenticated route whose well-formed requests all get `answer`.
Handler Authed(core::Engine& engine, std::initializer_list<std::string_view> required,
               Response answer, bool has_body = true) {
  std::vector<std::string> fields(required.begin(), required.end());
  return [&engine, fields, answer, has_body](const Request& r, const PathParams&) {
    auto caller = Authenticate(r, engine);
    if (auto* error = std::get_if<Response>(&caller)) return *error;
    if (has_body) {
      auto body = ParseJsonBody(r);
      if (auto* error = std::get_if<Response>(&body)) return *error;
      for (const std::string& key : fields) {
        const json::value* v = std::get<json::object>(body).if_contains(key);
        if (v == nullptr || v->is_null()) {
          return ErrorResponse(400, "M_MISSING_PARAM", key + " is required");
        }
      }
    }
    return answer;
  };
}

Handler RequestToken(std::initializer_list<std::string_view> required) {
  std::vector<std::string> fields(required.begin(), required.end());
  return [fields](const Request& r, const PathParams&) {
    auto body = ParseJsonBody(r);
    if (auto* error = std::get_if<Response>(&body)) return *error;
    for (const std::string& key : fields) {
      const json::value* v = std::get<json::object>(body).if_contains(key);
      if (v == nullptr || v->is_null()) {
        return ErrorResponse(400, "M_MISSING_PARAM", key + " is required");
      }
    }
    return ErrorResponse(403, "M_THREEPID_DENIED",
                         "This server does not support third-party identifiers");
  };
}

}  // namespace

void AddThreepidRoutes(Router& router, core::Engine& engine) {
  const Response no_support =
      JsonResponse(200, json::object{{"id_server_unbind_result", "no-support"}});
  AddBoth(router, "GET", "/account/3pid",
          Authed(engine, {}, JsonResponse(200, json::object{{"threepids", json::array{}}}),
                 /*has_body=*/false));
  AddBoth(router, "POST", "/account/3pid",
          Authed(engine, {},
                 ErrorResponse(403, "M_THREEPID_AUTH_FAILED",
                               "This server has no identity server to verify third-party "
                               "credentials")));
  AddBoth(router, "POST", "/account/3pid/add",
          Authed(engine, {"client_secret", "sid"},
                 ErrorResponse(400, "M_THREEPID_AUTH_FAILED",
                               "No validated third-party identifier session: this server does "
                               "not support third-party identifiers")));
  AddBoth(router, "POST", "/account/3pid/bind",
          Authed(engine, {"client_secret", "sid"},
                 ErrorResponse(400, "M_SERVER_NOT_TRUSTED",
                               "This server trusts no identity server")));
  AddBoth(router, "POST", "/account/3pid/delete",
          Authed(engine, {"medium", "address"}, no_support));
  AddBoth(router, "POST", "/account/3pid/unbind",
          Authed(engine, {"medium", "address"}, no_support));
  for (std::string_view path : {"/account/3pid", "/account/password", "/register"}) {
    AddBoth(router, "POST", std::string(path) + "/email/requestToken",
            RequestToken({"client_secret", "email", "send_attempt"}));
    AddBoth(router, "POST", std::string(path) + "/msisdn/requestToken",
            RequestToken({"client_secret", "country", "phone_number", "send_attempt"}));
  }
}

}  // namespace nebu::api
