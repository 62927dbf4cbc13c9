#include "app/engine_metrics.h"

#include <rocksdb/db.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace nebu::app {
namespace {

using Samples = std::vector<api::Metrics::Sample>;

double Number(const boost::json::object& body, std::string_view section, std::string_view key) {
  const boost::json::value* outer = body.if_contains(section);
  if (outer == nullptr || !outer->is_object()) return 0;
  const boost::json::value* inner = outer->as_object().if_contains(key);
  return inner != nullptr && inner->is_number() ? inner->to_number<double>() : 0;
}

// One RocksDB property of both databases, labelled db="state" / db="log".
// A cluster node leaves db="log" out: its commit log is etcd, the local one stays empty.
std::function<Samples()> RocksDbProperty(core::Engine& engine, std::string property,
                                         bool aggregated, bool with_log) {
  return [&engine, property, aggregated, with_log] {
    Samples samples;
    for (auto [label, store] : {std::pair{"state", &engine.store()},
                                std::pair{"log", &engine.commit_log_store()}}) {
      if (!with_log && label == std::string_view("log")) continue;
      rocksdb::DB* db = store->db();
      if (db == nullptr) continue;
      uint64_t value = 0;
      const bool ok = aggregated ? db->GetAggregatedIntProperty(property, &value)
                                 : db->GetIntProperty(property, &value);
      if (ok) samples.push_back({.labels = {{"db", label}}, .value = static_cast<double>(value)});
    }
    return samples;
  };
}

bool Standby(const boost::json::object& body) {
  const boost::json::value* projector = body.if_contains("projector");
  if (projector == nullptr || !projector->is_object()) return false;
  const boost::json::value* role = projector->as_object().if_contains("role");
  return role != nullptr && role->is_string() && role->as_string() == "standby";
}

std::function<Samples()> One(std::function<double()> read) {
  return [read = std::move(read)] { return Samples{{.labels = {}, .value = read()}}; };
}

// A committer that times each proposal to its outcome, then forwards everything.
class TimedCommitter final : public core::Committer {
 public:
  TimedCommitter(std::unique_ptr<core::Committer> inner, api::Metrics& metrics)
      : inner_(std::move(inner)), metrics_(metrics) {}
  void Propose(core::Command command, core::ProposalDone done) override {
    const auto start = std::chrono::steady_clock::now();
    inner_->Propose(std::move(command), [&metrics = metrics_, start, done = std::move(done)](
                                            core::ApplyOutcome outcome) {
      metrics.ObserveCommit(
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      done(std::move(outcome));
    });
  }
  Status Start() override { return inner_->Start(); }
  void Stop() override { inner_->Stop(); }
  Status write_status() const override { return inner_->write_status(); }
  void SetGroupObserver(core::GroupObserver observer) override {
    inner_->SetGroupObserver(std::move(observer));
  }

 private:
  std::unique_ptr<core::Committer> inner_;
  api::Metrics& metrics_;
};

}  // namespace

void EngineMetrics::Instrument(core::EngineOptions* options) {
  options->make_committer = [this, inner = options->make_committer, local = options->commit](
                                storage::Store& log,
                                core::Applier& applier) -> Result<std::unique_ptr<core::Committer>> {
    std::unique_ptr<core::Committer> committer;
    if (inner) {
      NEBU_ASSIGN_OR_RETURN(committer, inner(log, applier));
    } else {
      auto made = std::make_unique<core::LocalCommitter>(log, applier, local);
      local_ = made.get();
      committer = std::move(made);
    }
    committer->SetGroupObserver([this](size_t commands) {
      groups_.fetch_add(1, std::memory_order_relaxed);
      metrics_.ObserveCommitGroup(commands);
    });
    return std::unique_ptr<core::Committer>(
        std::make_unique<TimedCommitter>(std::move(committer), metrics_));
  };
}

void EngineMetrics::AddSingleNodeSeries(core::Engine& engine) {
  auto committed = [this] {
    const core::LocalCommitter* local = local_.load();
    return local != nullptr ? static_cast<double>(local->last_committed()) : 0.0;
  };
  metrics_.AddGaugeFunction("nebu_committed_index", "Last committed command index (single node)",
                            One(committed));
  metrics_.AddGaugeFunction(
      "nebu_apply_lag_commands", "Commands committed but not yet applied (single node)",
      One([committed, &engine] {
        const double applied = static_cast<double>(engine.applied_index());
        const double last = committed();
        return last > applied ? last - applied : 0.0;
      }));
}

void EngineMetrics::AddClusterSeries(const api::ClusterView& cluster) {
  metrics_.AddGaugeFunction(
      "nebu_cluster_applied_revision", "etcd revision of the last group this node applied",
      One([&cluster] { return static_cast<double>(cluster.Health().applied_revision); }));
  metrics_.AddGaugeFunction(
      "nebu_cluster_apply_lag_revisions",
      "etcd revisions this node has seen in the log but not yet applied",
      One([&cluster] {
        const api::ClusterHealth health = cluster.Health();
        return health.head_revision > health.applied_revision
                   ? static_cast<double>(health.head_revision - health.applied_revision)
                   : 0.0;
      }));
}

void EngineMetrics::Attach(core::Engine& engine, std::function<api::Readiness()> projection,
                           const api::ClusterView* cluster) {
  metrics_.AddCounterFunction(
      "nebu_commit_groups_total",
      "Commit groups written (single node: one fsync each; cluster: this node's Appends)",
      [this] { return static_cast<double>(groups_.load(std::memory_order_relaxed)); });
  if (cluster != nullptr) {
    AddClusterSeries(*cluster);
  } else {
    AddSingleNodeSeries(engine);
  }
  metrics_.AddGaugeFunction("nebu_applied_index", "The state machine's applied command index",
                            One([&engine] { return static_cast<double>(engine.applied_index()); }));
  metrics_.AddGaugeFunction(
      "nebu_stream_position", "The stream position readers see",
      One([&engine] { return static_cast<double>(engine.stream_position()); }));
  metrics_.AddGaugeFunction(
      "nebu_sync_waiters", "Notifier subscriptions pending: parked /sync long-polls",
      One([&engine] { return static_cast<double>(engine.notifier().pending()); }));
  struct Property {
    const char* name;
    const char* help;
    const char* property;
    bool aggregated;
  };
  for (const Property& p :
       {Property{"nebu_rocksdb_estimate_keys", "RocksDB estimate of the keys in all families",
                 "rocksdb.estimate-num-keys", true},
        Property{"nebu_rocksdb_sst_files_bytes", "RocksDB size of all SST files",
                 "rocksdb.total-sst-files-size", true},
        Property{"nebu_rocksdb_memtables_bytes", "RocksDB size of all memtables",
                 "rocksdb.cur-size-all-mem-tables", true},
        Property{"nebu_rocksdb_pending_compaction_bytes",
                 "RocksDB estimate of the bytes compaction has to rewrite",
                 "rocksdb.estimate-pending-compaction-bytes", true},
        Property{"nebu_rocksdb_running_compactions", "RocksDB compactions running",
                 "rocksdb.num-running-compactions", false}}) {
    metrics_.AddGaugeFunction(p.name, p.help, RocksDbProperty(engine, p.property, p.aggregated,
                                                              /*with_log=*/cluster == nullptr));
  }
  if (!projection) return;
  auto projector = [projection](std::string_view key, double scale) {
    return [projection, key, scale] {
      const boost::json::object body = projection().body;
      if (Standby(body)) return Samples{};
      return Samples{{.labels = {}, .value = Number(body, "projector", key) * scale}};
    };
  };
  metrics_.AddGaugeFunction("nebu_projector_lag_entries",
                            "Stream entries not yet projected into PostgreSQL",
                            projector("lag_entries", 1));
  metrics_.AddGaugeFunction("nebu_projector_lag_seconds",
                            "Age of the oldest event not yet projected into PostgreSQL",
                            projector("lag_ms", 0.001));
}

}  // namespace nebu::app
