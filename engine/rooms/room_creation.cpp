#include "engine/rooms/room_creation.h"

#include <array>
#include <set>
#include <utility>

#include "engine/event/identifiers.h"
#include "engine/rooms/auth_rules.h"
#include "engine/rooms/room_state.h"

namespace nebu::rooms {
namespace {

constexpr std::string_view kPrivateChat = "private_chat";
constexpr std::string_view kTrustedPrivateChat = "trusted_private_chat";
constexpr std::string_view kPublicChat = "public_chat";
constexpr std::array<std::string_view, 3> kPresets = {kPrivateChat, kTrustedPrivateChat,
                                                      kPublicChat};

// Levels of the default m.room.power_levels content.
constexpr int64_t kCreatorLevel = 100;
constexpr int64_t kModeratorLevel = 50;
constexpr int64_t kAdminLevel = 100;
// Event types that need more than state_default (or that we pin explicitly).
constexpr std::array<std::pair<std::string_view, int64_t>, 8> kDefaultEventLevels = {{
    {"m.room.name", kModeratorLevel},
    {"m.room.power_levels", kAdminLevel},
    {"m.room.history_visibility", kAdminLevel},
    {"m.room.canonical_alias", kModeratorLevel},
    {"m.room.avatar", kModeratorLevel},
    {"m.room.tombstone", kAdminLevel},
    {"m.room.server_acl", kAdminLevel},
    {"m.room.encryption", kAdminLevel},
}};

// The events a preset sets (step 5 of createRoom), in order.
struct PresetState {
  std::string_view join_rule;
  std::string_view history_visibility;
  std::string_view guest_access;
};

PresetState PresetStateOf(std::string_view preset) {
  if (preset == kPublicChat) return {"public", "shared", "forbidden"};
  return {"invite", "shared", "can_join"};
}

bool IsNullOrAbsent(const boost::json::value* v) { return v == nullptr || v->is_null(); }

// The value of body[key] when present and not null; kBadJson when it has another kind.
Result<const boost::json::value*> Optional(const boost::json::object& body, std::string_view key,
                                           boost::json::kind kind) {
  const boost::json::value* v = body.if_contains(key);
  if (IsNullOrAbsent(v)) return static_cast<const boost::json::value*>(nullptr);
  if (v->kind() != kind)
    return Status::BadJson("createRoom: '" + std::string(key) + "' has the wrong type");
  return v;
}

Result<std::optional<std::string>> OptionalString(const boost::json::object& body,
                                                  std::string_view key) {
  NEBU_ASSIGN_OR_RETURN(const boost::json::value* v,
                        Optional(body, key, boost::json::kind::string));
  if (v == nullptr) return std::optional<std::string>();
  return std::optional<std::string>(std::string(v->get_string()));
}

Status ParseVisibilityAndPreset(const boost::json::object& body, CreateRoomRequest* req) {
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> visibility, OptionalString(body, "visibility"));
  if (visibility) {
    if (*visibility != "public" && *visibility != "private") {
      return Status::InvalidArgument("createRoom: visibility must be 'public' or 'private'");
    }
    req->visibility = *visibility;
  }
  NEBU_ASSIGN_OR_RETURN(req->preset, OptionalString(body, "preset"));
  if (req->preset) {
    bool known = false;
    for (std::string_view p : kPresets) known = known || p == *req->preset;
    if (!known) return Status::InvalidArgument("createRoom: unknown preset '" + *req->preset + "'");
  }
  return Status::Ok();
}

// A localpart for a new alias: non-empty, no ':' (the server is ours), no
// whitespace or control characters.
bool IsValidAliasLocalpart(std::string_view localpart) {
  if (localpart.empty() || localpart.size() > event::kIdentifierBytesMax) return false;
  for (char c : localpart) {
    auto byte = static_cast<unsigned char>(c);
    if (c == ':' || c == '#' || byte <= ' ' || byte == 0x7F) return false;
  }
  return true;
}

Status ParseInvites(const boost::json::object& body, CreateRoomRequest* req) {
  NEBU_ASSIGN_OR_RETURN(const boost::json::value* invite,
                        Optional(body, "invite", boost::json::kind::array));
  if (invite != nullptr) {
    if (invite->get_array().size() > kCreateRoomInviteesMax) {
      return Status::TooLarge("createRoom: too many invitees");
    }
    for (const boost::json::value& user : invite->get_array()) {
      if (!user.is_string()) return Status::BadJson("createRoom: invite entries must be strings");
      if (!event::IsValidUserId(user.get_string())) {
        return Status::InvalidArgument("createRoom: invalid user ID in invite");
      }
      req->invite.emplace_back(user.get_string());
    }
  }
  NEBU_ASSIGN_OR_RETURN(const boost::json::value* invite_3pid,
                        Optional(body, "invite_3pid", boost::json::kind::array));
  if (invite_3pid != nullptr && !invite_3pid->get_array().empty()) {
    return Status::Forbidden("createRoom: third-party invites (invite_3pid) are not supported");
  }
  NEBU_ASSIGN_OR_RETURN(const boost::json::value* is_direct,
                        Optional(body, "is_direct", boost::json::kind::bool_));
  if (is_direct != nullptr) req->is_direct = is_direct->get_bool();
  return Status::Ok();
}

Result<EventDraft> ParseInitialStateEvent(const boost::json::value& item) {
  if (!item.is_object())
    return Status::BadJson("createRoom: initial_state entries must be objects");
  const boost::json::object& o = item.get_object();
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> type, OptionalString(o, "type"));
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> state_key, OptionalString(o, "state_key"));
  NEBU_ASSIGN_OR_RETURN(const boost::json::value* content,
                        Optional(o, "content", boost::json::kind::object));
  if (!type || content == nullptr) {
    return Status::BadJson("createRoom: initial_state entries need type and content");
  }
  if (!event::IsValidEventType(*type)) {
    return Status::InvalidArgument("createRoom: invalid event type in initial_state");
  }
  if (*type == "m.room.create") {
    return Status::InvalidArgument(
        "createRoom: initial_state may not contain m.room.create (use creation_content)");
  }
  EventDraft draft{*type, state_key.value_or(""), content->get_object(), ""};
  if (!event::IsValidStateKey(*draft.state_key)) {
    return Status::InvalidArgument("createRoom: invalid state_key in initial_state");
  }
  return draft;
}

Status ParseInitialState(const boost::json::object& body, CreateRoomRequest* req) {
  NEBU_ASSIGN_OR_RETURN(const boost::json::value* items,
                        Optional(body, "initial_state", boost::json::kind::array));
  if (items == nullptr) return Status::Ok();
  if (items->get_array().size() > kCreateRoomInitialStateEventsMax) {
    return Status::TooLarge("createRoom: too many initial_state events");
  }
  for (const boost::json::value& item : items->get_array()) {
    NEBU_ASSIGN_OR_RETURN(EventDraft draft, ParseInitialStateEvent(item));
    req->initial_state.push_back(std::move(draft));
  }
  return Status::Ok();
}

Status ParseVersionAndContents(const boost::json::object& body, CreateRoomRequest* req) {
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> version, OptionalString(body, "room_version"));
  if (version) {
    std::optional<event::RoomVersion> parsed = event::ParseRoomVersion(*version);
    if (!parsed) {
      return Status::InvalidArgument("M_UNSUPPORTED_ROOM_VERSION: room version '" + *version +
                                     "' is not supported");
    }
    req->room_version = *parsed;
  }
  NEBU_ASSIGN_OR_RETURN(const boost::json::value* creation,
                        Optional(body, "creation_content", boost::json::kind::object));
  if (creation != nullptr) {
    req->creation_content = creation->get_object();
    const boost::json::value* federate = req->creation_content.if_contains("m.federate");
    if (federate != nullptr && !federate->is_bool()) {
      return Status::BadJson("createRoom: creation_content.m.federate must be a boolean");
    }
  }
  NEBU_ASSIGN_OR_RETURN(const boost::json::value* override_pl,
                        Optional(body, "power_level_content_override", boost::json::kind::object));
  if (override_pl != nullptr) req->power_level_content_override = override_pl->get_object();
  return Status::Ok();
}

}  // namespace

Result<CreateRoomRequest> ParseCreateRoomRequest(const boost::json::object& body) {
  CreateRoomRequest req;
  NEBU_RETURN_IF_ERROR(ParseVisibilityAndPreset(body, &req));
  NEBU_ASSIGN_OR_RETURN(req.name, OptionalString(body, "name"));
  NEBU_ASSIGN_OR_RETURN(req.topic, OptionalString(body, "topic"));
  NEBU_ASSIGN_OR_RETURN(req.room_alias_name, OptionalString(body, "room_alias_name"));
  if (req.room_alias_name && !IsValidAliasLocalpart(*req.room_alias_name)) {
    return Status::InvalidArgument("createRoom: invalid room_alias_name");
  }
  NEBU_RETURN_IF_ERROR(ParseInvites(body, &req));
  NEBU_RETURN_IF_ERROR(ParseInitialState(body, &req));
  NEBU_RETURN_IF_ERROR(ParseVersionAndContents(body, &req));
  return req;
}

namespace {

boost::json::object CreateContent(const CreateRoomRequest& req, std::string_view creator) {
  boost::json::object content = req.creation_content;
  content.erase("creator");
  if (req.room_version == event::RoomVersion::kV10) content["creator"] = creator;
  content["room_version"] = event::RoomVersionName(req.room_version);
  return content;
}

// The invitees in request order, without duplicates and without the creator.
std::vector<std::string> Invitees(const CreateRoomRequest& req, std::string_view creator) {
  std::vector<std::string> out;
  std::set<std::string, std::less<>> seen{std::string(creator)};
  for (const std::string& user : req.invite) {
    if (seen.insert(user).second) out.push_back(user);
  }
  return out;
}

boost::json::object DefaultPowerLevels(std::string_view preset, std::string_view creator,
                                       const std::vector<std::string>& invitees) {
  boost::json::object users;
  users[creator] = kCreatorLevel;
  if (preset == kTrustedPrivateChat) {
    for (const std::string& user : invitees) users[user] = kCreatorLevel;
  }
  boost::json::object events;
  for (const auto& [type, level] : kDefaultEventLevels) events[type] = level;
  return boost::json::object{
      {"users", std::move(users)},
      {"users_default", 0},
      {"events", std::move(events)},
      {"events_default", 0},
      {"state_default", kModeratorLevel},
      {"ban", kModeratorLevel},
      {"kick", kModeratorLevel},
      {"redact", kModeratorLevel},
      {"invite", preset == kPublicChat ? kModeratorLevel : 0},
      {"notifications", boost::json::object{{"room", kModeratorLevel}}},
  };
}

const EventDraft* FindInitialState(const CreateRoomRequest& req, std::string_view type,
                                   std::string_view state_key = "") {
  const EventDraft* found = nullptr;  // the last one wins, as it would in the room
  for (const EventDraft& d : req.initial_state) {
    if (d.type == type && d.state_key == state_key) found = &d;
  }
  return found;
}

boost::json::object PowerLevelsContent(const CreateRoomRequest& req, std::string_view preset,
                                       std::string_view creator,
                                       const std::vector<std::string>& invitees) {
  const EventDraft* initial = FindInitialState(req, "m.room.power_levels");
  boost::json::object content =
      initial != nullptr ? initial->content : DefaultPowerLevels(preset, creator, invitees);
  if (req.power_level_content_override) {
    for (const auto& kv : *req.power_level_content_override) content[kv.key()] = kv.value();
  }
  return content;
}

EventDraft StateDraft(std::string type, boost::json::object content, std::string_view sender,
                      std::string state_key = "") {
  return EventDraft{std::move(type), std::move(state_key), std::move(content), std::string(sender)};
}

void AddPresetDrafts(const CreateRoomRequest& req, std::string_view preset,
                     std::string_view creator, std::vector<EventDraft>* out) {
  PresetState p = PresetStateOf(preset);
  const std::array<std::pair<std::string_view, boost::json::object>, 3> events = {{
      {"m.room.join_rules", {{"join_rule", p.join_rule}}},
      {"m.room.history_visibility", {{"history_visibility", p.history_visibility}}},
      {"m.room.guest_access", {{"guest_access", p.guest_access}}},
  }};
  for (const auto& [type, content] : events) {
    if (FindInitialState(req, type) == nullptr) {
      out->push_back(StateDraft(std::string(type), content, creator));
    }
  }
}

void AddInitialStateDrafts(const CreateRoomRequest& req, std::string_view creator,
                           std::vector<EventDraft>* out) {
  for (const EventDraft& d : req.initial_state) {
    bool replaced = (d.type == "m.room.power_levels" && d.state_key == "") ||
                    (d.type == "m.room.name" && d.state_key == "" && req.name) ||
                    (d.type == "m.room.topic" && d.state_key == "" && req.topic);
    if (replaced) continue;
    EventDraft copy = d;
    copy.sender = std::string(creator);
    out->push_back(std::move(copy));
  }
}

boost::json::object TopicContent(const std::string& topic) {
  boost::json::array text{boost::json::object{{"body", topic}, {"mimetype", "text/plain"}}};
  return boost::json::object{{"topic", topic},
                             {"m.topic", boost::json::object{{"m.text", std::move(text)}}}};
}

// Applies the drafts in order to an empty room (a placeholder room ID on the
// creator's server) and returns the first refusal.
Status CheckPlanAuthorizes(const std::vector<EventDraft>& drafts, std::string_view creator) {
  const std::string room_id = "!planned-room:" + std::string(event::ServerNameOf(creator));
  RoomState state;
  for (size_t i = 0; i < drafts.size(); ++i) {
    boost::json::object pdu = DraftToUnplacedPdu(drafts[i], room_id);
    if (i > 0) pdu["prev_events"] = boost::json::array{"$planned-previous-event"};
    Status status = Authorize(pdu, state);
    if (!status.ok()) {
      if (status.code() != StatusCode::kForbidden) return status;
      return Status::InvalidArgument("M_INVALID_ROOM_STATE: " + status.message());
    }
    if (drafts[i].state_key) state.Set(drafts[i].type, *drafts[i].state_key, std::move(pdu));
  }
  return Status::Ok();
}

}  // namespace

boost::json::object DraftToUnplacedPdu(const EventDraft& draft, std::string_view room_id) {
  boost::json::object pdu{{"room_id", room_id},
                          {"sender", draft.sender},
                          {"type", draft.type},
                          {"content", draft.content},
                          {"prev_events", boost::json::array{}}};
  if (draft.state_key) pdu["state_key"] = *draft.state_key;
  return pdu;
}

Result<std::vector<EventDraft>> PlanRoomCreation(const CreateRoomRequest& request,
                                                 std::string_view creator,
                                                 std::optional<std::string> alias) {
  if (!event::IsValidUserId(creator)) return Status::InvalidArgument("invalid creator user ID");
  if (!alias && request.room_alias_name) {
    alias = "#" + *request.room_alias_name + ":" + std::string(event::ServerNameOf(creator));
  }
  if (alias && !event::IsValidRoomAlias(*alias)) {
    return Status::InvalidArgument("createRoom: invalid room alias " + *alias);
  }
  std::string preset = request.preset.value_or(
      std::string(request.visibility == "public" ? kPublicChat : kPrivateChat));
  std::vector<std::string> invitees = Invitees(request, creator);
  std::vector<EventDraft> out;
  out.push_back(StateDraft("m.room.create", CreateContent(request, creator), creator));
  out.push_back(
      StateDraft("m.room.member", {{"membership", "join"}}, creator, std::string(creator)));
  out.push_back(StateDraft("m.room.power_levels",
                           PowerLevelsContent(request, preset, creator, invitees), creator));
  if (alias) out.push_back(StateDraft("m.room.canonical_alias", {{"alias", *alias}}, creator));
  AddPresetDrafts(request, preset, creator, &out);
  AddInitialStateDrafts(request, creator, &out);
  if (request.name) out.push_back(StateDraft("m.room.name", {{"name", *request.name}}, creator));
  if (request.topic) {
    out.push_back(StateDraft("m.room.topic", TopicContent(*request.topic), creator));
  }
  for (const std::string& user : invitees) {
    boost::json::object content{{"membership", "invite"}};
    if (request.is_direct) content["is_direct"] = true;
    out.push_back(StateDraft("m.room.member", std::move(content), creator, user));
  }
  NEBU_RETURN_IF_ERROR(CheckPlanAuthorizes(out, creator));
  return out;
}

}  // namespace nebu::rooms
