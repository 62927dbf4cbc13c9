#include "replication/lease_election.h"

#include <pthread.h>

namespace nebu::replication {

using Ms = std::chrono::milliseconds;

LeaseElection::LeaseElection(EtcdClient& etcd, std::string key, std::string candidate_id,
                             int64_t ttl_seconds, int64_t period_ms)
    : etcd_(etcd),
      key_(std::move(key)),
      candidate_id_(std::move(candidate_id)),
      ttl_seconds_(ttl_seconds),
      period_ms_(period_ms) {}

LeaseElection::~LeaseElection() { Stop(); }

void LeaseElection::Start(std::function<void()> on_elected, std::function<void()> on_lost) {
  on_elected_ = std::move(on_elected);
  on_lost_ = std::move(on_lost);
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "nebu-election");
    Loop();
  });
}

void LeaseElection::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::string LeaseElection::holder() const {
  std::lock_guard lock(mu_);
  return holder_;
}

void LeaseElection::Loop() {
  for (;;) {
    const bool was = holding_.load();
    const bool now = Step();
    if (now && !was) {
      holding_ = true;
      if (on_elected_) on_elected_();
    } else if (!now && was) {
      StepDown();
    }
    std::unique_lock lock(mu_);
    if (stop_cv_.wait_for(lock, Ms(period_ms_), [this] { return stopping_; })) break;
  }
  if (holding_) StepDown();
  // Resign: the key goes with the lease, so another candidate takes over at once.
  if (lease_id_ != 0) (void)etcd_.LeaseRevoke(lease_id_, Ms(1000));
}

void LeaseElection::StepDown() {
  holding_ = false;
  if (on_lost_) on_lost_();
}

bool LeaseElection::Step() {
  const auto now = std::chrono::steady_clock::now();
  if (holding_) {
    Result<int64_t> renewed = etcd_.LeaseKeepAliveOnce(lease_id_);
    if (renewed.ok()) {
      last_renewal_ = now;
      return true;
    }
    if (renewed.status().code() == StatusCode::kNotFound) {  // expired or revoked
      lease_id_ = 0;
      return false;
    }
    // etcd unreachable: hold on while the lease may still be alive.
    return now - last_renewal_ < std::chrono::seconds(ttl_seconds_);
  }
  if (lease_id_ == 0) {
    Result<EtcdLease> lease = etcd_.LeaseGrant(ttl_seconds_);
    if (!lease.ok()) return false;
    lease_id_ = lease->id;
  } else if (!etcd_.LeaseKeepAliveOnce(lease_id_).ok()) {
    lease_id_ = 0;  // expired while we waited: a fresh one next period
    return false;
  }
  Result<EtcdPutIfAbsentResult> put = etcd_.PutIfAbsent(key_, candidate_id_, lease_id_);
  if (!put.ok()) return false;
  if (put->created) {
    last_renewal_ = now;
    std::lock_guard lock(mu_);
    holder_ = candidate_id_;
    return true;
  }
  Result<EtcdRangeResult> current = etcd_.Range(key_, {});
  if (current.ok()) {
    std::lock_guard lock(mu_);
    holder_ = current->kvs.empty() ? "" : current->kvs[0].value;
  }
  return false;
}

}  // namespace nebu::replication
