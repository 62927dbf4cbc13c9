#include "api/sync/typing.h"

#include <algorithm>
#include <utility>

namespace nebu::api {

namespace {

constexpr std::string_view kTypingValue = "1";

}  // namespace

TypingTracker::TypingTracker() : TypingTracker(nullptr) {}

TypingTracker::TypingTracker(EphemeralBus* bus)
    : own_bus_(bus ? nullptr : std::make_unique<InMemoryEphemeralBus>()),
      bus_(bus ? bus : own_bus_.get()),
      serial_(bus_->serial()) {
  bus_subscription_ = bus_->Subscribe([this](const EphemeralUpdate& update) {
    if (update.key.kind == EphemeralKind::kTyping) OnUpdate(update);
  });
}

TypingTracker::~TypingTracker() { bus_->Unsubscribe(bus_subscription_); }

size_t TypingTracker::expiries_pending() const { return bus_->expiries_pending(); }

void TypingTracker::Set(std::string_view room_id, std::string_view user_id, bool typing,
                        std::chrono::milliseconds timeout) {
  if (typing) {
    std::lock_guard lock(mutex_);
    auto room = rooms_.find(room_id);
    const bool present = room != rooms_.end() && room->second.users.contains(user_id);
    if (!present && entries_ >= kTypingEntriesMax) return;
  }
  // A stop is published even when this tracker does not show the user typing: with
  // the etcd bus the start may not have come back yet. Deleting an absent key changes
  // nothing on either bus.
  EphemeralKey key{.kind = EphemeralKind::kTyping,
                   .room_id = std::string(room_id),
                   .user_id = std::string(user_id)};
  if (!typing) return bus_->Publish(key, std::nullopt, {});
  // A ttl of 0 would never expire: a timeout of 0 still expires, a millisecond later.
  const auto ttl = std::clamp(timeout, std::chrono::milliseconds(1), kTypingTimeoutMax);
  bus_->Publish(key, std::string(kTypingValue), ttl);
}

void TypingTracker::OnUpdate(const EphemeralUpdate& update) {
  std::unique_lock lock(mutex_);
  const std::string& room_id = update.key.room_id;
  const std::string& user_id = update.key.user_id;
  auto room = rooms_.find(room_id);
  if (!update.value) {
    if (room == rooms_.end()) return;
    auto user = room->second.users.find(user_id);
    if (user == room->second.users.end()) return;
    room->second.users.erase(user);
    --entries_;
    return Changed(lock, room->first, room->second, update.serial);
  }
  if (room == rooms_.end()) {
    ForgetStaleRooms();
    room = rooms_.emplace(room_id, Room{}).first;
  }
  if (room->second.users.contains(user_id)) return;  // a refresh
  if (entries_ >= kTypingEntriesMax) return;          // best effort
  room->second.users.insert(user_id);
  ++entries_;
  Changed(lock, room->first, room->second, update.serial);
}

void TypingTracker::Changed(std::unique_lock<std::mutex>& lock, const std::string& room_id,
                            Room& room, uint64_t serial) {
  serial_ = std::max(serial_, serial);
  room.changed = serial_;
  std::vector<Callback> callbacks;
  callbacks.reserve(subscribers_.size());
  for (const auto& [id, callback] : subscribers_) callbacks.push_back(callback);
  const std::string changed_room = room_id;  // the map entry may go once unlocked
  ++callbacks_running_;
  lock.unlock();
  for (const Callback& callback : callbacks) callback(changed_room);
  lock.lock();
  if (--callbacks_running_ == 0) callbacks_done_.notify_all();
}

void TypingTracker::ForgetStaleRooms() {
  if (rooms_.size() < kTypingRoomsMax) return;
  // Forget the empty room that changed longest ago (only empty ones: a typing user's
  // room is never dropped).
  auto stalest = rooms_.end();
  for (auto it = rooms_.begin(); it != rooms_.end(); ++it) {
    if (it->second.users.empty() && (stalest == rooms_.end() || it->second.changed < stalest->second.changed)) {
      stalest = it;
    }
  }
  if (stalest != rooms_.end()) rooms_.erase(stalest);
}

uint64_t TypingTracker::serial() const {
  std::lock_guard lock(mutex_);
  return serial_;
}

std::map<std::string, std::vector<std::string>> TypingTracker::ChangedSince(uint64_t since) const {
  std::lock_guard lock(mutex_);
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& [room_id, room] : rooms_) {
    if (room.changed <= since) continue;
    out[room_id] = std::vector<std::string>(room.users.begin(), room.users.end());
  }
  return out;
}

std::vector<std::string> TypingTracker::Typing(std::string_view room_id) const {
  std::lock_guard lock(mutex_);
  auto room = rooms_.find(room_id);
  if (room == rooms_.end()) return {};
  return std::vector<std::string>(room->second.users.begin(), room->second.users.end());
}

TypingTracker::SubscriptionId TypingTracker::Subscribe(Callback callback) {
  std::lock_guard lock(mutex_);
  SubscriptionId id = next_subscription_++;
  subscribers_.emplace(id, std::move(callback));
  return id;
}

void TypingTracker::Unsubscribe(SubscriptionId id) {
  std::unique_lock lock(mutex_);
  subscribers_.erase(id);
  // A callback copied before the erase may still be running: wait it out, so the
  // subscriber may be destroyed once this returns.
  callbacks_done_.wait(lock, [this] { return callbacks_running_ == 0; });
}

}  // namespace nebu::api
