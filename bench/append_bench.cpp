// Durable appends through the whole write path (propose -> group commit fsync ->
// apply): events/s and per-append latency p50/p99 with 1, 8 and 64 concurrent
// writers, then peak RSS. Figures only; no pass/fail.
//
// Two ways to be concurrent: "threads" runs one blocking OS thread per writer;
// "async" keeps N appends in flight from 2 worker threads (SubmitAsync), the way the
// HTTP server drives the engine from its small I/O thread pool.
//
//   build/bench/bench_append [--events=20000] [--seconds=10] [--rooms=16] [--dir=/tmp/x]
//                            [--mode=threads|async|both] [--writers=1,8,64]
//                            [--group-histogram=0|1]
// --group-histogram=1 observes every commit group into /metrics' nebu_commit_group_size
// (api::Metrics::ObserveCommitGroup), as the nebu binary does: its cost, A/B against 0.
#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include "api/metrics.h"
#include "bench/bench_util.h"
#include "engine/core/engine.h"
#include "engine/testing/temp_dir.h"

using namespace nebu;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Figures {
  double events_per_s;
  double p50_ms;
  double p99_ms;
  size_t events;
};

core::SendEventRequest Request(const std::vector<std::string>& rooms, int i) {
  core::SendEventRequest r;
  r.room_id = rooms[static_cast<size_t>(i) % rooms.size()];
  r.sender = "@bench:localhost";
  r.type = "m.room.message";
  r.origin_server_ts = 1'700'000'000'000 + i;
  r.content = boost::json::object{
      {"msgtype", "m.text"},
      {"body", "benchmark message number " + std::to_string(i) +
                   " with some padding to look like a chat line"}};
  return r;
}

Figures Summarize(std::vector<double>& all, double elapsed) {
  Figures f{};
  f.events = all.size();
  f.events_per_s = static_cast<double>(all.size()) / elapsed;
  f.p50_ms = bench::Percentile(all, 50);
  f.p99_ms = bench::Percentile(all, 99);
  return f;
}

// `in_flight` appends outstanding at all times; completions are handed to 2 worker
// threads that record the latency and propose the next append.
Figures RunAsync(core::Engine& engine, const std::vector<std::string>& rooms, int in_flight,
                 int events_max, double seconds_max) {
  struct Done {
    SteadyClock::time_point started;
    core::ApplyOutcome outcome;
  };
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Done> completed;
  std::vector<double> latencies;
  int issued = 0, finished = 0;
  bool stop = false;
  const auto deadline = SteadyClock::now() + std::chrono::duration<double>(seconds_max);
  auto propose = [&](int i) {
    auto started = SteadyClock::now();
    engine.SubmitAsync(*core::MakeSendEventCommand(Request(rooms, i)),
                       [&, started](core::ApplyOutcome out) {
                         std::lock_guard lock(mu);
                         completed.push_back(Done{started, std::move(out)});
                         cv.notify_one();
                       });
  };
  const auto start = SteadyClock::now();
  {
    std::lock_guard lock(mu);
    issued = in_flight;
  }
  for (int i = 0; i < in_flight; ++i) propose(i);
  auto worker = [&] {
    for (;;) {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return stop || !completed.empty(); });
      if (completed.empty()) return;
      Done d = std::move(completed.front());
      completed.pop_front();
      if (!d.outcome.ok()) {
        std::fprintf(stderr, "send failed: %s\n", d.outcome.status().ToString().c_str());
        std::exit(1);
      }
      latencies.push_back(
          std::chrono::duration<double, std::milli>(SteadyClock::now() - d.started).count());
      ++finished;
      bool more = issued < events_max && SteadyClock::now() < deadline;
      int next = issued;
      if (more) ++issued;
      if (!more && finished == issued) {
        stop = true;
        cv.notify_all();
        return;
      }
      lock.unlock();
      if (more) {
        auto parsed = core::DecodeAppended(*d.outcome);  // what a handler would do
        if (!parsed.ok()) std::exit(1);
        propose(next);
      }
    }
  };
  std::thread w1(worker), w2(worker);
  w1.join();
  w2.join();
  double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  return Summarize(latencies, elapsed);
}

Figures Run(core::Engine& engine, const std::vector<std::string>& rooms, int writers,
            int events_max, double seconds_max) {
  std::vector<std::vector<double>> latencies(writers);
  std::atomic<int> next{0};
  const auto deadline = SteadyClock::now() + std::chrono::duration<double>(seconds_max);
  const auto start = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      for (int i = next++; i < events_max && SteadyClock::now() < deadline; i = next++) {
        core::SendEventRequest r = Request(rooms, i);
        auto t0 = SteadyClock::now();
        auto sent = engine.SendEvent(std::move(r));
        auto t1 = SteadyClock::now();
        if (!sent.ok()) {
          std::fprintf(stderr, "send failed: %s\n", sent.status().ToString().c_str());
          std::exit(1);
        }
        latencies[w].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
      }
    });
  }
  for (auto& t : threads) t.join();
  double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  return Summarize(all, elapsed);
}

}  // namespace

int main(int argc, char** argv) {
  bench::PrintCommand(argc, argv);
  const int events_max = std::stoi(bench::Arg(argc, argv, "events", "20000"));
  const double seconds_max = std::stod(bench::Arg(argc, argv, "seconds", "10"));
  const int room_count = std::stoi(bench::Arg(argc, argv, "rooms", "16"));
  testing::TempDir temp;
  const std::string dir = bench::Arg(argc, argv, "dir", temp.path());

  core::EngineOptions options{.data_dir = dir, .server_name = "localhost"};
  api::Metrics metrics;  // outlives the engine
  const bool group_histogram = bench::Arg(argc, argv, "group-histogram", "0") == "1";
  if (group_histogram) {
    options.make_committer = [&metrics, local = options.commit](
                                 storage::Store& log,
                                 core::Applier& applier) -> Result<std::unique_ptr<core::Committer>> {
      auto committer = std::make_unique<core::LocalCommitter>(log, applier, local);
      committer->SetGroupObserver(
          [&metrics](size_t commands) { metrics.ObserveCommitGroup(commands); });
      return std::unique_ptr<core::Committer>(std::move(committer));
    };
  }
  auto engine = core::Engine::Open(std::move(options));
  if (!engine.ok()) {
    std::fprintf(stderr, "open: %s\n", engine.status().ToString().c_str());
    return 1;
  }
  std::vector<std::string> rooms;
  for (int i = 0; i < room_count; ++i) {
    auto r = (*engine)->CreateRoom({.preset = "public_chat"}, "@bench:localhost");
    if (!r.ok()) return 1;
    rooms.push_back(r->room_id);
  }
  std::printf("durable appends (sync=true, group commit), %d rooms, up to %d events or %.0f s\n",
              room_count, events_max, seconds_max);
  const std::string mode_arg = bench::Arg(argc, argv, "mode", "both");
  std::vector<int> writer_counts;
  for (std::string w = bench::Arg(argc, argv, "writers", "1,8,64"); !w.empty();) {
    size_t comma = w.find(',');
    writer_counts.push_back(std::stoi(w.substr(0, comma)));
    w = comma == std::string::npos ? "" : w.substr(comma + 1);
  }
  for (const char* mode : {"threads", "async"}) {
    if (mode_arg != "both" && mode_arg != mode) continue;
    for (int writers : writer_counts) {
      int cap = writers == 1 ? std::min(events_max, 2000) : events_max;
      Figures f = std::string(mode) == "threads"
                      ? Run(**engine, rooms, writers, cap, seconds_max)
                      : RunAsync(**engine, rooms, writers, cap, seconds_max);
      std::printf("%-7s writers=%-3d events=%-7zu appends/s=%-9.0f p50_ms=%-7.3f p99_ms=%.3f\n",
                  mode, writers, f.events, f.events_per_s, f.p50_ms, f.p99_ms);
    }
  }
  if (group_histogram) {
    const std::string text = metrics.Serialize();
    const size_t at = text.find("nebu_commit_group_size_count ");
    std::printf("group_histogram=1 %s\n",
                at == std::string::npos ? "(missing)"
                                        : text.substr(at, text.find('\n', at) - at).c_str());
  }
  std::printf("peak_rss_mib=%.1f\n", bench::PeakRssMiB());
  return 0;
}
