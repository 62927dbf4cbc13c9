// Goal: RoomLog serves exactly what was appended, in log order, and never serves
// damaged bytes. Method: a real RocksDB in a temporary directory; a rapidcheck
// property compares Scan with an in-memory model (fresh room numbers per case; a
// failure prints the seed for RC_PARAMS); damage is written with the raw DB.
#include "engine/storage/room_log.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <limits>
#include <map>
#include <vector>

#include "engine/storage/keys.h"
#include "tests/engine/storage/storage_testing.h"

namespace nebu::storage {
namespace {

using testing::MakeRecord;
using testing::TempDir;

class RoomLogTest : public ::testing::Test {
 protected:
  RoomLogTest() {
    auto store = Store::Open({.path = dir_.path()});
    NEBU_CHECK(store.ok(), store.status().ToString());
    store_ = std::move(store).value();
    log_ = std::make_unique<RoomLog>(*store_);
  }

  // Appends events 1..count to room in one batch.
  void AppendEvents(RoomNumber room, Sequence count, Sequence first = 1) {
    rocksdb::WriteBatch batch;
    for (Sequence s = first; s < first + count; ++s) log_->Append(batch, MakeRecord(room, s));
    ASSERT_TRUE(store_->Write(batch, false).ok());
  }

  void PutRaw(Cf cf, std::string_view key, std::string_view value) {
    ASSERT_TRUE(store_->db()->Put(rocksdb::WriteOptions(), store_->handle(cf), key, value).ok());
  }

  // Sequences visited by Scan, or the status when it fails.
  Result<std::vector<Sequence>> ScanSequences(RoomNumber room, Sequence from, Sequence to,
                                              size_t limit) {
    std::vector<Sequence> seen;
    const Status s = log_->Scan(room, from, to, limit, [&](const EventView& e) {
      seen.push_back(e.sequence);
      return true;
    });
    if (!s.ok()) return s;
    return seen;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<RoomLog> log_;
};

std::vector<Sequence> Range(Sequence from, Sequence to) {
  std::vector<Sequence> v;
  if (from <= to) {
    for (Sequence s = from; s <= to; ++s) v.push_back(s);
  } else {
    for (Sequence s = from; s > to; --s) v.push_back(s);
    v.push_back(to);
  }
  return v;
}

TEST_F(RoomLogTest, ReadReturnsTheAppendedRecord) {
  rocksdb::WriteBatch batch;
  const EventRecord state = MakeRecord(5, 1, /*state=*/true);
  log_->Append(batch, state);
  ASSERT_TRUE(store_->Write(batch, true).ok());
  const auto back = log_->Read(5, 1);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, state);
}

TEST_F(RoomLogTest, ReadOfAnAbsentEventIsNotFound) {
  AppendEvents(1, 3);
  EXPECT_EQ(log_->Read(1, 4).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(log_->Read(2, 1).status().code(), StatusCode::kNotFound);
}

TEST_F(RoomLogTest, LastSequenceIsZeroForAnEmptyRoomAndCountsAppends) {
  EXPECT_EQ(*log_->LastSequence(7), 0u);
  AppendEvents(7, 12);
  AppendEvents(8, 3);  // a neighbouring room on either side must not leak in
  AppendEvents(6, 30);
  EXPECT_EQ(*log_->LastSequence(7), 12u);
  EXPECT_EQ(*log_->LastSequence(8), 3u);
  EXPECT_EQ(*log_->LastSequence(9), 0u);
  EXPECT_EQ(*log_->LastSequence(5), 0u);
}

TEST_F(RoomLogTest, LastSequenceWorksForTheLargestRoomNumber) {
  const RoomNumber last_room = std::numeric_limits<RoomNumber>::max();
  AppendEvents(last_room, 4);
  EXPECT_EQ(*log_->LastSequence(last_room), 4u);
  EXPECT_EQ(*ScanSequences(last_room, 1, std::numeric_limits<Sequence>::max(), 10), Range(1, 4));
}

TEST_F(RoomLogTest, LocateFindsTheEventByItsId) {
  AppendEvents(3, 5);
  const auto where = log_->Locate(MakeRecord(3, 4).event_id);
  ASSERT_TRUE(where.ok());
  EXPECT_EQ(*where, std::make_pair(RoomNumber{3}, Sequence{4}));
  EXPECT_EQ(log_->Locate("$unknown").status().code(), StatusCode::kNotFound);
}

TEST_F(RoomLogTest, LocateReportsAMalformedIndexEntryAsCorruption) {
  PutRaw(Cf::kEventIds, "$bad", "short");
  EXPECT_EQ(log_->Locate("$bad").status().code(), StatusCode::kCorruption);
}

TEST_F(RoomLogTest, ScanForwardsVisitsTheRangeInOrder) {
  AppendEvents(2, 10);
  AppendEvents(3, 10);
  EXPECT_EQ(*ScanSequences(2, 3, 7, 100), Range(3, 7));
  EXPECT_EQ(*ScanSequences(2, 0, 1000, 100), Range(1, 10));
}

TEST_F(RoomLogTest, ScanBackwardsWhenFromExceedsTo) {
  AppendEvents(2, 10);
  AppendEvents(1, 10);
  EXPECT_EQ(*ScanSequences(2, 8, 2, 100), Range(8, 2));
  EXPECT_EQ(*ScanSequences(2, std::numeric_limits<Sequence>::max(), 1, 100), Range(10, 1));
}

TEST_F(RoomLogTest, ScanStopsAtTheLimit) {
  AppendEvents(2, 10);
  EXPECT_EQ(*ScanSequences(2, 1, 10, 4), Range(1, 4));
  EXPECT_EQ(*ScanSequences(2, 10, 1, 4), Range(10, 7));
  EXPECT_EQ(*ScanSequences(2, 1, 10, 0), std::vector<Sequence>{});
}

TEST_F(RoomLogTest, ScanStopsWhenTheVisitorSaysSo) {
  AppendEvents(2, 10);
  int calls = 0;
  ASSERT_TRUE(log_->Scan(2, 1, 10, 100, [&](const EventView&) { return ++calls < 3; }).ok());
  EXPECT_EQ(calls, 3);
}

TEST_F(RoomLogTest, ScanOfAnEmptyRangeVisitsNothing) {
  AppendEvents(2, 5);
  EXPECT_EQ(*ScanSequences(2, 6, 9, 100), std::vector<Sequence>{});
  EXPECT_EQ(*ScanSequences(4, 1, 9, 100), std::vector<Sequence>{});
}

TEST_F(RoomLogTest, GarbageUnderAnEventKeyIsCorruptionOnReadAndScan) {
  AppendEvents(4, 5);
  PutRaw(Cf::kEvents, EventKey(4, 3), "definitely not an envelope");
  EXPECT_EQ(log_->Read(4, 3).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(ScanSequences(4, 1, 5, 100).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(ScanSequences(4, 5, 1, 100).status().code(), StatusCode::kCorruption);
  // Events before the damage are still served, and the scan never passes it.
  EXPECT_TRUE(log_->Read(4, 2).ok());
  EXPECT_EQ(*ScanSequences(4, 1, 2, 100), Range(1, 2));
}

TEST_F(RoomLogTest, AFlippedByteInAStoredEnvelopeIsCorruption) {
  AppendEvents(4, 1);
  std::string value = *store_->Get(Cf::kEvents, EventKey(4, 1)).value();
  value[value.size() / 2] = static_cast<char>(value[value.size() / 2] ^ 0x40);
  PutRaw(Cf::kEvents, EventKey(4, 1), value);
  EXPECT_EQ(log_->Read(4, 1).status().code(), StatusCode::kCorruption);
}

TEST_F(RoomLogTest, AnEnvelopeUnderTheWrongKeyIsCorruption) {
  AppendEvents(4, 3);
  // A valid envelope of (4, 2) copied under (4, 3), and one of room 9 under room 4.
  PutRaw(Cf::kEvents, EventKey(4, 3), EncodeEnvelope(MakeRecord(4, 2)));
  PutRaw(Cf::kEvents, EventKey(4, 4), EncodeEnvelope(MakeRecord(9, 4)));
  const auto wrong_seq = log_->Read(4, 3);
  EXPECT_EQ(wrong_seq.status().code(), StatusCode::kCorruption);
  EXPECT_NE(wrong_seq.status().message().find("stored under"), std::string::npos);
  EXPECT_EQ(log_->Read(4, 4).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(ScanSequences(4, 1, 4, 100).status().code(), StatusCode::kCorruption);
}

TEST_F(RoomLogTest, AGapInTheLogIsCorruptionOnScan) {
  AppendEvents(4, 2);
  AppendEvents(4, 2, /*first=*/4);  // 1, 2, 4, 5: 3 is missing
  EXPECT_EQ(ScanSequences(4, 1, 5, 100).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(ScanSequences(4, 5, 1, 100).status().code(), StatusCode::kCorruption);
}

TEST_F(RoomLogTest, DataSurvivesReopen) {
  AppendEvents(11, 20);
  log_.reset();
  store_.reset();
  auto store = Store::Open({.path = dir_.path()});
  ASSERT_TRUE(store.ok());
  RoomLog log(**store);
  EXPECT_EQ(*log.LastSequence(11), 20u);
  EXPECT_EQ(*log.Read(11, 20), MakeRecord(11, 20));
}

// Property: after random batches of appends to a few rooms, every room's Scan in
// either direction, any range and any limit equals the model's slice.
TEST_F(RoomLogTest, ScanMatchesAModelOfTheAppends) {
  RoomNumber next_room = 1000;
  const bool passed = rc::check("scan matches the model", [&] {
    const RoomNumber base = next_room;
    const auto rooms = *rc::gen::inRange<RoomNumber>(1, 4);
    next_room += rooms;
    std::map<RoomNumber, Sequence> last;
    const auto batches = *rc::gen::inRange(1, 6);
    for (int b = 0; b < batches; ++b) {
      rocksdb::WriteBatch batch;
      const auto appends = *rc::gen::inRange(1, 20);
      for (int i = 0; i < appends; ++i) {
        const RoomNumber room = base + *rc::gen::inRange<RoomNumber>(0, rooms);
        log_->Append(batch, MakeRecord(room, ++last[room], *rc::gen::arbitrary<bool>()));
      }
      RC_ASSERT(store_->Write(batch, false).ok());
    }
    for (RoomNumber room = base; room < base + rooms; ++room) {
      RC_ASSERT(*log_->LastSequence(room) == last[room]);
      const Sequence from = *rc::gen::inRange<Sequence>(0, last[room] + 3);
      const Sequence to = *rc::gen::inRange<Sequence>(0, last[room] + 3);
      const auto limit = *rc::gen::inRange<size_t>(0, 30);
      std::vector<Sequence> expected;
      for (Sequence s : Range(from, to)) {
        if (s >= 1 && s <= last[room] && expected.size() < limit) expected.push_back(s);
      }
      const auto seen = ScanSequences(room, from, to, limit);
      RC_ASSERT(seen.ok());
      RC_ASSERT(*seen == expected);
    }
  });
  EXPECT_TRUE(passed);
}

}  // namespace
}  // namespace nebu::storage
