// CreateBackup: one backup of a serving node into a BackupTarget (app/backup_target.h),
// incremental against the newest backup there. Run by the node itself (POST
// /_nebu/backup on the ops listener, the NEBU_BACKUP_* schedule: app/backup_service.h),
// or by `nebu backup create` on a stopped node's data directory.
//
//   BackupProgress progress;
//   NEBU_ASSIGN_OR_RETURN(BackupSummary s, CreateBackup(engine, *target, options, &progress));
//
// Consistency. The state DB and the commit log are two RocksDBs, so one backup is made
// of two checkpoints (engine/storage/checkpoint.h), taken in this order into
// <data_dir>/backup-staging/<id>: the commit log first, then the state. The state
// checkpoint is a consistent cut at its applied index A (meta/applied_index is written in
// the batch of the effects). Every log entry the log checkpoint lacks was trimmed before
// it was taken, so at or below the applied index then, which is <= A; entries above A in
// it were committed but not applied when the state was cut (no client had its answer:
// a write is answered after apply) and are deleted from the staged copy. So the backup
// is exactly "the state at A, with a commit log holding nothing after A": a node started
// on it serves the state at A, and its next command gets index A + 1.
// The metadata (app/backup_format.h) is read from the staged state, with its state
// digest and per-room log digests, which `nebu backup verify` recomputes.
//
// Incremental. Table files (*.sst) are immutable and named by number within one node
// history: a table file of the checkpoint (a hard link of a live file; not one written
// when the staged copy is opened to read its metadata, whose numbers the live DB hands
// out again) whose name and size equal such a file of the previous backup of the same
// lineage reuses that file's SHA-256 without being read. The lineage is a random ID
// kept in <data_dir>/backup.lineage (made when missing: a restored data directory starts
// a new one, as its table numbers may repeat those of the history it rewound). Every
// other file is hashed; an object the target holds is not written again.
//
// Retention: with keep > 0 the oldest backups beyond `keep` are removed from the index,
// then their manifests, then every object no remaining manifest names, in a directory
// and in S3 alike (app/backup_prune.h: never the newest, never what a backup still
// being written needs; a backup marks itself pending/<id>.json while it writes).
//
// Errors: kIoError / kUnavailable from the checkpoint, the staged DBs or the target;
// nothing of a failed backup is in the index (objects it wrote are reused or collected
// later). The staging directory is removed in every case.
// Thread-safety: one backup at a time per data directory (the caller serializes:
// BackupService); safe concurrently with the engine's writes and reads.
#pragma once

#include <atomic>
#include <cstdint>
#include <string>

#include "app/backup_format.h"
#include "app/backup_target.h"
#include "engine/core/engine.h"

namespace nebu::app {

// Counters a progress bar reads while a backup runs (any thread).
struct BackupProgress {
  enum Phase : int { kCheckpoint = 0, kDigest = 1, kCopy = 2, kPrune = 3, kDone = 4 };
  std::atomic<int> phase{kCheckpoint};
  std::atomic<uint64_t> files_total{0};
  std::atomic<uint64_t> files_done{0};
  std::atomic<uint64_t> bytes_total{0};  // bytes of the files to hash or copy
  std::atomic<uint64_t> bytes_done{0};
};
[[nodiscard]] const char* PhaseName(int phase);

struct BackupOptions {
  std::string data_dir;       // the node's NEBU_DATA_DIR (staging and lineage live there)
  std::string nebu_version;
  std::string cluster_id;     // "" for a single node
  size_t keep = 0;            // 0: keep every backup
};

struct BackupSummary {
  BackupManifest manifest;
  uint64_t files_reused = 0;    // taken from the previous backup without reading
  uint64_t objects_written = 0;
  uint64_t bytes_written = 0;   // bytes of the new objects
  uint64_t backups_removed = 0;
  uint64_t objects_removed = 0;
  double seconds = 0;
};

Result<BackupSummary> CreateBackup(core::Engine& engine, BackupTarget& target,
                                   const BackupOptions& options, BackupProgress* progress);

// The ids in the target's index, oldest first (empty when it has none).
Result<std::vector<std::string>> ListBackups(BackupTarget& target);
// The manifest of `id`, or of the newest backup when id is "". kNotFound if none.
Result<BackupManifest> LoadManifest(BackupTarget& target, const std::string& id);

// One line for humans: "backup <id>: N events at stream position P, F files, X MB
// (Y MB new, R reused) in S s (Z MB/s)".
[[nodiscard]] std::string SummaryLine(const BackupSummary& summary);

}  // namespace nebu::app
