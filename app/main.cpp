// nebu: the one binary. `nebu` or `nebu serve` runs a node; `nebu --help`; `nebu version`.
// Configuration comes only from NEBU_* environment variables (app/config.h).
// Exit codes: 0 after a graceful stop, 1 when serving fails, 2 for bad usage or config.
// A cluster node that falls behind the log's trim point while serving rejoins in this
// process (Serve: stop serving, move the DB aside, copy a peer's checkpoint, serve
// again; app/cluster_join.h), at most kRejoinsMax times, then exits 1.
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <string_view>
#include <vector>

#include "api/accounts/token_sweeper.h"
#include "api/client_api.h"
#include "api/compliance/retention.h"
#include "api/forwarded.h"
#include "api/media/media_routes.h"
#include "api/metrics.h"
#include "api/ops.h"
#include "api/push/pusher_delivery.h"
#include "api/router.h"
#include "api/server.h"
#include "api/sync/sync_epoch.h"
#include "api/token_wait.h"
#include "app/admin_commands.h"
#include "app/backup_commands.h"
#include "app/backup_service.h"
#include "app/cluster_commands.h"
#include "app/cluster_join.h"
#include "app/cluster_runtime.h"
#include "app/config.h"
#include "app/engine_metrics.h"
#include "app/exit_codes.h"
#include "app/logging.h"
#include "app/pg_commands.h"
#include "engine/core/engine.h"
#include "engine/storage/checkpoint.h"
#include "media/file_store.h"
#include "media/s3_store.h"
#include "projections/admin_directory.h"
#include "projections/compliance_export.h"

namespace nebu::app {
namespace {

// Not an exit code: ServeOnce's "this node fell behind the trim point; rejoin".
constexpr int kServeRejoin = -1;
// Rejoins by checkpoint one process makes before it gives up (exit 1), and the pause
// before each.
constexpr int kRejoinsMax = 5;
constexpr int64_t kRejoinPauseMs = 1000;
// How often the serving loop looks for a stop signal or a cluster node behind the
// trim point.
constexpr int64_t kServePollMs = 250;

// The file-descriptor budget. At start RLIMIT_NOFILE's soft limit is raised to the
// hard one (at most kFdLimitWanted). The engine's files (core::Engine::kFdsMax), the
// server's own (api::kServerOtherFdsMax), kFdsOtherMax for everything else (logs,
// PostgreSQL connections, hashing workers, stdio) and the refused connections being
// answered are reserved; what remains, at most kConnectionsMax, is ServerLimits::
// connections_max. Below kConnectionsMin the limit is too low to serve: a warning says so.
constexpr rlim_t kFdLimitWanted = 1 << 20;
constexpr size_t kFdsOtherMax = 128;
constexpr size_t kConnectionsMax = 4096;
constexpr size_t kConnectionsMin = 128;
constexpr size_t kOpsConnectionsReserved = 64;  // for /health, /ready, /metrics
constexpr size_t kConnectionsPerIpMax = 512;
constexpr size_t kRejectingConnectionsMax = 64;

// Raises the soft RLIMIT_NOFILE to the hard limit; returns the soft limit in force.
rlim_t RaiseFdLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) {
    spdlog::warn("fd limit: getrlimit: {}", std::strerror(errno));
    return 1024;
  }
  const rlim_t before = limit.rlim_cur;
  const rlim_t wanted = std::min(limit.rlim_max, kFdLimitWanted);
  if (wanted > limit.rlim_cur) {
    limit.rlim_cur = wanted;
    if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
      spdlog::warn("fd limit: cannot raise RLIMIT_NOFILE from {} to {}: {}", before, wanted,
                   std::strerror(errno));
      return before;
    }
  }
  spdlog::info("fd limit: RLIMIT_NOFILE {} (was {}, hard {})", limit.rlim_cur, before,
               limit.rlim_max);
  return limit.rlim_cur;
}

api::ServerLimits ConnectionLimits(rlim_t fd_limit) {
  const size_t reserved = core::Engine::kFdsMax + api::kServerOtherFdsMax + kFdsOtherMax +
                          kRejectingConnectionsMax;
  const size_t available = fd_limit > reserved ? static_cast<size_t>(fd_limit) - reserved : 0;
  api::ServerLimits limits;
  limits.connections_max = std::min(available, kConnectionsMax);
  if (limits.connections_max < kConnectionsMin) {
    spdlog::warn("fd limit: RLIMIT_NOFILE {} leaves {} connections ({} fds reserved); raise it to "
                 "at least {}",
                 fd_limit, available, reserved, reserved + kConnectionsMin);
    limits.connections_max = kConnectionsMin;
  }
  limits.connections_reserved = kOpsConnectionsReserved;
  limits.connections_per_ip_max = kConnectionsPerIpMax;
  limits.rejecting_connections_max = kRejectingConnectionsMax;
  spdlog::info("http: connections at most {} ({} reserved for ops), {} per IP",
               limits.connections_max, limits.connections_reserved, limits.connections_per_ip_max);
  return limits;
}

// The content store NEBU_MEDIA_BACKEND names, or null (logged).
std::unique_ptr<media::ContentStore> OpenMediaStore(const Config& config) {
  if (config.media.backend == "s3") {
    if (config.s3.endpoint.empty()) {
      spdlog::critical("media: NEBU_MEDIA_BACKEND=s3 needs NEBU_S3_ENDPOINT (and the bucket, "
                       "access key ID and NEBU_S3_SECRET_ACCESS_KEY_FILE)");
      return nullptr;
    }
    auto s3 = media::MakeS3ContentStore(config.s3,
                                        std::filesystem::path(config.data_dir) / "media-cache");
    if (!s3.ok()) {
      spdlog::critical("media: cannot open the S3 store: {}", s3.status().ToString());
      return nullptr;
    }
    spdlog::info("media: S3 store at {} bucket {} (cache at most {} bytes)", config.s3.endpoint,
                 config.s3.bucket, config.s3.cache_bytes);
    return std::move(s3).value();
  }
  auto store = media::FileContentStore::Open(std::filesystem::path(config.data_dir) / "media");
  if (!store.ok()) {
    spdlog::critical("media: cannot open the file store: {}", store.status().ToString());
    return nullptr;
  }
  return std::move(store).value();
}

void PrintHelp() {
  std::printf(
      "nebu %s: a Matrix homeserver core with an event-sourced, replicated store.\n\n"
      "Usage:\n"
      "  nebu [serve]     run the server until SIGINT or SIGTERM (drained; SIGHUP\n"
      "                   reloads the TLS certificate)\n"
      "  nebu version     print the version\n"
      "  nebu migrate up|down|version      the PostgreSQL schema (NEBU_DB_URL)\n"
      "  nebu projection rebuild|verify    replay the log into PostgreSQL / compare\n"
      "  nebu cluster status|verify|forget ID   the cluster's nodes / compare their states\n"
      "  nebu backup create|list|verify|restore  backups (nebu backup for the usage)\n"
      "  nebu cluster join [--from ID] [--force]  copy a peer's checkpoint (node stopped)\n"
      "  nebu --help      print this help\n\n"
      "Configuration (environment; any NEBU_X may instead be NEBU_X_FILE=path, whose\n"
      "trimmed contents are the value; setting both is an error):\n",
      NEBU_VERSION);
  for (const Variable& v : kVariables) {
    std::printf("  %-20s %s\n  %-20s default: %s\n", std::string(v.name).c_str(),
                std::string(v.meaning).c_str(), "",
                std::string(v.default_value.empty() ? v.derived_default : v.default_value).c_str());
  }
}

// Blocks SIGINT, SIGTERM and SIGHUP in this thread and every thread started after it,
// so that WaitForStopSignal() is the only place that sees them (SIGHUP: reload the TLS
// certificate; otherwise ignored).
sigset_t BlockStopSignals() {
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  return signals;
}

// Waits up to `ms` for SIGINT, SIGTERM or SIGHUP; the signal, or 0.
int WaitForStopSignal(const sigset_t& signals, int64_t ms) {
  timespec timeout{.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1'000'000};
  int signal = sigtimedwait(&signals, nullptr, &timeout);
  return signal > 0 ? signal : 0;
}

// Serves the listeners until SIGINT or SIGTERM (0), or until a cluster node finds
// itself behind the log's trim point (kServeRejoin). The routers (and the account
// routes' hash workers) are destroyed on return, before the caller closes the engine.
int ServeUntilSignal(const Config& config, core::Engine& engine, ClusterRuntime* cluster,
                     const sigset_t& stop_signals, api::ServerLimits server_limits,
                     api::Metrics& metrics, EngineMetrics& engine_metrics) {
  std::unique_ptr<media::ContentStore> media_store = OpenMediaStore(config);
  if (media_store == nullptr) return kExitFailure;
  const std::filesystem::path media_dir = std::filesystem::path(config.data_dir) / "media";
  // The upload spool, whatever the backend (the file store makes it too; S3 needs it as
  // much): created 0700 and emptied of what a crash left behind.
  {
    std::error_code ec;
    std::filesystem::create_directories(media_dir / "tmp", ec);
    if (ec) {
      spdlog::critical("media: cannot create {}: {}", (media_dir / "tmp").string(), ec.message());
      return kExitFailure;
    }
    std::filesystem::permissions(media_dir, std::filesystem::perms::owner_all, ec);
    std::filesystem::permissions(media_dir / "tmp", std::filesystem::perms::owner_all, ec);
    for (const auto& entry : std::filesystem::directory_iterator(media_dir / "tmp", ec)) {
      std::filesystem::remove(entry.path(), ec);
    }
  }
  server_limits.spool_dir = (media_dir / "tmp").string();  // beside the store: a link, no copy
  auto media_api = std::make_shared<api::MediaApi>(
      engine, api::MediaApiOptions{.store = media_store.get(),
                                   .upload_bytes_max = config.media.upload_bytes_max,
                                   .user_quota_bytes = config.media.user_quota_bytes,
                                   .legacy = config.media.legacy,
                                   .thumbnail_dir = (media_dir / "thumbnails").string(),
                                   .rate_limit = config.rate_limit});
  api::ClientApi client_api(engine,
                            {.public_base_url = config.public_base_url,
                             .support = config.support,
                             .registration_open = config.registration_open,
                             .registration_requires_token = config.registration_requires_token,
                             .access_token_lifetime_ms = config.access_token_lifetime_ms,
                             .rate_limit = config.rate_limit,
                             // A token from another node waits for this one to catch up.
                             .token_wait_ms = cluster != nullptr ? api::kTokenWaitMsCluster : 0,
                             .catch_up = cluster,
                            .pushers_standby = cluster != nullptr,
                            .push_private_gateways = config.push_private_gateways,
                            .sso = config.sso,
                            .password_login = config.password_login,
                            .media = media_api,
                            // The admin API's lists read the projection (NEBU_DB_URL).
                            .admin_directory = config.db_url.empty()
                                                   ? nullptr
                                                   : projections::MakeAdminDirectory(
                                                         config.db_url, config.server_name),
                            .registration_shared_secret = config.registration_shared_secret,
                            .server_notices_localpart = config.server_notices_localpart,
                            .compliance_exports = config.db_url.empty()
                                                      ? nullptr
                                                      : projections::MakePgExportStore(config.db_url)},
                            &metrics, cluster ? &cluster->ephemeral() : nullptr);
  // The retention purge job (api/compliance/retention.h): the single node, or the holder
  // of the pusher election below.
  api::SetRetentionDefault(config.retention_max_lifetime_ms);
  api::RetentionJob retention(engine, {.default_max_lifetime_ms = config.retention_max_lifetime_ms,
                                       .interval_ms = config.retention_interval_ms});
  if (cluster == nullptr) retention.SetActive(true);
  // In a cluster one node delivers to push gateways: the holder of <prefix>/pusher.
  std::unique_ptr<replication::LeaseElection> pusher_election =
      cluster != nullptr ? cluster->MakePusherElection() : nullptr;
  if (pusher_election) {
    // The holder also sweeps expired login and OpenID tokens, and runs the retention job.
    pusher_election->Start(
        [&client_api, &retention] {
          client_api.pushers().SetActive(true);
          client_api.token_sweeper().SetActive(true);
          retention.SetActive(true);
        },
        [&client_api, &retention] {
          client_api.pushers().SetActive(false);
          client_api.token_sweeper().SetActive(false);
          retention.SetActive(false);
        });
  }
  if (cluster != nullptr) {
    cluster->ephemeral().Start();  // the trackers have subscribed
    metrics.AddCounterFunction(
        "nebu_ephemeral_updates_dropped_total",
        "Typing and presence updates not shared through etcd (queue full or write failed)",
        [cluster] { return static_cast<double>(cluster->ephemeral().dropped()); });
  }
  api::Router ops("ops", &metrics);
  // NEBU_DB_URL; in a cluster the nodes elect the one that projects.
  std::unique_ptr<PgRuntime> pg = PgRuntime::Start(
      config, engine, cluster != nullptr ? cluster->MakeProjectorElection() : nullptr);
  engine_metrics.Attach(engine, pg ? std::function([&pg] { return pg->Ready(); }) : nullptr,
                        cluster);
  // A storage failure that stopped writes (or a full disk) wins over PostgreSQL's report.
  api::AddOpsRoutes(
      ops, metrics,
      api::WithWriteHealth(
          [&engine] { return engine.WriteStatus(); },
          pg ? api::ReadinessProbe([&pg] { return pg->Ready(); }) : api::AlwaysReady),
      {.view = cluster,
       .internal_secret = config.cluster.internal_secret,
       .digest = cluster ? std::function([&engine] { return StateDigestJson(engine); })
                         : nullptr});
  // Sync tokens carry the epoch a restore set (api/sync/sync_epoch.h).
  Result<uint64_t> sync_epoch = storage::ReadSyncEpoch(engine.store());
  if (!sync_epoch.ok()) {
    spdlog::critical("engine: cannot read the sync-token epoch: {}", sync_epoch.status().ToString());
    return kExitFailure;
  }
  api::SetSyncEpoch(*sync_epoch);
  // Backups: POST /_nebu/backup on the ops listener and the NEBU_BACKUP_* schedule.
  Result<std::unique_ptr<BackupService>> backups = BackupService::Start(
      engine,
      {.data_dir = config.data_dir,
       .nebu_version = NEBU_VERSION,
       .cluster_id = cluster != nullptr ? cluster->node().cluster_id() : "",
       .s3 = config.s3,
       .schedule_dest = config.backup_dir,
       .interval_ms = config.backup_interval_ms,
       .keep = config.backup_keep},
      ops, metrics);
  if (!backups.ok()) {
    spdlog::critical("backup: {}", backups.status().ToString());
    return kExitFailure;
  }
  std::vector<api::ListenerConfig> listeners = {
      {.address = config.client_addr.host, .port = config.client_addr.port, .router = &client_api.router(),
       .tls = config.ops.tls()},
      {.address = config.ops_addr.host, .port = config.ops_addr.port, .router = &ops,
       .reserved = true, .tls = config.ops.tls()}};
  api::Router media_router("media", &metrics);  // NEBU_MEDIA_ADDR: the media routes only
  if (config.media.addr) {
    media_api->Mount(media_router);
    listeners.push_back({.address = config.media.addr->host, .port = config.media.addr->port,
                         .router = &media_router, .tls = config.ops.tls()});
  }
  auto server = api::Server::Start(std::move(listeners), server_limits);
  if (!server.ok()) {
    spdlog::critical("http: {}", server.status().ToString());
    return kExitFailure;
  }
  spdlog::info("nebu {} serving {} (client {}, ops {}, data {}, registration {})", NEBU_VERSION,
               config.server_name, config.client_addr.ToString(), config.ops_addr.ToString(),
               config.data_dir, config.registration_open                ? "open"
               : config.registration_requires_token ? "token"
                                                    : "closed");
  if (cluster != nullptr) {
    spdlog::info("cluster {}: node {} (incarnation {}) on etcd prefix {}",
                 cluster->node().cluster_id(), cluster->NodeId(), cluster->node().incarnation(),
                 config.cluster.etcd_prefix);
  }
  for (;;) {
    if (int signal = WaitForStopSignal(stop_signals, kServePollMs); signal == SIGHUP) {
      // The operator renewed the certificate: new connections get it, no listener closes.
      if (config.ops.tls()) (void)(*server)->ReloadTls();
    } else if (signal != 0) {
      spdlog::info("{} received, draining (at most {} ms) and stopping", strsignal(signal),
                   server_limits.drain_timeout_ms);
      (*server)->Stop();
      return 0;
    }
    if (cluster != nullptr && cluster->node().Health().behind_trim) {
      spdlog::error("cluster: this node fell behind the log's trim point: stopping to rejoin "
                    "by copying a peer's checkpoint");
      (*server)->Stop();
      return kServeRejoin;
    }
  }
}

// One run of the node: the cluster (joining by checkpoint when the data directory has
// no state and the log was trimmed), the engine, the listeners, until a signal (0),
// a failure (kExitFailure) or a fall behind the trim point (kServeRejoin).
int ServeOnce(const Config& config, const sigset_t& stop_signals,
              const api::ServerLimits& server_limits) {
  api::Metrics metrics;  // outlives the engine: its committer feeds it
  EngineMetrics engine_metrics(metrics);
  core::EngineOptions engine_options;
  engine_options.data_dir = config.data_dir;
  engine_options.server_name = config.server_name;
  // NEBU_ETCD_ENDPOINTS: a cluster node (checks the cluster ID, then the engine applies
  // the replicated log); otherwise the embedded single node.
  Result<std::unique_ptr<ClusterRuntime>> cluster = ClusterRuntime::Open(config);
  if (!cluster.ok()) {
    spdlog::critical("cluster: {}", cluster.status().ToString());
    return kExitFailure;
  }
  if (*cluster) {
    // A state behind the trim point (a restored backup) is replaced before it is served.
    Result<bool> join = MoveAsideIfBehindTrim((*cluster)->node(), config.data_dir);
    if (join.ok()) join = NeedsCheckpoint((*cluster)->node(), config.data_dir);
    if (join.ok() && *join) {
      spdlog::info("cluster: no state in {} and the log is trimmed: joining by checkpoint",
                   config.data_dir);
      Result<JoinResult> joined = JoinByCheckpoint(config, (*cluster)->node(), "");
      if (!joined.ok()) join = joined.status();
    }
    if (!join.ok()) {
      spdlog::critical("cluster: cannot join by checkpoint: {}", join.status().ToString());
      return kExitFailure;
    }
    (*cluster)->Configure(&engine_options);
  }
  engine_metrics.Instrument(&engine_options);  // times every commit (/metrics)
  auto engine = core::Engine::Open(engine_options);
  if (!engine.ok()) {
    spdlog::critical("engine: cannot open {}: {}", config.data_dir, engine.status().ToString());
    return kExitFailure;
  }
  if (*cluster) {
    (*cluster)->StartRegistry();
    if (Status s = (*cluster)->StartCheckpointServer(config, **engine); !s.ok()) {
      spdlog::critical("cluster: {}", s.ToString());
      (*cluster)->Stop();
      return kExitFailure;
    }
  }
  int exit_code = ServeUntilSignal(config, **engine, cluster->get(), stop_signals, server_limits,
                                   metrics, engine_metrics);
  if (*cluster) (*cluster)->Stop();  // leaves the live registry before the engine closes
  engine->reset();
  return exit_code;
}

int Serve() {
  Result<Config> config = LoadConfig(ProcessEnvironment());
  if (!config.ok()) {
    std::fprintf(stderr, "nebu: bad configuration: %s\n", config.status().message().c_str());
    return kExitUsage;
  }
  ConfigureLogging({.json = config->ops.log_json, .level = config->log_level});
  for (const std::string& warning : config->warnings) spdlog::warn("config: {}", warning);
  sigset_t stop_signals = BlockStopSignals();
  // The data directory holds every account's secrets: nothing nebu creates is readable
  // by group or others (RocksDB creates its files 0644 and directories 0755 before
  // the umask).
  ::umask(077);
  api::ServerLimits server_limits = ConnectionLimits(RaiseFdLimit());
  server_limits.drain_timeout_ms = config->ops.drain_timeout_ms;  // NEBU_DRAIN_TIMEOUT_MS
  server_limits.tls_cert_file = config->ops.tls_cert_file;        // NEBU_TLS_*: optional
  server_limits.tls_key_file = config->ops.tls_key_file;
  // Behind a reverse proxy every client arrives from the proxy's IP: the proxies'
  // X-Forwarded-For is believed, and they are exempt from the per-IP connection cap.
  server_limits.trusted_proxies = config->trusted_proxies;
  server_limits.per_ip_exempt = [proxies = config->trusted_proxies](const std::string& ip) {
    std::optional<api::IpBytes> parsed = api::ParseIp(ip);
    return parsed && api::IsTrusted(*parsed, proxies);
  };
  for (int rejoins = 0;; ++rejoins) {
    const int exit_code = ServeOnce(*config, stop_signals, server_limits);
    if (exit_code != kServeRejoin) {
      spdlog::info("stopped");
      return exit_code;
    }
    // Everything is closed: the old state goes aside (removed once the join
    // succeeded), and the next run joins by checkpoint.
    if (rejoins == kRejoinsMax) {
      spdlog::critical("cluster: fell behind the trim point again after {} rejoins: giving up",
                       rejoins);
      return kExitFailure;
    }
    Result<std::string> stale = MoveStateAside(config->data_dir);
    if (!stale.ok()) {
      spdlog::critical("cluster: cannot rejoin: {}", stale.status().ToString());
      return kExitFailure;
    }
    spdlog::info("cluster: rejoin {}: moved the old state to {}", rejoins + 1, *stale);
    if (int signal = WaitForStopSignal(stop_signals, kRejoinPauseMs);
        signal != 0 && signal != SIGHUP) {
      spdlog::info("{} received, stopping", strsignal(signal));
      return 0;
    }
  }
}

}  // namespace
}  // namespace nebu::app

int main(int argc, char** argv) {
  std::vector<std::string_view> args(argv + 1, argv + argc);
  if (args.empty() || (args.size() == 1 && args[0] == "serve")) return nebu::app::Serve();
  if (nebu::app::IsPgCommand(args[0])) return nebu::app::RunPgCommand(args);
  if (nebu::app::IsClusterCommand(args[0])) return nebu::app::RunClusterCommand(args);
  if (args[0] == "admin") return nebu::app::RunAdminCommand(args);
  if (nebu::app::IsBackupCommand(args[0])) return nebu::app::RunBackupCommand(args, NEBU_VERSION);
  if (args.size() == 1 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help")) {
    nebu::app::PrintHelp();
    return 0;
  }
  if (args.size() == 1 && (args[0] == "version" || args[0] == "--version")) {
    std::printf("nebu %s\n", NEBU_VERSION);
    return 0;
  }
  std::fprintf(stderr, "nebu: unknown command \"%s\"; see nebu --help\n",
               std::string(args[0]).c_str());
  return nebu::app::kExitUsage;
}
