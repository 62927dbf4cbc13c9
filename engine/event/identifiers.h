// Matrix identifier grammars (spec appendices § Identifier Grammar).
//
// User IDs are `@localpart:server_name`, at most 255 bytes. New local users get the
// strict localpart grammar [a-z0-9._=/+-]; existing IDs are checked with the
// historical grammar (printable ASCII except ':'). Room IDs are `!opaque:server`,
// aliases `#alias:server`, event IDs (room v4+) `$` + 43 URL-safe base64 chars.
// Event types are non-empty, at most 255 bytes.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

namespace nebu::event {

inline constexpr size_t kIdentifierBytesMax = 255;
inline constexpr size_t kEventTypeBytesMax = 255;
inline constexpr size_t kStateKeyBytesMax = 255;

bool IsValidServerName(std::string_view server_name);
// Grammar for new registrations: [a-z0-9._=/+-]+, and the user ID fits in 255 bytes.
bool IsValidNewLocalpart(std::string_view localpart, std::string_view server_name);
// The full user ID with the historical localpart grammar.
bool IsValidUserId(std::string_view user_id);
bool IsValidRoomId(std::string_view room_id);
bool IsValidRoomAlias(std::string_view alias);
bool IsValidEventId(std::string_view event_id);
bool IsValidEventType(std::string_view type);
bool IsValidStateKey(std::string_view state_key);

// The part after the first ':' (server name) and between the sigil and ':' (localpart).
// Callers validate first; on malformed input both return an empty view.
std::string_view ServerNameOf(std::string_view id);
std::string_view LocalpartOf(std::string_view id);

}  // namespace nebu::event
