// Rooms, event reports and registration tokens under /_synapse/admin (Synapse's room,
// event reports and registration tokens admin APIs), and server_version.
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

// The most stored reports one event_reports request looks at (they are filtered and
// paged in memory); older ones beyond it are not listed.
constexpr size_t kEventReportsScanMax = 100000;
// Registration tokens: Synapse's default and largest generated length.
constexpr int64_t kGeneratedTokenLengthDefault = 16;

// A content field of the state event, or null.
json::value StateField(const rooms::RoomState& state, std::string_view type,
                       std::string_view field) {
  const json::object* event = state.Get(type, "");
  if (event == nullptr) return nullptr;
  const json::value* content = event->if_contains("content");
  if (content == nullptr || !content->is_object()) return nullptr;
  const json::value* value = content->as_object().if_contains(field);
  return value != nullptr ? *value : json::value(nullptr);
}

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

// Synapse's event report object (event reports only; room and user reports are not
// listed here, as in Synapse).
json::object ReportJson(Context* context, const reports::Report& report, bool with_event) {
  json::object o{{"id", report.id},
                 {"received_ts", report.received_ts},
                 {"room_id", report.room_id},
                 {"event_id", report.event_id},
                 {"user_id", report.reporter},
                 {"reason", report.reason.empty() ? json::value(nullptr) : json::value(report.reason)},
                 {"score", nullptr},
                 {"name", nullptr},
                 {"canonical_alias", nullptr},
                 {"sender", nullptr}};
  if (Result<rooms::RoomState> state = context->engine.CurrentState(report.room_id); state.ok()) {
    o["name"] = StateField(*state, "m.room.name", "name");
    o["canonical_alias"] = StateField(*state, "m.room.canonical_alias", "alias");
  }
  if (Result<storage::EventRecord> event = context->engine.GetEvent(report.event_id); event.ok()) {
    o["sender"] = event->sender;
    if (with_event) {
      boost::system::error_code ec;
      json::value parsed = json::parse(event->json, ec);
      if (!ec) o["event_json"] = std::move(parsed);
    }
  }
  return o;
}

void ListReports(Context* context, const Call& call, Finish finish) {
  Response error;
  auto from = QueryInt(call.request, "from", 0, 0, &error);
  auto limit = QueryInt(call.request, "limit", kAdminPageDefault, 0, &error);
  if (!from || !limit) return finish(std::move(error));
  const bool backwards = call.request.Query("dir").value_or("b") == "b";
  auto user = call.request.Query("user_id");
  auto room = call.request.Query("room_id");
  std::vector<reports::Report> matching;
  Status scanned = reports::ForEachReport(
      context->engine.Read(), 0, kEventReportsScanMax, [&](const reports::Report& r) {
        if (r.kind != reports::ReportKind::kEvent) return Status::Ok();
        if (user && r.reporter.find(*user) == std::string::npos) return Status::Ok();
        if (room && r.room_id.find(*room) == std::string::npos) return Status::Ok();
        matching.push_back(r);
        return Status::Ok();
      });
  if (!scanned.ok()) return finish(ErrorResponse(scanned));
  if (backwards) std::reverse(matching.begin(), matching.end());
  const auto total = static_cast<int64_t>(matching.size());
  const int64_t page = std::min(*limit, kAdminPageMax);
  json::array list;
  for (int64_t i = *from; i < total && i < *from + page; ++i) {
    list.push_back(ReportJson(context, matching[static_cast<size_t>(i)], false));
  }
  json::object body{{"total", total}};
  const int64_t end = *from + static_cast<int64_t>(list.size());
  body["event_reports"] = std::move(list);
  if (end < total) body["next_token"] = end;
  finish(JsonResponse(200, body));
}

void GetReportRoute(Context* context, const Call& call, Finish finish) {
  const std::string& text = call.params.at("reportId");
  uint64_t id = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return finish(ErrorResponse(400, "M_INVALID_PARAM", "The report ID must be an integer"));
  }
  Result<std::optional<reports::Report>> report = reports::GetReport(context->engine.Read(), id);
  if (!report.ok()) return finish(ErrorResponse(report.status()));
  if (!*report || (*report)->kind != reports::ReportKind::kEvent) {
    return finish(ErrorResponse(404, "M_NOT_FOUND", "Event report not found"));
  }
  finish(JsonResponse(200, ReportJson(context, **report, true)));
}

json::object TokenJson(const accounts::RegistrationToken& t) {
  return json::object{{"token", t.token},
                      {"uses_allowed", t.uses_allowed ? json::value(*t.uses_allowed) : nullptr},
                      {"pending", t.pending},
                      {"completed", t.completed},
                      {"expiry_time", t.expiry_time ? json::value(*t.expiry_time) : nullptr}};
}

void GetToken(Context* context, const Call& call, Finish finish) {
  Result<accounts::RegistrationToken> token =
      accounts::GetRegistrationToken(context->engine.Read(), call.params.at("token"));
  if (!token.ok()) {
    if (token.status().code() == StatusCode::kNotFound) {
      return finish(ErrorResponse(404, "M_NOT_FOUND", "No such registration token"));
    }
    return finish(ErrorResponse(token.status()));
  }
  finish(JsonResponse(200, TokenJson(*token)));
}

// An optional non-negative integer (or null) of the body; false with *error otherwise.
bool BodyCount(const json::object& body, std::string_view key, std::optional<int64_t>* out,
               Response* error) {
  const json::value* v = body.if_contains(key);
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_int64() || v->as_int64() < 0) {
    *error = ErrorResponse(400, "M_INVALID_PARAM", std::string(key) + " must be a non-negative integer");
    return false;
  }
  *out = v->as_int64();
  return true;
}

void NewToken(Context* context, const Call& call, Finish finish) {
  auto parsed = ParseJsonBody(call.request);
  if (auto* e = std::get_if<Response>(&parsed)) return finish(std::move(*e));
  const json::object& body = std::get<json::object>(parsed);
  Response error;
  accounts::CreateRegistrationTokenCommand command;
  std::optional<int64_t> length;
  if (!BodyCount(body, "uses_allowed", &command.uses_allowed, &error) ||
      !BodyCount(body, "expiry_time", &command.expiry_time, &error) ||
      !BodyCount(body, "length", &length, &error)) {
    return finish(std::move(error));
  }
  if (command.expiry_time && *command.expiry_time < context->NowMs()) {
    return finish(ErrorResponse(400, "M_INVALID_PARAM", "expiry_time must not be in the past"));
  }
  if (const json::value* token = body.if_contains("token"); token != nullptr && !token->is_null()) {
    if (!token->is_string() || !accounts::IsValidRegistrationToken(token->as_string())) {
      return finish(ErrorResponse(400, "M_INVALID_PARAM",
                                  "token must be 1-64 characters of [A-Za-z0-9._~-]"));
    }
    command.token = std::string(token->as_string());
  } else {
    const int64_t n = length.value_or(kGeneratedTokenLengthDefault);
    if (n < 1 || n > static_cast<int64_t>(accounts::kRegistrationTokenBytesMax)) {
      return finish(ErrorResponse(400, "M_INVALID_PARAM", "length must be between 1 and 64"));
    }
    command.token = RandomAlnum(static_cast<size_t>(n));
  }
  Result<std::string> payload = accounts::EncodeAccountCommand(command);
  if (!payload.ok()) return finish(ErrorResponse(payload.status()));
  accounts::RegistrationToken answer{.token = command.token,
                                     .uses_allowed = command.uses_allowed,
                                     .expiry_time = command.expiry_time};
  context->engine.SubmitAsync({core::CommandKind::kAccount, *payload},
                              [finish, answer](core::ApplyOutcome outcome) {
                                if (!outcome.ok()) {
                                  if (outcome.status().code() == StatusCode::kAlreadyExists) {
                                    return finish(ErrorResponse(400, "M_INVALID_PARAM",
                                                                "Token already exists"));
                                  }
                                  return finish(ErrorResponse(outcome.status()));
                                }
                                finish(JsonResponse(200, TokenJson(answer)));
                              });
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
  AddRoute(router, context, "GET", v1 + "/event_reports", "event_reports.list", kAdmin,
           ListReports);
  AddRoute(router, context, "GET", v1 + "/event_reports/{reportId}", "event_reports.get", kAdmin,
           GetReportRoute);
  AddRoute(router, context, "POST", v1 + "/registration_tokens/new", "registration_tokens.new",
           kAdmin, NewToken);
  AddRoute(router, context, "GET", v1 + "/registration_tokens/{token}", "registration_tokens.get",
           kAdmin, GetToken);
}

}  // namespace nebu::api::admin_internal
