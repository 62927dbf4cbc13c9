// Goal: the projector writes every stream entry's effect into PostgreSQL exactly once
// (events, state, memberships, relations, redactions, account data), whatever happens:
// concurrent projectors, a SIGKILLed projecting process, PostgreSQL stopped and
// restarted under load; rebuild reproduces the incremental result; an auditor role
// reads events but never secrets; a down PostgreSQL never slows client writes.
// Method: a real Engine on tmpfs, a fresh database per test in the throwaway cluster
// (scripts/pg.sh), and VerifyProjection (log fold vs PostgreSQL) as the judge, plus
// direct SQL for the rows that matter.
#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <random>
#include <thread>

#include "engine/testing/temp_dir.h"
#include "projections/batch_writer.h"
#include "projections/migrate.h"
#include "projections/projector.h"
#include "projections/search_indexer.h"
#include "projections/verify.h"
#include "tests/projections/history.h"
#include "tests/projections/pg_test_util.h"
#include "tests/projections/projection_fixture.h"

namespace nebu::projections {
namespace {

using namespace std::chrono_literals;
using testing::Query;

std::unique_ptr<core::Engine> OpenEngine(const std::string& dir) {
  auto engine = core::Engine::Open({.data_dir = dir});
  NEBU_CHECK(engine.ok(), engine.status().ToString());
  return std::move(engine).value();
}

void ExpectNoDifference(storage::Store& store, const std::string& url) {
  auto report = VerifyProjection(store, url);
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  for (const std::string& d : report->differences) ADD_FAILURE() << d;
  EXPECT_EQ(report->events_log, report->events_pg);
}

using testing::WaitFor;

// ---- pure parts ----

TEST(DeriveEventTest, ReadsRedactionMembershipAndRelation) {
  storage::EventRecord r;
  r.event_id = "$r";
  r.type = "m.room.redaction";
  r.json = R"({"content":{"reason":"spam"},"redacts":"$x","type":"m.room.redaction"})";
  auto d = DeriveEvent(r);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->redacts, "$x");
  EXPECT_EQ(d->reason, "spam");
  EXPECT_EQ(d->content, R"({"reason":"spam"})");

  r.type = "m.room.member";
  r.state_key = "@bob:hs";
  r.json = R"({"content":{"membership":"join"},"state_key":"@bob:hs","type":"m.room.member"})";
  d = DeriveEvent(r);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->membership, "join");
  EXPECT_FALSE(d->redacts);

  r.type = "m.room.message";
  r.state_key.reset();
  r.json = R"({"content":{"m.relates_to":{"m.in_reply_to":{"event_id":"$a"}}},"type":"m.room.message"})";
  d = DeriveEvent(r);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->relates_to_id, "$a");
  EXPECT_EQ(d->rel_type, "m.in_reply_to");
}

TEST(DeriveEventTest, ReplacesEscapedNulButNotAnEscapedBackslash) {
  bool changed = false;
  EXPECT_EQ(ReplaceNulEscapes(R"({"a":"x\u0000y"})", &changed), R"({"a":"x\ufffdy"})");
  EXPECT_TRUE(changed);
  EXPECT_EQ(ReplaceNulEscapes(R"({"a":"x\\u0000y"})", &changed), R"({"a":"x\\u0000y"})");
  EXPECT_FALSE(changed);
}

TEST(StreamReaderTest, BatchesRespectTheEntryLimitAndCoverEveryPosition) {
  nebu::testing::TempDir dir(nebu::testing::TempDir::kTmpfs);
  auto engine = OpenEngine(dir.path());
  size_t sent = testing::SendMixedHistory(*engine);
  ASSERT_TRUE(testing::PutAccountData(*engine, testing::kAlice, std::nullopt, "m.direct", {{"a", 1}}).ok());
  StreamReader reader(engine->store());
  storage::StreamPosition at = 0;
  size_t events = 0, account_data = 0;
  while (true) {
    auto batch = reader.Read(at, {.entries_max = 3});
    ASSERT_TRUE(batch.ok()) << batch.status().ToString();
    if (batch->upto == at) break;
    EXPECT_LE(batch->entries(), 3u);
    for (const auto& e : batch->events) EXPECT_GT(e.record.stream_position, at);
    events += batch->events.size();
    account_data += batch->account_data.size();
    at = batch->upto;
  }
  EXPECT_EQ(events, sent);
  EXPECT_EQ(account_data, 1u);
  EXPECT_EQ(at, engine->stream_position());
  EXPECT_EQ(*reader.Head(), engine->stream_position());
}

// ---- with PostgreSQL ----

class ProjectionTest : public testing::ProjectionFixture {
 protected:
  std::string Scalar(const std::string& sql) { return Query(url(), sql)[0][0]; }
};

TEST_F(ProjectionTest, ProjectsEventsStateMembershipsEditsRedactionsAndAccountData) {
  size_t sent = testing::SendMixedHistory(engine());
  ASSERT_TRUE(testing::PutAccountData(engine(), testing::kAlice, std::nullopt, "m.direct",
                                      {{"k", "v"}}).ok());
  Projector projector(engine().store(), {.db_url = url(), .limits = {.entries_max = 4}});
  ASSERT_TRUE(projector.CatchUp().ok());
  EXPECT_EQ(projector.Stats().checkpoint, engine().stream_position());
  EXPECT_EQ(Scalar("SELECT count(*) FROM events"), std::to_string(sent));
  EXPECT_EQ(Scalar("SELECT count(*) FROM rooms"), "2");
  EXPECT_EQ(Scalar("SELECT position FROM nebu_projection_checkpoints WHERE stream = 'stream'"),
            std::to_string(engine().stream_position()));
  // The edit, the redaction, the current topic, Bob's membership, the NUL message.
  EXPECT_EQ(Scalar("SELECT count(*) FROM event_relations WHERE rel_type = 'm.replace'"), "1");
  EXPECT_EQ(Scalar("SELECT e.content->>'body' FROM events e JOIN redactions r "
                   "ON r.redacts = e.event_id WHERE e.redacted_by = r.redaction_event_id"),
            "buy now \u00e9");
  EXPECT_EQ(Scalar("SELECT x.content->>'topic' FROM current_state s JOIN events x "
                   "ON x.event_id = s.event_id WHERE s.type = 'm.room.topic'"),
            "second");
  EXPECT_EQ(Scalar("SELECT membership FROM room_memberships WHERE user_id = '@bob:localhost' "
                   "AND room_id = (SELECT room_id FROM rooms WHERE creator = '@alice:localhost')"),
            "leave");
  EXPECT_EQ(Scalar("SELECT count(*) FROM membership_history WHERE user_id = '@bob:localhost'"), "3");
  EXPECT_EQ(Scalar("SELECT content_lossy::text || ' ' || (content->>'body') FROM events "
                   "WHERE content->>'body' LIKE 'nul%'"),
            "true nul \ufffd inside");
  EXPECT_EQ(Scalar("SELECT content::text FROM account_data WHERE type = 'm.direct'"), R"({"k": "v"})");
  // The compliance helpers answer.
  EXPECT_EQ(Scalar("SELECT count(*) FROM compliance_user_messages('@alice:localhost', "
                   "now() - interval '1 hour', now() + interval '1 hour')"),
            "3");
  EXPECT_EQ(Scalar("SELECT edited_content->>'body' FROM compliance_room_history("
                   "(SELECT room_id FROM rooms WHERE creator = '@alice:localhost')) "
                   "WHERE edited_content IS NOT NULL"),
            "hello there");
  EXPECT_EQ(Scalar("SELECT string_agg(user_id, ',') FROM compliance_room_members_at("
                   "(SELECT room_id FROM rooms WHERE creator = '@alice:localhost'), now())"),
            "@alice:localhost");
  EXPECT_EQ(Scalar("SELECT count(*) FROM compliance_search_messages('world')"), "1");
  ExpectNoDifference(engine().store(), url());
}

TEST_F(ProjectionTest, ProjectsAccountsAsASnapshot) {
  ASSERT_TRUE(testing::RegisterWithDevice(engine(), "@dave:localhost", "DEVD", std::string(64, 'd')).ok());
  ASSERT_TRUE(testing::RegisterWithDevice(engine(), "@erin:localhost", "DEVE", std::string(64, 'e')).ok());
  Projector projector(engine().store(), {.db_url = url()});
  ASSERT_TRUE(projector.CatchUp().ok());
  EXPECT_EQ(Query(url(), "SELECT user_id, deactivated::text, created_ts::text FROM users ORDER BY 1"),
            (std::vector<std::vector<std::string>>{{"@dave:localhost", "false", "1700000000000"},
                                                   {"@erin:localhost", "false", "1700000000000"}}));
  EXPECT_EQ(Scalar("SELECT displayname FROM profiles WHERE user_id = '@dave:localhost'"), "Display @dave:localhost");
  EXPECT_EQ(Scalar("SELECT count(*) FROM user_passwords"), "2");
  EXPECT_EQ(Scalar("SELECT user_id || ' ' || device_id FROM access_tokens WHERE token_hash = '" +
                   std::string(64, 'e') + "'"),
            "@erin:localhost DEVE");
  EXPECT_EQ(Scalar("SELECT display_name FROM devices WHERE device_id = 'DEVD'"), "phone");
  // A logout deletes the token and the device; the next snapshot mirrors it.
  accounts::LogoutCommand logout{.user_id = "@erin:localhost", .device_id = "DEVE"};
  auto payload = accounts::EncodeAccountCommand(logout);
  ASSERT_TRUE(payload.ok());
  ASSERT_TRUE(engine().Submit(core::Command{core::CommandKind::kAccount, *payload}).ok());
  ASSERT_TRUE(projector.CatchUp().ok());
  EXPECT_EQ(Scalar("SELECT count(*) FROM access_tokens"), "1");
  EXPECT_EQ(Scalar("SELECT count(*) FROM users"), "2");
}

// A redaction marks only an event of its own room. Apply refuses any other since
// issue 7, but a log written before may hold one: simulated here by pointing a
// valid redaction's derived target at another room's event before the write.
TEST_F(ProjectionTest, ARedactionMarksOnlyAnEventOfItsOwnRoom) {
  const std::string room_a = testing::CreatePublicRoom(engine(), testing::kAlice);
  const std::string room_b = testing::CreatePublicRoom(engine(), testing::kAlice);
  auto elsewhere = testing::Message(engine(), room_a, testing::kAlice, "in room a");
  auto own = testing::Message(engine(), room_b, testing::kAlice, "in room b");
  ASSERT_TRUE(elsewhere.ok() && own.ok());
  auto redaction = testing::Redact(engine(), room_b, testing::kAlice, own->event_id);
  ASSERT_TRUE(redaction.ok()) << redaction.status().ToString();
  // The cross-room attempt through apply: refused, so never in the log.
  EXPECT_EQ(testing::Redact(engine(), room_b, testing::kAlice, elsewhere->event_id).status().code(),
            StatusCode::kInvalidArgument);

  StreamReader reader(engine().store());
  auto batch = reader.Read(0);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  std::vector<DerivedEvent> derived;
  for (const auto& e : batch->events) {
    auto d = DeriveEvent(e.record);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    if (e.record.event_id == redaction->event_id) {
      EXPECT_EQ(d->redacts, own->event_id);
      d->redacts = elsewhere->event_id;  // an old log's cross-room redaction
    }
    derived.push_back(std::move(d).value());
  }
  auto writer = BatchWriter::Connect(url());
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  ASSERT_TRUE((*writer)->Write(*batch, &derived).ok());
  EXPECT_EQ(Scalar("SELECT count(*) FROM events WHERE redacted_by IS NOT NULL"), "0");
  EXPECT_EQ(Scalar("SELECT coalesce(redacted_by, 'none') FROM events WHERE event_id = '" +
                   elsewhere->event_id + "'"),
            "none");
  // The genuine redaction, projected normally, marks its own room's target.
  ASSERT_TRUE((*writer)->Reset().ok());
  ASSERT_TRUE((*writer)->Write(*batch).ok());
  EXPECT_EQ(Scalar("SELECT redacted_by FROM events WHERE event_id = '" + own->event_id + "'"),
            redaction->event_id);
}

TEST_F(ProjectionTest, EventsAreImmutableExceptTheRedactionMark) {
  testing::SendMixedHistory(engine());
  Projector projector(engine().store(), {.db_url = url()});
  ASSERT_TRUE(projector.CatchUp().ok());
  EXPECT_THROW(testing::Exec(url(), "UPDATE events SET content = '{}' WHERE sequence = 1"),
               pqxx::sql_error);
  EXPECT_THROW(testing::Exec(url(), "DELETE FROM events WHERE sequence = 1"), pqxx::sql_error);
  EXPECT_THROW(testing::Exec(url(), "UPDATE events SET redacted_by = '$other' "
                                    "WHERE redacted_by IS NOT NULL"),
               pqxx::sql_error);
}

TEST_F(ProjectionTest, VerifyReportsEveryDifference) {
  testing::SendMixedHistory(engine());
  Projector projector(engine().store(), {.db_url = url()});
  ASSERT_TRUE(projector.CatchUp().ok());
  ExpectNoDifference(engine().store(), url());
  // Tamper as the owner would have to: drop the guard, change a row, delete another.
  testing::Exec(url(), "ALTER TABLE events DISABLE TRIGGER events_immutable");
  testing::Exec(url(), "UPDATE events SET content = '{\"body\":\"forged\"}' WHERE sequence = 3 "
                       "AND room_id = (SELECT room_id FROM rooms WHERE room_number = 1)");
  testing::Exec(url(), "DELETE FROM current_state WHERE type = 'm.room.topic'");
  testing::Exec(url(), "INSERT INTO event_relations VALUES ('$nowhere', '$x', 'm.replace', '!r:hs', "
                       "'@alice:localhost', 0)");
  auto report = VerifyProjection(engine().store(), url());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::string all;
  for (const auto& d : report->differences) all += d + "\n";
  EXPECT_NE(all.find("sequence 3 differs"), std::string::npos) << all;
  EXPECT_NE(all.find("current state (m.room.topic, )"), std::string::npos) << all;
  EXPECT_NE(all.find("event_relations: 1 rows name an event that is not in events"), std::string::npos) << all;
}

TEST_F(ProjectionTest, RebuildProducesExactlyWhatIncrementalProjectionProduced) {
  testing::SendMixedHistory(engine());
  Projector projector(engine().store(), {.db_url = url(), .limits = {.entries_max = 2}});
  ASSERT_TRUE(projector.CatchUp().ok());
  testing::SendMixedHistory(engine());
  ASSERT_TRUE(projector.CatchUp().ok());
  auto incremental = ProjectionDigest(url());
  ASSERT_TRUE(incremental.ok()) << incremental.status().ToString();
  std::string before = Scalar("SELECT count(*) FROM events");
  size_t progress_calls = 0;
  ASSERT_TRUE(RebuildProjection(engine().store(), url(), [&](const ProjectorStats&) { ++progress_calls; }).ok());
  EXPECT_GT(progress_calls, 0u);
  auto rebuilt = ProjectionDigest(url());
  ASSERT_TRUE(rebuilt.ok());
  EXPECT_EQ(*rebuilt, *incremental);
  EXPECT_EQ(Scalar("SELECT count(*) FROM events"), before);
  ExpectNoDifference(engine().store(), url());
}

TEST_F(ProjectionTest, TwoProjectorsRacingApplyEveryEntryOnce) {
  Projector a(engine().store(), {.db_url = url(), .limits = {.entries_max = 3}});
  Projector b(engine().store(), {.db_url = url(), .limits = {.entries_max = 5}});
  a.Start();
  b.Start();
  for (int i = 0; i < 5; ++i) testing::SendMixedHistory(engine());
  StreamReader reader(engine().store());
  storage::StreamPosition head = *reader.Head();
  ASSERT_TRUE(WaitFor([&] { return a.Stats().checkpoint == head && b.Stats().checkpoint == head; }, 30s));
  a.Stop();
  b.Stop();
  ExpectNoDifference(engine().store(), url());
  EXPECT_EQ(Scalar("SELECT events_total FROM nebu_projection_checkpoints WHERE stream = 'stream'"),
            Scalar("SELECT count(*) FROM events"));
}

TEST_F(ProjectionTest, ProjectorThreadFollowsWritesAndReportsLag) {
  Projector projector(engine().store(), {.db_url = url(), .notifier = &engine().notifier()});
  EXPECT_EQ(projector.Stats().state, ProjectorState::kStopped);
  projector.Start();
  testing::SendMixedHistory(engine());
  ASSERT_TRUE(WaitFor([&] { return projector.Stats().checkpoint == engine().stream_position(); }, 10s));
  ProjectorStats s = projector.Stats();
  EXPECT_EQ(s.state, ProjectorState::kLive);
  EXPECT_EQ(s.lag_entries, 0u);
  EXPECT_EQ(s.lag_ms, 0);
  EXPECT_GT(s.events_projected, 0u);
  projector.Stop();
  EXPECT_EQ(projector.Stats().state, ProjectorState::kStopped);
  // Stopped while writes go on: the lag shows.
  ASSERT_TRUE(testing::Message(engine(), Scalar("SELECT room_id FROM rooms WHERE creator = '@alice:localhost'"), testing::kAlice, "late").ok());
  s = projector.Stats();
  EXPECT_EQ(s.lag_entries, 1u);
  EXPECT_GE(s.lag_ms, 0);
}

TEST_F(ProjectionTest, TheSearchPassFollowsTheLiveProjector) {
  Projector projector(engine().store(), {.db_url = url(), .notifier = &engine().notifier()});
  projector.Start();
  testing::SendMixedHistory(engine());
  ASSERT_TRUE(WaitFor([&] {
    ProjectorStats s = projector.Stats();
    return s.checkpoint == engine().stream_position() && s.search_checkpoint == s.checkpoint;
  }, 10s));
  EXPECT_EQ(projector.Stats().search_lag_entries, 0u);
  EXPECT_EQ(Scalar("SELECT position FROM nebu_projection_checkpoints WHERE stream = 'search'"),
            std::to_string(engine().stream_position()));
  // Every message with a string body has its words; nothing else has a row.
  EXPECT_EQ(Scalar("SELECT count(*) FROM event_search"),
            Scalar("SELECT count(*) FROM events WHERE type = 'm.room.message' "
                   "AND jsonb_typeof(content -> 'body') = 'string'"));
  EXPECT_EQ(Scalar("SELECT count(*) FROM compliance_search_messages('world')"), "1");
  // A message sent now becomes searchable without anything else happening.
  ASSERT_TRUE(testing::Message(engine(), Scalar("SELECT room_id FROM rooms WHERE creator = '@alice:localhost'"),
                               testing::kAlice, "quarterly figures attached").ok());
  ASSERT_TRUE(WaitFor([&] { return Scalar("SELECT count(*) FROM compliance_search_messages('quarterly')") == "1"; }, 10s));
  projector.Stop();
  ExpectNoDifference(engine().store(), url());
}

TEST_F(ProjectionTest, RacingSearchPassesIndexEveryMessageOnce) {
  for (int i = 0; i < 5; ++i) testing::SendMixedHistory(engine());
  Projector events_only(engine().store(), {.db_url = url(), .search = false});
  ASSERT_TRUE(events_only.CatchUp().ok());
  EXPECT_EQ(Scalar("SELECT count(*) FROM event_search"), "0");
  // Two indexers in small steps over the same range: the checkpoint lock orders them.
  auto run = [&] {
    auto indexer = SearchIndexer::Connect(url());
    ASSERT_TRUE(indexer.ok()) << indexer.status().ToString();
    for (int i = 0; i < 100; ++i) {
      auto step = (*indexer)->Step(3);
      ASSERT_TRUE(step.ok()) << step.status().ToString();
      if (step->checkpoint == step->events_checkpoint) return;
    }
    ADD_FAILURE() << "the search pass did not finish in 100 steps";
  };
  std::thread a(run), b(run);
  a.join();
  b.join();
  EXPECT_EQ(Scalar("SELECT position FROM nebu_projection_checkpoints WHERE stream = 'search'"),
            std::to_string(engine().stream_position()));
  EXPECT_EQ(Scalar("SELECT count(*) FROM compliance_search_messages('world')"), "5");
  ExpectNoDifference(engine().store(), url());
  // verify notices a missing or a forged search row.
  testing::Exec(url(), "DELETE FROM event_search WHERE stream_position = (SELECT min(stream_position) FROM event_search)");
  testing::Exec(url(), "UPDATE event_search SET tsv = to_tsvector('simple', 'forged') "
                       "WHERE stream_position = (SELECT max(stream_position) FROM event_search)");
  auto report = VerifyProjection(engine().store(), url());
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  std::string all;
  for (const auto& d : report->differences) all += d + "\n";
  EXPECT_NE(all.find("search: 1 messages up to position"), std::string::npos) << all;
  EXPECT_NE(all.find("search: 1 event_search rows differ"), std::string::npos) << all;
}

TEST_F(ProjectionTest, PostgreSQLUnreachableNeverBlocksWritesAndTheProjectorRetries) {
  Projector projector(engine().store(), {.db_url = "postgresql://nebu@127.0.0.1:1/nebu",
                                         .notifier = &engine().notifier(),
                                         .backoff_max = 200ms});
  projector.Start();
  auto started = std::chrono::steady_clock::now();
  testing::SendMixedHistory(engine());
  EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
  ASSERT_TRUE(WaitFor([&] { return projector.Stats().state == ProjectorState::kRetrying; }, 5s));
  EXPECT_NE(projector.Stats().last_error.find("Unavailable"), std::string::npos)
      << projector.Stats().last_error;
  EXPECT_GT(projector.Stats().lag_entries, 0u);
  projector.Stop();
}

TEST_F(ProjectionTest, AnAuditorSeesEventsButNeverTokenOrPasswordHashes) {
  auto admin = testing::EnvUrl("NEBU_TEST_PG_ADMIN_URL");
  if (!admin) NEBU_PG_SKIP("NEBU_TEST_PG_ADMIN_URL is unset (scripts/test.sh sets it)");
  testing::SendMixedHistory(engine());
  Projector projector(engine().store(), {.db_url = url()});
  ASSERT_TRUE(projector.CatchUp().ok());
  // Accounts come from the engine; key material is written directly (not projected yet).
  ASSERT_TRUE(testing::RegisterWithDevice(engine(), testing::kAlice, "DEV", std::string(64, 'a')).ok());
  ASSERT_TRUE(projector.CatchUp().ok());
  EXPECT_EQ(Scalar("SELECT count(*) FROM access_tokens"), "1");
  testing::Exec(url(), "INSERT INTO device_key_material VALUES ('@alice:localhost', 'DEV', '{}')");
  std::string auditor = "auditor_" + testing::RandomSuffix();
  testing::Exec(*admin, "CREATE ROLE " + auditor + " LOGIN");
  // What docs/compliance.md tells the operator to run (as the runtime role).
  testing::Exec(url(), "GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + auditor);
  testing::Exec(url(), "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO " + auditor);
  std::string auditor_url = testing::WithDatabase(url(), db_->name(), auditor);
  EXPECT_NE(Query(auditor_url, "SELECT count(*) FROM events")[0][0], "0");
  EXPECT_NE(Query(auditor_url, "SELECT count(*) FROM compliance_user_messages('@alice:localhost', "
                               "now() - interval '1 day', now() + interval '1 day')")[0][0],
            "0");
  EXPECT_EQ(Query(auditor_url, "SELECT count(*) FROM user_passwords")[0][0], "0");
  EXPECT_EQ(Query(auditor_url, "SELECT count(*) FROM access_tokens")[0][0], "0");
  EXPECT_EQ(Query(auditor_url, "SELECT count(*) FROM device_key_material")[0][0], "0");
  EXPECT_EQ(Query(auditor_url, "SELECT count(*) FROM users")[0][0], "1");  // not a secret
  EXPECT_THROW(testing::Exec(auditor_url, "INSERT INTO audit_log (actor, action) VALUES ('x', 'y')"),
               pqxx::sql_error);
  EXPECT_THROW(testing::Exec(auditor_url, "UPDATE events SET redacted_by = '$x'"), pqxx::sql_error);
  // The owner still sees them.
  EXPECT_EQ(Scalar("SELECT count(*) FROM user_passwords"), "1");
  testing::Exec(testing::WithDatabase(*admin, db_->name()), "DROP OWNED BY " + auditor);
  testing::Exec(*admin, "DROP ROLE " + auditor);
}

// ---- PostgreSQL stopped and restarted in the middle of a load ----

std::string PgScript() { return std::string(NEBU_SOURCE_DIR) + "/scripts/pg.sh"; }

std::string RunScript(const std::string& command) {
  std::string out;
  FILE* p = popen((PgScript() + " " + command + " 2>&1").c_str(), "r");
  if (!p) return "";
  char buf[256];
  while (fgets(buf, sizeof buf, p)) out += buf;
  int rc = pclose(p);
  if (rc != 0) ADD_FAILURE() << "pg.sh " << command << " failed: " << out;
  while (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

TEST_F(ProjectionTest, PostgreSQLStoppedAndRestartedMidLoadLosesNothing) {
  // Only when the cluster under test is the one scripts/pg.sh manages.
  if (access(PgScript().c_str(), X_OK) != 0 || RunScript("url") != *testing::EnvUrl("NEBU_TEST_PG_URL")) {
    NEBU_PG_SKIP("NEBU_TEST_PG_URL is not the scripts/pg.sh cluster");
  }
  Projector projector(engine().store(), {.db_url = url(),
                                         .limits = {.entries_max = 50},
                                         .notifier = &engine().notifier(),
                                         .backoff_max = 500ms});
  projector.Start();
  std::string room = testing::CreatePublicRoom(engine(), testing::kAlice);
  std::atomic<bool> stop{false};
  std::atomic<int> sent{0}, failed{0};
  std::atomic<int64_t> slowest_ms{0};
  std::thread writer([&] {
    while (!stop) {
      auto t0 = std::chrono::steady_clock::now();
      if (testing::Message(engine(), room, testing::kAlice, "m" + std::to_string(sent)).ok()) {
        ++sent;
      } else {
        ++failed;
      }
      int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
      if (ms > slowest_ms) slowest_ms = ms;
      std::this_thread::sleep_for(2ms);
    }
  });
  // Phases end on counts of writes, not on sleeps: 50 before the stop, 50 while
  // PostgreSQL is down (each wait bounded), 50 after it is back.
  auto sent_reaches = [&](int count) { return WaitFor([&] { return sent >= count; }, 30s); };
  ASSERT_TRUE(sent_reaches(50));
  RunScript("stop");
  ASSERT_TRUE(WaitFor([&] { return projector.Stats().state == ProjectorState::kRetrying; }, 10s));
  int sent_while_down = sent;
  bool wrote_while_down = sent_reaches(sent_while_down + 50);
  sent_while_down = sent - sent_while_down;
  RunScript("start");
  ASSERT_TRUE(WaitFor([&] { return projector.Stats().state == ProjectorState::kLive; }, 30s));
  bool wrote_after = sent_reaches(sent + 50);
  stop = true;
  writer.join();
  EXPECT_EQ(failed, 0);
  EXPECT_TRUE(wrote_while_down && wrote_after);
  EXPECT_GE(sent_while_down, 50) << "writes must go on while PostgreSQL is down";
  EXPECT_LT(slowest_ms, 1000);
  ASSERT_TRUE(WaitFor([&] { return projector.Stats().checkpoint == engine().stream_position(); }, 30s))
      << "checkpoint " << projector.Stats().checkpoint << " head " << engine().stream_position();
  EXPECT_EQ(projector.Stats().state, ProjectorState::kLive);
  projector.Stop();
  ExpectNoDifference(engine().store(), url());
}

// ---- SIGKILL while projecting ----

// The child side: projects (and writes) until killed. Runs only when the crash test
// starts this binary with NEBU_PROJECTION_CHILD_DIR set.
TEST(ProjectorCrashChild, ProjectsUntilKilled) {
  auto dir = testing::EnvUrl("NEBU_PROJECTION_CHILD_DIR");
  auto url = testing::EnvUrl("NEBU_PROJECTION_CHILD_URL");
  if (!dir || !url) GTEST_SKIP() << "runs only as the crash test's child process";
  auto engine = OpenEngine(*dir);
  std::mt19937 rng(static_cast<uint32_t>(getpid()));
  Projector projector(engine->store(), {.db_url = *url,
                                        .limits = {.entries_max = 1 + rng() % 40},
                                        .notifier = &engine->notifier()});
  projector.Start();
  std::string room = testing::CreatePublicRoom(*engine, testing::kAlice);
  if (auto ready = testing::EnvUrl("NEBU_PROJECTION_CHILD_READY_FD")) {
    (void)!write(std::stoi(*ready), "r", 1);  // the parent may kill from now on
  }
  for (int i = 0;; ++i) {
    if (i % 7 == 0) {
      (void)testing::Member(*engine, room, testing::kBob, testing::kBob, i % 2 ? "join" : "leave");
    } else {
      (void)testing::Message(*engine, room, testing::kAlice, "crash " + std::to_string(i));
    }
  }
}

TEST_F(ProjectionTest, SigkillWhileProjectingNeverAppliesAnEntryTwiceOrSkipsOne) {
  engine_.reset();  // the children open it
  uint32_t seed = std::random_device{}();
  std::mt19937 rng(seed);
  SCOPED_TRACE("seed " + std::to_string(seed));
  std::printf("crash test seed %u\n", seed);
  constexpr int kKills = 6;
  for (int k = 0; k < kKills; ++k) {
    int ready[2];
    ASSERT_EQ(pipe(ready), 0);
    pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      close(ready[0]);
      setenv("NEBU_PROJECTION_CHILD_READY_FD", std::to_string(ready[1]).c_str(), 1);
      int null_fd = open("/dev/null", O_WRONLY);
      dup2(null_fd, STDOUT_FILENO);
      dup2(null_fd, STDERR_FILENO);
      setenv("NEBU_PROJECTION_CHILD_DIR", dir_.path().c_str(), 1);
      setenv("NEBU_PROJECTION_CHILD_URL", url().c_str(), 1);
      execl("/proc/self/exe", "projections_test", "--gtest_filter=ProjectorCrashChild.*",
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(ready[1]);
    pollfd wait_ready{ready[0], POLLIN, 0};
    EXPECT_EQ(poll(&wait_ready, 1, 60'000), 1) << "the child did not start";
    close(ready[0]);
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + rng() % 500));
    kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFSIGNALED(status)) << "the child ended by itself (status " << status << ")";
    // Whatever the checkpoint is, PostgreSQL holds exactly the log up to it.
    auto engine = OpenEngine(dir_.path());
    ExpectNoDifference(engine->store(), url());
  }
  auto engine = OpenEngine(dir_.path());
  EXPECT_GT(engine->stream_position(), 20u) << "the children wrote too little to test anything";
  Projector projector(engine->store(), {.db_url = url()});
  ASSERT_TRUE(projector.CatchUp().ok());
  ExpectNoDifference(engine->store(), url());
  EXPECT_EQ(Scalar("SELECT position FROM nebu_projection_checkpoints WHERE stream = 'stream'"),
            std::to_string(engine->stream_position()));
}

}  // namespace
}  // namespace nebu::projections
