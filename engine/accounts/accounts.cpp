// Token helpers, command preparation and the read side of accounts.h.
#include "engine/accounts/accounts.h"

#include <utility>
#include <variant>

#include "engine/accounts/internal/records.h"
#include "engine/common/crypto.h"
#include "engine/event/identifiers.h"

namespace nebu::accounts {
namespace {

using storage::Cf;

Result<Prepared> Finish(AccountCommand command, std::optional<std::string> access_token,
                        std::optional<std::string> device_id,
                        std::optional<std::string> refresh_token = std::nullopt,
                        std::optional<int64_t> expires_in_ms = std::nullopt) {
  NEBU_ASSIGN_OR_RETURN(std::string payload, EncodeAccountCommand(command));
  return Prepared{std::move(command),   std::move(payload),       std::move(access_token),
                  std::move(device_id), std::move(refresh_token), expires_in_ms};
}

// A device with a fresh token; returns the plaintext token through *token and, with a
// lifetime, a refresh token through *refresh.
NewDevice MakeDevice(std::optional<std::string_view> device_id,
                     std::optional<std::string_view> display_name,
                     std::optional<int64_t> lifetime_ms, int64_t now_ms, std::string* token,
                     std::optional<std::string>* refresh) {
  *token = NewAccessToken();
  NewDevice device;
  device.device_id = device_id ? std::string(*device_id) : NewDeviceId();
  device.token_hash = TokenHash(*token);
  if (display_name) device.display_name = std::string(*display_name);
  if (lifetime_ms) {
    *refresh = NewToken(kRefreshTokenPrefix);
    device.refresh_hash = TokenHash(**refresh);
    device.expires_ms = now_ms + *lifetime_ms;
  }
  return device;
}

// A side token record (refresh, login, OpenID) by its tag and plaintext.
Result<std::optional<internal::SideTokenRecord>> ReadSideToken(const storage::ReadView& store,
                                                               char tag, std::string_view token) {
  using Out = std::optional<internal::SideTokenRecord>;
  if (token.empty() || token.size() > kAccessTokenBytesMax) return Out();
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                        store.Get(Cf::kTokens, internal::SideTokenKey(tag, TokenHash(token))));
  if (!bytes) return Out();
  NEBU_ASSIGN_OR_RETURN(internal::SideTokenRecord r, internal::DecodeSideTokenRecord(*bytes));
  return Out(std::move(r));
}

// The user of an expiring side token still valid at now_ms.
Result<std::string> SideTokenUser(const storage::ReadView& store, char tag, std::string_view token,
                                  int64_t now_ms) {
  NEBU_ASSIGN_OR_RETURN(auto record, ReadSideToken(store, tag, token));
  if (!record || record->expires_ms <= now_ms) return Status::Unauthenticated("unknown token");
  return std::move(record->user_id);
}

// An argon2id hash of some password nobody has, so that VerifyLogin for an unknown
// user costs what a wrong password costs.
const std::string& DummyHash() {
  static const std::string* hash = [] {
    Result<std::string> h = HashPassword("nebu-no-such-user");
    NEBU_CHECK(h.ok(), "hashing the dummy password failed");
    return new std::string(std::move(h).value());
  }();
  return *hash;
}

Result<internal::DeviceRecord> ReadDevice(const storage::ReadView& store, std::string_view user_id,
                                          std::string_view device_id) {
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                        store.Get(Cf::kDevices, internal::DeviceKey(user_id, device_id)));
  if (!bytes) return Status::NotFound("no such device");
  return internal::DecodeDeviceRecord(*bytes);
}

Result<internal::UserRecord> ReadUser(const storage::ReadView& store, std::string_view user_id) {
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                        store.Get(Cf::kUsers, internal::UserKey(user_id)));
  if (!bytes) return Status::NotFound("no such user");
  return internal::DecodeUserRecord(*bytes);
}

Device ToDevice(std::string device_id, internal::DeviceRecord r) {
  return Device{std::move(device_id), std::move(r.display_name), r.created_ts};
}

}  // namespace

std::string NewAccessToken() {
  return std::string(kAccessTokenPrefix) + RandomAlnum(kAccessTokenRandomChars);
}

std::string NewDeviceId() {
  constexpr unsigned kLetters = 26;
  constexpr unsigned kAcceptBelow = 256 - 256 % kLetters;  // 234: uniform letters
  std::string id;
  while (id.size() < kDeviceIdChars) {
    for (unsigned char c : RandomBytes(kDeviceIdChars)) {
      if (c < kAcceptBelow && id.size() < kDeviceIdChars) {
        id.push_back(static_cast<char>('A' + c % kLetters));
      }
    }
  }
  return id;
}

std::string NewToken(std::string_view prefix) {
  return std::string(prefix) + RandomAlnum(kAccessTokenRandomChars);
}

std::string TokenHash(std::string_view token) { return HexEncode(Sha256(token)); }

Result<std::string> NewUserId(std::string_view localpart, std::string_view server_name) {
  if (!event::IsValidNewLocalpart(localpart, server_name)) {
    return Status::InvalidUsername("user ID may only contain a-z, 0-9, . _ = - / +");
  }
  return "@" + std::string(localpart) + ":" + std::string(server_name);
}

Result<Prepared> PrepareRegistration(const RegistrationRequest& request, int64_t now_ms) {
  if (!event::IsValidUserId(request.user_id)) {  // before the costly hash
    return Status::InvalidArgument("invalid user_id");
  }
  RegisterCommand c;
  c.user_id = request.user_id;
  if (request.password) {
    NEBU_ASSIGN_OR_RETURN(c.password_hash, HashPassword(*request.password));
  }
  c.admin = request.admin;
  c.created_ts = now_ms;
  c.displayname = request.displayname;
  c.registration_token = request.registration_token;
  if (request.inhibit_login) return Finish(std::move(c), std::nullopt, std::nullopt);
  std::string token;
  std::optional<std::string> refresh;
  c.device = MakeDevice(request.device_id, request.device_display_name,
                        request.access_token_lifetime_ms, now_ms, &token, &refresh);
  std::string device_id = c.device->device_id;
  return Finish(std::move(c), std::move(token), std::move(device_id), std::move(refresh),
                request.access_token_lifetime_ms);
}

Result<Prepared> PrepareLogin(std::string_view user_id, std::optional<std::string_view> device_id,
                              std::optional<std::string_view> display_name, int64_t now_ms,
                              std::optional<int64_t> access_token_lifetime_ms,
                              std::optional<std::string_view> login_token) {
  LoginCommand c;
  c.user_id = std::string(user_id);
  std::string token;
  std::optional<std::string> refresh;
  c.device = MakeDevice(device_id, display_name, access_token_lifetime_ms, now_ms, &token, &refresh);
  c.ts = now_ms;
  if (login_token) c.login_token_hash = TokenHash(*login_token);
  std::string id = c.device.device_id;
  return Finish(std::move(c), std::move(token), std::move(id), std::move(refresh),
                access_token_lifetime_ms);
}

Result<Prepared> PrepareRefresh(std::string_view user_id, std::string_view device_id,
                                std::string_view refresh_token, int64_t access_token_lifetime_ms,
                                int64_t now_ms) {
  std::string token = NewAccessToken();
  std::string refresh = NewToken(kRefreshTokenPrefix);
  RefreshCommand c{.user_id = std::string(user_id),
                   .device_id = std::string(device_id),
                   .old_refresh_hash = TokenHash(refresh_token),
                   .token_hash = TokenHash(token),
                   .refresh_hash = TokenHash(refresh),
                   .expires_ms = now_ms + access_token_lifetime_ms};
  return Finish(std::move(c), std::move(token), std::string(device_id), std::move(refresh),
                access_token_lifetime_ms);
}

Result<Prepared> PrepareSetPassword(std::string_view user_id, std::string_view new_password,
                                    bool logout_devices,
                                    std::optional<std::string_view> keep_device_id) {
  if (!event::IsValidUserId(user_id)) return Status::InvalidArgument("invalid user_id");
  SetPasswordCommand c;
  c.user_id = std::string(user_id);
  NEBU_ASSIGN_OR_RETURN(c.password_hash, HashPassword(new_password));
  c.logout_devices = logout_devices;
  if (keep_device_id) c.keep_device_id = std::string(*keep_device_id);
  return Finish(std::move(c), std::nullopt, std::nullopt);
}

Result<User> GetUser(const storage::ReadView& store, std::string_view user_id) {
  NEBU_ASSIGN_OR_RETURN(internal::UserRecord r, ReadUser(store, user_id));
  return User{std::string(user_id), r.admin,       r.created_ts, r.deactivated,
              r.password_hash.has_value(), r.locked, r.suspended, r.shadow_banned};
}

Result<bool> UserExists(const storage::ReadView& store, std::string_view user_id) {
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                        store.Get(Cf::kUsers, internal::UserKey(user_id)));
  return bytes.has_value();
}

Result<TokenOwner> AuthenticateToken(const storage::ReadView& store, std::string_view token) {
  if (token.empty() || token.size() > kAccessTokenBytesMax) {
    return Status::Unauthenticated("unknown access token");
  }
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                        store.Get(Cf::kTokens, internal::TokenKey(TokenHash(token))));
  if (!bytes) return Status::Unauthenticated("unknown access token");
  NEBU_ASSIGN_OR_RETURN(internal::TokenRecord r, internal::DecodeTokenRecord(*bytes));
  return TokenOwner{std::move(r.user_id),
                    std::move(r.device_id),
                    (r.flags & internal::kTokenLocked) != 0,
                    (r.flags & internal::kTokenSuspended) != 0,
                    (r.flags & internal::kTokenFresh) != 0,
                    (r.flags & internal::kTokenExpires) != 0 ? r.expires_ms : 0,
                    (r.flags & internal::kTokenShadowBanned) != 0};
}

Result<TokenOwner> RefreshTokenOwner(const storage::ReadView& store,
                                     std::string_view refresh_token) {
  NEBU_ASSIGN_OR_RETURN(auto record, ReadSideToken(store, internal::kRefreshTokenTag, refresh_token));
  if (!record) return Status::Unauthenticated("unknown refresh token");
  return TokenOwner{.user_id = std::move(record->user_id),
                    .device_id = std::move(record->device_id)};
}

Result<std::string> LoginTokenOwner(const storage::ReadView& store, std::string_view login_token,
                                    int64_t now_ms) {
  return SideTokenUser(store, internal::kLoginTokenTag, login_token, now_ms);
}

Result<std::string> OpenIdTokenOwner(const storage::ReadView& store, std::string_view openid_token,
                                     int64_t now_ms) {
  return SideTokenUser(store, internal::kOpenIdTokenTag, openid_token, now_ms);
}

Result<RegistrationToken> GetRegistrationToken(const storage::ReadView& store,
                                               std::string_view token) {
  if (!IsValidRegistrationToken(token)) return Status::NotFound("no such registration token");
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> bytes, store.Get(Cf::kRegistrationTokens, token));
  if (!bytes) return Status::NotFound("no such registration token");
  NEBU_ASSIGN_OR_RETURN(internal::RegistrationTokenRecord r,
                        internal::DecodeRegistrationTokenRecord(*bytes));
  return RegistrationToken{std::string(token), r.uses_allowed, r.pending, r.completed,
                           r.expiry_time};
}

Result<bool> RegistrationTokenValid(const storage::ReadView& store, std::string_view token,
                                    int64_t now_ms) {
  Result<RegistrationToken> r = GetRegistrationToken(store, token);
  if (!r.ok()) {
    if (r.status().code() == StatusCode::kNotFound) return false;
    return r.status();
  }
  if (r->expiry_time && *r->expiry_time <= now_ms) return false;
  return !r->uses_allowed || r->completed + r->pending < *r->uses_allowed;
}

Result<std::vector<Device>> ListDevices(const storage::ReadView& store, std::string_view user_id) {
  const std::string prefix = internal::DevicesPrefix(user_id);
  std::vector<Device> devices;
  std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(Cf::kDevices);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    NEBU_ASSIGN_OR_RETURN(internal::DeviceRecord r,
                          internal::DecodeDeviceRecord(it->value().ToStringView()));
    std::string device_id(it->key().ToStringView().substr(prefix.size()));
    devices.push_back(ToDevice(std::move(device_id), std::move(r)));
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return devices;
}

Result<Device> GetDevice(const storage::ReadView& store, std::string_view user_id,
                         std::string_view device_id) {
  NEBU_ASSIGN_OR_RETURN(internal::DeviceRecord r, ReadDevice(store, user_id, device_id));
  return ToDevice(std::string(device_id), std::move(r));
}

Result<Profile> GetProfile(const storage::ReadView& store, std::string_view user_id) {
  NEBU_ASSIGN_OR_RETURN(bool exists, UserExists(store, user_id));
  if (!exists) return Status::NotFound("no such user");
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                        store.Get(Cf::kUsers, internal::ProfileKey(user_id)));
  if (!bytes) return Profile{};
  NEBU_ASSIGN_OR_RETURN(internal::ProfileRecord r, internal::DecodeProfileRecord(*bytes));
  return Profile{std::move(r.displayname), std::move(r.avatar_url), std::move(r.fields)};
}

Status ForEachAccountRecord(const storage::ReadView& store,
                            const std::function<Status(const AccountRecord&)>& visit) {
  const std::string prefix = internal::UserKey("");
  std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(Cf::kUsers);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string user_id(it->key().ToStringView().substr(prefix.size()));
    NEBU_ASSIGN_OR_RETURN(internal::UserRecord r,
                          internal::DecodeUserRecord(it->value().ToStringView()));
    AccountRecord account{User{user_id, r.admin, r.created_ts, r.deactivated,
                               r.password_hash.has_value(), r.locked, r.suspended,
                               r.shadow_banned},
                          std::move(r.password_hash), std::nullopt};
    NEBU_ASSIGN_OR_RETURN(std::optional<std::string> profile,
                          store.Get(Cf::kUsers, internal::ProfileKey(user_id)));
    if (profile) {
      NEBU_ASSIGN_OR_RETURN(internal::ProfileRecord p, internal::DecodeProfileRecord(*profile));
      account.profile = Profile{std::move(p.displayname), std::move(p.avatar_url),
                                std::move(p.fields)};
    }
    NEBU_RETURN_IF_ERROR(visit(account));
  }
  return storage::FromRocks(it->status());
}

Status ForEachDevice(const storage::ReadView& store,
                     const std::function<Status(std::string_view user_id, const Device& device)>& visit) {
  std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(Cf::kDevices);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string_view key = it->key().ToStringView();
    std::optional<std::string_view> user_id = storage::GetLengthPrefixed(&key);
    if (!user_id) return Status::Corruption("bad device key");
    NEBU_ASSIGN_OR_RETURN(internal::DeviceRecord r,
                          internal::DecodeDeviceRecord(it->value().ToStringView()));
    NEBU_RETURN_IF_ERROR(visit(*user_id, ToDevice(std::string(key), std::move(r))));
  }
  return storage::FromRocks(it->status());
}

Status ForEachAccessToken(
    const storage::ReadView& store,
    const std::function<Status(std::string_view token_hash, const TokenOwner& owner)>& visit) {
  std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(Cf::kTokens);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    if (it->key().size() == 33) continue;  // a refresh, login or OpenID token
    if (it->key().size() != 32) return Status::Corruption("bad token key");
    NEBU_ASSIGN_OR_RETURN(internal::TokenRecord r,
                          internal::DecodeTokenRecord(it->value().ToStringView()));
    NEBU_RETURN_IF_ERROR(visit(HexEncode(it->key().ToStringView()),
                               TokenOwner{std::move(r.user_id), std::move(r.device_id)}));
  }
  return storage::FromRocks(it->status());
}

Result<std::optional<MemberEventRefresh>> PlanMemberEventRefresh(const storage::ReadView& store,
                                                                  std::string_view payload) {
  using Out = std::optional<MemberEventRefresh>;
  Result<AccountCommand> command = DecodeAccountCommand(payload);
  if (!command.ok()) return Out();
  MemberEventRefresh refresh;
  const auto* name = std::get_if<SetDisplayNameCommand>(&*command);
  const auto* avatar = std::get_if<SetAvatarUrlCommand>(&*command);
  const auto* more = std::get_if<RefreshMemberEventsCommand>(&*command);
  if (name && name->member_events_ts) {
    refresh.user_id = name->user_id;
    refresh.origin_server_ts = *name->member_events_ts;
    refresh.rooms_max = name->member_events_rooms_max;
  } else if (avatar && avatar->member_events_ts) {
    refresh.user_id = avatar->user_id;
    refresh.origin_server_ts = *avatar->member_events_ts;
    refresh.rooms_max = avatar->member_events_rooms_max;
  } else if (more) {
    refresh.user_id = more->user_id;
    refresh.origin_server_ts = more->member_events_ts;
    refresh.after_room = more->after_room;
    refresh.rooms_max = more->rooms_max;
  } else {
    return Out();
  }
  Result<Profile> stored = GetProfile(store, refresh.user_id);
  if (!stored.ok()) {
    if (stored.status().code() == StatusCode::kNotFound) return Out();
    return stored.status();
  }
  refresh.profile = std::move(stored).value();
  if (name) refresh.profile.displayname = name->displayname;
  if (avatar) refresh.profile.avatar_url = avatar->avatar_url;
  return Out(std::move(refresh));
}

Result<std::string> GetAccountData(const storage::ReadView& store, std::string_view user_id,
                                   std::optional<std::string_view> room_id, std::string_view type) {
  NEBU_ASSIGN_OR_RETURN(
      std::optional<std::string> bytes,
      store.Get(Cf::kAccountData, internal::AccountDataKey(user_id, room_id.value_or(""), type)));
  if (!bytes) return Status::NotFound("no such account data");
  return std::move(*bytes);
}

Result<std::vector<AccountDataEntry>> ListAccountData(const storage::ReadView& store,
                                                      std::string_view user_id,
                                                      std::optional<std::string_view> room_id) {
  const std::string prefix = internal::AccountDataPrefix(user_id, room_id.value_or(""));
  std::vector<AccountDataEntry> entries;
  std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(Cf::kAccountData);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    entries.push_back(
        {std::string(it->key().ToStringView().substr(prefix.size())), it->value().ToString()});
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return entries;
}

Status VerifyLogin(const storage::ReadView& store, std::string_view user_id, std::string_view password) {
  const Status denied = Status::Forbidden("invalid username or password");
  Result<internal::UserRecord> user = ReadUser(store, user_id);
  if (!user.ok() && user.status().code() != StatusCode::kNotFound) return user.status();
  bool usable = user.ok() && !user->deactivated && user->password_hash.has_value();
  const std::string& encoded = usable ? *user->password_hash : DummyHash();
  bool match = VerifyPassword(password, encoded);
  return usable && match ? Status::Ok() : denied;
}

}  // namespace nebu::accounts
