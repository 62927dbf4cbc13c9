// Account commands: the deterministic mutations of accounts, devices, access tokens,
// profiles and account data, as replicated in core::CommandKind::kAccount.
//
// A command carries only decided values: the SHA-256 of a new access token (never
// the token), the argon2id-encoded password hash (never the password), device IDs
// and timestamps. The node that receives a request does the random and expensive
// work (accounts.h PrepareRegistration / PrepareLogin / PrepareSetPassword), builds
// the struct, and proposes EncodeAccountCommand(...) as the payload; every node then
// applies the same bytes with ApplyAccountCommand (accounts.h).
//
//   LoginCommand login{.user_id = "@alice:example.org",
//                      .device = {.device_id = NewDeviceId(),
//                                 .token_hash = TokenHash(token)},
//                      .ts = clock.NowUnixMs()};
//   NEBU_ASSIGN_OR_RETURN(std::string payload, EncodeAccountCommand(login));
//
// Payload: one canonical JSON object, {"op": <name>, ...fields}; an optional field is
// absent when unset, every other field is required, unknown fields are refused (a
// node that does not understand a command must fail loudly, not apply half of it).
// The op names and fields are listed with each struct below and are stable: they are
// in every replicated log and backup. DecodeAccountCommand(EncodeAccountCommand(c))
// == c for every valid c.
//
// Thread-safety: values and pure functions.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "engine/common/status.h"

namespace nebu::accounts {

// Limits checked by ValidateAccountCommand (and so by encode, decode and apply).
inline constexpr size_t kDeviceIdBytesMax = 255;
inline constexpr size_t kDisplayNameBytesMax = 256;  // profile and device names
inline constexpr size_t kAvatarUrlBytesMax = 1000;
inline constexpr size_t kAccountDataBytesMax = 64 * 1024;  // AccountDataJson(content)
inline constexpr size_t kTokenHashHexChars = 64;           // lower-case hex SHA-256

// Quotas decided in apply (accounts.h; over one the command is refused, kForbidden).
// Devices per user: a login with a new device ID beyond it is refused (a person has a
// handful; bots that log in without reusing a device ID reach hundreds).
inline constexpr size_t kDevicesPerUserMax = 1000;
// Account-data entries per user: global types plus (room, type) pairs, tags included
// (a client keeps ~10 global types and one or two per room).
inline constexpr size_t kAccountDataTypesMax = 1000;

// A device created by registration or login, with the hash of its access token.
// JSON: {"device_id", "display_name"?, "expires_ms"?, "refresh_hash"?, "token_hash"}.
// With refresh_hash (the client asked for refresh_token: true) the device gets a
// refresh token and its access token expires at expires_ms (decided by the receiving
// node: now + its configured lifetime), which then is required.
struct NewDevice {
  std::string device_id{};
  std::string token_hash{};                   // TokenHash(access token): 64 lower-case hex
  std::optional<std::string> display_name{};  // initial_device_display_name
  std::optional<std::string> refresh_hash{};  // TokenHash(refresh token)
  std::optional<int64_t> expires_ms{};        // ms since the epoch
  bool operator==(const NewDevice&) const = default;
};

// Registration tokens (m.login.registration_token): 1..kRegistrationTokenBytesMax of
// [A-Za-z0-9._~-] (the spec's grammar).
inline constexpr size_t kRegistrationTokenBytesMax = 64;

// Extended profile fields (PUT /profile/{userId}/{keyName}): a key name is at most
// kProfileKeyBytesMax bytes; the whole profile (the stored record: displayname,
// avatar_url and every field) at most kProfileBytesMax (spec: 64 KiB). Over either:
// kTooLarge.
inline constexpr size_t kProfileKeyBytesMax = 255;
inline constexpr size_t kProfileBytesMax = 64 * 1024;

// op "register": {"admin", "created_ts", "device"?, "displayname"?, "password_hash"?,
// "registration_token"?, "user_id"}. Creates the user; with a device, also logs it in.
// With registration_token, the token must be valid when the command applies (it
// exists, its expiry_time is after created_ts, completed < uses_allowed), else
// kForbidden; its completed count goes up by one in the same write.
struct RegisterCommand {
  std::string user_id{};
  std::optional<std::string> password_hash{};  // nullopt: no password login (e.g. SSO)
  bool admin = false;
  int64_t created_ts = 0;                    // ms since the epoch
  std::optional<std::string> displayname{};  // initial profile display name
  std::optional<NewDevice> device{};         // nullopt: inhibit_login
  std::optional<std::string> registration_token{};
  bool operator==(const RegisterCommand&) const = default;
};

// op "login": {"device", "login_token_hash"?, "ts", "user_id"}. Creates the device, or,
// when the user already has a device with this ID, replaces its access token (the old
// token stops working) and keeps its display name unless a new one is given. A locked
// user cannot log in (kUnauthenticated). With login_token_hash (m.login.token) the
// login token must be the user's and not expired at ts (else kForbidden); it is
// deleted in the same write (single use).
struct LoginCommand {
  std::string user_id{};
  NewDevice device{};
  int64_t ts = 0;  // the device's created_ts when it is new
  std::optional<std::string> login_token_hash{};
  bool operator==(const LoginCommand&) const = default;
};

// Every op that deletes a device (logout, logout_all, set_password with
// logout_devices, deactivate, delete_device) deletes in the same command its access
// token and all its end-to-end encryption records: device keys, one-time and
// fallback keys, queued to-device messages, signatures on its keys
// (engine/e2ee/removal.h), and tells /sync that the user's device list changed.

// op "logout": {"device_id", "user_id"}. Deletes the device and its access token.
struct LogoutCommand {
  std::string user_id{};
  std::string device_id{};
  bool operator==(const LogoutCommand&) const = default;
};

// op "logout_all": {"user_id"}. Deletes every device and access token of the user.
struct LogoutAllCommand {
  std::string user_id{};
  bool operator==(const LogoutAllCommand&) const = default;
};

// op "set_password": {"keep_device_id"?, "logout_devices", "password_hash", "user_id"}.
// With logout_devices, deletes every device (and token) except keep_device_id (the
// device that asked, if any; a keep_device_id the user no longer has keeps nothing).
struct SetPasswordCommand {
  std::string user_id{};
  std::string password_hash{};
  bool logout_devices = true;
  std::optional<std::string> keep_device_id{};
  bool operator==(const SetPasswordCommand&) const = default;
};

// op "deactivate": {"erase", "user_id"}. Marks the user deactivated (the ID stays
// taken forever), drops the password hash, deletes every device and token (with their
// keys, as above) and the user's cross-signing keys and the signatures on its keys.
// With erase, also deletes the profile and all account data. Idempotent. Leaving the
// user's rooms is not part of it: room events are their own commands, which
// POST /account/deactivate proposes first (api/accounts/account_routes.cpp).
struct DeactivateCommand {
  std::string user_id{};
  bool erase = false;
  bool operator==(const DeactivateCommand&) const = default;
};

// The most joined rooms one profile command (or one refresh_member_events command)
// appends member events to: it bounds the work and the batch of one apply. A user in
// more rooms gets the rest through refresh_member_events commands, proposed one after
// the other by the API (api/accounts/device_profile_routes.cpp), each this many rooms.
inline constexpr uint32_t kProfileFanoutRoomsPerCommand = 64;

// op "set_displayname": {"displayname"?, "member_events_rooms_max"?, "member_events_ts"?,
// "user_id"}; absent displayname clears it. With member_events_ts (PUT /profile), the
// same command also appends the user's m.room.member join, carrying the new profile,
// to the rooms the user is joined to when it is applied
// (core::RoomApplier::AppendProfileMemberEvents, origin_server_ts = member_events_ts),
// in room-number order: the profile and those member events land in one write. With
// member_events_rooms_max (1..kProfileFanoutRoomsPerCommand; only with
// member_events_ts) at most that many rooms; when joined rooms remain, the outcome
// says {"events": [...], "more_after_room": <room number of the last room done>}
// and a RefreshMemberEventsCommand continues from there. Without it (logs written
// before the field existed) every joined room; without member_events_ts only the
// profile changes.
struct SetDisplayNameCommand {
  std::string user_id{};
  std::optional<std::string> displayname{};
  std::optional<int64_t> member_events_ts{};
  std::optional<uint32_t> member_events_rooms_max{};
  bool operator==(const SetDisplayNameCommand&) const = default;
};

// op "set_avatar_url": {"avatar_url"?, "member_events_rooms_max"?, "member_events_ts"?,
// "user_id"}; absent avatar_url clears it; the member_events_* fields as for
// set_displayname.
struct SetAvatarUrlCommand {
  std::string user_id{};
  std::optional<std::string> avatar_url{};
  std::optional<int64_t> member_events_ts{};
  std::optional<uint32_t> member_events_rooms_max{};
  bool operator==(const SetAvatarUrlCommand&) const = default;
};

// op "refresh_member_events": {"after_room", "member_events_ts", "rooms_max",
// "user_id"}. The continuation of a profile change whose member events were capped:
// the user's m.room.member join carrying the profile stored when it applies, in at
// most rooms_max (1..kProfileFanoutRoomsPerCommand) joined rooms numbered above
// after_room; the outcome as for set_displayname (more_after_room when rooms
// remain). kNotFound / kForbidden for an unknown or deactivated user.
struct RefreshMemberEventsCommand {
  std::string user_id{};
  uint64_t after_room = 0;
  int64_t member_events_ts = 0;
  uint32_t rooms_max = kProfileFanoutRoomsPerCommand;
  bool operator==(const RefreshMemberEventsCommand&) const = default;
};

// op "set_device_display_name": {"device_id", "display_name"?, "user_id"}.
struct SetDeviceDisplayNameCommand {
  std::string user_id{};
  std::string device_id{};
  std::optional<std::string> display_name{};
  bool operator==(const SetDeviceDisplayNameCommand&) const = default;
};

// op "delete_device": {"device_id", "user_id"}. Same effect as logout; a separate op
// so logs and audits say which API asked.
struct DeleteDeviceCommand {
  std::string user_id{};
  std::string device_id{};
  bool operator==(const DeleteDeviceCommand&) const = default;
};

// op "put_account_data": {"content_json", "room_id"?, "type", "user_id"}. Global
// account data without room_id, per-room with it. Replaces the previous content of
// the type. content_json is AccountDataJson(content), a JSON string inside the
// canonical command, so content may hold floats (m.tag's "order": 0.5) that canonical
// JSON cannot; it is stored as-is. Logs written before carry {"content": object}
// (canonical numbers only); that form still decodes and stores the same bytes.
struct PutAccountDataCommand {
  std::string user_id{};
  std::optional<std::string> room_id{};
  std::string type{};
  boost::json::object content{};
  bool operator==(const PutAccountDataCommand&) const = default;
};

// op "forget_room": {"room_id", "user_id"}. POST /rooms/{roomId}/forget: marks the
// room forgotten for the user (Cf::kMembership 'f' key); only after a leave or ban
// (kInvalidArgument "user is in the room" otherwise; kForbidden for an unknown room
// or one the user never was in). The user's next membership event in the room
// clears the mark. Idempotent.
struct ForgetRoomCommand {
  std::string user_id{};
  std::string room_id{};
  bool operator==(const ForgetRoomCommand&) const = default;
};

// Deltas applied to a stored set in apply (never a whole set computed by the
// proposer, whose view may be stale: two racing changes by one user both land).

// op "edit_tag": {"room_id", "tag", "tag_json"?, "user_id"}. PUT (tag_json: the tag's
// object, as AccountDataJson text) or DELETE (absent) of one tag in the room's m.tag
// account data {"tags": {tag: {...}}}, read and written in apply. Deleting an absent
// tag is no error. Quota and errors as put_account_data.
struct EditTagCommand {
  std::string user_id{};
  std::string room_id{};
  std::string tag{};
  std::optional<boost::json::object> tag_content{};  // nullopt: delete
  bool operator==(const EditTagCommand&) const = default;
};
inline constexpr size_t kTagBytesMax = 255;  // a tag name

// op "edit_push_rule": {"after"?, "before"?, "change", "defaults_json"?, "kind",
// "rule_id", "user_id", "value_json"}. One change of the user's m.push_rules set
// (engine/accounts/push_rules.h says what each does and its errors, decided in apply):
// change "put" (value: the rule object, before/after allowed), "delete" (value {}),
// "enabled" (value {"enabled": bool}) or "actions" (value {"actions": [...]}).
// value_json is AccountDataJson(value). defaults: the server-default rule set the
// edit applies over (the proposer's DefaultPushRuleset(user_id)), so apply depends
// only on the command and the stored set, never on the defaults compiled into the
// node applying it; absent (logs written before the field existed): the applying
// binary's defaults, as then. defaults_json is AccountDataJson(defaults).
enum class PushRuleChange { kPut, kDelete, kEnabled, kActions };
struct EditPushRuleCommand {
  std::string user_id{};
  std::string kind{};
  std::string rule_id{};
  PushRuleChange change = PushRuleChange::kPut;
  boost::json::object value{};
  std::optional<std::string> before{};
  std::optional<std::string> after{};
  std::optional<boost::json::object> defaults{};
  bool operator==(const EditPushRuleCommand&) const = default;
};
inline constexpr size_t kPushRuleIdBytesMax = 255;

// op "refresh": {"device_id", "expires_ms", "old_refresh_hash", "refresh_hash",
// "token_hash", "user_id"} (POST /refresh). old_refresh_hash must be the device's current refresh token, or the one
// it replaced while the access token issued with the current one was never used (a
// client retrying a refresh whose answer it lost); else kUnauthenticated. Replaces
// the device's access token (the old one stops working at once) and refresh token;
// the refresh token presented stays valid (as prev) until the new access token is
// first used (ConfirmRefreshCommand) or the new refresh token is used.
struct RefreshCommand {
  std::string user_id{};
  std::string device_id{};
  std::string old_refresh_hash{};
  std::string token_hash{};
  std::string refresh_hash{};
  int64_t expires_ms = 0;
  bool operator==(const RefreshCommand&) const = default;
};

// op "confirm_refresh": {"device_id", "token_hash", "user_id"}. The first use of an
// access token issued by /refresh: revokes the refresh token it replaced. A no-op
// when token_hash is no longer the device's, or was confirmed already.
struct ConfirmRefreshCommand {
  std::string user_id{};
  std::string device_id{};
  std::string token_hash{};
  bool operator==(const ConfirmRefreshCommand&) const = default;
};

// op "create_login_token": {"expires_ms", "token_hash", "user_id"} (POST
// /login/get_token) and op "create_openid_token" (same fields; POST
// /user/{userId}/openid/request_token). Stores the token's hash for the active user;
// the token is refused from expires_ms on.
struct CreateLoginTokenCommand {
  std::string user_id{};
  std::string token_hash{};
  int64_t expires_ms = 0;
  bool operator==(const CreateLoginTokenCommand&) const = default;
};
struct CreateOpenIdTokenCommand {
  std::string user_id{};
  std::string token_hash{};
  int64_t expires_ms = 0;
  bool operator==(const CreateOpenIdTokenCommand&) const = default;
};

// op "restrict_user": {"locked"?, "shadow_banned"?, "suspended"?, "user_id"} (PUT
// /admin/lock, /admin/suspend and the admin API's shadow_ban). Sets the given flags on the user (the absent ones stay) and on
// every access token of theirs, so the per-request token check sees them without
// another read. kNotFound for an unknown user.
struct RestrictUserCommand {
  std::string user_id{};
  std::optional<bool> locked{};
  std::optional<bool> suspended{};
  std::optional<bool> shadow_banned{};
  bool operator==(const RestrictUserCommand&) const = default;
};

// op "create_registration_token": {"expiry_time"?, "token", "uses_allowed"?}. A new
// registration token (kAlreadyExists when it exists), with no uses yet. The admin API
// that proposes it is a later issue; `nebu` has no subcommand for it either: tests and
// tools propose it through the engine.
struct CreateRegistrationTokenCommand {
  std::string token{};
  std::optional<int64_t> uses_allowed{};  // nullopt: unlimited; else >= 0
  std::optional<int64_t> expiry_time{};   // ms since the epoch; nullopt: never
  bool operator==(const CreateRegistrationTokenCommand&) const = default;
};

// op "set_profile_field": {"key", "user_id", "value_json"?}. PUT (value_json: the
// value's canonical JSON) or DELETE (absent) of an extended profile field; not
// displayname or avatar_url, which have their own ops. kTooLarge when the profile
// would exceed kProfileBytesMax; kForbidden for a deactivated user.
struct SetProfileFieldCommand {
  std::string user_id{};
  std::string key{};
  std::optional<std::string> value_json{};
  bool operator==(const SetProfileFieldCommand&) const = default;
};

// op "update_registration_token": {"expiry_time"?, "token", "uses_allowed"?} (the
// admin API's PUT). Each of uses_allowed and expiry_time: absent, unchanged; null,
// cleared (unlimited uses, never expires); a number, set (as create_registration_
// token's). The uses counted so far stay. kNotFound for an unknown token.
struct UpdateRegistrationTokenCommand {
  std::string token{};
  std::optional<std::optional<int64_t>> uses_allowed{};
  std::optional<std::optional<int64_t>> expiry_time{};
  bool operator==(const UpdateRegistrationTokenCommand&) const = default;
};

// op "delete_registration_token": {"token"}. kNotFound for an unknown token.
struct DeleteRegistrationTokenCommand {
  std::string token{};
  bool operator==(const DeleteRegistrationTokenCommand&) const = default;
};

// op "expire_tokens": {"after"?, "now_ms"}. Deletes the m.login.token login tokens and
// OpenID tokens whose expiry is at or before now_ms (the proposer's clock; they are
// refused from then on anyway), scanning at most kExpireTokensScanMax of them in key
// order, from just after `after` (hex of the last key scanned by the previous
// command) or from the start. Outcome {"deleted": n} plus {"after": hex} when the scan
// stopped at the bound (propose the next command with it). Deterministic: the same
// stored tokens and command delete the same ones on every node, and a repeat deletes
// nothing more. Proposed periodically by api/accounts/token_sweeper.h.
struct ExpireTokensCommand {
  int64_t now_ms = 0;
  std::optional<std::string> after{};
  bool operator==(const ExpireTokensCommand&) const = default;
};
inline constexpr size_t kExpireTokensScanMax = 4096;

// op "copy_room_user_state": {"defaults_json"?, "new_room_id", "old_room_id",
// "user_id"}. After a user joins a room whose m.room.create names `predecessor`
// old_room_id (room upgrades, Client-Server API § Room Upgrades), the user's state of
// the old room follows them, decided in apply against the stored sets:
//   - m.tag: the old room's tags are copied when the new room has no tag;
//   - m.direct: new_room_id is added beside old_room_id in the first list holding it,
//     unless a list holds new_room_id already;
//   - push rules: the room rule of old_room_id and every user rule with a condition
//     {"key": "room_id", "pattern": old_room_id} are copied (rule ID and pattern
//     rewritten to new_room_id, inserted just after the original, enabled flag kept)
//     when no user rule names new_room_id yet (push_rules.h, CopyRoomPushRules).
// Nothing to copy is no error (an empty answer). defaults: as edit_push_rule's.
// kForbidden for a deactivated user; account-data quota and size errors as
// put_account_data (then nothing is copied).
struct CopyRoomUserStateCommand {
  std::string user_id{};
  std::string old_room_id{};
  std::string new_room_id{};
  std::optional<boost::json::object> defaults{};
  bool operator==(const CopyRoomUserStateCommand&) const = default;
};

using AccountCommand =
    std::variant<RegisterCommand, LoginCommand, LogoutCommand, LogoutAllCommand, SetPasswordCommand,
                 DeactivateCommand, SetDisplayNameCommand, SetAvatarUrlCommand,
                 SetDeviceDisplayNameCommand, DeleteDeviceCommand, PutAccountDataCommand,
                 ForgetRoomCommand, EditTagCommand, EditPushRuleCommand,
                 RefreshMemberEventsCommand, RefreshCommand, ConfirmRefreshCommand,
                 CreateLoginTokenCommand, CreateOpenIdTokenCommand, RestrictUserCommand,
                 CreateRegistrationTokenCommand, SetProfileFieldCommand,
                 CopyRoomUserStateCommand, UpdateRegistrationTokenCommand,
                 DeleteRegistrationTokenCommand, ExpireTokensCommand>;

// True for a registration token of the spec's grammar (1..kRegistrationTokenBytesMax
// of [A-Za-z0-9._~-]).
[[nodiscard]] bool IsValidRegistrationToken(std::string_view token);

// The stored text of account data content: compact JSON with object keys sorted as
// canonical JSON sorts them, strings and integers in canonical form, floats as the
// shortest text that reads back as the same double (std::to_chars: 0.5 is "0.5",
// 1.0 is "1.0"), integers beyond 2^53 in full. Content without such numbers
// gets exactly its canonical JSON. kBadJson for a string that is not UTF-8, a
// non-finite float, or nesting deeper than event::kJsonDepthMax.
[[nodiscard]] Result<std::string> AccountDataJson(const boost::json::object& content);

// The check the API makes on a new display name (profile displayname, a device's
// display_name) before it builds a command: kTooLarge over kDisplayNameBytesMax,
// kInvalidArgument when it holds U+0000 (no PostgreSQL text column can store it).
// Not part of ValidateAccountCommand: commands already in a log with such a name
// still apply (the projection stores U+FFFD in place of U+0000, docs/compliance.md).
[[nodiscard]] Status CheckNewDisplayName(std::string_view name);

// "put", "delete", "enabled", "actions" and back (nullopt for another name).
std::string_view PushRuleChangeName(PushRuleChange change);
std::optional<PushRuleChange> PushRuleChangeFromName(std::string_view name);

// The "op" name of the command ("register", "login", ...).
std::string_view AccountCommandName(const AccountCommand& command);

// Stateless checks of a command's fields. Errors:
//   kInvalidArgument  a malformed user ID, room ID, device ID (empty or with control
//                     characters), token hash, password hash, event type, or a
//                     negative timestamp;
//   kTooLarge         a field over its *BytesMax limit;
//   kBadJson          account data content AccountDataJson refuses.
[[nodiscard]] Status ValidateAccountCommand(const AccountCommand& command);

// The canonical JSON payload. Errors: those of ValidateAccountCommand.
[[nodiscard]] Result<std::string> EncodeAccountCommand(const AccountCommand& command);

// Parses a payload. Errors: kNotJson / kTooLarge from the JSON parser; kBadJson for an
// unknown op, a missing, mistyped or unknown field; then ValidateAccountCommand's.
[[nodiscard]] Result<AccountCommand> DecodeAccountCommand(std::string_view payload);

}  // namespace nebu::accounts
