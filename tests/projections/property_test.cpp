// Goal: for any history of room events (messages, state, membership changes, edits,
// redactions, several rooms, account data; many of them rejected by the auth rules),
// the PostgreSQL projection equals a fold over the log, however the stream was cut
// into batches and however often projection stopped and resumed.
// Method: rapidcheck generates operation lists; each case runs them through a fresh
// real Engine (tmpfs), projecting with a random batch size at random points, then
// folds the log independently of the projector (Engine::ScanRoom) and compares every
// event row, the current state, the memberships and the account data with SQL reads.
// Replay a failure with what rapidcheck prints: RC_PARAMS="reproduce=..." (or
// RC_PARAMS="seed=N"); 25 cases by default.
#include <gtest/gtest.h>
#include <rapidcheck.h>

#include <boost/json.hpp>
#include <map>

#include "engine/testing/temp_dir.h"
#include "projections/batch_writer.h"
#include "projections/migrate.h"
#include "projections/projector.h"
#include "projections/verify.h"
#include "tests/projections/history.h"
#include "tests/projections/pg_test_util.h"

namespace nebu::projections {
namespace {

namespace json = boost::json;

struct Op {
  int kind;
  int actor;
  int a;
  int b;
};

const std::vector<std::string> kUsers = {testing::kAlice, testing::kBob, testing::kCarol};
const std::vector<std::string> kMemberships = {"invite", "join", "leave", "ban"};
const std::vector<std::string> kStateTypes = {"m.room.topic", "m.room.name", "org.example.x"};
constexpr size_t kOpsMax = 60;
constexpr size_t kRoomsMax = 3;

// One database for the whole property; each case resets it.
const std::string& SharedDatabaseUrl() {
  static testing::TestDatabase db;
  static bool migrated = [] {
    auto up = MigrateUp(db.url());
    NEBU_CHECK(up.ok(), up.status().ToString());
    return true;
  }();
  (void)migrated;
  return db.url();
}

struct Expected {
  std::map<std::tuple<std::string, std::string, std::string>, json::value> account_data;
};

void Apply(core::Engine& engine, std::vector<std::string>& rooms, std::vector<std::string>& sent,
           Expected& expected, const Op& op) {
  const std::string& actor = kUsers[op.actor % kUsers.size()];
  if (rooms.empty() || (op.kind % 8 == 6 && rooms.size() < kRoomsMax)) {
    rooms.push_back(testing::CreatePublicRoom(engine, actor));
    return;
  }
  const std::string& room = rooms[op.a % rooms.size()];
  Result<core::AppendedEvent> r = Status::Internal("none");
  switch (op.kind % 8) {
    case 0:
    case 6:
      r = testing::Message(engine, room, actor, "m" + std::to_string(op.b));
      break;
    case 1:
      r = testing::Send(engine, room, actor, kStateTypes[op.b % kStateTypes.size()],
                        {{"topic", std::to_string(op.b)}, {"name", std::to_string(op.b)}},
                        op.b % 2 ? "" : "k");
      break;
    case 2:
      r = testing::Member(engine, room, actor, kUsers[op.b % kUsers.size()],
                          kMemberships[(op.b / 3) % kMemberships.size()]);
      break;
    case 3:
      if (!sent.empty()) r = testing::Redact(engine, room, actor, sent[op.b % sent.size()]);
      break;
    case 4:
      if (!sent.empty()) r = testing::Edit(engine, room, actor, sent[op.b % sent.size()], std::to_string(op.b));
      break;
    case 5: {
      std::optional<std::string> in_room;
      if (op.b % 2) in_room = room;
      std::string type = op.b % 3 ? "m.direct" : "org.example.data";
      json::object content{{"v", op.b}};
      if (testing::PutAccountData(engine, actor, in_room, type, content).ok()) {
        expected.account_data[{actor, in_room.value_or(""), type}] = content;
      }
      break;
    }
    default:
      break;
  }
  if (r.ok()) sent.push_back(r->event_id);
}

// Compares every projected row with a fold over the log (independent of the projector).
void CompareWithLogFold(core::Engine& engine, const std::vector<std::string>& rooms,
                        const Expected& expected, const std::string& url) {
  pqxx::connection conn(url);
  std::map<std::string, std::string> redacted_by;  // target -> first redaction
  std::map<std::string, std::vector<std::vector<std::string>>> rows_by_room;
  size_t total = 0;
  for (const std::string& room : rooms) {
    std::vector<std::vector<std::string>> rows;
    std::map<std::pair<std::string, std::string>, std::string> state;
    std::map<std::string, std::pair<std::string, std::string>> members;
    Status scanned = engine.ScanRoom(room, 1, UINT64_MAX, SIZE_MAX, [&](const storage::EventView& v) {
      json::object event = json::parse(v.json).as_object();
      std::string state_key = v.state_key ? std::string(*v.state_key) : "<null>";
      rows.push_back({std::string(v.event_id), std::to_string(v.sequence), std::string(v.sender),
                      std::string(v.type), state_key, json::serialize(event["content"])});
      if (v.state_key) state[{std::string(v.type), state_key}] = std::string(v.event_id);
      if (v.type == "m.room.member") {
        members[state_key] = {std::string(event["content"].as_object()["membership"].as_string()),
                              std::string(v.event_id)};
      }
      if (v.type == "m.room.redaction") {  // v10: top level; v11: in content
        const json::value* target = event.if_contains("redacts");
        if (!target) target = event["content"].as_object().if_contains("redacts");
        if (target) redacted_by.emplace(std::string(target->as_string()), std::string(v.event_id));
      }
      return true;
    });
    RC_ASSERT(scanned.ok());
    total += rows.size();
    auto pg_rows = testing::Query(conn, "SELECT event_id, sequence, sender, type, coalesce(state_key, '<null>'), "
                                       "content::text FROM events WHERE room_id = '" + room +
                                       "' ORDER BY sequence");
    RC_ASSERT(pg_rows.size() == rows.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      for (size_t c = 0; c < 5; ++c) RC_ASSERT(pg_rows[i][c] == rows[i][c]);
      RC_ASSERT(json::parse(pg_rows[i][5]) == json::parse(rows[i][5]));
    }
    std::map<std::pair<std::string, std::string>, std::string> pg_state;
    for (auto& r : testing::Query(conn, "SELECT type, state_key, event_id FROM current_state WHERE room_id = '" + room + "'")) {
      pg_state[{r[0], r[1]}] = r[2];
    }
    RC_ASSERT(pg_state == state);
    std::map<std::string, std::pair<std::string, std::string>> pg_members;
    for (auto& r : testing::Query(conn, "SELECT user_id, membership, event_id FROM room_memberships WHERE room_id = '" + room + "'")) {
      pg_members[r[0]] = {r[1], r[2]};
    }
    RC_ASSERT(pg_members == members);
  }
  RC_ASSERT(testing::Query(conn, "SELECT count(*) FROM events")[0][0] == std::to_string(total));
  std::map<std::string, std::string> pg_redacted;
  for (auto& r : testing::Query(conn, "SELECT event_id, redacted_by FROM events WHERE redacted_by IS NOT NULL")) {
    pg_redacted[r[0]] = r[1];
  }
  RC_ASSERT(pg_redacted == redacted_by);
  std::map<std::tuple<std::string, std::string, std::string>, json::value> pg_account_data;
  for (auto& r : testing::Query(conn, "SELECT user_id, room_id, type, content::text FROM account_data")) {
    pg_account_data[{r[0], r[1], r[2]}] = json::parse(r[3]);
  }
  RC_ASSERT(pg_account_data == expected.account_data);
  auto report = VerifyProjection(engine.store(), url);
  RC_ASSERT(report.ok());
  RC_ASSERT(report->differences.empty());
}

void PostgreSQLEqualsAFoldOverTheLog() {
  const std::string& url = SharedDatabaseUrl();
  auto ops = *rc::gen::container<std::vector<Op>>(rc::gen::build<Op>(
      rc::gen::set(&Op::kind, rc::gen::inRange(0, 8)), rc::gen::set(&Op::actor, rc::gen::inRange(0, 3)),
      rc::gen::set(&Op::a, rc::gen::inRange(0, 16)), rc::gen::set(&Op::b, rc::gen::inRange(0, 64))));
  if (ops.size() > kOpsMax) ops.resize(kOpsMax);
  size_t batch = *rc::gen::inRange<size_t>(1, 20);
  auto project_after = *rc::gen::container<std::vector<bool>>(ops.size(), rc::gen::weightedElement<bool>({{1, true}, {5, false}}));

  nebu::testing::TempDir dir(nebu::testing::TempDir::kTmpfs);
  auto opened = core::Engine::Open({.data_dir = dir.path()});
  RC_ASSERT(opened.ok());
  core::Engine& engine = **opened;
  {
    auto writer = BatchWriter::Connect(url);
    RC_ASSERT(writer.ok());
    RC_ASSERT((*writer)->Reset().ok());
  }
  Projector projector(engine.store(), {.db_url = url, .limits = {.entries_max = batch}});
  std::vector<std::string> rooms, sent;
  Expected expected;
  for (size_t i = 0; i < ops.size(); ++i) {
    Apply(engine, rooms, sent, expected, ops[i]);
    if (project_after[i]) RC_ASSERT(projector.CatchUp().ok());
  }
  RC_ASSERT(projector.CatchUp().ok());
  CompareWithLogFold(engine, rooms, expected, url);
}

// Each case costs a fresh engine and a reset database: 25 cases unless RC_PARAMS says
// otherwise (e.g. RC_PARAMS="max_success=200" for a longer run).
constexpr const char* kDefaultRcParams = "max_success=25";

TEST(ProjectionPropertyTest, PostgreSQLEqualsAFoldOverTheLog) {
  NEBU_REQUIRE_PG();
  setenv("RC_PARAMS", kDefaultRcParams, /*overwrite=*/0);
  EXPECT_TRUE(rc::check("the projection equals a fold over the log", PostgreSQLEqualsAFoldOverTheLog));
}

}  // namespace
}  // namespace nebu::projections
