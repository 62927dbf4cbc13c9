// Metrics: the Prometheus registry of one nebu process and the HTTP request metrics.
//
//   Metrics metrics;
//   metrics.RecordRequest("client", "/_matrix/client/versions", "GET", 200, 0.0004);
//   std::string text = metrics.Serialize();  // served on the ops listener's /metrics
//
// Series (label cardinality is bounded: route is the route's pattern, not the path;
// unknown methods are "OTHER"; requests that matched no route are "(unmatched)"):
//   nebu_http_requests_total{listener, route, method, status}          counter
//   nebu_http_request_duration_seconds{listener, route}                histogram
//   nebu_ephemeral_updates_dropped_total   counter, in a cluster only (app/main.cpp):
//       typing/presence updates not shared through etcd (queue full or write failed)
// Other modules register their own families on registry(), or a counter or gauges
// they keep themselves with AddCounterFunction() / AddGaugeFunction().
// The engine's figures (app/engine_metrics.h adds them; names there):
//   nebu_commit_seconds   histogram  proposing a command to its applied outcome (commit,
//                         fsync or quorum, apply), fed by ObserveCommit
//   nebu_commit_group_size  histogram  commands per commit group (kCommitGroupBuckets),
//                         fed by ObserveCommitGroup once per group
//
// Thread-safety: all methods are safe from any thread.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace prometheus {
class Registry;
}  // namespace prometheus

namespace nebu::api {

class Metrics {
 public:
  // Route label for requests that matched no route or were rejected before routing.
  static constexpr std::string_view kUnmatchedRoute = "(unmatched)";
  // nebu_commit_group_size's upper bounds, in commands: 1, 2, 4, ... 4096 (the
  // committers' largest group, LocalCommitterOptions::group_max and
  // replication::kGroupCommandsMax), then +Inf.
  static constexpr size_t kCommitGroupBuckets = 13;
  static constexpr size_t kCommitGroupBucketMaxCommands = size_t{1} << (kCommitGroupBuckets - 1);

  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Counts one answered request and observes its handling time.
  void RecordRequest(std::string_view listener, std::string_view route, std::string_view method,
                     int status, double duration_seconds);

  // Adds the counter `name` (no labels) whose value is `read()` at each Serialize(): a
  // count another module keeps (e.g. EtcdEphemeralBus::dropped()). `read` is called
  // from any thread and must stay valid while this Metrics lives. `name` must be a
  // valid Prometheus metric name not used by another family (programmer error).
  void AddCounterFunction(std::string name, std::string help, std::function<double()> read);

  // One labelled sample of a gauge function.
  struct Sample {
    std::vector<std::pair<std::string, std::string>> labels;  // name, value
    double value = 0;
  };
  // Adds the gauge `name` whose samples are `read()` at each Serialize() (e.g. RocksDB
  // properties per database, {"db","state"}). The same rules as AddCounterFunction;
  // label names must be valid Prometheus label names and each sample's label set
  // distinct (programmer errors).
  void AddGaugeFunction(std::string name, std::string help,
                        std::function<std::vector<Sample>()> read);

  // One command's way from Propose to its outcome (app/engine_metrics.h times it).
  // Safe from any thread.
  void ObserveCommit(double seconds);
  // One committed group of `commands` commands (app/engine_metrics.h; once per group,
  // never per command). Safe from any thread.
  void ObserveCommitGroup(size_t commands);

  // The Prometheus text exposition format (version 0.0.4) of every registered family.
  [[nodiscard]] std::string Serialize() const;

  [[nodiscard]] prometheus::Registry& registry();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace nebu::api
