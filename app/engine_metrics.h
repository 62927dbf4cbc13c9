// EngineMetrics: the engine's figures on the ops listener's /metrics (api/metrics.h),
// next to the HTTP series (per-route latency: nebu_http_request_duration_seconds).
//
//   api::Metrics metrics;
//   EngineMetrics engine_metrics(metrics);
//   engine_metrics.Instrument(&engine_options);   // after the cluster's Configure
//   ... open the engine, PostgreSQL ...
//   engine_metrics.Attach(*engine, [&pg] { return pg->Ready(); },      // or nullptr
//                         cluster.get());                              // nullptr: one node
//
// Series (gauges and counters are read at each scrape):
//   nebu_commit_seconds             histogram: Propose to outcome of every command
//                                   (commit + fsync, or the cluster's quorum, + apply)
//   nebu_commit_group_size          histogram: commands per commit group, buckets
//                                   1, 2, 4, ... 4096 (api::Metrics::kCommitGroupBuckets).
//                                   A group is, on a single node, one commit-log write
//                                   (one fsync); in a cluster, the proposals one writer
//                                   thread of this node put into one Append to etcd (one
//                                   quorum write), observed once the Append succeeded.
//                                   Groups other nodes appended are not counted here.
//   nebu_commit_groups_total        commit groups written (= nebu_commit_group_size_count);
//                                   the mean group size is
//                                   rate(nebu_commit_group_size_sum) / rate(this)
// Single node only (left out on a cluster node, where command indexes are assigned
// at apply, so there is no committed-but-unapplied index to show):
//   nebu_committed_index            last committed command index
//   nebu_apply_lag_commands         committed - applied
// Cluster node only (NEBU_ETCD_ENDPOINTS):
//   nebu_cluster_applied_revision   etcd revision of the last group applied here
//   nebu_cluster_apply_lag_revisions  revisions seen in the log but not yet applied
//                                   here (/ready's cluster.lag: head - applied)
// Both:
//   nebu_applied_index              the state machine's applied index
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
//       (NEBU_DB_URL), the projector's lag_entries and lag_ms of /ready; no sample on
//       a cluster node whose projector stands by (another node projects; its figures
//       would be this node's whole stream)
//
// Cost on the write path: one histogram observation per command (nebu_commit_seconds)
// and one per group (nebu_commit_group_size, on the committer's thread).
//
// Thread-safety: commits are timed on the proposers' and apply threads, the gauges read
// on scrapers' threads. Lifetime: this object outlives the engine it instruments;
// `engine` and the probe must stay valid while /metrics can be scraped (stop the
// server first).
#pragma once

#include <atomic>
#include <functional>

#include "api/cluster_view.h"
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
  // options->commit) so that every command's commit is timed, and observes its groups.
  void Instrument(core::EngineOptions* options);

  // Registers the gauges over `engine`, when set the PostgreSQL probe, and with a
  // `cluster` (a cluster node; must outlive the scrapes) the cluster's series instead
  // of the single node's.
  void Attach(core::Engine& engine, std::function<api::Readiness()> projection,
              const api::ClusterView* cluster = nullptr);

 private:
  api::Metrics& metrics_;
  void AddSingleNodeSeries(core::Engine& engine);
  void AddClusterSeries(const api::ClusterView& cluster);

  std::atomic<const core::LocalCommitter*> local_{nullptr};  // the single node's
  std::atomic<uint64_t> groups_{0};                          // groups observed
};

}  // namespace nebu::app
