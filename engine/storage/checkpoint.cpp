#include "engine/storage/checkpoint.h"

#include <rocksdb/utilities/checkpoint.h>

#include <filesystem>
#include <limits>

#include "engine/storage/keys.h"

namespace nebu::storage {

namespace {

Result<uint64_t> ReadMetaU64(Store& store, std::string_view key) {
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> value, store.Get(Cf::kMeta, key));
  if (!value) return uint64_t{0};
  if (value->size() < 8) {
    return Status::Corruption("meta/" + std::string(key) + " is " +
                              std::to_string(value->size()) + " bytes, not 8");
  }
  return GetU64(value->data());  // group_position: the revision comes first
}

}  // namespace

Status CreateCheckpoint(Store& store, const std::string& dir) {
  std::error_code ec;
  if (std::filesystem::exists(dir, ec)) {
    return Status::AlreadyExists("checkpoint directory exists: " + dir);
  }
  rocksdb::Checkpoint* raw = nullptr;
  rocksdb::Status rs = rocksdb::Checkpoint::Create(store.db(), &raw);
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  if (rs.ok()) rs = checkpoint->CreateCheckpoint(dir);
  if (!rs.ok()) return Status::IoError("cannot create a checkpoint in " + dir + ": " + rs.ToString());
  return Status::Ok();
}

Result<CheckpointPosition> ReadPosition(Store& store) {
  CheckpointPosition at;
  NEBU_ASSIGN_OR_RETURN(at.applied_index, ReadMetaU64(store, kMetaAppliedIndex));
  NEBU_ASSIGN_OR_RETURN(at.stream_position, ReadMetaU64(store, kMetaStreamPosition));
  NEBU_ASSIGN_OR_RETURN(at.group_revision, ReadMetaU64(store, kMetaGroupPosition));
  return at;
}

Status TruncateCommitLogAbove(Store& commit_log, uint64_t applied_index) {
  if (applied_index == std::numeric_limits<uint64_t>::max()) return Status::Ok();
  rocksdb::WriteBatch batch;
  batch.DeleteRange(commit_log.handle(Cf::kCommitLog), U64Key(applied_index + 1),
                    U64Key(std::numeric_limits<uint64_t>::max()));
  batch.Delete(commit_log.handle(Cf::kCommitLog), U64Key(std::numeric_limits<uint64_t>::max()));
  return commit_log.Write(batch, /*sync=*/true);
}

Result<uint64_t> ReadSyncEpoch(Store& store) { return ReadMetaU64(store, kMetaSyncEpoch); }

Status WriteSyncEpoch(Store& store, uint64_t epoch) {
  rocksdb::WriteBatch batch;
  batch.Put(store.handle(Cf::kMeta), kMetaSyncEpoch, U64Key(epoch));
  return store.Write(batch, /*sync=*/true);
}

}  // namespace nebu::storage
