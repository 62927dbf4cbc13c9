#include "api/presence.h"

#include <algorithm>
#include <boost/json.hpp>
#include <utility>
#include <variant>

#include "api/auth.h"
#include "api/errors.h"
#include "api/rooms_common.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/event/identifiers.h"

namespace nebu::api {

namespace json = boost::json;

namespace {

uint64_t WallClockMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

// True when `a` and `b` are joined to one room now (one scan of a's rooms).
Result<bool> ShareARoom(core::Engine& engine, std::string_view a, std::string_view b) {
  NEBU_ASSIGN_OR_RETURN(auto rooms, engine.RoomsOf(a));
  for (const auto& [room_id, membership] : rooms) {
    if (membership != rooms::Membership::kJoin) continue;
    NEBU_ASSIGN_OR_RETURN(core::RoomMeta meta, engine.GetRoom(room_id));
    NEBU_ASSIGN_OR_RETURN(auto record, core::GetMembershipRecord(engine.store(), b, meta.number));
    if (record && record->membership == rooms::Membership::kJoin) return true;
  }
  return false;
}

Response GetPresence(core::Engine& engine, const PresenceTracker& presence, const Request& request,
                     const PathParams& params) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  const std::string& user_id = params.at("userId");
  if (!event::IsValidUserId(user_id)) {
    return ErrorResponse(400, "M_INVALID_PARAM", "userId is not a user ID");
  }
  const std::string& me = std::get<Caller>(caller).user_id;
  if (user_id != me) {
    Result<bool> exists = accounts::UserExists(engine.store(), user_id);
    if (!exists.ok()) return ErrorResponse(exists.status());
    if (!*exists) return ErrorResponse(404, "M_NOT_FOUND", "Unknown user");
    Result<bool> shared = ShareARoom(engine, me, user_id);
    if (!shared.ok()) return ErrorResponse(shared.status());
    if (!*shared) {
      return ErrorResponse(403, "M_FORBIDDEN", "You are not allowed to see their presence");
    }
  }
  PresenceState state = presence.Get(user_id).value_or(PresenceState{});
  return JsonResponse(200, PresenceContent(state, engine.clock().NowUnixMs()));
}

Response PutPresence(core::Engine& engine, UserRateLimits& limits, PresenceTracker& presence,
                     const Request& request, const PathParams& params) {
  auto caller = AuthenticateOwner(request, engine, params.at("userId"),
                                  "You cannot set the presence of another user");
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  if (auto limited = Limited(limits.presence, std::get<Caller>(caller).user_id, engine.clock().NowMonotonicNs() / 1'000'000)) {
    return *limited;
  }
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return *error;
  const json::object& object = std::get<json::object>(body);
  const json::value* value = object.if_contains("presence");
  if (!value) return ErrorResponse(400, "M_MISSING_PARAM", "presence is required");
  if (!value->is_string()) return ErrorResponse(400, "M_BAD_JSON", "presence must be a string");
  std::optional<std::string> status_msg;
  if (const json::value* msg = object.if_contains("status_msg"); msg && !msg->is_null()) {
    if (!msg->is_string()) return ErrorResponse(400, "M_BAD_JSON", "status_msg must be a string");
    status_msg = std::string(msg->as_string());
  }
  Status set = presence.Set(std::get<Caller>(caller).user_id, value->as_string(),
                            std::move(status_msg), engine.clock().NowUnixMs());
  if (!set.ok()) return ErrorResponse(set);
  return JsonResponse(200, json::object{});
}

}  // namespace

bool IsPresenceValue(std::string_view presence) {
  return presence == "online" || presence == "offline" || presence == "unavailable";
}

json::object PresenceContent(const PresenceState& state, int64_t now_ms) {
  json::object content{{"presence", state.presence}};
  if (state.last_active_ts > 0) {
    const int64_t ago = std::max<int64_t>(0, now_ms - state.last_active_ts);
    content["last_active_ago"] = ago;
    content["currently_active"] = state.presence == "online" && ago < kPresenceActiveWindow.count();
  }
  if (state.status_msg) content["status_msg"] = *state.status_msg;
  return content;
}

PresenceTracker::PresenceTracker() : serial_(WallClockMs()) {}

Status PresenceTracker::Set(std::string_view user_id, std::string_view presence,
                            std::optional<std::string> status_msg, int64_t now_ms) {
  if (!IsPresenceValue(presence)) {
    return Status::InvalidArgument("presence must be online, offline or unavailable");
  }
  if (status_msg && status_msg->size() > kPresenceStatusMsgBytesMax) {
    return Status::TooLarge("status_msg is too long");
  }
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    auto it = users_.find(user_id);
    if (it == users_.end()) {
      if (users_.size() >= kPresenceUsersMax) return Status::Ok();  // best effort
      it = users_.emplace(std::string(user_id), PresenceState{}).first;
    }
    PresenceState& state = it->second;
    if (presence != "offline") state.last_active_ts = now_ms;
    if (state.presence != presence || state.status_msg != status_msg || state.changed == 0) {
      state.presence = std::string(presence);
      state.status_msg = std::move(status_msg);
      state.changed = ++serial_;
      changed = true;
    }
  }
  if (changed) Notify(std::string(user_id));
  return Status::Ok();
}

void PresenceTracker::MarkActive(std::string_view user_id, std::string_view presence,
                                 int64_t now_ms) {
  if (presence != "online" && presence != "unavailable") return;
  bool changed = false;
  {
    std::lock_guard lock(mutex_);
    auto it = users_.find(user_id);
    if (it == users_.end()) {
      if (users_.size() >= kPresenceUsersMax) return;
      it = users_.emplace(std::string(user_id), PresenceState{}).first;
    }
    PresenceState& state = it->second;
    state.last_active_ts = now_ms;
    if (state.presence != presence || state.changed == 0) {
      state.presence = std::string(presence);
      state.changed = ++serial_;
      changed = true;
    }
  }
  if (changed) Notify(std::string(user_id));
}

PresenceTracker::SubscriptionId PresenceTracker::Subscribe(Callback callback) {
  std::lock_guard lock(callbacks_mutex_);
  SubscriptionId id = next_subscription_++;
  callbacks_.emplace(id, std::move(callback));
  return id;
}

void PresenceTracker::Unsubscribe(SubscriptionId id) {
  std::lock_guard lock(callbacks_mutex_);  // waits out a running Notify
  callbacks_.erase(id);
}

void PresenceTracker::Notify(const std::string& user_id) {
  std::lock_guard lock(callbacks_mutex_);
  for (const auto& [id, callback] : callbacks_) callback(user_id);
}

std::optional<PresenceState> PresenceTracker::Get(std::string_view user_id) const {
  std::lock_guard lock(mutex_);
  auto it = users_.find(user_id);
  if (it == users_.end()) return std::nullopt;
  return it->second;
}

uint64_t PresenceTracker::serial() const {
  std::lock_guard lock(mutex_);
  return serial_;
}

std::map<std::string, PresenceState> PresenceTracker::ChangedSince(uint64_t since) const {
  std::lock_guard lock(mutex_);
  std::map<std::string, PresenceState> out;
  for (const auto& [user_id, state] : users_) {
    if (state.changed > since) out.emplace(user_id, state);
  }
  return out;
}

void AddPresenceRoutes(Router& router, core::Engine& engine, PresenceTracker& presence,
                       std::shared_ptr<UserRateLimits> limits) {
  if (!limits) limits = std::make_shared<UserRateLimits>(/*enabled=*/false);
  const RouteOptions small_body{.body_bytes_max = kPresenceBodyBytesMax};
  rooms_internal::AddRoute(router, "GET", "/presence/{userId}/status",
                           [&engine, &presence](const Request& r, const PathParams& p) {
                             return GetPresence(engine, presence, r, p);
                           });
  rooms_internal::AddRoute(
      router, "PUT", "/presence/{userId}/status",
      [&engine, &presence, limits](const Request& r, const PathParams& p) {
        return PutPresence(engine, *limits, presence, r, p);
      },
      small_body);
}

}  // namespace nebu::api
