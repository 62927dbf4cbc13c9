#include "api/rooms/space_routes.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <optional>
#include <string>
#include <unordered_set>
#include <utility>
#include <variant>
#include <vector>

#include "api/auth.h"
#include "api/errors.h"
#include "api/rooms/rooms_common.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/event/identifiers.h"

namespace nebu::api {

namespace json = boost::json;
using rooms::Membership;
using rooms_internal::AddClientV1Route;
using rooms_internal::ForbiddenRoom;

namespace {

constexpr std::string_view kSpaceChildType = "m.space.child";
constexpr size_t kChildOrderBytesMax = 50;  // the spec's bound on m.space.child `order`

// The content of the room's current (type, state_key) event; nullopt when absent.
Result<std::optional<json::object>> CurrentContent(const storage::ReadView& view,
                                                   const core::RoomMeta& meta,
                                                   std::string_view type,
                                                   std::string_view state_key) {
  NEBU_ASSIGN_OR_RETURN(auto record,
                        core::StateRecordAt(view, meta.number, type, state_key, meta.last_seq));
  if (!record) return std::optional<json::object>();
  boost::system::error_code ec;
  json::value event = json::parse(record->json, ec);
  if (ec || !event.is_object()) return Status::Corruption("stored event is not a JSON object");
  const json::value* content = event.as_object().if_contains("content");
  if (content == nullptr || !content->is_object()) return std::optional<json::object>(json::object{});
  return std::optional<json::object>(content->as_object());
}

std::optional<std::string_view> StringIn(const std::optional<json::object>& content,
                                         std::string_view key) {
  if (!content) return std::nullopt;
  const json::value* v = content->if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->as_string());
}

// What both routes read of one room.
struct RoomFacts {
  core::RoomMeta meta;
  std::optional<json::object> create, join_rules, history_visibility;
  Membership membership = Membership::kNone;  // the caller's; kNone when anonymous

  std::string join_rule() const {
    return std::string(StringIn(join_rules, "join_rule").value_or("invite"));
  }
  bool world_readable() const {
    return StringIn(history_visibility, "history_visibility") == "world_readable";
  }
  bool is_space() const { return StringIn(create, "type") == "m.space"; }
};

// The room's facts; kNotFound for a room unknown here.
Result<RoomFacts> LoadFacts(const storage::ReadView& view, std::string_view room_id,
                            const std::optional<std::string>& user_id) {
  RoomFacts facts;
  NEBU_ASSIGN_OR_RETURN(facts.meta, core::LoadRoomMeta(view, room_id));
  NEBU_ASSIGN_OR_RETURN(facts.create, CurrentContent(view, facts.meta, rooms::kCreateType, ""));
  NEBU_ASSIGN_OR_RETURN(facts.join_rules,
                        CurrentContent(view, facts.meta, rooms::kJoinRulesType, ""));
  NEBU_ASSIGN_OR_RETURN(facts.history_visibility,
                        CurrentContent(view, facts.meta, "m.room.history_visibility", ""));
  if (user_id) facts.membership = core::MembershipOf(view, *user_id, facts.meta.number);
  return facts;
}

// The room IDs of the join rule's m.room_membership conditions (at most
// core::kJoinAllowConditionsMax).
std::vector<std::string> AllowedRoomIds(const RoomFacts& facts) {
  std::vector<std::string> ids;
  if (!facts.join_rules) return ids;
  const json::value* allow = facts.join_rules->if_contains("allow");
  if (allow == nullptr || !allow->is_array()) return ids;
  for (const json::value& entry : allow->as_array()) {
    if (ids.size() >= core::kJoinAllowConditionsMax) break;
    if (!entry.is_object()) continue;
    const json::value* type = entry.as_object().if_contains("type");
    const json::value* room_id = entry.as_object().if_contains("room_id");
    if (!type || !type->is_string() || type->as_string() != "m.room_membership") continue;
    if (!room_id || !room_id->is_string() || !event::IsValidRoomId(room_id->as_string())) continue;
    ids.emplace_back(room_id->as_string());
  }
  return ids;
}

// The visibility rule of space_routes.h.
Result<bool> MaySee(const storage::ReadView& view, const RoomFacts& facts,
                    const std::optional<std::string>& user_id) {
  if (facts.membership == Membership::kJoin || facts.membership == Membership::kInvite) {
    return true;
  }
  const std::string rule = facts.join_rule();
  if (rule == "public" || rule == "knock" || rule == "knock_restricted") return true;
  if (facts.world_readable()) return true;
  if (rule != "restricted" || !user_id) return false;
  for (const std::string& room_id : AllowedRoomIds(facts)) {
    Result<core::RoomMeta> allowed = core::LoadRoomMeta(view, room_id);
    if (!allowed.ok()) {
      if (allowed.status().code() == StatusCode::kNotFound) continue;
      return allowed.status();
    }
    if (core::MembershipOf(view, *user_id, allowed->number) == Membership::kJoin) return true;
  }
  return false;
}

// The room's summary (room_summary.yaml).
Result<json::object> SpaceRoomSummary(const storage::ReadView& view, const RoomFacts& facts) {
  const core::RoomMeta& meta = facts.meta;
  json::object out{{"room_id", meta.room_id},
                   {"room_version", event::RoomVersionName(meta.version)},
                   {"join_rule", facts.join_rule()},
                   {"world_readable", facts.world_readable()}};
  NEBU_ASSIGN_OR_RETURN(auto name, CurrentContent(view, meta, "m.room.name", ""));
  NEBU_ASSIGN_OR_RETURN(auto topic, CurrentContent(view, meta, "m.room.topic", ""));
  NEBU_ASSIGN_OR_RETURN(auto avatar, CurrentContent(view, meta, "m.room.avatar", ""));
  NEBU_ASSIGN_OR_RETURN(auto alias, CurrentContent(view, meta, "m.room.canonical_alias", ""));
  NEBU_ASSIGN_OR_RETURN(auto guests, CurrentContent(view, meta, "m.room.guest_access", ""));
  NEBU_ASSIGN_OR_RETURN(auto encryption, CurrentContent(view, meta, "m.room.encryption", ""));
  if (auto v = StringIn(name, "name"); v && !v->empty()) out["name"] = *v;
  if (auto v = StringIn(topic, "topic"); v && !v->empty()) out["topic"] = *v;
  if (auto v = StringIn(avatar, "url"); v && !v->empty()) out["avatar_url"] = *v;
  if (auto v = StringIn(alias, "alias"); v && !v->empty()) out["canonical_alias"] = *v;
  if (auto v = StringIn(encryption, "algorithm")) out["encryption"] = *v;
  if (auto v = StringIn(facts.create, "type")) out["room_type"] = *v;
  out["guest_can_join"] = StringIn(guests, "guest_access") == "can_join";
  const std::string rule = facts.join_rule();
  if (rule == "restricted" || rule == "knock_restricted") {
    json::array allowed;
    for (std::string& id : AllowedRoomIds(facts)) allowed.emplace_back(std::move(id));
    out["allowed_room_ids"] = std::move(allowed);
  }
  NEBU_ASSIGN_OR_RETURN(auto members, core::RoomMembers(view, meta.number));
  int64_t joined = 0;
  for (const core::RoomMember& member : members) joined += member.membership == Membership::kJoin;
  out["num_joined_members"] = joined;
  return out;
}

// ---- GET /rooms/{roomId}/hierarchy ----

struct Child {
  std::string room_id;
  std::optional<std::string> order;
  int64_t ts = 0;
  bool suggested = false;
  json::object stripped;  // stripped state + origin_server_ts
};

// A valid `order`: 1-50 characters in 0x20..0x7E.
std::optional<std::string> ValidOrder(const json::object& content) {
  const json::value* order = content.if_contains("order");
  if (order == nullptr || !order->is_string()) return std::nullopt;
  std::string_view text = order->as_string();
  if (text.empty() || text.size() > kChildOrderBytesMax) return std::nullopt;
  for (char c : text) {
    if (c < 0x20 || c > 0x7e) return std::nullopt;
  }
  return std::string(text);
}

// The valid m.space.child events of a space, in the spec's order, at most
// kHierarchyChildrenPerRoomMax.
Result<std::vector<Child>> ChildrenOf(const storage::ReadView& view, const RoomFacts& facts) {
  std::vector<Child> children;
  if (!facts.is_space()) return children;
  NEBU_ASSIGN_OR_RETURN(auto records, core::StateRecordsAt(view, facts.meta.number,
                                                           facts.meta.last_seq, kSpaceChildType));
  for (const storage::EventRecord& record : records) {
    if (!record.state_key || !event::IsValidRoomId(*record.state_key)) continue;
    boost::system::error_code ec;
    json::value event = json::parse(record.json, ec);
    if (ec || !event.is_object()) return Status::Corruption("stored event is not a JSON object");
    const json::value* content = event.as_object().if_contains("content");
    if (content == nullptr || !content->is_object()) continue;
    const json::value* via = content->as_object().if_contains("via");
    if (via == nullptr || !via->is_array() || via->as_array().empty()) continue;
    const json::value* suggested = content->as_object().if_contains("suggested");
    children.push_back(Child{*record.state_key, ValidOrder(content->as_object()),
                             record.origin_server_ts,
                             suggested && suggested->is_bool() && suggested->as_bool(),
                             json::object{{"type", record.type},
                                          {"state_key", *record.state_key},
                                          {"sender", record.sender},
                                          {"content", content->as_object()},
                                          {"origin_server_ts", record.origin_server_ts}}});
  }
  std::sort(children.begin(), children.end(), [](const Child& a, const Child& b) {
    if (a.order.has_value() != b.order.has_value()) return a.order.has_value();
    if (a.order && *a.order != *b.order) return *a.order < *b.order;
    if (a.ts != b.ts) return a.ts < b.ts;
    return a.room_id < b.room_id;
  });
  if (children.size() > kHierarchyChildrenPerRoomMax) children.resize(kHierarchyChildrenPerRoomMax);
  return children;
}

struct HierarchyParams {
  size_t limit = kHierarchyLimitDefault;
  size_t max_depth = kHierarchyDepthMax;
  bool suggested_only = false;
  size_t skip = 0;  // rooms earlier pages returned
};

std::optional<size_t> ParseCount(std::string_view text) {
  size_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size()) return std::nullopt;
  return value;
}

// next_batch: "h<skip>_<max_depth>_<suggested_only 0|1>".
std::string HierarchyToken(const HierarchyParams& p) {
  return "h" + std::to_string(p.skip) + "_" + std::to_string(p.max_depth) + "_" +
         (p.suggested_only ? "1" : "0");
}

std::variant<HierarchyParams, Response> ParseHierarchyParams(const Request& request) {
  auto bad = [](std::string message) { return ErrorResponse(400, "M_INVALID_PARAM", message); };
  HierarchyParams p;
  if (auto text = request.Query("limit")) {
    auto limit = ParseCount(*text);
    if (!limit || *limit == 0) return bad("limit must be a positive integer");
    p.limit = std::min(*limit, kHierarchyLimitMax);
  }
  if (auto text = request.Query("max_depth")) {
    auto depth = ParseCount(*text);
    if (!depth) return bad("max_depth must be a non-negative integer");
    p.max_depth = std::min(*depth, kHierarchyDepthMax);
  }
  if (auto text = request.Query("suggested_only")) {
    if (*text != "true" && *text != "false") return bad("suggested_only must be true or false");
    p.suggested_only = *text == "true";
  }
  if (auto from = request.Query("from")) {
    std::string_view t = *from;
    size_t first = t.find('_'), second = t.rfind('_');
    if (!t.starts_with('h') || first == std::string_view::npos || first == second) {
      return bad("Unknown from token");
    }
    auto skip = ParseCount(t.substr(1, first - 1));
    auto depth = ParseCount(t.substr(first + 1, second - first - 1));
    std::string_view suggested = t.substr(second + 1);
    if (!skip || !depth || (suggested != "0" && suggested != "1")) {
      return bad("Unknown from token");
    }
    if (*depth != p.max_depth || (suggested == "1") != p.suggested_only) {
      return bad("suggested_only and max_depth cannot change on paginated requests");
    }
    p.skip = *skip;
  }
  return p;
}

// The depth-first walk (space_routes.h). Appends the page's rooms to `rooms`; true
// when rooms remain after the page.
Result<bool> WalkHierarchy(const storage::ReadView& view, const std::string& user_id,
                           RoomFacts root, const HierarchyParams& p, json::array& rooms) {
  std::vector<std::pair<RoomFacts, size_t>> stack;
  stack.emplace_back(std::move(root), 0);
  std::unordered_set<std::string> seen{stack.back().first.meta.room_id};
  size_t examined = 0, listed = 0;
  const std::optional<std::string> caller(user_id);
  while (!stack.empty()) {
    if (listed >= p.skip + p.limit) return true;
    if (examined >= kHierarchyRoomsExaminedMax) return false;
    auto [facts, depth] = std::move(stack.back());
    stack.pop_back();
    ++examined;
    NEBU_ASSIGN_OR_RETURN(std::vector<Child> children, ChildrenOf(view, facts));
    if (listed >= p.skip) {
      NEBU_ASSIGN_OR_RETURN(json::object entry, SpaceRoomSummary(view, facts));
      json::array children_state;
      for (Child& child : children) children_state.emplace_back(std::move(child.stripped));
      entry["children_state"] = std::move(children_state);
      rooms.emplace_back(std::move(entry));
    }
    ++listed;
    if (depth >= p.max_depth) continue;
    std::vector<std::pair<RoomFacts, size_t>> next;
    for (const Child& child : children) {
      if (p.suggested_only && !child.suggested) continue;
      if (!seen.insert(child.room_id).second) continue;
      Result<RoomFacts> loaded = LoadFacts(view, child.room_id, caller);
      if (!loaded.ok()) {
        if (loaded.status().code() == StatusCode::kNotFound) continue;  // not on this server
        return loaded.status();
      }
      NEBU_ASSIGN_OR_RETURN(bool visible, MaySee(view, *loaded, caller));
      if (visible) next.emplace_back(std::move(loaded).value(), depth + 1);
    }
    for (auto it = next.rbegin(); it != next.rend(); ++it) stack.push_back(std::move(*it));
  }
  return false;
}

Response HandleHierarchy(core::Engine& engine, const Request& request, const PathParams& params) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  const std::optional<std::string> user_id = std::get<Caller>(caller).user_id;
  auto parsed = ParseHierarchyParams(request);
  if (auto* error = std::get_if<Response>(&parsed)) return *error;
  HierarchyParams p = std::get<HierarchyParams>(parsed);
  const std::string& room_id = params.at("roomId");
  if (!event::IsValidRoomId(room_id)) return ForbiddenRoom();
  core::Snapshot snap = engine.Read();
  Result<RoomFacts> root = LoadFacts(snap, room_id, user_id);
  if (!root.ok()) return rooms_internal::RoomError(root.status());
  Result<bool> visible = MaySee(snap, *root, user_id);
  if (!visible.ok()) return ErrorResponse(visible.status());
  if (!*visible) return ForbiddenRoom();
  json::array rooms;
  Result<bool> more = WalkHierarchy(snap, *user_id, std::move(root).value(), p, rooms);
  if (!more.ok()) return ErrorResponse(more.status());
  json::object body{{"rooms", std::move(rooms)}};
  if (*more) {
    HierarchyParams next = p;
    next.skip = p.skip + p.limit;
    body["next_batch"] = HierarchyToken(next);
  }
  return JsonResponse(200, std::move(body));
}

// ---- GET /room_summary/{roomIdOrAlias} ----

Response NotFoundRoom() { return ErrorResponse(404, "M_NOT_FOUND", "Room not found"); }

Response HandleRoomSummary(core::Engine& engine, const Request& request,
                           const PathParams& params) {
  std::optional<std::string> user_id;
  if (request.AccessToken()) {
    auto caller = Authenticate(request, engine);
    if (auto* error = std::get_if<Response>(&caller)) return *error;
    user_id = std::get<Caller>(caller).user_id;
  }
  core::Snapshot snap = engine.Read();
  std::string room_id = params.at("roomIdOrAlias");
  if (event::IsValidRoomAlias(room_id)) {
    Result<std::optional<std::string>> resolved = core::ResolveRoomAlias(snap, room_id);
    if (!resolved.ok()) return ErrorResponse(resolved.status());
    if (!*resolved) return NotFoundRoom();
    room_id = std::move(**resolved);
  } else if (!event::IsValidRoomId(room_id)) {
    return ErrorResponse(400, "M_INVALID_PARAM", "Not a room ID or alias");
  }
  Result<RoomFacts> facts = LoadFacts(snap, room_id, user_id);
  if (!facts.ok()) {
    return facts.status().code() == StatusCode::kNotFound ? NotFoundRoom()
                                                          : ErrorResponse(facts.status());
  }
  Result<bool> visible = MaySee(snap, *facts, user_id);
  if (!visible.ok()) return ErrorResponse(visible.status());
  if (!*visible) return NotFoundRoom();
  Result<json::object> summary = SpaceRoomSummary(snap, *facts);
  if (!summary.ok()) return ErrorResponse(summary.status());
  if (user_id && facts->membership != Membership::kNone) {
    (*summary)["membership"] = rooms::MembershipName(facts->membership);
  }
  return JsonResponse(200, std::move(summary).value());
}

}  // namespace

void AddSpaceRoutes(Router& router, core::Engine& engine) {
  const RouteOptions offload{.offload = true};  // walks state of many rooms
  AddClientV1Route(
      router, "GET", "/rooms/{roomId}/hierarchy",
      [&engine](const Request& r, const PathParams& p) { return HandleHierarchy(engine, r, p); },
      offload);
  AddClientV1Route(
      router, "GET", "/room_summary/{roomIdOrAlias}",
      [&engine](const Request& r, const PathParams& p) { return HandleRoomSummary(engine, r, p); },
      offload);
  // MSC3266's unstable path, the one matrix-js-sdk 37 (getRoomSummary) calls.
  router.Add(
      "GET", "/_matrix/client/unstable/im.nheko.summary/summary/{roomIdOrAlias}",
      [&engine](const Request& r, const PathParams& p) { return HandleRoomSummary(engine, r, p); },
      offload);
}

}  // namespace nebu::api
