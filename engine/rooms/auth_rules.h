// The room version 11 authorization rules for events created on this server.
//
// Authorize(event, state) decides whether a PDU may be appended to a room whose
// current state is `state` (it needs only the keys AuthEventKeys names). It covers
// m.room.create, m.room.member (join, invite, leave, kick, ban, unban, knock per
// join rule), m.room.power_levels changes (no raising above one's own level, no
// changing users at or above one's level), m.room.redaction rights (handled here as
// "redact" level or own event check via RedactionAllowed), the sender being joined,
// and the event/state levels. Third-party invites and restricted joins are refused
// (kForbidden) with a message saying they are not supported.
//
//   RoomState s;  // loaded for AuthEventKeys(event)
//   NEBU_RETURN_IF_ERROR(Authorize(event, s));
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "engine/common/status.h"
#include "engine/rooms/room_state.h"

namespace nebu::rooms {

// The (type, state_key) pairs of the state events that authorize this event:
// create, power levels, the sender's member event, and for member events the
// target's member event and join rules (spec: "Auth events selection").
std::vector<RoomState::Key> AuthEventKeys(const boost::json::object& event);

// kForbidden with a message naming the broken rule; kBadJson for a malformed event.
Status Authorize(const boost::json::object& event, const RoomState& state);

// Whether `redacter` may redact an event sent by `original_sender`: either the same
// user (v11 checks this at redaction time) or a power level >= redact.
bool RedactionAllowed(std::string_view redacter, std::string_view original_sender,
                      const RoomState& state);

}  // namespace nebu::rooms
