// The compliance API's room-history export (api/compliance/export_routes.h) of one large
// room with edits, redactions, joins and leaves: the time to write it, to project it
// and to stream its export over HTTP (MB/s, lines/s). Figures only; the exported lines
// are counted, not compared (compliance_export_test compares them with the log).
//
//   export NEBU_TEST_PG_URL=$(scripts/pg.sh start)
//   build/bench/bench_compliance_export [--events=100000] [--pg-url=URL] [--seed=N]
//
// It creates the database nebu_bench_export_<pid> in the cluster of the URL, migrates
// it, and drops it at the end.
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <pqxx/pqxx>
#include <random>

#include "api/accounts/account_routes.h"
#include "api/admin/admin_routes.h"
#include "api/router.h"
#include "api/server.h"
#include "bench/bench_util.h"
#include "engine/accounts/accounts.h"
#include "engine/admin/admin.h"
#include "engine/core/engine.h"
#include "engine/testing/temp_dir.h"
#include "projections/compliance_export.h"
#include "projections/migrate.h"
#include "projections/projector.h"
#include "tests/compliance/large_room.h"
#include "tests/compliance/stream_client.h"

using namespace nebu;
using SteadyClock = std::chrono::steady_clock;

namespace {

double Since(SteadyClock::time_point start) {
  return std::chrono::duration<double>(SteadyClock::now() - start).count();
}

// A registered account's access token; admin/auditor roles as asked.
std::string Account(core::Engine& engine, const std::string& user_id, bool auditor) {
  accounts::RegistrationRequest request{.user_id = user_id, .password = "bench password 1"};
  auto prepared = accounts::PrepareRegistration(request, engine.clock().NowUnixMs());
  NEBU_CHECK(prepared.ok(), prepared.status().ToString());
  NEBU_CHECK(engine.Submit({core::CommandKind::kAccount, prepared->payload}).ok(), "register");
  if (auditor) {
    auto roles = admin::EncodeAdminCommand(admin::SetRolesCommand{.user_id = user_id, .auditor = true});
    NEBU_CHECK(roles.ok() && engine.Submit({core::CommandKind::kAudit, *roles}).ok(), "roles");
  }
  return *prepared->access_token;
}

void Exec(const std::string& url, const std::string& sql) {
  pqxx::connection conn(url);
  pqxx::nontransaction tx(conn);
  tx.exec(sql);
}

}  // namespace

int main(int argc, char** argv) {
  const size_t events = std::stoull(bench::Arg(argc, argv, "events", "100000"));
  const char* env_url = std::getenv("NEBU_TEST_PG_URL");
  const std::string base = bench::Arg(argc, argv, "pg-url", env_url != nullptr ? env_url : "");
  const uint64_t seed = std::stoull(bench::Arg(argc, argv, "seed", std::to_string(std::random_device{}())));
  if (base.empty()) {
    std::fprintf(stderr, "set NEBU_TEST_PG_URL or --pg-url\n");
    return 2;
  }
  const std::string db = "nebu_bench_export_" + std::to_string(::getpid());
  Exec(base, "CREATE DATABASE " + db);
  const std::string url = base.substr(0, base.rfind('/') + 1) + db;
  NEBU_CHECK(projections::MigrateUp(url).ok(), "migrate");

  testing::TempDir dir(testing::TempDir::kTmpfs);
  auto engine = core::Engine::Open({.data_dir = dir.path(), .server_name = "bench.local"});
  NEBU_CHECK(engine.ok(), engine.status().ToString());
  api::Router router("client");
  api::AddAccountRoutes(router, **engine, {.rate_limit = false});
  api::AddAdminApiRoutes(router, **engine, {.exports = projections::MakePgExportStore(url)});
  auto server = api::Server::Start({{.address = "127.0.0.1", .port = 0, .router = &router}}, {.threads = 2});
  NEBU_CHECK(server.ok(), server.status().ToString());

  const std::string token = Account(**engine, "@auditor:bench.local", true);
  Account(**engine, "@alice:bench.local", false);
  Account(**engine, "@bob:bench.local", false);
  rooms::CreateRoomRequest create;
  create.preset = "public_chat";
  auto room = (*engine)->CreateRoom(create, "@alice:bench.local");
  NEBU_CHECK(room.ok(), room.status().ToString());

  std::printf("compliance export: %zu events, seed %llu\n", events, static_cast<unsigned long long>(seed));
  auto start = SteadyClock::now();
  compliance_testing::LargeRoom built = compliance_testing::BuildLargeRoom(
      **engine, room->room_id, "@alice:bench.local", "@bob:bench.local", events, seed);
  const double build_s = Since(start);
  std::printf("  written:   %zu events (%zu edited targets, %zu redacted) in %.1f s (%.0f events/s), %zu failures\n",
              built.events, built.edits.size(), built.redacted.size(), build_s, built.events / build_s,
              built.failures);

  start = SteadyClock::now();
  {
    projections::Projector projector((*engine)->Latest(), {.db_url = url});
    NEBU_CHECK(projector.CatchUp().ok(), "project");
  }
  std::printf("  projected: %.1f s\n", Since(start));

  std::string target = "/api/v1/exports/rooms/";
  for (char c : room->room_id) {
    if (c == '!') target += "%21";
    else if (c == ':') target += "%3A";
    else target.push_back(c);
  }
  target += "/history";
  start = SteadyClock::now();
  compliance_testing::StreamReply reply =
      compliance_testing::StreamClient::Get((*server)->port(0), target, token);
  const double export_s = Since(start);
  std::printf("  exported:  HTTP %d, %zu lines, %.1f MB in %.2f s: %.1f MB/s, %.0f lines/s, %zu chunks%s\n",
              reply.status, reply.lines.size(), reply.bytes / 1e6, export_s, reply.bytes / 1e6 / export_s,
              reply.lines.size() / export_s, reply.chunks, reply.complete ? "" : " (INCOMPLETE)");
  std::printf("  peak RSS:  %.0f MiB (the client keeps every line)\n", bench::PeakRssMiB());

  server->reset();
  engine->reset();
  Exec(base, "DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
  return reply.status == 200 && reply.complete ? 0 : 1;
}
