// RoomApplier's server-side part of restricted joins (room_applier.h, "Restricted
// joins"): checks the joiner against the room's `allow` conditions and picks the
// member who authorises the join. Reads only through the applier's caches, so
// staged events of the same batch are seen and the outcome does not depend on how
// commands were grouped.
#include <algorithm>
#include <boost/json.hpp>
#include <utility>
#include <vector>

#include "engine/core/room_applier.h"
#include "engine/event/identifiers.h"

namespace nebu::core {

namespace json = boost::json;

namespace {

const json::object* ContentOf(const json::object& event) {
  const json::value* content = event.if_contains("content");
  return content != nullptr && content->is_object() ? &content->as_object() : nullptr;
}

// The room IDs of the join rule's m.room_membership conditions, at most
// kJoinAllowConditionsMax of them (the rest are ignored).
std::vector<std::string> AllowedRoomIds(const json::object& join_rules_content) {
  std::vector<std::string> ids;
  const json::value* allow = join_rules_content.if_contains("allow");
  if (allow == nullptr || !allow->is_array()) return ids;
  for (const json::value& entry : allow->as_array()) {
    if (ids.size() >= kJoinAllowConditionsMax) break;
    if (!entry.is_object()) continue;
    const json::value* type = entry.as_object().if_contains("type");
    const json::value* room_id = entry.as_object().if_contains("room_id");
    if (type == nullptr || !type->is_string() || type->as_string() != "m.room_membership") continue;
    if (room_id == nullptr || !room_id->is_string()) continue;
    if (!event::IsValidRoomId(room_id->as_string())) continue;
    ids.emplace_back(room_id->as_string());
  }
  return ids;
}

// Who may authorise: users with an explicit level of at least the invite level, plus
// the creator (who has 100 while the room has no power levels), highest level first,
// then by user ID; only users of `server`. At most kJoinAuthoriserCandidatesMax.
std::vector<std::string> AuthoriserCandidates(const rooms::RoomState& state,
                                              std::string_view server) {
  rooms::PowerLevels levels = state.GetPowerLevels();
  std::vector<std::pair<int64_t, std::string>> ranked;
  auto consider = [&](const std::string& user) {
    if (user.empty() || event::ServerNameOf(user) != server) return;
    int64_t level = levels.UserLevel(user);
    if (level < levels.invite) return;
    for (const auto& [l, u] : ranked) {
      if (u == user) return;
    }
    ranked.emplace_back(level, user);
  };
  for (const auto& [user, level] : levels.users) consider(user);
  consider(state.Creator());
  std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  std::vector<std::string> out;
  for (auto& [level, user] : ranked) {
    if (out.size() >= kJoinAuthoriserCandidatesMax) break;
    out.push_back(std::move(user));
  }
  return out;
}

}  // namespace

Result<bool> RoomApplier::JoinedTo(std::string_view room_id, std::string_view user_id) {
  Result<RoomCache*> room = Room(room_id);
  if (!room.ok()) {
    if (room.status().code() == StatusCode::kNotFound) return false;
    return room.status();
  }
  rooms::RoomState state;
  NEBU_RETURN_IF_ERROR(LoadStateInto(**room, rooms::kMemberType, user_id, state));
  return state.MembershipOf(user_id) == rooms::Membership::kJoin;
}

Status RoomApplier::AuthoriseRestrictedJoin(RoomCache& room, rooms::EventDraft& draft) {
  rooms::RoomState state;
  NEBU_RETURN_IF_ERROR(LoadStateInto(room, rooms::kJoinRulesType, "", state));
  NEBU_RETURN_IF_ERROR(LoadStateInto(room, rooms::kMemberType, draft.sender, state));
  const std::string rule = state.JoinRule();
  if (rule != "restricted" && rule != "knock_restricted") return Status::Ok();
  rooms::Membership own = state.MembershipOf(draft.sender);
  if (own == rooms::Membership::kJoin || own == rooms::Membership::kInvite ||
      own == rooms::Membership::kBan) {
    return Status::Ok();  // the auth rules decide these alone
  }
  const json::object* content = ContentOf(*state.Get(rooms::kJoinRulesType, ""));
  std::vector<std::string> allowed = content ? AllowedRoomIds(*content) : std::vector<std::string>{};
  bool any_known = false, satisfied = false;
  for (const std::string& room_id : allowed) {
    NEBU_ASSIGN_OR_RETURN(bool joined, JoinedTo(room_id, draft.sender));
    Result<RoomCache*> known = Room(room_id);
    any_known = any_known || known.ok();
    if (joined) {
      satisfied = true;
      break;
    }
  }
  if (!satisfied) {
    if (!any_known) {
      return Status::InvalidArgument(std::string(kUnableToAuthoriseJoin) +
                                     ": none of the rooms the join rule allows is known here");
    }
    return Status::Forbidden(
        "m.room.member: you are not joined to any room the join rule allows");
  }
  NEBU_RETURN_IF_ERROR(LoadStateInto(room, rooms::kCreateType, "", state));
  NEBU_RETURN_IF_ERROR(LoadStateInto(room, rooms::kPowerLevelsType, "", state));
  for (const std::string& user : AuthoriserCandidates(state, event::ServerNameOf(draft.sender))) {
    NEBU_RETURN_IF_ERROR(LoadStateInto(room, rooms::kMemberType, user, state));
    if (state.MembershipOf(user) != rooms::Membership::kJoin) continue;
    draft.content["join_authorised_via_users_server"] = user;
    return Status::Ok();
  }
  return Status::InvalidArgument(std::string(kUnableToGrantJoin) +
                                 ": no joined member of this server may invite");
}

}  // namespace nebu::core
