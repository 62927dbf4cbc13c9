// Accounts: users, devices, access tokens, profiles and account data.
//
// The write path has two halves. On the node that receives a request, Prepare*
// does everything random or expensive — a new access token and device ID, the
// argon2id password hash — and returns the command to propose plus what the client
// must see once (the plaintext access token). Every node then applies the committed
// payload with ApplyAccountCommand, which is deterministic: it checks the command
// against stored state and adds its writes to the caller's WriteBatch, which the
// state machine writes together with the applied index. Reads (AuthenticateToken,
// ListDevices, GetProfile, ...) are point lookups or short prefix scans of applied
// state. Access tokens are stored only as SHA-256 hashes; passwords only as argon2id
// PHC strings. Record layout: engine/accounts/internal/records.h. Registration,
// display name changes and deactivation also keep the user directory index in the
// same batch (engine/accounts/user_directory.h).
//
//   // On the receiving node (api/):
//   NEBU_ASSIGN_OR_RETURN(Prepared login,
//                         PrepareLogin(user_id, /*device_id=*/std::nullopt,
//                                      "Element on Linux", clock.NowUnixMs()));
//   ... propose Command{CommandKind::kAccount, login.payload}, wait for it to apply ...
//   reply {"access_token": *login.access_token, "device_id": *login.device_id};
//
//   // In the state machine, on every node:
//   rocksdb::WriteBatch batch;
//   Result<std::string> outcome = ApplyAccountCommand(store, batch, payload);
//   // on error the batch holds nothing from this command; write the applied index.
//
//   // On every request:
//   NEBU_ASSIGN_OR_RETURN(TokenOwner who, AuthenticateToken(store, bearer_token));
//
// Thread-safety: all functions are safe from any thread (RocksDB's guarantees); the
// functions take no locks. ApplyAccountCommand reads stored state, not the pending
// batch, so the state machine must apply kAccount commands one at a time and write
// each batch before applying the next (or at least never put two account commands
// in one batch). Ownership: nothing here keeps a pointer to its arguments.
#pragma once

#include <rocksdb/write_batch.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/accounts/commands.h"
#include "engine/accounts/password.h"
#include "engine/common/status.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"
#include "engine/storage/stream_entry.h"

namespace nebu::accounts {

// ---- tokens and IDs (random; call before building a command) ----

inline constexpr std::string_view kAccessTokenPrefix = "nebu_";
inline constexpr size_t kAccessTokenRandomChars = 40;  // [A-Za-z0-9]: ~238 bits
inline constexpr size_t kDeviceIdChars = 10;           // [A-Z], like Synapse
inline constexpr size_t kAccessTokenBytesMax = 1024;   // longer ones are not looked up

// Other tokens: a distinct prefix each, the same randomness as access tokens, stored
// only as TokenHash in Cf::kTokens under a tag byte (internal/records.h).
inline constexpr std::string_view kRefreshTokenPrefix = "nebur_";
inline constexpr std::string_view kLoginTokenPrefix = "nebul_";
inline constexpr std::string_view kOpenIdTokenPrefix = "nebuo_";
// How long a login token (POST /login/get_token, for m.login.token) is accepted: 2 min,
// as Synapse; after it the login is refused (403 M_FORBIDDEN).
inline constexpr int64_t kLoginTokenLifetimeMs = 2 * 60 * 1000;
// How long an OpenID token (POST /user/{userId}/openid/request_token) is accepted by
// GET /_matrix/federation/v1/openid/userinfo: 1 hour, as Synapse.
inline constexpr int64_t kOpenIdTokenLifetimeMs = 60 * 60 * 1000;

// "nebu_" + 40 random alphanumerics.
std::string NewAccessToken();
// prefix + 40 random alphanumerics.
std::string NewToken(std::string_view prefix);
// 10 random upper-case letters.
std::string NewDeviceId();
// Lower-case hex SHA-256 of the token: what commands carry and kTokens is keyed by.
std::string TokenHash(std::string_view token);

// The user ID for a new registration: "@" + localpart + ":" + server_name.
// kInvalidUsername when localpart breaks the strict grammar [a-z0-9._=/+-] or the
// ID would exceed 255 bytes.
[[nodiscard]] Result<std::string> NewUserId(std::string_view localpart,
                                            std::string_view server_name);

// ---- preparing commands (on the receiving node) ----

// A command ready to propose and what only the receiving node knows.
struct Prepared {
  AccountCommand command{};
  std::string payload{};                      // EncodeAccountCommand(command)
  std::optional<std::string> access_token{};  // plaintext; give to the client, never store
  std::optional<std::string> device_id{};
  std::optional<std::string> refresh_token{};  // plaintext, when one was asked for
  std::optional<int64_t> expires_in_ms{};      // the access token's lifetime, with it
};

struct RegistrationRequest {
  std::string user_id{};                  // e.g. from NewUserId
  std::optional<std::string> password{};  // nullopt: no password login
  bool admin = false;
  std::optional<std::string> displayname{};  // Synapse defaults this to the localpart
  bool inhibit_login = false;                // true: no device, no token
  std::optional<std::string> device_id{};    // nullopt: NewDeviceId()
  std::optional<std::string> device_display_name{};
  // Set (refresh_token: true): the device also gets a refresh token and its access
  // token expires this many ms after now_ms.
  std::optional<int64_t> access_token_lifetime_ms{};
  std::optional<std::string> registration_token{};  // RegisterCommand::registration_token
};

// Hashes the password (~35 ms), makes the token and device ID. Errors: those of
// CheckPassword and ValidateAccountCommand (a malformed user ID is refused before
// hashing). Does not look at stored state: a taken
// user ID is found when the command applies (kAlreadyExists).
[[nodiscard]] Result<Prepared> PrepareRegistration(const RegistrationRequest& request,
                                                   int64_t now_ms);
// A new token, for device_id (or a new device). Call VerifyLogin first.
// access_token_lifetime_ms as in RegistrationRequest; login_token: the m.login.token
// presented (its hash goes in the command, which consumes it).
[[nodiscard]] Result<Prepared> PrepareLogin(std::string_view user_id,
                                            std::optional<std::string_view> device_id,
                                            std::optional<std::string_view> display_name,
                                            int64_t now_ms,
                                            std::optional<int64_t> access_token_lifetime_ms = {},
                                            std::optional<std::string_view> login_token = {});
// A new access and refresh token for the device that holds refresh_token (owner:
// RefreshTokenOwner's answer); the access token expires access_token_lifetime_ms
// after now_ms.
[[nodiscard]] Result<Prepared> PrepareRefresh(std::string_view user_id, std::string_view device_id,
                                              std::string_view refresh_token,
                                              int64_t access_token_lifetime_ms, int64_t now_ms);
// Hashes new_password. keep_device_id: the requesting device, kept when
// logout_devices is true.
[[nodiscard]] Result<Prepared> PrepareSetPassword(std::string_view user_id,
                                                  std::string_view new_password,
                                                  bool logout_devices,
                                                  std::optional<std::string_view> keep_device_id);

// ---- applying (the state machine, on every node) ----

// Decodes payload, checks it against stored state and adds its writes to batch.
// Returns a canonical JSON object: {"devices_removed":n} for logout_all,
// set_password and deactivate, {} otherwise. On any error nothing of this command
// is in batch (what the batch held before is untouched). Errors:
//   those of DecodeAccountCommand (kNotJson, kBadJson, kInvalidArgument, kTooLarge);
//   kAlreadyExists   register: the user ID is taken (deactivated users keep theirs);
//                    register/login: the token hash is already in use;
//   kNotFound        the user does not exist; logout, delete_device and
//                    set_device_display_name: the user has no such device;
//                    edit_push_rule: no such rule (push_rules.h);
//   kInvalidArgument edit_push_rule: a server-default rule put or deleted, an
//                    unknown before/after rule (push_rules.h);
//   kTooLarge        edit_tag, edit_push_rule: the resulting content is over
//                    kAccountDataBytesMax;
//   kForbidden       login, set_password, set_displayname, set_avatar_url and
//                    put_account_data, edit_tag and edit_push_rule for a
//                    deactivated user; quotas (commands.h):
//                    login of a new device ID when the user has kDevicesPerUserMax,
//                    put_account_data, edit_tag and edit_push_rule of a new
//                    (room, type) when the user has
//                    kAccountDataTypesMax;
//   kCorruption      a stored record failed to decode;
//   kIoError         RocksDB failed to read.
// `stream` (the state machine's) receives a stream entry for each change /sync
// reports (account data: StreamKind::kAccountData); tests may pass nullptr.
[[nodiscard]] Result<std::string> ApplyAccountCommand(storage::Store& store,
                                                      rocksdb::WriteBatch& batch,
                                                      std::string_view payload,
                                                      storage::StreamAppender* stream = nullptr);

// ---- reads (applied state) ----

struct User {
  std::string user_id{};
  bool admin = false;
  int64_t created_ts = 0;
  bool deactivated = false;
  bool has_password = false;  // the hash itself stays inside (VerifyLogin)
  bool locked = false;        // PUT /admin/lock
  bool suspended = false;     // PUT /admin/suspend
  bool shadow_banned = false;  // POST /_synapse/admin/v1/users/{userId}/shadow_ban
  bool operator==(const User&) const = default;
};

struct Device {
  std::string device_id{};
  std::optional<std::string> display_name{};
  int64_t created_ts = 0;
  bool operator==(const Device&) const = default;
};

struct Profile {
  std::optional<std::string> displayname{};
  std::optional<std::string> avatar_url{};
  boost::json::object fields{};  // every other key (m.tz, ...), as set
  bool operator==(const Profile&) const = default;
};

struct TokenOwner {
  std::string user_id{};
  std::string device_id{};
  bool locked = false;     // the user is locked: refuse (M_USER_LOCKED)
  bool suspended = false;  // the user is suspended
  bool fresh = false;      // issued by /refresh and not used yet (ConfirmRefreshCommand)
  int64_t expires_ms = 0;  // 0: never; else refused from then on (the caller's clock)
  bool shadow_banned = false;  // the user is shadow-banned (api/auth.h)
  bool operator==(const TokenOwner&) const = default;
};

// A registration token as stored (registration_tokens.yaml's fields).
struct RegistrationToken {
  std::string token{};
  std::optional<int64_t> uses_allowed{};
  int64_t pending = 0;  // always 0: a use is checked and counted in one command
  int64_t completed = 0;
  std::optional<int64_t> expiry_time{};
  bool operator==(const RegistrationToken&) const = default;
};

struct AccountDataEntry {
  std::string type{};
  std::string content{};  // canonical JSON object
  bool operator==(const AccountDataEntry&) const = default;
};

// kNotFound when there is no such user (deactivated users are found).
[[nodiscard]] Result<User> GetUser(const storage::ReadView& store, std::string_view user_id);
// True for deactivated users too: their IDs are never reused.
[[nodiscard]] Result<bool> UserExists(const storage::ReadView& store, std::string_view user_id);

// Who holds this access token: one point lookup. kUnauthenticated when the token is
// unknown, logged out, or its user is deactivated (deactivation deletes every token).
// Expiry, lock and suspension are reported in TokenOwner, for the caller to enforce
// (api/auth.cpp). kCorruption, kIoError as for reads.
[[nodiscard]] Result<TokenOwner> AuthenticateToken(const storage::ReadView& store, std::string_view token);

// The user and device of a refresh token (its current or previous one, see
// RefreshCommand); kUnauthenticated when unknown or revoked.
[[nodiscard]] Result<TokenOwner> RefreshTokenOwner(const storage::ReadView& store,
                                                   std::string_view refresh_token);
// The user of a login token; kUnauthenticated when unknown, used, or expired at now_ms.
[[nodiscard]] Result<std::string> LoginTokenOwner(const storage::ReadView& store,
                                                  std::string_view login_token, int64_t now_ms);
// The user of an OpenID token; kUnauthenticated when unknown or expired at now_ms.
[[nodiscard]] Result<std::string> OpenIdTokenOwner(const storage::ReadView& store,
                                                   std::string_view openid_token, int64_t now_ms);
// A registration token; kNotFound when there is none (or it is malformed).
[[nodiscard]] Result<RegistrationToken> GetRegistrationToken(const storage::ReadView& store,
                                                             std::string_view token);
// Whether a registration at now_ms may use it: it exists, has not expired, and has
// uses left (completed + pending < uses_allowed).
[[nodiscard]] Result<bool> RegistrationTokenValid(const storage::ReadView& store,
                                                  std::string_view token, int64_t now_ms);

// The user's devices sorted by device ID; empty for an unknown user.
[[nodiscard]] Result<std::vector<Device>> ListDevices(const storage::ReadView& store,
                                                      std::string_view user_id);
// kNotFound when the user has no such device.
[[nodiscard]] Result<Device> GetDevice(const storage::ReadView& store, std::string_view user_id,
                                       std::string_view device_id);

// kNotFound when there is no such user; an empty Profile when nothing is set.
[[nodiscard]] Result<Profile> GetProfile(const storage::ReadView& store, std::string_view user_id);

// What a profile command with member_events_ts asks the state machine to append
// after it (commands.h, SetDisplayNameCommand): the user's member events carrying
// `profile`, the profile the command leaves.
// after_room and rooms_max: only joined rooms numbered above after_room, at most
// rooms_max of them (nullopt: all; commands.h, kProfileFanoutRoomsPerCommand).
struct MemberEventRefresh {
  std::string user_id{};
  Profile profile{};
  int64_t origin_server_ts = 0;
  uint64_t after_room = 0;
  std::optional<uint32_t> rooms_max{};
};
// Called by the state machine BEFORE it applies the kAccount `payload`, with nothing
// staged (account commands are applied alone): the stored profile with the command's
// field set (refresh_member_events: the stored profile). nullopt for any other command, a profile command without
// member_events_ts, an unknown user, or a payload that does not decode (the command's
// own apply then decides and refuses). kIoError, kCorruption as for reads.
[[nodiscard]] Result<std::optional<MemberEventRefresh>> PlanMemberEventRefresh(
    const storage::ReadView& store, std::string_view payload);

// The content (canonical JSON object) of one account data type; room_id nullopt for
// global. kNotFound when the user never set it.
[[nodiscard]] Result<std::string> GetAccountData(const storage::ReadView& store, std::string_view user_id,
                                                 std::optional<std::string_view> room_id,
                                                 std::string_view type);
// All of a user's global (room_id nullopt) or one room's account data, sorted by type.
[[nodiscard]] Result<std::vector<AccountDataEntry>> ListAccountData(
    const storage::ReadView& store, std::string_view user_id, std::optional<std::string_view> room_id);

// ---- whole-store reads (the PostgreSQL projection, projections/accounts_snapshot.h) ----
// Each is one scan of its family in key order and stops at the first error visit
// returns; kCorruption for a malformed record, kIoError as for reads.

// One account as stored, its password hash included (the projection copies it).
struct AccountRecord {
  User user{};
  std::optional<std::string> password_hash{};  // argon2id PHC string; nullopt: no password
  std::optional<Profile> profile{};            // nullopt: no profile record (nothing ever set)
};
// Every account (deactivated ones too) in user ID order, with its profile.
[[nodiscard]] Status ForEachAccountRecord(const storage::ReadView& store,
                                          const std::function<Status(const AccountRecord&)>& visit);
// Every device of every user, grouped by user (ListDevices' order within one).
[[nodiscard]] Status ForEachDevice(
    const storage::ReadView& store,
    const std::function<Status(std::string_view user_id, const Device& device)>& visit);
// Every access token: its hash (TokenHash's lower-case hex) and who holds it, in
// hash order (refresh, login and OpenID tokens are not visited).
[[nodiscard]] Status ForEachAccessToken(
    const storage::ReadView& store,
    const std::function<Status(std::string_view token_hash, const TokenOwner& owner)>& visit);

// OK when password is the user's. kForbidden for an unknown or deactivated user, a
// user without a password, or a wrong password — one code, so a caller cannot tell
// which user IDs exist. Costs one argon2id hash (~35 ms).
[[nodiscard]] Status VerifyLogin(const storage::ReadView& store, std::string_view user_id,
                                 std::string_view password);

}  // namespace nebu::accounts
