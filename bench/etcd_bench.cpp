// EtcdLog Append latency and throughput against a running etcd (start a 3-member one
// with `scripts/etcd.sh start --members=3`). Each Append is one etcd Txn
// (create-if-absent) of --value-bytes bytes under a fresh prefix.
//
//   bench_etcd --endpoints=$(scripts/etcd.sh endpoints) [--appends=1000] [--writers=16]
//              [--value-bytes=1024] [--seconds=10]
//
// Prints: 1 writer p50/p99/max (ms) and Appends/s; then --writers concurrent writers:
// Appends/s and p50/p99. Every loop is bounded by count and by --seconds.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <mutex>
#include <random>
#include <thread>
#include <vector>

#include "bench/bench_util.h"
#include "replication/etcd_log.h"

namespace nb = nebu::bench;
namespace nr = nebu::replication;
using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

namespace {

struct Run {
  std::vector<double> latencies_ms;
  double seconds = 0;
  int errors = 0;
};

Run Writers(nr::EtcdLog& log, int writers, int appends, size_t value_bytes, double seconds_max) {
  Run run;
  std::mutex mu;
  std::atomic<int> next{0};
  const std::string value(value_bytes, 'v');
  const auto start = Clock::now();
  const auto stop = start + std::chrono::duration<double>(seconds_max);
  std::vector<std::thread> threads;
  for (int w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      std::vector<double> mine;
      int errors = 0;
      for (int i = next++; i < appends && Clock::now() < stop; i = next++) {
        auto t0 = Clock::now();
        auto rev = log.Append("w" + std::to_string(w) + "/" + std::to_string(i), value, 5s);
        if (!rev.ok()) {
          ++errors;
          continue;
        }
        mine.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
      std::lock_guard lock(mu);
      run.latencies_ms.insert(run.latencies_ms.end(), mine.begin(), mine.end());
      run.errors += errors;
    });
  }
  for (auto& t : threads) t.join();
  run.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return run;
}

void Print(const char* what, Run& run) {
  size_t n = run.latencies_ms.size();
  std::printf("%-22s %6zu appends in %.2f s: %8.0f appends/s  p50 %.2f ms  p99 %.2f ms  max %.2f ms"
              "  errors %d\n",
              what, n, run.seconds, n / std::max(run.seconds, 1e-9),
              nb::Percentile(run.latencies_ms, 50), nb::Percentile(run.latencies_ms, 99),
              nb::Percentile(run.latencies_ms, 100), run.errors);
}

}  // namespace

int main(int argc, char** argv) {
  nb::PrintCommand(argc, argv);
  std::string endpoints_csv = nb::Arg(argc, argv, "endpoints", "");
  int appends = std::stoi(nb::Arg(argc, argv, "appends", "1000"));
  int writers = std::stoi(nb::Arg(argc, argv, "writers", "16"));
  size_t value_bytes = std::stoul(nb::Arg(argc, argv, "value-bytes", "1024"));
  double seconds = std::stod(nb::Arg(argc, argv, "seconds", "10"));
  auto endpoints = nr::EtcdClientOptions::ParseEndpoints(endpoints_csv);
  if (!endpoints.ok()) {
    std::fprintf(stderr, "bench_etcd: --endpoints: %s\n", endpoints.status().ToString().c_str());
    return 2;
  }
  auto etcd = nr::EtcdClient::Create({.endpoints = *endpoints});
  if (!etcd.ok()) {
    std::fprintf(stderr, "bench_etcd: %s\n", etcd.status().ToString().c_str());
    return 1;
  }
  std::random_device rd;
  std::string prefix = "/nebu-bench/" + std::to_string(rd());
  nr::EtcdLog log(etcd->get(), prefix);
  auto status = (*etcd)->MaintenanceStatus();
  std::printf("etcd %s, %zu endpoint(s), value %zu bytes\n",
              status.ok() ? status->version.c_str() : "unreachable", endpoints->size(), value_bytes);

  Run one = Writers(log, 1, appends, value_bytes, seconds);
  Print("1 writer:", one);
  Run many = Writers(log, writers, appends * 4, value_bytes, seconds);
  std::string label = std::to_string(writers) + " writers:";
  Print(label.c_str(), many);
  (void)(*etcd)->DeleteRange(prefix, /*prefix=*/true);
  return one.errors + many.errors > 0 ? 1 : 0;
}
