#include "engine/accounts/commands.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>
#include <cmath>
#include <utility>
#include <vector>

#include "engine/accounts/password.h"
#include "engine/event/canonical_json.h"
#include "engine/event/identifiers.h"

namespace nebu::accounts {
namespace {

namespace json = boost::json;

// ---- stateless field checks ----

Status CheckUserId(std::string_view user_id) {
  if (!event::IsValidUserId(user_id)) return Status::InvalidArgument("invalid user_id");
  return Status::Ok();
}

Status CheckDeviceId(std::string_view device_id) {
  if (device_id.empty()) return Status::InvalidArgument("empty device_id");
  if (device_id.size() > kDeviceIdBytesMax) return Status::TooLarge("device_id too long");
  for (unsigned char c : device_id) {
    if (c < 0x20 || c == 0x7f) return Status::InvalidArgument("control character in device_id");
  }
  return Status::Ok();
}

Status CheckTokenHash(std::string_view hash) {
  bool ok = hash.size() == kTokenHashHexChars;
  for (char c : hash) ok = ok && ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  if (!ok) return Status::InvalidArgument("token_hash is not 64 lower-case hex digits");
  return Status::Ok();
}

Status CheckText(const std::optional<std::string>& text, size_t bytes_max, const char* name) {
  if (text && text->size() > bytes_max) return Status::TooLarge(std::string(name) + " too long");
  return Status::Ok();
}

Status CheckTs(int64_t ts) {
  if (ts < 0 || ts > event::kCanonicalIntMax) return Status::InvalidArgument("bad timestamp");
  return Status::Ok();
}

Status CheckDevice(const NewDevice& d) {
  NEBU_RETURN_IF_ERROR(CheckDeviceId(d.device_id));
  NEBU_RETURN_IF_ERROR(CheckTokenHash(d.token_hash));
  if (d.refresh_hash) NEBU_RETURN_IF_ERROR(CheckTokenHash(*d.refresh_hash));
  if (d.refresh_hash.has_value() != d.expires_ms.has_value()) {
    return Status::InvalidArgument("refresh_hash and expires_ms go together");
  }
  if (d.expires_ms) NEBU_RETURN_IF_ERROR(CheckTs(*d.expires_ms));
  return CheckText(d.display_name, kDisplayNameBytesMax, "device display_name");
}

// ---- per-command validation ----

Status Validate(const RegisterCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
  if (c.password_hash) NEBU_RETURN_IF_ERROR(CheckPasswordHash(*c.password_hash));
  NEBU_RETURN_IF_ERROR(CheckTs(c.created_ts));
  NEBU_RETURN_IF_ERROR(CheckText(c.displayname, kDisplayNameBytesMax, "displayname"));
  if (c.device) NEBU_RETURN_IF_ERROR(CheckDevice(*c.device));
  if (c.registration_token && !IsValidRegistrationToken(*c.registration_token)) {
    return Status::InvalidArgument("invalid registration token");
  }
  return Status::Ok();
}

Status Validate(const LoginCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
  NEBU_RETURN_IF_ERROR(CheckDevice(c.device));
  if (c.login_token_hash) NEBU_RETURN_IF_ERROR(CheckTokenHash(*c.login_token_hash));
  return CheckTs(c.ts);
}

Status Validate(const RefreshCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
  NEBU_RETURN_IF_ERROR(CheckDeviceId(c.device_id));
  NEBU_RETURN_IF_ERROR(CheckTokenHash(c.old_refresh_hash));
  NEBU_RETURN_IF_ERROR(CheckTokenHash(c.token_hash));
  NEBU_RETURN_IF_ERROR(CheckTokenHash(c.refresh_hash));
  return CheckTs(c.expires_ms);
}

Status Validate(const ConfirmRefreshCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
  NEBU_RETURN_IF_ERROR(CheckDeviceId(c.device_id));
  return CheckTokenHash(c.token_hash);
}

template <typename T>
Status ValidateSideToken(const T& c) {
  NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
  NEBU_RETURN_IF_ERROR(CheckTokenHash(c.token_hash));
  return CheckTs(c.expires_ms);
}
Status Validate(const CreateLoginTokenCommand& c) { return ValidateSideToken(c); }
Status Validate(const CreateOpenIdTokenCommand& c) { return ValidateSideToken(c); }

Status Validate(const RestrictUserCommand& c) { return CheckUserId(c.user_id); }

Status Validate(const CreateRegistrationTokenCommand& c) {
  if (!IsValidRegistrationToken(c.token)) return Status::InvalidArgument("invalid token");
  if (c.uses_allowed && (*c.uses_allowed < 0 || *c.uses_allowed > event::kCanonicalIntMax)) {
    return Status::InvalidArgument("bad uses_allowed");
  }
  if (c.expiry_time) NEBU_RETURN_IF_ERROR(CheckTs(*c.expiry_time));
  return Status::Ok();
}

Status Validate(const SetProfileFieldCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
  if (c.key.empty()) return Status::InvalidArgument("empty profile key");
  if (c.key.size() > kProfileKeyBytesMax) return Status::TooLarge("profile key too long");
  if (c.key == "displayname" || c.key == "avatar_url") {
    return Status::InvalidArgument("displayname and avatar_url have their own ops");
  }
  if (c.value_json && c.value_json->size() > kProfileBytesMax) {
    return Status::TooLarge("profile field too large");
  }
  return Status::Ok();
}

Status Validate(const UpdateRegistrationTokenCommand& c) {
  if (!IsValidRegistrationToken(c.token)) return Status::InvalidArgument("invalid token");
  if (c.uses_allowed && *c.uses_allowed &&
      (**c.uses_allowed < 0 || **c.uses_allowed > event::kCanonicalIntMax)) {
    return Status::InvalidArgument("bad uses_allowed");
  }
  if (c.expiry_time && *c.expiry_time) NEBU_RETURN_IF_ERROR(CheckTs(**c.expiry_time));
  return Status::Ok();
}

Status Validate(const DeleteRegistrationTokenCommand& c) {
  if (!IsValidRegistrationToken(c.token)) return Status::InvalidArgument("invalid token");
  return Status::Ok();
}

Status Validate(const ExpireTokensCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckTs(c.now_ms));
  if (c.after && (c.after->empty() || c.after->size() > 2 * 64 ||
                  c.after->find_first_not_of("0123456789abcdef") != std::string::npos ||
                  c.after->size() % 2 != 0)) {
    return Status::InvalidArgument("bad after");
  }
  return Status::Ok();
}

Status Validate(const CopyRoomUserStateCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
  if (!event::IsValidRoomId(c.old_room_id) || !event::IsValidRoomId(c.new_room_id)) {
    return Status::InvalidArgument("invalid room_id");
  }
  if (c.old_room_id == c.new_room_id) return Status::InvalidArgument("the rooms are the same");
  return Status::Ok();
}

Status Validate(const LogoutCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
  return CheckDeviceId(c.device_id);
}

Status Validate(const LogoutAllCommand& c) { return CheckUserId(c.user_id); }

Status Validate(const SetPasswordCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
  NEBU_RETURN_IF_ERROR(CheckPasswordHash(c.password_hash));
  if (c.keep_device_id) NEBU_RETURN_IF_ERROR(CheckDeviceId(*c.keep_device_id));
  return Status::Ok();
}

Status Validate(const DeactivateCommand& c) { return CheckUserId(c.user_id); }

// member_events_rooms_max: only with member_events_ts, 1..kProfileFanoutRoomsPerCommand.
Status CheckRoomsMax(std::optional<uint32_t> rooms_max, bool has_ts) {
  if (!rooms_max) return Status::Ok();
  if (!has_ts) return Status::InvalidArgument("member_events_rooms_max without member_events_ts");
  if (*rooms_max < 1 || *rooms_max > kProfileFanoutRoomsPerCommand) {
    return Status::InvalidArgument("member_events_rooms_max out of range");
  }
  return Status::Ok();
}

Status Validate(const SetDisplayNameCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
  NEBU_RETURN_IF_ERROR(CheckRoomsMax(c.member_events_rooms_max, c.member_events_ts.has_value()));
  return CheckText(c.displayname, kDisplayNameBytesMax, "displayname");
}

Status Validate(const SetAvatarUrlCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
  NEBU_RETURN_IF_ERROR(CheckRoomsMax(c.member_events_rooms_max, c.member_events_ts.has_value()));
  return CheckText(c.avatar_url, kAvatarUrlBytesMax, "avatar_url");
}

Status Validate(const RefreshMemberEventsCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
  return CheckRoomsMax(c.rooms_max, true);
}

Status Validate(const SetDeviceDisplayNameCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
  NEBU_RETURN_IF_ERROR(CheckDeviceId(c.device_id));
  return CheckText(c.display_name, kDisplayNameBytesMax, "device display_name");
}

Status Validate(const DeleteDeviceCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
  return CheckDeviceId(c.device_id);
}

Status Validate(const PutAccountDataCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
  if (c.room_id && !event::IsValidRoomId(*c.room_id)) {
    return Status::InvalidArgument("invalid room_id");
  }
  if (!event::IsValidEventType(c.type)) return Status::InvalidArgument("invalid type");
  NEBU_ASSIGN_OR_RETURN(std::string content, AccountDataJson(c.content));
  if (content.size() > kAccountDataBytesMax) return Status::TooLarge("account data too large");
  return Status::Ok();
}

Status Validate(const ForgetRoomCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
  if (!event::IsValidRoomId(c.room_id)) return Status::InvalidArgument("invalid room_id");
  return Status::Ok();
}

Status Validate(const EditTagCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
  if (!event::IsValidRoomId(c.room_id)) return Status::InvalidArgument("invalid room_id");
  if (c.tag.empty()) return Status::InvalidArgument("empty tag");
  if (c.tag.size() > kTagBytesMax) return Status::TooLarge("tag too long");
  if (c.tag_content) {
    NEBU_ASSIGN_OR_RETURN(std::string content, AccountDataJson(*c.tag_content));
    if (content.size() > kAccountDataBytesMax) return Status::TooLarge("tag too large");
  }
  return Status::Ok();
}

Status Validate(const EditPushRuleCommand& c) {
  NEBU_RETURN_IF_ERROR(CheckUserId(c.user_id));
  if (c.kind.empty() || c.kind.size() > kPushRuleIdBytesMax) {
    return Status::InvalidArgument("invalid push rule kind");
  }
  if (c.rule_id.empty() || c.rule_id.size() > kPushRuleIdBytesMax) {
    return Status::InvalidArgument("invalid push rule ID");
  }
  if ((c.before || c.after) && c.change != PushRuleChange::kPut) {
    return Status::InvalidArgument("before/after only with put");
  }
  if (c.before && c.after) return Status::InvalidArgument("both before and after");
  NEBU_ASSIGN_OR_RETURN(std::string value, AccountDataJson(c.value));
  if (value.size() > kAccountDataBytesMax) return Status::TooLarge("push rule too large");
  if (c.defaults) {
    NEBU_ASSIGN_OR_RETURN(std::string defaults, AccountDataJson(*c.defaults));
    if (defaults.size() > kAccountDataBytesMax) {
      return Status::TooLarge("push rule defaults too large");
    }
  }
  return Status::Ok();
}

// ---- encoding ----

void PutOptional(json::object* o, std::string_view key, const std::optional<std::string>& v) {
  if (v) (*o)[key] = *v;
}

json::object EncodeDevice(const NewDevice& d) {
  json::object o;
  o["device_id"] = d.device_id;
  o["token_hash"] = d.token_hash;
  PutOptional(&o, "display_name", d.display_name);
  PutOptional(&o, "refresh_hash", d.refresh_hash);
  if (d.expires_ms) o["expires_ms"] = *d.expires_ms;
  return o;
}

void Encode(const RegisterCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  PutOptional(o, "password_hash", c.password_hash);
  (*o)["admin"] = c.admin;
  (*o)["created_ts"] = c.created_ts;
  PutOptional(o, "displayname", c.displayname);
  if (c.device) (*o)["device"] = EncodeDevice(*c.device);
  PutOptional(o, "registration_token", c.registration_token);
}

void Encode(const LoginCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  (*o)["device"] = EncodeDevice(c.device);
  (*o)["ts"] = c.ts;
  PutOptional(o, "login_token_hash", c.login_token_hash);
}

void Encode(const RefreshCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  (*o)["device_id"] = c.device_id;
  (*o)["old_refresh_hash"] = c.old_refresh_hash;
  (*o)["token_hash"] = c.token_hash;
  (*o)["refresh_hash"] = c.refresh_hash;
  (*o)["expires_ms"] = c.expires_ms;
}

void Encode(const ConfirmRefreshCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  (*o)["device_id"] = c.device_id;
  (*o)["token_hash"] = c.token_hash;
}

template <typename T>
void EncodeSideToken(const T& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  (*o)["token_hash"] = c.token_hash;
  (*o)["expires_ms"] = c.expires_ms;
}
void Encode(const CreateLoginTokenCommand& c, json::object* o) { EncodeSideToken(c, o); }
void Encode(const CreateOpenIdTokenCommand& c, json::object* o) { EncodeSideToken(c, o); }

void Encode(const RestrictUserCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  if (c.locked) (*o)["locked"] = *c.locked;
  if (c.suspended) (*o)["suspended"] = *c.suspended;
  if (c.shadow_banned) (*o)["shadow_banned"] = *c.shadow_banned;
}

void Encode(const CreateRegistrationTokenCommand& c, json::object* o) {
  (*o)["token"] = c.token;
  if (c.uses_allowed) (*o)["uses_allowed"] = *c.uses_allowed;
  if (c.expiry_time) (*o)["expiry_time"] = *c.expiry_time;
}

void Encode(const SetProfileFieldCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  (*o)["key"] = c.key;
  PutOptional(o, "value_json", c.value_json);
}

// An optional-or-null field: absent, null, or the number.
void PutNullable(json::object* o, std::string_view key,
                 const std::optional<std::optional<int64_t>>& v) {
  if (!v) return;
  if (*v) {
    (*o)[key] = **v;
  } else {
    (*o)[key] = nullptr;
  }
}

void Encode(const UpdateRegistrationTokenCommand& c, json::object* o) {
  (*o)["token"] = c.token;
  PutNullable(o, "uses_allowed", c.uses_allowed);
  PutNullable(o, "expiry_time", c.expiry_time);
}

void Encode(const DeleteRegistrationTokenCommand& c, json::object* o) { (*o)["token"] = c.token; }

void Encode(const ExpireTokensCommand& c, json::object* o) {
  (*o)["now_ms"] = c.now_ms;
  PutOptional(o, "after", c.after);
}

void Encode(const CopyRoomUserStateCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  (*o)["old_room_id"] = c.old_room_id;
  (*o)["new_room_id"] = c.new_room_id;
  // defaults_json is added by EncodeAccountCommand.
}

void Encode(const LogoutCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  (*o)["device_id"] = c.device_id;
}

void Encode(const LogoutAllCommand& c, json::object* o) { (*o)["user_id"] = c.user_id; }

void Encode(const SetPasswordCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  (*o)["password_hash"] = c.password_hash;
  (*o)["logout_devices"] = c.logout_devices;
  PutOptional(o, "keep_device_id", c.keep_device_id);
}

void Encode(const DeactivateCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  (*o)["erase"] = c.erase;
}

void Encode(const SetDisplayNameCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  PutOptional(o, "displayname", c.displayname);
  if (c.member_events_ts) (*o)["member_events_ts"] = *c.member_events_ts;
  if (c.member_events_rooms_max) (*o)["member_events_rooms_max"] = *c.member_events_rooms_max;
}

void Encode(const SetAvatarUrlCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  PutOptional(o, "avatar_url", c.avatar_url);
  if (c.member_events_ts) (*o)["member_events_ts"] = *c.member_events_ts;
  if (c.member_events_rooms_max) (*o)["member_events_rooms_max"] = *c.member_events_rooms_max;
}

void Encode(const RefreshMemberEventsCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  (*o)["after_room"] = c.after_room;
  (*o)["member_events_ts"] = c.member_events_ts;
  (*o)["rooms_max"] = c.rooms_max;
}

void Encode(const SetDeviceDisplayNameCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  (*o)["device_id"] = c.device_id;
  PutOptional(o, "display_name", c.display_name);
}

void Encode(const DeleteDeviceCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  (*o)["device_id"] = c.device_id;
}

void Encode(const PutAccountDataCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  PutOptional(o, "room_id", c.room_id);
  (*o)["type"] = c.type;
  // content_json is added by EncodeAccountCommand, where serializing may fail.
}

void Encode(const ForgetRoomCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  (*o)["room_id"] = c.room_id;
}

void Encode(const EditTagCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  (*o)["room_id"] = c.room_id;
  (*o)["tag"] = c.tag;
  // tag_json is added by EncodeAccountCommand, where serializing may fail.
}

void Encode(const EditPushRuleCommand& c, json::object* o) {
  (*o)["user_id"] = c.user_id;
  (*o)["kind"] = c.kind;
  (*o)["rule_id"] = c.rule_id;
  (*o)["change"] = PushRuleChangeName(c.change);
  PutOptional(o, "before", c.before);
  PutOptional(o, "after", c.after);
  // value_json is added by EncodeAccountCommand.
}

// ---- AccountDataJson ----

Status AppendStoredJson(const json::value& v, size_t depth, std::string* out);

Status AppendStoredObject(const json::object& o, size_t depth, std::string* out) {
  if (depth > event::kJsonDepthMax) return Status::BadJson("account data nested too deeply");
  std::vector<const json::key_value_pair*> members;
  members.reserve(o.size());
  for (const json::key_value_pair& kv : o) members.push_back(&kv);
  std::sort(members.begin(), members.end(), [](const auto* a, const auto* b) {
    return std::string_view(a->key()) < std::string_view(b->key());
  });
  out->push_back('{');
  for (size_t i = 0; i < members.size(); ++i) {
    if (i > 0) out->push_back(',');
    NEBU_RETURN_IF_ERROR(event::AppendCanonicalJson(json::value(members[i]->key()), out));
    out->push_back(':');
    NEBU_RETURN_IF_ERROR(AppendStoredJson(members[i]->value(), depth + 1, out));
  }
  out->push_back('}');
  return Status::Ok();
}

// The shortest text that reads back as d ("0.5", "1e-07"); ".0" is added to whole
// numbers so they stay floats when read back.
Status AppendDouble(double d, std::string* out) {
  if (!std::isfinite(d)) return Status::BadJson("non-finite number");
  std::array<char, 64> buf;
  auto [end, ec] = std::to_chars(buf.data(), buf.data() + buf.size(), d);
  NEBU_CHECK(ec == std::errc(), "to_chars of a double failed");
  std::string_view text(buf.data(), static_cast<size_t>(end - buf.data()));
  out->append(text);
  if (text.find_first_of(".eE") == std::string_view::npos) out->append(".0");
  return Status::Ok();
}

// depth: how many containers v is inside, plus one when v is a container itself.
Status AppendStoredJson(const json::value& v, size_t depth, std::string* out) {
  switch (v.kind()) {
    case json::kind::object:
      return AppendStoredObject(v.get_object(), depth, out);
    case json::kind::array: {
      if (depth > event::kJsonDepthMax) return Status::BadJson("account data nested too deeply");
      out->push_back('[');
      bool first = true;
      for (const json::value& e : v.get_array()) {
        if (!first) out->push_back(',');
        first = false;
        NEBU_RETURN_IF_ERROR(AppendStoredJson(e, depth + 1, out));
      }
      out->push_back(']');
      return Status::Ok();
    }
    case json::kind::double_:
      return AppendDouble(v.get_double(), out);
    case json::kind::uint64:
      if (v.get_uint64() > static_cast<uint64_t>(event::kCanonicalIntMax)) {
        out->append(json::serialize(v));
        return Status::Ok();
      }
      break;
    case json::kind::int64:
      if (v.get_int64() > event::kCanonicalIntMax || v.get_int64() < event::kCanonicalIntMin) {
        out->append(json::serialize(v));
        return Status::Ok();
      }
      break;
    default:
      break;
  }
  return event::AppendCanonicalJson(v, out);
}

}  // namespace

std::string_view PushRuleChangeName(PushRuleChange change) {
  switch (change) {
    case PushRuleChange::kPut:
      return "put";
    case PushRuleChange::kDelete:
      return "delete";
    case PushRuleChange::kEnabled:
      return "enabled";
    case PushRuleChange::kActions:
      return "actions";
  }
  return "put";
}

std::optional<PushRuleChange> PushRuleChangeFromName(std::string_view name) {
  for (PushRuleChange c : {PushRuleChange::kPut, PushRuleChange::kDelete, PushRuleChange::kEnabled,
                           PushRuleChange::kActions}) {
    if (PushRuleChangeName(c) == name) return c;
  }
  return std::nullopt;
}

Status CheckNewDisplayName(std::string_view name) {
  if (name.size() > kDisplayNameBytesMax) return Status::TooLarge("display name too long");
  if (name.find('\0') != std::string_view::npos) {
    return Status::InvalidArgument("display name contains U+0000");
  }
  return Status::Ok();
}

std::string_view AccountCommandName(const AccountCommand& command) {
  struct Namer {
    std::string_view operator()(const RegisterCommand&) const { return "register"; }
    std::string_view operator()(const LoginCommand&) const { return "login"; }
    std::string_view operator()(const LogoutCommand&) const { return "logout"; }
    std::string_view operator()(const LogoutAllCommand&) const { return "logout_all"; }
    std::string_view operator()(const SetPasswordCommand&) const { return "set_password"; }
    std::string_view operator()(const DeactivateCommand&) const { return "deactivate"; }
    std::string_view operator()(const SetDisplayNameCommand&) const { return "set_displayname"; }
    std::string_view operator()(const SetAvatarUrlCommand&) const { return "set_avatar_url"; }
    std::string_view operator()(const SetDeviceDisplayNameCommand&) const {
      return "set_device_display_name";
    }
    std::string_view operator()(const DeleteDeviceCommand&) const { return "delete_device"; }
    std::string_view operator()(const ForgetRoomCommand&) const { return "forget_room"; }
    std::string_view operator()(const PutAccountDataCommand&) const { return "put_account_data"; }
    std::string_view operator()(const EditTagCommand&) const { return "edit_tag"; }
    std::string_view operator()(const EditPushRuleCommand&) const { return "edit_push_rule"; }
    std::string_view operator()(const RefreshMemberEventsCommand&) const {
      return "refresh_member_events";
    }
    std::string_view operator()(const RefreshCommand&) const { return "refresh"; }
    std::string_view operator()(const ConfirmRefreshCommand&) const { return "confirm_refresh"; }
    std::string_view operator()(const CreateLoginTokenCommand&) const {
      return "create_login_token";
    }
    std::string_view operator()(const CreateOpenIdTokenCommand&) const {
      return "create_openid_token";
    }
    std::string_view operator()(const RestrictUserCommand&) const { return "restrict_user"; }
    std::string_view operator()(const CreateRegistrationTokenCommand&) const {
      return "create_registration_token";
    }
    std::string_view operator()(const SetProfileFieldCommand&) const { return "set_profile_field"; }
    std::string_view operator()(const CopyRoomUserStateCommand&) const {
      return "copy_room_user_state";
    }
    std::string_view operator()(const UpdateRegistrationTokenCommand&) const {
      return "update_registration_token";
    }
    std::string_view operator()(const DeleteRegistrationTokenCommand&) const {
      return "delete_registration_token";
    }
    std::string_view operator()(const ExpireTokensCommand&) const { return "expire_tokens"; }
  };
  return std::visit(Namer{}, command);
}

bool IsValidRegistrationToken(std::string_view token) {
  if (token.empty() || token.size() > kRegistrationTokenBytesMax) return false;
  return std::all_of(token.begin(), token.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '_' || c == '~' || c == '-';
  });
}

Result<std::string> AccountDataJson(const json::object& content) {
  std::string out;
  NEBU_RETURN_IF_ERROR(AppendStoredObject(content, 1, &out));
  return out;
}

Status ValidateAccountCommand(const AccountCommand& command) {
  return std::visit([](const auto& c) { return Validate(c); }, command);
}

Result<std::string> EncodeAccountCommand(const AccountCommand& command) {
  NEBU_RETURN_IF_ERROR(ValidateAccountCommand(command));
  json::object o;
  o["op"] = AccountCommandName(command);
  std::visit([&o](const auto& c) { Encode(c, &o); }, command);
  if (const auto* put = std::get_if<PutAccountDataCommand>(&command)) {
    NEBU_ASSIGN_OR_RETURN(std::string content, AccountDataJson(put->content));
    o["content_json"] = std::move(content);
  }
  if (const auto* tag = std::get_if<EditTagCommand>(&command); tag && tag->tag_content) {
    NEBU_ASSIGN_OR_RETURN(std::string content, AccountDataJson(*tag->tag_content));
    o["tag_json"] = std::move(content);
  }
  if (const auto* edit = std::get_if<EditPushRuleCommand>(&command)) {
    NEBU_ASSIGN_OR_RETURN(std::string value, AccountDataJson(edit->value));
    o["value_json"] = std::move(value);
    if (edit->defaults) {
      NEBU_ASSIGN_OR_RETURN(std::string defaults, AccountDataJson(*edit->defaults));
      o["defaults_json"] = std::move(defaults);
    }
  }
  if (const auto* copy = std::get_if<CopyRoomUserStateCommand>(&command); copy && copy->defaults) {
    NEBU_ASSIGN_OR_RETURN(std::string defaults, AccountDataJson(*copy->defaults));
    o["defaults_json"] = std::move(defaults);
  }
  return event::CanonicalJson(json::value(std::move(o)));
}

}  // namespace nebu::accounts
