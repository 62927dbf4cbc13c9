// Goal: a ReadView reads the Store as of its snapshot (writes after it stay invisible
// to Get and iterators), an unpinned view reads the latest state, and the RocksDB
// snapshot lives exactly as long as the last copy of the view.
// Method: a real RocksDB in a temporary directory; "rocksdb.num-snapshots" counts
// the live snapshots.
#include "engine/storage/read_view.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

#include "engine/storage/keys.h"
#include "tests/engine/storage/storage_testing.h"

namespace nebu::storage {
namespace {

using testing::TempDir;

std::unique_ptr<Store> ReadViewOpenOrDie(const std::string& path) {
  auto store = Store::Open({.path = path});
  NEBU_CHECK(store.ok(), store.status().ToString());
  return std::move(store).value();
}

void ReadViewPut(Store& store, Cf cf, std::string_view key, std::string_view value) {
  rocksdb::WriteBatch batch;
  NEBU_CHECK(batch.Put(store.handle(cf), key, value).ok(), "batch");
  const Status s = store.Write(batch, false);
  NEBU_CHECK(s.ok(), s.ToString());
}

uint64_t LiveSnapshots(Store& store) {
  uint64_t n = 0;
  NEBU_CHECK(store.db()->GetIntProperty("rocksdb.num-snapshots", &n), "property");
  return n;
}

std::optional<std::string> GetOrDie(const ReadView& view, Cf cf, std::string_view key) {
  auto v = view.Get(cf, key);
  NEBU_CHECK(v.ok(), v.status().ToString());
  return *v;
}

TEST(ReadViewTest, PinnedViewDoesNotSeeLaterWrites) {
  TempDir dir;
  auto store = ReadViewOpenOrDie(dir.path());
  ReadViewPut(*store, Cf::kStream, U64Key(1), "one");
  const ReadView pinned = ReadView::Pinned(*store);
  const ReadView latest(*store);
  ReadViewPut(*store, Cf::kStream, U64Key(2), "two");
  ReadViewPut(*store, Cf::kStream, U64Key(1), "changed");

  EXPECT_EQ(GetOrDie(pinned, Cf::kStream, U64Key(1)), "one");
  EXPECT_EQ(GetOrDie(pinned, Cf::kStream, U64Key(2)), std::nullopt);
  EXPECT_EQ(GetOrDie(latest, Cf::kStream, U64Key(1)), "changed");
  EXPECT_EQ(GetOrDie(latest, Cf::kStream, U64Key(2)), "two");

  int pinned_entries = 0;
  auto it = pinned.NewIterator(Cf::kStream);
  for (it->SeekToFirst(); it->Valid(); it->Next()) ++pinned_entries;
  EXPECT_TRUE(it->status().ok());
  EXPECT_EQ(pinned_entries, 1);
  int latest_entries = 0;
  auto all = latest.NewIterator(Cf::kStream);
  for (all->SeekToFirst(); all->Valid(); all->Next()) ++latest_entries;
  EXPECT_EQ(latest_entries, 2);
  EXPECT_TRUE(pinned.pinned());
  EXPECT_FALSE(latest.pinned());
}

TEST(ReadViewTest, SnapshotIsReleasedWithTheLastCopy) {
  TempDir dir;
  auto store = ReadViewOpenOrDie(dir.path());
  ASSERT_EQ(LiveSnapshots(*store), 0u);
  {
    const ReadView unpinned(*store);
    EXPECT_EQ(LiveSnapshots(*store), 0u);
  }
  std::optional<ReadView> copy;
  {
    const ReadView pinned = ReadView::Pinned(*store);
    EXPECT_EQ(LiveSnapshots(*store), 1u);
    copy = pinned;
    ReadView another = pinned;
    EXPECT_EQ(LiveSnapshots(*store), 1u);  // copies share the one snapshot
    EXPECT_EQ(another.sequence(), pinned.sequence());
  }
  EXPECT_EQ(LiveSnapshots(*store), 1u);  // `copy` still holds it
  copy.reset();
  EXPECT_EQ(LiveSnapshots(*store), 0u);
}

}  // namespace
}  // namespace nebu::storage
