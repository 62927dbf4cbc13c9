#include "projections/migrate.h"

#include <spdlog/spdlog.h>

#include <array>

#include "projections/migrations_sql.h"
#include "projections/pg.h"

namespace nebu::projections {
namespace {

struct Migration {
  int64_t version;
  const char* up;
  const char* down;
};
constexpr std::array<Migration, 6> kMigrations = {
    Migration{1, generated::kMigration1Up, generated::kMigration1Down},
    Migration{2, generated::kMigration2Up, generated::kMigration2Down},
    Migration{3, generated::kMigration3Up, generated::kMigration3Down},
    Migration{4, generated::kMigration4Up, generated::kMigration4Down},
    Migration{5, generated::kMigration5Up, generated::kMigration5Down},
    Migration{6, generated::kMigration6Up, generated::kMigration6Down}};
static_assert(kMigrations.back().version == kSchemaVersionLatest);

constexpr const char* kCreateTable =
    "CREATE TABLE IF NOT EXISTS schema_migrations "
    "(version bigint NOT NULL PRIMARY KEY, dirty boolean NOT NULL)";
constexpr const char* kLockKey = "hashtext(current_database() || '/nebu schema_migrations')";

Result<MigrationState> ReadState(pqxx::connection& conn) {
  MigrationState state;
  NEBU_RETURN_IF_ERROR(pg::Run("read schema_migrations", [&] {
    pqxx::nontransaction tx(conn);
    pqxx::result exists = tx.exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (!exists[0][0].as<bool>()) return;
    pqxx::result rows = tx.exec("SELECT version, dirty FROM schema_migrations LIMIT 2");
    if (rows.empty()) return;
    state.version = rows[0][0].as<int64_t>();
    state.dirty = rows[0][1].as<bool>();
  }));
  return state;
}

// Replaces the one row, as golang-migrate's SetVersion does (version 0: no row).
void WriteState(pqxx::work& tx, int64_t version, bool dirty) {
  tx.exec0("TRUNCATE schema_migrations");
  if (version > 0) {
    tx.exec_params0("INSERT INTO schema_migrations (version, dirty) VALUES ($1, $2)", version,
                    dirty);
  }
}

Status RefuseDirty(const MigrationState& state) {
  if (!state.dirty) return Status::Ok();
  return Status::InvalidArgument(
      "the database schema is dirty at version " + std::to_string(state.version) +
      ": a migration failed halfway. Repair the schema by hand, then mark it clean "
      "(UPDATE schema_migrations SET dirty = false) and run `nebu migrate up` again");
}

// Opens a connection and holds the migration lock for the life of the returned guard.
class LockedConnection {
 public:
  static Result<std::unique_ptr<LockedConnection>> Open(const std::string& url) {
    NEBU_ASSIGN_OR_RETURN(auto conn, pg::Connect(url));
    NEBU_RETURN_IF_ERROR(pg::Run("lock migrations", [&] {
      pqxx::nontransaction tx(*conn);
      tx.exec(std::string("SELECT pg_advisory_lock(") + kLockKey + ")");
      tx.exec(kCreateTable);
    }));
    return std::unique_ptr<LockedConnection>(new LockedConnection(std::move(conn)));
  }
  ~LockedConnection() {
    pg::Run("unlock migrations", [&] {
      pqxx::nontransaction tx(*conn_);
      tx.exec(std::string("SELECT pg_advisory_unlock(") + kLockKey + ")");
    }).IgnoreError();  // closing the session releases the lock anyway
  }
  pqxx::connection& conn() { return *conn_; }

 private:
  explicit LockedConnection(std::unique_ptr<pqxx::connection> conn) : conn_(std::move(conn)) {}
  std::unique_ptr<pqxx::connection> conn_;
};

// Marks `mark` dirty, then runs sql and records `after` (clean) in one transaction.
Status RunStep(pqxx::connection& conn, int64_t mark, const char* sql, int64_t after,
               const std::string& what) {
  NEBU_RETURN_IF_ERROR(pg::Run(what, [&] {
    pqxx::work tx(conn);
    WriteState(tx, mark, true);
    tx.commit();
  }));
  return pg::Run(what, [&] {
    pqxx::work tx(conn);
    tx.exec(sql);
    WriteState(tx, after, false);
    tx.commit();
  });
}

}  // namespace

Result<MigrationState> MigrateUp(const std::string& url) {
  NEBU_ASSIGN_OR_RETURN(auto locked, LockedConnection::Open(url));
  NEBU_ASSIGN_OR_RETURN(MigrationState state, ReadState(locked->conn()));
  NEBU_RETURN_IF_ERROR(RefuseDirty(state));
  if (state.version > kSchemaVersionLatest) {
    return Status::InvalidArgument("the database schema is at version " +
                                   std::to_string(state.version) + ", newer than this nebu (" +
                                   std::to_string(kSchemaVersionLatest) + "); upgrade nebu");
  }
  for (const Migration& m : kMigrations) {
    if (m.version <= state.version) continue;
    spdlog::info("migrations: applying version {}", m.version);
    NEBU_RETURN_IF_ERROR(RunStep(locked->conn(), m.version, m.up, m.version,
                                 "migration " + std::to_string(m.version) + " up"));
    state = {m.version, false};
  }
  return state;
}

Result<MigrationState> MigrateDown(const std::string& url) {
  NEBU_ASSIGN_OR_RETURN(auto locked, LockedConnection::Open(url));
  NEBU_ASSIGN_OR_RETURN(MigrationState state, ReadState(locked->conn()));
  NEBU_RETURN_IF_ERROR(RefuseDirty(state));
  for (auto it = kMigrations.rbegin(); it != kMigrations.rend(); ++it) {
    if (it->version > state.version) continue;
    int64_t previous = it + 1 == kMigrations.rend() ? 0 : (it + 1)->version;
    spdlog::info("migrations: reverting version {}", it->version);
    NEBU_RETURN_IF_ERROR(RunStep(locked->conn(), it->version, it->down, previous,
                                 "migration " + std::to_string(it->version) + " down"));
    state = {previous, false};
  }
  return state;
}

Result<MigrationState> MigrationVersion(const std::string& url) {
  NEBU_ASSIGN_OR_RETURN(auto conn, pg::Connect(url));
  return ReadState(*conn);
}

}  // namespace nebu::projections
