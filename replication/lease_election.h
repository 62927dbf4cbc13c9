// LeaseElection: at most one holder at a time, cluster-wide, of a role (the PostgreSQL
// projector: docs/architecture.md, Cluster), on an etcd lease. The holder's key
// `key` (e.g. "/nebu/projector") holds its ID and is attached to its lease; when the
// holder stops renewing (it died, or lost etcd), the lease expires after `ttl_seconds`
// and the next candidate that tries takes the key.
//
//   LeaseElection election(etcd, "/nebu/projector", "node1/8731...");
//   election.Start([&] { projector.Start(); }, [&] { projector.Stop(); });
//   ...
//   election.Stop();   // resigns: on_lost runs, the lease is revoked (others take over now)
//
// A holder that cannot renew its lease for `ttl_seconds` (etcd unreachable) steps down
// by itself (on_lost), since the lease may have expired and another node may hold the
// role: a hand-over can briefly run two holders, which the projector tolerates (its
// batches are exactly-once under racing projectors).
//
// Thread-safety: all methods are safe from any thread; the callbacks run on the
// election's thread ("nebu-election"), one at a time, and may block (e.g. join threads).
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "replication/etcd_client.h"

namespace nebu::replication {

inline constexpr int64_t kElectionTtlSeconds = 5;
inline constexpr int64_t kElectionPeriodMs = 1000;

class LeaseElection {
 public:
  LeaseElection(EtcdClient& etcd, std::string key, std::string candidate_id,
                int64_t ttl_seconds = kElectionTtlSeconds, int64_t period_ms = kElectionPeriodMs);
  ~LeaseElection();

  void Start(std::function<void()> on_elected, std::function<void()> on_lost);
  // Steps down (on_lost if holding), revokes the lease, joins the thread. Idempotent.
  void Stop();

  bool holding() const { return holding_.load(); }
  // The holder's ID as last seen ("" if none or unknown).
  std::string holder() const;

 private:
  void Loop();
  // One campaign or renewal step; returns whether this candidate holds the role.
  bool Step();
  void StepDown();

  EtcdClient& etcd_;
  const std::string key_;
  const std::string candidate_id_;
  const int64_t ttl_seconds_;
  const int64_t period_ms_;
  std::function<void()> on_elected_, on_lost_;

  int64_t lease_id_ = 0;  // election thread only
  std::chrono::steady_clock::time_point last_renewal_;  // election thread only
  std::atomic<bool> holding_{false};
  mutable std::mutex mu_;
  std::condition_variable stop_cv_;
  bool stopping_ = false;  // guarded by mu_
  std::string holder_;     // guarded by mu_
  std::thread thread_;
};

}  // namespace nebu::replication
