// BackupService: backups taken by the serving node itself — on request from `nebu
// backup create` through the ops listener, and on the NEBU_BACKUP_* schedule.
//
// Why an endpoint: a second process cannot open the node's RocksDB while the node holds
// its LOCK, and only the process that holds the DB can make a checkpoint of it. So the
// CLI asks the node over the ops listener (already internal, already local), the node
// runs the backup in a thread of its own (CreateBackup, app/backup_create.h) and the
// CLI polls its progress. A trigger file would need the node to poll a directory and
// would give no progress or error back.
//
//   POST /_nebu/backup  {"dest": "/abs/dir" | "s3://bucket/prefix", "keep": N (optional,
//                       0 = keep all, default 0)}
//                       202 {"job": N}: started; 409 M_UNKNOWN "a backup is running";
//                       400 M_BAD_JSON / M_INVALID_PARAM for a bad body or destination
//                       (a relative directory, a bad s3:// URL, S3 not configured)
//   GET  /_nebu/backup  200 {"state":"idle"|"running"|"done"|"failed","job":N,"dest":...,
//                       "phase":"checkpoint"|"digest"|"copy"|"prune"|"done",
//                       "files_done","files_total","bytes_done","bytes_total",
//                       "summary":{...} when done, "error":"..." when failed}
//
// Who may call: the peer must be a loopback address and present
// "Authorization: Bearer <the contents of <data_dir>/backup.token>": 32 random bytes
// (hex) the node writes (0600) at every start. Reading that file needs the rights on the
// data directory that a backup reveals anyway. Anything else: 403 M_FORBIDDEN (not
// loopback), 401 M_MISSING_TOKEN (no bearer), 403 M_FORBIDDEN (a wrong one; compared in
// constant time).
//
// The schedule: with NEBU_BACKUP_DIR set, a backup into it every NEBU_BACKUP_INTERVAL
// (the first one interval after the start), keeping NEBU_BACKUP_KEEP; a scheduled run
// that finds a backup running is skipped. Failures are logged (error) and counted
// (nebu_backup_failures_total); successes logged (info) and counted (nebu_backups_total).
//
// Thread-safety: routes run on server threads; all state is under one mutex. The
// destructor stops the schedule and waits for a running backup (it holds the engine).
#pragma once

#include <boost/json/object.hpp>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "api/metrics.h"
#include "api/router.h"
#include "app/backup_create.h"
#include "engine/core/engine.h"
#include "media/s3_config.h"

namespace nebu::app {

inline constexpr std::string_view kBackupTokenFile = "backup.token";
inline constexpr size_t kBackupTokenBytes = 32;
// The POST body is small: a destination and a count.
inline constexpr size_t kBackupRequestBytesMax = 4096;

struct BackupServiceOptions {
  std::string data_dir;
  std::string nebu_version;
  std::string cluster_id;       // "" for a single node
  media::S3Config s3;           // for s3:// destinations
  std::string schedule_dest;    // NEBU_BACKUP_DIR ("": no schedule)
  int64_t interval_ms = 86'400'000;
  size_t keep = 7;              // for the scheduled backups
};

class BackupService {
 public:
  // Writes the token file, mounts the routes on `ops`, registers the counters, starts
  // the schedule. kIoError when the token file cannot be written.
  static Result<std::unique_ptr<BackupService>> Start(core::Engine& engine,
                                                      BackupServiceOptions options,
                                                      api::Router& ops, api::Metrics& metrics);
  ~BackupService();
  BackupService(const BackupService&) = delete;
  BackupService& operator=(const BackupService&) = delete;

  // Starts a backup into `dest` in the background: its job number, or kAlreadyExists
  // while one runs, kInvalidArgument for a destination that cannot be used.
  Result<uint64_t> StartJob(const std::string& dest, size_t keep);
  [[nodiscard]] boost::json::object StatusJson();

 private:
  BackupService(core::Engine& engine, BackupServiceOptions options);
  void Run(uint64_t job, std::unique_ptr<BackupTarget> target, size_t keep);
  void ScheduleLoop();
  void AddRoutes(api::Router& ops);

  core::Engine& engine_;
  const BackupServiceOptions options_;
  std::string token_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;             // guarded by mu_
  bool running_ = false;              // guarded by mu_
  uint64_t job_ = 0;                  // guarded by mu_
  std::string dest_;                  // guarded by mu_
  std::string state_ = "idle";        // guarded by mu_
  std::string error_;                 // guarded by mu_
  boost::json::object summary_;       // guarded by mu_
  std::unique_ptr<BackupProgress> progress_;
  std::atomic<uint64_t> succeeded_{0};
  std::atomic<uint64_t> failed_{0};
  std::thread worker_;                // the running (or last) backup
  std::thread scheduler_;
};

// The summary as JSON (for the route and the CLI's last line).
[[nodiscard]] boost::json::object SummaryJson(const BackupSummary& summary);

}  // namespace nebu::app
