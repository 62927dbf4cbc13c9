#include "api/sync/presence.h"

#include <algorithm>
#include <boost/json.hpp>
#include <utility>
#include <variant>

#include "api/auth.h"
#include "api/errors.h"
#include "api/rooms/rooms_common.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/event/identifiers.h"

namespace nebu::api {

namespace json = boost::json;

namespace {

// True when `a` and `b` are joined to one room now (one scan of a's rooms).
Result<bool> ShareARoom(core::Engine& engine, std::string_view a, std::string_view b) {
  NEBU_ASSIGN_OR_RETURN(auto rooms, engine.RoomsOf(a));
  for (const auto& [room_id, membership] : rooms) {
    if (membership != rooms::Membership::kJoin) continue;
    NEBU_ASSIGN_OR_RETURN(core::RoomMeta meta, engine.GetRoom(room_id));
    NEBU_ASSIGN_OR_RETURN(auto record, core::GetMembershipRecord(engine.Read(), b, meta.number));
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
    Result<bool> exists = accounts::UserExists(engine.Read(), user_id);
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

PresenceTracker::PresenceTracker() : PresenceTracker(nullptr) {}

PresenceTracker::PresenceTracker(EphemeralBus* bus)
    : own_bus_(bus ? nullptr : std::make_unique<InMemoryEphemeralBus>()),
      bus_(bus ? bus : own_bus_.get()),
      serial_(bus_->serial()) {
  bus_subscription_ = bus_->Subscribe([this](const EphemeralUpdate& update) {
    if (update.key.kind == EphemeralKind::kPresence) OnUpdate(update);
  });
}

PresenceTracker::~PresenceTracker() { bus_->Unsubscribe(bus_subscription_); }

Status PresenceTracker::Set(std::string_view user_id, std::string_view presence,
                            std::optional<std::string> status_msg, int64_t now_ms) {
  if (!IsPresenceValue(presence)) {
    return Status::InvalidArgument("presence must be online, offline or unavailable");
  }
  if (status_msg && status_msg->size() > kPresenceStatusMsgBytesMax) {
    return Status::TooLarge("status_msg is too long");
  }
  Change(user_id, presence, &status_msg, now_ms);
  return Status::Ok();
}

void PresenceTracker::MarkActive(std::string_view user_id, std::string_view presence,
                                 int64_t now_ms) {
  if (presence != "online" && presence != "unavailable") return;
  Change(user_id, presence, nullptr, now_ms);
}

void PresenceTracker::Change(std::string_view user_id, std::string_view presence,
                             const std::optional<std::string>* status_msg, int64_t now_ms) {
  PresenceState next;
  {
    std::lock_guard lock(mutex_);
    auto it = users_.find(user_id);
    if (it == users_.end() && users_.size() >= kPresenceUsersMax) return;  // best effort
    if (it != users_.end()) next = it->second.state;
    if (presence != "offline") next.last_active_ts = now_ms;
    const bool changes = it == users_.end() || next.presence != presence ||
                         (status_msg && next.status_msg != *status_msg);
    const bool refresh_due =
        it != users_.end() && presence != "offline" &&
        now_ms - it->second.published_active_ts >= kPresenceActivePublishInterval.count();
    if (!changes && !refresh_due) {
      it->second.state.last_active_ts = next.last_active_ts;  // locally only
      return;
    }
    next.presence = std::string(presence);
    if (status_msg) next.status_msg = *status_msg;
  }
  json::object value{{"presence", next.presence}, {"last_active_ts", next.last_active_ts}};
  if (next.status_msg) value["status_msg"] = *next.status_msg;
  bus_->Publish({.kind = EphemeralKind::kPresence, .user_id = std::string(user_id)},
                json::serialize(value), std::chrono::milliseconds(0));
}

namespace {

// The state in a bus value; nullopt for a malformed one (from a newer or broken node).
std::optional<PresenceState> DecodePresence(const std::string& text) {
  boost::system::error_code ec;
  json::value parsed = json::parse(text, ec);
  if (ec || !parsed.is_object()) return std::nullopt;
  const json::object& object = parsed.as_object();
  const json::value* presence = object.if_contains("presence");
  const json::value* ts = object.if_contains("last_active_ts");
  if (!presence || !presence->is_string() || !IsPresenceValue(presence->as_string())) {
    return std::nullopt;
  }
  PresenceState state;
  state.presence = std::string(presence->as_string());
  if (ts && ts->is_int64()) state.last_active_ts = ts->as_int64();
  if (const json::value* msg = object.if_contains("status_msg"); msg && msg->is_string()) {
    state.status_msg = std::string(msg->as_string());
  }
  return state;
}

}  // namespace

void PresenceTracker::OnUpdate(const EphemeralUpdate& update) {
  const std::string& user_id = update.key.user_id;
  {
    std::lock_guard lock(mutex_);
    auto it = users_.find(user_id);
    if (!update.value) {  // the publishing node's lease ended: offline
      if (it == users_.end() || it->second.state.presence == "offline") return;
      it->second.state.presence = "offline";
    } else {
      std::optional<PresenceState> next = DecodePresence(*update.value);
      if (!next) return;
      const bool added = it == users_.end();
      if (added && users_.size() >= kPresenceUsersMax) return;  // best effort
      if (added) it = users_.emplace(user_id, Entry{}).first;
      Entry& entry = it->second;
      entry.published_active_ts = next->last_active_ts;
      entry.state.last_active_ts = std::max(entry.state.last_active_ts, next->last_active_ts);
      if (!added && entry.state.presence == next->presence &&
          entry.state.status_msg == next->status_msg) {
        return;  // only last_active_ts: no serial
      }
      entry.state.presence = std::move(next->presence);
      entry.state.status_msg = std::move(next->status_msg);
    }
    serial_ = std::max(serial_, update.serial);
    it->second.state.changed = serial_;
  }
  Notify(user_id);
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
  return it->second.state;
}

uint64_t PresenceTracker::serial() const {
  std::lock_guard lock(mutex_);
  return serial_;
}

std::map<std::string, PresenceState> PresenceTracker::ChangedSince(uint64_t since) const {
  std::lock_guard lock(mutex_);
  std::map<std::string, PresenceState> out;
  for (const auto& [user_id, entry] : users_) {
    if (entry.state.changed > since) out.emplace(user_id, entry.state);
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
