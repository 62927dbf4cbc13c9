#include "api/deadline_timer.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <thread>
#include <vector>

namespace nebu::api {
namespace {

using std::chrono::milliseconds;
using Clock = DeadlineTimer::Clock;

TEST(DeadlineTimerTest, RunsTasksInDeadlineOrder) {
  DeadlineTimer timer;
  std::mutex mutex;
  std::vector<int> order;
  std::promise<void> finished;
  auto now = Clock::now();
  auto add = [&](int value) {
    std::lock_guard lock(mutex);
    order.push_back(value);
  };
  ASSERT_NE(timer.Schedule(now + milliseconds(60),
                           [&] {
                             add(3);
                             finished.set_value();
                           }),
            0u);
  ASSERT_NE(timer.Schedule(now + milliseconds(20), [&] { add(1); }), 0u);
  ASSERT_NE(timer.Schedule(now + milliseconds(40), [&] { add(2); }), 0u);
  ASSERT_EQ(finished.get_future().wait_for(milliseconds(2000)), std::future_status::ready);
  EXPECT_GE(Clock::now() - now, milliseconds(60));
  std::lock_guard lock(mutex);
  EXPECT_EQ(order, (std::vector<int>{1, 2, 3}));
}

TEST(DeadlineTimerTest, CancelledTasksNeverRun) {
  DeadlineTimer timer;
  std::atomic<int> runs{0};
  auto id = timer.Schedule(Clock::now() + milliseconds(50), [&] { ++runs; });
  EXPECT_EQ(timer.pending(), 1u);
  EXPECT_TRUE(timer.Cancel(id));
  EXPECT_FALSE(timer.Cancel(id));
  EXPECT_EQ(timer.pending(), 0u);
  std::promise<void> later;
  (void)timer.Schedule(Clock::now() + milliseconds(100), [&] { later.set_value(); });
  ASSERT_EQ(later.get_future().wait_for(milliseconds(2000)), std::future_status::ready);
  EXPECT_EQ(runs.load(), 0);
}

TEST(DeadlineTimerTest, RefusesBeyondPendingMaxAndDropsOnDestruction) {
  std::atomic<int> runs{0};
  {
    DeadlineTimer timer({.pending_max = 2});
    EXPECT_NE(timer.Schedule(Clock::now() + std::chrono::hours(1), [&] { ++runs; }), 0u);
    EXPECT_NE(timer.Schedule(Clock::now() + std::chrono::hours(1), [&] { ++runs; }), 0u);
    EXPECT_EQ(timer.Schedule(Clock::now(), [&] { ++runs; }), 0u);
  }
  EXPECT_EQ(runs.load(), 0);
}

TEST(DeadlineTimerTest, PastDeadlinesRunSoonAndTasksMayReschedule) {
  DeadlineTimer timer;
  std::promise<void> second;
  (void)timer.Schedule(Clock::now() - milliseconds(10),
                       [&] { (void)timer.Schedule(Clock::now(), [&] { second.set_value(); }); });
  EXPECT_EQ(second.get_future().wait_for(milliseconds(2000)), std::future_status::ready);
}

}  // namespace
}  // namespace nebu::api
