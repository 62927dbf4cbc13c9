// OrderedLog: the replicated, totally ordered log the cluster's committer writes its
// groups to and every node reads them back from. In production it is etcd v3
// (replication/etcd_log.h: one key per group under <prefix>/log/, the key's create
// revision is the order); tests use an in-process fake with injected faults
// (tests/replication). docs/architecture.md, section Cluster, has the whole design.
//
//   NEBU_ASSIGN_OR_RETURN(uint64_t rev, log.Append(key, group_bytes, 2s));
//   NEBU_ASSIGN_OR_RETURN(auto records, log.ReadAfter(applied_revision, 256, 500ms));
//
// Thread-safety: every method is safe from any thread; Append may be called from
// several threads at once (several groups in flight).
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"

namespace nebu::replication {

struct LogRecord {
  uint64_t revision = 0;  // strictly increasing along the log; gaps allowed
  std::string key;        // the key given to Append (relative to the log's prefix)
  std::string value;
};

class OrderedLog {
 public:
  virtual ~OrderedLog() = default;

  // Writes `value` under `key` unless the key exists (create-if-absent, so a retried
  // Append of a group that already landed adds nothing). Returns the revision the key
  // was created at, now or by an earlier Append (then the value is not compared).
  // Returns once the write is durable on a quorum. kUnavailable when the outcome is
  // unknown (timed out, connection lost: the write may still land, so retry with the
  // same key); kTooLarge when the value exceeds the log's request limit.
  virtual Result<uint64_t> Append(std::string_view key, std::string_view value,
                                  std::chrono::milliseconds timeout) = 0;

  // Up to `max` records with revision > `after`, in revision order. When none exist
  // yet it waits up to `wait` for one and returns an empty vector if none came.
  // kNotFound ("trimmed: ...") when records after `after` were trimmed (the reader
  // fell behind the trim point and must copy a peer's checkpoint); kUnavailable when
  // the log cannot be reached (the caller retries with back-off).
  virtual Result<std::vector<LogRecord>> ReadAfter(uint64_t after, size_t max,
                                                   std::chrono::milliseconds wait) = 0;

  // Deletes every record with revision <= `revision` and compacts the log's history
  // up to it. Only called once every node (and the projector) has applied it.
  virtual Status Trim(uint64_t revision) = 0;

  // The revision records at or below which are trimmed (0: none).
  virtual Result<uint64_t> TrimmedThrough() = 0;
};

}  // namespace nebu::replication
