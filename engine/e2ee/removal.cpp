#include "engine/e2ee/removal.h"

#include <memory>
#include <vector>

#include "engine/e2ee/backup_keys.h"
#include "engine/e2ee/e2ee.h"
#include "engine/e2ee/keys.h"

namespace nebu::e2ee {
namespace {

using storage::Cf;

// Stages a delete of every key under prefix; *found says whether there was one.
Status DeletePrefix(storage::Store& store, rocksdb::WriteBatch& batch, Cf cf,
                    std::string_view prefix, bool* found = nullptr) {
  std::vector<std::string> keys;
  std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(cf);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    keys.push_back(it->key().ToString());
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  for (const std::string& key : keys) {
    NEBU_RETURN_IF_ERROR(storage::FromRocks(batch.Delete(store.handle(cf), key)));
  }
  if (found) *found = *found || !keys.empty();
  return Status::Ok();
}

}  // namespace

Status StageDeviceRemoval(storage::Store& store, rocksdb::WriteBatch& batch,
                          storage::StreamAppender* stream, std::string_view user_id,
                          std::span<const std::string> device_ids) {
  using internal::TaggedKey;
  bool had_keys = false;
  for (const std::string& device : device_ids) {
    // The exact key: a device ID that is a prefix of another's is length-prefixed.
    NEBU_RETURN_IF_ERROR(DeletePrefix(store, batch, Cf::kDeviceKeys,
                                      internal::DeviceKeysKey(user_id, device), &had_keys));
    for (char tag : {internal::kTagOneTimeKey, internal::kTagKeyCount, internal::kTagFallback}) {
      NEBU_RETURN_IF_ERROR(
          DeletePrefix(store, batch, Cf::kOneTimeKeys, TaggedKey(tag, {user_id, device})));
    }
    for (char tag : {internal::kTagMessage, internal::kTagQueueCount, internal::kTagTxn}) {
      NEBU_RETURN_IF_ERROR(
          DeletePrefix(store, batch, Cf::kToDevice, TaggedKey(tag, {user_id, device})));
    }
    NEBU_RETURN_IF_ERROR(DeletePrefix(store, batch, Cf::kCrossSigning,
                                      TaggedKey(internal::kTagSignature, {user_id, device})));
  }
  if (had_keys && stream) {
    stream->Append(storage::StreamEntry::DeviceKeys(std::string(user_id), /*device_left=*/true));
  }
  return Status::Ok();
}

Status StageCrossSigningRemoval(storage::Store& store, rocksdb::WriteBatch& batch,
                                storage::StreamAppender* stream, std::string_view user_id) {
  using internal::TaggedKey;
  bool removed = false;
  for (std::string_view usage : {kUsageMaster, kUsageSelfSigning, kUsageUserSigning}) {
    NEBU_RETURN_IF_ERROR(DeletePrefix(store, batch, Cf::kCrossSigning,
                                      internal::SigningKeyKey(user_id, usage), &removed));
  }
  NEBU_RETURN_IF_ERROR(DeletePrefix(store, batch, Cf::kCrossSigning,
                                    TaggedKey(internal::kTagSignature, {user_id}), &removed));
  if (removed && stream) stream->Append(storage::StreamEntry::DeviceKeys(std::string(user_id)));
  return Status::Ok();
}

Status StageKeyBackupRemoval(storage::Store& store, rocksdb::WriteBatch& batch,
                             std::string_view user_id) {
  for (char tag : {backup_internal::kTagKey, backup_internal::kTagVersion,
                   backup_internal::kTagVersionCounter}) {
    NEBU_RETURN_IF_ERROR(
        DeletePrefix(store, batch, Cf::kKeyBackup, internal::TaggedKey(tag, {user_id})));
  }
  return Status::Ok();
}

}  // namespace nebu::e2ee
