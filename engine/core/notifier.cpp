#include "engine/core/notifier.h"

#include <vector>

namespace nebu::core {

void Notifier::Advance(StreamPosition position) {
  std::vector<Callback> ready;
  {
    std::lock_guard lock(mu_);
    if (position <= position_) return;
    position_ = position;
    // Waiters with since < position fire; the multimap is ordered by since.
    auto end = by_since_.lower_bound(position);
    for (auto it = by_since_.begin(); it != end; ++it) {
      auto w = waiters_.find(it->second);
      ready.push_back(std::move(w->second.cb));
      waiters_.erase(w);
    }
    by_since_.erase(by_since_.begin(), end);
  }
  cv_.notify_all();
  for (auto& cb : ready) cb(position);
}

StreamPosition Notifier::current() const {
  std::lock_guard lock(mu_);
  return position_;
}

StreamPosition Notifier::WaitBeyond(StreamPosition since, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return position_ > since; });
  return position_;
}

Notifier::SubscriptionId Notifier::Subscribe(StreamPosition since, Callback cb) {
  StreamPosition now;
  {
    std::lock_guard lock(mu_);
    if (position_ <= since) {
      SubscriptionId id = next_id_++;
      by_since_.emplace(since, id);
      waiters_.emplace(id, Waiter{since, std::move(cb)});
      return id;
    }
    now = position_;
  }
  cb(now);
  return 0;
}

bool Notifier::Unsubscribe(SubscriptionId id) {
  std::lock_guard lock(mu_);
  auto w = waiters_.find(id);
  if (w == waiters_.end()) return false;
  auto [lo, hi] = by_since_.equal_range(w->second.since);
  for (auto it = lo; it != hi; ++it) {
    if (it->second == id) {
      by_since_.erase(it);
      break;
    }
  }
  waiters_.erase(w);
  return true;
}

size_t Notifier::pending() const {
  std::lock_guard lock(mu_);
  return waiters_.size();
}

}  // namespace nebu::core
