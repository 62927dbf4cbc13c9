// Goal: Engine::Read() gives a snapshot that holds every stream entry up to its
// position() even while the apply thread writes (the position is read before the
// snapshot is taken), sees every write whose call returned, and stays unchanged
// by later writes.
// Method: a real Engine on a temp dir; one writer thread sends a bounded number of
// events while the test takes snapshots in a bounded loop.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <thread>

#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/storage/keys.h"
#include "engine/testing/temp_dir.h"
#include "tests/engine/core/core_testing.h"

namespace nebu::core {
namespace {

constexpr int kWriterSendsMax = 300;
constexpr int kSnapshotsMax = 20000;

std::unique_ptr<Engine> OpenReadEngine(const std::string& dir) {
  auto e = Engine::Open({.data_dir = dir, .server_name = "localhost"});
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? std::move(e).value() : nullptr;
}

SendEventRequest ReadMessage(const std::string& room, int i) {
  SendEventRequest r;
  r.room_id = room;
  r.sender = kAlice;
  r.type = "m.room.message";
  r.content = boost::json::object{{"msgtype", "m.text"}, {"body", std::to_string(i)}};
  return r;
}

// The number of stream entries in the view at positions 1..upto.
uint64_t StreamEntriesUpTo(const storage::ReadView& view, StreamPosition upto) {
  uint64_t n = 0;
  auto it = view.NewIterator(storage::Cf::kStream);
  const std::string end = storage::U64Key(upto);
  for (it->Seek(storage::U64Key(1)); it->Valid() && it->key().compare(end) <= 0; it->Next()) ++n;
  return n;
}

TEST(EngineReadTest, SnapshotHoldsEverythingUpToItsPositionUnderAConcurrentWriter) {
  testing::TempDir dir;
  auto e = OpenReadEngine(dir.path());
  auto room = e->CreateRoom({}, kAlice);
  ASSERT_TRUE(room.ok()) << room.status().ToString();

  std::atomic<bool> done{false};
  std::thread writer([&] {
    for (int i = 0; i < kWriterSendsMax; ++i) {
      auto sent = e->SendEvent(ReadMessage(room->room_id, i));
      EXPECT_TRUE(sent.ok()) << sent.status().ToString();
    }
    done = true;
  });
  int snapshots = 0;
  StreamPosition last = 0;
  for (; snapshots < kSnapshotsMax && !done.load(); ++snapshots) {
    const Snapshot snap = e->Read();
    ASSERT_GE(snap.position(), last);  // positions never go back
    last = snap.position();
    // Stream positions are dense from 1: all of 1..position() must be in the snapshot.
    ASSERT_EQ(StreamEntriesUpTo(snap, snap.position()), snap.position())
        << "snapshot misses entries up to position " << snap.position();
    // The room's metadata in the same snapshot is at least as new as the stream.
    auto meta = LoadRoomMeta(snap, room->room_id);
    ASSERT_TRUE(meta.ok()) << meta.status().ToString();
  }
  writer.join();
  std::printf("snapshots taken during the writes: %d, last position %llu\n", snapshots,
              static_cast<unsigned long long>(last));
  EXPECT_GT(snapshots, 0);
}

TEST(EngineReadTest, SnapshotSeesReturnedWritesAndNotLaterOnes) {
  testing::TempDir dir;
  auto e = OpenReadEngine(dir.path());
  auto room = e->CreateRoom({}, kAlice);
  ASSERT_TRUE(room.ok()) << room.status().ToString();
  auto first = e->SendEvent(ReadMessage(room->room_id, 1));
  ASSERT_TRUE(first.ok());

  const Snapshot before = e->Read();
  EXPECT_EQ(before.position(), e->stream_position());
  ASSERT_TRUE(ReadEvent(before, first->event_id).ok());  // a returned write is visible
  auto second = e->SendEvent(ReadMessage(room->room_id, 2));
  ASSERT_TRUE(second.ok());

  EXPECT_EQ(ReadEvent(before, second->event_id).status().code(), StatusCode::kNotFound);
  auto meta_before = LoadRoomMeta(before, room->room_id);
  auto meta_now = e->GetRoom(room->room_id);
  ASSERT_TRUE(meta_before.ok() && meta_now.ok());
  EXPECT_EQ(meta_before->last_seq + 1, meta_now->last_seq);
  const Snapshot after = e->Read();
  EXPECT_GT(after.position(), before.position());
  EXPECT_TRUE(ReadEvent(after, second->event_id).ok());
}

}  // namespace
}  // namespace nebu::core
