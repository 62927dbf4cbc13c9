// Goal: the state dump and digest see every derived entry, in a stable order, and
// nothing else (the commit log); DiffStates names each difference.
// Method: two real RocksDBs in temp dirs written with raw batches.
#include "engine/core/state_digest.h"

#include <gtest/gtest.h>

#include "engine/storage/keys.h"
#include "engine/testing/temp_dir.h"

namespace nebu::core {
namespace {

using storage::Cf;

std::unique_ptr<storage::Store> OpenStore(const testing::TempDir& dir) {
  auto store = storage::Store::Open({.path = dir.path() + "/db"});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return std::move(*store);
}

void Put(storage::Store& store, Cf cf, std::string_view key, std::string_view value) {
  rocksdb::WriteBatch batch;
  batch.Put(store.handle(cf), key, value);
  ASSERT_TRUE(store.Write(batch, false).ok());
}

TEST(StateDigestTest, EqualContentGivesEqualDigestsWhateverTheWriteOrder) {
  testing::TempDir da(testing::TempDir::kTmpfs), db(testing::TempDir::kTmpfs);
  auto a = OpenStore(da);
  auto b = OpenStore(db);
  Put(*a, Cf::kUsers, "u1", "x");
  Put(*a, Cf::kEvents, storage::EventKey(1, 1), "e");
  Put(*b, Cf::kEvents, storage::EventKey(1, 1), "e");
  Put(*b, Cf::kUsers, "u1", "x");
  auto ga = DigestState(*a);
  auto gb = DigestState(*b);
  ASSERT_TRUE(ga.ok() && gb.ok());
  EXPECT_EQ(ga->overall, gb->overall);
  EXPECT_EQ(ga->per_family, gb->per_family);
  EXPECT_EQ(ga->entries[static_cast<size_t>(Cf::kUsers)], 1u);
  EXPECT_EQ(ga->per_family[static_cast<size_t>(Cf::kCommitLog)], "");
  EXPECT_EQ(*DiffStates(*a, *b, 10), "");
}

TEST(StateDigestTest, TheCommitLogIsExcludedAndEverythingElseCounts) {
  testing::TempDir da(testing::TempDir::kTmpfs), db(testing::TempDir::kTmpfs);
  auto a = OpenStore(da);
  auto b = OpenStore(db);
  const std::string before = *StateDigest(*a);
  EXPECT_EQ(before, *StateDigest(*b));
  Put(*a, Cf::kCommitLog, storage::U64Key(1), "command");
  EXPECT_EQ(*StateDigest(*a), before);
  Put(*a, Cf::kMeta, "applied_index", storage::U64Key(1));
  const auto after = DigestState(*a);
  EXPECT_NE(after->overall, before);
  EXPECT_NE(after->per_family[static_cast<size_t>(Cf::kMeta)],
            DigestState(*b)->per_family[static_cast<size_t>(Cf::kMeta)]);
  EXPECT_EQ(after->per_family[static_cast<size_t>(Cf::kUsers)],
            DigestState(*b)->per_family[static_cast<size_t>(Cf::kUsers)]);
}

TEST(StateDigestTest, DumpVisitsFamiliesInOrderAndKeysInOrder) {
  testing::TempDir d(testing::TempDir::kTmpfs);
  auto s = OpenStore(d);
  Put(*s, Cf::kUsers, "b", "2");
  Put(*s, Cf::kUsers, "a", "1");
  Put(*s, Cf::kRooms, "z", "3");
  std::vector<std::string> seen;
  ASSERT_TRUE(DumpState(*s, [&](Cf cf, std::string_view k, std::string_view v) {
                if (cf == Cf::kMeta) return;  // the format version
                seen.push_back(std::string(storage::CfName(cf)) + ":" + std::string(k) + "=" +
                               std::string(v));
              }).ok());
  EXPECT_EQ(seen, (std::vector<std::string>{"rooms:z=3", "users:a=1", "users:b=2"}));
}

TEST(StateDigestTest, DiffNamesEveryDifferenceUpToTheLimit) {
  testing::TempDir da(testing::TempDir::kTmpfs), db(testing::TempDir::kTmpfs);
  auto a = OpenStore(da);
  auto b = OpenStore(db);
  Put(*a, Cf::kUsers, "a", "1");
  Put(*b, Cf::kUsers, "a", "2");
  Put(*a, Cf::kDevices, "d", "x");
  Put(*b, Cf::kTokens, "t", "y");
  auto diff = DiffStates(*a, *b, 10);
  ASSERT_TRUE(diff.ok());
  EXPECT_NE(diff->find("users differs: 61: 31 != 32"), std::string::npos) << *diff;
  EXPECT_NE(diff->find("devices only in a: 64 = 78"), std::string::npos) << *diff;
  EXPECT_NE(diff->find("tokens only in b: 74 = 79"), std::string::npos) << *diff;
  auto short_diff = DiffStates(*a, *b, 1);
  EXPECT_NE(short_diff->find("(more differences)"), std::string::npos);
}

TEST(StateDigestTest, RoomLogDigestsArePerRoom) {
  testing::TempDir da(testing::TempDir::kTmpfs), db(testing::TempDir::kTmpfs);
  auto a = OpenStore(da);
  auto b = OpenStore(db);
  Put(*a, Cf::kEvents, storage::EventKey(1, 1), "e1");
  Put(*a, Cf::kEvents, storage::EventKey(2, 1), "e2");
  Put(*b, Cf::kEvents, storage::EventKey(1, 1), "e1");
  Put(*b, Cf::kEvents, storage::EventKey(2, 1), "other");
  auto ra = RoomLogDigests(*a);
  auto rb = RoomLogDigests(*b);
  ASSERT_TRUE(ra.ok() && rb.ok());
  ASSERT_EQ(ra->size(), 2u);
  EXPECT_EQ(ra->at(1), rb->at(1));
  EXPECT_NE(ra->at(2), rb->at(2));
}

}  // namespace
}  // namespace nebu::core
