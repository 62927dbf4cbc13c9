// Goal: purges and legal holds reach PostgreSQL (purge_projection.h, migration 000005):
// a purged event's row becomes a tombstone (content '{}', the log's pdu, purged with when
// and why, no search row) while the rest stay whole; a purge applied before its event was
// projected waits for it; holds are upserted with their release; the events guard still
// refuses any other change of an event, and a purged row stays purged.
// Method: a real Engine with kPurge commands, the real Projector's CatchUp into a fresh
// database of the throwaway cluster, then SQL.
#include <gtest/gtest.h>

#include "engine/compliance/compliance.h"
#include "projections/projector.h"
#include "tests/projections/history.h"
#include "tests/projections/pg_test_util.h"
#include "tests/projections/projection_fixture.h"

namespace nebu::projections {
namespace {

using testing::kAlice;
using testing::kBob;
using testing::Query;
using Rows = std::vector<std::vector<std::string>>;

class PurgeProjectionTest : public testing::ProjectionFixture {
 protected:
  Rows Q(const std::string& sql) { return Query(url(), sql); }
  void CatchUp() {
    Projector projector(engine().store(), ProjectorOptions{.db_url = url()});
    Status caught_up = projector.CatchUp();
    ASSERT_TRUE(caught_up.ok()) << caught_up.ToString();
  }
  void Submit(const compliance::PurgeCommand& c) {
    auto payload = compliance::EncodePurgeCommand(c);
    ASSERT_TRUE(payload.ok());
    core::ApplyOutcome outcome = engine().Submit({core::CommandKind::kPurge, *payload});
    ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
  }
  void PurgeAll(const std::string& room, const std::string& id, int64_t before) {
    Submit(compliance::PurgeEvents{.purge_id = id, .room_id = room, .before_ts = before,
                                   .actor = "@admin:localhost", .reason = "retention",
                                   .ts = 1'700'000'000'000});
  }
};

TEST_F(PurgeProjectionTest, PurgedRowsBecomeTombstonesAndHoldsAreProjected) {
  const std::string room = testing::CreatePublicRoom(engine(), kAlice);
  ASSERT_TRUE(testing::Member(engine(), room, kBob, kBob, "join").ok());
  auto old_one = testing::Message(engine(), room, kAlice, "old needle text");
  ASSERT_TRUE(old_one.ok());
  CatchUp();
  EXPECT_EQ(Q("SELECT count(*) FROM event_search WHERE tsv @@ plainto_tsquery('simple', "
              "'needle')"),
            (Rows{{"1"}}));
  const int64_t cut = 1'900'000'000'000;  // later than every event sent so far
  PurgeAll(room, "p1", cut);
  // Purged before its projection: a second message purged by a later purge.
  auto second = testing::Message(engine(), room, kAlice, "second needle");
  ASSERT_TRUE(second.ok());
  PurgeAll(room, "p2", cut);
  auto kept = testing::Message(engine(), room, kBob, "kept needle");
  ASSERT_TRUE(kept.ok());
  Submit(compliance::HoldCreate{.hold_id = "h1", .target = kBob, .reason = "case",
                                .case_id = "C-1", .actor = "@audit:localhost", .ts = 1000});
  Submit(compliance::HoldCreate{.hold_id = "h2", .target = room, .reason = "case",
                                .case_id = "C-2", .actor = "@audit:localhost", .ts = 2000});
  Submit(compliance::HoldRelease{.hold_id = "h2", .actor = "@boss:localhost", .ts = 3000});
  CatchUp();

  EXPECT_EQ(Q("SELECT event_id, purged::text, content::text, coalesce(purge_reason, ''), "
              "(pdu::text LIKE '%needle%')::text, (purged_at IS NOT NULL)::text FROM events "
              "WHERE type = 'm.room.message' ORDER BY stream_position"),
            (Rows{{old_one->event_id, "true", "{}", "retention", "false", "true"},
                  {second->event_id, "true", "{}", "retention", "false", "true"},
                  {kept->event_id, "false", R"({"body": "kept needle", "msgtype": "m.text"})",
                   "", "false", "false"}}));
  EXPECT_EQ(Q("SELECT count(*) FROM event_search WHERE tsv @@ plainto_tsquery('simple', "
              "'needle')"),
            (Rows{{"1"}}));
  EXPECT_EQ(Q("SELECT count(*) FROM events WHERE purged AND state_key IS NOT NULL"), (Rows{{"0"}}));
  // The tombstone keeps the content hash (the log stays verifiable from PostgreSQL too).
  EXPECT_EQ(Q("SELECT count(*) FROM events WHERE purged AND pdu::jsonb ? 'hashes'"), (Rows{{"2"}}));
  EXPECT_EQ(Q("SELECT position FROM nebu_projection_checkpoints WHERE stream = 'purges'"),
            (Rows{{"2"}}));
  EXPECT_EQ(Q("SELECT hold_id, coalesce(user_id, ''), coalesce(room_id, ''), case_id, created_by, "
              "(released_at IS NOT NULL)::text, coalesce(released_by, '') FROM legal_holds "
              "ORDER BY hold_id"),
            (Rows{{"h1", kBob, "", "C-1", "@audit:localhost", "false", ""},
                  {"h2", "", room, "C-2", "@audit:localhost", "true", "@boss:localhost"}}));

  // The guard: no other change to an event, and no way back from a purge.
  EXPECT_THROW(testing::Exec(url(), "UPDATE events SET content = '{\"x\":1}' WHERE event_id = '" +
                                        kept->event_id + "'"),
               std::exception);
  EXPECT_THROW(testing::Exec(url(), "UPDATE events SET purged = false WHERE event_id = '" +
                                        old_one->event_id + "'"),
               std::exception);
  // Another pass changes nothing.
  CatchUp();
  EXPECT_EQ(Q("SELECT count(*) FROM events WHERE purged"), (Rows{{"2"}}));
}

}  // namespace
}  // namespace nebu::projections
