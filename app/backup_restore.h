// Restoring and verifying backups (the format: app/backup_format.h).
//
//   NEBU_ASSIGN_OR_RETURN(RestoreSummary r, RestoreBackup(*target, "", "/var/lib/nebu", {}));
//   NEBU_ASSIGN_OR_RETURN(VerifyReport v, VerifyBackup(*target, "", "/tmp"));
//   if (!v.problems.empty()) exit(1);
//
// RestoreBackup refuses a data directory that exists and is not empty (kAlreadyExists),
// creates it (0700), fetches every file of the manifest into <dir>/db and <dir>/log
// checking its size and SHA-256 (kCorruption on a mismatch; the directory is then
// removed again), writes <dir>/cluster_id for a cluster node's backup, and fsyncs.
// The sync-token epoch: a single node's backup rewinds the node's history, so the
// restore stores a new epoch (RestoreOptions::new_epoch: the restore time in ms, or the
// backup's epoch + 1 if that is larger) in the state's meta; a client's /sync token
// from before the restore then gets an initial sync (api/sync/sync.h). A cluster node's
// backup keeps its epoch: the node catches up from the shared log to the same
// positions the other nodes hand out.
// After it, a node started on <dir> serves exactly the backed-up state; then
// `nebu projection rebuild` (node stopped, or before the first start) brings
// PostgreSQL back in line.
//
// VerifyBackup checks every object's size and SHA-256 (all of them, listing each
// problem), then restores into a temporary directory under `temp_parent`, opens it as
// a node would (core::Engine::Open), verifies every envelope of every room log (checksum,
// structure, placement, density: engine/storage/envelope.h), recomputes the state
// digest and each room's log digest and compares them with the manifest's, and removes
// the directory. Problems are reported in VerifyReport::problems (empty: good); a
// Result error means the verification could not run (the target is unreadable).
//
// Thread-safety: plain functions; the target is used by one call at a time.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "app/backup_format.h"
#include "app/backup_target.h"

namespace nebu::app {

struct RestoreOptions {
  bool set_epoch = true;    // false: keep the backup's epoch whatever it is (verify)
  int64_t now_ms = 0;       // 0: the system clock
};

struct RestoreSummary {
  BackupManifest manifest;
  uint64_t sync_epoch = 0;  // the epoch the restored node hands out
  uint64_t bytes = 0;
  double seconds = 0;
};

Result<RestoreSummary> RestoreBackup(BackupTarget& target, const std::string& id,
                                     const std::string& data_dir, const RestoreOptions& options);

struct VerifyReport {
  BackupManifest manifest;
  uint64_t events_checked = 0;
  uint64_t rooms_checked = 0;
  double seconds = 0;
  std::vector<std::string> problems;
};

Result<VerifyReport> VerifyBackup(BackupTarget& target, const std::string& id,
                                  const std::string& temp_parent);

}  // namespace nebu::app
