// ApplyAccountCommand: the deterministic state-machine side of accounts.h.
//
// Each handler first reads and checks everything it needs, then adds its writes;
// a save point around the whole command removes any write of a command that fails.
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <memory>
#include <utility>
#include <vector>

#include "engine/accounts/accounts.h"
#include "engine/accounts/internal/records.h"
#include "engine/accounts/push_rules.h"
#include "engine/accounts/user_directory.h"
#include "engine/common/crypto.h"
#include "engine/e2ee/removal.h"
#include "engine/event/canonical_json.h"
#include "engine/rooms/room_state.h"
#include "engine/storage/keys.h"

namespace nebu::accounts {
namespace {

namespace json = boost::json;
using internal::DeviceRecord;
using internal::UserRecord;
using storage::Cf;

struct StoredDevice {
  std::string device_id;
  DeviceRecord record;
};

class Applier {
 public:
  Applier(storage::Store& store, rocksdb::WriteBatch& batch, storage::StreamAppender* stream)
      : store_(store), batch_(batch), stream_(stream) {}

  Result<std::string> Apply(const RegisterCommand& c);
  Result<std::string> Apply(const LoginCommand& c);
  Result<std::string> Apply(const LogoutCommand& c) { return RemoveOne(c.user_id, c.device_id); }
  Result<std::string> Apply(const LogoutAllCommand& c);
  Result<std::string> Apply(const SetPasswordCommand& c);
  Result<std::string> Apply(const DeactivateCommand& c);
  Result<std::string> Apply(const SetDisplayNameCommand& c);
  Result<std::string> Apply(const SetAvatarUrlCommand& c);
  Result<std::string> Apply(const SetDeviceDisplayNameCommand& c);
  Result<std::string> Apply(const DeleteDeviceCommand& c) {
    return RemoveOne(c.user_id, c.device_id);
  }
  Result<std::string> Apply(const PutAccountDataCommand& c);
  Result<std::string> Apply(const ForgetRoomCommand& c);
  Result<std::string> Apply(const RefreshMemberEventsCommand& c);
  Result<std::string> Apply(const EditTagCommand& c);
  Result<std::string> Apply(const EditPushRuleCommand& c);
  Result<std::string> Apply(const RefreshCommand& c);
  Result<std::string> Apply(const ConfirmRefreshCommand& c);
  Result<std::string> Apply(const CreateLoginTokenCommand& c) {
    return PutSideToken(internal::kLoginTokenTag, c.user_id, c.token_hash, c.expires_ms);
  }
  Result<std::string> Apply(const CreateOpenIdTokenCommand& c) {
    return PutSideToken(internal::kOpenIdTokenTag, c.user_id, c.token_hash, c.expires_ms);
  }
  Result<std::string> Apply(const RestrictUserCommand& c);
  Result<std::string> Apply(const CreateRegistrationTokenCommand& c);
  Result<std::string> Apply(const SetProfileFieldCommand& c);
  Result<std::string> Apply(const CopyRoomUserStateCommand& c);
  Result<std::string> Apply(const UpdateRegistrationTokenCommand& c);
  Result<std::string> Apply(const DeleteRegistrationTokenCommand& c);
  Result<std::string> Apply(const ExpireTokensCommand& c);

 private:
  // ---- reads and checks ----
  Result<UserRecord> LoadUser(std::string_view user_id);
  Result<UserRecord> LoadActiveUser(std::string_view user_id);
  Result<std::optional<DeviceRecord>> LoadDevice(std::string_view user_id,
                                                 std::string_view device_id);
  Result<std::vector<StoredDevice>> LoadDevices(std::string_view user_id);
  Status CheckTokenFree(std::string_view token_hash);
  Result<internal::ProfileRecord> LoadProfile(std::string_view user_id);
  // kNotFound when there is no such registration token.
  Result<internal::RegistrationTokenRecord> LoadRegistrationToken(std::string_view token);
  // The stored account data object (floats kept); nullopt when never set.
  Result<std::optional<json::object>> LoadAccountDataObject(std::string_view user_id,
                                                            std::string_view room_id,
                                                            std::string_view type);
  // Stores content as (room_id, type) account data: size limit, quota for a new
  // entry, stream entry.
  Status StoreAccountData(std::string_view user_id, std::string_view room_id,
                          std::string_view type, const json::object& content, bool existed);

  // ---- writes (after all checks) ----
  Status Put(Cf cf, std::string_view key, std::string_view value) {
    return storage::FromRocks(batch_.Put(store_.handle(cf), key, value));
  }
  Status Delete(Cf cf, std::string_view key) {
    return storage::FromRocks(batch_.Delete(store_.handle(cf), key));
  }
  Status PutUser(std::string_view user_id, const UserRecord& r);
  Status PutProfile(std::string_view user_id, const internal::ProfileRecord& r);
  // The device and its access token record; flags: the user's (TokenFlags) plus
  // kTokenFresh for a token from /refresh; expires_ms: 0 for a token that never expires.
  Status PutDevice(std::string_view user_id, std::string_view device_id, const DeviceRecord& r,
                   uint8_t flags = 0, int64_t expires_ms = 0);
  Result<std::string> PutSideToken(char tag, std::string_view user_id,
                                   std::string_view token_hash, int64_t expires_ms);
  // Consumes a registration token for a registration at ts: kForbidden when invalid.
  Status UseRegistrationToken(std::string_view token, int64_t ts);
  // Consumes the user's login token: kForbidden when unknown, another user's or expired.
  Status UseLoginToken(std::string_view user_id, std::string_view token_hash, int64_t ts);
  Status RemoveDevice(std::string_view user_id, const StoredDevice& d);
  // Deletes the devices, their tokens and every e2ee record of theirs (device keys,
  // one-time and fallback keys, to-device queues): one command, one batch.
  Status RemoveDevicesAndKeys(std::string_view user_id, const std::vector<StoredDevice>& devices);
  Status DeleteAccountData(std::string_view user_id);

  Result<std::string> RemoveOne(std::string_view user_id, std::string_view device_id);
  static Result<std::string> Empty() { return std::string("{}"); }
  static Result<std::string> DevicesRemoved(size_t n);
  // kForbidden when the user already has kDevicesPerUserMax devices.
  Status CheckDeviceQuota(std::string_view user_id);
  // kForbidden when the user already has kAccountDataTypesMax account-data entries.
  Status CheckAccountDataQuota(std::string_view user_id);
  // Keys under prefix in cf, counting stops at `max`.
  Result<size_t> CountKeys(Cf cf, const std::string& prefix, size_t max);

  storage::Store& store_;
  rocksdb::WriteBatch& batch_;
  storage::StreamAppender* stream_;  // nullable
};

// ---- reads and checks ----

Result<UserRecord> Applier::LoadUser(std::string_view user_id) {
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                        store_.Get(Cf::kUsers, internal::UserKey(user_id)));
  if (!bytes) return Status::NotFound("no such user");
  return internal::DecodeUserRecord(*bytes);
}

Result<UserRecord> Applier::LoadActiveUser(std::string_view user_id) {
  NEBU_ASSIGN_OR_RETURN(UserRecord user, LoadUser(user_id));
  if (user.deactivated) return Status::Forbidden("user is deactivated");
  return user;
}

Result<std::optional<DeviceRecord>> Applier::LoadDevice(std::string_view user_id,
                                                        std::string_view device_id) {
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                        store_.Get(Cf::kDevices, internal::DeviceKey(user_id, device_id)));
  if (!bytes) return std::optional<DeviceRecord>();
  NEBU_ASSIGN_OR_RETURN(DeviceRecord r, internal::DecodeDeviceRecord(*bytes));
  return std::optional<DeviceRecord>(std::move(r));
}

Result<std::vector<StoredDevice>> Applier::LoadDevices(std::string_view user_id) {
  const std::string prefix = internal::DevicesPrefix(user_id);
  std::vector<StoredDevice> devices;
  std::unique_ptr<rocksdb::Iterator> it = store_.NewIterator(Cf::kDevices);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    NEBU_ASSIGN_OR_RETURN(DeviceRecord r, internal::DecodeDeviceRecord(it->value().ToStringView()));
    devices.push_back({std::string(it->key().ToStringView().substr(prefix.size())), std::move(r)});
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return devices;
}

Status Applier::CheckTokenFree(std::string_view token_hash) {
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                        store_.Get(Cf::kTokens, internal::TokenKey(token_hash)));
  if (bytes) return Status::AlreadyExists("access token hash already in use");
  return Status::Ok();
}

Result<internal::ProfileRecord> Applier::LoadProfile(std::string_view user_id) {
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                        store_.Get(Cf::kUsers, internal::ProfileKey(user_id)));
  if (!bytes) return internal::ProfileRecord{};
  return internal::DecodeProfileRecord(*bytes);
}

Result<std::optional<json::object>> Applier::LoadAccountDataObject(std::string_view user_id,
                                                                   std::string_view room_id,
                                                                   std::string_view type) {
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                        store_.Get(Cf::kAccountData, internal::AccountDataKey(user_id, room_id, type)));
  if (!bytes) return std::optional<json::object>();
  Result<json::value> v = event::ParseJson(*bytes, {.canonical_numbers = false});
  if (!v.ok() || !v->is_object()) return Status::Corruption("stored account data is not an object");
  return std::optional<json::object>(std::move(v->as_object()));
}

// ---- writes ----

Status Applier::PutUser(std::string_view user_id, const UserRecord& r) {
  NEBU_ASSIGN_OR_RETURN(std::string value, internal::EncodeUserRecord(r));
  return Put(Cf::kUsers, internal::UserKey(user_id), value);
}

Status Applier::PutProfile(std::string_view user_id, const internal::ProfileRecord& r) {
  if (r.empty()) return Delete(Cf::kUsers, internal::ProfileKey(user_id));
  NEBU_ASSIGN_OR_RETURN(std::string value, internal::EncodeProfileRecord(r));
  return Put(Cf::kUsers, internal::ProfileKey(user_id), value);
}

// The token flags a user's restrictions give every token of theirs.
uint8_t TokenFlags(const UserRecord& user) {
  return static_cast<uint8_t>((user.locked ? internal::kTokenLocked : 0) |
                              (user.suspended ? internal::kTokenSuspended : 0) |
                              (user.shadow_banned ? internal::kTokenShadowBanned : 0));
}

Status Applier::PutDevice(std::string_view user_id, std::string_view device_id,
                          const DeviceRecord& r, uint8_t flags, int64_t expires_ms) {
  NEBU_ASSIGN_OR_RETURN(std::string value, internal::EncodeDeviceRecord(r));
  NEBU_RETURN_IF_ERROR(Put(Cf::kDevices, internal::DeviceKey(user_id, device_id), value));
  internal::TokenRecord token{std::string(user_id), std::string(device_id), flags, expires_ms};
  if (expires_ms != 0) token.flags |= internal::kTokenExpires;
  NEBU_RETURN_IF_ERROR(
      Put(Cf::kTokens, internal::TokenKey(r.token_hash), internal::EncodeTokenRecord(token)));
  if (!r.refresh_hash) return Status::Ok();
  return Put(Cf::kTokens, internal::SideTokenKey(internal::kRefreshTokenTag, *r.refresh_hash),
             internal::EncodeSideTokenRecord({std::string(user_id), std::string(device_id), 0}));
}

Status Applier::RemoveDevice(std::string_view user_id, const StoredDevice& d) {
  NEBU_RETURN_IF_ERROR(Delete(Cf::kTokens, internal::TokenKey(d.record.token_hash)));
  for (const auto& refresh : {d.record.refresh_hash, d.record.prev_refresh_hash}) {
    if (!refresh) continue;
    NEBU_RETURN_IF_ERROR(
        Delete(Cf::kTokens, internal::SideTokenKey(internal::kRefreshTokenTag, *refresh)));
  }
  return Delete(Cf::kDevices, internal::DeviceKey(user_id, d.device_id));
}

Result<std::string> Applier::PutSideToken(char tag, std::string_view user_id,
                                          std::string_view token_hash, int64_t expires_ms) {
  NEBU_RETURN_IF_ERROR(LoadActiveUser(user_id).status());
  const std::string key = internal::SideTokenKey(tag, token_hash);
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> existing, store_.Get(Cf::kTokens, key));
  if (existing) return Status::AlreadyExists("token hash already in use");
  NEBU_RETURN_IF_ERROR(
      Put(Cf::kTokens, key, internal::EncodeSideTokenRecord({std::string(user_id), "", expires_ms})));
  return Empty();
}

Status Applier::UseRegistrationToken(std::string_view token, int64_t ts) {
  const Status invalid = Status::Forbidden("invalid registration token");
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                        store_.Get(Cf::kRegistrationTokens, token));
  if (!bytes) return invalid;
  NEBU_ASSIGN_OR_RETURN(internal::RegistrationTokenRecord r,
                        internal::DecodeRegistrationTokenRecord(*bytes));
  if (r.expiry_time && *r.expiry_time <= ts) return invalid;
  if (r.uses_allowed && r.completed + r.pending >= *r.uses_allowed) return invalid;
  ++r.completed;
  NEBU_ASSIGN_OR_RETURN(std::string value, internal::EncodeRegistrationTokenRecord(r));
  return Put(Cf::kRegistrationTokens, token, value);
}

Status Applier::UseLoginToken(std::string_view user_id, std::string_view token_hash, int64_t ts) {
  const Status invalid = Status::Forbidden("invalid login token");
  const std::string key = internal::SideTokenKey(internal::kLoginTokenTag, token_hash);
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> bytes, store_.Get(Cf::kTokens, key));
  if (!bytes) return invalid;
  NEBU_ASSIGN_OR_RETURN(internal::SideTokenRecord r, internal::DecodeSideTokenRecord(*bytes));
  if (r.user_id != user_id || r.expires_ms <= ts) return invalid;
  return Delete(Cf::kTokens, key);
}

Status Applier::RemoveDevicesAndKeys(std::string_view user_id,
                                     const std::vector<StoredDevice>& devices) {
  std::vector<std::string> ids;
  for (const StoredDevice& d : devices) {
    NEBU_RETURN_IF_ERROR(RemoveDevice(user_id, d));
    ids.push_back(d.device_id);
  }
  return e2ee::StageDeviceRemoval(store_, batch_, stream_, user_id, ids);
}

Status Applier::DeleteAccountData(std::string_view user_id) {
  const std::string prefix = internal::AccountDataUserPrefix(user_id);
  std::vector<std::string> keys;
  std::unique_ptr<rocksdb::Iterator> it = store_.NewIterator(Cf::kAccountData);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    keys.push_back(it->key().ToString());
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  for (const std::string& key : keys) {
    NEBU_RETURN_IF_ERROR(Delete(Cf::kAccountData, key));
    if (!stream_) continue;
    // Each removal goes on the stream like a change, so readers of the stream (the
    // projection) drop it too.
    std::string_view rest = std::string_view(key).substr(prefix.size());
    std::optional<std::string_view> room_id = storage::GetLengthPrefixed(&rest);
    if (!room_id) return Status::Corruption("bad account data key");
    stream_->Append(storage::StreamEntry::AccountData(std::string(user_id), std::string(*room_id),
                                                      std::string(rest)));
  }
  return Status::Ok();
}

Result<size_t> Applier::CountKeys(Cf cf, const std::string& prefix, size_t max) {
  size_t n = 0;
  std::unique_ptr<rocksdb::Iterator> it = store_.NewIterator(cf);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix) && n < max; it->Next()) ++n;
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return n;
}

Status Applier::CheckDeviceQuota(std::string_view user_id) {
  NEBU_ASSIGN_OR_RETURN(size_t n,
                        CountKeys(Cf::kDevices, internal::DevicesPrefix(user_id), kDevicesPerUserMax));
  if (n < kDevicesPerUserMax) return Status::Ok();
  return Status::Forbidden("quota: a user has at most " + std::to_string(kDevicesPerUserMax) +
                           " devices; delete some first");
}

Status Applier::CheckAccountDataQuota(std::string_view user_id) {
  NEBU_ASSIGN_OR_RETURN(size_t n, CountKeys(Cf::kAccountData,
                                            internal::AccountDataUserPrefix(user_id),
                                            kAccountDataTypesMax));
  if (n < kAccountDataTypesMax) return Status::Ok();
  return Status::Forbidden("quota: a user has at most " + std::to_string(kAccountDataTypesMax) +
                           " account-data types (global and per room together)");
}

Result<std::string> Applier::DevicesRemoved(size_t n) {
  json::object o;
  o["devices_removed"] = static_cast<int64_t>(n);
  return event::CanonicalJson(json::value(std::move(o)));
}

// ---- handlers ----

Result<std::string> Applier::Apply(const RegisterCommand& c) {
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> existing,
                        store_.Get(Cf::kUsers, internal::UserKey(c.user_id)));
  if (existing) return Status::AlreadyExists("user ID is taken");
  if (c.device) NEBU_RETURN_IF_ERROR(CheckTokenFree(c.device->token_hash));
  if (c.registration_token) {
    NEBU_RETURN_IF_ERROR(UseRegistrationToken(*c.registration_token, c.created_ts));
  }

  NEBU_RETURN_IF_ERROR(PutUser(c.user_id, {c.password_hash, c.admin, c.created_ts, false}));
  if (c.displayname) NEBU_RETURN_IF_ERROR(PutProfile(c.user_id, {c.displayname, std::nullopt, {}}));
  NEBU_RETURN_IF_ERROR(StageDirectoryUser(store_, batch_, c.user_id, c.displayname, true));
  if (c.device) {
    DeviceRecord device{c.device->display_name, c.created_ts, c.device->token_hash,
                        c.device->refresh_hash, std::nullopt};
    NEBU_RETURN_IF_ERROR(
        PutDevice(c.user_id, c.device->device_id, device, 0, c.device->expires_ms.value_or(0)));
  }
  return Empty();
}

Result<std::string> Applier::Apply(const LoginCommand& c) {
  NEBU_ASSIGN_OR_RETURN(UserRecord user, LoadActiveUser(c.user_id));
  if (user.locked) return Status::Forbidden("user is locked");
  NEBU_RETURN_IF_ERROR(CheckTokenFree(c.device.token_hash));
  NEBU_ASSIGN_OR_RETURN(std::optional<DeviceRecord> old, LoadDevice(c.user_id, c.device.device_id));

  if (!old) NEBU_RETURN_IF_ERROR(CheckDeviceQuota(c.user_id));
  if (c.login_token_hash) NEBU_RETURN_IF_ERROR(UseLoginToken(c.user_id, *c.login_token_hash, c.ts));
  DeviceRecord device{c.device.display_name, c.ts, c.device.token_hash, c.device.refresh_hash,
                      std::nullopt};
  if (old) {  // same device ID again: the new token replaces the old one
    NEBU_RETURN_IF_ERROR(RemoveDevice(c.user_id, {c.device.device_id, *old}));
    if (!device.display_name) device.display_name = old->display_name;
    device.created_ts = old->created_ts;
  }
  NEBU_RETURN_IF_ERROR(PutDevice(c.user_id, c.device.device_id, device, TokenFlags(user),
                                 c.device.expires_ms.value_or(0)));
  return Empty();
}

Result<std::string> Applier::RemoveOne(std::string_view user_id, std::string_view device_id) {
  NEBU_RETURN_IF_ERROR(LoadUser(user_id).status());
  NEBU_ASSIGN_OR_RETURN(std::optional<DeviceRecord> device, LoadDevice(user_id, device_id));
  if (!device) return Status::NotFound("no such device");
  NEBU_RETURN_IF_ERROR(
      RemoveDevicesAndKeys(user_id, {{std::string(device_id), std::move(*device)}}));
  return Empty();
}

Result<std::string> Applier::Apply(const LogoutAllCommand& c) {
  NEBU_RETURN_IF_ERROR(LoadUser(c.user_id).status());
  NEBU_ASSIGN_OR_RETURN(std::vector<StoredDevice> devices, LoadDevices(c.user_id));
  NEBU_RETURN_IF_ERROR(RemoveDevicesAndKeys(c.user_id, devices));
  return DevicesRemoved(devices.size());
}

Result<std::string> Applier::Apply(const SetPasswordCommand& c) {
  NEBU_ASSIGN_OR_RETURN(UserRecord user, LoadActiveUser(c.user_id));
  std::vector<StoredDevice> devices;
  if (c.logout_devices) {
    NEBU_ASSIGN_OR_RETURN(devices, LoadDevices(c.user_id));
    std::erase_if(devices, [&](const StoredDevice& d) { return d.device_id == c.keep_device_id; });
  }

  user.password_hash = c.password_hash;
  NEBU_RETURN_IF_ERROR(PutUser(c.user_id, user));
  NEBU_RETURN_IF_ERROR(RemoveDevicesAndKeys(c.user_id, devices));
  return DevicesRemoved(devices.size());
}

Result<std::string> Applier::Apply(const DeactivateCommand& c) {
  NEBU_ASSIGN_OR_RETURN(UserRecord user, LoadUser(c.user_id));
  NEBU_ASSIGN_OR_RETURN(std::vector<StoredDevice> devices, LoadDevices(c.user_id));

  user.deactivated = true;
  user.password_hash.reset();
  NEBU_RETURN_IF_ERROR(PutUser(c.user_id, user));
  NEBU_RETURN_IF_ERROR(RemoveDevicesAndKeys(c.user_id, devices));
  NEBU_RETURN_IF_ERROR(e2ee::StageCrossSigningRemoval(store_, batch_, stream_, c.user_id));
  NEBU_RETURN_IF_ERROR(e2ee::StageKeyBackupRemoval(store_, batch_, c.user_id));
  if (c.erase) {
    NEBU_RETURN_IF_ERROR(PutProfile(c.user_id, {}));
    NEBU_RETURN_IF_ERROR(DeleteAccountData(c.user_id));
  }
  NEBU_RETURN_IF_ERROR(StageDirectoryUser(store_, batch_, c.user_id, std::nullopt, false));
  return DevicesRemoved(devices.size());
}

Result<std::string> Applier::Apply(const SetDisplayNameCommand& c) {
  NEBU_RETURN_IF_ERROR(LoadActiveUser(c.user_id).status());
  NEBU_ASSIGN_OR_RETURN(internal::ProfileRecord profile, LoadProfile(c.user_id));
  profile.displayname = c.displayname;
  NEBU_RETURN_IF_ERROR(PutProfile(c.user_id, profile));
  NEBU_RETURN_IF_ERROR(StageDirectoryUser(store_, batch_, c.user_id, c.displayname, true));
  return Empty();
}

Result<std::string> Applier::Apply(const SetAvatarUrlCommand& c) {
  NEBU_RETURN_IF_ERROR(LoadActiveUser(c.user_id).status());
  NEBU_ASSIGN_OR_RETURN(internal::ProfileRecord profile, LoadProfile(c.user_id));
  profile.avatar_url = c.avatar_url;
  NEBU_RETURN_IF_ERROR(PutProfile(c.user_id, profile));
  return Empty();
}

// The member events themselves are the state machine's (PlanMemberEventRefresh); the
// account side only requires an active user.
Result<std::string> Applier::Apply(const RefreshMemberEventsCommand& c) {
  NEBU_RETURN_IF_ERROR(LoadActiveUser(c.user_id).status());
  return Empty();
}

Result<std::string> Applier::Apply(const SetDeviceDisplayNameCommand& c) {
  NEBU_RETURN_IF_ERROR(LoadUser(c.user_id).status());
  NEBU_ASSIGN_OR_RETURN(std::optional<DeviceRecord> device, LoadDevice(c.user_id, c.device_id));
  if (!device) return Status::NotFound("no such device");
  device->display_name = c.display_name;
  NEBU_ASSIGN_OR_RETURN(std::string value, internal::EncodeDeviceRecord(*device));
  NEBU_RETURN_IF_ERROR(Put(Cf::kDevices, internal::DeviceKey(c.user_id, c.device_id), value));
  return Empty();
}

Result<std::string> Applier::Apply(const PutAccountDataCommand& c) {
  NEBU_RETURN_IF_ERROR(LoadActiveUser(c.user_id).status());
  NEBU_ASSIGN_OR_RETURN(std::string content, AccountDataJson(c.content));
  std::string key = internal::AccountDataKey(c.user_id, c.room_id.value_or(""), c.type);
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> existing, store_.Get(Cf::kAccountData, key));
  if (!existing) NEBU_RETURN_IF_ERROR(CheckAccountDataQuota(c.user_id));
  NEBU_RETURN_IF_ERROR(Put(Cf::kAccountData, key, content));
  if (stream_) {
    stream_->Append(storage::StreamEntry::AccountData(c.user_id, c.room_id.value_or(""), c.type));
  }
  return Empty();
}

Status Applier::StoreAccountData(std::string_view user_id, std::string_view room_id,
                                 std::string_view type, const json::object& content,
                                 bool existed) {
  NEBU_ASSIGN_OR_RETURN(std::string text, AccountDataJson(content));
  if (text.size() > kAccountDataBytesMax) return Status::TooLarge("account data too large");
  if (!existed) NEBU_RETURN_IF_ERROR(CheckAccountDataQuota(user_id));
  NEBU_RETURN_IF_ERROR(Put(Cf::kAccountData, internal::AccountDataKey(user_id, room_id, type), text));
  if (stream_) {
    stream_->Append(storage::StreamEntry::AccountData(std::string(user_id), std::string(room_id),
                                                      std::string(type)));
  }
  return Status::Ok();
}

Result<std::string> Applier::Apply(const EditTagCommand& c) {
  static constexpr std::string_view kTagType = "m.tag";
  NEBU_RETURN_IF_ERROR(LoadActiveUser(c.user_id).status());
  NEBU_ASSIGN_OR_RETURN(std::optional<json::object> stored,
                        LoadAccountDataObject(c.user_id, c.room_id, kTagType));
  const bool existed = stored.has_value();
  json::object content = std::move(stored).value_or(json::object{});
  json::value& tags = content["tags"];
  if (!tags.is_object()) tags = json::object{};
  if (c.tag_content) {
    tags.as_object()[c.tag] = *c.tag_content;
  } else {
    tags.as_object().erase(c.tag);
  }
  NEBU_RETURN_IF_ERROR(StoreAccountData(c.user_id, c.room_id, kTagType, content, existed));
  return Empty();
}

Result<std::string> Applier::Apply(const EditPushRuleCommand& c) {
  NEBU_RETURN_IF_ERROR(LoadActiveUser(c.user_id).status());
  NEBU_ASSIGN_OR_RETURN(std::optional<json::object> stored,
                        LoadAccountDataObject(c.user_id, "", kPushRulesType));
  const json::object* global = nullptr;
  if (stored) {
    if (const json::value* g = stored->if_contains("global"); g && g->is_object()) {
      global = &g->as_object();
    }
  }
  // The defaults the proposer merged with (absent in older logs: this binary's).
  json::object ruleset = c.defaults
                             ? MergePushRuleset(*c.defaults, global, /*keep_unknown_defaults=*/true)
                             : EffectivePushRuleset(c.user_id, global);
  NEBU_RETURN_IF_ERROR(EditPushRuleset(ruleset, c));
  NEBU_RETURN_IF_ERROR(StoreAccountData(c.user_id, "", kPushRulesType,
                                        json::object{{"global", std::move(ruleset)}},
                                        stored.has_value()));
  return Empty();
}

// Room upgrades: the user's tags, m.direct entry and room push rules of the old room
// follow them into the new one (commands.h says when each is copied).
Result<std::string> Applier::Apply(const CopyRoomUserStateCommand& c) {
  static constexpr std::string_view kTagType = "m.tag";
  static constexpr std::string_view kDirectType = "m.direct";
  NEBU_RETURN_IF_ERROR(LoadActiveUser(c.user_id).status());
  // Tags.
  NEBU_ASSIGN_OR_RETURN(std::optional<json::object> old_tags,
                        LoadAccountDataObject(c.user_id, c.old_room_id, kTagType));
  NEBU_ASSIGN_OR_RETURN(std::optional<json::object> new_tags,
                        LoadAccountDataObject(c.user_id, c.new_room_id, kTagType));
  auto tag_count = [](const std::optional<json::object>& content) -> size_t {
    const json::value* tags = content ? content->if_contains("tags") : nullptr;
    return tags != nullptr && tags->is_object() ? tags->as_object().size() : 0;
  };
  if (tag_count(old_tags) > 0 && tag_count(new_tags) == 0) {
    json::object content{{"tags", old_tags->at("tags")}};
    NEBU_RETURN_IF_ERROR(StoreAccountData(c.user_id, c.new_room_id, kTagType, content,
                                          new_tags.has_value()));
  }
  // m.direct: {user_id: [room_id, ...]}.
  NEBU_ASSIGN_OR_RETURN(std::optional<json::object> direct,
                        LoadAccountDataObject(c.user_id, "", kDirectType));
  if (direct) {
    json::array* holder = nullptr;
    bool has_new = false;
    for (auto& [user, rooms] : *direct) {
      if (!rooms.is_array()) continue;
      for (const json::value& r : rooms.as_array()) {
        if (!r.is_string()) continue;
        if (r.as_string() == c.new_room_id) has_new = true;
        if (r.as_string() == c.old_room_id && holder == nullptr) holder = &rooms.as_array();
      }
    }
    if (holder != nullptr && !has_new) {
      holder->emplace_back(c.new_room_id);
      NEBU_RETURN_IF_ERROR(StoreAccountData(c.user_id, "", kDirectType, *direct, true));
    }
  }
  // Push rules (a user who never changed a rule has no room rule to copy).
  NEBU_ASSIGN_OR_RETURN(std::optional<json::object> stored,
                        LoadAccountDataObject(c.user_id, "", kPushRulesType));
  const json::value* global = stored ? stored->if_contains("global") : nullptr;
  if (global != nullptr && global->is_object()) {
    json::object ruleset =
        c.defaults ? MergePushRuleset(*c.defaults, &global->as_object(),
                                      /*keep_unknown_defaults=*/true)
                   : EffectivePushRuleset(c.user_id, &global->as_object());
    if (CopyRoomPushRules(ruleset, c.old_room_id, c.new_room_id) > 0) {
      NEBU_RETURN_IF_ERROR(StoreAccountData(c.user_id, "", kPushRulesType,
                                            json::object{{"global", std::move(ruleset)}}, true));
    }
  }
  return Empty();
}

// ---- sessions: refresh tokens, restrictions ----

Result<std::string> Applier::Apply(const RefreshCommand& c) {
  const Status unknown = Status::Unauthenticated("unknown refresh token");
  NEBU_ASSIGN_OR_RETURN(UserRecord user, LoadActiveUser(c.user_id));
  if (user.locked) return Status::Forbidden("user is locked");
  NEBU_ASSIGN_OR_RETURN(std::optional<DeviceRecord> old, LoadDevice(c.user_id, c.device_id));
  if (!old || !old->refresh_hash) return unknown;
  DeviceRecord device = *old;
  if (c.old_refresh_hash == *old->refresh_hash) {
    if (old->prev_refresh_hash) {  // the one before is revoked by using its successor
      NEBU_RETURN_IF_ERROR(Delete(
          Cf::kTokens, internal::SideTokenKey(internal::kRefreshTokenTag, *old->prev_refresh_hash)));
    }
    device.prev_refresh_hash = old->refresh_hash;  // valid until the new token is used
  } else if (c.old_refresh_hash == old->prev_refresh_hash) {
    // A retry with the refresh token the current one replaced: allowed while the
    // access token issued with the current one was never used.
    NEBU_ASSIGN_OR_RETURN(std::optional<std::string> bytes,
                          store_.Get(Cf::kTokens, internal::TokenKey(old->token_hash)));
    if (!bytes) return unknown;
    NEBU_ASSIGN_OR_RETURN(internal::TokenRecord token, internal::DecodeTokenRecord(*bytes));
    if (!(token.flags & internal::kTokenFresh)) return unknown;
  } else {
    return unknown;
  }
  NEBU_RETURN_IF_ERROR(CheckTokenFree(c.token_hash));
  NEBU_RETURN_IF_ERROR(Delete(Cf::kTokens, internal::TokenKey(old->token_hash)));
  NEBU_RETURN_IF_ERROR(
      Delete(Cf::kTokens, internal::SideTokenKey(internal::kRefreshTokenTag, *old->refresh_hash)));
  device.token_hash = c.token_hash;
  device.refresh_hash = c.refresh_hash;
  // The presented token stays indexed (as prev); PutDevice indexes the new one.
  NEBU_RETURN_IF_ERROR(Put(
      Cf::kTokens, internal::SideTokenKey(internal::kRefreshTokenTag, *device.prev_refresh_hash),
      internal::EncodeSideTokenRecord({c.user_id, c.device_id, 0})));
  NEBU_RETURN_IF_ERROR(PutDevice(c.user_id, c.device_id, device,
                                 TokenFlags(user) | internal::kTokenFresh, c.expires_ms));
  return Empty();
}

Result<std::string> Applier::Apply(const ConfirmRefreshCommand& c) {
  NEBU_ASSIGN_OR_RETURN(std::optional<DeviceRecord> device, LoadDevice(c.user_id, c.device_id));
  if (!device || device->token_hash != c.token_hash) return Empty();
  const std::string key = internal::TokenKey(c.token_hash);
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> bytes, store_.Get(Cf::kTokens, key));
  if (!bytes) return Empty();
  NEBU_ASSIGN_OR_RETURN(internal::TokenRecord token, internal::DecodeTokenRecord(*bytes));
  if (!(token.flags & internal::kTokenFresh)) return Empty();
  token.flags &= static_cast<uint8_t>(~internal::kTokenFresh);
  NEBU_RETURN_IF_ERROR(Put(Cf::kTokens, key, internal::EncodeTokenRecord(token)));
  if (!device->prev_refresh_hash) return Empty();
  NEBU_RETURN_IF_ERROR(Delete(
      Cf::kTokens, internal::SideTokenKey(internal::kRefreshTokenTag, *device->prev_refresh_hash)));
  device->prev_refresh_hash.reset();
  NEBU_ASSIGN_OR_RETURN(std::string value, internal::EncodeDeviceRecord(*device));
  NEBU_RETURN_IF_ERROR(Put(Cf::kDevices, internal::DeviceKey(c.user_id, c.device_id), value));
  return Empty();
}

Result<std::string> Applier::Apply(const RestrictUserCommand& c) {
  NEBU_ASSIGN_OR_RETURN(UserRecord user, LoadUser(c.user_id));
  if (c.locked) user.locked = *c.locked;
  if (c.suspended) user.suspended = *c.suspended;
  if (c.shadow_banned) user.shadow_banned = *c.shadow_banned;
  NEBU_RETURN_IF_ERROR(PutUser(c.user_id, user));
  const uint8_t restrictions =
      internal::kTokenLocked | internal::kTokenSuspended | internal::kTokenShadowBanned;
  NEBU_ASSIGN_OR_RETURN(std::vector<StoredDevice> devices, LoadDevices(c.user_id));
  for (const StoredDevice& d : devices) {
    const std::string key = internal::TokenKey(d.record.token_hash);
    NEBU_ASSIGN_OR_RETURN(std::optional<std::string> bytes, store_.Get(Cf::kTokens, key));
    if (!bytes) return Status::Corruption("device without its access token");
    NEBU_ASSIGN_OR_RETURN(internal::TokenRecord token, internal::DecodeTokenRecord(*bytes));
    token.flags = static_cast<uint8_t>((token.flags & ~restrictions) | TokenFlags(user));
    NEBU_RETURN_IF_ERROR(Put(Cf::kTokens, key, internal::EncodeTokenRecord(token)));
  }
  return Empty();
}

Result<std::string> Applier::Apply(const CreateRegistrationTokenCommand& c) {
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> existing,
                        store_.Get(Cf::kRegistrationTokens, c.token));
  if (existing) return Status::AlreadyExists("registration token exists");
  NEBU_ASSIGN_OR_RETURN(std::string value, internal::EncodeRegistrationTokenRecord(
                                               {c.uses_allowed, 0, 0, c.expiry_time}));
  NEBU_RETURN_IF_ERROR(Put(Cf::kRegistrationTokens, c.token, value));
  return Empty();
}

Result<internal::RegistrationTokenRecord> Applier::LoadRegistrationToken(std::string_view token) {
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> bytes, store_.Get(Cf::kRegistrationTokens, token));
  if (!bytes) return Status::NotFound("no such registration token");
  return internal::DecodeRegistrationTokenRecord(*bytes);
}

Result<std::string> Applier::Apply(const UpdateRegistrationTokenCommand& c) {
  NEBU_ASSIGN_OR_RETURN(internal::RegistrationTokenRecord r, LoadRegistrationToken(c.token));
  if (c.uses_allowed) r.uses_allowed = *c.uses_allowed;
  if (c.expiry_time) r.expiry_time = *c.expiry_time;
  NEBU_ASSIGN_OR_RETURN(std::string value, internal::EncodeRegistrationTokenRecord(r));
  NEBU_RETURN_IF_ERROR(Put(Cf::kRegistrationTokens, c.token, value));
  return Empty();
}

Result<std::string> Applier::Apply(const DeleteRegistrationTokenCommand& c) {
  NEBU_RETURN_IF_ERROR(LoadRegistrationToken(c.token).status());
  NEBU_RETURN_IF_ERROR(Delete(Cf::kRegistrationTokens, c.token));
  return Empty();
}

// Login ('l') and OpenID ('o') tokens are the 33-byte keys [tag][SHA-256]; access
// tokens (32 bytes) that happen to start with those bytes are passed over.
Result<std::string> Applier::Apply(const ExpireTokensCommand& c) {
  static_assert(internal::kLoginTokenTag < internal::kOpenIdTokenTag);
  constexpr size_t kSideTokenKeyBytes = 33;
  const std::string start =
      c.after ? internal::TokenKey(*c.after) : std::string(1, internal::kLoginTokenTag);
  std::unique_ptr<rocksdb::Iterator> it = store_.NewIterator(Cf::kTokens);
  it->Seek(start);
  if (c.after && it->Valid() && it->key().ToStringView() == start) it->Next();
  size_t scanned = 0;
  int64_t deleted = 0;
  bool more = false;
  std::string last;  // the last key scanned
  for (; it->Valid(); it->Next()) {
    const std::string_view key = it->key().ToStringView();
    if (key.empty() || key[0] > internal::kOpenIdTokenTag) break;
    if (scanned == kExpireTokensScanMax) {
      more = true;
      break;
    }
    ++scanned;
    last.assign(key);
    if (key.size() != kSideTokenKeyBytes ||
        (key[0] != internal::kLoginTokenTag && key[0] != internal::kOpenIdTokenTag)) {
      continue;
    }
    NEBU_ASSIGN_OR_RETURN(internal::SideTokenRecord r,
                          internal::DecodeSideTokenRecord(it->value().ToStringView()));
    if (r.expires_ms != 0 && r.expires_ms <= c.now_ms) {
      NEBU_RETURN_IF_ERROR(Delete(Cf::kTokens, key));
      ++deleted;
    }
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  json::object out{{"deleted", deleted}};
  if (more) out["after"] = HexEncode(last);
  return event::CanonicalJson(json::value(std::move(out)));
}

Result<std::string> Applier::Apply(const SetProfileFieldCommand& c) {
  NEBU_RETURN_IF_ERROR(LoadActiveUser(c.user_id).status());
  NEBU_ASSIGN_OR_RETURN(internal::ProfileRecord profile, LoadProfile(c.user_id));
  if (c.value_json) {
    Result<json::value> value = event::ParseJson(*c.value_json);
    if (!value.ok()) return Status::InvalidArgument("profile field value is not canonical JSON");
    profile.fields[c.key] = std::move(value).value();
  } else {
    profile.fields.erase(c.key);
  }
  NEBU_ASSIGN_OR_RETURN(std::string encoded, internal::EncodeProfileRecord(profile));
  if (encoded.size() > kProfileBytesMax) return Status::TooLarge("profile over 64 KiB");
  NEBU_RETURN_IF_ERROR(PutProfile(c.user_id, profile));
  return Empty();
}

Result<std::string> Applier::Apply(const ForgetRoomCommand& c) {
  NEBU_ASSIGN_OR_RETURN(auto number, store_.Get(Cf::kRooms, storage::RoomIdKey(c.room_id)));
  if (!number) return Status::Forbidden("unknown room");
  if (number->size() != sizeof(uint64_t)) return Status::Corruption("bad room number record");
  const storage::RoomNumber room = storage::GetU64(number->data());
  NEBU_ASSIGN_OR_RETURN(auto record,
                        store_.Get(Cf::kMembership, storage::UserRoomKey(c.user_id, room)));
  if (!record || record->empty()) return Status::Forbidden("user was never in the room");
  const auto membership = static_cast<rooms::Membership>((*record)[0]);
  if (membership != rooms::Membership::kLeave && membership != rooms::Membership::kBan) {
    return Status::InvalidArgument("user is in the room");
  }
  NEBU_RETURN_IF_ERROR(Put(Cf::kMembership, storage::ForgottenRoomKey(c.user_id, room), ""));
  return Empty();
}

}  // namespace

Result<std::string> ApplyAccountCommand(storage::Store& store, rocksdb::WriteBatch& batch,
                                        std::string_view payload,
                                        storage::StreamAppender* stream) {
  NEBU_ASSIGN_OR_RETURN(AccountCommand command, DecodeAccountCommand(payload));
  batch.SetSavePoint();
  Applier applier(store, batch, stream);
  Result<std::string> outcome =
      std::visit([&applier](const auto& c) { return applier.Apply(c); }, command);
  rocksdb::Status undo = outcome.ok() ? batch.PopSavePoint() : batch.RollbackToSavePoint();
  NEBU_CHECK(undo.ok(), "WriteBatch save point lost");
  return outcome;
}

}  // namespace nebu::accounts
