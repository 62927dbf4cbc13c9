#include "app/backup_commands.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <thread>

#include "app/backup_create.h"
#include "app/backup_restore.h"
#include "app/backup_service.h"
#include "app/config.h"
#include "app/exit_codes.h"
#include "app/http_get.h"

namespace nebu::app {

namespace {

namespace fs = std::filesystem;
namespace json = boost::json;

constexpr int kPollMs = 250;              // progress polls of the node
constexpr int kCallTimeoutMs = 10'000;    // one ops call
constexpr int kNodeSilentMsMax = 60'000;  // the node stopped answering polls: give up
constexpr int kBarWidth = 30;

void BackupUsage() {
  std::fprintf(stderr,
               "usage: nebu backup create DEST [--keep N]\n"
               "       nebu backup list SRC\n"
               "       nebu backup verify SRC [--id ID]\n"
               "       nebu backup restore SRC --data-dir DIR [--id ID]\n"
               "  DEST/SRC: a directory or s3://BUCKET/PREFIX (with NEBU_S3_ENDPOINT, ...)\n");
}

struct Args {
  std::string verb, location, id, data_dir;
  std::optional<size_t> keep;
};

std::optional<Args> ParseArgs(const std::vector<std::string_view>& args) {
  if (args.size() < 3) return std::nullopt;
  Args a{.verb = std::string(args[1]), .location = std::string(args[2])};
  for (size_t i = 3; i < args.size(); i += 2) {
    if (i + 1 >= args.size()) return std::nullopt;
    std::string value(args[i + 1]);
    if (args[i] == "--id" && a.verb != "create") {
      a.id = value;
    } else if (args[i] == "--data-dir" && a.verb == "restore") {
      a.data_dir = value;
    } else if (args[i] == "--keep" && a.verb == "create") {
      char* end = nullptr;
      unsigned long long k = std::strtoull(value.c_str(), &end, 10);
      if (value.empty() || *end != '\0' || k > kBackupKeepMax) return std::nullopt;
      a.keep = k;
    } else {
      return std::nullopt;
    }
  }
  if (a.verb == "restore" && a.data_dir.empty()) return std::nullopt;
  return a;
}

std::string Absolute(const std::string& location) {
  return location.starts_with("s3://") ? location : fs::absolute(location).string();
}

void PrintBar(std::string_view phase, uint64_t done, uint64_t total, uint64_t files_done,
              uint64_t files_total) {
  double fraction = total == 0 ? (phase == "copy" ? 1.0 : 0.0)
                               : static_cast<double>(done) / static_cast<double>(total);
  int filled = static_cast<int>(fraction * kBarWidth);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kBarWidth, '-');
  std::fprintf(stderr, "\rbackup: %-10s [%s] %3.0f%% %.1f/%.1f MB, %llu/%llu files   ",
               std::string(phase).c_str(), bar.c_str(), fraction * 100,
               static_cast<double>(done) / 1e6, static_cast<double>(total) / 1e6,
               static_cast<unsigned long long>(files_done),
               static_cast<unsigned long long>(files_total));
}

uint64_t U64(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_number() ? v->to_number<uint64_t>() : 0;
}

std::optional<std::string> ReadToken(const Config& config) {
  std::ifstream in(fs::path(config.data_dir) / kBackupTokenFile);
  std::string token;
  if (!(in >> token)) return std::nullopt;
  return token;
}

// Polls the node's job until it ends; the exit code.
int FollowJob(const Config& config, const std::vector<std::string>& headers) {
  auto last_answer = std::chrono::steady_clock::now();
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
    auto reply = HttpGet(config.ops_addr.ToString(), "/_nebu/backup", headers, kCallTimeoutMs);
    if (!reply.ok() || reply->status != 200) {
      if (std::chrono::steady_clock::now() - last_answer > std::chrono::milliseconds(kNodeSilentMsMax)) {
        std::fprintf(stderr, "\nnebu: backup: the node stopped answering\n");
        return kExitFailure;
      }
      continue;
    }
    last_answer = std::chrono::steady_clock::now();
    boost::system::error_code ec;
    json::value v = json::parse(reply->body, ec);
    if (ec || !v.is_object()) continue;
    const json::object& o = v.as_object();
    std::string state(o.contains("state") ? o.at("state").as_string() : "");
    std::string phase(o.contains("phase") ? o.at("phase").as_string() : "");
    PrintBar(phase, U64(o, "bytes_done"), U64(o, "bytes_total"), U64(o, "files_done"),
             U64(o, "files_total"));
    if (state == "done") {
      std::fprintf(stderr, "\n");
      const json::object& s = o.at("summary").as_object();
      std::printf("%s\n", std::string(s.at("line").as_string()).c_str());
      return kExitOk;
    }
    if (state == "failed") {
      std::fprintf(stderr, "\nnebu: backup failed: %s\n",
                   std::string(o.at("error").as_string()).c_str());
      return kExitFailure;
    }
  }
}

// The node is not running: the backup in this process, on the data directory.
int CreateOffline(const Config& config, const std::string& dest, size_t keep,
                  std::string_view version) {
  auto target = OpenBackupTarget(dest, config.s3);
  if (!target.ok()) {
    std::fprintf(stderr, "nebu: backup: %s\n", target.status().ToString().c_str());
    return kExitFailure;
  }
  auto engine = core::Engine::Open({.data_dir = config.data_dir, .server_name = config.server_name});
  if (!engine.ok()) {
    std::fprintf(stderr, "nebu: backup: no node answers on %s and %s cannot be opened: %s\n",
                 config.ops_addr.ToString().c_str(), config.data_dir.c_str(),
                 engine.status().ToString().c_str());
    return kExitFailure;
  }
  std::string cluster_id;
  std::ifstream(fs::path(config.data_dir) / "cluster_id") >> cluster_id;
  BackupProgress progress;
  std::atomic<bool> finished{false};
  std::thread bar([&] {
    while (!finished) {
      PrintBar(PhaseName(progress.phase), progress.bytes_done, progress.bytes_total,
               progress.files_done, progress.files_total);
      std::this_thread::sleep_for(std::chrono::milliseconds(kPollMs));
    }
  });
  Result<BackupSummary> done = CreateBackup(
      **engine, **target,
      {.data_dir = config.data_dir, .nebu_version = std::string(version), .cluster_id = cluster_id,
       .keep = keep},
      &progress);
  finished = true;
  bar.join();
  std::fprintf(stderr, "\n");
  if (!done.ok()) {
    std::fprintf(stderr, "nebu: backup failed: %s\n", done.status().ToString().c_str());
    return kExitFailure;
  }
  std::printf("%s\n", SummaryLine(*done).c_str());
  return kExitOk;
}

int Create(const Config& config, const Args& a, std::string_view version) {
  const std::string dest = Absolute(a.location);
  const size_t keep = a.keep.value_or(0);
  std::optional<std::string> token = ReadToken(config);
  if (token) {
    std::vector<std::string> headers{"Authorization: Bearer " + *token};
    json::object body{{"dest", dest}, {"keep", keep}};
    auto reply = HttpCall("POST", config.ops_addr.ToString(), "/_nebu/backup", headers,
                          json::serialize(body), kCallTimeoutMs);
    if (reply.ok() && reply->status == 202) return FollowJob(config, headers);
    if (reply.ok()) {
      std::fprintf(stderr, "nebu: backup: the node at %s answered %d: %s\n",
                   config.ops_addr.ToString().c_str(), reply->status, reply->body.c_str());
      return kExitFailure;
    }
  }
  return CreateOffline(config, dest, keep, version);
}

int List(const Config& config, const Args& a) {
  auto target = OpenBackupTarget(Absolute(a.location), config.s3);
  if (!target.ok()) {
    std::fprintf(stderr, "nebu: backup list: %s\n", target.status().ToString().c_str());
    return kExitFailure;
  }
  auto ids = ListBackups(**target);
  if (!ids.ok()) {
    std::fprintf(stderr, "nebu: backup list: %s\n", ids.status().ToString().c_str());
    return kExitFailure;
  }
  for (const std::string& id : *ids) {
    auto m = LoadManifest(**target, id);
    if (!m.ok()) {
      std::printf("%s  (unreadable: %s)\n", id.c_str(), m.status().ToString().c_str());
      continue;
    }
    std::printf("%s  nebu %s  %s%s  %llu events  stream position %llu  %.1f MB\n", id.c_str(),
                m->nebu_version.c_str(), m->server_name.c_str(),
                m->cluster_id.empty() ? "" : (" cluster " + m->cluster_id).c_str(),
                static_cast<unsigned long long>(m->events),
                static_cast<unsigned long long>(m->stream_position),
                static_cast<double>(m->bytes()) / 1e6);
  }
  return kExitOk;
}

int Verify(const Config& config, const Args& a) {
  auto target = OpenBackupTarget(Absolute(a.location), config.s3);
  if (!target.ok()) {
    std::fprintf(stderr, "nebu: backup verify: %s\n", target.status().ToString().c_str());
    return kExitFailure;
  }
  auto report = VerifyBackup(**target, a.id, fs::temp_directory_path().string());
  if (!report.ok()) {
    std::fprintf(stderr, "nebu: backup verify: %s\n", report.status().ToString().c_str());
    return kExitFailure;
  }
  for (const std::string& p : report->problems) std::printf("PROBLEM %s\n", p.c_str());
  std::printf("verify %s: %zu files checked, %llu events in %llu rooms, %zu problems, %.2f s\n",
              report->manifest.id.c_str(), report->manifest.files.size(),
              static_cast<unsigned long long>(report->events_checked),
              static_cast<unsigned long long>(report->rooms_checked), report->problems.size(),
              report->seconds);
  return report->problems.empty() ? kExitOk : kExitFailure;
}

int Restore(const Config& config, const Args& a) {
  auto target = OpenBackupTarget(Absolute(a.location), config.s3);
  if (!target.ok()) {
    std::fprintf(stderr, "nebu: backup restore: %s\n", target.status().ToString().c_str());
    return kExitFailure;
  }
  auto restored = RestoreBackup(**target, a.id, a.data_dir, {});
  if (!restored.ok()) {
    std::fprintf(stderr, "nebu: backup restore: %s\n", restored.status().ToString().c_str());
    return kExitFailure;
  }
  const BackupManifest& m = restored->manifest;
  std::printf("restored %s into %s: %llu events at applied index %llu, stream position %llu, "
              "%.1f MB in %.2f s; sync-token epoch %llu\n",
              m.id.c_str(), a.data_dir.c_str(), static_cast<unsigned long long>(m.events),
              static_cast<unsigned long long>(m.applied_index),
              static_cast<unsigned long long>(m.stream_position),
              static_cast<double>(restored->bytes) / 1e6, restored->seconds,
              static_cast<unsigned long long>(restored->sync_epoch));
  std::printf("next: NEBU_DATA_DIR=%s nebu projection rebuild (with NEBU_DB_URL), then start "
              "the node with NEBU_DATA_DIR=%s\n",
              a.data_dir.c_str(), a.data_dir.c_str());
  if (!m.cluster_id.empty()) {
    std::printf("cluster %s: the node replays the shared log after revision %llu; if the log "
                "was trimmed past it, the node copies a live peer's checkpoint at its start "
                "instead (NEBU_INTERNAL_SECRET set, a peer live)\n",
                m.cluster_id.c_str(), static_cast<unsigned long long>(m.group_revision));
  }
  return kExitOk;
}

}  // namespace

bool IsBackupCommand(std::string_view command) { return command == "backup"; }

int RunBackupCommand(const std::vector<std::string_view>& args, std::string_view version) {
  std::optional<Args> a = ParseArgs(args);
  if (!a || (a->verb != "create" && a->verb != "list" && a->verb != "verify" &&
             a->verb != "restore")) {
    BackupUsage();
    return kExitUsage;
  }
  Result<Config> config = LoadConfig(ProcessEnvironment());
  if (!config.ok()) {
    std::fprintf(stderr, "nebu: bad configuration: %s\n", config.status().message().c_str());
    return kExitUsage;
  }
  spdlog::set_level(spdlog::level::from_str(config->log_level));
  ::umask(077);  // backups and restored data hold every account's secrets
  if (a->verb == "create") return Create(*config, *a, version);
  if (a->verb == "list") return List(*config, *a);
  if (a->verb == "verify") return Verify(*config, *a);
  return Restore(*config, *a);
}

}  // namespace nebu::app
