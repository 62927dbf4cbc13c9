// Goal: the `media` table mirrors the engine's media records (projections/
// media_snapshot.h): complete, not deleted records only, with their columns; a
// quarantine and a deletion reach it at the next snapshot; writing the same snapshot
// again changes nothing (exactly once).
// Method: a real Engine on tmpfs, kMedia commands, Projector::CatchUp into a fresh
// migrated database (skips without NEBU_TEST_PG_URL).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/media/media.h"
#include "projections/media_snapshot.h"
#include "projections/projector.h"
#include "tests/projections/projection_fixture.h"

namespace nebu::projections {
namespace {

using Rows = std::vector<std::vector<std::string>>;

class MediaProjectionTest : public testing::ProjectionFixture {
 protected:
  void Submit(const media::MediaCommand& c) {
    auto payload = media::EncodeMediaCommand(c);
    ASSERT_TRUE(payload.ok()) << payload.status().ToString();
    auto applied = engine().Submit({core::CommandKind::kMedia, *payload});
    ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  }
  void Upload(const std::string& id, uint64_t size, const std::string& name) {
    Submit({.op = media::MediaOp::kUpload, .media_id = id, .user_id = "@alice:example.org",
            .size = size, .content_type = "image/png", .file_name = name,
            .sha256 = std::string(64, 'a'), .ts = 1700000000000});
  }
};

TEST_F(MediaProjectionTest, MirrorsCompleteRecordsAndTheirMarks) {
  Upload("one", 10, "cat.png");
  Upload("two", 20, "");
  Submit({.op = media::MediaOp::kCreate, .media_id = "pending", .user_id = "@alice:example.org",
          .ts = 1, .expires_ts = 4000000000000, .pending_max = 5});
  Projector projector(engine().store(), {.db_url = url()});
  ASSERT_TRUE(projector.CatchUp().ok());
  const std::string sql =
      "SELECT server_name, media_id, uploader, coalesce(upload_name, '<null>'), "
      "size_bytes::text, sha256 = storage_key, quarantined::text, "
      "(extract(epoch from created_at) * 1000)::bigint::text FROM media ORDER BY media_id";
  EXPECT_EQ(testing::Query(url(), sql),
            (Rows{{"example.org", "one", "@alice:example.org", "cat.png", "10", "t", "false",
                   "1700000000000"},
                  {"example.org", "two", "@alice:example.org", "<null>", "20", "t", "false",
                   "1700000000000"}}));
  Submit({.op = media::MediaOp::kQuarantine, .media_id = "one", .value = true});
  Submit({.op = media::MediaOp::kDelete, .media_id = "two"});
  ASSERT_TRUE(projector.CatchUp().ok());
  EXPECT_EQ(testing::Query(url(), "SELECT media_id, quarantined::text FROM media"),
            (Rows{{"one", "true"}}));
}

TEST_F(MediaProjectionTest, WritingTheSameSnapshotTwiceKeepsOneRowPerRecord) {
  Upload("one", 10, "a");
  auto snap = ReadMediaSnapshot(engine().store());
  ASSERT_TRUE(snap.ok());
  pqxx::connection conn(url());
  std::string digest;
  ASSERT_TRUE(WriteMediaSnapshot(conn, *snap, &digest).ok());
  std::string other;  // a second writer that never saw the first write
  ASSERT_TRUE(WriteMediaSnapshot(conn, *snap, &other).ok());
  EXPECT_EQ(testing::Query(url(), "SELECT count(*) FROM media"), (Rows{{"1"}}));
}

}  // namespace
}  // namespace nebu::projections
