// Removal of a user's end-to-end encryption records, staged into the batch of the
// command that removes the device or the user, so keys and the device they belong to
// go in one atomic write (no window in which /keys/query or /keys/claim serves the
// keys of a device that no longer exists, and nothing left behind by a crash).
//
// The accounts state machine (engine/accounts/apply.cpp) calls these when a command
// deletes devices (logout, logout_all, delete_device, set_password with
// logout_devices, deactivate) and, for deactivation, the cross-signing keys and the
// key backup:
//
//   NEBU_RETURN_IF_ERROR(e2ee::StageDeviceRemoval(store, batch, stream, user, {"DEV"}));
//   NEBU_RETURN_IF_ERROR(e2ee::StageCrossSigningRemoval(store, batch, stream, user));
//   NEBU_RETURN_IF_ERROR(e2ee::StageKeyBackupRemoval(store, batch, user));
//
// Both read stored state (never the pending batch) to find the records, and stage
// deletes only; on a later error the caller's save point drops them with the rest of
// its command. This is the record layer only (Cf::kDeviceKeys, kOneTimeKeys,
// kCrossSigning, kToDevice, kKeyBackup; layout in keys.h and backup_keys.h): it does not look at the accounts'
// device table, so it links below both accounts and e2ee.
//
// Thread-safety: as ApplyE2eeCommand (the state machine's thread).
#pragma once

#include <rocksdb/write_batch.h>

#include <span>
#include <string>
#include <string_view>

#include "engine/common/status.h"
#include "engine/storage/store.h"
#include "engine/storage/stream_entry.h"

namespace nebu::e2ee {

// Stages the deletion of every e2ee record of each of `device_ids` of `user_id`: its
// device keys, one-time keys and their counts, fallback keys, queued to-device
// messages and queue count, its to-device transaction IDs, and the signatures
// uploaded on its device keys. When any of these devices had device keys, appends
// StreamEntry::DeviceKeys(user_id, /*device_left=*/true) so /sync reports the user in
// device_lists.changed to those who share a room with it (stream may be null: tests).
// Errors: kIoError from RocksDB.
[[nodiscard]] Status StageDeviceRemoval(storage::Store& store, rocksdb::WriteBatch& batch,
                                        storage::StreamAppender* stream, std::string_view user_id,
                                        std::span<const std::string> device_ids);

// Stages the deletion of the user's cross-signing keys (master, self-signing,
// user-signing) and of every signature uploaded on the user's keys (devices and
// cross-signing keys). Appends StreamEntry::DeviceKeys(user_id) when anything was
// removed. Errors: kIoError from RocksDB.
[[nodiscard]] Status StageCrossSigningRemoval(storage::Store& store, rocksdb::WriteBatch& batch,
                                              storage::StreamAppender* stream,
                                              std::string_view user_id);

// Stages the deletion of the user's server-side key backup (backup.h): every version,
// its keys and the version counter (Cf::kKeyBackup), as at deactivation. At most
// e2ee::kBackupKeysPerUserMax keys plus kBackupVersionsPerUserMax versions are staged.
// Errors: kIoError from RocksDB.
[[nodiscard]] Status StageKeyBackupRemoval(storage::Store& store, rocksdb::WriteBatch& batch,
                                           std::string_view user_id);

}  // namespace nebu::e2ee
