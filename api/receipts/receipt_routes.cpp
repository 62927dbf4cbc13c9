// Receipts, read markers and typing (receipt_routes.h).
#include "api/receipts/receipt_routes.h"

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "api/auth.h"
#include "api/errors.h"
#include "api/rooms/rooms_common.h"
#include "api/sync/typing.h"
#include "engine/accounts/commands.h"
#include "engine/core/engine.h"
#include "engine/event/identifiers.h"
#include "engine/receipts/receipts.h"
#include "engine/storage/room_log.h"

namespace nebu::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kFullyRead = "m.fully_read";
constexpr std::string_view kMainThread = "main";
constexpr int64_t kTypingTimeoutMsDefault = 30000;

struct Joined {
  Caller caller;
  core::RoomMeta room;
};

// The caller, who must be joined to {roomId} now; else the ready error.
std::variant<Joined, Response> JoinedCaller(const Request& request, core::Engine& engine,
                                            const std::string& room_id) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  if (!event::IsValidRoomId(room_id)) return rooms_internal::ForbiddenRoom();
  Result<core::RoomMeta> room = engine.GetRoom(room_id);
  if (!room.ok()) return rooms_internal::RoomError(room.status());
  if (engine.MembershipOf(std::get<Caller>(caller).user_id, room->number) !=
      rooms::Membership::kJoin) {
    return rooms_internal::ForbiddenRoom();
  }
  return Joined{std::move(std::get<Caller>(caller)), std::move(room).value()};
}

// nullopt when event_id is an event of `room`; else 400 (malformed) or 404.
std::optional<Response> CheckEventInRoom(core::Engine& engine, storage::RoomNumber room,
                                         std::string_view event_id) {
  if (!event::IsValidEventId(event_id)) {
    return ErrorResponse(400, "M_INVALID_PARAM", "Not an event ID");
  }
  auto located = core::LocateEvent(engine.Read(), event_id);
  if (!located.ok() && located.status().code() != StatusCode::kNotFound) {
    return ErrorResponse(located.status());
  }
  if (!located.ok() || located->first != room) {
    return ErrorResponse(404, "M_NOT_FOUND", "Event not found in this room");
  }
  return std::nullopt;
}

// The command that sets one receipt or the read marker.
Result<core::Command> MarkerCommand(core::Engine& engine, const Joined& joined,
                                    std::string_view type, const std::string& event_id,
                                    const std::string& thread_id) {
  if (type == kFullyRead) {
    accounts::PutAccountDataCommand put{.user_id = joined.caller.user_id,
                                        .room_id = joined.room.room_id,
                                        .type = std::string(kFullyRead),
                                        .content = json::object{{"event_id", event_id}}};
    NEBU_ASSIGN_OR_RETURN(std::string payload, accounts::EncodeAccountCommand(put));
    return core::Command{core::CommandKind::kAccount, std::move(payload)};
  }
  receipts::ReceiptCommand receipt{.room_id = joined.room.room_id,
                                   .user_id = joined.caller.user_id,
                                   .type = std::string(type),
                                   .event_id = event_id,
                                   .thread_id = thread_id,
                                   .ts = engine.clock().NowUnixMs()};
  NEBU_ASSIGN_OR_RETURN(std::string payload, receipts::EncodeReceiptCommand(receipt));
  return core::Command{core::CommandKind::kReceipt, std::move(payload)};
}

// Proposes every command (in order) and answers once: 200 {} when all applied, the
// first failure's error otherwise.
void SubmitAll(core::Engine& engine, std::vector<core::Command> commands, Respond respond) {
  if (commands.empty()) return respond(JsonResponse(200, json::object{}));
  struct Pending {
    std::mutex mu;
    size_t remaining = 0;
    std::optional<Status> failure;
    Respond respond;
  };
  auto pending = std::make_shared<Pending>();
  pending->remaining = commands.size();
  pending->respond = std::move(respond);
  for (core::Command& command : commands) {
    engine.SubmitAsync(std::move(command), [pending](core::ApplyOutcome outcome) {
      std::lock_guard lock(pending->mu);
      if (!outcome.ok() && !pending->failure) pending->failure = outcome.status();
      if (--pending->remaining > 0) return;
      pending->respond(pending->failure ? ErrorResponse(*pending->failure)
                                        : JsonResponse(200, json::object{}));
    });
  }
}

bool IsMarkerType(std::string_view type) {
  return type == receipts::kReceiptTypeRead || type == receipts::kReceiptTypeReadPrivate ||
         type == kFullyRead;
}

// 429 when the user's `limiter` bucket is empty.
std::optional<Response> UserLimited(core::Engine& engine, RateLimiter& limiter,
                                    const std::string& user_id) {
  return Limited(limiter, user_id, engine.clock().NowMonotonicNs() / 1'000'000);
}

void PostReceipt(core::Engine& engine, UserRateLimits& limits, const Request& request,
                 const PathParams& params, Respond respond) {
  auto joined = JoinedCaller(request, engine, params.at("roomId"));
  if (auto* error = std::get_if<Response>(&joined)) return respond(*error);
  if (auto limited = UserLimited(engine, limits.receipts, std::get<Joined>(joined).caller.user_id)) {
    return respond(std::move(*limited));
  }
  const std::string& type = params.at("receiptType");
  if (!IsMarkerType(type)) {
    return respond(ErrorResponse(400, "M_INVALID_PARAM", "Unknown receipt type"));
  }
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return respond(*error);
  std::string thread_id;
  if (const json::value* t = std::get<json::object>(body).if_contains("thread_id")) {
    if (!t->is_string() || t->as_string().empty()) {
      return respond(
          ErrorResponse(400, "M_INVALID_PARAM", "thread_id field must be a non-empty string"));
    }
    thread_id = std::string(t->as_string());
    if (type == kFullyRead) {
      return respond(ErrorResponse(400, "M_INVALID_PARAM", "m.fully_read takes no thread_id"));
    }
    if (thread_id != kMainThread && !event::IsValidEventId(thread_id)) {
      return respond(ErrorResponse(400, "M_INVALID_PARAM",
                                   "thread_id must be \"main\" or a thread root's event ID"));
    }
  }
  const Joined& who = std::get<Joined>(joined);
  const std::string& event_id = params.at("eventId");
  if (auto error = CheckEventInRoom(engine, who.room.number, event_id)) return respond(*error);
  Result<core::Command> command = MarkerCommand(engine, who, type, event_id, thread_id);
  if (!command.ok()) return respond(ErrorResponse(command.status()));
  std::vector<core::Command> commands;
  commands.push_back(std::move(command).value());
  SubmitAll(engine, std::move(commands), std::move(respond));
}

void PostReadMarkers(core::Engine& engine, UserRateLimits& limits, const Request& request,
                     const PathParams& params, Respond respond) {
  auto joined = JoinedCaller(request, engine, params.at("roomId"));
  if (auto* error = std::get_if<Response>(&joined)) return respond(*error);
  if (auto limited = UserLimited(engine, limits.receipts, std::get<Joined>(joined).caller.user_id)) {
    return respond(std::move(*limited));
  }
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return respond(*error);
  const Joined& who = std::get<Joined>(joined);
  std::vector<core::Command> commands;
  for (std::string_view type :
       {kFullyRead, receipts::kReceiptTypeRead, receipts::kReceiptTypeReadPrivate}) {
    const json::value* v = std::get<json::object>(body).if_contains(type);
    if (v == nullptr || v->is_null()) continue;
    if (!v->is_string()) {
      return respond(ErrorResponse(400, "M_BAD_JSON", std::string(type) + " must be a string"));
    }
    const std::string event_id(v->as_string());
    if (auto error = CheckEventInRoom(engine, who.room.number, event_id)) return respond(*error);
    Result<core::Command> command = MarkerCommand(engine, who, type, event_id, "");
    if (!command.ok()) return respond(ErrorResponse(command.status()));
    commands.push_back(std::move(command).value());
  }
  SubmitAll(engine, std::move(commands), std::move(respond));
}

Response PutTyping(core::Engine& engine, UserRateLimits& limits, TypingTracker& typing,
                   const Request& request, const PathParams& params) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  if (std::get<Caller>(caller).user_id != params.at("userId")) {
    return ErrorResponse(403, "M_FORBIDDEN", "Cannot set another user's typing state");
  }
  auto joined = JoinedCaller(request, engine, params.at("roomId"));
  if (auto* error = std::get_if<Response>(&joined)) return *error;
  if (auto limited = UserLimited(engine, limits.typing, std::get<Caller>(caller).user_id)) {
    return *limited;
  }
  auto body = ParseJsonBody(request, /*canonical_numbers=*/false);
  if (auto* error = std::get_if<Response>(&body)) return *error;
  const json::object& o = std::get<json::object>(body);
  const json::value* is_typing = o.if_contains("typing");
  if (is_typing == nullptr) return ErrorResponse(400, "M_MISSING_PARAM", "Missing typing");
  if (!is_typing->is_bool()) return ErrorResponse(400, "M_BAD_JSON", "typing must be a boolean");
  double timeout_ms = kTypingTimeoutMsDefault;
  if (const json::value* t = o.if_contains("timeout"); t && !t->is_null()) {
    if (!t->is_number()) return ErrorResponse(400, "M_BAD_JSON", "timeout must be a number");
    timeout_ms = t->to_number<double>();
    if (timeout_ms < 0) return ErrorResponse(400, "M_INVALID_PARAM", "timeout is negative");
  }
  const auto timeout = std::chrono::milliseconds(
      static_cast<int64_t>(std::min(timeout_ms, static_cast<double>(kTypingTimeoutMax.count()))));
  typing.Set(params.at("roomId"), std::get<Caller>(caller).user_id, is_typing->as_bool(), timeout);
  return JsonResponse(200, json::object{});
}

}  // namespace

void AddReceiptRoutes(Router& router, core::Engine& engine, TypingTracker& typing,
                      std::shared_ptr<UserRateLimits> limits) {
  if (!limits) limits = std::make_shared<UserRateLimits>(/*enabled=*/false);
  const RouteOptions small_body{.body_bytes_max = kReceiptBodyBytesMax};
  rooms_internal::AddAsyncRoute(
      router, "POST", "/rooms/{roomId}/receipt/{receiptType}/{eventId}",
      [&engine, limits](const Request& r, const PathParams& p, Respond respond) {
        PostReceipt(engine, *limits, r, p, std::move(respond));
      },
      small_body);
  rooms_internal::AddAsyncRoute(
      router, "POST", "/rooms/{roomId}/read_markers",
      [&engine, limits](const Request& r, const PathParams& p, Respond respond) {
        PostReadMarkers(engine, *limits, r, p, std::move(respond));
      },
      small_body);
  rooms_internal::AddRoute(
      router, "PUT", "/rooms/{roomId}/typing/{userId}",
      [&engine, &typing, limits](const Request& r, const PathParams& p) {
        return PutTyping(engine, *limits, typing, r, p);
      },
      small_body);
}

}  // namespace nebu::api
