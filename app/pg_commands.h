// The PostgreSQL side of the nebu binary: the `migrate` and `projection` subcommands,
// and what `nebu serve` runs when NEBU_DB_URL is set (migrations, then the projector,
// in the background, plus the /ready report).
//
//   if (IsPgCommand(args[0])) return RunPgCommand(args);     // main()
//   auto pg = PgRuntime::Start(config, engine);               // serve; nullptr: no DB
//   AddOpsRoutes(ops, metrics, [&] { return pg->Ready(); });
//
// Commands (exit 0 on success, 1 on failure or a difference, 2 on bad usage/config):
//   nebu migrate up | down | version
//   nebu projection rebuild | verify
// The URLs (NEBU_DB_URL, NEBU_DB_URL_MIGRATE, or their *_FILE forms) are never printed
// or logged.
//
// Thread-safety: PgRuntime::Ready may be called from any thread.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "api/ops.h"
#include "app/config.h"
#include "engine/core/engine.h"
#include "projections/migrate.h"
#include "projections/projector.h"
#include "replication/lease_election.h"

namespace nebu::app {

[[nodiscard]] bool IsPgCommand(std::string_view command);
[[nodiscard]] int RunPgCommand(const std::vector<std::string_view>& args);

class PgRuntime {
 public:
  // nullptr when NEBU_DB_URL is unset. Never blocks on PostgreSQL: migrations run on a
  // background thread (retried with backoff while PostgreSQL is unreachable), then
  // the projector starts.
  // In a cluster `election` (nullable) decides which node projects: this one projects
  // only while it holds the role, and stands by otherwise (/ready says which).
  [[nodiscard]] static std::unique_ptr<PgRuntime> Start(
      const Config& config, core::Engine& engine,
      std::unique_ptr<replication::LeaseElection> election = nullptr);
  ~PgRuntime();
  PgRuntime(const PgRuntime&) = delete;
  PgRuntime& operator=(const PgRuntime&) = delete;

  // {"status":"ready","migrations":{"status":"UP","version":1},"projector":{...}}.
  [[nodiscard]] api::Readiness Ready() const;

 private:
  PgRuntime(const Config& config, core::Engine& engine);
  void Run();

  std::string migrate_url_;
  core::Engine& engine_;
  projections::Projector projector_;
  std::unique_ptr<replication::LeaseElection> election_;  // null: project always
  std::thread thread_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::string migration_status_ = "PENDING";  // guarded by mu_: PENDING, UP, RETRYING, FAILED
  projections::MigrationState migration_state_;  // guarded by mu_
  std::string migration_error_;                  // guarded by mu_
};

}  // namespace nebu::app
