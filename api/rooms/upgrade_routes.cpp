#include "api/rooms/upgrade_routes.h"

#include <algorithm>
#include <boost/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "api/auth.h"
#include "api/errors.h"
#include "api/rooms/rooms_common.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/event/identifiers.h"

namespace nebu::api {

namespace json = boost::json;
using rooms_internal::AddAsyncRoute;
using rooms_internal::AddClientV1Route;
using rooms_internal::AddRoute;
using rooms_internal::ForbiddenRoom;
using rooms_internal::RoomError;

namespace {

int64_t UpgradeLimiterNowMs(core::Engine& engine) {
  return engine.clock().NowMonotonicNs() / 1'000'000;
}

// ---- POST /rooms/{roomId}/upgrade ----

// new_version from the body, or the 400.
std::variant<event::RoomVersion, Response> NewVersionOf(const json::object& body) {
  const json::value* v = body.if_contains("new_version");
  if (v == nullptr || v->is_null()) {
    return ErrorResponse(400, "M_MISSING_PARAM", "new_version is required");
  }
  if (!v->is_string()) return ErrorResponse(400, "M_BAD_JSON", "new_version must be a string");
  std::optional<event::RoomVersion> version = event::ParseRoomVersion(v->as_string());
  if (!version) {
    return ErrorResponse(400, "M_UNSUPPORTED_ROOM_VERSION",
                         "This server does not support that room version");
  }
  return *version;
}

// ForbiddenRoom() unless user_id is joined to the room now (unknown rooms too).
std::optional<Response> UpgradeRequireJoined(core::Engine& engine, std::string_view room_id,
                                             std::string_view user_id) {
  const core::Snapshot snap = engine.Read();
  Result<core::RoomMeta> meta = core::LoadRoomMeta(snap, room_id);
  if (!meta.ok()) return RoomError(meta.status());
  if (core::MembershipOf(snap, user_id, meta->number) != rooms::Membership::kJoin) {
    return ForbiddenRoom();
  }
  return std::nullopt;
}

Response UpgradeOutcome(const core::ApplyOutcome& outcome, const std::string& new_room_id) {
  if (outcome.ok()) return JsonResponse(200, json::object{{"replacement_room", new_room_id}});
  if (outcome.status().code() == StatusCode::kForbidden) {
    return ErrorResponse(403, "M_FORBIDDEN", "You cannot upgrade this room");
  }
  return RoomError(outcome.status());
}

void HandleUpgrade(core::Engine& engine, UserRateLimits& limits, const Request& request,
                   const PathParams& params, const Respond& respond) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(*error);
  const Caller& who = std::get<Caller>(caller);
  if (auto limited = Limited(limits.create_room, who.user_id, UpgradeLimiterNowMs(engine))) {
    return respond(*limited);
  }
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return respond(*error);
  auto version = NewVersionOf(std::get<json::object>(body));
  if (auto* error = std::get_if<Response>(&version)) return respond(*error);
  const std::string& room_id = params.at("roomId");
  if (auto error = UpgradeRequireJoined(engine, room_id, who.user_id)) return respond(*error);
  std::string new_room_id;
  Result<core::Command> command = engine.PlanRoomUpgrade(
      room_id, std::get<event::RoomVersion>(version), who.user_id, &new_room_id);
  if (!command.ok()) return respond(ErrorResponse(command.status()));
  // The upgrader joins the new room in the same command: their tags and room push
  // rules follow them as after any join of an upgraded room (rooms_common.h).
  engine.SubmitAsync(std::move(command).value(), [&engine, respond, new_room_id, room_id,
                                                   user = who.user_id](
                                                      const core::ApplyOutcome& outcome) {
    if (!outcome.ok()) return respond(UpgradeOutcome(outcome, new_room_id));
    rooms_internal::CopyUserStateAfterJoin(
        engine, user, room_id, new_room_id,
        [respond, new_room_id] { respond(UpgradeOutcome(std::string("{}"), new_room_id)); });
  });
}

// ---- GET /rooms/{roomId}/aliases ----

Response HandleAliases(core::Engine& engine, const Request& request, const PathParams& params) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  const std::string& room_id = params.at("roomId");
  auto access = rooms_internal::OpenForRead(engine, room_id, std::get<Caller>(caller).user_id);
  if (auto* error = std::get_if<Response>(&access)) return *error;
  const core::Snapshot& snap = std::get<rooms_internal::ReadAccess>(access).snap;
  json::array aliases;
  Status s = core::ForEachRoomAlias(
      snap, [&](std::string_view alias, std::string_view target, const auto&) {
        if (target == room_id && aliases.size() < kRoomAliasesListedMax &&
            event::ServerNameOf(alias) == engine.server_name()) {
          aliases.emplace_back(alias);
        }
        return Status::Ok();
      });
  if (!s.ok()) return ErrorResponse(s);
  return JsonResponse(200, json::object{{"aliases", std::move(aliases)}});
}

// ---- GET /_matrix/client/v1/mutual_rooms ----

Response InvalidParam(std::string_view message) {
  return ErrorResponse(400, "M_INVALID_PARAM", message);
}

Response HandleMutualRooms(core::Engine& engine, const Request& request) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  const std::string& me = std::get<Caller>(caller).user_id;
  std::optional<std::string_view> other = request.Query("user_id");
  if (!other) return InvalidParam("user_id is required");
  if (!event::IsValidUserId(*other)) return InvalidParam("The user ID provided was invalid");
  if (*other == me) return InvalidParam("user_id is your own user ID");
  std::string after;  // room IDs after this one
  if (std::optional<std::string_view> from = request.Query("from")) {
    if (from->size() < 2 || (*from)[0] != 'r' || !event::IsValidRoomId(from->substr(1))) {
      return InvalidParam("from is not a token of this endpoint");
    }
    after = std::string(from->substr(1));
  }
  const core::Snapshot snap = engine.Read();
  auto rooms = core::RoomsOf(snap, me);
  if (!rooms.ok()) return ErrorResponse(rooms.status());
  std::vector<std::string> mutual;
  for (const auto& [room_id, membership] : *rooms) {
    if (membership != rooms::Membership::kJoin) continue;
    Result<core::RoomMeta> meta = core::LoadRoomMeta(snap, room_id);
    if (!meta.ok()) return ErrorResponse(meta.status());
    if (core::MembershipOf(snap, *other, meta->number) == rooms::Membership::kJoin) {
      mutual.push_back(room_id);
    }
  }
  std::sort(mutual.begin(), mutual.end());
  json::object out;
  out["count"] = mutual.size();
  json::array joined;
  auto it = after.empty() ? mutual.begin() : std::upper_bound(mutual.begin(), mutual.end(), after);
  for (; it != mutual.end() && joined.size() < kMutualRoomsPageMax; ++it) joined.emplace_back(*it);
  if (it != mutual.end()) out["next_batch"] = "r" + std::string(joined.back().as_string());
  out["joined"] = std::move(joined);
  return JsonResponse(200, std::move(out));
}

}  // namespace

void AddUpgradeRoutes(Router& router, core::Engine& engine,
                      const std::shared_ptr<UserRateLimits>& limits) {
  AddAsyncRoute(router, "POST", "/rooms/{roomId}/upgrade",
                [&engine, limits](const Request& r, const PathParams& p, Respond respond) {
                  HandleUpgrade(engine, *limits, r, p, respond);
                });
  AddRoute(
      router, "GET", "/rooms/{roomId}/aliases",
      [&engine](const Request& r, const PathParams& p) { return HandleAliases(engine, r, p); },
      {.offload = true});
  AddClientV1Route(
      router, "GET", "/mutual_rooms",
      [&engine](const Request& r, const PathParams&) { return HandleMutualRooms(engine, r); },
      {.offload = true});
}

}  // namespace nebu::api
