#include "api/search/search_request.h"

#include <algorithm>

#include "api/accounts/filter_routes.h"
#include "api/errors.h"
#include "api/search/search_routes.h"
#include "engine/search/tokenizer.h"

namespace nebu::api::search_internal {

namespace json = boost::json;

namespace {

constexpr std::string_view kNextBatchPrefix = "n";

// A list of strings at `key` (absent or null: nullopt), or the ready response.
std::variant<std::optional<std::vector<std::string>>, Response> SearchStringList(
    const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return std::optional<std::vector<std::string>>();
  if (!v->is_array()) return BadJsonResponse(std::string(key) + " must be an array of strings");
  if (v->as_array().size() > kSearchFilterListMax) {
    return InvalidParamResponse(std::string(key) + " has too many entries");
  }
  std::vector<std::string> out;
  for (const json::value& item : v->as_array()) {
    if (!item.is_string())
      return BadJsonResponse(std::string(key) + " must be an array of strings");
    out.emplace_back(item.as_string());
  }
  return std::optional(std::move(out));
}

// A non-negative integer at `key`, capped at `max` (absent: fallback).
std::variant<size_t, Response> Count(const json::object& o, std::string_view key, size_t fallback,
                                     size_t max) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return fallback;
  if (!v->is_int64() && !v->is_uint64())
    return BadJsonResponse(std::string(key) + " must be an integer");
  if (v->is_int64() && v->as_int64() < 0)
    return InvalidParamResponse(std::string(key) + " must not be negative");
  const uint64_t n = v->is_int64() ? static_cast<uint64_t>(v->as_int64()) : v->as_uint64();
  return static_cast<size_t>(std::min<uint64_t>(n, max));
}

std::optional<Response> ParseSearchFilter(const json::object& filter, RoomEventsCriteria& c) {
  if (!CheckFilterPatterns(filter).ok())
    return BadJsonResponse("filter types or not_types are malformed");
  struct List {
    std::string_view key;
    std::vector<std::string>* out;
  };
  for (List l : {List{"senders", &c.senders}, List{"not_senders", &c.not_senders},
                 List{"types", &c.types}, List{"not_types", &c.not_types}}) {
    auto list = SearchStringList(filter, l.key);
    if (auto* error = std::get_if<Response>(&list)) return *error;
    if (auto& v = std::get<0>(list)) *l.out = std::move(*v);
  }
  auto rooms = SearchStringList(filter, "rooms");
  if (auto* error = std::get_if<Response>(&rooms)) return *error;
  if (auto& v = std::get<0>(rooms)) c.rooms.emplace(v->begin(), v->end());
  auto not_rooms = SearchStringList(filter, "not_rooms");
  if (auto* error = std::get_if<Response>(&not_rooms)) return *error;
  if (auto& v = std::get<0>(not_rooms)) c.not_rooms.insert(v->begin(), v->end());
  auto limit = Count(filter, "limit", kSearchLimitDefault, kSearchLimitMax);
  if (auto* error = std::get_if<Response>(&limit)) return *error;
  c.limit = std::get<size_t>(limit);
  return std::nullopt;
}

std::optional<Response> ParseContext(const json::object& o, RoomEventsCriteria& c) {
  EventContextRequest context;
  auto before = Count(o, "before_limit", kSearchContextLimitDefault, kSearchContextLimitMax);
  if (auto* error = std::get_if<Response>(&before)) return *error;
  auto after = Count(o, "after_limit", kSearchContextLimitDefault, kSearchContextLimitMax);
  if (auto* error = std::get_if<Response>(&after)) return *error;
  context.before = std::get<size_t>(before);
  context.after = std::get<size_t>(after);
  if (const json::value* p = o.if_contains("include_profile"); p && !p->is_null()) {
    if (!p->is_bool()) return BadJsonResponse("include_profile must be a boolean");
    context.include_profile = p->as_bool();
  }
  c.context = context;
  return std::nullopt;
}

std::optional<Response> ParseGroupings(const json::object& o, RoomEventsCriteria& c) {
  const json::value* by = o.if_contains("group_by");
  if (!by || by->is_null()) return std::nullopt;
  if (!by->is_array()) return BadJsonResponse("group_by must be an array");
  for (const json::value& g : by->as_array()) {
    const json::value* key = g.is_object() ? g.as_object().if_contains("key") : nullptr;
    if (!key || !key->is_string()) return BadJsonResponse("each group needs a string key");
    if (key->as_string() == "room_id") {
      c.group_by_room = true;
    } else if (key->as_string() == "sender") {
      c.group_by_sender = true;
    } else {
      return InvalidParamResponse("group key must be room_id or sender");
    }
  }
  return std::nullopt;
}

std::optional<Response> ParseWords(const json::object& o, RoomEventsCriteria& c) {
  const json::value* term = o.if_contains("search_term");
  if (!term || !term->is_string()) return BadJsonResponse("search_term must be a string");
  for (std::string& w : search::Tokenize(term->as_string())) {
    if (std::find(c.words.begin(), c.words.end(), w) != c.words.end()) continue;
    if (c.words.size() == search::kSearchQueryWordsMax)
      return InvalidParamResponse("search_term has too many words");
    c.words.push_back(std::move(w));
  }
  return std::nullopt;
}

std::optional<Response> ParseKeys(const json::object& o, RoomEventsCriteria& c) {
  const json::value* keys = o.if_contains("keys");
  if (!keys || keys->is_null()) return std::nullopt;
  if (!keys->is_array()) return BadJsonResponse("keys must be an array");
  c.keys = 0;
  for (const json::value& k : keys->as_array()) {
    if (!k.is_string()) return BadJsonResponse("keys must be strings");
    auto key = search::ParseSearchKey(k.as_string());
    if (!key) return InvalidParamResponse("unknown search key");
    c.keys |= *key;
  }
  if (c.keys == 0) c.keys = search::kAllKeys;  // an empty list: the default, all
  return std::nullopt;
}

std::variant<RoomEventsCriteria, Response> ParseRoomEvents(const json::object& o) {
  RoomEventsCriteria c;
  c.limit = kSearchLimitDefault;
  if (auto error = ParseWords(o, c)) return *error;
  if (auto error = ParseKeys(o, c)) return *error;
  if (const json::value* f = o.if_contains("filter"); f && !f->is_null()) {
    if (!f->is_object()) return BadJsonResponse("filter must be an object");
    if (auto error = ParseSearchFilter(f->as_object(), c)) return *error;
  }
  if (const json::value* order = o.if_contains("order_by"); order && !order->is_null()) {
    if (!order->is_string()) return BadJsonResponse("order_by must be a string");
    if (order->as_string() != "rank" && order->as_string() != "recent") {
      return InvalidParamResponse("order_by must be rank or recent");
    }
    c.by_rank = order->as_string() == "rank";
  }
  if (const json::value* ctx = o.if_contains("event_context"); ctx && !ctx->is_null()) {
    if (!ctx->is_object()) return BadJsonResponse("event_context must be an object");
    if (auto error = ParseContext(ctx->as_object(), c)) return *error;
  }
  if (const json::value* s = o.if_contains("include_state"); s && !s->is_null()) {
    if (!s->is_bool()) return BadJsonResponse("include_state must be a boolean");
    c.include_state = s->as_bool();
  }
  if (const json::value* g = o.if_contains("groupings"); g && !g->is_null()) {
    if (!g->is_object()) return BadJsonResponse("groupings must be an object");
    if (auto error = ParseGroupings(g->as_object(), c)) return *error;
  }
  return c;
}

}  // namespace

std::string EncodeNextBatch(const search::Cursor& cursor) {
  return std::string(kNextBatchPrefix) + search::EncodeCursor(cursor);
}

std::variant<std::optional<RoomEventsCriteria>, Response> ParseSearchRequest(
    const json::object& body, std::optional<std::string_view> next_batch) {
  const json::value* categories = body.if_contains("search_categories");
  if (!categories || !categories->is_object())
    return BadJsonResponse("search_categories must be an object");
  for (const auto& entry : categories->as_object()) {
    if (entry.key() != "room_events") return InvalidParamResponse("unknown search category");
  }
  std::optional<search::Cursor> cursor;
  if (next_batch) {
    if (!next_batch->starts_with(kNextBatchPrefix))
      return InvalidParamResponse("bad next_batch token");
    cursor = search::ParseCursor(next_batch->substr(kNextBatchPrefix.size()));
    if (!cursor) return InvalidParamResponse("bad next_batch token");
  }
  const json::value* room_events = categories->as_object().if_contains("room_events");
  if (!room_events || room_events->is_null()) return std::optional<RoomEventsCriteria>();
  if (!room_events->is_object()) return BadJsonResponse("room_events must be an object");
  auto parsed = ParseRoomEvents(room_events->as_object());
  if (auto* error = std::get_if<Response>(&parsed)) return *error;
  RoomEventsCriteria c = std::get<RoomEventsCriteria>(std::move(parsed));
  c.cursor = cursor;
  return std::optional(std::move(c));
}

}  // namespace nebu::api::search_internal
