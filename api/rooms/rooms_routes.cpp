#include "api/rooms/rooms_routes.h"

#include <boost/json.hpp>
#include <functional>
#include <memory>
#include <utility>

#include <spdlog/spdlog.h>

#include "api/accounts/account_common.h"
#include "api/auth.h"
#include "api/errors.h"
#include "api/rate_limit.h"
#include "api/txn_scope.h"
#include "api/rooms/rooms_common.h"
#include "api/rooms/threads_routes.h"
#include "engine/accounts/accounts.h"
#include "engine/common/crypto.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/event/identifiers.h"
#include "engine/rooms/room_creation.h"

namespace nebu::api {

namespace json = boost::json;
using rooms_internal::AddAsyncRoute;
using rooms_internal::AddRoute;
using rooms_internal::ForbiddenRoom;
using rooms_internal::RoomError;

namespace {

// What a committed event answers: {"event_id"} for sends, {} or {"room_id"} for
// membership changes.
using AnswerFor = std::function<Response(const core::AppendedEvent&)>;

Response EventIdAnswer(const core::AppendedEvent& event) {
  return JsonResponse(200, json::object{{"event_id", event.event_id}});
}

Response EmptyAnswer(const core::AppendedEvent&) { return JsonResponse(200, json::object{}); }

Response RoomIdAnswer(const core::AppendedEvent& event) {
  return JsonResponse(200, json::object{{"room_id", event.room_id}});
}

// The response to a refused event.
using ErrorFor = std::function<Response(const Status&)>;

// RoomError, except the restricted-join refusals (core/room_applier.h) whose status
// message starts with their errcode: 400 M_UNABLE_TO_AUTHORISE_JOIN (no allowed room
// is known here) and 400 M_UNABLE_TO_GRANT_JOIN (no member may authorise the join).
Response JoinError(const Status& status) {
  for (std::string_view errcode : {core::kUnableToAuthoriseJoin, core::kUnableToGrantJoin}) {
    if (status.code() == StatusCode::kInvalidArgument && status.message().starts_with(errcode)) {
      return ErrorResponse(400, errcode, status.message());
    }
  }
  return RoomError(status);
}

Response AnswerOutcome(const core::ApplyOutcome& outcome, const AnswerFor& answer,
                       const ErrorFor& error) {
  if (!outcome.ok()) return error(outcome.status());
  Result<std::vector<core::AppendedEvent>> events = core::DecodeAppended(*outcome);
  if (!events.ok()) return ErrorResponse(events.status());
  if (events->size() != 1) return ErrorResponse(Status::Internal("send made no single event"));
  return answer(events->front());
}

// Proposes the event; `respond` gets answer(event) once it is committed and applied.
void SubmitEvent(core::Engine& engine, core::SendEventRequest request, const Respond& respond,
                 AnswerFor answer, ErrorFor error = RoomError) {
  request.origin_server_ts = engine.clock().NowUnixMs();
  Result<core::Command> command = core::MakeSendEventCommand(request);
  if (!command.ok()) return respond(ErrorResponse(command.status()));
  engine.SubmitAsync(std::move(command).value(),
                     [respond, answer = std::move(answer),
                      error = std::move(error)](core::ApplyOutcome outcome) {
                       respond(AnswerOutcome(outcome, answer, error));
                     });
}

// What a shadow-banned caller's send, state event or redaction answers (Synapse's
// shadow-ban: success with an event ID that names no event, nothing written).
Response ShadowBannedEventAnswer() {
  return JsonResponse(200, json::object{{"event_id", "$" + RandomAlnum(kFakeEventIdChars)}});
}

// The caller, or the ready error response.
std::variant<Caller, Response> CallerOf(const Request& request, core::Engine& engine) {
  return Authenticate(request, engine);
}

// OK when `user_id` is joined to the room now; else ForbiddenRoom() (also for an
// unknown room).
std::optional<Response> RequireJoined(core::Engine& engine, std::string_view room_id,
                                      std::string_view user_id) {
  Result<core::RoomMeta> meta = engine.GetRoom(room_id);
  if (!meta.ok()) return RoomError(meta.status());
  Result<std::optional<core::MembershipRecord>> record =
      core::GetMembershipRecord(engine.Read(), user_id, meta->number);
  if (!record.ok()) return ErrorResponse(record.status());
  if (!*record || (*record)->membership != rooms::Membership::kJoin) return ForbiddenRoom();
  return std::nullopt;
}

std::optional<Response> CheckBodySize(const Request& request) {
  if (request.body.size() <= kEventBodyBytesMax) return std::nullopt;
  return ErrorResponse(413, "M_TOO_LARGE", "Event body exceeds 65536 bytes");
}

// ---- POST /createRoom ----

Response CreateRoomError(const Status& status) {
  const std::string& message = status.message();
  if (status.code() == StatusCode::kAlreadyExists) {
    return ErrorResponse(400, "M_ROOM_IN_USE", "Room alias already taken");
  }
  if (status.code() == StatusCode::kInvalidArgument) {
    for (std::string_view errcode : {"M_UNSUPPORTED_ROOM_VERSION", "M_INVALID_ROOM_STATE"}) {
      if (message.find(errcode) != std::string::npos) return ErrorResponse(400, errcode, message);
    }
  }
  return ErrorResponse(status);
}

// The clock of the per-user limiters (api/rate_limit.h).
int64_t LimiterNowMs(core::Engine& engine) { return engine.clock().NowMonotonicNs() / 1'000'000; }

// Plans the room on this thread (cheap) and answers once its command is committed
// and applied, holding no thread meanwhile (as sends do).
void HandleCreateRoom(core::Engine& engine, UserRateLimits& limits, const Request& request,
                      const Respond& respond) {
  auto caller = CallerOf(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(*error);
  if (auto limited = Limited(limits.create_room, std::get<Caller>(caller).user_id,
                             LimiterNowMs(engine))) {
    return respond(*limited);
  }
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return respond(*error);
  Result<rooms::CreateRoomRequest> parsed =
      rooms::ParseCreateRoomRequest(std::get<json::object>(body));
  if (!parsed.ok()) return respond(CreateRoomError(parsed.status()));
  // A shadow-banned creator gets the room but its invites are dropped (Synapse).
  if (std::get<Caller>(caller).shadow_banned) parsed->invite.clear();
  std::string room_id;
  Result<core::Command> command =
      engine.PlanCreateRoom(*parsed, std::get<Caller>(caller).user_id, &room_id);
  if (!command.ok()) return respond(CreateRoomError(command.status()));
  engine.SubmitAsync(std::move(command).value(),
                     [respond, room_id](const core::ApplyOutcome& outcome) {
                       respond(outcome.ok()
                                   ? JsonResponse(200, json::object{{"room_id", room_id}})
                                   : CreateRoomError(outcome.status()));
                     });
}

// ---- membership ----

// An m.room.member event for `target` in `room_id` by the caller.
core::SendEventRequest MemberEvent(const Caller& caller, std::string_view room_id,
                                   std::string_view target, std::string_view membership,
                                   const json::object& body) {
  core::SendEventRequest event;
  event.room_id = std::string(room_id);
  event.sender = caller.user_id;
  event.type = "m.room.member";
  event.state_key = std::string(target);
  event.content["membership"] = membership;
  if (const json::value* reason = body.if_contains("reason"); reason && reason->is_string()) {
    event.content["reason"] = *reason;
  }
  return event;
}

// The room id of a room id or an alias; the ready error response otherwise.
std::variant<std::string, Response> ResolveRoom(core::Engine& engine, std::string_view id) {
  if (event::IsValidRoomId(id)) return std::string(id);
  if (!event::IsValidRoomAlias(id)) {
    return ErrorResponse(400, "M_INVALID_PARAM", "Not a room id or alias");
  }
  Result<std::optional<std::string>> room_id = core::ResolveRoomAlias(engine.Read(), id);
  if (!room_id.ok()) return ErrorResponse(room_id.status());
  if (!*room_id) return ErrorResponse(404, "M_NOT_FOUND", "Room alias not found");
  return std::move(**room_id);
}

// 429 when the caller's membership bucket is empty.
std::optional<Response> MembershipLimited(core::Engine& engine, UserRateLimits& limits,
                                          const std::variant<Caller, Response>& caller) {
  const auto* who = std::get_if<Caller>(&caller);
  if (who == nullptr) return std::nullopt;
  return Limited(limits.membership, who->user_id, LimiterNowMs(engine));
}

// The caller's own m.room.member event of `membership` (join, knock) into the room
// `id` names (a room ID or alias), with the body's reason and the caller's profile
// (displayname, avatar_url: read when it is applied, as clients expect); or the
// error response (authentication, the membership rate limit, the body, the room).
std::variant<core::SendEventRequest, Response> OwnMemberEvent(core::Engine& engine,
                                                              UserRateLimits& limits,
                                                              const Request& request,
                                                              std::string_view id,
                                                              std::string_view membership) {
  auto caller = CallerOf(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  if (auto limited = MembershipLimited(engine, limits, caller)) return *limited;
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return *error;
  auto room_id = ResolveRoom(engine, id);
  if (auto* error = std::get_if<Response>(&room_id)) return *error;
  const Caller& who = std::get<Caller>(caller);
  core::SendEventRequest event = MemberEvent(who, std::get<std::string>(room_id), who.user_id,
                                             membership, std::get<json::object>(body));
  event.sender_profile = true;
  return event;
}

void HandleJoin(core::Engine& engine, UserRateLimits& limits, const Request& request,
                std::string_view id, const Respond& respond) {
  auto made = OwnMemberEvent(engine, limits, request, id, "join");
  if (auto* error = std::get_if<Response>(&made)) return respond(*error);
  core::SendEventRequest event = std::move(std::get<core::SendEventRequest>(made));
  event.restricted_join = true;  // a restricted join rule is checked when it is applied
  std::optional<std::string> predecessor = rooms_internal::PredecessorOf(engine, event.room_id);
  if (!predecessor) return SubmitEvent(engine, std::move(event), respond, RoomIdAnswer, JoinError);
  // An upgraded room: the caller's tags and room push rules follow them in, and the
  // join is answered once they have.
  Respond then_copy = [&engine, user = event.sender, old_room = *predecessor,
                       new_room = event.room_id, respond](Response answer) {
    if (answer.status != 200) return respond(std::move(answer));
    auto shared = std::make_shared<Response>(std::move(answer));
    rooms_internal::CopyUserStateAfterJoin(engine, user, old_room, new_room,
                                           [respond, shared] { respond(std::move(*shared)); });
  };
  SubmitEvent(engine, std::move(event), then_copy, RoomIdAnswer, JoinError);
}

// POST /knock/{roomIdOrAlias}: an m.room.member knock of the caller (with reason and
// the caller's profile); the auth rules allow it only under a knock or
// knock_restricted join rule. `via` / `server_name` name servers to knock through:
// every room is local, so they are ignored.
void HandleKnock(core::Engine& engine, UserRateLimits& limits, const Request& request,
                 std::string_view id, const Respond& respond) {
  auto made = OwnMemberEvent(engine, limits, request, id, "knock");
  if (auto* error = std::get_if<Response>(&made)) return respond(*error);
  SubmitEvent(engine, std::move(std::get<core::SendEventRequest>(made)), respond, RoomIdAnswer,
              [](const Status& status) {
                if (status.code() == StatusCode::kNotFound) {
                  return ErrorResponse(404, "M_NOT_FOUND", "Room not found");
                }
                return RoomError(status);
              });
}

// leave, invite, kick, ban, unban. `membership` is what the target gets; targets
// other than the caller come from the body's user_id and need the caller joined.
void HandleMembership(core::Engine& engine, UserRateLimits& limits, const Request& request,
                      const PathParams& params, std::string_view membership, bool targets_other,
                      const Respond& respond) {
  auto caller = CallerOf(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(*error);
  if (auto limited = MembershipLimited(engine, limits, caller)) return respond(*limited);
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return respond(*error);
  const Caller& who = std::get<Caller>(caller);
  const json::object& object = std::get<json::object>(body);
  const std::string& room_id = params.at("roomId");
  std::string target = who.user_id;
  if (targets_other) {
    const json::value* user_id = object.if_contains("user_id");
    if (!user_id || !user_id->is_string()) {
      return respond(ErrorResponse(400, "M_BAD_JSON", "user_id is required"));
    }
    target = std::string(user_id->as_string());
    if (!event::IsValidUserId(target)) {
      return respond(ErrorResponse(400, "M_INVALID_PARAM", "user_id is not a user ID"));
    }
    if (auto error = RequireJoined(engine, room_id, who.user_id)) return respond(*error);
  }
  if (who.shadow_banned && membership == "invite") {
    return respond(JsonResponse(200, json::object{}));  // dropped, as Synapse does
  }
  core::SendEventRequest event = MemberEvent(who, room_id, target, membership, object);
  // An invite carries the invitee's displayname and avatar_url, read when it is
  // applied, so clients can show "alice invited Bob".
  event.target_profile = membership == "invite";
  SubmitEvent(engine, std::move(event), respond, EmptyAnswer);
}

// POST /rooms/{roomId}/forget: an accounts "forget_room" command; the state machine
// checks the membership again when it applies it (a race with a re-join is refused).
void HandleForget(core::Engine& engine, UserRateLimits& limits, const Request& request,
                  const PathParams& params, const Respond& respond) {
  auto caller = CallerOf(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(*error);
  if (auto limited = MembershipLimited(engine, limits, caller)) return respond(*limited);
  const std::string& room_id = params.at("roomId");
  if (!event::IsValidRoomId(room_id)) return respond(ForbiddenRoom());
  accounts::ForgetRoomCommand command{.user_id = std::get<Caller>(caller).user_id,
                                      .room_id = room_id};
  account_internal::SubmitCommand(engine, command, [respond](core::ApplyOutcome outcome) {
    if (outcome.ok()) return respond(JsonResponse(200, json::object{}));
    if (outcome.status().code() == StatusCode::kInvalidArgument) {
      return respond(ErrorResponse(400, "M_UNKNOWN", "User is in the room"));
    }
    respond(RoomError(outcome.status()));
  });
}

Response HandleJoinedRooms(core::Engine& engine, const Request& request) {
  auto caller = CallerOf(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  auto rooms = engine.RoomsOf(std::get<Caller>(caller).user_id);
  if (!rooms.ok()) return ErrorResponse(rooms.status());
  json::array joined;
  for (const auto& [room_id, membership] : *rooms) {
    if (membership == rooms::Membership::kJoin) joined.emplace_back(room_id);
  }
  return JsonResponse(200, json::object{{"joined_rooms", std::move(joined)}});
}

Response HandleGetAlias(core::Engine& engine, const Request& request, const PathParams& params) {
  auto caller = CallerOf(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  const std::string& alias = params.at("roomAlias");
  if (!event::IsValidRoomAlias(alias)) {
    return ErrorResponse(400, "M_INVALID_PARAM", "Not a room alias");
  }
  Result<std::optional<std::string>> room_id = core::ResolveRoomAlias(engine.Read(), alias);
  if (!room_id.ok()) return ErrorResponse(room_id.status());
  if (!*room_id) return ErrorResponse(404, "M_NOT_FOUND", "Room alias not found");
  return JsonResponse(200,
                      json::object{{"room_id", **room_id},
                                   {"servers", json::array{json::value(engine.server_name())}}});
}

// PUT and DELETE /directory/room/{roomAlias}: an alias command through the write path.
void HandleAliasWrite(core::Engine& engine, const Request& request, const PathParams& params,
                      core::AliasCommand::Op op, const Respond& respond) {
  auto caller = CallerOf(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(*error);
  core::AliasCommand command{op, params.at("roomAlias"), "", std::get<Caller>(caller).user_id};
  if (!event::IsValidRoomAlias(command.alias) ||
      event::ServerNameOf(command.alias) != engine.server_name()) {
    return respond(ErrorResponse(400, "M_INVALID_PARAM", "Not a room alias of this server"));
  }
  if (op == core::AliasCommand::Op::kPut) {
    auto body = ParseJsonBody(request);
    if (auto* error = std::get_if<Response>(&body)) return respond(*error);
    const json::value* room_id = std::get<json::object>(body).if_contains("room_id");
    if (!room_id || !room_id->is_string()) {
      return respond(ErrorResponse(400, "M_MISSING_PARAM", "room_id is required"));
    }
    command.room_id = std::string(room_id->as_string());
  }
  Result<core::Command> proposal = core::MakeAliasCommand(command);
  if (!proposal.ok()) return respond(ErrorResponse(proposal.status()));
  engine.SubmitAsync(std::move(proposal).value(), [op, respond](core::ApplyOutcome out) {
    if (out.ok()) return respond(JsonResponse(200, json::object{}));
    const StatusCode code = out.status().code();
    if (code == StatusCode::kAlreadyExists) {
      return respond(ErrorResponse(409, "M_UNKNOWN", "Room alias already exists"));
    }
    if (code == StatusCode::kNotFound && op == core::AliasCommand::Op::kDelete) {
      return respond(ErrorResponse(404, "M_NOT_FOUND", "Room alias not found"));
    }
    respond(RoomError(out.status()));
  });
}

// PUT /directory/list/room/{roomId} {"visibility": "public"|"private"} (default
// public): lists or unlists the room in the published room directory.
void HandleSetRoomVisibility(core::Engine& engine, const Request& request,
                             const PathParams& params, const Respond& respond) {
  auto caller = CallerOf(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(*error);
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return respond(*error);
  std::string visibility = "public";
  if (const json::value* v = std::get<json::object>(body).if_contains("visibility");
      v && !v->is_null()) {
    if (!v->is_string()) return respond(ErrorResponse(400, "M_BAD_JSON", "visibility must be a string"));
    visibility = std::string(v->as_string());
    if (visibility != "public" && visibility != "private") {
      return respond(ErrorResponse(400, "M_INVALID_PARAM", "visibility is public or private"));
    }
  }
  const std::string& room_id = params.at("roomId");
  if (!engine.GetRoom(room_id).ok()) return respond(ErrorResponse(404, "M_NOT_FOUND", "Room not found"));
  core::AliasCommand command{visibility == "public" ? core::AliasCommand::Op::kPublish
                                                    : core::AliasCommand::Op::kUnpublish,
                             "", room_id, std::get<Caller>(caller).user_id};
  Result<core::Command> proposal = core::MakeAliasCommand(command);
  if (!proposal.ok()) return respond(ErrorResponse(proposal.status()));
  engine.SubmitAsync(std::move(proposal).value(), [respond](core::ApplyOutcome out) {
    respond(out.ok() ? JsonResponse(200, json::object{}) : RoomError(out.status()));
  });
}

// ---- send, state, redact ----

// Checks shared by the three event writes; the caller and body, or the response.
std::variant<std::pair<Caller, json::object>, Response> PrepareWrite(core::Engine& engine,
                                                                     const Request& request,
                                                                     std::string_view room_id) {
  if (auto error = CheckBodySize(request)) return *error;
  auto caller = CallerOf(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return *error;
  Caller who = std::get<Caller>(std::move(caller));
  if (auto error = RequireJoined(engine, room_id, who.user_id)) return *error;
  return std::pair(std::move(who), std::get<json::object>(std::move(body)));
}

// 429 M_LIMIT_EXCEEDED when the user's event bucket is empty.
std::optional<Response> SendLimited(core::Engine& engine, RateLimiter& limiter,
                                    const std::string& user_id) {
  int64_t wait_ms = limiter.Acquire(user_id, engine.clock().NowUnixMs());
  if (wait_ms > 0) return RateLimitedResponse(wait_ms);
  return std::nullopt;
}

void HandleSend(core::Engine& engine, RateLimiter& limiter, const Request& request,
                const PathParams& params, std::optional<std::string> state_key,
                const Respond& respond) {
  const std::string& room_id = params.at("roomId");
  auto prepared = PrepareWrite(engine, request, room_id);
  if (auto* error = std::get_if<Response>(&prepared)) return respond(*error);
  auto& [who, content] = std::get<0>(prepared);
  if (auto limited = SendLimited(engine, limiter, who.user_id)) return respond(*limited);
  if (who.shadow_banned) return respond(ShadowBannedEventAnswer());
  if (!state_key) {
    if (auto refused = CheckThreadTarget(engine, room_id, content)) return respond(*refused);
  }
  core::SendEventRequest event;
  event.room_id = room_id;
  event.sender = who.user_id;
  event.type = params.at("eventType");
  event.state_key = std::move(state_key);
  event.content = std::move(content);
  if (!event.state_key) {
    event.device_id = who.device_id;
    event.txn_id = ScopedTxnId("send", room_id, params.at("txnId"));
  }
  SubmitEvent(engine, std::move(event), respond, EventIdAnswer);
}

void HandleRedact(core::Engine& engine, RateLimiter& limiter, const Request& request,
                  const PathParams& params, const Respond& respond) {
  const std::string& room_id = params.at("roomId");
  auto prepared = PrepareWrite(engine, request, room_id);
  if (auto* error = std::get_if<Response>(&prepared)) return respond(*error);
  auto& [who, body] = std::get<0>(prepared);
  if (auto limited = SendLimited(engine, limiter, who.user_id)) return respond(*limited);
  if (who.shadow_banned) return respond(ShadowBannedEventAnswer());
  core::SendEventRequest event;
  event.room_id = room_id;
  event.sender = who.user_id;
  event.type = "m.room.redaction";
  if (const json::value* reason = body.if_contains("reason"); reason && reason->is_string()) {
    event.content["reason"] = *reason;
  }
  event.redacts = params.at("eventId");
  event.device_id = who.device_id;
  event.txn_id = ScopedTxnId("redact", room_id, params.at("txnId"));
  SubmitEvent(engine, std::move(event), respond, EventIdAnswer);
}

void AddMembershipRoutes(Router& router, core::Engine& engine,
                         const std::shared_ptr<UserRateLimits>& limits) {
  AddAsyncRoute(router, "POST", "/join/{roomIdOrAlias}",
                [&engine, limits](const Request& r, const PathParams& p, Respond respond) {
                  HandleJoin(engine, *limits, r, p.at("roomIdOrAlias"), respond);
                });
  AddAsyncRoute(router, "POST", "/rooms/{roomId}/join",
                [&engine, limits](const Request& r, const PathParams& p, Respond respond) {
                  HandleJoin(engine, *limits, r, p.at("roomId"), respond);
                });
  AddAsyncRoute(router, "POST", "/knock/{roomIdOrAlias}",
                [&engine, limits](const Request& r, const PathParams& p, Respond respond) {
                  HandleKnock(engine, *limits, r, p.at("roomIdOrAlias"), respond);
                });
  struct Change {
    std::string_view action, membership;
    bool targets_other;
  };
  for (Change c : {Change{"leave", "leave", false}, Change{"invite", "invite", true},
                   Change{"kick", "leave", true}, Change{"ban", "ban", true},
                   Change{"unban", "leave", true}}) {
    AddAsyncRoute(router, "POST", "/rooms/{roomId}/" + std::string(c.action),
                  [&engine, limits, c](const Request& r, const PathParams& p, Respond respond) {
                    HandleMembership(engine, *limits, r, p, c.membership, c.targets_other,
                                     respond);
                  });
  }
  AddAsyncRoute(router, "POST", "/rooms/{roomId}/forget",
                [&engine, limits](const Request& r, const PathParams& p, Respond respond) {
                  HandleForget(engine, *limits, r, p, respond);
                });
}

void AddEventWriteRoutes(Router& router, core::Engine& engine,
                         const std::shared_ptr<RateLimiter>& limiter) {
  const RouteOptions event_body{.body_bytes_max = kEventBodyBytesMax};
  AddAsyncRoute(
      router, "PUT", "/rooms/{roomId}/send/{eventType}/{txnId}",
      [&engine, limiter](const Request& r, const PathParams& p, Respond respond) {
        HandleSend(engine, *limiter, r, p, std::nullopt, respond);
      },
      event_body);
  AddAsyncRoute(
      router, "PUT", "/rooms/{roomId}/state/{eventType}/{stateKey}",
      [&engine, limiter](const Request& r, const PathParams& p, Respond respond) {
        HandleSend(engine, *limiter, r, p, p.at("stateKey"), respond);
      },
      event_body);
  AddAsyncRoute(
      router, "PUT", "/rooms/{roomId}/state/{eventType}",
      [&engine, limiter](const Request& r, const PathParams& p, Respond respond) {
        HandleSend(engine, *limiter, r, p, std::string(), respond);
      },
      event_body);
  AddAsyncRoute(
      router, "PUT", "/rooms/{roomId}/redact/{eventId}/{txnId}",
      [&engine, limiter](const Request& r, const PathParams& p, Respond respond) {
        HandleRedact(engine, *limiter, r, p, respond);
      },
      event_body);
}

}  // namespace

void AddRoomRoutes(Router& router, core::Engine& engine, RoomRoutesConfig config) {
  std::shared_ptr<UserRateLimits> limits =
      config.user_limits ? config.user_limits : std::make_shared<UserRateLimits>(config.rate_limit);
  AddAsyncRoute(router, "POST", "/createRoom",
                [&engine, limits](const Request& r, const PathParams&, Respond respond) {
                  HandleCreateRoom(engine, *limits, r, respond);
                });
  AddRoute(router, "GET", "/joined_rooms",
           [&engine](const Request& r, const PathParams&) { return HandleJoinedRooms(engine, r); });
  AddRoute(
      router, "GET", "/directory/room/{roomAlias}",
      [&engine](const Request& r, const PathParams& p) { return HandleGetAlias(engine, r, p); });
  for (const auto& [method, alias_op] : {std::pair{"PUT", core::AliasCommand::Op::kPut},
                                         std::pair{"DELETE", core::AliasCommand::Op::kDelete}}) {
    // A copy: clang 14 cannot capture a structured binding.
    const core::AliasCommand::Op op = alias_op;
    AddAsyncRoute(router, method, "/directory/room/{roomAlias}",
                  [&engine, op](const Request& r, const PathParams& p, Respond respond) {
                    HandleAliasWrite(engine, r, p, op, respond);
                  });
  }
  AddAsyncRoute(router, "PUT", "/directory/list/room/{roomId}",
                [&engine](const Request& r, const PathParams& p, Respond respond) {
                  HandleSetRoomVisibility(engine, r, p, respond);
                });
  AddMembershipRoutes(router, engine, limits);
  AddEventWriteRoutes(router, engine,
                      std::make_shared<RateLimiter>(kSendRateLimit, config.rate_limit));
  rooms_internal::AddRoomReadRoutes(router, engine);
}

}  // namespace nebu::api
