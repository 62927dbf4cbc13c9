// Sync-token epochs (api/sync/sync_epoch.h, api/sync/sync.h): tokens of a node that was
// never restored are unchanged; a restored node's tokens carry "e<epoch>"; tokens
// without one parse as epoch 0; a malformed epoch is refused.
#include <gtest/gtest.h>

#include "api/sync/sync.h"
#include "api/sync/sync_epoch.h"

namespace nebu::api {
namespace {

class SyncEpochTest : public ::testing::Test {
 protected:
  void TearDown() override { SetSyncEpoch(0); }
};

TEST_F(SyncEpochTest, EpochZeroTokensAreUnchanged) {
  EXPECT_EQ(MakeSyncToken({.position = 42, .typing = 3}), "s42_3");
  auto parsed = ParseSyncToken("s42_3");
  ASSERT_TRUE(parsed);
  EXPECT_EQ(parsed->epoch, 0u);
  EXPECT_EQ(parsed->position, 42u);
}

TEST_F(SyncEpochTest, ARestoredNodesTokensCarryItsEpochAndOldOnesAreTold) {
  SetSyncEpoch(1765000000000);
  SyncToken token{.position = 7, .typing = 1, .presence = 2, .push = 5};
  EXPECT_EQ(token.epoch, 1765000000000u);
  const std::string text = MakeSyncToken(token);
  EXPECT_EQ(text, "s7_1_2_5e1765000000000");
  auto back = ParseSyncToken(text);
  ASSERT_TRUE(back);
  EXPECT_EQ(*back, token);
  auto old = ParseSyncToken("s9000_4");  // handed out before the restore
  ASSERT_TRUE(old);
  EXPECT_NE(old->epoch, SyncEpoch());
}

TEST_F(SyncEpochTest, AMalformedEpochIsRefused) {
  for (const char* bad : {"s5_0e", "s5_0e0", "s5_0ex", "s5_0e1e2", "s5_0e-1", "se5"}) {
    EXPECT_FALSE(ParseSyncToken(bad)) << bad;
  }
}

}  // namespace
}  // namespace nebu::api
