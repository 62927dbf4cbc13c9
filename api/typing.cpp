#include "api/typing.h"

#include <algorithm>
#include <utility>

#include "api/deadline_timer.h"

namespace nebu::api {

TypingTracker::TypingTracker()
    : serial_(static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                        std::chrono::system_clock::now().time_since_epoch())
                                        .count())),
      timer_(std::make_unique<DeadlineTimer>(DeadlineTimerOptions{.pending_max = kTypingEntriesMax})) {}

TypingTracker::~TypingTracker() { timer_.reset(); }

size_t TypingTracker::expiries_pending() const { return timer_->pending(); }

void TypingTracker::Set(std::string_view room_id, std::string_view user_id, bool typing,
                        std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  auto room = rooms_.find(room_id);
  if (!typing) {
    if (room == rooms_.end()) return;
    auto user = room->second.users.find(user_id);
    if (user == room->second.users.end()) return;
    room->second.users.erase(user);
    --entries_;
    return Changed(lock, room->first, room->second);
  }
  const auto expiry = Clock::now() + std::clamp(timeout, std::chrono::milliseconds(0), kTypingTimeoutMax);
  if (room == rooms_.end()) {
    ForgetStaleRooms();
    room = rooms_.emplace(std::string(room_id), Room{}).first;
  }
  auto user = room->second.users.find(user_id);
  const bool added = user == room->second.users.end();
  if (added && entries_ >= kTypingEntriesMax) return;
  if (added) {
    room->second.users.emplace(std::string(user_id), expiry);
    ++entries_;
  } else {
    user->second = expiry;
  }
  (void)timer_->Schedule(expiry, [this, room = std::string(room_id), user = std::string(user_id),
                                  expiry] { Expire(room, user, expiry); });
  if (added) Changed(lock, room->first, room->second);
}

void TypingTracker::Expire(const std::string& room_id, const std::string& user_id,
                           Clock::time_point expiry) {
  std::unique_lock lock(mutex_);
  auto room = rooms_.find(room_id);
  if (room == rooms_.end()) return;
  auto user = room->second.users.find(user_id);
  if (user == room->second.users.end() || user->second != expiry) return;
  room->second.users.erase(user);
  --entries_;
  Changed(lock, room->first, room->second);
}

void TypingTracker::Changed(std::unique_lock<std::mutex>& lock, const std::string& room_id,
                            Room& room) {
  room.changed = ++serial_;
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
    std::vector<std::string>& users = out[room_id];
    for (const auto& [user, expiry] : room.users) users.push_back(user);
  }
  return out;
}

std::vector<std::string> TypingTracker::Typing(std::string_view room_id) const {
  std::lock_guard lock(mutex_);
  std::vector<std::string> users;
  auto room = rooms_.find(room_id);
  if (room == rooms_.end()) return users;
  for (const auto& [user, expiry] : room->second.users) users.push_back(user);
  return users;
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
