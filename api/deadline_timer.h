// DeadlineTimer: runs short tasks at deadlines, on one thread of its own, so a
// long-poll (/sync with a timeout) can be answered when its time is up without
// holding any server thread.
//
//   DeadlineTimer timer({.pending_max = 10000});
//   DeadlineTimer::TimerId id = timer.Schedule(std::chrono::steady_clock::now() + 5s, [=] {
//     respond(EmptySyncResponse());
//   });
//   if (id == 0) respond(EmptySyncResponse());  // full: answer now instead
//   ...
//   timer.Cancel(id);  // true if the task had not started (and now never will)
//
// Tasks run in deadline order (ties in scheduling order), one at a time, and must be
// short: a slow task delays every later one. A task that throws is logged and
// dropped. The destructor drops the tasks still pending without running them and
// joins the thread (a task running at that moment finishes first).
//
// Thread-safety: Schedule() and Cancel() from any thread, tasks included.
// Ownership: the timer owns its thread; tasks must not destroy the timer.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace nebu::api {

struct DeadlineTimerOptions {
  size_t pending_max = 10000;  // tasks waiting for their deadline; Schedule() refuses beyond
};

class DeadlineTimer {
 public:
  using Clock = std::chrono::steady_clock;
  using TimerId = uint64_t;  // 0 is never a valid id

  explicit DeadlineTimer(DeadlineTimerOptions options = {});
  ~DeadlineTimer();
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  // Runs task on the timer's thread once `deadline` has passed (soon, if it already
  // has). Returns its id, or 0 (task dropped) when pending_max tasks already wait or
  // the timer is being destroyed.
  [[nodiscard]] TimerId Schedule(Clock::time_point deadline, std::function<void()> task);
  // True if the task was still pending and now never runs; false if it has run, is
  // running, or the id is unknown.
  bool Cancel(TimerId id);
  [[nodiscard]] size_t pending() const;

 private:
  void Loop();

  const size_t pending_max_;
  mutable std::mutex mutex_;
  std::condition_variable changed_;
  // Ordered by (deadline, id): the first entry is the next to run.
  std::map<std::pair<Clock::time_point, TimerId>, std::function<void()>> tasks_;  // mutex_
  std::map<TimerId, Clock::time_point> deadlines_;                                // mutex_
  TimerId next_id_ = 1;                                                           // mutex_
  bool stopping_ = false;                                                         // mutex_
  std::thread thread_;
};

}  // namespace nebu::api
