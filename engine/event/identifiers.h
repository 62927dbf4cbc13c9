// Matrix identifier grammars (spec appendices § Identifier Grammar).
//
// User IDs are `@localpart:server_name`, at most 255 bytes. New local users get the
// strict localpart grammar [a-z0-9._=/+-]; existing IDs are checked with the
// historical grammar (spec § Historical User IDs: any UTF-8 except ':' and NUL,
// even empty — servers MUST accept those in events). Room IDs are `!opaque:server`
// (room versions 10/11 keep the domain), aliases `#alias:server` (opaque parts:
// non-empty UTF-8 without ':' or NUL), event IDs (room v4+) `$` + 43 URL-safe base64
// chars. Event types are non-empty, at most 255 bytes; state keys at most 255 bytes.
//
//   if (!IsValidUserId(sender)) return Status::InvalidArgument("bad sender");
//   std::string_view origin = ServerNameOf(sender);   // "example.org:8448"
//
// Server names follow § Server Name: a DNS name (labels of [A-Za-z0-9-] separated
// by single dots), a dotted-quad IPv4 literal (each part 0..255), or a bracketed
// IPv6 literal (RFC 3513 text form), then an optional port 0..65535.
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
// Event types and state keys: at most 255 bytes, types non-empty, and neither holds
// U+0000 (no SQL text column can store it: one such event would stop the PostgreSQL
// projection, which copies both into text columns).
bool IsValidEventType(std::string_view type);
bool IsValidStateKey(std::string_view state_key);

// The part after the first ':' (server name) and between the sigil and ':' (localpart).
// Callers validate first; on malformed input both return an empty view.
std::string_view ServerNameOf(std::string_view id);
std::string_view LocalpartOf(std::string_view id);

// Well-formed UTF-8 (RFC 3629): no overlong forms, no surrogates, at most U+10FFFF.
// Used by the identifier checks and by the canonical JSON serializer.
bool IsValidUtf8(std::string_view bytes);

}  // namespace nebu::event
