// DecodeAccountCommand: strict parsing of kAccount payloads (commands.h).
#include <boost/json/value.hpp>
#include <utility>

#include "engine/accounts/commands.h"
#include "engine/event/command_fields.h"
#include "engine/event/canonical_json.h"

namespace nebu::accounts {
namespace {

namespace json = boost::json;

// Reads the fields of one JSON object and counts them, so Finish can refuse any
// field nobody asked for.
using Fields = event::CommandFields;

Result<std::optional<int64_t>> OptionalInt(Fields& f, std::string_view key) {
  if (!f.Has(key)) return std::optional<int64_t>();
  NEBU_ASSIGN_OR_RETURN(int64_t v, f.Int(key));
  return std::optional<int64_t>(v);
}

Result<std::optional<bool>> OptionalBool(Fields& f, std::string_view key) {
  if (!f.Has(key)) return std::optional<bool>();
  NEBU_ASSIGN_OR_RETURN(bool v, f.Bool(key));
  return std::optional<bool>(v);
}

Result<NewDevice> DecodeDevice(const json::object& o) {
  Fields f(o, "account command");
  NewDevice d;
  NEBU_ASSIGN_OR_RETURN(d.device_id, f.String("device_id"));
  NEBU_ASSIGN_OR_RETURN(d.token_hash, f.String("token_hash"));
  NEBU_ASSIGN_OR_RETURN(d.display_name, f.OptionalString("display_name"));
  NEBU_ASSIGN_OR_RETURN(d.refresh_hash, f.OptionalString("refresh_hash"));
  NEBU_ASSIGN_OR_RETURN(d.expires_ms, OptionalInt(f, "expires_ms"));
  NEBU_RETURN_IF_ERROR(f.Finish());
  return d;
}

Result<AccountCommand> DecodeRegister(Fields& f) {
  RegisterCommand c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.password_hash, f.OptionalString("password_hash"));
  NEBU_ASSIGN_OR_RETURN(c.admin, f.Bool("admin"));
  NEBU_ASSIGN_OR_RETURN(c.created_ts, f.Int("created_ts"));
  NEBU_ASSIGN_OR_RETURN(c.displayname, f.OptionalString("displayname"));
  if (f.Has("device")) {
    NEBU_ASSIGN_OR_RETURN(const json::object* device, f.Object("device"));
    NEBU_ASSIGN_OR_RETURN(c.device, DecodeDevice(*device));
  }
  NEBU_ASSIGN_OR_RETURN(c.registration_token, f.OptionalString("registration_token"));
  return AccountCommand(std::move(c));
}

Result<AccountCommand> DecodeLogin(Fields& f) {
  LoginCommand c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(const json::object* device, f.Object("device"));
  NEBU_ASSIGN_OR_RETURN(c.device, DecodeDevice(*device));
  NEBU_ASSIGN_OR_RETURN(c.ts, f.Int("ts"));
  NEBU_ASSIGN_OR_RETURN(c.login_token_hash, f.OptionalString("login_token_hash"));
  return AccountCommand(std::move(c));
}

Result<AccountCommand> DecodeRefresh(Fields& f) {
  RefreshCommand c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.device_id, f.String("device_id"));
  NEBU_ASSIGN_OR_RETURN(c.old_refresh_hash, f.String("old_refresh_hash"));
  NEBU_ASSIGN_OR_RETURN(c.token_hash, f.String("token_hash"));
  NEBU_ASSIGN_OR_RETURN(c.refresh_hash, f.String("refresh_hash"));
  NEBU_ASSIGN_OR_RETURN(c.expires_ms, f.Int("expires_ms"));
  return AccountCommand(std::move(c));
}

Result<AccountCommand> DecodeConfirmRefresh(Fields& f) {
  ConfirmRefreshCommand c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.device_id, f.String("device_id"));
  NEBU_ASSIGN_OR_RETURN(c.token_hash, f.String("token_hash"));
  return AccountCommand(std::move(c));
}

template <typename T>
Result<AccountCommand> DecodeSideToken(Fields& f) {
  T c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.token_hash, f.String("token_hash"));
  NEBU_ASSIGN_OR_RETURN(c.expires_ms, f.Int("expires_ms"));
  return AccountCommand(std::move(c));
}

Result<AccountCommand> DecodeRestrictUser(Fields& f) {
  RestrictUserCommand c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.locked, OptionalBool(f, "locked"));
  NEBU_ASSIGN_OR_RETURN(c.suspended, OptionalBool(f, "suspended"));
  NEBU_ASSIGN_OR_RETURN(c.shadow_banned, OptionalBool(f, "shadow_banned"));
  return AccountCommand(std::move(c));
}

Result<AccountCommand> DecodeCreateRegistrationToken(Fields& f) {
  CreateRegistrationTokenCommand c;
  NEBU_ASSIGN_OR_RETURN(c.token, f.String("token"));
  NEBU_ASSIGN_OR_RETURN(c.uses_allowed, OptionalInt(f, "uses_allowed"));
  NEBU_ASSIGN_OR_RETURN(c.expiry_time, OptionalInt(f, "expiry_time"));
  return AccountCommand(std::move(c));
}

Result<AccountCommand> DecodeSetProfileField(Fields& f) {
  SetProfileFieldCommand c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.key, f.String("key"));
  NEBU_ASSIGN_OR_RETURN(c.value_json, f.OptionalString("value_json"));
  return AccountCommand(std::move(c));
}

// logout and delete_device share a shape.
template <typename T>
Result<AccountCommand> DecodeUserDevice(Fields& f) {
  T c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.device_id, f.String("device_id"));
  return AccountCommand(std::move(c));
}

Result<AccountCommand> DecodeLogoutAll(Fields& f) {
  LogoutAllCommand c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  return AccountCommand(std::move(c));
}

Result<AccountCommand> DecodeSetPassword(Fields& f) {
  SetPasswordCommand c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.password_hash, f.String("password_hash"));
  NEBU_ASSIGN_OR_RETURN(c.logout_devices, f.Bool("logout_devices"));
  NEBU_ASSIGN_OR_RETURN(c.keep_device_id, f.OptionalString("keep_device_id"));
  return AccountCommand(std::move(c));
}

Result<AccountCommand> DecodeDeactivate(Fields& f) {
  DeactivateCommand c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.erase, f.Bool("erase"));
  return AccountCommand(std::move(c));
}

// member_events_ts of a profile command; absent in logs written before it existed.
Result<std::optional<int64_t>> MemberEventsTs(Fields& f) {
  if (!f.Has("member_events_ts")) return std::optional<int64_t>();
  NEBU_ASSIGN_OR_RETURN(int64_t ts, f.Int("member_events_ts"));
  return std::optional<int64_t>(ts);
}

// member_events_rooms_max of a profile command; absent in logs written before it.
Result<std::optional<uint32_t>> MemberEventsRoomsMax(Fields& f) {
  if (!f.Has("member_events_rooms_max")) return std::optional<uint32_t>();
  NEBU_ASSIGN_OR_RETURN(uint64_t max, f.Unsigned("member_events_rooms_max"));
  if (max > kProfileFanoutRoomsPerCommand) return Status::BadJson("member_events_rooms_max too big");
  return std::optional<uint32_t>(static_cast<uint32_t>(max));
}

Result<AccountCommand> DecodeSetDisplayName(Fields& f) {
  SetDisplayNameCommand c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.displayname, f.OptionalString("displayname"));
  NEBU_ASSIGN_OR_RETURN(c.member_events_ts, MemberEventsTs(f));
  NEBU_ASSIGN_OR_RETURN(c.member_events_rooms_max, MemberEventsRoomsMax(f));
  return AccountCommand(std::move(c));
}

Result<AccountCommand> DecodeSetAvatarUrl(Fields& f) {
  SetAvatarUrlCommand c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.avatar_url, f.OptionalString("avatar_url"));
  NEBU_ASSIGN_OR_RETURN(c.member_events_ts, MemberEventsTs(f));
  NEBU_ASSIGN_OR_RETURN(c.member_events_rooms_max, MemberEventsRoomsMax(f));
  return AccountCommand(std::move(c));
}

Result<AccountCommand> DecodeRefreshMemberEvents(Fields& f) {
  RefreshMemberEventsCommand c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.after_room, f.Unsigned("after_room"));
  NEBU_ASSIGN_OR_RETURN(c.member_events_ts, f.Int("member_events_ts"));
  NEBU_ASSIGN_OR_RETURN(uint64_t max, f.Unsigned("rooms_max"));
  if (max > kProfileFanoutRoomsPerCommand) return Status::BadJson("rooms_max too big");
  c.rooms_max = static_cast<uint32_t>(max);
  return AccountCommand(std::move(c));
}

Result<AccountCommand> DecodeSetDeviceDisplayName(Fields& f) {
  SetDeviceDisplayNameCommand c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.device_id, f.String("device_id"));
  NEBU_ASSIGN_OR_RETURN(c.display_name, f.OptionalString("display_name"));
  return AccountCommand(std::move(c));
}

Result<AccountCommand> DecodePutAccountData(Fields& f) {
  PutAccountDataCommand c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.room_id, f.OptionalString("room_id"));
  NEBU_ASSIGN_OR_RETURN(c.type, f.String("type"));
  if (!f.Has("content_json")) {  // the form of logs written before floats were carried
    NEBU_ASSIGN_OR_RETURN(const json::object* content, f.Object("content"));
    c.content = *content;
    return AccountCommand(std::move(c));
  }
  NEBU_ASSIGN_OR_RETURN(std::string text, f.String("content_json"));
  Result<json::value> content =
      event::ParseJson(text, {.canonical_numbers = false, .bytes_max = kAccountDataBytesMax});
  if (!content.ok() || !content->is_object()) {
    return Status::BadJson("account command content_json is not a JSON object");
  }
  c.content = std::move(content->as_object());
  return AccountCommand(std::move(c));
}

Result<AccountCommand> DecodeForgetRoom(Fields& f) {
  ForgetRoomCommand c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.room_id, f.String("room_id"));
  return AccountCommand(std::move(c));
}

// An object carried as AccountDataJson text (floats kept).
Result<json::object> DecodeObjectText(Fields& f, std::string_view key) {
  NEBU_ASSIGN_OR_RETURN(std::string text, f.String(key));
  Result<json::value> value =
      event::ParseJson(text, {.canonical_numbers = false, .bytes_max = kAccountDataBytesMax});
  if (!value.ok() || !value->is_object()) {
    return Status::BadJson("account command " + std::string(key) + " is not a JSON object");
  }
  return std::move(value->as_object());
}

Result<AccountCommand> DecodeEditTag(Fields& f) {
  EditTagCommand c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.room_id, f.String("room_id"));
  NEBU_ASSIGN_OR_RETURN(c.tag, f.String("tag"));
  if (f.Has("tag_json")) {
    NEBU_ASSIGN_OR_RETURN(c.tag_content, DecodeObjectText(f, "tag_json"));
  }
  return AccountCommand(std::move(c));
}

Result<AccountCommand> DecodeEditPushRule(Fields& f) {
  EditPushRuleCommand c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.kind, f.String("kind"));
  NEBU_ASSIGN_OR_RETURN(c.rule_id, f.String("rule_id"));
  NEBU_ASSIGN_OR_RETURN(std::string change, f.String("change"));
  std::optional<PushRuleChange> parsed = PushRuleChangeFromName(change);
  if (!parsed) return Status::BadJson("unknown push rule change \"" + change + "\"");
  c.change = *parsed;
  NEBU_ASSIGN_OR_RETURN(c.value, DecodeObjectText(f, "value_json"));
  if (f.Has("defaults_json")) {
    NEBU_ASSIGN_OR_RETURN(c.defaults, DecodeObjectText(f, "defaults_json"));
  }
  NEBU_ASSIGN_OR_RETURN(c.before, f.OptionalString("before"));
  NEBU_ASSIGN_OR_RETURN(c.after, f.OptionalString("after"));
  return AccountCommand(std::move(c));
}

// An optional-or-null integer field (UpdateRegistrationTokenCommand).
Result<std::optional<std::optional<int64_t>>> NullableInt(Fields& f, std::string_view key) {
  if (!f.Has(key)) return std::optional<std::optional<int64_t>>();
  NEBU_ASSIGN_OR_RETURN(const json::value* v, f.Value(key));
  if (v->is_null()) return std::optional<std::optional<int64_t>>(std::optional<int64_t>());
  if (!v->is_int64()) return Status::BadJson(std::string(key) + " must be an integer or null");
  return std::optional<std::optional<int64_t>>(v->as_int64());
}

Result<AccountCommand> DecodeUpdateRegistrationToken(Fields& f) {
  UpdateRegistrationTokenCommand c;
  NEBU_ASSIGN_OR_RETURN(c.token, f.String("token"));
  NEBU_ASSIGN_OR_RETURN(c.uses_allowed, NullableInt(f, "uses_allowed"));
  NEBU_ASSIGN_OR_RETURN(c.expiry_time, NullableInt(f, "expiry_time"));
  return AccountCommand(std::move(c));
}

Result<AccountCommand> DecodeDeleteRegistrationToken(Fields& f) {
  DeleteRegistrationTokenCommand c;
  NEBU_ASSIGN_OR_RETURN(c.token, f.String("token"));
  return AccountCommand(std::move(c));
}

Result<AccountCommand> DecodeExpireTokens(Fields& f) {
  ExpireTokensCommand c;
  NEBU_ASSIGN_OR_RETURN(c.now_ms, f.Int("now_ms"));
  NEBU_ASSIGN_OR_RETURN(c.after, f.OptionalString("after"));
  return AccountCommand(std::move(c));
}

Result<AccountCommand> DecodeCopyRoomUserState(Fields& f) {
  CopyRoomUserStateCommand c;
  NEBU_ASSIGN_OR_RETURN(c.user_id, f.String("user_id"));
  NEBU_ASSIGN_OR_RETURN(c.old_room_id, f.String("old_room_id"));
  NEBU_ASSIGN_OR_RETURN(c.new_room_id, f.String("new_room_id"));
  if (f.Has("defaults_json")) {
    NEBU_ASSIGN_OR_RETURN(c.defaults, DecodeObjectText(f, "defaults_json"));
  }
  return AccountCommand(std::move(c));
}

struct Decoder {
  std::string_view op;
  Result<AccountCommand> (*decode)(Fields&);
};

constexpr Decoder kDecoders[] = {
    {"register", DecodeRegister},
    {"login", DecodeLogin},
    {"logout", DecodeUserDevice<LogoutCommand>},
    {"logout_all", DecodeLogoutAll},
    {"set_password", DecodeSetPassword},
    {"deactivate", DecodeDeactivate},
    {"set_displayname", DecodeSetDisplayName},
    {"set_avatar_url", DecodeSetAvatarUrl},
    {"set_device_display_name", DecodeSetDeviceDisplayName},
    {"delete_device", DecodeUserDevice<DeleteDeviceCommand>},
    {"put_account_data", DecodePutAccountData},
    {"forget_room", DecodeForgetRoom},
    {"edit_tag", DecodeEditTag},
    {"edit_push_rule", DecodeEditPushRule},
    {"refresh_member_events", DecodeRefreshMemberEvents},
    {"refresh", DecodeRefresh},
    {"confirm_refresh", DecodeConfirmRefresh},
    {"create_login_token", DecodeSideToken<CreateLoginTokenCommand>},
    {"create_openid_token", DecodeSideToken<CreateOpenIdTokenCommand>},
    {"restrict_user", DecodeRestrictUser},
    {"create_registration_token", DecodeCreateRegistrationToken},
    {"set_profile_field", DecodeSetProfileField},
    {"copy_room_user_state", DecodeCopyRoomUserState},
    {"update_registration_token", DecodeUpdateRegistrationToken},
    {"delete_registration_token", DecodeDeleteRegistrationToken},
    {"expire_tokens", DecodeExpireTokens},
};

}  // namespace

Result<AccountCommand> DecodeAccountCommand(std::string_view payload) {
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(payload));
  if (!v.is_object()) return Status::BadJson("account command is not an object");
  Fields f(v.get_object(), "account command");
  NEBU_ASSIGN_OR_RETURN(std::string op, f.String("op"));
  for (const Decoder& d : kDecoders) {
    if (d.op != op) continue;
    NEBU_ASSIGN_OR_RETURN(AccountCommand command, d.decode(f));
    NEBU_RETURN_IF_ERROR(f.Finish());
    NEBU_RETURN_IF_ERROR(ValidateAccountCommand(command));
    return command;
  }
  return Status::BadJson("unknown account command op \"" + op + "\"");
}

}  // namespace nebu::accounts
