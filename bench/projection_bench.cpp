// The PostgreSQL projection: catch-up ingest rate from a backlog, then the lag under a
// steady write load. Figures only; no pass/fail. Targets on the 2-core machine:
// >= 50,000 events/s catch-up; lag p99 < 1 s at 2,000 events/s.
//
//   export NEBU_TEST_PG_URL=$(scripts/pg.sh start)
//   build/bench/bench_projection [--backlog=1000000] [--rooms=100] [--rate=2000]
//                                [--lag-seconds=20] [--dir=/dev/shm/x] [--pg-url=URL]
//                                [--batch=5000]   (catch-up batch, stream entries)
//
// 1. Writes `backlog` m.room.message events through the engine (async, 256 in flight;
//    kept in --dir when given, so a second run skips this).
// 1b. Reads and derives the backlog without PostgreSQL (the projector's own cost).
// 2. Creates a fresh database (nebu_bench_<pid>, dropped at the end), migrates it, and
//    projects the whole backlog with Projector::CatchUpEvents: events/s; then the
//    full-text pass (CatchUpSearch) over it: events/s.
// 3. Starts the projector thread and writes `rate` events/s for `lag-seconds`; the lag
//    of each event is from its write being acknowledged (durable and applied) to the
//    commit of the PostgreSQL transaction that holds it: p50 / p99 / max.
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <pqxx/pqxx>
#include <thread>

#include "bench/bench_util.h"
#include "engine/core/engine.h"
#include "engine/testing/temp_dir.h"
#include "projections/batch_writer.h"
#include "projections/migrate.h"
#include "projections/projector.h"

using namespace nebu;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr int kInFlight = 256;

core::Command MessageCommand(const std::vector<std::string>& rooms, uint64_t i) {
  core::SendEventRequest r;
  r.room_id = rooms[i % rooms.size()];
  r.sender = "@bench:localhost";
  r.type = "m.room.message";
  r.content = boost::json::object{
      {"msgtype", "m.text"},
      {"body", "benchmark message number " + std::to_string(i) +
                   " with some padding to look like a chat line"}};
  return *core::MakeSendEventCommand(r);
}

// Keeps up to kInFlight appends outstanding; on_done(position) runs per acknowledgement.
class AsyncWriter {
 public:
  explicit AsyncWriter(core::Engine& engine) : engine_(engine) {}
  void Send(core::Command command, std::function<void(storage::StreamPosition)> on_done = {}) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ < kInFlight; });
    ++in_flight_;
    lock.unlock();
    engine_.SubmitAsync(std::move(command), [this, on_done](core::ApplyOutcome out) {
      if (!out.ok()) {
        std::fprintf(stderr, "send failed: %s\n", out.status().ToString().c_str());
        std::exit(1);
      }
      if (on_done) {
        auto appended = core::DecodeAppended(*out);
        if (!appended.ok() || appended->empty()) std::exit(1);
        on_done(appended->front().stream_position);
      }
      std::lock_guard guard(mu_);
      --in_flight_;
      cv_.notify_all();
    });
  }
  void Drain() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return in_flight_ == 0; });
  }

 private:
  core::Engine& engine_;
  std::mutex mu_;
  std::condition_variable cv_;
  int in_flight_ = 0;
};

std::vector<std::string> Rooms(core::Engine& engine, size_t count) {
  std::vector<std::string> rooms;
  for (size_t i = 0; i < count; ++i) {
    auto room = engine.CreateRoom({}, "@bench:localhost");
    if (!room.ok()) std::exit(1);
    rooms.push_back(room->room_id);
  }
  return rooms;
}

}  // namespace

int main(int argc, char** argv) {
  bench::PrintCommand(argc, argv);
  uint64_t backlog = std::stoull(bench::Arg(argc, argv, "backlog", "1000000"));
  size_t room_count = std::stoul(bench::Arg(argc, argv, "rooms", "100"));
  double rate = std::stod(bench::Arg(argc, argv, "rate", "2000"));
  double lag_seconds = std::stod(bench::Arg(argc, argv, "lag-seconds", "20"));
  std::string dir_arg = bench::Arg(argc, argv, "dir", "");
  size_t batch_entries = std::stoul(bench::Arg(argc, argv, "batch", std::to_string(projections::kBatchEntriesMax)));
  const char* env_url = std::getenv("NEBU_TEST_PG_URL");
  std::string base_url = bench::Arg(argc, argv, "pg-url", env_url ? env_url : "");
  if (base_url.empty()) {
    std::fprintf(stderr, "set NEBU_TEST_PG_URL (scripts/pg.sh start) or --pg-url\n");
    return 2;
  }
  testing::TempDir temp(testing::TempDir::kTmpfs);
  std::string dir = dir_arg.empty() ? temp.path() : dir_arg;
  auto opened = core::Engine::Open({.data_dir = dir});
  if (!opened.ok()) {
    std::fprintf(stderr, "engine: %s\n", opened.status().ToString().c_str());
    return 1;
  }
  core::Engine& engine = **opened;

  // 1. The backlog.
  std::vector<std::string> rooms = Rooms(engine, room_count);
  uint64_t have = engine.stream_position();
  auto t0 = SteadyClock::now();
  {
    AsyncWriter writer(engine);
    for (uint64_t i = have; i < backlog; ++i) writer.Send(MessageCommand(rooms, i));
    writer.Drain();
  }
  double write_s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  std::printf("backlog: %llu stream entries (%llu written now in %.1f s, %.0f events/s)\n",
              static_cast<unsigned long long>(engine.stream_position()),
              static_cast<unsigned long long>(engine.stream_position() - have), write_s,
              static_cast<double>(engine.stream_position() - have) / std::max(write_s, 1e-9));

  // 1b. The log side alone (read, verify, derive rows; no PostgreSQL): the projector's
  // own share of the catch-up cost.
  {
    projections::StreamReader reader(engine.store());
    storage::StreamPosition at = 0;
    uint64_t derived = 0;
    auto r0 = SteadyClock::now();
    while (true) {
      auto batch = reader.Read(at);
      if (!batch.ok() || batch->upto == at) break;
      for (const auto& item : batch->events) derived += projections::DeriveEvent(item.record).ok();
      at = batch->upto;
    }
    double read_s = std::chrono::duration<double>(SteadyClock::now() - r0).count();
    std::printf("log side alone (read + verify + derive, no SQL): %llu events in %.1f s: %.0f events/s\n",
                static_cast<unsigned long long>(derived), read_s, static_cast<double>(derived) / read_s);
    // The read alone (no derive), to split the cost.
    at = 0;
    uint64_t read = 0;
    r0 = SteadyClock::now();
    while (true) {
      auto batch = reader.Read(at);
      if (!batch.ok() || batch->upto == at) break;
      read += batch->events.size();
      at = batch->upto;
    }
    read_s = std::chrono::duration<double>(SteadyClock::now() - r0).count();
    std::printf("  of which read + verify: %.0f events/s\n", static_cast<double>(read) / read_s);
  }

  // 2. Catch-up into a fresh database.
  std::string db = "nebu_bench_" + std::to_string(getpid());
  {
    pqxx::connection admin(base_url);
    pqxx::nontransaction tx(admin);
    tx.exec("CREATE DATABASE " + db);
  }
  std::string url = base_url.substr(0, base_url.rfind('/') + 1) + db;
  auto migrated = projections::MigrateUp(url);
  if (!migrated.ok()) {
    std::fprintf(stderr, "migrate: %s\n", migrated.status().ToString().c_str());
    return 1;
  }
  projections::ReadLimits limits;
  limits.entries_max = batch_entries;
  auto catch_up_done = std::make_unique<projections::Projector>(
      engine.store(), projections::ProjectorOptions{.db_url = url, .limits = limits});
  projections::Projector& catch_up = *catch_up_done;
  auto c0 = SteadyClock::now();
  uint64_t last_print = 0;
  Status s = catch_up.CatchUpEvents([&](const projections::ProjectorStats& st) {
    if (st.events_projected - last_print >= 100'000) {
      last_print = st.events_projected;
      double el = std::chrono::duration<double>(SteadyClock::now() - c0).count();
      std::fprintf(stderr, "  catch-up: %llu events, %.0f events/s\n",
                   static_cast<unsigned long long>(st.events_projected),
                   static_cast<double>(st.events_projected) / el);
    }
  });
  double catch_up_s = std::chrono::duration<double>(SteadyClock::now() - c0).count();
  if (!s.ok()) {
    std::fprintf(stderr, "catch-up: %s\n", s.ToString().c_str());
    return 1;
  }
  uint64_t projected = catch_up.Stats().events_projected;
  std::printf("catch-up: %llu events into PostgreSQL in %.1f s: %.0f events/s (target >= 50000)\n",
              static_cast<unsigned long long>(projected), catch_up_s,
              static_cast<double>(projected) / catch_up_s);
  // 2b. The full-text pass over the same backlog (it follows the events: projector.h).
  auto s0 = SteadyClock::now();
  s = catch_up.CatchUpSearch();
  double search_s = std::chrono::duration<double>(SteadyClock::now() - s0).count();
  if (!s.ok()) {
    std::fprintf(stderr, "search catch-up: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("search pass: %llu events in %.1f s: %.0f events/s; events + search: %.0f events/s\n",
              static_cast<unsigned long long>(projected), search_s,
              static_cast<double>(projected) / search_s,
              static_cast<double>(projected) / (catch_up_s + search_s));

  // 3. Lag at a steady rate.
  std::mutex mu;
  std::map<storage::StreamPosition, SteadyClock::time_point> acked;  // guarded by mu
  std::vector<double> lags_ms;                                        // guarded by mu
  storage::StreamPosition committed = 0;                              // guarded by mu
  projections::Projector live(
      engine.store(),
      {.db_url = url,
       .notifier = &engine.notifier(),
       .on_commit = [&](storage::StreamPosition upto, size_t) {
         auto now = SteadyClock::now();
         std::lock_guard lock(mu);
         committed = std::max(committed, upto);
         for (auto it = acked.begin(); it != acked.end() && it->first <= upto;) {
           lags_ms.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
           it = acked.erase(it);
         }
       }});
  live.Start();
  {
    AsyncWriter writer(engine);
    auto start = SteadyClock::now();
    uint64_t total = static_cast<uint64_t>(rate * lag_seconds);
    for (uint64_t i = 0; i < total; ++i) {
      std::this_thread::sleep_until(start + std::chrono::duration<double>(static_cast<double>(i) / rate));
      writer.Send(MessageCommand(rooms, backlog + i), [&](storage::StreamPosition position) {
        auto now = SteadyClock::now();
        std::lock_guard lock(mu);
        if (position <= committed) {
          lags_ms.push_back(0);  // projected before the writer heard back
        } else {
          acked[position] = now;
        }
      });
    }
    writer.Drain();
  }
  // Let the projector finish what is in flight.
  for (int i = 0; i < 500 && live.Stats().lag_entries > 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  live.Stop();
  {
    std::lock_guard lock(mu);
    if (!acked.empty()) std::printf("warning: %zu events not projected at the end\n", acked.size());
    size_t n = lags_ms.size();
    double p50 = bench::Percentile(lags_ms, 50), p99 = bench::Percentile(lags_ms, 99);
    double max = lags_ms.empty() ? 0 : lags_ms.back();
    std::printf("lag at %.0f events/s for %.0f s: %zu events, p50 %.1f ms, p99 %.1f ms, max %.1f ms "
                "(target p99 < 1000 ms)\n",
                rate, lag_seconds, n, p50, p99, max);
  }
  std::printf("peak RSS %.0f MiB\n", bench::PeakRssMiB());
  live.Stop();
  std::fflush(stdout);
  catch_up_done.reset();  // closes its connection
  try {
    pqxx::connection admin(base_url);
    pqxx::nontransaction tx(admin);
    tx.exec("DROP DATABASE " + db);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "warning: could not drop %s: %s\n", db.c_str(), e.what());
  }
  return 0;
}
