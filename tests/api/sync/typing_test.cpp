// TypingTracker: serials, ChangedSince, expiry on its timer thread, the caps, and
// the change callbacks.
#include "api/sync/typing.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>

namespace nebu::api {
namespace {

using std::chrono::milliseconds;

TEST(TypingTrackerTest, SerialsStartAboveAnEarlierProcess) {
  const auto now_ms = static_cast<uint64_t>(std::chrono::duration_cast<milliseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
  TypingTracker typing;
  EXPECT_GE(typing.serial() + 1000, now_ms);  // wall-clock ms at construction
}

TEST(TypingTrackerTest, SetAndClearAreReportedOnce) {
  TypingTracker typing;
  const uint64_t start = typing.serial();
  typing.Set("!r:hs", "@b:hs", true, milliseconds(30000));
  typing.Set("!r:hs", "@a:hs", true, milliseconds(30000));
  const uint64_t after_set = typing.serial();
  EXPECT_EQ(after_set, start + 2);
  auto changed = typing.ChangedSince(start);
  ASSERT_EQ(changed.size(), 1u);
  EXPECT_EQ(changed.at("!r:hs"), (std::vector<std::string>{"@a:hs", "@b:hs"}));  // sorted
  EXPECT_TRUE(typing.ChangedSince(after_set).empty());

  typing.Set("!r:hs", "@a:hs", true, milliseconds(30000));  // a refresh changes nothing
  EXPECT_EQ(typing.serial(), after_set);
  typing.Set("!r:hs", "@c:hs", false, milliseconds(0));     // not typing: nothing either
  EXPECT_EQ(typing.serial(), after_set);

  typing.Set("!r:hs", "@a:hs", false, milliseconds(0));
  EXPECT_EQ(typing.ChangedSince(after_set).at("!r:hs"), std::vector<std::string>{"@b:hs"});
  EXPECT_EQ(typing.Typing("!r:hs"), std::vector<std::string>{"@b:hs"});
  EXPECT_TRUE(typing.Typing("!other:hs").empty());
}

TEST(TypingTrackerTest, ExpiryRemovesTheUserAndNotifies) {
  TypingTracker typing;
  std::atomic<int> calls{0};
  std::string last_room;
  auto id = typing.Subscribe([&](const std::string& room) {
    last_room = room;
    ++calls;
  });
  const uint64_t start = typing.serial();
  typing.Set("!r:hs", "@a:hs", true, milliseconds(50));
  EXPECT_EQ(calls.load(), 1);
  for (int i = 0; i < 200 && calls.load() < 2; ++i) std::this_thread::sleep_for(milliseconds(10));
  EXPECT_EQ(calls.load(), 2);
  EXPECT_EQ(last_room, "!r:hs");
  EXPECT_TRUE(typing.Typing("!r:hs").empty());
  EXPECT_TRUE(typing.ChangedSince(start).at("!r:hs").empty());  // "stopped" is reported
  typing.Unsubscribe(id);
  typing.Set("!r:hs", "@a:hs", true, milliseconds(30000));
  EXPECT_EQ(calls.load(), 2);
}

TEST(TypingTrackerTest, ARefreshOutlivesTheFirstTimeout) {
  TypingTracker typing;
  typing.Set("!r:hs", "@a:hs", true, milliseconds(40));
  typing.Set("!r:hs", "@a:hs", true, milliseconds(30000));
  // Wait (bounded) until the first, 40 ms expiry has run: only the refresh's remains.
  for (int i = 0; i < 2000 && typing.expiries_pending() > 1; ++i) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  ASSERT_EQ(typing.expiries_pending(), 1u);
  EXPECT_EQ(typing.Typing("!r:hs"), std::vector<std::string>{"@a:hs"});
}

TEST(TypingTrackerTest, UnsubscribeWaitsForARunningCallback) {
  TypingTracker typing;
  std::atomic<bool> in_callback{false}, callback_done{false};
  auto id = typing.Subscribe([&](const std::string&) {
    in_callback = true;
    std::this_thread::sleep_for(milliseconds(100));
    callback_done = true;
  });
  std::thread setter([&] { typing.Set("!r:hs", "@a:hs", true, milliseconds(30000)); });
  while (!in_callback) std::this_thread::yield();
  typing.Unsubscribe(id);
  EXPECT_TRUE(callback_done.load());  // the subscriber could be destroyed now
  setter.join();
}

TEST(TypingTrackerTest, TimeoutIsCapped) {
  TypingTracker typing;
  typing.Set("!r:hs", "@a:hs", true, std::chrono::hours(5));
  EXPECT_EQ(typing.Typing("!r:hs").size(), 1u);  // accepted, expires at kTypingTimeoutMax
}

}  // namespace
}  // namespace nebu::api
