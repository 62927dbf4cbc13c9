// The parsed body of POST /search (search_routes.h is the manual). Private to
// api/search.
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include "api/http.h"
#include "engine/search/search_index.h"

namespace nebu::api::search_internal {

struct EventContextRequest {
  size_t before = 0, after = 0;
  bool include_profile = false;
};

struct RoomEventsCriteria {
  std::vector<std::string> words;  // distinct, from search::Tokenize(search_term)
  uint8_t keys = search::kAllKeys;
  std::optional<std::set<std::string>> rooms;
  std::set<std::string> not_rooms;
  std::vector<std::string> senders, not_senders, types, not_types;
  size_t limit = 0;
  bool by_rank = true;
  std::optional<EventContextRequest> context;
  bool include_state = false;
  bool group_by_room = false, group_by_sender = false;
  std::optional<search::Cursor> cursor;  // from next_batch
};

// The criteria, nullopt when the body names no category, or the ready 400 response.
std::variant<std::optional<RoomEventsCriteria>, Response> ParseSearchRequest(
    const boost::json::object& body, std::optional<std::string_view> next_batch);

std::string EncodeNextBatch(const search::Cursor& cursor);

}  // namespace nebu::api::search_internal
