// Room events (PDUs) as JSON objects: room versions, redaction, hashes, event IDs.
//
// nebu keeps an event as the canonical JSON the spec defines for the federation
// format (room_id, sender, type, state_key?, content, origin_server_ts, depth,
// prev_events, auth_events, hashes, and unsigned which is never hashed). Room
// versions 10 and 11 are supported; 11 is the default.
//
//   boost::json::object pdu = ...;              // without event_id
//   NEBU_RETURN_IF_ERROR(AddContentHash(pdu));
//   NEBU_ASSIGN_OR_RETURN(std::string id, ComputeEventId(pdu, RoomVersion::kV11));
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "engine/common/status.h"

namespace nebu::event {

inline constexpr size_t kEventBytesMax = 65536;  // canonical JSON of a whole PDU

enum class RoomVersion : uint8_t { kV10 = 10, kV11 = 11 };
inline constexpr RoomVersion kDefaultRoomVersion = RoomVersion::kV11;

std::optional<RoomVersion> ParseRoomVersion(std::string_view name);  // "10", "11"
std::string_view RoomVersionName(RoomVersion version);

// The redaction algorithm of the room version: keeps the version's top-level keys
// and, per event type, the content keys the spec lists (v11 adds create's whole
// content, power levels' invite, member's third_party_invite.signed and
// redaction's redacts, and drops origin/membership/prev_state at top level; both
// keep join rules' allow and member's join_authorised_via_users_server).
// `unsigned` goes; `signatures` and `hashes` stay, as the spec's list says
// (ComputeEventId drops signatures itself). A missing content stays missing; a
// content, or v11 third_party_invite, that is not an object is dropped.
boost::json::object Redact(const boost::json::object& event, RoomVersion version);

// Sets hashes.sha256 = unpadded base64 of SHA-256 over the canonical JSON of the
// event without `unsigned`, `signatures` and `hashes`. kBadJson if not canonicalizable.
Status AddContentHash(boost::json::object& event);

// Reference hash event ID: "$" + URL-safe unpadded base64 of SHA-256 over the
// canonical JSON of Redact(event) without `signatures`, `unsigned` (and any
// `event_id` key). kBadJson if not canonicalizable.
Result<std::string> ComputeEventId(const boost::json::object& event, RoomVersion version);

// Shape checks for a PDU we are about to store: required keys and types, valid
// identifiers (room_id, sender, type, state_key), and the canonical form of the
// whole event at most kEventBytesMax bytes (kTooLarge). kBadJson / kInvalidArgument
// say what is wrong.
//   Required: room_id, sender, type (strings), content (object), origin_server_ts
//   and depth (integers >= 0), prev_events and auth_events (arrays of event IDs).
//   Optional, checked when present: state_key (string), hashes (object whose sha256
//   is a string), signatures and unsigned (objects), event_id (an event ID).
//   Missing keys and wrong types are kBadJson; bad identifier grammar is
//   kInvalidArgument.
Status ValidatePdu(const boost::json::object& event);

}  // namespace nebu::event
