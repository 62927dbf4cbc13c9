// The audit log in PostgreSQL (projections/audit_projection.h): every field of every
// record, once, however often it is projected; and the admin lists answering from
// PostgreSQL while a writer registers users and creates rooms and the real projector
// runs in the background.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <random>
#include <thread>

#include "engine/accounts/accounts.h"
#include "projections/audit_projection.h"
#include "projections/pg.h"
#include "projections/verify.h"
#include "tests/api/admin/admin_pg_testing.h"

namespace nebu::api::testing {
namespace {

using Rows = std::vector<std::vector<std::string>>;

class AdminAuditPgTest : public AdminPgFixture {};

TEST_F(AdminAuditPgTest, EveryRecordWithEveryFieldOnce) {
  Session root = RegisterAdmin("root");
  Session auditor = RegisterAuditor("auditor");
  Session user = Register("user");
  ASSERT_EQ(As(&root, "GET", AdminV1("/server_version")).status, 200);
  ASSERT_EQ(As(&root, "PUT", AdminV2("/users/" + PercentEncode("@made:test.local")),
               Json({{"password", "secret password 1"}, {"displayname", "Made"}}))
                .status,
            201);
  ASSERT_EQ(As(&user, "GET", AdminV1("/server_version")).status, 403);  // refused: audited
  ASSERT_EQ(As(&root, "GET", AdminV1("/rooms/%21nope%3Atest.local/block")).status, 200);
  Sync();
  // The log's records, as the compliance API reads them from RocksDB.
  HttpReply listed = As(&auditor, "GET", "/api/v1/audit?limit=1000");
  ASSERT_EQ(listed.status, 200) << listed.body;
  const json::value listed_body = listed.Json();
  const json::array& records = listed_body.at("records").as_array();
  ASSERT_GE(records.size(), 4u);
  Rows rows = projections::testing::Query(
      url(), "SELECT seq, ts, actor, action, target, params::text, outcome, status, "
             "(extract(epoch FROM at) * 1000)::bigint FROM audit_log ORDER BY seq");
  // The listing itself was recorded after it answered: PostgreSQL has one more or equal.
  ASSERT_GE(rows.size(), records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const json::object& r = records[i].as_object();
    const std::vector<std::string>& row = rows[i];
    EXPECT_EQ(row[0], std::to_string(r.at("seq").to_number<uint64_t>()));
    EXPECT_EQ(row[1], std::to_string(r.at("ts").as_int64()));
    EXPECT_EQ(row[2], r.at("actor").as_string());
    EXPECT_EQ(row[3], r.at("action").as_string());
    EXPECT_EQ(row[4], r.at("target").as_string());
    EXPECT_EQ(json::parse(row[5]), r.at("params")) << row[5];
    EXPECT_EQ(row[6], r.at("outcome").as_string());
    EXPECT_EQ(row[7], std::to_string(r.at("status").as_int64()));
    EXPECT_EQ(row[8], row[1]);  // `at` is ts as a timestamptz
  }
  // The refused call and the PUT are there, the password is not.
  bool refused = false;
  for (const std::vector<std::string>& row : rows) {
    if (row[2] == user.user_id && row[6] == "M_FORBIDDEN" && row[7] == "403") refused = true;
    EXPECT_EQ(row[5].find("secret password"), std::string::npos) << row[5];
  }
  EXPECT_TRUE(refused);
  EXPECT_EQ(projections::testing::Query(url(), "SELECT target FROM audit_log "
                                               "WHERE action = 'users.put'"),
            (Rows{{"@made:test.local"}}));

  // Projecting again (the next snapshot, a second projector, a rebuild) adds nothing.
  Sync();  // the listing's own record
  const std::string count_sql = "SELECT count(*), count(DISTINCT seq) FROM audit_log";
  const Rows before = projections::testing::Query(url(), count_sql);
  EXPECT_EQ(before, (Rows{{std::to_string(records.size() + 1), std::to_string(records.size() + 1)}}));
  auto conn = projections::pg::Connect(url());
  ASSERT_TRUE(conn.ok());
  size_t written = 99;
  ASSERT_TRUE(projections::ProjectAudit(**conn, engine_->Latest(), &written).ok());
  EXPECT_EQ(written, 0u);
  projector_.reset();
  ASSERT_TRUE(projections::RebuildProjection(engine_->Latest(), url(), {}).ok());
  EXPECT_EQ(projections::testing::Query(url(), count_sql), before);
  // An auditor role granted SELECT (docs/compliance.md) reads every record and cannot
  // add one (row-level security).
  if (auto admin_url = projections::testing::EnvUrl("NEBU_TEST_PG_ADMIN_URL")) {
    const std::string auditor_role = "auditor_" + projections::testing::RandomSuffix();
    projections::testing::Exec(*admin_url, "CREATE ROLE " + auditor_role + " LOGIN");
    projections::testing::Exec(url(), "GRANT SELECT, INSERT ON audit_log TO " + auditor_role);
    const std::string auditor_url =
        projections::testing::WithDatabase(url(), db_->name(), auditor_role);
    EXPECT_EQ(projections::testing::Query(auditor_url, count_sql), before);
    EXPECT_THROW(projections::testing::Exec(
                     auditor_url, "INSERT INTO audit_log (seq, ts, actor, action, outcome, "
                                  "status) VALUES (999999, 0, 'x', 'y', 'ok', 200)"),
                 std::exception);
    projections::testing::Exec(projections::testing::WithDatabase(*admin_url, db_->name()),
                               "DROP OWNED BY " + auditor_role);
    projections::testing::Exec(*admin_url, "DROP ROLE " + auditor_role);
  }
  // Append-only: the projection's owner cannot change or delete a record.
  EXPECT_THROW(projections::testing::Exec(url(), "UPDATE audit_log SET outcome = 'x'"),
               std::exception);
  EXPECT_THROW(projections::testing::Exec(url(), "DELETE FROM audit_log"), std::exception);
}

// A bounded writer registers users and creates rooms while readers list them over
// HTTP, with the projector running in the background: every answer is well-formed (a
// page holds what its total says, totals never shrink, the lag header is a number)
// and the lists converge to the final counts.
TEST_F(AdminAuditPgTest, ListsAnswerFromPostgresUnderAWriteLoad) {
  constexpr int kUsers = 40;
  constexpr int kRooms = 40;
  constexpr int kReadsMax = 2000;
  constexpr auto kTimeMax = std::chrono::seconds(60);
  const unsigned seed = std::random_device{}();
  std::printf("seed %u\n", seed);
  std::mt19937 rng(seed);
  Session root = RegisterAdmin("root");
  projector_->Start();
  std::atomic<bool> writing{true};
  std::thread writer([&] {
    for (int i = 0; i < std::max(kUsers, kRooms); ++i) {
      if (i < kUsers) {
        accounts::RegistrationRequest request{.user_id = "@load" + std::to_string(1000 + i) +
                                                         ":" + std::string(kServerName),
                                              .inhibit_login = true};
        auto prepared = accounts::PrepareRegistration(request, clock_.NowUnixMs());
        EXPECT_TRUE(prepared.ok() && Propose(prepared->command).ok());
      }
      if (i < kRooms) {
        rooms::CreateRoomRequest room;
        room.name = "load " + std::to_string(i);
        EXPECT_TRUE(engine_->CreateRoom(room, root.user_id).ok());
      }
    }
    writing = false;
  });
  struct Joiner {  // joins the writer however the test body ends
    std::thread& thread;
    ~Joiner() {
      if (thread.joinable()) thread.join();
    }
  } joiner{writer};
  const auto deadline = std::chrono::steady_clock::now() + kTimeMax;
  int64_t users_seen = 0, rooms_seen = 0;
  uint64_t position_seen = 0;
  int reads = 0;
  auto read_once = [&] {
    ++reads;
    const bool rooms = (rng() % 2) == 0;
    HttpReply reply = As(&root, "GET", rooms ? AdminV1("/rooms?limit=1000")
                                             : AdminV2("/users?limit=1000"));
    ASSERT_EQ(reply.status, 200) << reply.body;
    const std::string lag = Header(reply, "X-Nebu-Projection-Lag");
    ASSERT_FALSE(lag.empty());
    EXPECT_GE(std::stoll(lag), 0);
    json::object body = reply.Json().as_object();
    const int64_t total = body.at(rooms ? "total_rooms" : "total").as_int64();
    EXPECT_EQ(static_cast<int64_t>(body.at(rooms ? "rooms" : "users").as_array().size()), total);
    int64_t& seen = rooms ? rooms_seen : users_seen;
    EXPECT_GE(total, seen);  // the projection only grows
    seen = total;
    const uint64_t position = body.at("projection_position").to_number<uint64_t>();
    EXPECT_GE(position, position_seen);
    position_seen = position;
  };
  while (writing && reads < kReadsMax && std::chrono::steady_clock::now() < deadline) {
    read_once();
  }
  writer.join();
  // Converges: rooms with the events' checkpoint, users with the next accounts snapshot
  // (projections::kAccountsSyncIntervalMs).
  const bool converged = projections::testing::WaitFor(
      [&] {
        if (reads < kReadsMax) read_once();
        return rooms_seen == kRooms && users_seen == kUsers + 1;
      },
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline -
                                                            std::chrono::steady_clock::now()));
  std::printf("%d reads\n", reads);
  EXPECT_TRUE(converged) << "rooms " << rooms_seen << ", users " << users_seen << " after "
                         << reads << " reads";
  projector_->Stop();
}

}  // namespace
}  // namespace nebu::api::testing
