#include "app/pg_commands.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdio>

#include "app/exit_codes.h"
#include "projections/verify.h"

namespace nebu::app {
namespace {

constexpr int64_t kMigrateRetryMsMax = 30'000;

void PgUsage() {
  std::fprintf(stderr,
               "usage: nebu migrate up|down|version\n"
               "       nebu projection rebuild|verify\n"
               "(PostgreSQL from NEBU_DB_URL; migrations from NEBU_DB_URL_MIGRATE when set)\n");
}

std::string StateText(const projections::MigrationState& s) {
  if (s.version == 0) return "no migration applied";
  return "version " + std::to_string(s.version) + (s.dirty ? " (dirty)" : "");
}

int Migrate(const Config& config, std::string_view op) {
  const std::string& url = config.db_url_migrate.empty() ? config.db_url : config.db_url_migrate;
  if (url.empty()) {
    std::fprintf(stderr, "nebu: set NEBU_DB_URL (or NEBU_DB_URL_MIGRATE) to migrate\n");
    return kExitUsage;
  }
  Result<projections::MigrationState> state =
      op == "up" ? projections::MigrateUp(url)
      : op == "down" ? projections::MigrateDown(url)
                     : projections::MigrationVersion(url);
  if (!state.ok()) {
    std::fprintf(stderr, "nebu: migrate %s: %s\n", std::string(op).c_str(),
                 state.status().ToString().c_str());
    return kExitFailure;
  }
  std::printf("%s\n", StateText(*state).c_str());
  return state->dirty ? kExitFailure : kExitOk;
}

void PrintProgress(const projections::ProjectorStats& s, std::chrono::steady_clock::time_point started) {
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  double percent = s.head == 0 ? 100.0 : 100.0 * static_cast<double>(s.checkpoint) / static_cast<double>(s.head);
  std::fprintf(stderr, "\rrebuild: position %llu / %llu (%.1f%%), %llu events, %.0f events/s   ",
               static_cast<unsigned long long>(s.checkpoint), static_cast<unsigned long long>(s.head),
               percent, static_cast<unsigned long long>(s.events_projected),
               seconds > 0 ? static_cast<double>(s.events_projected) / seconds : 0.0);
}

int Projection(const Config& config, std::string_view op) {
  if (config.db_url.empty()) {
    std::fprintf(stderr, "nebu: set NEBU_DB_URL for the projection\n");
    return kExitUsage;
  }
  core::EngineOptions options;
  options.data_dir = config.data_dir;
  options.server_name = config.server_name;
  auto engine = core::Engine::Open(options);
  if (!engine.ok()) {
    std::fprintf(stderr, "nebu: cannot open %s: %s\n", config.data_dir.c_str(),
                 engine.status().ToString().c_str());
    return kExitFailure;
  }
  if (op == "rebuild") {
    auto started = std::chrono::steady_clock::now();
    projections::ProjectorStats last;
    Status s = projections::RebuildProjection(
        (*engine)->Latest(), config.db_url, [&](const projections::ProjectorStats& stats) {
          last = stats;
          PrintProgress(stats, started);
        });
    std::fprintf(stderr, "\n");
    if (!s.ok()) {
      std::fprintf(stderr, "nebu: projection rebuild: %s\n", s.ToString().c_str());
      return kExitFailure;
    }
    std::printf("rebuild done: %llu events up to stream position %llu\n",
                static_cast<unsigned long long>(last.events_projected),
                static_cast<unsigned long long>(last.checkpoint));
    return kExitOk;
  }
  Result<projections::VerifyReport> report =
      projections::VerifyProjection((*engine)->Latest(), config.db_url);
  if (!report.ok()) {
    std::fprintf(stderr, "nebu: projection verify: %s\n", report.status().ToString().c_str());
    return kExitFailure;
  }
  for (const std::string& d : report->differences) std::printf("DIFFERENCE %s\n", d.c_str());
  std::printf("verify: checkpoint %llu, %llu rooms, %llu events in the log, %llu in PostgreSQL, "
              "%zu differences, digest %s\n",
              static_cast<unsigned long long>(report->checkpoint),
              static_cast<unsigned long long>(report->rooms),
              static_cast<unsigned long long>(report->events_log),
              static_cast<unsigned long long>(report->events_pg), report->differences.size(),
              report->digest.c_str());
  return report->differences.empty() ? kExitOk : kExitFailure;
}

}  // namespace

bool IsPgCommand(std::string_view command) { return command == "migrate" || command == "projection"; }

int RunPgCommand(const std::vector<std::string_view>& args) {
  bool migrate = args.size() == 2 && args[0] == "migrate" &&
                 (args[1] == "up" || args[1] == "down" || args[1] == "version");
  bool projection = args.size() == 2 && args[0] == "projection" &&
                    (args[1] == "rebuild" || args[1] == "verify");
  if (!migrate && !projection) {
    PgUsage();
    return kExitUsage;
  }
  Result<Config> config = LoadConfig(ProcessEnvironment());
  if (!config.ok()) {
    std::fprintf(stderr, "nebu: bad configuration: %s\n", config.status().message().c_str());
    return kExitUsage;
  }
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  return migrate ? Migrate(*config, args[1]) : Projection(*config, args[1]);
}

PgRuntime::PgRuntime(const Config& config, core::Engine& engine)
    : migrate_url_(config.db_url_migrate.empty() ? config.db_url : config.db_url_migrate),
      engine_(engine),
      projector_(engine.Latest(), {.db_url = config.db_url,
                                   .notifier = &engine.notifier(),
                                   .clock = &engine.clock()}) {}

std::unique_ptr<PgRuntime> PgRuntime::Start(const Config& config, core::Engine& engine,
                                            std::unique_ptr<replication::LeaseElection> election) {
  if (config.db_url.empty()) return nullptr;
  std::unique_ptr<PgRuntime> runtime(new PgRuntime(config, engine));
  runtime->election_ = std::move(election);
  runtime->thread_ = std::thread([r = runtime.get()] { r->Run(); });
  return runtime;
}

PgRuntime::~PgRuntime() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  if (election_) election_->Stop();  // steps down: another node takes over at once
  projector_.Stop();
}

void PgRuntime::Run() {
  int64_t backoff_ms = projections::kBackoffMsMin;
  std::string last_logged;
  while (!stop_) {
    Result<projections::MigrationState> state = projections::MigrateUp(migrate_url_);
    if (state.ok()) {
      {
        std::lock_guard lock(mu_);
        migration_status_ = "UP";
        migration_state_ = *state;
        migration_error_.clear();
      }
      spdlog::info("migrations complete: schema version {}", state->version);
      if (!election_) {
        projector_.Start();
        return;
      }
      // One projector per cluster: project while holding the role, stand by otherwise.
      election_->Start(
          [this] {
            spdlog::info("projector: this node projects into PostgreSQL");
            projector_.Start();
          },
          [this] {
            spdlog::info("projector: standing by (another node projects)");
            projector_.Stop();
          });
      return;
    }
    bool retry = state.status().code() == StatusCode::kUnavailable;
    {
      std::lock_guard lock(mu_);
      migration_status_ = retry ? "RETRYING" : "FAILED";
      migration_error_ = state.status().ToString();
    }
    if (migration_error_ != last_logged) {  // each distinct failure once
      last_logged = state.status().ToString();
      spdlog::error("migrations: {}{}", last_logged, retry ? " (retrying)" : "");
    }
    // A dirty or newer schema needs an operator; still re-check now and then.
    int64_t wait_ms = retry ? backoff_ms : kMigrateRetryMsMax;
    for (int64_t waited = 0; waited < wait_ms && !stop_; waited += 50) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    backoff_ms = std::min(backoff_ms * 2, kMigrateRetryMsMax);
  }
}

api::Readiness PgRuntime::Ready() const {
  boost::json::object migrations;
  {
    std::lock_guard lock(mu_);
    migrations["status"] = migration_status_;
    migrations["version"] = migration_state_.version;
    if (!migration_error_.empty()) migrations["error"] = migration_error_;
  }
  projections::ProjectorStats s = projector_.Stats();
  boost::json::object projector{
      {"state", std::string(projections::ProjectorStateName(s.state))},
      {"checkpoint", s.checkpoint},
      {"head", s.head},
      {"lag_entries", s.lag_entries},
      {"lag_ms", s.lag_ms},
      {"events_projected", s.events_projected},
      {"search", boost::json::object{{"checkpoint", s.search_checkpoint},
                                     {"lag_entries", s.search_lag_entries}}},
  };
  if (!s.last_error.empty()) projector["last_error"] = s.last_error;
  if (election_) {
    projector["role"] = election_->holding() ? "active" : "standby";
    projector["holder"] = election_->holder();
  }
  return {.ready = true,
          .body = {{"status", "ready"}, {"migrations", migrations}, {"projector", projector}}};
}

}  // namespace nebu::app
