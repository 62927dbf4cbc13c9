// InMemoryEphemeralBus: synchronous delivery with serials, ttl expiry and renewal,
// and two trackers on one bus (as two nodes on the etcd bus) seeing the same changes
// with the same serials.
#include "api/ephemeral_bus.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "api/sync/presence.h"
#include "api/sync/typing.h"

namespace nebu::api {
namespace {

using std::chrono::milliseconds;

const EphemeralKey kKey{.kind = EphemeralKind::kTyping, .room_id = "!r:hs", .user_id = "@a:hs"};

TEST(InMemoryEphemeralBusTest, DeliversChangesInSerialOrderAndSkipsNoOps) {
  InMemoryEphemeralBus bus;
  std::vector<EphemeralUpdate> heard;
  auto id = bus.Subscribe([&](const EphemeralUpdate& u) { heard.push_back(u); });
  const uint64_t start = bus.serial();
  bus.Publish(kKey, "1", milliseconds(0));
  bus.Publish(kKey, "1", milliseconds(0));  // same value: renews only, nothing delivered
  bus.Publish(kKey, std::nullopt, milliseconds(0));
  bus.Publish(kKey, std::nullopt, milliseconds(0));  // already gone: nothing
  ASSERT_EQ(heard.size(), 2u);
  EXPECT_EQ(heard[0].value, "1");
  EXPECT_EQ(heard[0].serial, start + 1);
  EXPECT_FALSE(heard[1].value.has_value());
  EXPECT_EQ(heard[1].serial, start + 2);
  EXPECT_EQ(bus.serial(), start + 2);
  bus.Unsubscribe(id);
  bus.Publish(kKey, "1", milliseconds(0));
  EXPECT_EQ(heard.size(), 2u);
}

TEST(InMemoryEphemeralBusTest, TtlExpiresUnlessRenewed) {
  InMemoryEphemeralBus bus;
  std::atomic<int> deletes{0};
  auto id = bus.Subscribe([&](const EphemeralUpdate& u) {
    if (!u.value) ++deletes;
  });
  bus.Publish(kKey, "1", milliseconds(30));
  bus.Publish(kKey, "1", milliseconds(30000));  // renewed: the first expiry finds it moved
  for (int i = 0; i < 2000 && bus.expiries_pending() > 1; ++i) std::this_thread::sleep_for(milliseconds(1));
  EXPECT_EQ(deletes.load(), 0);
  EphemeralKey other = kKey;
  other.user_id = "@b:hs";
  bus.Publish(other, "1", milliseconds(20));
  for (int i = 0; i < 2000 && deletes.load() == 0; ++i) std::this_thread::sleep_for(milliseconds(1));
  EXPECT_EQ(deletes.load(), 1);
  bus.Unsubscribe(id);
}

TEST(InMemoryEphemeralBusTest, TrackersOnOneBusAgreeOnStateAndSerials) {
  InMemoryEphemeralBus bus;
  TypingTracker typing1(&bus), typing2(&bus);
  PresenceTracker presence1(&bus), presence2(&bus);
  const uint64_t start = typing1.serial();
  EXPECT_EQ(typing2.serial(), start);
  typing1.Set("!r:hs", "@a:hs", true, milliseconds(30000));   // "node 1"
  typing2.Set("!r:hs", "@b:hs", true, milliseconds(30000));   // "node 2"
  EXPECT_EQ(typing1.Typing("!r:hs"), (std::vector<std::string>{"@a:hs", "@b:hs"}));
  EXPECT_EQ(typing2.Typing("!r:hs"), typing1.Typing("!r:hs"));
  EXPECT_EQ(typing1.serial(), typing2.serial());
  ASSERT_TRUE(presence2.Set("@c:hs", "unavailable", "away", 1000).ok());
  ASSERT_TRUE(presence1.Get("@c:hs").has_value());
  EXPECT_EQ(*presence1.Get("@c:hs"), *presence2.Get("@c:hs"));
  EXPECT_EQ(presence1.ChangedSince(start).size(), 1u);
  // Typing and presence take serials from the one bus: typing's token part stays put.
  EXPECT_EQ(typing1.ChangedSince(typing1.serial()).size(), 0u);
  EXPECT_GT(presence1.serial(), typing1.serial());
}

TEST(InMemoryEphemeralBusTest, ADeletedPresenceKeyReadsOffline) {
  InMemoryEphemeralBus bus;
  PresenceTracker presence(&bus);
  ASSERT_TRUE(presence.Set("@c:hs", "online", "here", 1000).ok());
  const uint64_t before = presence.serial();
  // What a dead node's expired session lease looks like to the others.
  bus.Publish({.kind = EphemeralKind::kPresence, .user_id = "@c:hs"}, std::nullopt, milliseconds(0));
  auto state = presence.Get("@c:hs");
  ASSERT_TRUE(state.has_value());
  EXPECT_EQ(state->presence, "offline");
  EXPECT_EQ(state->last_active_ts, 1000);
  EXPECT_EQ(presence.ChangedSince(before).size(), 1u);
}

}  // namespace
}  // namespace nebu::api
