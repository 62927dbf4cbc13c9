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
struct EventDraft {
  std::string type;
  std::optional<std::string> state_key;
  boost::json::object content;
  std::string sender;
};

struct CreateRoomRequest {
  std::string visibility = "private";       // "public" | "private"
  std::optional<std::string> preset;        // private_chat | trusted_private_chat | public_chat
  std::optional<std::string> name;
  std::optional<std::string> topic;
  std::optional<std::string> room_alias_name;  // localpart only
  std::vector<std::string> invite;
  bool is_direct = false;
  event::RoomVersion room_version = event::kDefaultRoomVersion;
  boost::json::object creation_content;
  std::vector<EventDraft> initial_state;    // sender filled in by PlanRoomCreation
  std::optional<boost::json::object> power_level_content_override;
};

// Parses a createRoom body; kBadJson / kInvalidArgument on bad fields, and an
// unsupported room_version is kInvalidArgument ("M_UNSUPPORTED_ROOM_VERSION" in
// the message, which api/ maps to that errcode).
Result<CreateRoomRequest> ParseCreateRoomRequest(const boost::json::object& body);

// The ordered drafts. `alias` is the full alias when room_alias_name was given.
Result<std::vector<EventDraft>> PlanRoomCreation(const CreateRoomRequest& request,
                                                 std::string_view creator,
                                                 std::optional<std::string> alias = {});

}  // namespace nebu::rooms
