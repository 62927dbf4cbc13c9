// ApplyBackupCommand: the deterministic state-machine side of backup.h. Each handler
// reads stored state (never the pending batch: kKeyBackup commands apply alone in
// their batch), decides, then stages its writes.
#include <boost/json/value.hpp>
#include <memory>
#include <utility>
#include <vector>

#include "engine/e2ee/backup.h"
#include "engine/e2ee/backup_keys.h"
#include "engine/event/canonical_json.h"

namespace nebu::e2ee {
namespace {

namespace json = boost::json;
using namespace backup_internal;
using storage::Cf;

// True when `incoming` replaces `stored` (the spec's rule, backup.h).
bool Replaces(const BackupKeyData& incoming, const BackupKeyData& stored) {
  if (incoming.is_verified != stored.is_verified) return incoming.is_verified;
  if (incoming.first_message_index != stored.first_message_index) {
    return incoming.first_message_index < stored.first_message_index;
  }
  return incoming.forwarded_count < stored.forwarded_count;
}

std::string VersionString(uint64_t version) { return std::to_string(version); }

Result<std::string> CountAndEtag(const BackupVersionInfo& info) {
  return event::CanonicalJson(json::object{{"count", static_cast<int64_t>(info.count)},
                                           {"etag", std::to_string(info.etag)}});
}

class BackupApplier {
 public:
  BackupApplier(storage::Store& store, rocksdb::WriteBatch& batch) : store_(store), batch_(batch) {}

  Result<std::string> Apply(const CreateBackupVersion& c);
  Result<std::string> Apply(const UpdateBackupVersion& c);
  Result<std::string> Apply(const DeleteBackupVersion& c);
  Result<std::string> Apply(const PutBackupKeys& c);
  Result<std::string> Apply(const DeleteBackupKeys& c);

 private:
  Status Put(std::string_view key, std::string_view value) {
    return storage::FromRocks(batch_.Put(store_.handle(Cf::kKeyBackup), key, value));
  }
  Status Delete(std::string_view key) {
    return storage::FromRocks(batch_.Delete(store_.handle(Cf::kKeyBackup), key));
  }
  Result<uint64_t> LastVersion(std::string_view user_id) {
    NEBU_ASSIGN_OR_RETURN(auto bytes, store_.Get(Cf::kKeyBackup, CounterKey(user_id)));
    if (!bytes) return uint64_t{0};
    if (bytes->size() != 8) return Status::Corruption("bad backup version counter");
    return storage::GetU64(bytes->data());
  }
  // Every live version of the user, oldest first (at most kBackupVersionsPerUserMax).
  Result<std::vector<BackupVersionInfo>> Versions(std::string_view user_id) {
    std::vector<BackupVersionInfo> out;
    const std::string prefix = VersionPrefix(user_id);
    std::unique_ptr<rocksdb::Iterator> it = store_.NewIterator(Cf::kKeyBackup);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      std::string_view rest = it->key().ToStringView().substr(prefix.size());
      if (rest.size() != 8) return Status::Corruption("bad backup version key");
      NEBU_ASSIGN_OR_RETURN(
          BackupVersionInfo info,
          DecodeVersionRecord(storage::GetU64(rest.data()), it->value().ToStringView()));
      out.push_back(std::move(info));
    }
    NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
    return out;
  }
  Result<BackupVersionInfo> Existing(std::string_view user_id, uint64_t version) {
    NEBU_ASSIGN_OR_RETURN(auto info, GetBackupVersion(store_, user_id, version));
    if (!info) return Status::NotFound("Unknown backup version");
    return std::move(*info);
  }
  Status PutRecord(std::string_view user_id, const BackupVersionInfo& info) {
    return Put(VersionKey(user_id, info.version), EncodeVersionRecord(info));
  }
  // Deletes every key under prefix; returns how many.
  Result<uint64_t> DeleteKeys(const std::string& prefix) {
    std::vector<std::string> doomed;
    std::unique_ptr<rocksdb::Iterator> it = store_.NewIterator(Cf::kKeyBackup);
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      doomed.emplace_back(it->key().ToStringView());
    }
    NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
    for (const std::string& key : doomed) NEBU_RETURN_IF_ERROR(Delete(key));
    return doomed.size();
  }

  storage::Store& store_;
  rocksdb::WriteBatch& batch_;
};

Result<std::string> BackupApplier::Apply(const CreateBackupVersion& c) {
  NEBU_ASSIGN_OR_RETURN(auto versions, Versions(c.user_id));
  if (versions.size() >= kBackupVersionsPerUserMax) {
    return Status::Forbidden("quota: a user holds at most " +
                             std::to_string(kBackupVersionsPerUserMax) + " backup versions");
  }
  NEBU_ASSIGN_OR_RETURN(uint64_t last, LastVersion(c.user_id));
  if (last >= static_cast<uint64_t>(event::kCanonicalIntMax)) {
    return Status::Forbidden("no backup version numbers left");
  }
  const BackupVersionInfo info{
      .version = last + 1, .algorithm = c.algorithm, .auth_data = c.auth_data};
  NEBU_RETURN_IF_ERROR(Put(CounterKey(c.user_id), storage::U64Key(info.version)));
  NEBU_RETURN_IF_ERROR(PutRecord(c.user_id, info));
  return event::CanonicalJson(json::object{{"version", VersionString(info.version)}});
}

Result<std::string> BackupApplier::Apply(const UpdateBackupVersion& c) {
  NEBU_ASSIGN_OR_RETURN(BackupVersionInfo info, Existing(c.user_id, c.version));
  if (info.algorithm != c.algorithm) return Status::InvalidArgument("Algorithm does not match");
  if (info.auth_data != c.auth_data) {
    info.auth_data = c.auth_data;
    NEBU_RETURN_IF_ERROR(PutRecord(c.user_id, info));
  }
  return std::string("{}");
}

Result<std::string> BackupApplier::Apply(const DeleteBackupVersion& c) {
  NEBU_ASSIGN_OR_RETURN(auto info, GetBackupVersion(store_, c.user_id, c.version));
  if (!info) {
    NEBU_ASSIGN_OR_RETURN(uint64_t last, LastVersion(c.user_id));
    if (c.version <= last) return std::string("{}");  // deleted before: success (spec)
    return Status::NotFound("Unknown backup version");
  }
  NEBU_RETURN_IF_ERROR(DeleteKeys(KeysPrefix(c.user_id, c.version, std::nullopt)).status());
  NEBU_RETURN_IF_ERROR(Delete(VersionKey(c.user_id, c.version)));
  return std::string("{}");
}

Result<std::string> BackupApplier::Apply(const PutBackupKeys& c) {
  NEBU_ASSIGN_OR_RETURN(auto versions, Versions(c.user_id));
  if (versions.empty()) return Status::NotFound("Unknown backup version");
  BackupVersionInfo current = versions.back();
  if (current.version != c.version) {
    return event::CanonicalJson(
        json::object{{"wrong_version", true}, {"current_version", VersionString(current.version)}});
  }
  uint64_t held = 0;  // keys of the user over all versions
  for (const BackupVersionInfo& v : versions) held += v.count;
  std::vector<std::pair<std::string, std::string>> writes;  // key, canonical data
  uint64_t added = 0;
  for (const BackupKeyEntry& k : c.keys) {
    NEBU_ASSIGN_OR_RETURN(auto stored,
                          GetBackupKey(store_, c.user_id, c.version, k.room_id, k.session_id));
    if (stored && !Replaces(k.data, *stored)) continue;
    if (!stored) ++added;
    NEBU_ASSIGN_OR_RETURN(std::string text, event::CanonicalJson(BackupKeyDataJson(k.data)));
    writes.emplace_back(KeyKey(c.user_id, c.version, k.room_id, k.session_id), std::move(text));
  }
  if (held + added > kBackupKeysPerUserMax) {
    return Status::Forbidden("quota: a user's backups hold at most " +
                             std::to_string(kBackupKeysPerUserMax) + " keys");
  }
  if (!writes.empty()) {
    for (const auto& [key, text] : writes) NEBU_RETURN_IF_ERROR(Put(key, text));
    current.count += added;
    ++current.etag;
    NEBU_RETURN_IF_ERROR(PutRecord(c.user_id, current));
  }
  return CountAndEtag(current);
}

Result<std::string> BackupApplier::Apply(const DeleteBackupKeys& c) {
  NEBU_ASSIGN_OR_RETURN(BackupVersionInfo info, Existing(c.user_id, c.version));
  uint64_t deleted = 0;
  if (c.session_id) {
    const std::string key = KeyKey(c.user_id, c.version, *c.room_id, *c.session_id);
    NEBU_ASSIGN_OR_RETURN(auto stored, store_.Get(Cf::kKeyBackup, key));
    if (stored) {
      NEBU_RETURN_IF_ERROR(Delete(key));
      deleted = 1;
    }
  } else {
    std::optional<std::string_view> room;
    if (c.room_id) room = *c.room_id;
    NEBU_ASSIGN_OR_RETURN(deleted, DeleteKeys(KeysPrefix(c.user_id, c.version, room)));
  }
  if (deleted > 0) {
    if (deleted > info.count) return Status::Corruption("backup key count below the stored keys");
    info.count -= deleted;
    ++info.etag;
    NEBU_RETURN_IF_ERROR(PutRecord(c.user_id, info));
  }
  return CountAndEtag(info);
}

}  // namespace

Result<std::string> ApplyBackupCommand(storage::Store& store, rocksdb::WriteBatch& batch,
                                       std::string_view payload) {
  NEBU_ASSIGN_OR_RETURN(BackupCommand command, DecodeBackupCommand(payload));
  BackupApplier applier(store, batch);
  return std::visit([&](const auto& c) { return applier.Apply(c); }, command);
}

}  // namespace nebu::e2ee
