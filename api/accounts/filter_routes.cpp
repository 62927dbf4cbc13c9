#include "api/accounts/filter_routes.h"

#include <boost/json.hpp>

#include "api/auth.h"
#include "api/errors.h"
#include "api/glob.h"
#include "api/sync/sync.h"
#include "engine/common/crypto.h"
#include "engine/core/engine.h"
#include "engine/event/canonical_json.h"

namespace nebu::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kFilterIdPrefix = "F";  // the encoding's version

// One types / not_types list at `where` (e.g. "room.timeline.types").
Status CheckPatternList(const json::object& filter, std::string_view key, std::string where) {
  const json::value* list = filter.if_contains(key);
  if (list == nullptr || list->is_null()) return Status::Ok();
  where.append(where.empty() ? "" : ".").append(key);
  if (!list->is_array()) return Status::InvalidArgument(where + " must be an array");
  std::vector<std::string> patterns;
  for (const json::value& item : list->as_array()) {
    if (!item.is_string()) return Status::InvalidArgument(where + " holds a non-string");
    if (patterns.size() > kFilterPatternsMax) break;  // over the cap already
    patterns.emplace_back(item.as_string());
  }
  return CheckGlobPatterns(patterns, kFilterPatternsMax, where);
}

// The event filter at `key` of `parent` (absent or null: nothing to check).
Status CheckNestedEventFilter(const json::object& parent, std::string_view key,
                              const std::string& where) {
  const json::value* nested = parent.if_contains(key);
  if (nested == nullptr || nested->is_null()) return Status::Ok();
  std::string path = where.empty() ? std::string(key) : where + "." + std::string(key);
  if (!nested->is_object()) return Status::InvalidArgument(path + " must be an object");
  NEBU_RETURN_IF_ERROR(CheckPatternList(nested->as_object(), "types", path));
  return CheckPatternList(nested->as_object(), "not_types", path);
}

std::variant<Caller, Response> FilterOwner(const Request& request, core::Engine& engine,
                                           const PathParams& params) {
  return AuthenticateOwner(request, engine, params.at("userId"),
                           "Cannot use another user's filters");
}

Response PostFilter(const Request& request, core::Engine& engine, const PathParams& params) {
  auto owner = FilterOwner(request, engine, params);
  if (auto* error = std::get_if<Response>(&owner)) return *error;
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return *error;
  Result<std::string> canonical = event::CanonicalJson(std::get<json::object>(body));
  if (!canonical.ok()) return ErrorResponse(canonical.status());
  if (canonical->size() > kFilterBytesMax) {
    return ErrorResponse(400, "M_TOO_LARGE", "Filter larger than 4096 bytes");
  }
  if (Result<SyncFilter> checked = ParseSyncFilter(*canonical); !checked.ok()) {
    return ErrorResponse(400, "M_BAD_JSON", checked.status().message());
  }
  std::string id = std::string(kFilterIdPrefix) + Base64UrlUnpadded(*canonical);
  return JsonResponse(200, json::object{{"filter_id", std::move(id)}});
}

Response GetFilter(const Request& request, core::Engine& engine, const PathParams& params) {
  auto owner = FilterOwner(request, engine, params);
  if (auto* error = std::get_if<Response>(&owner)) return *error;
  std::optional<std::string> filter = FilterFromId(params.at("filterId"));
  if (!filter) return ErrorResponse(404, "M_NOT_FOUND", "No such filter");
  return JsonResponse(200, json::parse(*filter));
}

}  // namespace

Status CheckFilterPatterns(const json::object& filter) {
  NEBU_RETURN_IF_ERROR(CheckPatternList(filter, "types", ""));
  NEBU_RETURN_IF_ERROR(CheckPatternList(filter, "not_types", ""));
  NEBU_RETURN_IF_ERROR(CheckNestedEventFilter(filter, "presence", ""));
  NEBU_RETURN_IF_ERROR(CheckNestedEventFilter(filter, "account_data", ""));
  const json::value* room = filter.if_contains("room");
  if (room == nullptr || room->is_null()) return Status::Ok();
  if (!room->is_object()) return Status::InvalidArgument("room must be an object");
  for (std::string_view key : {"timeline", "state", "ephemeral", "account_data"}) {
    NEBU_RETURN_IF_ERROR(CheckNestedEventFilter(room->as_object(), key, "room"));
  }
  return Status::Ok();
}

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
