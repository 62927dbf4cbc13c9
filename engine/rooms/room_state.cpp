#include "engine/rooms/room_state.h"

#include <array>

namespace nebu::rooms {
namespace {

constexpr std::string_view kJoinRuleDefault = "invite";

constexpr std::array<std::pair<Membership, std::string_view>, 5> kMembershipNames = {{
    {Membership::kInvite, "invite"},
    {Membership::kJoin, "join"},
    {Membership::kLeave, "leave"},
    {Membership::kBan, "ban"},
    {Membership::kKnock, "knock"},
}};

const boost::json::object* ContentOf(const boost::json::object* event) {
  if (event == nullptr) return nullptr;
  const boost::json::value* content = event->if_contains("content");
  return content == nullptr ? nullptr : content->if_object();
}

// Overwrites `*field` with content[key] when that is a valid level.
void ReadLevel(const boost::json::object& content, std::string_view key, int64_t* field) {
  const boost::json::value* v = content.if_contains(key);
  if (v == nullptr) return;
  if (std::optional<int64_t> level = ParsePowerLevel(*v)) *field = *level;
}

void ReadLevelMap(const boost::json::object& content, std::string_view key,
                  std::map<std::string, int64_t, std::less<>>* out) {
  const boost::json::value* v = content.if_contains(key);
  if (v == nullptr || !v->is_object()) return;
  for (const auto& [name, value] : v->get_object()) {
    if (std::optional<int64_t> level = ParsePowerLevel(value)) {
      out->emplace(std::string(name), *level);
    }
  }
}

}  // namespace

std::optional<int64_t> ParsePowerLevel(const boost::json::value& value) {
  if (value.is_int64()) {
    int64_t v = value.get_int64();
    if (v < kPowerLevelMin || v > kPowerLevelMax) return std::nullopt;
    return v;
  }
  if (value.is_uint64()) {
    uint64_t v = value.get_uint64();
    if (v > static_cast<uint64_t>(kPowerLevelMax)) return std::nullopt;
    return static_cast<int64_t>(v);
  }
  return std::nullopt;
}

std::string_view MembershipName(Membership m) {
  for (const auto& [membership, name] : kMembershipNames) {
    if (membership == m) return name;
  }
  return "none";
}

std::optional<Membership> ParseMembership(std::string_view name) {
  for (const auto& [membership, known] : kMembershipNames) {
    if (known == name) return membership;
  }
  return std::nullopt;
}

int64_t PowerLevels::UserLevel(std::string_view user_id) const {
  auto it = users.find(user_id);
  return it == users.end() ? users_default : it->second;
}

int64_t PowerLevels::EventLevel(std::string_view type, bool is_state) const {
  auto it = events.find(type);
  if (it != events.end()) return it->second;
  return is_state ? state_default : events_default;
}

void RoomState::Set(std::string type, std::string state_key, boost::json::object event) {
  events_.insert_or_assign(Key{std::move(type), std::move(state_key)}, std::move(event));
}

void RoomState::Erase(std::string_view type, std::string_view state_key) {
  auto it = events_.find(Key{std::string(type), std::string(state_key)});
  if (it != events_.end()) events_.erase(it);
}

const boost::json::object* RoomState::Get(std::string_view type, std::string_view state_key) const {
  auto it = events_.find(Key{std::string(type), std::string(state_key)});
  return it == events_.end() ? nullptr : &it->second;
}

Membership RoomState::MembershipOf(std::string_view user_id) const {
  const boost::json::object* content = ContentOf(Get(kMemberType, user_id));
  if (content == nullptr) return Membership::kNone;
  const boost::json::value* membership = content->if_contains("membership");
  if (membership == nullptr || !membership->is_string()) return Membership::kNone;
  return ParseMembership(membership->get_string()).value_or(Membership::kNone);
}

PowerLevels RoomState::GetPowerLevels() const {
  PowerLevels levels;
  const boost::json::object* content = ContentOf(Get(kPowerLevelsType, ""));
  if (content == nullptr) {
    std::string creator = Creator();
    if (!creator.empty()) levels.users.emplace(std::move(creator), kCreatorPowerLevelDefault);
    return levels;
  }
  ReadLevel(*content, "ban", &levels.ban);
  ReadLevel(*content, "invite", &levels.invite);
  ReadLevel(*content, "kick", &levels.kick);
  ReadLevel(*content, "redact", &levels.redact);
  ReadLevel(*content, "events_default", &levels.events_default);
  ReadLevel(*content, "state_default", &levels.state_default);
  ReadLevel(*content, "users_default", &levels.users_default);
  ReadLevelMap(*content, "events", &levels.events);
  ReadLevelMap(*content, "users", &levels.users);
  if (const boost::json::value* n = content->if_contains("notifications")) {
    if (n->is_object()) ReadLevel(n->get_object(), "room", &levels.notifications_room);
  }
  return levels;
}

std::string RoomState::JoinRule() const {
  const boost::json::object* content = ContentOf(Get(kJoinRulesType, ""));
  if (content == nullptr) return std::string(kJoinRuleDefault);
  const boost::json::value* rule = content->if_contains("join_rule");
  if (rule == nullptr || !rule->is_string()) return std::string(kJoinRuleDefault);
  return std::string(rule->get_string());
}

std::string RoomState::Creator() const {
  const boost::json::object* create = Get(kCreateType, "");
  if (create == nullptr) return {};
  const boost::json::value* sender = create->if_contains("sender");
  if (sender == nullptr || !sender->is_string()) return {};
  return std::string(sender->get_string());
}

}  // namespace nebu::rooms
