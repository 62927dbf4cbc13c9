// Server notices (Synapse's server notices admin API):
//
//   POST /_synapse/admin/v1/send_server_notice           {"user_id", "content", "type"?, "state_key"?}
//   PUT  /_synapse/admin/v1/send_server_notice/{txnId}   the same; a retry with the same
//        txnId (by the same admin device) answers the first event, as a client's send
//   -> 200 {"event_id"}
//
// The notice is sent by the system user @<server_notices_localpart>:<server> (made on
// the first notice, without a password) into the target's server notices room: a
// private room named "Server Notices" the system user creates, invites the target to,
// and where only it may send (power levels); the room carries the target's
// m.server_notice tag, and is remembered in Cf::kAdmin "s" (admin::GetNoticeRoom).
// When the target has left (or rejected) that room, the next notice makes a new one.
// Errors: 400 M_INVALID_PARAM (user_id not of this server, bad type/state_key),
// 400 M_BAD_JSON / M_NOT_JSON / M_MISSING_PARAM (body), 404 M_NOT_FOUND (no such user,
// or deactivated), 500 M_UNKNOWN when the system user's localpart was registered by
// someone else (an account with a password: notices are refused rather than sent as it).
// Notices are made one at a time on the admin context's worker (room creation is a
// blocking write); notices for one user from two nodes at the same time may make two
// rooms (the later one is remembered).
#include <boost/json.hpp>

#include "api/admin/admin_common.h"
#include "api/errors.h"
#include "engine/accounts/accounts.h"
#include "engine/accounts/commands.h"
#include "engine/common/crypto.h"
#include "engine/core/engine.h"
#include "engine/rooms/room_creation.h"

namespace nebu::api::admin_internal {
namespace {

namespace json = boost::json;

constexpr std::string_view kNoticesRoomName = "Server Notices";
constexpr std::string_view kNoticeTag = "m.server_notice";
// The power level only the system user has in a notices room.
constexpr int64_t kNoticesSenderPowerLevel = 100;
// Hex characters of the transaction key derived from (admin, device, txnId).
constexpr size_t kNoticeTxnKeyHexChars = 32;

struct Notice {
  std::string user_id;
  std::string type = "m.room.message";
  std::optional<std::string> state_key;
  json::object content;
  std::string txn_key;  // empty: no deduplication (POST)
};

std::string SystemUser(const Context& context) {
  return "@" + context.options.server_notices_localpart + ":" + context.server_name();
}

Status SubmitStatus(core::Engine& engine, core::Command command) {
  core::ApplyOutcome outcome = engine.Submit(std::move(command));
  return outcome.ok() ? Status::Ok() : outcome.status();
}

// Makes the system user when it does not exist; refuses one with a password.
Status EnsureSystemUser(Context* context) {
  const std::string system = SystemUser(*context);
  Result<accounts::User> user = accounts::GetUser(context->engine.Read(), system);
  if (user.ok()) {
    if (user->has_password || user->deactivated) {
      return Status::Internal("the server notices user " + system +
                              " is an ordinary or deactivated account; configure another "
                              "NEBU_SERVER_NOTICES_LOCALPART");
    }
    return Status::Ok();
  }
  if (user.status().code() != StatusCode::kNotFound) return user.status();
  NEBU_ASSIGN_OR_RETURN(std::string payload,
                        accounts::EncodeAccountCommand(accounts::RegisterCommand{
                            .user_id = system,
                            .created_ts = context->NowMs(),
                            .displayname = std::string(kNoticesRoomName)}));
  Status made = SubmitStatus(context->engine, {core::CommandKind::kAccount, payload});
  if (made.code() == StatusCode::kAlreadyExists) return EnsureSystemUser(context);
  return made;
}

// The remembered room when the target is still invited or joined there.
Result<std::optional<std::string>> UsableNoticeRoom(Context* context, const std::string& user_id) {
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> room,
                        admin::GetNoticeRoom(context->engine.Read(), user_id));
  if (!room) return room;
  Result<rooms::RoomState> state = context->engine.CurrentState(*room);
  if (!state.ok()) return std::optional<std::string>();
  const rooms::Membership m = state->MembershipOf(user_id);
  const bool usable = (m == rooms::Membership::kInvite || m == rooms::Membership::kJoin) &&
                      state->MembershipOf(SystemUser(*context)) == rooms::Membership::kJoin;
  return usable ? room : std::optional<std::string>();
}

Result<std::string> CreateNoticeRoom(Context* context, const std::string& user_id) {
  const std::string system = SystemUser(*context);
  rooms::CreateRoomRequest request;
  request.preset = "private_chat";
  request.name = std::string(kNoticesRoomName);
  request.invite = {user_id};
  request.power_level_content_override =
      json::object{{"events_default", kNoticesSenderPowerLevel},
                   {"state_default", kNoticesSenderPowerLevel},
                   {"invite", kNoticesSenderPowerLevel},
                   {"users", json::object{{system, kNoticesSenderPowerLevel}}}};
  NEBU_ASSIGN_OR_RETURN(core::CreatedRoom room, context->engine.CreateRoom(request, system));
  NEBU_ASSIGN_OR_RETURN(std::string tag,
                        accounts::EncodeAccountCommand(accounts::EditTagCommand{
                            .user_id = user_id, .room_id = room.room_id,
                            .tag = std::string(kNoticeTag), .tag_content = json::object{}}));
  NEBU_RETURN_IF_ERROR(SubmitStatus(context->engine, {core::CommandKind::kAccount, tag}));
  NEBU_ASSIGN_OR_RETURN(std::string remember,
                        admin::EncodeAdminCommand(admin::SetNoticeRoomCommand{
                            .user_id = user_id, .room_id = room.room_id}));
  NEBU_RETURN_IF_ERROR(SubmitStatus(context->engine, {core::CommandKind::kAudit, remember}));
  return room.room_id;
}

// The blocking part (on the context's worker): the system user, the room, the event.
Result<std::string> SendNotice(Context* context, const Notice& notice) {
  NEBU_RETURN_IF_ERROR(EnsureSystemUser(context));
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> room, UsableNoticeRoom(context, notice.user_id));
  if (!room) {
    NEBU_ASSIGN_OR_RETURN(std::string made, CreateNoticeRoom(context, notice.user_id));
    room = std::move(made);
  }
  core::SendEventRequest request;
  request.room_id = *room;
  request.sender = SystemUser(*context);
  if (!notice.txn_key.empty()) {
    request.device_id = "SERVERNOTICES";
    request.txn_id = notice.txn_key;
  }
  request.type = notice.type;
  request.state_key = notice.state_key;
  request.content = notice.content;
  NEBU_ASSIGN_OR_RETURN(core::AppendedEvent event, context->engine.SendEvent(std::move(request)));
  return event.event_id;
}

// The notice a request asks for, or its 4xx answer.
std::variant<Notice, Response> ParseNotice(Context* context, const Call& call) {
  auto parsed = ParseJsonBody(call.request);
  if (auto* e = std::get_if<Response>(&parsed)) return std::move(*e);
  const json::object& body = std::get<json::object>(parsed);
  Notice notice;
  const json::value* user = body.if_contains("user_id");
  const json::value* content = body.if_contains("content");
  if (user == nullptr) return ErrorResponse(400, "M_MISSING_PARAM", "Missing user_id");
  if (content == nullptr) return ErrorResponse(400, "M_MISSING_PARAM", "Missing content");
  if (!user->is_string() || !content->is_object()) {
    return ErrorResponse(400, "M_BAD_JSON", "user_id must be a string and content an object");
  }
  notice.user_id = std::string(user->as_string());
  notice.content = content->as_object();
  if (const json::value* type = body.if_contains("type"); type != nullptr) {
    if (!type->is_string() || type->as_string().empty()) {
      return ErrorResponse(400, "M_INVALID_PARAM", "type must be a non-empty string");
    }
    notice.type = std::string(type->as_string());
  }
  if (const json::value* key = body.if_contains("state_key"); key != nullptr) {
    if (!key->is_string()) return ErrorResponse(400, "M_INVALID_PARAM", "state_key must be a string");
    notice.state_key = std::string(key->as_string());
  }
  if (!notice.user_id.starts_with('@') ||
      !notice.user_id.ends_with(":" + context->server_name())) {
    return ErrorResponse(400, "M_INVALID_PARAM", "Server notices can only be sent to local users");
  }
  Result<accounts::User> target = accounts::GetUser(context->engine.Read(), notice.user_id);
  if (!target.ok() && target.status().code() != StatusCode::kNotFound) {
    return ErrorResponse(target.status());
  }
  if (!target.ok() || target->deactivated) return ErrorResponse(404, "M_NOT_FOUND", "Unknown user");
  if (notice.user_id == SystemUser(*context)) {
    return ErrorResponse(400, "M_INVALID_PARAM", "Cannot send a server notice to the notices user");
  }
  if (auto txn = call.params.find("txnId"); txn != call.params.end()) {
    const std::string key = call.caller.user_id + "\n" + call.caller.device_id + "\n" + txn->second;
    notice.txn_key = HexEncode(Sha256(key)).substr(0, kNoticeTxnKeyHexChars);
  }
  return notice;
}

void SendServerNotice(Context* context, const Call& call, Finish finish) {
  auto parsed = ParseNotice(context, call);
  if (auto* error = std::get_if<Response>(&parsed)) return finish(std::move(*error));
  Notice notice = std::get<Notice>(std::move(parsed));
  auto task = [context, notice = std::move(notice), finish]() {
    Result<std::string> event_id = SendNotice(context, notice);
    if (!event_id.ok()) return finish(ErrorResponse(event_id.status()));
    finish(JsonResponse(200, json::object{{"event_id", *event_id}}));
  };
  if (!context->pool.Post(task)) {
    finish(ErrorResponse(429, "M_LIMIT_EXCEEDED", "Too many server notices at once; retry"));
  }
}

}  // namespace

void AddServerNoticeRoutes(Router& router, const ContextPtr& context) {
  const std::string path = "/_synapse/admin/v1/send_server_notice";
  AddRoute(router, context, "POST", path, "server_notice.send", Surface::kAdmin, SendServerNotice);
  AddRoute(router, context, "PUT", path + "/{txnId}", "server_notice.send", Surface::kAdmin,
           SendServerNotice);
}

}  // namespace nebu::api::admin_internal
