#include "api/sync/old_sync_routes.h"

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "api/auth.h"
#include "api/errors.h"
#include "api/rooms/client_event.h"
#include "api/rooms/rooms_common.h"
#include "api/sync/sync.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/event/canonical_json.h"
#include "engine/rooms/room_state.h"

namespace nebu::api {

namespace json = boost::json;
using rooms_internal::ReadAccess;
using storage::Sequence;
using storage::StreamPosition;
using Clock = std::chrono::steady_clock;

namespace {

// Waiting /events requests and the drain flag, shared by the handlers.
struct Waits {
  std::atomic<size_t> waiting{0};
  std::atomic<bool> drained{false};
};

template <typename T>
std::optional<T> ParseOldSyncNumber(std::string_view text) {
  T value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

std::optional<bool> ParseBool(std::optional<std::string_view> text) {
  if (!text) return false;
  if (*text == "true") return true;
  if (*text == "false") return false;
  return std::nullopt;
}

// Blocks until the stream passes `seen` (true), the deadline passes, the router
// drains or kEventsWaitersMax requests already wait (false).
bool WaitBeyond(core::Engine& engine, Waits& waits, StreamPosition seen, Clock::time_point deadline) {
  if (waits.waiting.fetch_add(1) >= kEventsWaitersMax) {
    waits.waiting.fetch_sub(1);
    return false;
  }
  bool moved = false;
  while (!moved && !waits.drained.load() && Clock::now() < deadline) {
    auto slice = std::min<Clock::duration>(deadline - Clock::now(),
                                           std::chrono::milliseconds(kEventsWaitSliceMs));
    moved = engine.notifier().WaitBeyond(
                seen, std::chrono::duration_cast<std::chrono::milliseconds>(slice)) > seen;
  }
  waits.waiting.fetch_sub(1);
  return moved;
}

// The events of a /sync room section's timeline, with room_id put back.
void AppendTimeline(const json::object& section, std::string_view room_id, json::array& out) {
  const json::value* timeline = section.if_contains("timeline");
  if (!timeline || !timeline->is_object()) return;
  for (const json::value& event : timeline->as_object().at("events").as_array()) {
    json::object copy = event.as_object();
    copy["room_id"] = room_id;
    out.push_back(std::move(copy));
  }
}

struct EventsQuery {
  SyncToken from;
  Clock::time_point deadline;
  std::optional<std::string> room_id;
};

std::variant<EventsQuery, Response> ParseEventsQuery(core::Engine& engine, const Request& request) {
  EventsQuery q;
  q.from.position = engine.stream_position();
  if (auto text = request.Query("from")) {
    auto token = ParseSyncToken(*text);
    if (!token) return InvalidParamResponse("Bad from token");
    // A token of another history (a restore): as if absent.
    if (token->epoch == SyncEpoch()) {
      if (token->position > engine.stream_position()) return InvalidParamResponse("Bad from token");
      q.from = *token;
    }
  }
  int64_t timeout = 0;
  if (auto text = request.Query("timeout")) {
    auto parsed = ParseOldSyncNumber<int64_t>(*text);
    if (!parsed || *parsed < 0) return InvalidParamResponse("Bad timeout");
    timeout = std::min(*parsed, kEventsWaitMsMax);
  }
  q.deadline = Clock::now() + std::chrono::milliseconds(timeout);
  if (auto room = request.Query("room_id")) q.room_id = std::string(*room);
  return q;
}

// /events without room_id: the timelines of /sync after `from`.
Result<std::pair<json::array, SyncToken>> StreamEvents(core::Engine& engine, const Caller& who,
                                                       SyncToken from) {
  SyncRequest sync{.user_id = who.user_id, .device_id = "", .since = from};
  sync.filter.timeline_limit = kSyncTimelineLimitMax;
  NEBU_ASSIGN_OR_RETURN(SyncResult result, AssembleSync(engine, sync));
  json::array chunk;
  const json::value* rooms = result.body.if_contains("rooms");
  for (const char* kind : {"join", "leave"}) {
    const json::value* section = rooms && rooms->is_object() ? rooms->as_object().if_contains(kind)
                                                             : nullptr;
    if (!section || !section->is_object()) continue;
    for (const auto& [room_id, room] : section->as_object()) {
      AppendTimeline(room.as_object(), room_id, chunk);
    }
  }
  return std::pair(std::move(chunk), result.next_batch);
}

// /events?room_id=: the room's events after `from` the caller may see; 403 unless the
// room is world_readable now or the caller is joined.
std::variant<std::pair<json::array, SyncToken>, Response> PeekEvents(core::Engine& engine,
                                                                     const Caller& who,
                                                                     const std::string& room_id,
                                                                     SyncToken from) {
  const StreamPosition end_pos = engine.stream_position();
  auto opened = rooms_internal::OpenForRead(engine, room_id, who.user_id);
  if (auto* error = std::get_if<Response>(&opened)) return *error;
  const ReadAccess& access = std::get<ReadAccess>(opened);
  if (!access.view.world_readable_now() && !access.view.joined_now()) {
    return rooms_internal::ForbiddenRoom();
  }
  SyncToken end{.position = end_pos};
  auto before = rooms_internal::RoomPositionOfToken(access.snap, access.meta, MakeSyncToken(from));
  if (!before.ok()) return ErrorResponse(before.status());
  json::array chunk;
  const Viewer viewer{who.user_id, who.device_id, &access.view};
  const int64_t now_ms = engine.clock().NowUnixMs();
  const Sequence first = before->value_or(0) + 1;
  Status failed = Status::Ok();
  if (first <= access.meta.last_seq) {
    Status scanned = core::ScanRoom(
        access.snap, room_id, first, access.meta.last_seq, access.meta.last_seq - first + 1,
        [&](const storage::EventView& event) {
          if (event.stream_position > end_pos) return false;  // newer than this answer
          if (!access.view.Visible(event.sequence, event.type, event.state_key)) return true;
          auto served = ToClientEvent(event, now_ms, &access.snap, &viewer);
          if (!served.ok()) {
            failed = served.status();
            return false;
          }
          chunk.push_back(std::move(served).value());
          if (chunk.size() == kPeekEventsMax) {
            end.position = event.stream_position;  // the rest in the next answer
            return false;
          }
          return true;
        });
    if (!scanned.ok()) return ErrorResponse(scanned);
  }
  if (!failed.ok()) return ErrorResponse(failed);
  return std::pair(std::move(chunk), end);
}

Response HandleEvents(core::Engine& engine, Waits& waits, const Request& request) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  const Caller& who = std::get<Caller>(caller);
  auto parsed = ParseEventsQuery(engine, request);
  if (auto* error = std::get_if<Response>(&parsed)) return *error;
  const EventsQuery& q = std::get<EventsQuery>(parsed);
  SyncToken cursor = q.from;
  for (;;) {  // bounded: each turn waits for the stream to move, until the deadline
    std::pair<json::array, SyncToken> found;
    if (q.room_id) {
      auto peeked = PeekEvents(engine, who, *q.room_id, cursor);
      if (auto* error = std::get_if<Response>(&peeked)) return *error;
      found = std::move(std::get<0>(peeked));
    } else {
      auto streamed = StreamEvents(engine, who, cursor);
      if (!streamed.ok()) return ErrorResponse(streamed.status());
      found = std::move(streamed).value();
    }
    cursor = found.second;
    if (!found.first.empty() || Clock::now() >= q.deadline ||
        !WaitBeyond(engine, waits, cursor.position, q.deadline)) {
      return JsonResponse(200, json::object{{"start", MakeSyncToken(q.from)},
                                            {"end", MakeSyncToken(cursor)},
                                            {"chunk", std::move(found.first)}});
    }
  }
}

// "public" when the join rule among `state` (client events) is public.
std::string_view Visibility(const json::array& state) {
  for (const json::value& e : state) {
    const json::object& o = e.as_object();
    if (o.at("type") != json::value(rooms::kJoinRulesType)) continue;
    const json::value* rule = o.at("content").as_object().if_contains("join_rule");
    return rule && *rule == "public" ? "public" : "private";
  }
  return "private";
}

// The state after the timeline: the section's state, then the timeline's state events.
json::array StateAfter(const json::object& section, std::string_view room_id) {
  std::map<std::pair<std::string, std::string>, json::object> by_key;
  auto add = [&](const json::value* events) {
    if (!events || !events->is_array()) return;
    for (const json::value& e : events->as_array()) {
      const json::object& o = e.as_object();
      const json::value* key = o.if_contains("state_key");
      if (!key || !key->is_string()) continue;
      json::object copy = o;
      copy["room_id"] = room_id;
      by_key[{std::string(o.at("type").as_string()), std::string(key->as_string())}] =
          std::move(copy);
    }
  };
  if (const json::value* state = section.if_contains("state"); state && state->is_object()) {
    add(state->as_object().if_contains("events"));
  }
  if (const json::value* t = section.if_contains("timeline"); t && t->is_object()) {
    add(t->as_object().if_contains("events"));
  }
  json::array out;
  for (auto& [key, event] : by_key) out.push_back(std::move(event));
  return out;
}

json::object InitialSyncRoom(const json::object& section, std::string_view room_id,
                             std::string_view membership, std::string_view end) {
  json::array chunk;
  AppendTimeline(section, room_id, chunk);
  std::string start(end);
  if (const json::value* t = section.if_contains("timeline"); t && t->is_object()) {
    if (const json::value* prev = t->as_object().if_contains("prev_batch")) {
      start = std::string(prev->as_string());
    }
  }
  json::array state = StateAfter(section, room_id);
  json::object out{{"room_id", room_id},
                   {"membership", membership},
                   {"messages", json::object{{"start", start}, {"end", end}, {"chunk", chunk}}},
                   {"visibility", Visibility(state)},
                   {"state", std::move(state)}};
  json::array account_data;
  if (const json::value* a = section.if_contains("account_data"); a && a->is_object()) {
    account_data = a->as_object().at("events").as_array();
  }
  out["account_data"] = std::move(account_data);
  return out;
}

// The membership of the caller's last member event in a left room's timeline
// ("leave" unless it was a ban).
std::string_view LeftAs(const json::object& section, std::string_view user_id) {
  std::string_view out = "leave";
  if (const json::value* t = section.if_contains("timeline"); t && t->is_object()) {
    for (const json::value& e : t->as_object().at("events").as_array()) {
      const json::object& o = e.as_object();
      if (o.at("type") != json::value(rooms::kMemberType) || o.if_contains("state_key") == nullptr ||
          o.at("state_key") != json::value(user_id)) {
        continue;
      }
      const json::value* m = o.at("content").as_object().if_contains("membership");
      out = m && *m == "ban" ? "ban" : "leave";
    }
  }
  return out;
}

Response HandleInitialSync(core::Engine& engine, const Request& request) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  const Caller& who = std::get<Caller>(caller);
  SyncRequest sync{.user_id = who.user_id, .device_id = ""};
  if (auto text = request.Query("limit")) {
    auto limit = ParseOldSyncNumber<size_t>(*text);
    if (!limit) return InvalidParamResponse("Bad limit");
    sync.filter.timeline_limit = std::min(*limit, kSyncTimelineLimitMax);
  }
  std::optional<bool> archived = ParseBool(request.Query("archived"));
  if (!archived) return InvalidParamResponse("archived must be true or false");
  sync.filter.include_leave = *archived;
  auto result = AssembleSync(engine, sync);
  if (!result.ok()) return ErrorResponse(result.status());
  const std::string end = MakeSyncToken(result->next_batch);
  json::array rooms;
  const json::value* sections = result->body.if_contains("rooms");
  auto each = [&](const char* kind, auto&& visit) {
    const json::value* s = sections && sections->is_object() ? sections->as_object().if_contains(kind)
                                                            : nullptr;
    if (!s || !s->is_object()) return;
    for (const auto& [room_id, section] : s->as_object()) visit(room_id, section.as_object());
  };
  each("join", [&](std::string_view room_id, const json::object& section) {
    rooms.push_back(InitialSyncRoom(section, room_id, "join", end));
  });
  each("leave", [&](std::string_view room_id, const json::object& section) {
    rooms.push_back(InitialSyncRoom(section, room_id, LeftAs(section, who.user_id), end));
  });
  each("invite", [&](std::string_view room_id, const json::object& section) {
    json::object room{{"room_id", room_id}, {"membership", "invite"}};
    const json::value* state = section.if_contains("invite_state");
    if (state && state->is_object()) {
      for (const json::value& e : state->as_object().at("events").as_array()) {
        const json::object& o = e.as_object();
        if (o.at("type") == json::value(rooms::kMemberType) && o.if_contains("state_key") &&
            o.at("state_key") == json::value(who.user_id)) {
          json::object invite = o;
          invite["room_id"] = room_id;
          room["invite"] = std::move(invite);
        }
      }
    }
    rooms.push_back(std::move(room));
  });
  json::array account_data, presence;
  if (const json::value* a = result->body.if_contains("account_data"); a && a->is_object()) {
    account_data = a->as_object().at("events").as_array();
  }
  if (const json::value* p = result->body.if_contains("presence"); p && p->is_object()) {
    presence = p->as_object().at("events").as_array();
  }
  return JsonResponse(200, json::object{{"end", end},
                                        {"rooms", std::move(rooms)},
                                        {"presence", std::move(presence)},
                                        {"account_data", std::move(account_data)}});
}

// The newest kRoomInitialSyncLimit visible events up to `end`, oldest first, and the
// sequence before the first of them.
Result<std::pair<json::array, Sequence>> NewestEvents(core::Engine& engine, const ReadAccess& access,
                                                      const Viewer& viewer, Sequence end) {
  std::vector<json::object> newest_first;
  Sequence start = end;
  Status failed = Status::Ok();
  const int64_t now_ms = engine.clock().NowUnixMs();
  if (end > 0) {
    NEBU_RETURN_IF_ERROR(core::ScanRoom(
        access.snap, access.meta.room_id, end, 1, kSyncTimelineScanEventsMax,
        [&](const storage::EventView& event) {
          start = event.sequence - 1;
          if (!access.view.Visible(event.sequence, event.type, event.state_key)) return true;
          auto served = ToClientEvent(event, now_ms, &access.snap, &viewer);
          if (!served.ok()) {
            failed = served.status();
            return false;
          }
          newest_first.push_back(std::move(served).value());
          return newest_first.size() < kRoomInitialSyncLimit;
        }));
  }
  NEBU_RETURN_IF_ERROR(failed);
  json::array chunk;
  for (auto it = newest_first.rbegin(); it != newest_first.rend(); ++it) chunk.push_back(std::move(*it));
  return std::pair(std::move(chunk), start);
}

Response HandleRoomInitialSync(core::Engine& engine, const Request& request,
                               const PathParams& params) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  const Caller& who = std::get<Caller>(caller);
  const std::string& room_id = params.at("roomId");
  auto opened = rooms_internal::OpenForRead(engine, room_id, who.user_id);
  if (auto* error = std::get_if<Response>(&opened)) return *error;
  const ReadAccess& access = std::get<ReadAccess>(opened);
  const Viewer viewer{who.user_id, who.device_id, &access.view};
  const Sequence end = access.view.joined_now() || access.view.ever_world_readable()
                           ? access.meta.last_seq
                           : access.view.DepartureSequence().value_or(0);
  auto messages = NewestEvents(engine, access, viewer, end);
  if (!messages.ok()) return ErrorResponse(messages.status());
  json::array state;
  if (std::optional<Sequence> horizon = rooms_internal::StateHorizon(access)) {
    auto records = core::StateRecordsAt(access.snap, access.meta.number, *horizon);
    if (!records.ok()) return ErrorResponse(records.status());
    const int64_t now_ms = engine.clock().NowUnixMs();
    for (const storage::EventRecord& record : *records) {
      auto served = ToClientEvent(record, now_ms, &access.snap);
      if (!served.ok()) return ErrorResponse(served.status());
      state.push_back(std::move(served).value());
    }
  }
  auto entries = accounts::ListAccountData(access.snap, who.user_id, room_id);
  if (!entries.ok()) return ErrorResponse(entries.status());
  json::array account_data;
  for (const accounts::AccountDataEntry& entry : *entries) {
    auto content = event::ParseJson(entry.content);
    if (!content.ok()) return ErrorResponse(content.status());
    account_data.push_back(json::object{{"type", entry.type}, {"content", std::move(*content)}});
  }
  json::object body{{"room_id", room_id},
                    {"messages", json::object{{"start", rooms_internal::MakeToken(messages->second)},
                                              {"end", rooms_internal::MakeToken(end)},
                                              {"chunk", std::move(messages->first)}}},
                    {"visibility", Visibility(state)},
                    {"state", std::move(state)},
                    {"account_data", std::move(account_data)},
                    {"presence", json::array{}}};
  const rooms::Membership membership = access.view.current_membership();
  if (membership != rooms::Membership::kNone) body["membership"] = rooms::MembershipName(membership);
  return JsonResponse(200, body);
}

Response HandleOldEvent(core::Engine& engine, const Request& request, const PathParams& params) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  const Caller& who = std::get<Caller>(caller);
  const Response not_found = ErrorResponse(404, "M_NOT_FOUND", "Event not found");
  Result<storage::EventRecord> record = engine.GetEvent(params.at("eventId"));
  if (!record.ok()) {
    return record.status().code() == StatusCode::kNotFound ? not_found
                                                           : ErrorResponse(record.status());
  }
  auto room_id = engine.RoomIdOf(record->room);
  if (!room_id.ok()) return ErrorResponse(room_id.status());
  if (!*room_id) return not_found;
  auto opened = rooms_internal::OpenForRead(engine, **room_id, who.user_id);
  if (std::holds_alternative<Response>(opened)) return not_found;
  const ReadAccess& access = std::get<ReadAccess>(opened);
  if (!access.view.Visible(record->sequence, record->type, record->state_key)) return not_found;
  const Viewer viewer{who.user_id, who.device_id, &access.view};
  auto served = ToClientEvent(*record, engine.clock().NowUnixMs(), &access.snap, &viewer);
  if (!served.ok()) return ErrorResponse(served.status());
  return JsonResponse(200, *served);
}

}  // namespace

void AddOldSyncRoutes(Router& router, core::Engine& engine) {
  auto waits = std::make_shared<Waits>();
  router.AddDrainHook([waits] { waits->drained.store(true); });
  rooms_internal::AddRoute(
      router, "GET", "/events",
      [&engine, waits](const Request& r, const PathParams&) { return HandleEvents(engine, *waits, r); },
      {.offload = true});
  rooms_internal::AddRoute(
      router, "GET", "/initialSync",
      [&engine](const Request& r, const PathParams&) { return HandleInitialSync(engine, r); },
      {.offload = true});
  rooms_internal::AddRoute(
      router, "GET", "/rooms/{roomId}/initialSync",
      [&engine](const Request& r, const PathParams& p) { return HandleRoomInitialSync(engine, r, p); },
      {.offload = true});
  rooms_internal::AddRoute(
      router, "GET", "/events/{eventId}",
      [&engine](const Request& r, const PathParams& p) { return HandleOldEvent(engine, r, p); },
      {.offload = true});
}

}  // namespace nebu::api
