// RoomState: a set of state events keyed by (type, state_key), as JSON objects.
//
// The state machine loads into a RoomState only the state an event's authorization
// needs (AuthEventKeys in auth_rules.h), or a room's whole state for sync. It also
// answers the common questions about that state: membership of a user, power levels
// with the spec's defaults, join rule.
//
// Thread-safety: a value; not synchronized.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace nebu::rooms {

// Power level values are integers in the canonical JSON range (v10+ has no
// string or float levels).
inline constexpr int64_t kPowerLevelMax = (int64_t{1} << 53) - 1;
inline constexpr int64_t kPowerLevelMin = -kPowerLevelMax;
// The level the creator gets when the room has no m.room.power_levels (v1-v11).
inline constexpr int64_t kCreatorPowerLevelDefault = 100;

// The integer in `value` when it is a JSON integer within
// [kPowerLevelMin, kPowerLevelMax]; nullopt for anything else (floats, strings).
std::optional<int64_t> ParsePowerLevel(const boost::json::value& value);

// Event types the room logic reads.
inline constexpr std::string_view kCreateType = "m.room.create";
inline constexpr std::string_view kMemberType = "m.room.member";
inline constexpr std::string_view kPowerLevelsType = "m.room.power_levels";
inline constexpr std::string_view kJoinRulesType = "m.room.join_rules";

enum class Membership : uint8_t { kNone = 0, kInvite, kJoin, kLeave, kBan, kKnock };
std::string_view MembershipName(Membership m);
std::optional<Membership> ParseMembership(std::string_view name);

// The parsed m.room.power_levels content with the spec's defaults applied; when the
// room has no power levels event, the creator has 100 and everyone else 0 (v11).
// GetPowerLevels() ignores values that are not valid levels (Authorize rejects
// such content before it can enter the state, so this only matters for tests).
struct PowerLevels {
  int64_t ban = 50, invite = 0, kick = 50, redact = 50;
  int64_t events_default = 0, state_default = 50, users_default = 0;
  std::map<std::string, int64_t, std::less<>> events;
  std::map<std::string, int64_t, std::less<>> users;
  int64_t notifications_room = 50;

  int64_t UserLevel(std::string_view user_id) const;
  // The level needed to send an event of this type (state or not).
  int64_t EventLevel(std::string_view type, bool is_state) const;
};

class RoomState {
 public:
  using Key = std::pair<std::string, std::string>;  // (type, state_key)

  void Set(std::string type, std::string state_key, boost::json::object event);
  void Erase(std::string_view type, std::string_view state_key);
  // nullptr when absent.
  const boost::json::object* Get(std::string_view type, std::string_view state_key) const;
  const std::map<Key, boost::json::object, std::less<>>& events() const { return events_; }
  size_t size() const { return events_.size(); }

  // Membership of user_id per its m.room.member event; kNone when there is none
  // (or when content.membership is missing or unknown).
  Membership MembershipOf(std::string_view user_id) const;
  PowerLevels GetPowerLevels() const;
  // content.join_rule of m.room.join_rules, "invite" when absent (spec default).
  std::string JoinRule() const;
  // sender of m.room.create (v11: the creator), empty when absent.
  std::string Creator() const;

 private:
  std::map<Key, boost::json::object, std::less<>> events_;
};

}  // namespace nebu::rooms
