// Moderation under /_synapse/admin (Synapse's Make Room Admin, Room Messages and
// shadow-ban APIs):
//
//   POST   /_synapse/admin/v1/rooms/{roomIdOrAlias}/make_room_admin  {"user_id"?}  {}
//   GET    /_synapse/admin/v1/rooms/{roomId}/messages   from, to, limit, dir (f), filter
//   POST   /_synapse/admin/v1/users/{userId}/shadow_ban    {}
//   DELETE /_synapse/admin/v1/users/{userId}/shadow_ban    {}
//
// make_room_admin gives user_id (default: the caller; must be local, 400
// M_INVALID_PARAM otherwise) the power level of the most powerful local member joined
// to the room (from m.room.power_levels' users; without power levels, the creator), by
// an m.room.power_levels event sent as that member; then, when user_id is neither
// joined nor invited and the room's join rule is not public, that member invites
// them. 400 M_UNKNOWN "No local admin user in room" when no such member exists or the
// room's rules refuse the power levels change; 404 M_NOT_FOUND for an unknown room or
// alias.
//
// messages is the client API's /messages (rooms_common.h MessagesPage) for any room,
// every event visible; 404 M_NOT_FOUND for an unknown room.
//
// shadow_ban sets (POST) or clears (DELETE) the replicated flag of a local user
// (accounts "restrict_user" shadow_banned; the user's tokens carry it): their sends,
// state events, redactions and invites answer success and change nothing others see
// (api/rooms/rooms_routes.h). 404 M_NOT_FOUND for an unknown user.
#include <boost/json.hpp>

#include "api/admin/admin_common.h"
#include "api/errors.h"
#include "api/rooms/rooms_common.h"
#include "engine/accounts/accounts.h"
#include "engine/accounts/commands.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/event/identifiers.h"

namespace nebu::api::admin_internal {
namespace {

namespace json = boost::json;

// The room ID a room ID or alias names; 404 for an unknown alias, 400 for neither.
std::variant<std::string, Response> ResolveRoomOrAlias(Context* context, const std::string& id) {
  if (id.starts_with('#')) {
    Result<std::optional<std::string>> room = core::ResolveRoomAlias(context->engine.Read(), id);
    if (!room.ok()) return ErrorResponse(room.status());
    if (!*room) return ErrorResponse(404, "M_NOT_FOUND", "Room alias not found");
    return std::move(**room);
  }
  if (!event::IsValidRoomId(id)) {
    return ErrorResponse(400, "M_INVALID_PARAM", id + " was not legal room ID or room alias");
  }
  return id;
}

// The local member joined to the room with the highest power level (ties: the first
// user ID); nullopt when none.
std::optional<std::string> LocalAdmin(const Context& context, const rooms::RoomState& state) {
  const std::string suffix = ":" + context.server_name();
  const rooms::PowerLevels levels = state.GetPowerLevels();
  std::vector<std::pair<int64_t, std::string>> candidates;
  if (state.Get(rooms::kPowerLevelsType, "") == nullptr) {
    candidates.emplace_back(rooms::kCreatorPowerLevelDefault, state.Creator());
  } else {
    for (const auto& [user, level] : levels.users) {
      if (level > levels.users_default) candidates.emplace_back(level, user);
    }
  }
  std::optional<std::pair<int64_t, std::string>> best;
  for (const auto& candidate : candidates) {
    if (!candidate.second.ends_with(suffix) ||
        state.MembershipOf(candidate.second) != rooms::Membership::kJoin) {
      continue;
    }
    if (!best || candidate.first > best->first) best = candidate;
  }
  if (!best) return std::nullopt;
  return best->second;
}

core::SendEventRequest EventAs(const std::string& sender, const std::string& room_id,
                               std::string type, std::string state_key, json::object content,
                               int64_t now_ms) {
  core::SendEventRequest event;
  event.room_id = room_id;
  event.sender = sender;
  event.type = std::move(type);
  event.state_key = std::move(state_key);
  event.content = std::move(content);
  event.origin_server_ts = now_ms;
  return event;
}

void MakeRoomAdmin(Context* context, const Call& call, Finish finish) {
  auto resolved = ResolveRoomOrAlias(context, call.params.at("roomIdOrAlias"));
  if (auto* error = std::get_if<Response>(&resolved)) return finish(std::move(*error));
  const std::string room_id = std::get<std::string>(std::move(resolved));
  auto parsed = ParseJsonBody(call.request);
  if (auto* e = std::get_if<Response>(&parsed)) return finish(std::move(*e));
  std::string user_id = call.caller.user_id;
  if (const json::value* v = std::get<json::object>(parsed).if_contains("user_id");
      v != nullptr && !v->is_null()) {
    if (!v->is_string()) return finish(ErrorResponse(400, "M_BAD_JSON", "user_id must be a string"));
    user_id = std::string(v->as_string());
  }
  if (!event::IsValidUserId(user_id) || !user_id.ends_with(":" + context->server_name())) {
    return finish(ErrorResponse(400, "M_INVALID_PARAM", "Can only give local users admin"));
  }
  Result<rooms::RoomState> state = context->engine.CurrentState(room_id);
  if (!state.ok()) {
    if (state.status().code() == StatusCode::kNotFound) {
      return finish(ErrorResponse(404, "M_NOT_FOUND", "Room not found"));
    }
    return finish(ErrorResponse(state.status()));
  }
  std::optional<std::string> admin = LocalAdmin(*context, *state);
  if (!admin) return finish(ErrorResponse(400, "M_UNKNOWN", "No local admin user in room"));
  json::object levels;
  if (const json::object* event = state->Get(rooms::kPowerLevelsType, "")) {
    if (const json::value* c = event->if_contains("content"); c != nullptr && c->is_object()) {
      levels = c->as_object();
    }
  }
  const int64_t admin_level = state->GetPowerLevels().UserLevel(*admin);
  json::object users;
  if (const json::value* u = levels.if_contains("users"); u != nullptr && u->is_object()) {
    users = u->as_object();
  }
  users[user_id] = admin_level;
  levels["users"] = std::move(users);
  const rooms::Membership membership = state->MembershipOf(user_id);
  const bool needs_invite = membership != rooms::Membership::kJoin &&
                            membership != rooms::Membership::kInvite &&
                            state->JoinRule() != "public";
  Result<core::Command> command = core::MakeSendEventCommand(
      EventAs(*admin, room_id, "m.room.power_levels", "", std::move(levels), context->NowMs()));
  if (!command.ok()) return finish(ErrorResponse(command.status()));
  context->engine.SubmitAsync(*command, [context, finish, inviter = *admin, room_id, user_id,
                                         needs_invite](core::ApplyOutcome outcome) {
    if (!outcome.ok()) {
      if (outcome.status().code() != StatusCode::kForbidden) {
        return finish(ErrorResponse(outcome.status()));
      }
      return finish(ErrorResponse(400, "M_UNKNOWN",
                                  "No local admin user in room with power to update power "
                                  "levels."));
    }
    if (!needs_invite) return finish(JsonResponse(200, json::object{}));
    core::SendEventRequest invite = EventAs(inviter, room_id, "m.room.member", user_id,
                                            json::object{{"membership", "invite"}},
                                            context->NowMs());
    invite.target_profile = true;
    Result<core::Command> invite_command = core::MakeSendEventCommand(invite);
    if (!invite_command.ok()) return finish(ErrorResponse(invite_command.status()));
    SubmitThen(context, *invite_command, finish,
               [](const std::string&) { return JsonResponse(200, json::object{}); });
  });
}

void Messages(Context* context, const Call& call, Finish finish) {
  const std::string& room_id = call.params.at("roomId");
  if (!event::IsValidRoomId(room_id)) {
    return finish(ErrorResponse(400, "M_INVALID_PARAM", "Not a valid room ID"));
  }
  // A token from another node's /sync may be ahead of this one: wait for it (bounded).
  if (auto ahead = rooms_internal::AwaitRoomTokens(
          context->engine, room_id, {call.request.Query("from"), call.request.Query("to")})) {
    return finish(std::move(*ahead));
  }
  core::Snapshot snap = context->engine.Read();
  Result<core::RoomMeta> meta = core::LoadRoomMeta(snap, room_id);
  if (!meta.ok()) {
    if (meta.status().code() == StatusCode::kNotFound) {
      return finish(ErrorResponse(404, "M_NOT_FOUND", "Room not found"));
    }
    return finish(ErrorResponse(meta.status()));
  }
  Result<core::HistoryView> view = core::HistoryView::Load(snap, meta->number, call.caller.user_id);
  if (!view.ok()) return finish(ErrorResponse(view.status()));
  rooms_internal::ReadAccess access{.meta = *meta, .view = std::move(*view), .snap = snap};
  finish(rooms_internal::MessagesPage(context->engine, call.request, access, call.caller,
                                      {.see_all = true, .default_dir = "f"}));
}

// The reads (and a bounded wait for a token ahead of this node) run off the I/O threads.
void MessagesOffloaded(Context* context, const Call& call, Finish finish) {
  bool posted = context->pool.Post([context, call, finish] { Messages(context, call, finish); });
  if (!posted) finish(ErrorResponse(429, "M_LIMIT_EXCEEDED", "Too many admin reads queued"));
}

void ShadowBan(Context* context, const Call& call, Finish finish) {
  const std::string user_id = call.params.at("userId");
  if (auto error = CheckLocalUser(*context, user_id)) return finish(std::move(*error));
  Result<bool> exists = accounts::UserExists(context->engine.Read(), user_id);
  if (!exists.ok()) return finish(ErrorResponse(exists.status()));
  if (!*exists) return finish(ErrorResponse(404, "M_NOT_FOUND", "User not found"));
  const bool ban = call.request.method == "POST";
  Result<std::string> payload = accounts::EncodeAccountCommand(
      accounts::RestrictUserCommand{.user_id = user_id, .shadow_banned = ban});
  if (!payload.ok()) return finish(ErrorResponse(payload.status()));
  SubmitThen(context, {core::CommandKind::kAccount, *payload}, std::move(finish),
             [](const std::string&) { return JsonResponse(200, json::object{}); });
}

}  // namespace

void AddModerationRoutes(Router& router, const ContextPtr& context) {
  constexpr auto kAdmin = Surface::kAdmin;
  const std::string v1 = "/_synapse/admin/v1";
  AddRoute(router, context, "POST", v1 + "/rooms/{roomIdOrAlias}/make_room_admin",
           "rooms.make_room_admin", kAdmin, MakeRoomAdmin);
  AddRoute(router, context, "GET", v1 + "/rooms/{roomId}/messages", "rooms.messages", kAdmin,
           MessagesOffloaded);
  AddRoute(router, context, "POST", v1 + "/users/{userId}/shadow_ban", "users.shadow_ban", kAdmin,
           ShadowBan);
  AddRoute(router, context, "DELETE", v1 + "/users/{userId}/shadow_ban", "users.shadow_ban.delete",
           kAdmin, ShadowBan);
}

}  // namespace nebu::api::admin_internal
