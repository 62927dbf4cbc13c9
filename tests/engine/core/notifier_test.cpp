// Goal: the notifier wakes exactly the waiters whose position was passed, once.
// Method: drive Advance from the test thread and from a second thread; no sleeps
// beyond the bounded waits being tested.
#include "engine/core/notifier.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace nebu::core {
namespace {

using namespace std::chrono_literals;

TEST(NotifierTest, WaitBeyondReturnsAtOnceWhenAlreadyPast) {
  Notifier n(5);
  EXPECT_EQ(n.WaitBeyond(4, 10s), 5u);
}

TEST(NotifierTest, WaitBeyondTimesOutWithTheSamePosition) {
  Notifier n(5);
  EXPECT_EQ(n.WaitBeyond(5, 1ms), 5u);
}

TEST(NotifierTest, WaitBeyondWakesOnAdvanceFromAnotherThread) {
  Notifier n(0);
  std::thread t([&] { n.Advance(1); });
  EXPECT_EQ(n.WaitBeyond(0, 10s), 1u);
  t.join();
}

TEST(NotifierTest, SubscribeFiresOnceWhenThePositionPassesSince) {
  Notifier n(3);
  int fired = 0;
  uint64_t seen = 0;
  auto id = n.Subscribe(4, [&](StreamPosition now) { ++fired; seen = now; });
  EXPECT_NE(id, 0u);
  n.Advance(4);
  EXPECT_EQ(fired, 0);
  n.Advance(6);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(seen, 6u);
  n.Advance(7);
  EXPECT_EQ(fired, 1);
  EXPECT_EQ(n.pending(), 0u);
}

TEST(NotifierTest, SubscribeBelowTheCurrentPositionFiresImmediately) {
  Notifier n(9);
  int fired = 0;
  EXPECT_EQ(n.Subscribe(8, [&](StreamPosition) { ++fired; }), 0u);
  EXPECT_EQ(fired, 1);
}

TEST(NotifierTest, UnsubscribedCallbackNeverFires) {
  Notifier n(0);
  int fired = 0;
  auto id = n.Subscribe(0, [&](StreamPosition) { ++fired; });
  EXPECT_TRUE(n.Unsubscribe(id));
  EXPECT_FALSE(n.Unsubscribe(id));
  n.Advance(1);
  EXPECT_EQ(fired, 0);
}

TEST(NotifierTest, AdvanceNeverMovesBackwards) {
  Notifier n(10);
  n.Advance(4);
  EXPECT_EQ(n.current(), 10u);
}

TEST(NotifierTest, ManyWaitersAcrossThreadsAllWake) {
  Notifier n(0);
  std::atomic<int> woke{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      if (n.WaitBeyond(0, 10s) >= 1) ++woke;
    });
  }
  n.Advance(1);
  for (auto& t : threads) t.join();
  EXPECT_EQ(woke.load(), 8);
}

}  // namespace
}  // namespace nebu::core
