// GET /pushers and POST /pushers/set (pusher_routes.h).
#include "api/push/pusher_routes.h"

#include <boost/json.hpp>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "api/auth.h"
#include "api/errors.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"

namespace nebu::api {
namespace {

namespace json = boost::json;

Response MissingParams(const std::vector<std::string>& missing) {
  std::string names;
  for (const std::string& m : missing) names += (names.empty() ? "" : ", ") + m;
  return ErrorResponse(400, "M_MISSING_PARAM", "Missing parameters: " + names);
}

Response PusherWrongType(std::string_view field) {
  return ErrorResponse(400, "M_BAD_JSON", std::string(field) + " has the wrong type");
}

// A string field: absent (nullopt), the string, or the error response.
using PusherField = std::variant<std::monostate, std::string, Response>;
PusherField PusherStringField(const json::object& body, std::string_view key) {
  const json::value* v = body.if_contains(key);
  if (v == nullptr) return std::monostate{};
  if (!v->is_string()) return PusherWrongType(key);
  return std::string(v->get_string());
}

// The body of POST /pushers/set as a command, or the error response.
std::variant<push::PusherCommand, Response> ParseSet(const json::object& body,
                                                     const Caller& caller, int64_t now_ms) {
  push::PusherCommand c{.user_id = caller.user_id, .device_id = caller.device_id, .ts = now_ms};
  std::vector<std::string> missing;
  const json::value* kind = body.if_contains("kind");
  if (kind == nullptr) missing.emplace_back("kind");
  if (kind != nullptr && !kind->is_null() && !kind->is_string()) return PusherWrongType("kind");
  const bool remove = kind != nullptr && kind->is_null();
  struct Named {
    std::string_view key;
    std::string* out;
    bool required;
  };
  push::Pusher& p = c.pusher;
  const Named fields[] = {{"app_id", &p.app_id, true},
                          {"pushkey", &p.pushkey, true},
                          {"app_display_name", &p.app_display_name, !remove},
                          {"device_display_name", &p.device_display_name, !remove},
                          {"lang", &p.lang, !remove},
                          {"profile_tag", &p.profile_tag, false}};
  for (const Named& f : fields) {
    PusherField got = PusherStringField(body, f.key);
    if (auto* error = std::get_if<Response>(&got)) return *error;
    if (auto* s = std::get_if<std::string>(&got)) *f.out = std::move(*s);
    else if (f.required) missing.emplace_back(f.key);
  }
  const json::value* data = body.if_contains("data");
  if (data != nullptr && !data->is_object()) return PusherWrongType("data");
  if (data == nullptr && !remove) missing.emplace_back("data");
  if (!missing.empty()) return MissingParams(missing);
  if (const json::value* append = body.if_contains("append")) {
    if (!append->is_bool()) return PusherWrongType("append");
    c.append = append->get_bool();
  }
  if (remove) {
    c.op = push::PusherOp::kDelete;
    c.pusher = push::Pusher{.app_id = std::move(p.app_id), .pushkey = std::move(p.pushkey)};
  } else {
    p.kind = std::string(kind->get_string());
    p.data = data->get_object();
  }
  if (Status s = push::ValidatePusherCommand(c); !s.ok()) return ErrorResponse(s);
  return c;
}

void SetPusher(core::Engine& engine, const Request& request, Respond respond) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(*error);
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return respond(*error);
  auto parsed = ParseSet(std::get<json::object>(body), std::get<Caller>(caller),
                         engine.clock().NowUnixMs());
  if (auto* error = std::get_if<Response>(&parsed)) return respond(*error);
  Result<std::string> payload = push::EncodePusherCommand(std::get<push::PusherCommand>(parsed));
  if (!payload.ok()) return respond(ErrorResponse(payload.status()));
  engine.SubmitAsync({core::CommandKind::kPusher, std::move(*payload)},
                     [respond](core::ApplyOutcome outcome) {
                       if (outcome.ok()) return respond(JsonResponse(200, json::object{}));
                       if (outcome.status().code() == StatusCode::kResourceExhausted) {
                         return respond(ErrorResponse(400, "M_INVALID_PARAM",
                                                      "Too many pushers for this user"));
                       }
                       respond(ErrorResponse(outcome.status()));
                     });
}

Response GetPushers(core::Engine& engine, const Request& request) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  const core::Snapshot snap = engine.Read();
  auto mine = push::PushersOf(snap, std::get<Caller>(caller).user_id);
  if (!mine.ok()) return ErrorResponse(mine.status());
  json::array out;
  for (const push::StoredPusher& s : *mine) {
    Result<bool> live = PusherIsLive(snap, s);
    if (!live.ok()) return ErrorResponse(live.status());
    if (*live) out.push_back(push::PusherJson(s.pusher));
  }
  return JsonResponse(200, json::object{{"pushers", std::move(out)}});
}

}  // namespace

Result<bool> PusherIsLive(const storage::ReadView& view, const push::StoredPusher& pusher) {
  Result<accounts::User> user = accounts::GetUser(view, pusher.user_id);
  if (!user.ok()) {
    if (user.status().code() == StatusCode::kNotFound) return false;
    return user.status();
  }
  if (user->deactivated) return false;
  if (pusher.device_id.empty()) return true;
  Result<accounts::Device> device = accounts::GetDevice(view, pusher.user_id, pusher.device_id);
  if (device.ok()) return true;
  if (device.status().code() == StatusCode::kNotFound) return false;
  return device.status();
}

void AddPusherRoutes(Router& router, core::Engine& engine) {
  for (std::string_view prefix : {"/_matrix/client/v3", "/_matrix/client/r0"}) {
    router.Add("GET", std::string(prefix) + "/pushers",
               [&engine](const Request& r, const PathParams&) { return GetPushers(engine, r); });
    router.AddAsync(
        "POST", std::string(prefix) + "/pushers/set",
        [&engine](const Request& r, const PathParams&, Respond respond) {
          SetPusher(engine, r, std::move(respond));
        },
        {.body_bytes_max = kPusherBodyBytesMax});
  }
}

}  // namespace nebu::api
