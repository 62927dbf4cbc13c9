#include "api/filter_routes.h"

#include <boost/json.hpp>

#include "api/auth.h"
#include "api/errors.h"
#include "engine/common/crypto.h"
#include "engine/core/engine.h"
#include "engine/event/canonical_json.h"

namespace nebu::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kFilterIdPrefix = "F";  // the encoding's version

std::variant<Caller, Response> Owner(const Request& request, core::Engine& engine,
                                     const PathParams& params) {
  return AuthenticateOwner(request, engine, params.at("userId"),
                           "Cannot use another user's filters");
}

Response PostFilter(const Request& request, core::Engine& engine, const PathParams& params) {
  auto owner = Owner(request, engine, params);
  if (auto* error = std::get_if<Response>(&owner)) return *error;
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return *error;
  Result<std::string> canonical = event::CanonicalJson(std::get<json::object>(body));
  if (!canonical.ok()) return ErrorResponse(canonical.status());
  if (canonical->size() > kFilterBytesMax) {
    return ErrorResponse(400, "M_TOO_LARGE", "Filter larger than 4096 bytes");
  }
  std::string id = std::string(kFilterIdPrefix) + Base64UrlUnpadded(*canonical);
  return JsonResponse(200, json::object{{"filter_id", std::move(id)}});
}

Response GetFilter(const Request& request, core::Engine& engine, const PathParams& params) {
  auto owner = Owner(request, engine, params);
  if (auto* error = std::get_if<Response>(&owner)) return *error;
  std::optional<std::string> filter = FilterFromId(params.at("filterId"));
  if (!filter) return ErrorResponse(404, "M_NOT_FOUND", "No such filter");
  return JsonResponse(200, json::parse(*filter));
}

}  // namespace

std::optional<std::string> FilterFromId(std::string_view filter_id) {
  if (!filter_id.starts_with(kFilterIdPrefix)) return std::nullopt;
  std::string text(filter_id.substr(kFilterIdPrefix.size()));
  // Base64Decode takes the standard alphabet.
  for (char& c : text) {
    if (c == '-') c = '+';
    else if (c == '_') c = '/';
    else if (c == '+' || c == '/') return std::nullopt;
  }
  Result<std::string> decoded = Base64Decode(text);
  if (!decoded.ok() || decoded->size() > kFilterBytesMax) return std::nullopt;
  auto parsed = event::ParseJson(*decoded);
  if (!parsed.ok() || !parsed->is_object()) return std::nullopt;
  return std::move(decoded).value();
}

void AddFilterRoutes(Router& router, core::Engine& engine) {
  for (std::string_view prefix : {"/_matrix/client/v3", "/_matrix/client/r0"}) {
    const std::string base = std::string(prefix) + "/user/{userId}/filter";
    router.Add("POST", base, [&engine](const Request& r, const PathParams& p) {
      return PostFilter(r, engine, p);
    });
    router.Add("GET", base + "/{filterId}", [&engine](const Request& r, const PathParams& p) {
      return GetFilter(r, engine, p);
    });
  }
}

}  // namespace nebu::api
