// EngineMetrics: the engine's figures on the ops listener's /metrics (api/metrics.h),
// next to the HTTP series (per-route latency: nebu_http_request_duration_seconds).
//
//   api::Metrics metrics;
//   EngineMetrics engine_metrics(metrics);
//   engine_metrics.Instrument(&engine_options);   // after the cluster's Configure
//   ... open the engine, PostgreSQL ...
//   engine_metrics.Attach(*engine, [&pg] { return pg->Ready(); });     // or nullptr
//
// Series (gauges and counters are read at each scrape):
//   nebu_commit_seconds             histogram: Propose to outcome of every command
//                                   (commit + fsync, or the cluster's quorum, + apply)
//   nebu_commit_groups_total        commit groups written (one fsync each; single node):
//                                   the mean group size is
//                                   rate(nebu_commit_seconds_count) / rate(this)
//   nebu_committed_index            last committed command index (single node)
//   nebu_applied_index              the state machine's applied index
//   nebu_apply_lag_commands         committed - applied (single node; 0 in a cluster,
//                                   where /ready's cluster.lag is the apply lag)
//   nebu_stream_position            the stream position readers see
//   nebu_sync_waiters               notifier subscriptions pending: parked /sync
//                                   long-polls, plus the notification worker's and
//                                   the projector's own wait (1 or 2 when idle)
//   nebu_rocksdb_estimate_keys{db}            rocksdb.estimate-num-keys (all families)
//   nebu_rocksdb_sst_files_bytes{db}          rocksdb.total-sst-files-size
//   nebu_rocksdb_memtables_bytes{db}          rocksdb.cur-size-all-mem-tables
//   nebu_rocksdb_pending_compaction_bytes{db} rocksdb.estimate-pending-compaction-bytes
//   nebu_rocksdb_running_compactions{db}      rocksdb.num-running-compactions
//       db="state" (<data>/db) and db="log" (<data>/log, the commit log)
//   nebu_projector_lag_entries, nebu_projector_lag_seconds: with PostgreSQL
//       (NEBU_DB_URL), the projector's lag_entries and lag_ms of /ready
//
// Thread-safety: commits are timed on the proposers' and apply threads, the gauges read
// on scrapers' threads. Lifetime: this object outlives the engine it instruments;
// `engine` and the probe must stay valid while /metrics can be scraped (stop the
// server first).
#pragma once

#include <atomic>
#include <functional>

#include "api/metrics.h"
#include "api/ops.h"
#include "engine/core/committer.h"
#include "engine/core/engine.h"

namespace nebu::app {

class EngineMetrics {
 public:
  explicit EngineMetrics(api::Metrics& metrics) : metrics_(metrics) {}
  EngineMetrics(const EngineMetrics&) = delete;
  EngineMetrics& operator=(const EngineMetrics&) = delete;

  // Wraps the committer `options` make (the cluster's, or the local one of
  // options->commit) so that every command's commit is timed.
  void Instrument(core::EngineOptions* options);

  // Registers the gauges over `engine` and, when set, the PostgreSQL probe.
  void Attach(core::Engine& engine, std::function<api::Readiness()> projection);

 private:
  api::Metrics& metrics_;
  std::atomic<const core::LocalCommitter*> local_{nullptr};  // the single node's
};

}  // namespace nebu::app
