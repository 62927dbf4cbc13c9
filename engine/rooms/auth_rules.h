// The room version 11 authorization rules for events created on this server.
//
// Authorize(event, state) decides whether a PDU may be appended to a room whose
// current state is `state` (it needs only the keys AuthEventKeys names). It covers
// m.room.create, m.room.member (join, invite, leave, kick, ban, unban, knock per
// join rule), m.room.power_levels changes (no raising above one's own level, no
// changing users at or above one's level), m.room.redaction rights (handled here as
// "redact" level or own event check via RedactionAllowed), the sender being joined,
// and the event/state levels, and restricted joins (join_authorised_via_users_server).
// Third-party invites are refused (kForbidden) with a message saying they are not
// supported.
//
//   RoomState s;  // loaded for AuthEventKeys(event)
//   NEBU_RETURN_IF_ERROR(Authorize(event, s));
//
// How the spec's rules map onto a RoomState (spec: rooms/v11 "Authorization rules"):
// - Rule 1 (m.room.create): no prev_events, room_id on the sender's server, and
//   content.room_version "10" or "11" (a missing room_version means room version
//   1, which is refused); v10 also needs content.creator. A second create is refused.
// - Rule 2 (auth_events) is the caller's part: it picks the auth events with
//   AuthEventKeys and loads them as `state`. Here: the state must hold an
//   m.room.create whose room_id (when both have one) equals the event's.
// - Rule 3: m.federate false refuses senders from another server than the creator.
// - Rule 4.3.1 (the creator's first join): "the only previous event is the
//   create" is read as: exactly one prev_event (equal to the create's event_id
//   when the stored create event carries an "event_id" key), no power levels
//   event yet, and no member event for the creator.
// - Rule 4.2.1 (join_authorised_via_users_server must be signed by that user's
//   server): events are created and signed on this server only, so the key must
//   name a user of the sender's server (kForbidden otherwise; kBadJson when it is
//   not a user ID).
// - Rule 4.3.5 (restricted / knock_restricted): joined or invited users may join;
//   anyone else needs content.join_authorised_via_users_server naming a member who is
//   joined now with at least the invite level (kForbidden otherwise). Whether the
//   joiner satisfies the room's `allow` conditions is not an auth rule: the server
//   checks it before choosing the authorising user (core/room_applier.h).
// - Third-party invites are refused (kForbidden, "not supported").
//   m.room.third_party_invite events follow rule 6.
// - Rule 9: power levels content with a non-integer level (float, string, out of
//   the canonical JSON range) or a users key that is not a user ID is kBadJson.
//   As written in the spec, a removed users entry is checked only against its old
//   value, so the user falls back to users_default even if that is above the sender.
// - Shape errors (no valid sender/type, content not an object, state_key not a
//   string, member event without a user ID state_key or a known membership) are
//   kBadJson; every refusal by a rule is kForbidden naming the rule.
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
