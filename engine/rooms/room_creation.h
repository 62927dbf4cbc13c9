// Plans the initial events of a new room from a /createRoom request.
//
// Per the spec (createRoom): m.room.create, the creator's join, m.room.power_levels
// (preset defaults merged with power_level_content_override), m.room.canonical_alias
// (when an alias is given), the preset's m.room.join_rules, m.room.history_visibility
// and m.room.guest_access, then initial_state, m.room.name, m.room.topic, and the
// invites (m.room.member invite, is_direct on each). Presets: private_chat,
// trusted_private_chat (invitees get power 100), public_chat; the default preset
// follows visibility (public -> public_chat, else private_chat).
//
// Details the spec leaves to the server, as nebu does them:
// - m.room.create content is creation_content with `room_version` set and
//   `creator` removed (v11) or set to the creator (v10).
// - Default power levels: users {creator: 100} (+ invitees at 100 for
//   trusted_private_chat), users_default 0, events_default 0, state_default 50,
//   ban/kick/redact 50, invite 0 (50 for public_chat), notifications.room 50, and
//   events: m.room.name 50, m.room.power_levels 100, m.room.history_visibility 100,
//   m.room.canonical_alias 50, m.room.avatar 50, m.room.tombstone 100,
//   m.room.server_acl 100, m.room.encryption 100.
// - An m.room.power_levels in initial_state replaces these defaults (sent at the
//   power levels' place, step 3); power_level_content_override is then merged on
//   top, key by key (shallow: an overridden `users` replaces the whole map).
// - initial_state takes precedence over the preset's events (the preset event is
//   not sent); `name` and `topic` take precedence over initial_state's.
// - m.room.topic content carries `topic` and `m.topic` (one text/plain entry).
// - Invitees are deduplicated in request order; the creator is skipped.
// - The plan is checked by applying every draft in order with Authorize: a plan
//   that would be refused (say, an override that takes the creator's power away)
//   is kInvalidArgument with "M_INVALID_ROOM_STATE" in the message.
//
//   NEBU_ASSIGN_OR_RETURN(auto req, ParseCreateRoomRequest(body_json));
//   NEBU_ASSIGN_OR_RETURN(auto drafts, PlanRoomCreation(req, "@alice:example.org"));
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/status.h"
#include "engine/event/event.h"

namespace nebu::rooms {

// An event before the state machine gives it its place in the room (prev_events,
// auth_events, depth, hashes, event_id, origin_server_ts).
// Bounds on a createRoom request (kTooLarge past them).
inline constexpr size_t kCreateRoomInviteesMax = 100;
inline constexpr size_t kCreateRoomInitialStateEventsMax = 100;

struct EventDraft {
  std::string type;
  std::optional<std::string> state_key;
  boost::json::object content;
  std::string sender;
};

struct CreateRoomRequest {
  std::string visibility = "private";  // "public" | "private"
  std::optional<std::string> preset;   // private_chat | trusted_private_chat | public_chat
  std::optional<std::string> name;
  std::optional<std::string> topic;
  std::optional<std::string> room_alias_name;  // localpart only
  std::vector<std::string> invite;
  bool is_direct = false;
  event::RoomVersion room_version = event::kDefaultRoomVersion;
  boost::json::object creation_content;
  std::vector<EventDraft> initial_state;  // sender filled in by PlanRoomCreation
  std::optional<boost::json::object> power_level_content_override;
};

// Parses a createRoom body; kBadJson / kInvalidArgument on bad fields, and an
// unsupported room_version is kInvalidArgument ("M_UNSUPPORTED_ROOM_VERSION" in
// the message, which api/ maps to that errcode).
// - A field of the wrong JSON type is kBadJson; null counts as absent.
// - Bad values (visibility, preset, user IDs in invite, room_alias_name with ':'
//   or whitespace, initial_state types/state keys, m.room.create in
//   initial_state) are kInvalidArgument; initial_state entries without type or
//   content are kBadJson (state_key defaults to "").
// - A non-empty invite_3pid is kForbidden (third-party invites are not supported).
// - More than kCreateRoomInviteesMax invitees or kCreateRoomInitialStateEventsMax
//   initial_state events is kTooLarge.
Result<CreateRoomRequest> ParseCreateRoomRequest(const boost::json::object& body);

// The ordered drafts. `alias` is the full alias when room_alias_name was given;
// when it is omitted, "#" + room_alias_name + ":" + the creator's server is used.
// kInvalidArgument for an invalid creator or alias, or a plan Authorize refuses
// ("M_INVALID_ROOM_STATE"); kBadJson when an event of the plan is malformed (say,
// a power level that is not an integer).
Result<std::vector<EventDraft>> PlanRoomCreation(const CreateRoomRequest& request,
                                                 std::string_view creator,
                                                 std::optional<std::string> alias = {});

// The draft as a PDU without its place in the room: room_id, sender, type,
// state_key (for state drafts), content and an empty prev_events. Enough for
// Authorize; the state machine adds the rest.
boost::json::object DraftToUnplacedPdu(const EventDraft& draft, std::string_view room_id);

}  // namespace nebu::rooms
