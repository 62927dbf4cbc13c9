// `nebu backup ...`: the command-line side of backups (app/backup_create.h,
// app/backup_restore.h, app/backup_service.h).
//
//   nebu backup create DEST [--keep N]     DEST: a directory or s3://BUCKET/PREFIX
//   nebu backup list SRC
//   nebu backup verify SRC [--id ID]
//   nebu backup restore SRC --data-dir DIR [--id ID]
//
// create: asks the node serving NEBU_DATA_DIR (at NEBU_OPS_ADDR, with the token in
// <data_dir>/backup.token) to take the backup, shows a progress bar on stderr and
// prints the summary on stdout. When no node answers there (the node is stopped), it
// opens the data directory itself and takes the backup in this process. verify and
// restore read the destination directly; restore writes into DIR (which must be new or
// empty), then prints what to do next. NEBU_S3_* are read for s3:// destinations.
// Exit codes: 0 done, 1 a failure or a problem found (verify), 2 bad usage.
#pragma once

#include <string_view>
#include <vector>

namespace nebu::app {

[[nodiscard]] bool IsBackupCommand(std::string_view command);
// args[0] == "backup". `version` is this binary's NEBU_VERSION (written to manifests).
[[nodiscard]] int RunBackupCommand(const std::vector<std::string_view>& args,
                                   std::string_view version);

}  // namespace nebu::app
