// Test helpers: a real RocksDB Store in a fresh temporary directory, and a dump of
// every column family for byte-for-byte comparisons.
#pragma once

#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "engine/storage/store.h"
#include "engine/testing/temp_dir.h"

namespace nebu::accounts::testing {

// Owns a Store in a fresh tmpfs directory (fsync is free there; these tests are
// not about durability); removes the directory when destroyed.
class TempStore {
 public:
  TempStore() : dir_(nebu::testing::TempDir::kTmpfs) {
    auto store = storage::Store::Open({.path = dir_.path() + "/db"});
    NEBU_CHECK(store.ok(), store.status().ToString());
    store_ = std::move(store).value();
  }
  ~TempStore() { store_.reset(); }
  TempStore(const TempStore&) = delete;
  TempStore& operator=(const TempStore&) = delete;

  storage::Store& store() { return *store_; }

  // Deletes every record except Cf::kMeta (what Open wrote), so the store is as
  // fresh as a new one for a test's purposes, in milliseconds instead of a reopen.
  void Wipe() {
    rocksdb::WriteBatch batch;
    for (int cf = 1; cf < static_cast<int>(storage::Cf::kCount); ++cf) {
      auto it = store_->NewIterator(static_cast<storage::Cf>(cf));
      for (it->SeekToFirst(); it->Valid(); it->Next()) {
        NEBU_CHECK(batch.Delete(store_->handle(static_cast<storage::Cf>(cf)), it->key()).ok());
      }
    }
    NEBU_CHECK(store_->Write(batch, /*sync=*/false).ok());
  }

 private:
  nebu::testing::TempDir dir_;
  std::unique_ptr<storage::Store> store_;
};

// One stored record: column family, key, value.
using Row = std::tuple<int, std::string, std::string>;

// Every record of every column family, in order.
inline std::vector<Row> DumpAll(storage::Store& store) {
  std::vector<Row> rows;
  for (int cf = 0; cf < static_cast<int>(storage::Cf::kCount); ++cf) {
    auto it = store.NewIterator(static_cast<storage::Cf>(cf));
    for (it->SeekToFirst(); it->Valid(); it->Next()) {
      rows.emplace_back(cf, it->key().ToString(), it->value().ToString());
    }
    NEBU_CHECK(it->status().ok(), it->status().ToString());
  }
  return rows;
}

// Every record of one column family.
inline std::vector<Row> Dump(storage::Store& store, storage::Cf cf) {
  std::vector<Row> rows;
  for (const Row& row : DumpAll(store)) {
    if (std::get<0>(row) == static_cast<int>(cf)) rows.push_back(row);
  }
  return rows;
}

}  // namespace nebu::accounts::testing
