// Checkpoints of a Store for backups (app/backup_*): a RocksDB checkpoint (hard links of
// the immutable table files, copies of the rest, memtables flushed first) of a serving
// store into a new directory, and a read of the applied position a checkpoint holds.
//
//   NEBU_RETURN_IF_ERROR(CreateCheckpoint(engine.commit_log_store(), staging + "/log"));
//   NEBU_RETURN_IF_ERROR(CreateCheckpoint(engine.store(), staging + "/db"));
//   NEBU_ASSIGN_OR_RETURN(CheckpointPosition at, ReadPosition(*staged_state_store));
//
// A checkpoint is a consistent cut of its store: every WriteBatch is in it whole or not
// at all (the state machine writes a command's effects and the applied index in one
// batch), so the applied index and stream position in a state checkpoint's Cf::kMeta
// describe exactly the state beside them. Two stores are two cuts; app/backup_create.cpp
// says how the commit log and the state are made to agree.
//
// Errors: kAlreadyExists when `dir` exists; kIoError when RocksDB cannot link or copy
// (e.g. `dir` on another file system is copied, not linked: slower, still correct).
// Thread-safety: safe concurrently with writes to the store (RocksDB's guarantee).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "engine/common/status.h"
#include "engine/storage/store.h"

namespace nebu::storage {

// Makes a checkpoint of `store` in the new directory `dir` (its parent must exist).
Status CreateCheckpoint(Store& store, const std::string& dir);

// The positions a state store (or checkpoint of one) was at: Cf::kMeta's applied index,
// stream position and replicated group revision (0 when absent).
struct CheckpointPosition {
  uint64_t applied_index = 0;
  uint64_t stream_position = 0;
  uint64_t group_revision = 0;
};
Result<CheckpointPosition> ReadPosition(Store& store);

// Deletes every commit-log entry (Cf::kCommitLog) above `applied_index`, with a synced
// write: a commit-log checkpoint then holds nothing a state at `applied_index` has not
// applied. Only for a private copy (a staged checkpoint), never a serving store.
Status TruncateCommitLogAbove(Store& commit_log, uint64_t applied_index);

// The sync-token epoch (Cf::kMeta "sync_epoch", 8 bytes big-endian; absent: 0). A
// restore that rewinds a node's history sets a new one, so that tokens handed out
// before it are told apart from the positions handed out after (api/sync/sync.h).
inline constexpr std::string_view kMetaSyncEpoch = "sync_epoch";
Result<uint64_t> ReadSyncEpoch(Store& store);
Status WriteSyncEpoch(Store& store, uint64_t epoch);

}  // namespace nebu::storage
