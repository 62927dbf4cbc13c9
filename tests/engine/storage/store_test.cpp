// Goal: Store opens one RocksDB with every column family, keeps data across reopen,
// refuses a second opener and unknown formats cleanly, and maps RocksDB statuses to
// ours. Method: a real RocksDB in a temporary directory; no mocks.
#include "engine/storage/store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "engine/storage/keys.h"
#include "tests/engine/storage/storage_testing.h"

namespace nebu::storage {
namespace {

using testing::TempDir;

std::unique_ptr<Store> OpenOrDie(const std::string& path) {
  auto store = Store::Open({.path = path});
  NEBU_CHECK(store.ok(), store.status().ToString());
  return std::move(store).value();
}

Status Put(Store& store, Cf cf, std::string_view key, std::string_view value, bool sync) {
  rocksdb::WriteBatch batch;
  if (!batch.Put(store.handle(cf), key, value).ok()) return Status::Internal("batch");
  return store.Write(batch, sync);
}

TEST(StoreTest, OpenCreatesEveryColumnFamily) {
  TempDir dir;
  { auto store = OpenOrDie(dir.path()); }
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir.path(), &names).ok());
  for (size_t i = 0; i < static_cast<size_t>(Cf::kCount); ++i) {
    const std::string name(CfName(static_cast<Cf>(i)));
    EXPECT_NE(std::find(names.begin(), names.end(), name), names.end()) << name;
  }
}

TEST(StoreTest, ColumnFamilyNamesAreDistinctAndStable) {
  std::vector<std::string_view> names;
  for (size_t i = 0; i < static_cast<size_t>(Cf::kCount); ++i) {
    names.push_back(CfName(static_cast<Cf>(i)));
  }
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
  EXPECT_EQ(CfName(Cf::kEvents), "events");
  EXPECT_EQ(CfName(Cf::kMeta), "meta");
}

TEST(StoreTest, GetReturnsWhatWasWrittenAndNulloptWhenAbsent) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  ASSERT_TRUE(Put(*store, Cf::kTokens, "k", "v", false).ok());
  EXPECT_EQ(*store->Get(Cf::kTokens, "k"), std::optional<std::string>("v"));
  EXPECT_EQ(*store->Get(Cf::kTokens, "missing"), std::nullopt);
  // Column families are separate key spaces.
  EXPECT_EQ(*store->Get(Cf::kUsers, "k"), std::nullopt);
}

TEST(StoreTest, ReopenKeepsData) {
  TempDir dir;
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_TRUE(Put(*store, Cf::kMeta, kMetaAppliedIndex, U64Key(42), true).ok());
    ASSERT_TRUE(Put(*store, Cf::kEvents, EventKey(1, 1), "unsynced", false).ok());
  }
  auto store = OpenOrDie(dir.path());
  EXPECT_EQ(*store->Get(Cf::kMeta, kMetaAppliedIndex), std::optional<std::string>(U64Key(42)));
  EXPECT_EQ(*store->Get(Cf::kEvents, EventKey(1, 1)), std::optional<std::string>("unsynced"));
}

TEST(StoreTest, OpeningTheSameDirectoryTwiceFailsCleanly) {
  TempDir dir;
  auto first = OpenOrDie(dir.path());
  auto second = Store::Open({.path = dir.path()});
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kIoError);
  EXPECT_NE(second.status().message().find("in use by another process"), std::string::npos)
      << second.status().ToString();
  // The first opener is unaffected.
  EXPECT_TRUE(Put(*first, Cf::kMeta, "k", "v", true).ok());
}

TEST(StoreTest, OpenWithoutCreateFailsOnAMissingDatabase) {
  TempDir dir;
  auto store = Store::Open({.path = dir.path() + "/absent", .create_if_missing = false});
  EXPECT_EQ(store.status().code(), StatusCode::kIoError);
}

TEST(StoreTest, OpenWritesTheFormatVersion) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  EXPECT_EQ(*store->Get(Cf::kMeta, kMetaFormatVersion),
            std::optional<std::string>(U64Key(kStorageFormatVersion)));
}

TEST(StoreTest, OpenRefusesAnUnknownFormatVersion) {
  TempDir dir;
  {
    auto store = OpenOrDie(dir.path());
    ASSERT_TRUE(Put(*store, Cf::kMeta, kMetaFormatVersion, U64Key(99), true).ok());
  }
  auto store = Store::Open({.path = dir.path()});
  EXPECT_EQ(store.status().code(), StatusCode::kCorruption);
  EXPECT_NE(store.status().message().find("99"), std::string::npos);
}

TEST(StoreTest, OpenToleratesAColumnFamilyItDoesNotKnow) {
  TempDir dir;
  {
    auto store = OpenOrDie(dir.path());
    rocksdb::ColumnFamilyHandle* extra = nullptr;
    ASSERT_TRUE(store->db()->CreateColumnFamily({}, "from_the_future", &extra).ok());
    ASSERT_TRUE(store->db()->DestroyColumnFamilyHandle(extra).ok());
  }
  auto store = Store::Open({.path = dir.path()});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
}

TEST(StoreTest, IteratorsCrossRoomsInColumnFamiliesWithARoomPrefix) {
  TempDir dir;
  auto store = OpenOrDie(dir.path());
  for (RoomNumber room : {1u, 2u, 3u}) {
    ASSERT_TRUE(Put(*store, Cf::kEvents, EventKey(room, 1), "x", false).ok());
  }
  auto it = store->NewIterator(Cf::kEvents);
  int seen = 0;
  for (it->Seek(EventKey(1, 1)); it->Valid(); it->Next()) ++seen;
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(seen, 3);
}

TEST(StoreTest, FromRocksMapsStatusesToOurCodes) {
  EXPECT_TRUE(FromRocks(rocksdb::Status::OK()).ok());
  EXPECT_EQ(FromRocks(rocksdb::Status::NotFound("x")).code(), StatusCode::kNotFound);
  EXPECT_EQ(FromRocks(rocksdb::Status::Corruption("x")).code(), StatusCode::kCorruption);
  EXPECT_EQ(FromRocks(rocksdb::Status::IOError("x")).code(), StatusCode::kIoError);
  EXPECT_EQ(FromRocks(rocksdb::Status::ShutdownInProgress()).code(), StatusCode::kUnavailable);
  const Status full = FromRocks(rocksdb::Status::NoSpace("write failed"));
  EXPECT_EQ(full.code(), StatusCode::kNoSpace);
  EXPECT_NE(full.message().find("disk full"), std::string::npos);
}

}  // namespace
}  // namespace nebu::storage
