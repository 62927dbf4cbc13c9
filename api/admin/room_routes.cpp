// Rooms under /_synapse/admin (Synapse's room admin API), and server_version.
#include <algorithm>
#include <boost/json.hpp>
#include <charconv>

#include "api/admin/admin_common.h"
#include "api/errors.h"
#include "engine/accounts/accounts.h"
#include "engine/accounts/commands.h"
#include "engine/common/crypto.h"
#include "engine/core/engine.h"
#include "engine/event/event.h"
#include "engine/event/identifiers.h"
#include "engine/reports/reports.h"

namespace nebu::api::admin_internal {
namespace {

namespace json = boost::json;

std::variant<rooms::RoomState, Response> State(Context* context, const std::string& room_id) {
  if (!event::IsValidRoomId(room_id)) {
    return ErrorResponse(400, "M_INVALID_PARAM", "Not a valid room ID");
  }
  Result<rooms::RoomState> state = context->engine.CurrentState(room_id);
  if (!state.ok()) {
    if (state.status().code() == StatusCode::kNotFound) {
      return ErrorResponse(404, "M_NOT_FOUND", "Room not found");
    }
    return ErrorResponse(state.status());
  }
  return std::move(state).value();
}

std::vector<std::string> JoinedMembers(const rooms::RoomState& state) {
  std::vector<std::string> members;
  for (const auto& [key, event] : state.events()) {
    if (key.first == "m.room.member" && state.MembershipOf(key.second) == rooms::Membership::kJoin) {
      members.push_back(key.second);
    }
  }
  return members;
}

void RoomDetails(Context* context, const Call& call, Finish finish) {
  const std::string& room_id = call.params.at("roomId");
  auto state = State(context, room_id);
  if (auto* error = std::get_if<Response>(&state)) return finish(std::move(*error));
  const rooms::RoomState& s = std::get<rooms::RoomState>(state);
  Result<core::RoomMeta> meta = context->engine.GetRoom(room_id);
  if (!meta.ok()) return finish(ErrorResponse(meta.status()));
  const auto joined = static_cast<int64_t>(JoinedMembers(s).size());
  json::value federate = StateField(s, "m.room.create", "m.federate");
  json::object body{
      {"room_id", room_id},
      {"name", StateField(s, "m.room.name", "name")},
      {"topic", StateField(s, "m.room.topic", "topic")},
      {"avatar", StateField(s, "m.room.avatar", "url")},
      {"canonical_alias", StateField(s, "m.room.canonical_alias", "alias")},
      {"joined_members", joined},
      {"joined_local_members", joined},
      {"joined_local_devices", nullptr},
      {"version", std::string(event::RoomVersionName(meta->version))},
      {"creator", s.Creator()},
      {"encryption", StateField(s, "m.room.encryption", "algorithm")},
      {"federatable", federate.is_bool() ? federate.as_bool() : true},
      {"public", false},
      {"join_rules", s.JoinRule()},
      {"guest_access", StateField(s, "m.room.guest_access", "guest_access")},
      {"history_visibility", StateField(s, "m.room.history_visibility", "history_visibility")},
      {"state_events", static_cast<int64_t>(s.size())},
      {"room_type", StateField(s, "m.room.create", "type")},
      {"forgotten", false}};
  finish(JsonResponse(200, body));
}

void RoomMembers(Context* context, const Call& call, Finish finish) {
  auto state = State(context, call.params.at("roomId"));
  if (auto* error = std::get_if<Response>(&state)) return finish(std::move(*error));
  json::array members;
  for (std::string& m : JoinedMembers(std::get<rooms::RoomState>(state))) {
    members.push_back(json::value(std::move(m)));
  }
  const auto total = static_cast<int64_t>(members.size());
  finish(JsonResponse(200, json::object{{"members", std::move(members)}, {"total", total}}));
}

void RoomStateRoute(Context* context, const Call& call, Finish finish) {
  auto state = State(context, call.params.at("roomId"));
  if (auto* error = std::get_if<Response>(&state)) return finish(std::move(*error));
  json::array events;
  for (const auto& [key, event] : std::get<rooms::RoomState>(state).events()) {
    events.push_back(event);
  }
  finish(JsonResponse(200, json::object{{"state", std::move(events)}}));
}

void Block(Context* context, const Call& call, Finish finish) {
  const std::string room_id = call.params.at("roomId");
  if (!event::IsValidRoomId(room_id)) {
    return finish(ErrorResponse(400, "M_INVALID_PARAM", "Not a valid room ID"));
  }
  if (call.request.method == "GET") {
    Result<std::optional<admin::RoomBlock>> block =
        admin::GetRoomBlock(context->engine.Read(), room_id);
    if (!block.ok()) return finish(ErrorResponse(block.status()));
    json::object body{{"block", block->has_value()}};
    if (*block) body["user_id"] = (*block)->actor;
    return finish(JsonResponse(200, body));
  }
  auto parsed = ParseJsonBody(call.request);
  if (auto* e = std::get_if<Response>(&parsed)) return finish(std::move(*e));
  const json::value* value = std::get<json::object>(parsed).if_contains("block");
  if (value == nullptr || !value->is_bool()) {
    return finish(ErrorResponse(400, "M_BAD_JSON", "block must be a boolean"));
  }
  const bool block = value->as_bool();
  Result<std::string> payload = admin::EncodeAdminCommand(admin::BlockRoomCommand{
      .room_id = room_id, .block = block, .actor = call.caller.user_id, .ts = context->NowMs()});
  if (!payload.ok()) return finish(ErrorResponse(payload.status()));
  SubmitThen(context, {core::CommandKind::kAudit, *payload}, std::move(finish),
             [block](const std::string&) { return JsonResponse(200, json::object{{"block", block}}); });
}

void ListRooms(Context* context, const Call& call, Finish finish) {
  if (!context->options.directory) {
    return finish(ErrorResponse(503, "M_UNAVAILABLE",
                                "Room lists are served from PostgreSQL, which is not "
                                "configured on this server (NEBU_DB_URL)"));
  }
  Response error;
  auto from = QueryInt(call.request, "from", 0, 0, &error);
  auto limit = QueryInt(call.request, "limit", kAdminPageDefault, 0, &error);
  if (!from || !limit) return finish(std::move(error));
  RoomListQuery query{.from = *from, .limit = std::min(*limit, kAdminPageMax)};
  if (auto term = call.request.Query("search_term")) query.search_term = std::string(*term);
  query.public_rooms = QueryBool(call.request, "public_rooms", &error);
  query.empty_rooms = QueryBool(call.request, "empty_rooms", &error);
  if (!error.body.empty()) return finish(std::move(error));
  static constexpr std::string_view kOrders[] = {
    "alphabetical", "size", "name", "canonical_alias", "joined_members", "joined_local_members", "version",
    "creator", "encryption", "federatable", "public", "join_rules", "guest_access",
    "history_visibility", "state_events", "room_id"};
  if (auto bad = ParseListOrder(call.request, kOrders, &query.order_by, &query.backwards)) {
    return finish(std::move(*bad));
  }
  Result<DirectoryPage> page = context->options.directory->ListRooms(query);
  if (!page.ok()) return finish(ErrorResponse(page.status()));
  json::array rooms;
  for (json::object& room : page->items) rooms.push_back(std::move(room));
  const auto count = static_cast<int64_t>(rooms.size());
  json::object body{{"rooms", std::move(rooms)},
                    {"offset", query.from},
                    {"total_rooms", page->total},
                    {"projection_position", page->projection_position}};
  if (query.from + count < page->total) body["next_batch"] = query.from + count;
  if (query.from > 0) body["prev_batch"] = std::max<int64_t>(0, query.from - query.limit);
  finish(ListResponse(*context, body, page->projection_position));
}

}  // namespace

void AddRoomRoutes(Router& router, const ContextPtr& context) {
  constexpr auto kAdmin = Surface::kAdmin;
  const std::string v1 = "/_synapse/admin/v1";
  AddRoute(router, context, "GET", v1 + "/rooms", "rooms.list", kAdmin, ListRooms);
  AddRoute(router, context, "GET", v1 + "/rooms/{roomId}", "rooms.get", kAdmin, RoomDetails);
  AddRoute(router, context, "GET", v1 + "/rooms/{roomId}/members", "rooms.members", kAdmin,
           RoomMembers);
  AddRoute(router, context, "GET", v1 + "/rooms/{roomId}/state", "rooms.state", kAdmin,
           RoomStateRoute);
  AddRoute(router, context, "GET", v1 + "/rooms/{roomId}/block", "rooms.block.get", kAdmin, Block);
  AddRoute(router, context, "PUT", v1 + "/rooms/{roomId}/block", "rooms.block.put", kAdmin, Block);
}

}  // namespace nebu::api::admin_internal
