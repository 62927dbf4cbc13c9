// Goal: what `nebu serve` runs when NEBU_DB_URL is set answers GET /ready as the
// operators' tools expect: the migrations' state and version, the projector's state,
// checkpoint, head and lag, and the full-text pass's checkpoint and lag; 200 even while
// PostgreSQL is unreachable (clients do not depend on it), with the failure named.
// Method: PgRuntime on a real Engine (tmpfs) against a fresh database in the
// throwaway cluster (scripts/pg.sh; skipped without NEBU_TEST_PG_URL).
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <functional>
#include <thread>

#include "app/pg_commands.h"
#include "engine/testing/temp_dir.h"
#include "tests/projections/history.h"
#include "tests/projections/pg_test_util.h"

namespace nebu::app {
namespace {

namespace json = boost::json;
using namespace std::chrono_literals;

using projections::testing::WaitFor;

class PgRuntimeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto engine = core::Engine::Open({.data_dir = dir_.path()});
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
  }
  nebu::testing::TempDir dir_{nebu::testing::TempDir::kTmpfs};
  std::unique_ptr<core::Engine> engine_;
};

TEST_F(PgRuntimeTest, NoDatabaseUrlNoRuntime) {
  EXPECT_EQ(PgRuntime::Start(Config{}, *engine_), nullptr);
}

TEST_F(PgRuntimeTest, ReadyReportsMigrationsProjectorAndSearch) {
  NEBU_REQUIRE_PG();
  projections::testing::TestDatabase db;
  Config config;
  config.db_url = db.url();
  auto runtime = PgRuntime::Start(config, *engine_);
  ASSERT_NE(runtime, nullptr);
  size_t sent = projections::testing::SendMixedHistory(*engine_);
  ASSERT_GT(sent, 0u);
  const uint64_t head = engine_->stream_position();
  api::Readiness ready;
  ASSERT_TRUE(WaitFor([&] {
    ready = runtime->Ready();
    const json::object& p = ready.body.at("projector").as_object();
    return p.at("checkpoint").to_number<uint64_t>() == head &&
           p.at("search").at("checkpoint").to_number<uint64_t>() == head;
  }, 20s)) << json::serialize(ready.body);
  EXPECT_TRUE(ready.ready);
  EXPECT_EQ(ready.body.at("status"), "ready");
  EXPECT_EQ(ready.body.at("migrations"),
            (json::object{{"status", "UP"}, {"version", projections::kSchemaVersionLatest}}));
  const json::object& p = ready.body.at("projector").as_object();
  EXPECT_EQ(p.at("state"), "live");
  EXPECT_EQ(p.at("head").to_number<uint64_t>(), head);
  EXPECT_EQ(p.at("lag_entries").to_number<uint64_t>(), 0u);
  EXPECT_EQ(p.at("lag_ms").to_number<int64_t>(), 0);
  EXPECT_EQ(p.at("events_projected").to_number<uint64_t>(), sent);
  EXPECT_EQ(p.at("search").at("lag_entries").to_number<uint64_t>(), 0u);
  EXPECT_FALSE(p.contains("last_error"));
}

TEST_F(PgRuntimeTest, UnreachablePostgreSQLIsReportedButReadyStays200) {
  Config config;
  config.db_url = "postgresql://nebu@127.0.0.1:1/nebu";  // nothing listens on port 1
  auto runtime = PgRuntime::Start(config, *engine_);
  ASSERT_NE(runtime, nullptr);
  api::Readiness ready;
  ASSERT_TRUE(WaitFor([&] {
    ready = runtime->Ready();
    return ready.body.at("migrations").at("status") == "RETRYING";
  }, 10s)) << json::serialize(ready.body);
  EXPECT_TRUE(ready.ready);  // clients do not depend on PostgreSQL
  const json::object& m = ready.body.at("migrations").as_object();
  ASSERT_TRUE(m.contains("error"));
  EXPECT_NE(json::serialize(m.at("error")).find("Unavailable"), std::string::npos) << json::serialize(m);
  EXPECT_EQ(json::serialize(ready.body).find("127.0.0.1:1"), std::string::npos);  // no URL in it
}

}  // namespace
}  // namespace nebu::app
