// Plans a room upgrade (spec "Room Upgrades", server behaviour): the events of the
// replacement room, the old room's m.room.tombstone, and the old room's restricted
// power levels. Pure functions; the state machine applies the plan in one command
// (core::CommandKind::kRoomUpgrade, engine/core/room_applier.h ApplyRoomUpgrade), so
// an upgrade happens completely or not at all.
//
// The replacement room, in order:
//   1. m.room.create: {room_version, predecessor {room_id, event_id = the tombstone's
//      ID}}, plus `type` and `m.federate` when the old room's create event has them
//      (v10 also `creator`). Additional creators are not carried (versions 10 and 11
//      have none).
//   2. the upgrader's join;
//   3. m.room.power_levels: the old room's content, with the upgrader raised to the
//      highest level the content names when below it (so every following event
//      passes the authorization rules); the old content itself is sent again last
//      when it was raised;
//   4. every transferable state event the old room has (kTransferableStateTypes,
//      state key "": join rules, history visibility, guest access, name, topic,
//      avatar, encryption, server ACL, canonical alias), content copied;
//   5. bans: an m.room.member ban for each user banned in the old room (at most
//      kUpgradeBansMax, in user ID order);
//   6. invites: when the old room's join rule is not "public", an m.room.member
//      invite for each other user joined to the old room (at most
//      kUpgradeInvitesMax, in user ID order), so members of an invite-only room can
//      follow it (the spec leaves this to servers; Synapse does the same);
//   7. the old power levels again when step 3 raised the upgrader.
// Membership events are never copied, nor other state (the spec: state sensitive to
// its sender stays behind).
//
//   UpgradePlan plan{.sender = "@a:hs", .old_room_id = old_id, .new_room_id = new_id,
//                    .new_version = event::RoomVersion::kV11, .tombstone_event_id = t,
//                    .old_state = &state, .joined = joined, .banned = banned};
//   NEBU_ASSIGN_OR_RETURN(std::vector<EventDraft> drafts, PlanReplacementRoom(plan));
//
// Thread-safety: pure functions.
#pragma once

#include <array>
#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/event/event.h"
#include "engine/rooms/room_creation.h"
#include "engine/rooms/room_state.h"

namespace nebu::rooms {

// Users invited to the replacement room at most (members past it, in user ID order,
// must be invited by hand).
inline constexpr size_t kUpgradeInvitesMax = 1'000;
// Bans carried to the replacement room at most (past it, in user ID order, dropped).
inline constexpr size_t kUpgradeBansMax = 1'000;
// The level the old room's events_default and invite are raised to at least (the
// spec's example: the greater of 50 and users_default + 1).
inline constexpr int64_t kUpgradeRestrictedLevelMin = 50;

inline constexpr std::string_view kTombstoneType = "m.room.tombstone";
inline constexpr std::string_view kCanonicalAliasType = "m.room.canonical_alias";
// The state (state key "") copied to the replacement room, in the order it is sent.
inline constexpr std::array<std::string_view, 9> kTransferableStateTypes = {
    "m.room.join_rules", "m.room.history_visibility", "m.room.guest_access",
    "m.room.name",       "m.room.topic",              "m.room.avatar",
    "m.room.encryption", "m.room.server_acl",         kCanonicalAliasType,
};

struct UpgradePlan {
  std::string sender;
  std::string old_room_id;
  std::string new_room_id;
  event::RoomVersion new_version = event::kDefaultRoomVersion;
  std::string tombstone_event_id;
  // The old room's m.room.create, m.room.power_levels and transferable state (others
  // are ignored); full events (content is read).
  const RoomState* old_state = nullptr;
  std::vector<std::string> joined;  // users joined to the old room
  std::vector<std::string> banned;  // users banned from the old room
};

// The replacement room's events (see the header comment). kInvalidArgument when the
// sender or a room ID is malformed; kBadJson when a power level is not an integer.
Result<std::vector<EventDraft>> PlanReplacementRoom(const UpgradePlan& plan);

// The old room's m.room.tombstone by `sender`, pointing to `replacement_room`.
EventDraft TombstoneDraft(std::string_view sender, std::string_view replacement_room);

// The old room's power levels content with events_default and invite raised to
// max(kUpgradeRestrictedLevelMin, users_default + 1); nullopt when both already are
// at least that (nothing to send). `content` is the current content ({} when the
// room has none).
std::optional<boost::json::object> RestrictedPowerLevels(const boost::json::object& content);

}  // namespace nebu::rooms
