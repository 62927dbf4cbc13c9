// The read endpoints of rooms_routes.h: state, event, members, joined_members,
// messages, context.
#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <vector>

#include "api/auth.h"
#include "api/rooms/client_event.h"
#include "api/errors.h"
#include "api/accounts/filter_routes.h"
#include "api/glob.h"
#include "api/rooms/rooms_common.h"
#include "api/rooms/rooms_routes.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/event/canonical_json.h"

namespace nebu::api::rooms_internal {

namespace json = boost::json;
using storage::Sequence;

namespace {

// The authenticated caller's access to the path's room, or the ready response. The
// room is opened once this node has applied what `tokens` name (AwaitRoomTokens).
std::variant<std::pair<Caller, ReadAccess>, Response> Open(
    core::Engine& engine, const Request& request, const PathParams& params,
    std::initializer_list<std::optional<std::string_view>> tokens = {}) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  Caller who = std::get<Caller>(std::move(caller));
  if (auto ahead = AwaitRoomTokens(engine, params.at("roomId"), tokens)) return *ahead;
  auto access = OpenForRead(engine, params.at("roomId"), who.user_id);
  if (auto* error = std::get_if<Response>(&access)) return *error;
  return std::pair(std::move(who), std::get<ReadAccess>(std::move(access)));
}

Result<json::array> ClientEvents(const std::vector<storage::EventRecord>& records, int64_t now_ms,
                                 const storage::ReadView* store) {
  json::array out;
  for (const storage::EventRecord& record : records) {
    NEBU_ASSIGN_OR_RETURN(json::object event, ToClientEvent(record, now_ms, store));
    out.emplace_back(std::move(event));
  }
  return out;
}

Response HandleState(core::Engine& engine, const Request& request, const PathParams& params) {
  auto opened = Open(engine, request, params);
  if (auto* error = std::get_if<Response>(&opened)) return *error;
  const ReadAccess& access = std::get<0>(opened).second;
  std::optional<Sequence> horizon = StateHorizon(access);
  if (!horizon) return ForbiddenRoom();
  auto records = core::StateRecordsAt(access.snap, access.meta.number, *horizon);
  if (!records.ok()) return ErrorResponse(records.status());
  auto events = ClientEvents(*records, engine.clock().NowUnixMs(), &access.snap);
  if (!events.ok()) return ErrorResponse(events.status());
  return JsonResponse(200, *events);
}

Response HandleStateEvent(core::Engine& engine, const Request& request, const PathParams& params) {
  auto opened = Open(engine, request, params);
  if (auto* error = std::get_if<Response>(&opened)) return *error;
  const ReadAccess& access = std::get<0>(opened).second;
  std::optional<Sequence> horizon = StateHorizon(access);
  if (!horizon) return ForbiddenRoom();
  auto key = params.find("stateKey");
  auto record = core::StateRecordAt(access.snap, access.meta.number, params.at("eventType"),
                                    key == params.end() ? "" : key->second, *horizon);
  if (!record.ok()) return ErrorResponse(record.status());
  if (!*record) return ErrorResponse(404, "M_NOT_FOUND", "Event not found");
  auto event = ToClientEvent(**record, engine.clock().NowUnixMs(), &access.snap);
  if (!event.ok()) return ErrorResponse(event.status());
  if (request.Query("format") == "event") return JsonResponse(200, *event);
  return JsonResponse(200, event->at("content"));
}

// The event `event_id` of the caller's room if they may see it; else 404 M_NOT_FOUND
// (unknown, in another room, or hidden by history visibility).
std::variant<storage::EventRecord, Response> FindVisibleEvent(const ReadAccess& access,
                                                              std::string_view event_id) {
  Result<storage::EventRecord> record = core::ReadEvent(access.snap, event_id);
  if (!record.ok() && record.status().code() != StatusCode::kNotFound) {
    return ErrorResponse(record.status());
  }
  if (!record.ok() || record->room != access.meta.number ||
      !access.view.Visible(record->sequence, record->type, record->state_key)) {
    return ErrorResponse(404, "M_NOT_FOUND", "Event not found");
  }
  return std::move(record).value();
}

Response HandleEvent(core::Engine& engine, const Request& request, const PathParams& params) {
  auto opened = Open(engine, request, params);
  if (auto* error = std::get_if<Response>(&opened)) return *error;
  const ReadAccess& access = std::get<0>(opened).second;
  auto record = FindVisibleEvent(access, params.at("eventId"));
  if (auto* error = std::get_if<Response>(&record)) return *error;
  const Caller& who = std::get<0>(opened).first;
  const Viewer viewer{who.user_id, who.device_id, &access.view};
  auto event = ToClientEvent(std::get<storage::EventRecord>(record), engine.clock().NowUnixMs(),
                             &access.snap, &viewer);
  if (!event.ok()) return ErrorResponse(event.status());
  return JsonResponse(200, *event);
}

// The member events the caller may see, or the ready response. `at` narrows the
// state to a pagination token (never past the caller's horizon).
std::variant<std::vector<storage::EventRecord>, Response> MemberRecords(
    const ReadAccess& access, std::optional<std::string_view> at) {
  std::optional<Sequence> horizon = StateHorizon(access);
  if (!horizon) return ForbiddenRoom();
  if (at) {
    auto seq = RoomPositionOfToken(access.snap, access.meta, *at);
    if (!seq.ok()) return ErrorResponse(seq.status());
    if (!*seq) return ErrorResponse(400, "M_INVALID_PARAM", "Bad 'at' token");
    horizon = std::min(*horizon, **seq);
  }
  auto records = core::StateRecordsAt(access.snap, access.meta.number, *horizon,
                                      std::string_view("m.room.member"));
  if (!records.ok()) return ErrorResponse(records.status());
  return std::move(records).value();
}

std::string_view MembershipOf(const json::object& event) {
  const json::value* m = event.at("content").as_object().if_contains("membership");
  return m && m->is_string() ? std::string_view(m->as_string()) : std::string_view();
}

Response HandleMembers(core::Engine& engine, const Request& request, const PathParams& params) {
  auto opened = Open(engine, request, params, {request.Query("at")});
  if (auto* error = std::get_if<Response>(&opened)) return *error;
  const ReadAccess& access = std::get<0>(opened).second;
  auto records = MemberRecords(access, request.Query("at"));
  if (auto* error = std::get_if<Response>(&records)) return *error;
  auto events = ClientEvents(std::get<0>(records), engine.clock().NowUnixMs(), &access.snap);
  if (!events.ok()) return ErrorResponse(events.status());
  std::optional<std::string_view> only = request.Query("membership");
  std::optional<std::string_view> except = request.Query("not_membership");
  for (std::optional<std::string_view> m : {only, except}) {
    if (m && !rooms::ParseMembership(*m)) {
      return ErrorResponse(400, "M_INVALID_PARAM",
                           "membership and not_membership take join, invite, knock, leave or ban");
    }
  }
  json::array chunk;
  for (json::value& event : *events) {
    std::string_view m = MembershipOf(event.as_object());
    if ((only && m != *only) || (except && m == *except)) continue;
    chunk.push_back(std::move(event));
  }
  return JsonResponse(200, json::object{{"chunk", std::move(chunk)}});
}

Response HandleJoinedMembers(core::Engine& engine, const Request& request,
                             const PathParams& params) {
  auto opened = Open(engine, request, params);
  if (auto* error = std::get_if<Response>(&opened)) return *error;
  // "The current user must be in the room": joined now, or the room is world_readable
  // now (anyone may read it then); a user who left sees nothing here.
  const ReadAccess& access = std::get<0>(opened).second;
  if (!access.view.joined_now() && !access.view.world_readable_now()) return ForbiddenRoom();
  auto records = MemberRecords(access, std::nullopt);
  if (auto* error = std::get_if<Response>(&records)) return *error;
  json::object joined;
  for (const storage::EventRecord& record : std::get<0>(records)) {
    auto event = ToClientEvent(record, 0, &access.snap);  // redacted: no profile
    if (!event.ok()) return ErrorResponse(event.status());
    if (MembershipOf(*event) != "join" || !record.state_key) continue;
    const json::object& content = event->at("content").as_object();
    json::object member;
    for (auto [from, to] :
         {std::pair{"displayname", "display_name"}, std::pair{"avatar_url", "avatar_url"}}) {
      if (const json::value* v = content.if_contains(from); v && v->is_string()) member[to] = *v;
    }
    joined[*record.state_key] = std::move(member);
  }
  return JsonResponse(200, json::object{{"joined", std::move(joined)}});
}

// ---- /messages and /context ----

// The part of a RoomEventFilter /messages honours.
struct EventFilter {
  std::vector<std::string> types, not_types, senders, not_senders;
};

bool Matches(const EventFilter& filter, const storage::EventView& event) {
  if (!filter.types.empty() && !GlobMatchAny(filter.types, event.type)) return false;
  if (GlobMatchAny(filter.not_types, event.type)) return false;
  auto in = [&](const std::vector<std::string>& ids) {
    return std::find(ids.begin(), ids.end(), event.sender) != ids.end();
  };
  if (!filter.senders.empty() && !in(filter.senders)) return false;
  return !in(filter.not_senders);
}

// Parses the `filter` query parameter (a JSON RoomEventFilter); nullopt when bad.
std::optional<EventFilter> ParseFilter(std::optional<std::string_view> text) {
  EventFilter filter;
  if (!text || text->empty()) return filter;
  auto parsed = event::ParseJson(*text, {.canonical_numbers = false});
  if (!parsed.ok() || !parsed->is_object()) return std::nullopt;
  const json::object& o = parsed->as_object();
  if (!CheckFilterPatterns(o).ok()) return std::nullopt;
  for (auto [key, out] :
       {std::pair{"types", &filter.types}, std::pair{"not_types", &filter.not_types},
        std::pair{"senders", &filter.senders}, std::pair{"not_senders", &filter.not_senders}}) {
    const json::value* v = o.if_contains(key);
    if (!v || v->is_null()) continue;
    if (!v->is_array()) return std::nullopt;
    for (const json::value& item : v->as_array()) {
      if (!item.is_string()) return std::nullopt;
      out->emplace_back(item.as_string());
    }
  }
  return filter;
}

std::optional<size_t> ParseLimit(std::optional<std::string_view> text, size_t fallback) {
  if (!text) return fallback;
  size_t limit = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
  if (ec != std::errc() || ptr != text->data() + text->size()) return std::nullopt;
  return std::min(limit, kMessagesLimitMax);
}

// One walk over the log: visible, matching events from `from` towards `to`
// (inclusive; backwards when from > to), at most `limit` of them.
struct Walk {
  json::array events;
  std::optional<Sequence> last_examined;  // nullopt: nothing examined
  std::optional<Sequence> last_returned;  // the sequence of events.back()
  bool reached_to = false;
};

Result<Walk> WalkLog(core::Engine& engine, const ReadAccess& access, const Viewer& viewer,
                     const EventFilter& filter, Sequence from, Sequence to, size_t limit,
                     bool see_all) {
  Walk walk;
  if (limit == 0 || from == 0 || to == 0) return walk;
  const int64_t now_ms = engine.clock().NowUnixMs();
  Status failed = Status::Ok();
  Status scanned = core::ScanRoom(
      access.snap, access.meta.room_id, from, to, kMessagesScanEventsMax, [&](const storage::EventView& view) {
        walk.last_examined = view.sequence;
        if ((!see_all && !access.view.Visible(view.sequence, view.type, view.state_key)) ||
            !Matches(filter, view)) {
          return true;
        }
        auto event = ToClientEvent(view, now_ms, &access.snap, &viewer);
        if (!event.ok()) {
          failed = event.status();
          return false;
        }
        walk.events.emplace_back(std::move(event).value());
        walk.last_returned = view.sequence;
        return walk.events.size() < limit;
      });
  NEBU_RETURN_IF_ERROR(scanned);
  NEBU_RETURN_IF_ERROR(failed);
  walk.reached_to = walk.last_examined == to;
  return walk;
}

// The last sequence the caller could see anything at: every event for a joined
// caller or a room that was ever world_readable, else their departure.
Sequence ReadableEnd(const ReadAccess& access, bool see_all) {
  if (see_all || access.view.joined_now() || access.view.ever_world_readable()) return access.meta.last_seq;
  return access.view.DepartureSequence().value_or(0);
}

struct Page {
  Sequence from = 0;  // the point the page starts at
  std::optional<Sequence> from_token, to;  // as the tokens name them
  bool backwards = true;
  size_t limit = kMessagesLimitDefault;
  EventFilter filter;
};

// Parses dir, from, to, limit and filter; the page or the ready 400 response.
std::variant<Page, Response> ParsePage(const Request& request, const ReadAccess& access,
                                       bool see_all, std::string_view default_dir) {
  Page page;
  std::optional<std::string_view> dir = request.Query("dir");
  if (dir && *dir != "b" && *dir != "f") {
    return ErrorResponse(400, "M_INVALID_PARAM", "dir must be b or f");
  }
  page.backwards = dir.value_or(default_dir) == "b";
  Sequence end = ReadableEnd(access, see_all);
  page.from = page.backwards ? end : 0;
  for (auto [name, out] : {std::pair{"from", &page.from_token}, std::pair{"to", &page.to}}) {
    std::optional<std::string_view> text = request.Query(name);
    if (!text) continue;
    auto seq = RoomPositionOfToken(access.snap, access.meta, *text);
    if (!seq.ok()) return ErrorResponse(seq.status());
    if (!*seq) return ErrorResponse(400, "M_INVALID_PARAM", "Bad pagination token");
    *out = **seq;
  }
  if (page.from_token) page.from = std::min(*page.from_token, end);
  std::optional<size_t> limit = ParseLimit(request.Query("limit"), kMessagesLimitDefault);
  std::optional<EventFilter> filter = ParseFilter(request.Query("filter"));
  if (!limit || !filter) return ErrorResponse(400, "M_INVALID_PARAM", "Bad limit or filter");
  page.limit = *limit;
  page.filter = std::move(*filter);
  return page;
}

}  // namespace

Response MessagesPage(core::Engine& engine, const Request& request, const ReadAccess& access,
                      const Caller& caller, const MessagesOptions& options) {
  const Viewer viewer{caller.user_id, caller.device_id, &access.view};
  auto parsed = ParsePage(request, access, options.see_all, options.default_dir);
  if (auto* error = std::get_if<Response>(&parsed)) return *error;
  const Page& page = std::get<Page>(parsed);
  const Sequence end = ReadableEnd(access, options.see_all);
  // Backwards from "s<n>" reads n, n-1, ...; forwards reads n+1, n+2, ...
  Sequence first = page.backwards ? page.from : page.from + 1;
  Sequence last = page.backwards ? std::max<Sequence>(page.to.value_or(0) + 1, 1)
                                 : std::min(page.to.value_or(end), end);
  bool empty = page.backwards ? first < last || first == 0 : first > last;
  json::object body{{"start", MakeToken(page.from)}, {"state", json::array{}}};
  Walk walk;
  if (!empty) {
    auto walked =
        WalkLog(engine, access, viewer, page.filter, first, last, page.limit, options.see_all);
    if (!walked.ok()) return ErrorResponse(walked.status());
    walk = std::move(walked).value();
  }
  if (!empty && !walk.reached_to && walk.last_examined) {
    body["end"] = MakeToken(page.backwards ? *walk.last_examined - 1 : *walk.last_examined);
  }
  body["chunk"] = std::move(walk.events);
  return JsonResponse(200, body);
}

namespace {

Response HandleMessages(core::Engine& engine, const Request& request, const PathParams& params) {
  auto opened = Open(engine, request, params, {request.Query("from"), request.Query("to")});
  if (auto* error = std::get_if<Response>(&opened)) return *error;
  return MessagesPage(engine, request, std::get<0>(opened).second, std::get<0>(opened).first, {});
}

Response HandleContext(core::Engine& engine, const Request& request, const PathParams& params) {
  auto opened = Open(engine, request, params);
  if (auto* error = std::get_if<Response>(&opened)) return *error;
  const ReadAccess& access = std::get<0>(opened).second;
  const Viewer viewer{std::get<0>(opened).first.user_id, std::get<0>(opened).first.device_id,
                      &access.view};
  auto found = FindVisibleEvent(access, params.at("eventId"));
  if (auto* error = std::get_if<Response>(&found)) return *error;
  const storage::EventRecord& record = std::get<storage::EventRecord>(found);
  std::optional<size_t> limit = ParseLimit(request.Query("limit"), kContextLimitDefault);
  std::optional<EventFilter> filter = ParseFilter(request.Query("filter"));
  if (!limit || !filter) return ErrorResponse(400, "M_INVALID_PARAM", "Bad limit or filter");
  const Sequence seq = record.sequence;
  const Sequence end = std::max(ReadableEnd(access, false), seq);
  auto before = WalkLog(engine, access, viewer, *filter, seq - 1, 1, *limit / 2, false);
  auto after = seq < end ? WalkLog(engine, access, viewer, *filter, seq + 1, end,
                                   *limit - *limit / 2, false)
                         : Result<Walk>(Walk{});
  if (!before.ok()) return ErrorResponse(before.status());
  if (!after.ok()) return ErrorResponse(after.status());
  const Sequence start_seq = before->last_examined.value_or(seq) - 1;
  const Sequence end_seq = after->last_examined.value_or(seq);
  // The state at the last event returned (spec), which the caller may see: never the
  // current state, which a user who may not read the room now must not get.
  const Sequence state_seq = after->last_returned.value_or(seq);
  auto state = core::StateRecordsAt(access.snap, access.meta.number, state_seq);
  if (!state.ok()) return ErrorResponse(state.status());
  const int64_t now_ms = engine.clock().NowUnixMs();
  auto event = ToClientEvent(record, now_ms, &access.snap, &viewer);
  auto state_events = ClientEvents(*state, now_ms, &access.snap);
  if (!event.ok()) return ErrorResponse(event.status());
  if (!state_events.ok()) return ErrorResponse(state_events.status());
  return JsonResponse(200, json::object{{"start", MakeToken(start_seq)},
                                        {"end", MakeToken(end_seq)},
                                        {"event", std::move(*event)},
                                        {"events_before", std::move(before->events)},
                                        {"events_after", std::move(after->events)},
                                        {"state", std::move(*state_events)}});
}

}  // namespace

void AddRoomReadRoutes(Router& router, core::Engine& engine) {
  struct Read {
    std::string_view suffix;
    Response (*handle)(core::Engine&, const Request&, const PathParams&);
  };
  for (Read read : {Read{"/rooms/{roomId}/state", HandleState},
                    Read{"/rooms/{roomId}/state/{eventType}", HandleStateEvent},
                    Read{"/rooms/{roomId}/state/{eventType}/{stateKey}", HandleStateEvent},
                    Read{"/rooms/{roomId}/event/{eventId}", HandleEvent},
                    Read{"/rooms/{roomId}/members", HandleMembers},
                    Read{"/rooms/{roomId}/joined_members", HandleJoinedMembers},
                    Read{"/rooms/{roomId}/messages", HandleMessages},
                    Read{"/rooms/{roomId}/context/{eventId}", HandleContext}}) {
    AddRoute(
        router, "GET", read.suffix,
        [&engine, handle = read.handle](const Request& r, const PathParams& p) {
          return handle(engine, r, p);
        },
        {.offload = true});  // reads over state, members or the log: off the I/O threads
  }
}

}  // namespace nebu::api::rooms_internal
