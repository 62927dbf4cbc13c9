// EtcdLog: the OrderedLog (ordered_log.h) on etcd v3, through EtcdClient.
//
//   NEBU_ASSIGN_OR_RETURN(auto etcd, EtcdClient::Create({.endpoints = endpoints}));
//   EtcdLog log(etcd.get(), "/nebu");
//   NEBU_ASSIGN_OR_RETURN(uint64_t rev, log.Append(group_key, group_bytes, 2s));
//   NEBU_ASSIGN_OR_RETURN(auto records, log.ReadAfter(applied, 256, 500ms));
//
// Key layout under the prefix P (no trailing slash):
//   P/log/<key>   one record per key, written once (create-if-absent); the key's
//                 create revision (= its mod revision: records are never updated) is
//                 the record's revision
//   P/trimmed     the trim point: decimal revision, zero-padded to 20 digits
//
// Append is one Txn (create revision == 0 → put, else read the create revision), so
// a retried Append returns the first one's revision and writes nothing.
//
// ReadAfter is served from one etcd watch on P/log/, started from after+1 by the
// first ReadAfter and kept open: the watch thread buffers PUT events (up to
// kEtcdLogBufferRecordsMax records / kEtcdLogBufferBytesMax bytes; beyond that it
// stops reading the stream and etcd holds the rest) and wakes a waiting reader as
// soon as they arrive. Records at or below the last `after` asked are dropped. A
// ReadAfter whose `after` is older than what the buffer still covers restarts the
// watch from after+1 (etcd replays its history), so a single reader moving forward
// (the applier) is the fast path. DELETE events (Trim) are not records.
//
// Trim(revision) deletes the log keys with revision <= revision (Txns of
// kEtcdLogTrimOpsMax deletes), raises P/trimmed to it (never lowers it), then
// compacts etcd's history up to it. ReadAfter answers kNotFound "trimmed: ..." when
// `after` < the trim point, or when etcd reports the watch's start compacted. (The
// trim point is re-read when the watch restarts and after the watch saw a Trim's
// deletes; records a live watch buffered before another node's Trim reached it may
// still be returned: they are real records, only no longer in etcd.)
//
// kUnavailable: Append as EtcdClient's calls; ReadAfter when its watch is not
// connected (last connection attempt failed) and nothing is buffered.
//
// Thread-safety: all methods are safe from any thread. The EtcdClient must outlive
// the log.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>

#include "replication/etcd_client.h"
#include "replication/ordered_log.h"

namespace nebu::replication {

// Records the watch buffers ahead of the reader, and their total value bytes.
inline constexpr size_t kEtcdLogBufferRecordsMax = 8192;
inline constexpr size_t kEtcdLogBufferBytesMax = 64 << 20;
// Deletes per Trim transaction (etcd's default --max-txn-ops is 128).
inline constexpr size_t kEtcdLogTrimOpsMax = 128;
// Keys Trim lists per Range while deleting.
inline constexpr int64_t kEtcdLogTrimRangeLimit = 1024;

class EtcdLog final : public OrderedLog {
 public:
  // `prefix`: the cluster's prefix, e.g. "/nebu" (NEBU_ETCD_PREFIX).
  EtcdLog(EtcdClient* etcd, std::string prefix);
  ~EtcdLog() override;

  Result<uint64_t> Append(std::string_view key, std::string_view value,
                          std::chrono::milliseconds timeout) override;
  Result<std::vector<LogRecord>> ReadAfter(uint64_t after, size_t max,
                                           std::chrono::milliseconds wait) override;
  Status Trim(uint64_t revision) override;
  Result<uint64_t> TrimmedThrough() override;

  // The revision of the newest record in the log (0: none), read linearizably with one
  // etcd Range (P/log/, newest mod revision first, limit 1, keys only: etcd still reads
  // every untrimmed record's key to sort them, a few hundred while the trim keeps up).
  // The read barrier's first step (ClusterNode::NewestLogRevision). etcd's errors.
  Result<uint64_t> NewestRevision(std::chrono::milliseconds timeout);

  const std::string& log_prefix() const { return log_prefix_; }

 private:
  // Called on the watch thread; false ends that watch.
  bool OnWatch(uint64_t generation, const EtcdWatchUpdate& update);
  // Replaces the watch by one from `from` (clears the buffer). Takes and releases mu_.
  void RestartWatch(uint64_t from);
  Status RefreshTrimmed();

  EtcdClient* const etcd_;
  const std::string prefix_;
  const std::string log_prefix_;   // prefix_ + "/log/"
  const std::string trimmed_key_;  // prefix_ + "/trimmed"

  std::mutex watch_mu_;  // serializes RestartWatch (held while the old watch stops)
  std::unique_ptr<EtcdWatch> watch_;  // guarded by watch_mu_

  std::mutex mu_;
  std::condition_variable cv_;
  uint64_t generation_ = 0;    // of the current watch; guarded by mu_
  uint64_t covered_from_ = 0;  // every record >= it that arrived is buffered (0: no watch)
  std::deque<LogRecord> buffer_;  // increasing revisions; guarded by mu_
  size_t buffer_bytes_ = 0;
  uint64_t compacted_ = 0;      // the current watch's start was compacted (0: no)
  bool connected_ = false;      // the current watch is established
  Status watch_error_;          // why it is not, if it broke
  uint64_t trimmed_ = 0;        // last known trim point
  bool trimmed_stale_ = true;   // a delete was seen or never read: read P/trimmed again
};

}  // namespace nebu::replication
