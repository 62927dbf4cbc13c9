// EtcdLeaseKeeper: see etcd_client.h.
#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "replication/etcd_client.h"

namespace nebu::replication {

struct EtcdLeaseKeeper::State {
  EtcdClient* etcd;
  int64_t ttl_seconds;
  std::function<void(int64_t)> on_new_lease;
  mutable std::mutex mu;
  std::condition_variable cv;
  bool stop = false;          // guarded by mu
  int64_t lease_id = 0;       // guarded by mu
  nebu::Status last_error;    // guarded by mu
  std::thread thread;
};

EtcdLeaseKeeper::EtcdLeaseKeeper(EtcdClient* etcd, int64_t ttl_seconds,
                                 std::function<void(int64_t lease_id)> on_new_lease)
    : state_(std::make_unique<State>()) {
  state_->etcd = etcd;
  state_->ttl_seconds = std::max(ttl_seconds, kEtcdLeaseTtlSecondsMin);
  state_->on_new_lease = std::move(on_new_lease);
  state_->thread = std::thread([this] { Run(); });
}

EtcdLeaseKeeper::~EtcdLeaseKeeper() {
  {
    std::lock_guard lock(state_->mu);
    state_->stop = true;
  }
  state_->cv.notify_all();
  state_->thread.join();
  if (state_->lease_id != 0) state_->etcd->LeaseRevoke(state_->lease_id).IgnoreError();
}

int64_t EtcdLeaseKeeper::lease_id() const {
  std::lock_guard lock(state_->mu);
  return state_->lease_id;
}

nebu::Status EtcdLeaseKeeper::last_error() const {
  std::lock_guard lock(state_->mu);
  return state_->last_error;
}

void EtcdLeaseKeeper::Run() {
  using Clock = std::chrono::steady_clock;
  State& st = *state_;
  const auto ttl = std::chrono::seconds(st.ttl_seconds);
  const auto renew_every = std::chrono::duration_cast<std::chrono::milliseconds>(ttl) / 3;
  const auto retry = std::chrono::milliseconds(kEtcdLeaseRetryMs);
  int64_t id = 0;
  Clock::time_point expires{};
  for (;;) {
    std::chrono::milliseconds pause = retry;
    nebu::Status error;
    if (id == 0 || Clock::now() >= expires) {
      auto granted = st.etcd->LeaseGrant(st.ttl_seconds, renew_every);
      if (granted.ok()) {
        id = granted->id;
        expires = Clock::now() + std::chrono::seconds(granted->ttl_seconds);
        {
          std::lock_guard lock(st.mu);
          st.lease_id = id;
          st.last_error = nebu::Status::Ok();
        }
        if (st.on_new_lease) st.on_new_lease(id);
        pause = renew_every;
      } else {
        error = granted.status();
      }
    } else {
      auto renewed = st.etcd->LeaseKeepAliveOnce(id, renew_every);
      if (renewed.ok()) {
        expires = Clock::now() + std::chrono::seconds(*renewed);
        pause = renew_every;
      } else {
        error = renewed.status();
        if (error.code() == StatusCode::kNotFound) id = 0;  // gone: grant a new one now
      }
    }
    std::unique_lock lock(st.mu);
    if (!error.ok()) {
      st.last_error = error;
      if (id == 0) st.lease_id = 0;
    }
    if (st.cv.wait_for(lock, pause, [&] { return st.stop; })) return;
  }
}

}  // namespace nebu::replication
