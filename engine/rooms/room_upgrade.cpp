#include "engine/rooms/room_upgrade.h"

#include <algorithm>

#include "engine/event/identifiers.h"

namespace nebu::rooms {
namespace {

namespace json = boost::json;

EventDraft UpgradeStateDraft(std::string_view type, std::string_view state_key,
                             json::object content, std::string_view sender) {
  return EventDraft{std::string(type), std::string(state_key), std::move(content),
                    std::string(sender)};
}

// content of the old room's event (type, ""), or nullptr when it has none.
const json::object* UpgradeContentOf(const RoomState& state, std::string_view type) {
  const json::object* event = state.Get(type, "");
  if (event == nullptr) return nullptr;
  const json::value* content = event->if_contains("content");
  return content != nullptr ? content->if_object() : nullptr;
}

json::object UpgradeCreateContent(const UpgradePlan& plan) {
  json::object content;
  content["room_version"] = std::string(event::RoomVersionName(plan.new_version));
  content["predecessor"] =
      json::object{{"room_id", plan.old_room_id}, {"event_id", plan.tombstone_event_id}};
  if (const json::object* old = UpgradeContentOf(*plan.old_state, kCreateType)) {
    for (std::string_view key : {"type", "m.federate"}) {
      if (const json::value* v = old->if_contains(key)) content[key] = *v;
    }
  }
  if (plan.new_version == event::RoomVersion::kV10) content["creator"] = plan.sender;
  return content;
}

// The highest level a power levels content needs of whoever sends every event of
// the plan (state, invites, bans, the power levels themselves).
int64_t HighestNeededLevel(const PowerLevels& levels) {
  int64_t needed = std::max({levels.ban, levels.invite, levels.kick, levels.redact,
                             levels.events_default, levels.state_default});
  for (const auto& [type, level] : levels.events) needed = std::max(needed, level);
  return needed;
}

Status CheckLevels(const json::object& content) {
  for (const auto& [key, value] : content) {
    if (value.is_object()) {
      for (const auto& [name, level] : value.as_object()) {
        if (!ParsePowerLevel(level)) return Status::BadJson("power level is not an integer");
      }
    } else if (key != "notifications" && !ParsePowerLevel(value)) {
      return Status::BadJson("power level is not an integer");
    }
  }
  return Status::Ok();
}

void AddMemberDrafts(const UpgradePlan& plan, std::vector<EventDraft>* out) {
  size_t bans = 0;
  for (const std::string& user : plan.banned) {
    if (user == plan.sender || bans == kUpgradeBansMax) continue;
    ++bans;
    out->push_back(
        UpgradeStateDraft(kMemberType, user, json::object{{"membership", "ban"}}, plan.sender));
  }
  if (plan.old_state->JoinRule() == "public") return;
  size_t invites = 0;
  for (const std::string& user : plan.joined) {
    if (user == plan.sender || invites == kUpgradeInvitesMax) continue;
    ++invites;
    out->push_back(
        UpgradeStateDraft(kMemberType, user, json::object{{"membership", "invite"}}, plan.sender));
  }
}

}  // namespace

Result<std::vector<EventDraft>> PlanReplacementRoom(const UpgradePlan& plan) {
  NEBU_CHECK(plan.old_state != nullptr, "upgrade plan without the old state");
  if (!event::IsValidUserId(plan.sender)) return Status::InvalidArgument("invalid sender");
  if (!event::IsValidRoomId(plan.old_room_id) || !event::IsValidRoomId(plan.new_room_id)) {
    return Status::InvalidArgument("invalid room ID");
  }
  std::vector<EventDraft> out;
  out.push_back(UpgradeStateDraft(kCreateType, "", UpgradeCreateContent(plan), plan.sender));
  out.push_back(UpgradeStateDraft(kMemberType, plan.sender, json::object{{"membership", "join"}},
                                  plan.sender));
  const json::object* levels_content = UpgradeContentOf(*plan.old_state, kPowerLevelsType);
  bool raised = false;
  if (levels_content != nullptr) {
    NEBU_RETURN_IF_ERROR(CheckLevels(*levels_content));
    const PowerLevels levels = plan.old_state->GetPowerLevels();
    const int64_t needed = HighestNeededLevel(levels);
    json::object first = *levels_content;
    if (levels.UserLevel(plan.sender) < needed) {
      json::value& users = first["users"];
      if (!users.is_object()) users = json::object{};
      users.as_object()[plan.sender] = needed;
      raised = true;
    }
    out.push_back(UpgradeStateDraft(kPowerLevelsType, "", std::move(first), plan.sender));
  }
  for (std::string_view type : kTransferableStateTypes) {
    if (const json::object* content = UpgradeContentOf(*plan.old_state, type)) {
      out.push_back(UpgradeStateDraft(type, "", *content, plan.sender));
    }
  }
  AddMemberDrafts(plan, &out);
  if (raised) out.push_back(UpgradeStateDraft(kPowerLevelsType, "", *levels_content, plan.sender));
  return out;
}

EventDraft TombstoneDraft(std::string_view sender, std::string_view replacement_room) {
  return UpgradeStateDraft(
      kTombstoneType, "",
      json::object{{"body", "This room has been replaced"}, {"replacement_room", replacement_room}},
      sender);
}

std::optional<json::object> RestrictedPowerLevels(const json::object& content) {
  auto level_at = [&content](std::string_view key, int64_t absent) {
    const json::value* v = content.if_contains(key);
    std::optional<int64_t> level = v ? ParsePowerLevel(*v) : std::nullopt;
    return level.value_or(absent);
  };
  const PowerLevels defaults;
  const int64_t users_default = level_at("users_default", defaults.users_default);
  const int64_t restricted =
      std::max(kUpgradeRestrictedLevelMin, std::min(users_default, kPowerLevelMax - 1) + 1);
  if (level_at("events_default", defaults.events_default) >= restricted &&
      level_at("invite", defaults.invite) >= restricted) {
    return std::nullopt;
  }
  json::object out = content;
  out["events_default"] = std::max(restricted, level_at("events_default", defaults.events_default));
  out["invite"] = std::max(restricted, level_at("invite", defaults.invite));
  return out;
}

}  // namespace nebu::rooms
