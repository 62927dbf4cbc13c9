// Backups of a loaded node (app/backup_create.h, app/backup_restore.h): fills a fresh
// engine with N events (~300-byte bodies) across R rooms, then measures
//   (a) a full backup into a directory: time, size, MB/s,
//   (b) an incremental backup after 1% more events: time, bytes new, files reused,
//   (c) a restore into a new directory, and (d) `verify` (checksums, trial open,
//       every envelope, digests): time each.
// Figures only; no pass/fail. The load uses the engine's commit path without fsync
// per group (LocalCommitterOptions::sync = false) so it takes minutes, not hours; the
// backup itself runs as on a serving node.
//
//   build/bench/bench_backup [--events=1000000] [--rooms=100] [--dir=/path/to/empty/dir]
#include <boost/json.hpp>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <semaphore>
#include <string>
#include <vector>

#include "app/backup_create.h"
#include "app/backup_restore.h"
#include "bench/bench_util.h"
#include "engine/core/engine.h"
#include "engine/testing/temp_dir.h"

using namespace nebu;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr int kInFlightMax = 4096;       // sends outstanding while loading
constexpr size_t kBodyBytes = 300;
constexpr std::string_view kSender = "@bench:localhost";

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

void Load(core::Engine& engine, const std::vector<std::string>& rooms, uint64_t from, uint64_t count) {
  std::counting_semaphore<kInFlightMax> slots(kInFlightMax);
  std::atomic<uint64_t> failed{0};
  const std::string filler(kBodyBytes, 'x');
  auto started = SteadyClock::now();
  for (uint64_t i = from; i < from + count; ++i) {
    core::SendEventRequest request{.room_id = rooms[i % rooms.size()], .sender = std::string(kSender),
                                   .type = "m.room.message"};
    request.content = {{"msgtype", "m.text"}, {"body", std::to_string(i) + " " + filler}};
    slots.acquire();
    engine.SubmitAsync(*core::MakeSendEventCommand(request), [&](core::ApplyOutcome out) {
      if (!out.ok()) ++failed;
      slots.release();
    });
    if ((i + 1) % 100'000 == 0) {
      std::fprintf(stderr, "\rload: %" PRIu64 " events, %.0f events/s   ", i + 1 - from,
                   static_cast<double>(i + 1 - from) / SecondsSince(started));
    }
  }
  for (int i = 0; i < kInFlightMax; ++i) slots.acquire();
  for (int i = 0; i < kInFlightMax; ++i) slots.release();
  std::fprintf(stderr, "\n");
  if (failed > 0) {
    std::fprintf(stderr, "load: %" PRIu64 " sends failed\n", failed.load());
    std::exit(1);
  }
}

}  // namespace

int main(int argc, char** argv) {
  bench::PrintCommand(argc, argv);
  const uint64_t events = std::stoull(bench::Arg(argc, argv, "events", "1000000"));
  const uint64_t room_count = std::stoull(bench::Arg(argc, argv, "rooms", "100"));
  testing::TempDir temp;
  const std::string root = bench::Arg(argc, argv, "dir", temp.path());
  const std::string data = root + "/data", dest = root + "/backups", restored = root + "/restored";

  core::EngineOptions options{.data_dir = data};
  options.commit.sync = false;
  auto engine = core::Engine::Open(options);
  if (!engine.ok()) {
    std::fprintf(stderr, "open: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  std::vector<std::string> rooms;
  for (uint64_t r = 0; r < room_count; ++r) rooms.push_back((*engine)->CreateRoom({}, kSender)->room_id);
  auto load_started = SteadyClock::now();
  Load(**engine, rooms, 0, events);
  std::printf("loaded %" PRIu64 " events in %" PRIu64 " rooms in %.1f s\n", events, room_count,
              SecondsSince(load_started));

  auto target = app::OpenBackupTarget(dest, {});
  if (!target.ok()) return 1;
  const app::BackupOptions backup{.data_dir = data, .nebu_version = "bench"};
  auto full = app::CreateBackup(**engine, **target, backup, nullptr);
  if (!full.ok()) {
    std::fprintf(stderr, "backup: %s\n", full.status().ToString().c_str());
    return 1;
  }
  const double mb = static_cast<double>(full->manifest.bytes()) / 1e6;
  std::printf("full backup:        %.2f s, %.1f MB in %zu files, %.1f MB/s (%" PRIu64 " events)\n",
              full->seconds, mb, full->manifest.files.size(), mb / full->seconds,
              full->manifest.events);

  Load(**engine, rooms, events, events / 100);
  auto incremental = app::CreateBackup(**engine, **target, backup, nullptr);
  if (!incremental.ok()) return 1;
  std::printf("incremental backup: %.2f s after %" PRIu64 " more events: %.1f MB new of %.1f MB, "
              "%" PRIu64 " of %zu files reused\n",
              incremental->seconds, events / 100,
              static_cast<double>(incremental->bytes_written) / 1e6,
              static_cast<double>(incremental->manifest.bytes()) / 1e6, incremental->files_reused,
              incremental->manifest.files.size());
  engine->reset();

  auto restore = app::RestoreBackup(**target, "", restored, {});
  if (!restore.ok()) {
    std::fprintf(stderr, "restore: %s\n", restore.status().ToString().c_str());
    return 1;
  }
  std::printf("restore:            %.2f s (%.1f MB, %.1f MB/s)\n", restore->seconds,
              static_cast<double>(restore->bytes) / 1e6,
              static_cast<double>(restore->bytes) / 1e6 / restore->seconds);
  auto verify = app::VerifyBackup(**target, "", root);
  if (!verify.ok()) return 1;
  std::printf("verify:             %.2f s, %" PRIu64 " events in %" PRIu64 " rooms, %zu problems\n",
              verify->seconds, verify->events_checked, verify->rooms_checked,
              verify->problems.size());
  std::printf("peak RSS: %.0f MiB\n", bench::PeakRssMiB());
  return verify->problems.empty() ? 0 : 1;
}
