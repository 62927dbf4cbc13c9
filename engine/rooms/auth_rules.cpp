#include "engine/rooms/auth_rules.h"

#include <array>
#include <optional>
#include <string>
#include <vector>

#include "engine/event/event.h"
#include "engine/event/identifiers.h"

namespace nebu::rooms {
namespace {

constexpr std::string_view kThirdPartyInviteType = "m.room.third_party_invite";
constexpr std::string_view kJoinAuthorisedViaKey = "join_authorised_via_users_server";

// The top-level integer keys of m.room.power_levels content (auth rule 9.1).
constexpr std::array<std::string_view, 7> kLevelKeys = {
    "users_default", "events_default", "state_default", "ban", "redact", "kick", "invite"};
// The keys of power levels content that map a name to a level (rule 9.2).
constexpr std::array<std::string_view, 2> kLevelMapKeys = {"events", "notifications"};

// The fields of an event that the rules read, checked for shape.
struct EventView {
  const boost::json::object* event;
  std::string_view type;
  std::string_view sender;
  std::optional<std::string_view> state_key;
  const boost::json::object* content;
};

Status Deny(std::string_view type, std::string_view why) {
  std::string message(type);
  message += ": ";
  message += why;
  return Status::Forbidden(std::move(message));
}

std::string LevelText(int64_t level) { return std::to_string(level); }

const boost::json::value* Field(const boost::json::object& o, std::string_view key) {
  return o.if_contains(key);
}

std::optional<std::string_view> StringField(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  if (v == nullptr || !v->is_string()) return std::nullopt;
  return std::string_view(v->get_string());
}

Result<EventView> ParseEvent(const boost::json::object& event) {
  EventView view{&event, {}, {}, std::nullopt, nullptr};
  std::optional<std::string_view> type = StringField(event, "type");
  if (!type || !event::IsValidEventType(*type)) return Status::BadJson("event has no valid type");
  view.type = *type;
  std::optional<std::string_view> sender = StringField(event, "sender");
  if (!sender || !event::IsValidUserId(*sender)) {
    return Status::BadJson("event has no valid sender");
  }
  view.sender = *sender;
  if (const boost::json::value* key = Field(event, "state_key")) {
    if (!key->is_string()) return Status::BadJson("state_key is not a string");
    view.state_key = std::string_view(key->get_string());
  }
  const boost::json::value* content = Field(event, "content");
  if (content == nullptr || !content->is_object()) {
    return Status::BadJson("event content is not an object");
  }
  view.content = &content->get_object();
  return view;
}

// prev_events as an array; an absent key is an empty array.
Result<const boost::json::array*> PrevEvents(const boost::json::object& event) {
  static const boost::json::array kEmpty;
  const boost::json::value* prev = Field(event, "prev_events");
  if (prev == nullptr) return &kEmpty;
  if (!prev->is_array()) return Status::BadJson("prev_events is not an array");
  return &prev->get_array();
}

// Rule 1 (v11; and v10's content.creator requirement).
Status AuthorizeCreate(const EventView& e, const RoomState& state) {
  if (state.Get(kCreateType, "") != nullptr) return Deny(e.type, "the room already has one");
  NEBU_ASSIGN_OR_RETURN(const boost::json::array* prev, PrevEvents(*e.event));
  if (!prev->empty()) return Deny(e.type, "must not have prev_events");
  std::optional<std::string_view> room_id = StringField(*e.event, "room_id");
  if (!room_id || !event::IsValidRoomId(*room_id)) {
    return Status::BadJson("m.room.create has no valid room_id");
  }
  if (event::ServerNameOf(*room_id) != event::ServerNameOf(e.sender)) {
    return Deny(e.type, "the room_id domain differs from the sender's domain");
  }
  std::optional<std::string_view> version = StringField(*e.content, "room_version");
  if (!version) {
    return Deny(e.type, "content.room_version is missing (room version 1 is not supported)");
  }
  std::optional<event::RoomVersion> parsed = event::ParseRoomVersion(*version);
  if (!parsed) return Deny(e.type, "room version " + std::string(*version) + " is not supported");
  if (*parsed == event::RoomVersion::kV10 && !StringField(*e.content, "creator")) {
    return Deny(e.type, "room version 10 requires content.creator");
  }
  return Status::Ok();
}

// Rules 2.4, 2.5 (against the state rather than auth_events) and 3.
Status CheckCreateContext(const EventView& e, const RoomState& state) {
  const boost::json::object* create = state.Get(kCreateType, "");
  if (create == nullptr) return Deny(e.type, "the room has no m.room.create event");
  std::optional<std::string_view> room_id = StringField(*e.event, "room_id");
  std::optional<std::string_view> create_room_id = StringField(*create, "room_id");
  if (room_id && create_room_id && *room_id != *create_room_id) {
    return Deny(e.type, "room_id differs from the m.room.create event's");
  }
  const boost::json::value* content = Field(*create, "content");
  const boost::json::value* federate = content != nullptr && content->is_object()
                                           ? content->get_object().if_contains("m.federate")
                                           : nullptr;
  if (federate != nullptr && federate->is_bool() && !federate->get_bool() &&
      event::ServerNameOf(e.sender) != event::ServerNameOf(state.Creator())) {
    return Deny(e.type, "the room does not federate and the sender is from another server");
  }
  return Status::Ok();
}

// The facts every membership rule reads.
struct MemberContext {
  const EventView& e;
  std::string_view target;
  Membership sender_membership;
  Membership target_membership;
  int64_t sender_level;
  int64_t target_level;
  PowerLevels levels;
  std::string join_rule;
};

bool IsJoinedOrInvited(Membership m) { return m == Membership::kJoin || m == Membership::kInvite; }

// Rule 4.3.1: the creator's own join right after m.room.create. RoomState has
// no event graph, so "the only previous event is the create event" is read as:
// exactly one prev_event (equal to the create's event_id when the stored create
// carries one), no m.room.power_levels yet, and no member event for the creator.
bool IsCreatorFirstJoin(const MemberContext& m, const RoomState& state) {
  if (m.target != m.e.sender || m.target != state.Creator()) return false;
  if (m.target_membership != Membership::kNone) return false;
  if (state.Get(kPowerLevelsType, "") != nullptr) return false;
  Result<const boost::json::array*> prev = PrevEvents(*m.e.event);
  if (!prev.ok() || (*prev)->size() != 1) return false;
  std::optional<std::string_view> create_id = StringField(*state.Get(kCreateType, ""), "event_id");
  const boost::json::value& only = (**prev)[0];
  return !create_id || (only.is_string() && only.get_string() == *create_id);
}

// Rule 4.3.5.2: a join without an invite into a restricted room needs
// join_authorised_via_users_server naming a joined member with the invite level.
Status AuthorizeRestrictedJoin(const MemberContext& m, const RoomState& state) {
  std::optional<std::string_view> via =
      StringField(*m.e.content, kJoinAuthorisedViaKey);
  if (!via) {
    return Deny(m.e.type, "join rule '" + m.join_rule + "' needs an invite or " +
                              std::string(kJoinAuthorisedViaKey));
  }
  if (state.MembershipOf(*via) != Membership::kJoin) {
    return Deny(m.e.type, std::string(kJoinAuthorisedViaKey) + " is not joined to the room");
  }
  int64_t via_level = m.levels.UserLevel(*via);
  if (via_level < m.levels.invite) {
    return Deny(m.e.type, std::string(kJoinAuthorisedViaKey) + " has power level " +
                              LevelText(via_level) + ", below the invite level " +
                              LevelText(m.levels.invite));
  }
  return Status::Ok();
}

// Rule 4.3.
Status AuthorizeJoin(const MemberContext& m, const RoomState& state) {
  if (IsCreatorFirstJoin(m, state)) return Status::Ok();
  if (m.e.sender != m.target) return Deny(m.e.type, "cannot join on behalf of another user");
  if (m.sender_membership == Membership::kBan) return Deny(m.e.type, "the sender is banned");
  const std::string& rule = m.join_rule;
  if (rule == "invite" || rule == "knock") {
    if (IsJoinedOrInvited(m.sender_membership)) return Status::Ok();
    return Deny(m.e.type, "join rule '" + rule + "' needs an invite");
  }
  if (rule == "restricted" || rule == "knock_restricted") {
    if (IsJoinedOrInvited(m.sender_membership)) return Status::Ok();
    return AuthorizeRestrictedJoin(m, state);
  }
  if (rule == "public") return Status::Ok();
  return Deny(m.e.type, "join rule '" + rule + "' allows no joins");
}

// Rule 4.4.
Status AuthorizeInvite(const MemberContext& m) {
  if (m.e.content->contains("third_party_invite")) {
    return Deny(m.e.type, "third-party invites are not supported");
  }
  if (m.sender_membership != Membership::kJoin) return Deny(m.e.type, "the sender is not joined");
  if (m.target_membership == Membership::kJoin || m.target_membership == Membership::kBan) {
    return Deny(m.e.type, m.target_membership == Membership::kJoin
                              ? "cannot invite a user who is joined"
                              : "cannot invite a user who is banned");
  }
  if (m.sender_level < m.levels.invite) {
    return Deny(m.e.type, "invite needs power level " + LevelText(m.levels.invite) +
                              ", the sender has " + LevelText(m.sender_level));
  }
  return Status::Ok();
}

// Rule 4.5: leaving, rejecting an invite, retracting a knock, kick and unban.
Status AuthorizeLeave(const MemberContext& m) {
  if (m.e.sender == m.target) {
    Membership own = m.sender_membership;
    if (own == Membership::kInvite || own == Membership::kJoin || own == Membership::kKnock) {
      return Status::Ok();
    }
    return Deny(m.e.type,
                "cannot leave from membership '" + std::string(MembershipName(own)) + "'");
  }
  if (m.sender_membership != Membership::kJoin) return Deny(m.e.type, "the sender is not joined");
  if (m.target_membership == Membership::kBan && m.sender_level < m.levels.ban) {
    return Deny(m.e.type, "unban needs power level " + LevelText(m.levels.ban) +
                              ", the sender has " + LevelText(m.sender_level));
  }
  if (m.sender_level >= m.levels.kick && m.target_level < m.sender_level) return Status::Ok();
  return Deny(m.e.type, "kick needs power level >= " + LevelText(m.levels.kick) +
                            " and above the target's " + LevelText(m.target_level) +
                            ", the sender has " + LevelText(m.sender_level));
}

// Rule 4.6.
Status AuthorizeBan(const MemberContext& m) {
  if (m.sender_membership != Membership::kJoin) return Deny(m.e.type, "the sender is not joined");
  if (m.sender_level >= m.levels.ban && m.target_level < m.sender_level) return Status::Ok();
  return Deny(m.e.type, "ban needs power level >= " + LevelText(m.levels.ban) +
                            " and above the target's " + LevelText(m.target_level) +
                            ", the sender has " + LevelText(m.sender_level));
}

// Rule 4.7.
Status AuthorizeKnock(const MemberContext& m) {
  if (m.join_rule != "knock" && m.join_rule != "knock_restricted") {
    return Deny(m.e.type, "join rule '" + m.join_rule + "' does not allow knocking");
  }
  if (m.e.sender != m.target) return Deny(m.e.type, "cannot knock on behalf of another user");
  Membership own = m.sender_membership;
  if (own == Membership::kBan || own == Membership::kInvite || own == Membership::kJoin) {
    return Deny(m.e.type,
                "cannot knock from membership '" + std::string(MembershipName(own)) + "'");
  }
  return Status::Ok();
}

// Rule 4.
Status AuthorizeMember(const EventView& e, const RoomState& state) {
  if (!e.state_key || !event::IsValidUserId(*e.state_key)) {
    return Status::BadJson("m.room.member needs a user ID as state_key");
  }
  std::optional<std::string_view> name = StringField(*e.content, "membership");
  if (!name) return Status::BadJson("m.room.member content has no membership string");
  std::optional<Membership> membership = ParseMembership(*name);
  if (!membership) return Status::BadJson("unknown membership '" + std::string(*name) + "'");
  if (const boost::json::value* via = e.content->if_contains(kJoinAuthorisedViaKey)) {
    // Rule 4.2.1: events are created and signed here only, so the key must name a
    // user of the sender's server (the only signature the event will carry).
    if (!via->is_string() || !event::IsValidUserId(via->get_string())) {
      return Status::BadJson(std::string(kJoinAuthorisedViaKey) + " is not a user ID");
    }
    if (event::ServerNameOf(via->get_string()) != event::ServerNameOf(e.sender)) {
      return Deny(e.type, std::string(kJoinAuthorisedViaKey) +
                              " names a user of another server, whose signature it lacks");
    }
  }
  PowerLevels levels = state.GetPowerLevels();
  MemberContext m{e,
                  *e.state_key,
                  state.MembershipOf(e.sender),
                  state.MembershipOf(*e.state_key),
                  levels.UserLevel(e.sender),
                  levels.UserLevel(*e.state_key),
                  levels,
                  state.JoinRule()};
  switch (*membership) {
    case Membership::kJoin:
      return AuthorizeJoin(m, state);
    case Membership::kInvite:
      return AuthorizeInvite(m);
    case Membership::kLeave:
      return AuthorizeLeave(m);
    case Membership::kBan:
      return AuthorizeBan(m);
    case Membership::kKnock:
      return AuthorizeKnock(m);
    case Membership::kNone:
      break;
  }
  return Status::BadJson("unknown membership");
}

// Rules 9.1-9.3: every level is an integer, every users key a user ID.
Status ValidatePowerLevelsContent(const boost::json::object& content) {
  for (std::string_view key : kLevelKeys) {
    const boost::json::value* v = content.if_contains(key);
    if (v != nullptr && !ParsePowerLevel(*v)) {
      return Status::BadJson("m.room.power_levels: " + std::string(key) + " is not an integer");
    }
  }
  for (std::string_view key : {kLevelMapKeys[0], kLevelMapKeys[1], std::string_view("users")}) {
    const boost::json::value* v = content.if_contains(key);
    if (v == nullptr) continue;
    if (!v->is_object()) {
      return Status::BadJson("m.room.power_levels: " + std::string(key) + " is not an object");
    }
    for (const auto& [name, level] : v->get_object()) {
      if (!ParsePowerLevel(level)) {
        return Status::BadJson("m.room.power_levels: " + std::string(key) + "." +
                               std::string(name) + " is not an integer");
      }
      if (key == "users" && !event::IsValidUserId(name)) {
        return Status::BadJson("m.room.power_levels: users key " + std::string(name) +
                               " is not a user ID");
      }
    }
  }
  return Status::Ok();
}

std::optional<int64_t> LevelAt(const boost::json::object* map, std::string_view key) {
  if (map == nullptr) return std::nullopt;
  const boost::json::value* v = map->if_contains(key);
  return v == nullptr ? std::nullopt : ParsePowerLevel(*v);
}

const boost::json::object* SubObject(const boost::json::object& content, std::string_view key) {
  const boost::json::value* v = content.if_contains(key);
  return v != nullptr && v->is_object() ? &v->get_object() : nullptr;
}

// Rules 9.5-9.9 for one map (or, with `map_key` empty, the top-level levels).
// `strict_for_others` is the users rule: an existing entry of another user must
// be below the sender's level to be changed.
Status CheckLevelChanges(const boost::json::object* old_map, const boost::json::object* new_map,
                         std::string_view label, int64_t sender_level, std::string_view sender,
                         bool strict_for_others) {
  std::vector<std::string_view> keys;
  if (old_map != nullptr)
    for (const auto& kv : *old_map) keys.push_back(kv.key());
  if (new_map != nullptr)
    for (const auto& kv : *new_map) keys.push_back(kv.key());
  for (std::string_view key : keys) {
    std::optional<int64_t> before = LevelAt(old_map, key);
    std::optional<int64_t> after = LevelAt(new_map, key);
    if (before == after) continue;
    bool others = strict_for_others && key != sender;
    if (before && (*before > sender_level || (others && *before >= sender_level))) {
      return Deny(kPowerLevelsType, "cannot change " + std::string(label) + std::string(key) +
                                        " from " + LevelText(*before) + " with power level " +
                                        LevelText(sender_level));
    }
    if (after && *after > sender_level) {
      return Deny(kPowerLevelsType, "cannot set " + std::string(label) + std::string(key) + " to " +
                                        LevelText(*after) + " above the sender's " +
                                        LevelText(sender_level));
    }
  }
  return Status::Ok();
}

// Rules 9.5-9.9.
Status AuthorizePowerLevelsChange(const boost::json::object& old_content,
                                  const boost::json::object& new_content, std::string_view sender,
                                  int64_t sender_level) {
  boost::json::object old_top, new_top;
  for (std::string_view key : kLevelKeys) {
    if (const boost::json::value* v = old_content.if_contains(key)) old_top[key] = *v;
    if (const boost::json::value* v = new_content.if_contains(key)) new_top[key] = *v;
  }
  NEBU_RETURN_IF_ERROR(CheckLevelChanges(&old_top, &new_top, "", sender_level, sender, false));
  for (std::string_view key : kLevelMapKeys) {
    std::string label = std::string(key) + ".";
    NEBU_RETURN_IF_ERROR(CheckLevelChanges(SubObject(old_content, key), SubObject(new_content, key),
                                           label, sender_level, sender, false));
  }
  return CheckLevelChanges(SubObject(old_content, "users"), SubObject(new_content, "users"),
                           "users.", sender_level, sender, true);
}

// Rules 5-10.
Status AuthorizeNonMember(const EventView& e, const RoomState& state) {
  if (state.MembershipOf(e.sender) != Membership::kJoin) {
    return Deny(e.type, "the sender is not joined to the room");
  }
  PowerLevels levels = state.GetPowerLevels();
  int64_t sender_level = levels.UserLevel(e.sender);
  if (e.type == kThirdPartyInviteType) {
    if (sender_level >= levels.invite) return Status::Ok();
    return Deny(e.type, "needs the invite level " + LevelText(levels.invite));
  }
  int64_t required = levels.EventLevel(e.type, e.state_key.has_value());
  if (required > sender_level) {
    return Deny(e.type, "needs power level " + LevelText(required) + ", the sender has " +
                            LevelText(sender_level));
  }
  if (e.state_key && e.state_key->starts_with('@') && *e.state_key != e.sender) {
    return Deny(e.type, "a state_key starting with '@' must be the sender's user ID");
  }
  if (e.type != kPowerLevelsType) return Status::Ok();
  NEBU_RETURN_IF_ERROR(ValidatePowerLevelsContent(*e.content));
  const boost::json::object* previous = state.Get(kPowerLevelsType, "");
  if (previous == nullptr) return Status::Ok();
  const boost::json::object* old_content = SubObject(*previous, "content");
  static const boost::json::object kEmpty;
  return AuthorizePowerLevelsChange(old_content ? *old_content : kEmpty, *e.content, e.sender,
                                    sender_level);
}

}  // namespace

std::vector<RoomState::Key> AuthEventKeys(const boost::json::object& event) {
  std::vector<RoomState::Key> keys;
  std::optional<std::string_view> type = StringField(event, "type");
  if (type == kCreateType) return keys;
  auto add = [&keys](std::string_view t, std::string_view k) {
    RoomState::Key key{std::string(t), std::string(k)};
    for (const RoomState::Key& existing : keys) {
      if (existing == key) return;
    }
    keys.push_back(std::move(key));
  };
  add(kCreateType, "");
  add(kPowerLevelsType, "");
  if (std::optional<std::string_view> sender = StringField(event, "sender")) {
    add(kMemberType, *sender);
  }
  if (type != kMemberType) return keys;
  if (std::optional<std::string_view> target = StringField(event, "state_key")) {
    add(kMemberType, *target);
  }
  const boost::json::value* content_value = Field(event, "content");
  if (content_value == nullptr || !content_value->is_object()) return keys;
  const boost::json::object& content = content_value->get_object();
  std::optional<std::string_view> membership = StringField(content, "membership");
  if (membership == "join" || membership == "invite" || membership == "knock") {
    add(kJoinRulesType, "");
  }
  if (membership == "invite") {
    const boost::json::object* tpi = SubObject(content, "third_party_invite");
    const boost::json::object* sig = tpi ? SubObject(*tpi, "signed") : nullptr;
    if (std::optional<std::string_view> token = sig ? StringField(*sig, "token") : std::nullopt) {
      add(kThirdPartyInviteType, *token);
    }
  }
  if (membership == "join") {
    if (auto via = StringField(content, kJoinAuthorisedViaKey)) {
      add(kMemberType, *via);
    }
  }
  return keys;
}

Status Authorize(const boost::json::object& event, const RoomState& state) {
  NEBU_ASSIGN_OR_RETURN(EventView e, ParseEvent(event));
  if (e.type == kCreateType) return AuthorizeCreate(e, state);
  NEBU_RETURN_IF_ERROR(CheckCreateContext(e, state));
  if (e.type == kMemberType) return AuthorizeMember(e, state);
  return AuthorizeNonMember(e, state);
}

bool RedactionAllowed(std::string_view redacter, std::string_view original_sender,
                      const RoomState& state) {
  if (redacter == original_sender) return true;
  PowerLevels levels = state.GetPowerLevels();
  return levels.UserLevel(redacter) >= levels.redact;
}

}  // namespace nebu::rooms
