// Read path of the room log: fills a fresh RocksDB with N events (~300-byte JSON)
// across R rooms through RoomLog::Append (batches, sync=false), then measures
//   (a) sequential reads: RoomLog::Scan over every room, envelopes verified,
//   (b) random single-event RoomLog::Read latency p50/p99,
//   (c) current-state lookups: Get of a kStateCurrent entry + Read of its event,
//   (d) peak RSS (VmHWM).
// Figures only; no pass/fail. Bounded: about a minute with the defaults on 2 cores.
//
//   build/bench/bench_read [--events=1000000] [--rooms=100] [--state_keys=1000]
//                          [--samples=100000] [--batch=1000] [--dir=/path/to/empty/dir]
#include <rocksdb/db.h>

#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <ctime>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "engine/storage/keys.h"
#include "engine/storage/room_log.h"
#include "engine/storage/store.h"
#include "engine/testing/temp_dir.h"

namespace nebu::storage {
namespace {

using SteadyClock = std::chrono::steady_clock;

constexpr size_t kJsonBytesTarget = 300;
constexpr uint64_t kSeed = 42;

struct Config {
  uint64_t events;
  uint64_t rooms;
  uint64_t state_keys;
  uint64_t samples;
  uint64_t batch;
};

double SecondsSince(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// CPU time of this thread: the machine is shared, so wall-clock rates alone would
// mostly measure the other processes.
double ThreadCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double MicrosSince(SteadyClock::time_point start) {
  return std::chrono::duration<double, std::micro>(SteadyClock::now() - start).count();
}

EventRecord MakeEvent(RoomNumber room, Sequence seq, uint64_t n) {
  EventRecord r;
  r.room = room;
  r.sequence = seq;
  r.stream_position = n + 1;
  r.origin_server_ts = 1700000000000 + static_cast<int64_t>(n);
  char id[64];
  std::snprintf(id, sizeof id, "$%020" PRIu64 "bench%020" PRIu64 "xyz", room, seq);
  r.event_id = id;
  r.sender = "@user" + std::to_string(n % 1000) + ":bench.example.org";
  r.type = "m.room.message";
  std::string json = "{\"content\":{\"body\":\"";
  const std::string tail = "\",\"msgtype\":\"m.text\"},\"event_id\":\"" + r.event_id +
                           "\",\"origin_server_ts\":" + std::to_string(r.origin_server_ts) +
                           ",\"sender\":\"" + r.sender + "\",\"type\":\"m.room.message\"}";
  while (json.size() + tail.size() < kJsonBytesTarget) json += "lorem ipsum ";
  r.json = json + tail;
  return r;
}

// Appends cfg.events events round-robin over the rooms; returns each room's last seq.
std::vector<Sequence> Fill(Store& store, const Config& cfg) {
  RoomLog log(store);
  std::vector<Sequence> last(cfg.rooms + 1, 0);
  const auto start = SteadyClock::now();
  for (uint64_t n = 0; n < cfg.events;) {
    rocksdb::WriteBatch batch;
    for (uint64_t i = 0; i < cfg.batch && n < cfg.events; ++i, ++n) {
      const RoomNumber room = 1 + n % cfg.rooms;
      log.Append(batch, MakeEvent(room, ++last[room], n));
    }
    const Status s = store.Write(batch, /*sync=*/false);
    NEBU_CHECK(s.ok(), s.ToString());
  }
  std::printf("fill: %" PRIu64 " events in %.1f s (%.0f events/s, batches of %" PRIu64 ")\n",
              cfg.events, SecondsSince(start), cfg.events / SecondsSince(start), cfg.batch);
  return last;
}

void FlushAll(Store& store) {
  const auto start = SteadyClock::now();
  for (size_t i = 0; i < static_cast<size_t>(Cf::kCount); ++i) {
    const auto s = store.db()->Flush(rocksdb::FlushOptions(), store.handle(static_cast<Cf>(i)));
    NEBU_CHECK(s.ok(), s.ToString());
  }
  std::printf("flush memtables: %.1f s\n", SecondsSince(start));
}

void SequentialReads(Store& store, const Config& cfg) {
  RoomLog log(store);
  uint64_t events = 0;
  uint64_t json_bytes = 0;
  const auto start = SteadyClock::now();
  const double cpu_start = ThreadCpuSeconds();
  for (RoomNumber room = 1; room <= cfg.rooms; ++room) {
    const Status s = log.Scan(room, 1, UINT64_MAX, SIZE_MAX, [&](const EventView& e) {
      ++events;
      json_bytes += e.json.size();
      return true;
    });
    NEBU_CHECK(s.ok(), s.ToString());
  }
  const double seconds = SecondsSince(start);
  const double cpu = ThreadCpuSeconds() - cpu_start;
  std::printf(
      "(a) sequential Scan, verified: %.0f events/s wall, %.0f events per CPU-second"
      " (%" PRIu64 " events, %.1f MiB of JSON, %.2f s wall, %.2f s CPU)\n",
      events / seconds, events / cpu, events, json_bytes / 1048576.0, seconds, cpu);
}

void RandomReads(Store& store, const Config& cfg, const std::vector<Sequence>& last) {
  RoomLog log(store);
  std::mt19937_64 rng(kSeed);
  std::vector<double> micros;
  micros.reserve(cfg.samples);
  const double cpu_start = ThreadCpuSeconds();
  for (uint64_t i = 0; i < cfg.samples; ++i) {
    const RoomNumber room = 1 + rng() % cfg.rooms;
    const Sequence seq = 1 + rng() % last[room];
    const auto start = SteadyClock::now();
    const auto r = log.Read(room, seq);
    micros.push_back(MicrosSince(start));
    NEBU_CHECK(r.ok(), r.status().ToString());
  }
  const double cpu_us = (ThreadCpuSeconds() - cpu_start) * 1e6 / cfg.samples;
  const double p50 = bench::Percentile(micros, 50);
  std::printf("(b) random Read: p50 %.1f us, p99 %.1f us, mean CPU %.1f us (%" PRIu64 " reads)\n",
              p50, bench::Percentile(micros, 99), cpu_us, cfg.samples);
}

std::string MemberKey(uint64_t i) { return "@member" + std::to_string(i) + ":bench.example.org"; }

void WriteCurrentState(Store& store, const Config& cfg, const std::vector<Sequence>& last) {
  std::mt19937_64 rng(kSeed + 1);
  rocksdb::WriteBatch batch;
  for (RoomNumber room = 1; room <= cfg.rooms; ++room) {
    for (uint64_t k = 0; k < cfg.state_keys; ++k) {
      std::string seq;
      PutU64(&seq, 1 + rng() % last[room]);
      const auto s = batch.Put(store.handle(Cf::kStateCurrent),
                               StateKey(room, "m.room.member", MemberKey(k)), seq);
      NEBU_CHECK(s.ok(), s.ToString());
    }
    if (batch.Count() >= cfg.batch) {
      NEBU_CHECK(store.Write(batch, false).ok(), "state write");
      batch.Clear();
    }
  }
  NEBU_CHECK(store.Write(batch, false).ok(), "state write");
  const auto s = store.db()->Flush(rocksdb::FlushOptions(), store.handle(Cf::kStateCurrent));
  NEBU_CHECK(s.ok(), s.ToString());
}

void StateLookups(Store& store, const Config& cfg) {
  RoomLog log(store);
  std::mt19937_64 rng(kSeed + 2);
  std::vector<double> micros;
  micros.reserve(cfg.samples);
  const double cpu_start = ThreadCpuSeconds();
  for (uint64_t i = 0; i < cfg.samples; ++i) {
    const RoomNumber room = 1 + rng() % cfg.rooms;
    const std::string key = StateKey(room, "m.room.member", MemberKey(rng() % cfg.state_keys));
    const auto start = SteadyClock::now();
    const auto seq = store.Get(Cf::kStateCurrent, key);
    NEBU_CHECK(seq.ok() && seq->has_value() && (*seq)->size() == 8, "state entry");
    const auto event = log.Read(room, GetU64((*seq)->data()));
    micros.push_back(MicrosSince(start));
    NEBU_CHECK(event.ok(), event.status().ToString());
  }
  const double cpu_us = (ThreadCpuSeconds() - cpu_start) * 1e6 / cfg.samples;
  const double p50 = bench::Percentile(micros, 50);
  std::printf("(c) current-state Get + Read: p50 %.1f us, p99 %.1f us, mean CPU %.1f us (%" PRIu64
              " lookups, %" PRIu64 " state keys per room)\n",
              p50, bench::Percentile(micros, 99), cpu_us, cfg.samples, cfg.state_keys);
}

std::string LoadAverage() {
  std::FILE* f = std::fopen("/proc/loadavg", "r");
  char line[128] = "?\n";
  if (f != nullptr) {
    if (std::fgets(line, sizeof line, f) == nullptr) line[0] = '\0';
    std::fclose(f);
  }
  return line;
}

uint64_t U64Arg(int argc, char** argv, const char* name, uint64_t fallback) {
  return std::stoull(bench::Arg(argc, argv, name, std::to_string(fallback)));
}

int Main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures appear as they are measured
  bench::PrintCommand(argc, argv);
  const Config cfg{U64Arg(argc, argv, "events", 1000000), U64Arg(argc, argv, "rooms", 100),
                   U64Arg(argc, argv, "state_keys", 1000), U64Arg(argc, argv, "samples", 100000),
                   U64Arg(argc, argv, "batch", 1000)};
  NEBU_CHECK(cfg.rooms >= 1 && cfg.events >= cfg.rooms && cfg.batch >= 1 && cfg.state_keys >= 1,
             "need rooms >= 1, events >= rooms, batch >= 1, state_keys >= 1");
  std::optional<testing::TempDir> temp;
  std::string dir = bench::Arg(argc, argv, "dir", "");
  if (dir.empty()) dir = temp.emplace().path();
  std::printf("dir: %s\n", dir.c_str());

  auto store = Store::Open({.path = dir + "/db"});
  NEBU_CHECK(store.ok(), store.status().ToString());
  const std::vector<Sequence> last = Fill(**store, cfg);
  FlushAll(**store);
  SequentialReads(**store, cfg);
  RandomReads(**store, cfg, last);
  WriteCurrentState(**store, cfg, last);
  StateLookups(**store, cfg);
  std::printf("(d) peak RSS: %.0f MiB\n", bench::PeakRssMiB());
  std::printf("load average at end: %s", LoadAverage().c_str());
  return 0;
}

}  // namespace
}  // namespace nebu::storage

int main(int argc, char** argv) { return nebu::storage::Main(argc, argv); }
