#include "api/ephemeral_bus.h"

#include <utility>

#include "api/deadline_timer.h"

namespace nebu::api {

namespace {

uint64_t WallClockMs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

InMemoryEphemeralBus::InMemoryEphemeralBus()
    : serial_(WallClockMs()),
      timer_(std::make_unique<DeadlineTimer>(DeadlineTimerOptions{.pending_max = kEphemeralKeysMax})) {}

InMemoryEphemeralBus::~InMemoryEphemeralBus() { timer_.reset(); }

size_t InMemoryEphemeralBus::expiries_pending() const { return timer_->pending(); }

uint64_t InMemoryEphemeralBus::serial() const {
  std::lock_guard lock(serial_mutex_);
  return serial_;
}

void InMemoryEphemeralBus::Publish(const EphemeralKey& key, std::optional<std::string> value,
                                   std::chrono::milliseconds ttl) {
  std::lock_guard lock(deliver_mutex_);
  auto it = entries_.find(key);
  if (!value) {
    if (it == entries_.end()) return;
    entries_.erase(it);
    return Deliver({.key = key, .value = std::nullopt});
  }
  if (it == entries_.end() && entries_.size() >= kEphemeralKeysMax) return;  // best effort
  const bool changed = it == entries_.end() || it->second.value != *value;
  Entry& entry = entries_[key];
  entry.value = *value;
  entry.generation = ++generation_;
  if (ttl.count() > 0) {
    (void)timer_->Schedule(DeadlineTimer::Clock::now() + ttl,
                           [this, key, generation = entry.generation] { Expire(key, generation); });
  }
  if (changed) Deliver({.key = key, .value = std::move(value)});
}

void InMemoryEphemeralBus::Expire(const EphemeralKey& key, uint64_t generation) {
  std::lock_guard lock(deliver_mutex_);
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.generation != generation) return;  // renewed or gone
  entries_.erase(it);
  Deliver({.key = key, .value = std::nullopt});
}

void InMemoryEphemeralBus::Deliver(const EphemeralUpdate& update) {
  EphemeralUpdate numbered = update;
  {
    std::lock_guard lock(serial_mutex_);
    numbered.serial = ++serial_;
  }
  for (const auto& [id, listener] : listeners_) listener(numbered);
}

EphemeralBus::SubscriptionId InMemoryEphemeralBus::Subscribe(Listener listener) {
  std::lock_guard lock(deliver_mutex_);
  const SubscriptionId id = next_subscription_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void InMemoryEphemeralBus::Unsubscribe(SubscriptionId id) {
  std::lock_guard lock(deliver_mutex_);  // waits out a running delivery
  listeners_.erase(id);
}

}  // namespace nebu::api
