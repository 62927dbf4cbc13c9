// Account data and room tags (Client-Server API § Client Config, § Room Tagging):
//
//   GET|PUT /user/{userId}/account_data/{type}
//   GET|PUT /user/{userId}/rooms/{roomId}/account_data/{type}
//   GET     /user/{userId}/rooms/{roomId}/tags
//   PUT|DELETE /user/{userId}/rooms/{roomId}/tags/{tag}
//
// Only the owner reads or writes (403 M_FORBIDDEN otherwise). Tags live in the room's
// "m.tag" account data as {"tags": {tag: {order?}}}; a tag change is one edit_tag
// command (put or delete of one tag) applied to that object in apply, so two
// concurrent tag changes of one room by one user both land.
#include <boost/json.hpp>
#include <optional>
#include <string>

#include "api/accounts/account_common.h"
#include "api/auth.h"
#include "api/errors.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "engine/event/canonical_json.h"
#include "engine/event/identifiers.h"

namespace nebu::api::account_internal {
namespace {

namespace json = boost::json;

constexpr std::string_view kTagType = "m.tag";

// The caller, when it is the path's {userId}; the ready error otherwise.
std::variant<Caller, Response> Owner(Context& context, const Request& request,
                                     const PathParams& params) {
  return AuthenticateOwner(request, context.engine, params.at("userId"),
                           "Cannot access another user's account data");
}

// The {roomId} of the path (nullopt when the route has none); 400 when malformed.
std::variant<std::optional<std::string>, Response> RoomOf(const PathParams& params) {
  auto it = params.find("roomId");
  if (it == params.end()) return std::optional<std::string>();
  if (!event::IsValidRoomId(it->second)) {
    return ErrorResponse(400, "M_INVALID_PARAM", "Not a room id");
  }
  return std::optional<std::string>(it->second);
}

// The stored object of one type, nullopt when never set.
Result<std::optional<json::object>> ReadObject(core::Engine& engine, const std::string& user_id,
                                               const std::optional<std::string>& room_id,
                                               std::string_view type) {
  auto stored = accounts::GetAccountData(engine.Read(), user_id, room_id, type);
  if (!stored.ok()) {
    if (stored.status().code() == StatusCode::kNotFound) return std::optional<json::object>();
    return stored.status();
  }
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(*stored, {.canonical_numbers = false}));
  if (!v.is_object()) return Status::Corruption("account data is not an object");
  return std::optional<json::object>(std::move(v.as_object()));
}

// 200 with body as stored account data is written (accounts::AccountDataJson), so a
// float reads back as the client wrote it ("order":0.5, not boost's 5E-1).
Response ContentResponse(const json::object& body) {
  Result<std::string> text = accounts::AccountDataJson(body);
  if (!text.ok()) return JsonResponse(200, body);
  Response response;
  response.status = 200;
  response.headers.Set("Content-Type", "application/json");
  response.body = std::move(*text);
  return response;
}

void GetData(Context& context, const Request& request, const PathParams& params,
             Respond respond) {
  auto owner = Owner(context, request, params);
  if (auto* error = std::get_if<Response>(&owner)) return respond(*error);
  auto room = RoomOf(params);
  if (auto* error = std::get_if<Response>(&room)) return respond(*error);
  auto stored = ReadObject(context.engine, std::get<Caller>(owner).user_id,
                           std::get<0>(room), params.at("type"));
  if (!stored.ok()) return respond(ErrorResponse(stored.status()));
  if (!*stored) return respond(ErrorResponse(404, "M_NOT_FOUND", "Account data not found"));
  respond(ContentResponse(**stored));
}

// 429 when the user's account-data bucket (kAccountDataRateLimit) is empty.
std::optional<Response> AccountDataLimited(Context& context, const std::string& user_id) {
  return Limited(context.limits->account_data, user_id, context.MonotonicMs());
}

void PutData(Context& context, const Request& request, const PathParams& params,
             Respond respond) {
  auto owner = Owner(context, request, params);
  if (auto* error = std::get_if<Response>(&owner)) return respond(*error);
  auto room = RoomOf(params);
  if (auto* error = std::get_if<Response>(&room)) return respond(*error);
  const std::string& type = params.at("type");
  // The spec reserves these to their own endpoints.
  if (type == "m.fully_read" || type == "m.push_rules") {
    return respond(ErrorResponse(405, "M_BAD_JSON", type + " is set through its own endpoint"));
  }
  if (auto limited = AccountDataLimited(context, std::get<Caller>(owner).user_id)) {
    return respond(std::move(*limited));
  }
  // Floats are kept (accounts::AccountDataJson), so content arrives as the client sent it.
  auto body = ParseJsonBody(request, /*canonical_numbers=*/false);
  if (auto* error = std::get_if<Response>(&body)) return respond(*error);
  SubmitAndAnswer(context.engine,
                  accounts::PutAccountDataCommand{.user_id = std::get<Caller>(owner).user_id,
                                                  .room_id = std::get<0>(room),
                                                  .type = type,
                                                  .content = std::move(std::get<json::object>(body))},
                  std::move(respond));
}

void GetTags(Context& context, const Request& request, const PathParams& params,
             Respond respond) {
  auto owner = Owner(context, request, params);
  if (auto* error = std::get_if<Response>(&owner)) return respond(*error);
  auto room = RoomOf(params);
  if (auto* error = std::get_if<Response>(&room)) return respond(*error);
  auto stored =
      ReadObject(context.engine, std::get<Caller>(owner).user_id, std::get<0>(room), kTagType);
  if (!stored.ok()) return respond(ErrorResponse(stored.status()));
  json::object tags;
  if (*stored) {
    if (const json::value* t = (*stored)->if_contains("tags"); t && t->is_object()) {
      tags = t->as_object();
    }
  }
  respond(ContentResponse(json::object{{"tags", std::move(tags)}}));
}

// PUT (tag_body set) or DELETE (nullopt) one tag.
void ChangeTag(Context& context, const Request& request, const PathParams& params,
               bool put, Respond respond) {
  auto owner = Owner(context, request, params);
  if (auto* error = std::get_if<Response>(&owner)) return respond(*error);
  auto room = RoomOf(params);
  if (auto* error = std::get_if<Response>(&room)) return respond(*error);
  std::optional<json::object> tag_body;
  if (put) {
    auto body = ParseJsonBody(request, /*canonical_numbers=*/false);
    if (auto* error = std::get_if<Response>(&body)) return respond(*error);
    tag_body = std::move(std::get<json::object>(body));
    // "order" is a number in [0, 1]; clients send fractions, which account data keeps.
    if (const json::value* order = tag_body->if_contains("order"); order && !order->is_number()) {
      return respond(ErrorResponse(400, "M_BAD_JSON", "order must be a number"));
    }
  }
  const std::string& user_id = std::get<Caller>(owner).user_id;
  if (auto limited = AccountDataLimited(context, user_id)) return respond(std::move(*limited));
  // One tag's change, applied to the stored tags in apply (edit_tag).
  SubmitAndAnswer(context.engine,
                  accounts::EditTagCommand{.user_id = user_id,
                                           .room_id = *std::get<0>(room),
                                           .tag = params.at("tag"),
                                           .tag_content = std::move(tag_body)},
                  std::move(respond));
}

}  // namespace

void AddAccountDataRoutes(Router& router, const ContextPtr& context) {
  for (std::string_view base : {"/user/{userId}", "/user/{userId}/rooms/{roomId}"}) {
    const std::string path = std::string(base) + "/account_data/{type}";
    AddBothAsync(router, "GET", path,
                 [context](const Request& r, const PathParams& p, Respond respond) {
                   GetData(*context, r, p, std::move(respond));
                 });
    AddBothAsync(router, "PUT", path,
                 [context](const Request& r, const PathParams& p, Respond respond) {
                   PutData(*context, r, p, std::move(respond));
                 });
  }
  AddBothAsync(router, "GET", "/user/{userId}/rooms/{roomId}/tags",
               [context](const Request& r, const PathParams& p, Respond respond) {
                 GetTags(*context, r, p, std::move(respond));
               });
  for (bool put : {true, false}) {
    AddBothAsync(router, put ? "PUT" : "DELETE", "/user/{userId}/rooms/{roomId}/tags/{tag}",
                 [context, put](const Request& r, const PathParams& p, Respond respond) {
                   ChangeTag(*context, r, p, put, std::move(respond));
                 });
  }
}

}  // namespace nebu::api::account_internal
