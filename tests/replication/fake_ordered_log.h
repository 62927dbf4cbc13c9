// FakeOrderedLog: an in-process OrderedLog with injected faults, for the cluster
// committer's tests. One instance is the "etcd" every fake node shares.
//
//   FakeOrderedLog log(seed);
//   log.SetFaults({.lose_answer = 0.1, .fail_append = 0.1, .read_disconnect = 0.05});
//   ... nodes append and read ...
//   log.SetFaults({});  // quiescence
//
// Faults (each drawn from one RNG seeded by the constructor, under the log's mutex,
// so a run's draws are reproducible up to thread interleaving):
//   fail_append     Append lands nothing and answers kUnavailable;
//   lose_answer     Append lands, then answers kUnavailable (the caller retries);
//   duplicate       after landing, a second record with the same key and value is
//                   landed at the next Append (what a retry re-creating a key that a
//                   trim deleted does in etcd);
//   delay           Append waits up to delay_ms_max before landing, so concurrent
//                   Appends land out of the order they were called in;
//   read_disconnect ReadAfter answers kUnavailable;
//   down            everything answers kUnavailable (SetDown).
// Revisions have gaps (each record takes 1..3 revisions, as other keys share etcd's
// revision counter). Trim deletes records and their keys (a later Append of a
// trimmed key lands again); ReadAfter below the trim point is kNotFound.
//
// Thread-safety: every method is safe from any thread.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "replication/ordered_log.h"

namespace nebu::replication::testing {

struct LogFaults {
  double fail_append = 0;
  double lose_answer = 0;
  double duplicate = 0;
  double delay = 0;
  int delay_ms_max = 3;
  double read_disconnect = 0;
};

class FakeOrderedLog final : public OrderedLog {
 public:
  explicit FakeOrderedLog(uint64_t seed) : rng_(seed) {}

  Result<uint64_t> Append(std::string_view key, std::string_view value,
                          std::chrono::milliseconds timeout) override;
  Result<std::vector<LogRecord>> ReadAfter(uint64_t after, size_t max,
                                           std::chrono::milliseconds wait) override;
  Status Trim(uint64_t revision) override;
  Result<uint64_t> TrimmedThrough() override;

  void SetFaults(const LogFaults& faults);
  // While down, every call answers kUnavailable at once (nothing lands).
  void SetDown(bool down);
  // Lands a record as is (no create-if-absent): tests forge duplicates and garbage.
  uint64_t ForceAppend(std::string_view key, std::string_view value);

  uint64_t last_revision() const;
  size_t record_count() const;
  // Every live record, in revision order.
  std::vector<LogRecord> Records() const;
  // Appends that landed (counting forced ones and duplicates).
  uint64_t landed() const;

 private:
  bool Draw(double p);                                                // requires mu_
  uint64_t LandLocked(std::string_view key, std::string_view value);  // requires mu_

  mutable std::mutex mu_;
  std::condition_variable landed_cv_;
  std::mt19937_64 rng_;                                // guarded by mu_
  LogFaults faults_;                                   // guarded by mu_
  bool down_ = false;                                  // guarded by mu_
  std::map<uint64_t, LogRecord> records_;              // guarded by mu_: by revision
  std::map<std::string, uint64_t, std::less<>> keys_;  // guarded by mu_: live key -> revision
  std::optional<std::pair<std::string, std::string>> pending_duplicate_;  // guarded by mu_
  uint64_t revision_ = 0;                                                 // guarded by mu_
  uint64_t trimmed_through_ = 0;                                          // guarded by mu_
  uint64_t landed_ = 0;                                                   // guarded by mu_
};

}  // namespace nebu::replication::testing
