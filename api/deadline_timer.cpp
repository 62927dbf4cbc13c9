#include "api/deadline_timer.h"

#include <spdlog/spdlog.h>

#include <exception>

namespace nebu::api {

DeadlineTimer::DeadlineTimer(DeadlineTimerOptions options)
    : pending_max_(options.pending_max), thread_([this] { Loop(); }) {}

DeadlineTimer::~DeadlineTimer() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  thread_.join();
  // Pending tasks are destroyed with tasks_, outside any lock of ours.
}

DeadlineTimer::TimerId DeadlineTimer::Schedule(Clock::time_point deadline,
                                               std::function<void()> task) {
  TimerId id = 0;
  bool first = false;
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || tasks_.size() >= pending_max_) return 0;
    id = next_id_++;
    auto [it, inserted] = tasks_.emplace(std::pair(deadline, id), std::move(task));
    deadlines_.emplace(id, deadline);
    first = it == tasks_.begin();
  }
  if (first) changed_.notify_all();
  return id;
}

bool DeadlineTimer::Cancel(TimerId id) {
  std::function<void()> dropped;  // destroyed after the lock is released
  std::lock_guard lock(mutex_);
  auto found = deadlines_.find(id);
  if (found == deadlines_.end()) return false;
  auto task = tasks_.find(std::pair(found->second, id));
  dropped = std::move(task->second);
  tasks_.erase(task);
  deadlines_.erase(found);
  return true;
}

size_t DeadlineTimer::pending() const {
  std::lock_guard lock(mutex_);
  return tasks_.size();
}

void DeadlineTimer::Loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    if (tasks_.empty()) {
      changed_.wait(lock);
      continue;
    }
    auto first = tasks_.begin();
    // A copy: Cancel() may erase the node while we wait.
    const Clock::time_point deadline = first->first.first;
    if (Clock::now() < deadline) {
      changed_.wait_until(lock, deadline);
      continue;
    }
    std::function<void()> task = std::move(first->second);
    deadlines_.erase(first->first.second);
    tasks_.erase(first);
    lock.unlock();
    try {
      task();
    } catch (const std::exception& e) {
      spdlog::error("deadline timer task threw: {}", e.what());
    } catch (...) {
      spdlog::error("deadline timer task threw");
    }
    task = nullptr;
    lock.lock();
  }
}

}  // namespace nebu::api
