// Retention of backups in a destination (app/backup_format.h), for both kinds of
// BackupTarget (a directory; S3 through ListObjectsV2 and DeleteObject).
//
//   NEBU_RETURN_IF_ERROR(MarkPending(target, {.id = m.id, .previous = m.previous, ...}));
//   ... objects, manifest, index ...
//   NEBU_RETURN_IF_ERROR(UnmarkPending(target, m.id));
//   NEBU_ASSIGN_OR_RETURN(PruneResult r, PruneBackups(target, ids, keep, m.id));
//
// Which backups stay. The newest `keep` of the index (so never the newest one), plus
// the backup a backup still being written is incremental against (its parent: it
// reuses the parent's SHA-256 names). A backup depends on nothing but the objects its
// own manifest names (a manifest lists every file of its backup, also when made
// incrementally; restore and verify never read another manifest), so keeping the
// objects of every kept manifest keeps everything a kept backup needs.
//
// Backups still being written. A backup writes pending/<id>.json before its first
// object and removes it after the index names it. Its objects are named by no manifest
// until then, so while any other backup's marker younger than kBackupPendingStaleMs
// exists, PruneBackups removes old manifests from the index but no object: the
// collection waits for the next prune. Older markers (a crashed backup's) are removed.
// Left to the operator: two writers into one destination at once (two nodes with one
// NEBU_BACKUP_DIR) race on index.json; give each node its own prefix or directory.
//
// Order (each step leaves a usable destination if the next fails): index.json without
// the dropped ids, then their manifests, then the objects no kept manifest names.
//
// Errors: those of the target (kIoError, kUnavailable), kCorruption for a kept
// manifest that cannot be read (then no object is removed).
// Thread-safety: like the target (one job at a time).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/backup_target.h"
#include "engine/common/status.h"

namespace nebu::app {

// A pending marker older than this is a crashed backup's: it no longer holds back the
// collection of objects (and is removed). A backup taking longer loses its protection.
inline constexpr int64_t kBackupPendingStaleMs = 24LL * 3600 * 1000;

struct PendingBackup {
  std::string id;
  std::string previous;  // the backup it is incremental against ("" none)
  int64_t started_ms = 0;
};

// "pending/<id>.json".
[[nodiscard]] std::string PendingName(std::string_view id);
Status MarkPending(BackupTarget& target, const PendingBackup& pending);
Status UnmarkPending(BackupTarget& target, const std::string& id);
// The markers under pending/ (unreadable ones are skipped with a warning).
Result<std::vector<PendingBackup>> ListPending(BackupTarget& target);

struct PruneResult {
  uint64_t backups_removed = 0;
  uint64_t objects_removed = 0;
  bool objects_deferred = false;  // another backup is being written: no object removed
};

// Keeps the newest `keep` of `ids` (the index, oldest first; keep 0: all) and what
// backups in progress need (above); `self` is the calling backup's id (its own marker,
// if still there, does not count). `now_ms`: Unix ms, for the markers' age.
Result<PruneResult> PruneBackups(BackupTarget& target, std::vector<std::string> ids, size_t keep,
                                 const std::string& self, int64_t now_ms);

}  // namespace nebu::app
