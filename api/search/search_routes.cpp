// POST /search (search_routes.h): the rooms the caller may search, the query on the
// index (engine/search), and the response with context, state and groups.
#include "api/search/search_routes.h"

#include <algorithm>
#include <boost/json.hpp>
#include <map>

#include "api/auth.h"
#include "api/errors.h"
#include "api/glob.h"
#include "api/rooms/client_event.h"
#include "api/search/search_request.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/storage/room_log.h"

namespace nebu::api {

namespace json = boost::json;
using search_internal::RoomEventsCriteria;
using storage::RoomNumber;
using storage::Sequence;

namespace {

// A room the caller may search, with their view of its history.
struct SearchRoom {
  core::RoomMeta meta;
  core::HistoryView view;
};

struct SearchContext {
  const core::Snapshot& snap;
  const Caller& who;
  const RoomEventsCriteria& criteria;
  std::map<RoomNumber, SearchRoom> rooms;
  int64_t now_ms = 0;
};

// The rooms of the caller that the criteria's room filters let through and that
// HistoryView::MayReadRoom allows, or the ready response.
std::optional<Response> LoadRooms(SearchContext& ctx) {
  auto memberships = core::RoomsOf(ctx.snap, ctx.who.user_id);
  if (!memberships.ok()) return ErrorResponse(memberships.status());
  for (const auto& [room_id, membership] : *memberships) {
    if (ctx.criteria.rooms && !ctx.criteria.rooms->contains(room_id)) continue;
    if (ctx.criteria.not_rooms.contains(room_id)) continue;
    auto meta = core::LoadRoomMeta(ctx.snap, room_id);
    if (!meta.ok()) return ErrorResponse(meta.status());
    auto forgotten = core::IsRoomForgotten(ctx.snap, ctx.who.user_id, meta->number);
    if (!forgotten.ok()) return ErrorResponse(forgotten.status());
    if (*forgotten) continue;
    auto view = core::HistoryView::Load(ctx.snap, meta->number, ctx.who.user_id);
    if (!view.ok()) return ErrorResponse(view.status());
    if (!view->MayReadRoom()) continue;
    if (ctx.rooms.size() == search::kSearchRoomsMax) {
      return ErrorResponse(400, "M_INVALID_PARAM", "Too many rooms to search: use filter.rooms");
    }
    const RoomNumber number = meta->number;
    ctx.rooms.emplace(number, SearchRoom{std::move(meta).value(), std::move(view).value()});
  }
  return std::nullopt;
}

bool MatchesFilter(const RoomEventsCriteria& c, const storage::EventRecord& record) {
  if (!c.types.empty() && !GlobMatchAny(c.types, record.type)) return false;
  if (GlobMatchAny(c.not_types, record.type)) return false;
  auto in = [&](const std::vector<std::string>& ids) {
    return std::find(ids.begin(), ids.end(), record.sender) != ids.end();
  };
  return (c.senders.empty() || in(c.senders)) && !in(c.not_senders);
}

// The last sequence the caller could see anything at (as /messages).
Sequence SearchReadableEnd(const SearchRoom& room) {
  if (room.view.joined_now() || room.view.ever_world_readable()) return room.meta.last_seq;
  return room.view.DepartureSequence().value_or(0);
}

// Up to `limit` visible events from `from` towards `to` (backwards when from > to).
Result<json::array> ContextEvents(const SearchContext& ctx, const SearchRoom& room, Sequence from,
                                  Sequence to, size_t limit, Sequence* last_examined) {
  json::array out;
  if (limit == 0 || from == 0 || to == 0) return out;
  const Viewer viewer{ctx.who.user_id, ctx.who.device_id};
  Status failed = Status::Ok();
  NEBU_RETURN_IF_ERROR(core::ScanRoom(
      ctx.snap, room.meta.room_id, from, to, kSearchContextScanEventsMax,
      [&](const storage::EventView& view) {
        *last_examined = view.sequence;
        if (!room.view.Visible(view.sequence, view.type, view.state_key)) return true;
        auto event = ToClientEvent(view, ctx.now_ms, &ctx.snap, &viewer);
        if (!event.ok()) {
          failed = event.status();
          return false;
        }
        out.emplace_back(std::move(event).value());
        return out.size() < limit;
      }));
  NEBU_RETURN_IF_ERROR(failed);
  return out;
}

// The sender's displayname / avatar_url from their member event at `seq`.
Result<json::object> ProfileAt(const SearchContext& ctx, const storage::EventRecord& record) {
  json::object profile;
  NEBU_ASSIGN_OR_RETURN(auto member, core::StateRecordAt(ctx.snap, record.room, "m.room.member",
                                                         record.sender, record.sequence));
  if (!member) return profile;
  NEBU_ASSIGN_OR_RETURN(json::object event, ToClientEvent(*member, ctx.now_ms, &ctx.snap));
  const json::object& content = event.at("content").as_object();
  for (std::string_view key : {"displayname", "avatar_url"}) {
    const json::value* v = content.if_contains(key);
    if (v && v->is_string()) profile[key] = *v;
  }
  return profile;
}

Result<json::object> EventContext(const SearchContext& ctx, const SearchRoom& room,
                                  const storage::EventRecord& record) {
  const auto& want = *ctx.criteria.context;
  const Sequence seq = record.sequence;
  Sequence first_examined = seq, last_examined = seq;
  NEBU_ASSIGN_OR_RETURN(json::array before,
                        ContextEvents(ctx, room, seq - 1, 1, want.before, &first_examined));
  const Sequence end = std::max(SearchReadableEnd(room), seq);
  json::array after;
  if (seq < end) {
    NEBU_ASSIGN_OR_RETURN(after, ContextEvents(ctx, room, seq + 1, end, want.after, &last_examined));
  }
  json::object context{{"start", "s" + std::to_string(first_examined - 1)},
                       {"end", "s" + std::to_string(last_examined)},
                       {"events_before", std::move(before)},
                       {"events_after", std::move(after)}};
  if (want.include_profile) {
    NEBU_ASSIGN_OR_RETURN(json::object profile, ProfileAt(ctx, record));
    context["profile_info"] = json::object{{record.sender, std::move(profile)}};
  }
  return context;
}

// The state of a room as GET /rooms/{roomId}/state gives it to the caller.
Result<json::array> RoomStateFor(const SearchContext& ctx, const SearchRoom& room) {
  json::array out;
  std::optional<Sequence> horizon = room.view.joined_now() || room.view.world_readable_now()
                                        ? std::optional(room.meta.last_seq)
                                        : room.view.DepartureSequence();
  if (!horizon) return out;
  NEBU_ASSIGN_OR_RETURN(auto records, core::StateRecordsAt(ctx.snap, room.meta.number, *horizon));
  for (const storage::EventRecord& r : records) {
    NEBU_ASSIGN_OR_RETURN(json::object event, ToClientEvent(r, ctx.now_ms, &ctx.snap));
    out.emplace_back(std::move(event));
  }
  return out;
}

// Adds `id` to the group `value` of `groups`, numbering groups by first appearance.
void AddToGroup(json::object& groups, const std::string& value, std::string_view id) {
  json::value& group = groups[value];
  if (!group.is_object()) {
    group = json::object{{"order", static_cast<int64_t>(groups.size())},
                         {"results", json::array{}}};
  }
  group.as_object()["results"].as_array().emplace_back(id);
}

Result<json::object> Results(SearchContext& ctx, const search::Page& page) {
  const Viewer viewer{ctx.who.user_id, ctx.who.device_id};
  storage::RoomLog log(ctx.snap);
  json::array results;
  json::object by_room, by_sender, state;
  for (const search::Hit& hit : page.hits) {
    const SearchRoom& room = ctx.rooms.at(hit.room);
    NEBU_ASSIGN_OR_RETURN(storage::EventRecord record, log.Read(hit.room, hit.sequence));
    NEBU_ASSIGN_OR_RETURN(json::object event, ToClientEvent(record, ctx.now_ms, &ctx.snap, &viewer));
    json::object result{{"rank", static_cast<double>(hit.rank)}, {"result", std::move(event)}};
    if (ctx.criteria.context) {
      NEBU_ASSIGN_OR_RETURN(json::object context, EventContext(ctx, room, record));
      result["context"] = std::move(context);
    }
    results.emplace_back(std::move(result));
    if (ctx.criteria.group_by_room) AddToGroup(by_room, room.meta.room_id, record.event_id);
    if (ctx.criteria.group_by_sender) AddToGroup(by_sender, record.sender, record.event_id);
    if (ctx.criteria.include_state && !state.contains(room.meta.room_id)) {
      NEBU_ASSIGN_OR_RETURN(json::array room_state, RoomStateFor(ctx, room));
      state[room.meta.room_id] = std::move(room_state);
    }
  }
  json::object out{{"results", std::move(results)},
                   {"count", static_cast<int64_t>(page.count)}};
  json::array highlights;
  for (const std::string& w : ctx.criteria.words) highlights.emplace_back(w);
  out["highlights"] = std::move(highlights);
  std::optional<std::string> next;
  if (page.next) next = search_internal::EncodeNextBatch(*page.next);
  if (next) out["next_batch"] = *next;
  if (ctx.criteria.include_state) out["state"] = std::move(state);
  if (ctx.criteria.group_by_room || ctx.criteria.group_by_sender) {
    json::object groups;
    for (auto [flag, key, group] : {std::tuple{ctx.criteria.group_by_room, "room_id", &by_room},
                                    std::tuple{ctx.criteria.group_by_sender, "sender", &by_sender}}) {
      if (!flag) continue;
      if (next) {
        for (auto& entry : *group) entry.value().as_object()["next_batch"] = *next;
      }
      groups[key] = std::move(*group);
    }
    out["groups"] = std::move(groups);
  }
  return out;
}

Response HandleSearch(core::Engine& engine, const Request& request) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  const Caller& who = std::get<Caller>(caller);
  auto body = ParseJsonBody(request, /*canonical_numbers=*/false);
  if (auto* error = std::get_if<Response>(&body)) return *error;
  auto parsed = search_internal::ParseSearchRequest(std::get<json::object>(body),
                                                    request.Query("next_batch"));
  if (auto* error = std::get_if<Response>(&parsed)) return *error;
  const std::optional<RoomEventsCriteria>& criteria = std::get<0>(parsed);
  if (!criteria) return JsonResponse(200, json::object{{"search_categories", json::object{}}});

  const core::Snapshot snap = engine.Read();
  SearchContext ctx{snap, who, *criteria, {}, engine.clock().NowUnixMs()};
  if (auto error = LoadRooms(ctx)) return *error;
  search::Query query{.words = criteria->words,
                      .keys = criteria->keys,
                      .by_rank = criteria->by_rank,
                      .below = snap.position() + 1,
                      .limit = criteria->limit};
  if (criteria->cursor) {
    query.below = std::min(query.below, criteria->cursor->below);
    query.after = criteria->cursor->after;
  }
  for (const auto& entry : ctx.rooms) query.rooms.push_back(entry.first);
  auto page = search::Search(snap, query, [&](const storage::EventRecord& record) -> Result<bool> {
    const SearchRoom& room = ctx.rooms.at(record.room);
    return room.view.Visible(record.sequence, record.type, record.state_key) &&
           MatchesFilter(*criteria, record);
  });
  if (!page.ok()) return ErrorResponse(page.status());
  auto results = Results(ctx, *page);
  if (!results.ok()) return ErrorResponse(results.status());
  return JsonResponse(
      200, json::object{{"search_categories", json::object{{"room_events", std::move(*results)}}}});
}

}  // namespace

void AddSearchRoutes(Router& router, core::Engine& engine) {
  for (std::string_view prefix : kClientPrefixes) {
    router.Add(
        "POST", std::string(prefix) + "/search",
        [&engine](const Request& request, const PathParams&) { return HandleSearch(engine, request); },
        {.offload = true});  // index and log reads: off the I/O threads
  }
}

}  // namespace nebu::api
