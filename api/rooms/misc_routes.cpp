// The endpoints of misc_routes.h: the published room directory, the user directory,
// VoIP and third-party lookups, and relations.
#include "api/rooms/misc_routes.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <charconv>
#include <functional>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "api/auth.h"
#include "api/rooms/client_event.h"
#include "api/errors.h"
#include "api/rooms/rooms_common.h"
#include "api/rooms/rooms_routes.h"
#include "engine/core/engine.h"
#include "engine/core/relations.h"
#include "engine/core/room_reads.h"
#include "engine/core/user_search.h"
#include "engine/event/canonical_json.h"
#include "engine/storage/keys.h"

namespace nebu::api {

namespace json = boost::json;
using rooms_internal::AddRoute;
using storage::Sequence;

namespace {

// ---- shared helpers ----

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// A non-negative integer limit from a query string or a JSON value; nullopt when
// malformed. Absent: `fallback`. Capped at `max`.
std::optional<size_t> LimitFromText(std::optional<std::string_view> text, size_t fallback,
                                    size_t max) {
  if (!text) return fallback;
  size_t limit = 0;
  auto [ptr, ec] = std::from_chars(text->data(), text->data() + text->size(), limit);
  if (ec != std::errc() || ptr != text->data() + text->size()) return std::nullopt;
  return std::min(limit, max);
}
std::optional<size_t> LimitFromJson(const json::value* value, size_t fallback, size_t max) {
  if (!value || value->is_null()) return fallback;
  if (!value->is_int64() || value->as_int64() < 0) return std::nullopt;
  return std::min(static_cast<size_t>(value->as_int64()), max);
}

// The content of the room's current (type, "") state event; nullopt when absent.
Result<std::optional<json::object>> StateContent(core::Engine& engine, const core::RoomMeta& meta,
                                                 std::string_view type) {
  NEBU_ASSIGN_OR_RETURN(auto record,
                        core::StateRecordAt(engine.Read(), meta.number, type, "", meta.last_seq));
  if (!record) return std::optional<json::object>();
  NEBU_ASSIGN_OR_RETURN(json::value event,
                        event::ParseJson(record->json, {.canonical_numbers = false}));
  const json::value* content =
      event.is_object() ? event.as_object().if_contains("content") : nullptr;
  if (!content || !content->is_object()) return Status::Corruption("state event without content");
  return std::optional<json::object>(content->as_object());
}

std::optional<std::string> StringField(const std::optional<json::object>& content,
                                       std::string_view key) {
  if (!content) return std::nullopt;
  const json::value* v = content->if_contains(key);
  if (!v || !v->is_string()) return std::nullopt;
  return std::string(v->as_string());
}

// ---- the published room directory ----

// One room's directory entry (PublishedRoomsChunk), or nullopt when the room is not
// published.
struct DirectoryEntry {
  json::object chunk;
  std::string search_text;  // lower-case name, topic, alias and room ID
  std::optional<std::string> room_type;
};


// The room when it is published in the room directory (createRoom with visibility
// public, or PUT /directory/list/room), else nullopt. Two point reads.
Result<std::optional<core::RoomMeta>> PublishedRoom(core::Engine& engine,
                                                    std::string_view room_id) {
  NEBU_ASSIGN_OR_RETURN(core::RoomMeta meta, engine.GetRoom(room_id));
  NEBU_ASSIGN_OR_RETURN(bool published, core::IsRoomPublished(engine.Read(), room_id));
  if (!published) return std::optional<core::RoomMeta>();
  return std::optional<core::RoomMeta>(std::move(meta));
}

Result<std::optional<DirectoryEntry>> LoadDirectoryEntry(core::Engine& engine,
                                                         std::string_view room_id) {
  NEBU_ASSIGN_OR_RETURN(auto published, PublishedRoom(engine, room_id));
  if (!published) return std::optional<DirectoryEntry>();
  const core::RoomMeta& meta = *published;
  DirectoryEntry entry;
  json::object& chunk = entry.chunk;
  chunk["room_id"] = meta.room_id;
  NEBU_ASSIGN_OR_RETURN(auto join_rules, StateContent(engine, meta, rooms::kJoinRulesType));
  chunk["join_rule"] = StringField(join_rules, "join_rule").value_or("invite");
  entry.search_text = Lower(meta.room_id);
  struct Field {
    std::string_view type, key, out;
  };
  for (Field f : {Field{"m.room.name", "name", "name"}, Field{"m.room.topic", "topic", "topic"},
                  Field{"m.room.canonical_alias", "alias", "canonical_alias"},
                  Field{"m.room.avatar", "url", "avatar_url"}}) {
    NEBU_ASSIGN_OR_RETURN(auto content, StateContent(engine, meta, f.type));
    if (auto value = StringField(content, f.key); value && !value->empty()) {
      chunk[f.out] = *value;
      if (f.out != "avatar_url") entry.search_text += "\n" + Lower(*value);
    }
  }
  NEBU_ASSIGN_OR_RETURN(auto history, StateContent(engine, meta, "m.room.history_visibility"));
  chunk["world_readable"] = StringField(history, "history_visibility") == "world_readable";
  NEBU_ASSIGN_OR_RETURN(auto guest, StateContent(engine, meta, "m.room.guest_access"));
  chunk["guest_can_join"] = StringField(guest, "guest_access") == "can_join";
  NEBU_ASSIGN_OR_RETURN(auto create, StateContent(engine, meta, rooms::kCreateType));
  entry.room_type = StringField(create, "type");
  if (entry.room_type) chunk["room_type"] = *entry.room_type;
  NEBU_ASSIGN_OR_RETURN(auto members, core::RoomMembers(engine.Read(), meta.number));
  chunk["num_joined_members"] = static_cast<int64_t>(std::count_if(
      members.begin(), members.end(),
      [](const core::RoomMember& m) { return m.membership == rooms::Membership::kJoin; }));
  return std::optional<DirectoryEntry>(std::move(entry));
}

struct DirectoryQuery {
  size_t limit = kPublicRoomsLimitDefault;
  std::string cursor;  // room ID; empty: from the start
  bool forward = true;
  std::string search_term;  // lower case; empty: everything
  std::optional<std::vector<std::optional<std::string>>> room_types;
};

bool MiscMatches(const DirectoryQuery& query, const DirectoryEntry& entry) {
  if (!query.search_term.empty() &&
      entry.search_text.find(query.search_term) == std::string::npos) {
    return false;
  }
  if (!query.room_types) return true;
  return std::find(query.room_types->begin(), query.room_types->end(), entry.room_type) !=
         query.room_types->end();
}

// Parses a `since` token into the query; false when malformed.
bool ParseSince(std::string_view since, DirectoryQuery* query) {
  if (since.size() < 2 || (since[0] != 'n' && since[0] != 'p')) return false;
  query->forward = since[0] == 'n';
  query->cursor = std::string(since.substr(1));
  return true;
}

Response PublicRooms(core::Engine& engine, const DirectoryQuery& query) {
  std::vector<DirectoryEntry> page;
  std::optional<std::string> first_examined, last_examined;
  size_t examined = 0;
  bool more = false;
  Status failed = Status::Ok();
  Status scanned =
      core::ForEachRoomId(engine.Read(), query.cursor, query.forward, [&](std::string_view room_id) {
        if (page.size() == query.limit || examined == kDirectoryRoomsScanMax) {
          more = true;
          return false;
        }
        ++examined;
        if (!first_examined) first_examined = std::string(room_id);
        last_examined = std::string(room_id);
        auto entry = LoadDirectoryEntry(engine, room_id);
        if (!entry.ok()) {
          failed = entry.status();
          return false;
        }
        if (*entry && MiscMatches(query, **entry)) page.push_back(std::move(**entry));
        return true;
      });
  if (!scanned.ok()) return ErrorResponse(scanned);
  if (!failed.ok()) return ErrorResponse(failed);
  if (!query.forward) std::reverse(page.begin(), page.end());
  json::array chunk;
  for (DirectoryEntry& entry : page) chunk.push_back(std::move(entry.chunk));
  json::object body{{"chunk", std::move(chunk)}};
  // "n<id>": the rooms after id; "p<id>": the rooms before it. A page that went
  // forward continues after the last room it examined and goes back before the
  // first; a page that went backward the other way round.
  const char onward = query.forward ? 'n' : 'p';
  const char back = query.forward ? 'p' : 'n';
  if (more && last_examined) {
    body[query.forward ? "next_batch" : "prev_batch"] = onward + *last_examined;
  }
  if (!query.cursor.empty() && first_examined) {
    body[query.forward ? "prev_batch" : "next_batch"] = back + *first_examined;
  }
  return JsonResponse(200, body);
}

std::optional<Response> CheckServer(const core::Engine& engine,
                                    std::optional<std::string_view> server) {
  if (server && !server->empty() && *server != engine.server_name()) {
    return ErrorResponse(400, "M_INVALID_PARAM",
                         "This server does not query other servers' directories");
  }
  return std::nullopt;
}

Response HandleGetPublicRooms(core::Engine& engine, const Request& request) {
  if (auto error = CheckServer(engine, request.Query("server"))) return *error;
  DirectoryQuery query;
  std::optional<size_t> limit =
      LimitFromText(request.Query("limit"), kPublicRoomsLimitDefault, kPublicRoomsLimitMax);
  if (!limit) return ErrorResponse(400, "M_INVALID_PARAM", "Bad limit");
  query.limit = *limit;
  if (auto since = request.Query("since"); since && !ParseSince(*since, &query)) {
    return ErrorResponse(400, "M_INVALID_PARAM", "Bad since token");
  }
  return PublicRooms(engine, query);
}

Response HandlePostPublicRooms(core::Engine& engine, const Request& request) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  if (auto error = CheckServer(engine, request.Query("server"))) return *error;
  auto body = ParseJsonBody(request, /*canonical_numbers=*/false);
  if (auto* error = std::get_if<Response>(&body)) return *error;
  const json::object& o = std::get<json::object>(body);
  DirectoryQuery query;
  std::optional<size_t> limit =
      LimitFromJson(o.if_contains("limit"), kPublicRoomsLimitDefault, kPublicRoomsLimitMax);
  if (!limit) return ErrorResponse(400, "M_BAD_JSON", "limit must be a non-negative integer");
  query.limit = *limit;
  if (const json::value* since = o.if_contains("since"); since && !since->is_null()) {
    if (!since->is_string() || !ParseSince(since->as_string(), &query)) {
      return ErrorResponse(400, "M_INVALID_PARAM", "Bad since token");
    }
  }
  if (const json::value* filter = o.if_contains("filter"); filter && !filter->is_null()) {
    if (!filter->is_object()) return ErrorResponse(400, "M_BAD_JSON", "filter must be an object");
    const json::object& f = filter->as_object();
    if (const json::value* term = f.if_contains("generic_search_term"); term && !term->is_null()) {
      if (!term->is_string()) {
        return ErrorResponse(400, "M_BAD_JSON", "generic_search_term must be a string");
      }
      query.search_term = Lower(term->as_string());
    }
    if (const json::value* types = f.if_contains("room_types"); types && !types->is_null()) {
      if (!types->is_array()) return ErrorResponse(400, "M_BAD_JSON", "room_types must be a list");
      query.room_types.emplace();
      for (const json::value& t : types->as_array()) {
        if (t.is_null()) {
          query.room_types->push_back(std::nullopt);
        } else if (t.is_string()) {
          query.room_types->push_back(std::string(t.as_string()));
        } else {
          return ErrorResponse(400, "M_BAD_JSON", "room_types holds strings or null");
        }
      }
    }
  }
  return PublicRooms(engine, query);
}

Response HandleGetRoomVisibility(core::Engine& engine, const Request& request,
                                 const PathParams& params) {
  const std::string& room_id = params.at("roomId");
  auto not_found = [] { return ErrorResponse(404, "M_NOT_FOUND", "Room not found"); };
  Result<core::RoomMeta> meta = engine.GetRoom(room_id);
  if (!meta.ok()) {
    return meta.status().code() == StatusCode::kNotFound ? not_found()
                                                         : ErrorResponse(meta.status());
  }
  auto entry = LoadDirectoryEntry(engine, room_id);
  if (!entry.ok()) return ErrorResponse(entry.status());
  if (*entry) return JsonResponse(200, json::object{{"visibility", "public"}});
  // A private room is named only to a caller who may read it.
  if (!request.AccessToken()) return not_found();
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  auto access = rooms_internal::OpenForRead(engine, room_id, std::get<Caller>(caller).user_id);
  if (std::holds_alternative<Response>(access)) return not_found();
  return JsonResponse(200, json::object{{"visibility", "private"}});
}

// ---- the user directory ----

Response HandleUserSearch(core::Engine& engine, const Request& request) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  auto body = ParseJsonBody(request, /*canonical_numbers=*/false);
  if (auto* error = std::get_if<Response>(&body)) return *error;
  const json::object& o = std::get<json::object>(body);
  const json::value* term_value = o.if_contains("search_term");
  if (!term_value || !term_value->is_string()) {
    return ErrorResponse(400, "M_BAD_JSON", "search_term (a string) is required");
  }
  if (term_value->as_string().size() > kUserSearchTermBytesMax) {
    return ErrorResponse(400, "M_INVALID_PARAM", "search_term is too long");
  }
  std::optional<size_t> limit =
      LimitFromJson(o.if_contains("limit"), kUserSearchLimitDefault, kUserSearchLimitMax);
  if (!limit) return ErrorResponse(400, "M_BAD_JSON", "limit must be a non-negative integer");
  auto found = core::SearchUserDirectory(engine.Read(), std::get<Caller>(caller).user_id,
                                         term_value->as_string(), *limit);
  if (!found.ok()) return ErrorResponse(found.status());
  json::array results;
  for (core::UserSearchHit& hit : found->results) {
    json::object result{{"user_id", hit.user_id}};
    if (hit.displayname) result["display_name"] = *hit.displayname;
    if (hit.avatar_url) result["avatar_url"] = *hit.avatar_url;
    results.push_back(std::move(result));
  }
  return JsonResponse(200,
                      json::object{{"results", std::move(results)}, {"limited", found->limited}});
}

// ---- relations ----

struct RelationsQuery {
  std::string parent;
  std::optional<std::string> rel_type, event_type;
  bool backwards = true;
  std::optional<Sequence> from, to;
  size_t limit = kRelationsLimitDefault;
  bool recurse = false;
};

std::variant<RelationsQuery, Response> ParseRelationsQuery(core::Engine& engine,
                                                           const core::RoomMeta& meta,
                                                           const Request& request,
                                                           const PathParams& params) {
  RelationsQuery q;
  q.parent = params.at("eventId");
  if (auto it = params.find("relType"); it != params.end()) q.rel_type = it->second;
  if (auto it = params.find("eventType"); it != params.end()) q.event_type = it->second;
  auto bad = [](std::string_view what) { return ErrorResponse(400, "M_INVALID_PARAM", what); };
  std::optional<std::string_view> dir = request.Query("dir");
  if (dir && *dir != "b" && *dir != "f") return bad("dir must be b or f");
  q.backwards = !dir || *dir == "b";
  for (auto [name, out] : {std::pair{"from", &q.from}, std::pair{"to", &q.to}}) {
    if (auto text = request.Query(name)) {
      auto seq = rooms_internal::RoomPositionOfToken(engine.Read(), meta, *text);
      if (!seq.ok()) return ErrorResponse(seq.status());
      if (!*seq) return bad("Bad pagination token");
      *out = **seq;
    }
  }
  std::optional<size_t> limit =
      LimitFromText(request.Query("limit"), kRelationsLimitDefault, kMessagesLimitMax);
  if (!limit) return bad("Bad limit");
  q.limit = *limit;
  if (auto recurse = request.Query("recurse")) {
    if (*recurse != "true" && *recurse != "false") return bad("recurse must be true or false");
    q.recurse = *recurse == "true";
  }
  return q;
}

Response HandleRelations(core::Engine& engine, const Request& request, const PathParams& params) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  if (auto ahead = rooms_internal::AwaitRoomTokens(engine, params.at("roomId"),
                                                   {request.Query("from"), request.Query("to")})) {
    return *ahead;  // cluster-wide tokens: api/token_wait.h
  }
  auto opened =
      rooms_internal::OpenForRead(engine, params.at("roomId"), std::get<Caller>(caller).user_id);
  if (auto* error = std::get_if<Response>(&opened)) return *error;
  const rooms_internal::ReadAccess& access = std::get<rooms_internal::ReadAccess>(opened);
  auto parsed = ParseRelationsQuery(engine, access.meta, request, params);
  if (auto* error = std::get_if<Response>(&parsed)) return *error;
  const RelationsQuery& q = std::get<RelationsQuery>(parsed);
  const Viewer viewer{std::get<Caller>(caller).user_id, std::get<Caller>(caller).device_id,
                      &access.view};

  Result<storage::EventRecord> parent = engine.GetEvent(q.parent);
  if (!parent.ok() && parent.status().code() != StatusCode::kNotFound) {
    return ErrorResponse(parent.status());
  }
  if (!parent.ok() || parent->room != access.meta.number ||
      !access.view.Visible(parent->sequence, parent->type, parent->state_key)) {
    return ErrorResponse(404, "M_NOT_FOUND", "Event not found");
  }
  // Children come after their parent in the log. The end the caller may read:
  // everything while joined or ever world_readable, else up to their departure.
  const Sequence first = parent->sequence + 1;
  const Sequence end = access.view.joined_now() || access.view.ever_world_readable()
                           ? access.meta.last_seq
                           : access.view.DepartureSequence().value_or(0);
  json::object body;
  if (q.recurse) body["recursion_depth"] = kRelationsRecursionDepth;
  body["chunk"] = json::array{};
  if (first > end || q.limit == 0) return JsonResponse(200, body);

  // The page: from `from` (or the edge) towards `to` (or the parent / the end).
  Sequence start =
      q.backwards ? std::min(q.from.value_or(end), end) : q.from.value_or(first - 1) + 1;
  Sequence stop =
      q.backwards ? std::max(q.to.value_or(0) + 1, first) : std::min(q.to.value_or(end), end);
  if (!q.backwards) start = std::max(start, first);  // nothing before the parent relates
  if (q.backwards ? start < stop : start > stop) return JsonResponse(200, body);
  core::RelationsRequest read{.room = access.meta.number,
                              .parent = q.parent,
                              .first = first,
                              .last = end,
                              .start = start,
                              .stop = stop,
                              .backwards = q.backwards,
                              .rel_type = q.rel_type,
                              .event_type = q.event_type,
                              .depth_max = q.recurse ? kRelationsRecursionDepth : 1,
                              .limit = q.limit};
  auto page = core::ReadRelations(access.snap, read, [&](const storage::EventRecord& e) {
    return access.view.Visible(e.sequence, e.type,
                               e.state_key ? std::optional<std::string_view>(*e.state_key)
                                           : std::nullopt);
  });
  if (!page.ok()) return ErrorResponse(page.status());
  json::array chunk;
  const int64_t now_ms = engine.clock().NowUnixMs();
  for (const storage::EventRecord& record : page->events) {
    auto event = ToClientEvent(record, now_ms, &access.snap, &viewer);
    if (!event.ok()) return ErrorResponse(event.status());
    chunk.push_back(std::move(event).value());
  }
  if (page->last) {
    body["next_batch"] = rooms_internal::MakeToken(q.backwards ? *page->last - 1 : *page->last);
  }
  if (q.from) body["prev_batch"] = rooms_internal::MakeToken(*q.from);
  body["chunk"] = std::move(chunk);
  return JsonResponse(200, body);
}

// ---- honest empty answers ----

Response EmptyObjectFor(core::Engine& engine, const Request& request) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  return JsonResponse(200, json::object{});
}

}  // namespace

void AddMiscRoutes(Router& router, core::Engine& engine) {
  // Heavy reads (every published room, every user, a relation scan) run off the I/O
  // threads: RouteOptions::offload, api/router.h.
  const RouteOptions heavy{.offload = true};
  AddRoute(
      router, "GET", "/publicRooms",
      [&engine](const Request& r, const PathParams&) { return HandleGetPublicRooms(engine, r); },
      heavy);
  AddRoute(
      router, "POST", "/publicRooms",
      [&engine](const Request& r, const PathParams&) { return HandlePostPublicRooms(engine, r); },
      heavy);
  AddRoute(router, "GET", "/directory/list/room/{roomId}",
           [&engine](const Request& r, const PathParams& p) {
             return HandleGetRoomVisibility(engine, r, p);
           });
  AddRoute(
      router, "POST", "/user_directory/search",
      [&engine](const Request& r, const PathParams&) { return HandleUserSearch(engine, r); },
      heavy);
  // No TURN server is configured: Synapse answers {} then, and clients read that as
  // "no TURN" (the spec's 200 body describes a configured server only).
  AddRoute(router, "GET", "/voip/turnServer",
           [&engine](const Request& r, const PathParams&) { return EmptyObjectFor(engine, r); });
  AddRoute(router, "GET", "/thirdparty/protocols",
           [&engine](const Request& r, const PathParams&) { return EmptyObjectFor(engine, r); });
  for (std::string_view suffix :
       {"/rooms/{roomId}/relations/{eventId}", "/rooms/{roomId}/relations/{eventId}/{relType}",
        "/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}"}) {
    AddRoute(
        router, "GET", suffix,
        [&engine](const Request& r, const PathParams& p) { return HandleRelations(engine, r, p); },
        heavy);
    // The spec's path (relations.yaml); v3 and r0 above stay as aliases.
    rooms_internal::AddClientV1Route(
        router, "GET", suffix,
        [&engine](const Request& r, const PathParams& p) { return HandleRelations(engine, r, p); },
        heavy);
  }
}

}  // namespace nebu::api
