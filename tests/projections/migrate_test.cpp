// Goal: the embedded squashed schema migrates up, down and up again to an identical
// catalogue as the unprivileged runtime role, records its version like golang-migrate,
// refuses a dirty state, and is safe when two nodes migrate at once.
// Method: a fresh database per test in the throwaway cluster; the catalogue is read
// from pg_catalog (tables, columns, constraints, indexes, triggers, functions, policies).
#include <gtest/gtest.h>

#include <thread>

#include "projections/migrate.h"
#include "projections/migrations_sql.h"
#include "tests/projections/pg_test_util.h"

namespace nebu::projections {
namespace {

using testing::Query;
using testing::TestDatabase;

// Every object the schema owns, as sorted text lines.
std::vector<std::string> Catalogue(const std::string& url) {
  const char* sql = R"sql(
    SELECT 'table ' || c.relname || ' ' || c.relkind::text || ' rls=' || c.relrowsecurity::text
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v', 'S', 'i')
    UNION ALL
    SELECT 'column ' || c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
           || ' notnull=' || a.attnotnull || ' default=' || coalesce(pg_get_expr(d.adbin, d.adrelid), '')
      FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
      JOIN pg_namespace n ON n.oid = c.relnamespace
      LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
     WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped AND c.relkind = 'r'
    UNION ALL
    SELECT 'constraint ' || conrelid::regclass || ' ' || pg_get_constraintdef(oid)
      FROM pg_constraint WHERE connamespace = 'public'::regnamespace
    UNION ALL
    SELECT 'index ' || indexdef FROM pg_indexes WHERE schemaname = 'public'
    UNION ALL
    SELECT 'trigger ' || tgrelid::regclass || ' ' || pg_get_triggerdef(oid)
      FROM pg_trigger WHERE NOT tgisinternal
    UNION ALL
    SELECT 'function ' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') '
           || md5(pg_get_functiondef(p.oid))
      FROM pg_proc p WHERE p.pronamespace = 'public'::regnamespace
    UNION ALL
    SELECT 'policy ' || tablename || ' ' || policyname || ' ' || cmd || ' ' || coalesce(qual, '')
           || ' ' || coalesce(with_check, '')
      FROM pg_policies WHERE schemaname = 'public'
    ORDER BY 1)sql";
  std::vector<std::string> out;
  for (auto& row : Query(url, sql)) out.push_back(row[0]);
  return out;
}

int CountTables(const std::string& url) {
  return std::stoi(Query(url,
                         "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                         "AND tablename <> 'schema_migrations'")[0][0]);
}

TEST(MigrateTest, UpDownUpLeavesAnIdenticalCatalogue) {
  NEBU_REQUIRE_PG();
  TestDatabase db;
  auto up = MigrateUp(db.url());
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  EXPECT_EQ(up->version, kSchemaVersionLatest);
  EXPECT_FALSE(up->dirty);
  std::vector<std::string> first = Catalogue(db.url());
  EXPECT_GE(CountTables(db.url()), 26);

  auto down = MigrateDown(db.url());
  ASSERT_TRUE(down.ok()) << down.status().ToString();
  EXPECT_EQ(down->version, 0);
  // Only golang-migrate's own table (and its primary key) is left.
  std::vector<std::string> empty = Catalogue(db.url());
  for (const std::string& line : empty) EXPECT_NE(line.find("schema_migrations"), std::string::npos) << line;
  EXPECT_EQ(Query(db.url(), "SELECT count(*) FROM schema_migrations")[0][0], "0");

  auto again = MigrateUp(db.url());
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(Catalogue(db.url()), first);
}

TEST(MigrateTest, RecordsTheVersionLikeGolangMigrateAndIsIdempotent) {
  NEBU_REQUIRE_PG();
  TestDatabase db;
  auto none = MigrationVersion(db.url());
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(none->version, 0);
  ASSERT_TRUE(MigrateUp(db.url()).ok());
  ASSERT_TRUE(MigrateUp(db.url()).ok());  // nothing to do the second time
  EXPECT_EQ(Query(db.url(), "SELECT version, dirty FROM schema_migrations"),
            (std::vector<std::vector<std::string>>{{std::to_string(kSchemaVersionLatest), "f"}}));
  auto v = MigrationVersion(db.url());
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(v->version, kSchemaVersionLatest);
}

TEST(MigrateTest, RunsAsTheUnprivilegedRuntimeRole) {
  NEBU_REQUIRE_PG();
  TestDatabase db;
  EXPECT_EQ(Query(db.url(), "SELECT rolsuper::text || rolcreaterole::text FROM pg_roles "
                            "WHERE rolname = current_user")[0][0],
            "falsefalse");
  ASSERT_TRUE(MigrateUp(db.url()).ok());
  // Every object belongs to the role that ran the migration.
  EXPECT_EQ(Query(db.url(), "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
                            "AND tableowner <> current_user")[0][0],
            "0");
}

TEST(MigrateTest, RefusesADirtyState) {
  NEBU_REQUIRE_PG();
  TestDatabase db;
  ASSERT_TRUE(MigrateUp(db.url()).ok());
  testing::Exec(db.url(), "UPDATE schema_migrations SET dirty = true");
  auto up = MigrateUp(db.url());
  ASSERT_FALSE(up.ok());
  EXPECT_NE(up.status().message().find("dirty at version " + std::to_string(kSchemaVersionLatest)),
            std::string::npos)
      << up.status().ToString();
  EXPECT_FALSE(MigrateDown(db.url()).ok());
  auto v = MigrationVersion(db.url());
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->dirty);
}

TEST(MigrateTest, AFailedMigrationLeavesTheSchemaUntouchedAndMarkedDirty) {
  NEBU_REQUIRE_PG();
  TestDatabase db;
  // A table the migration wants to create already exists: the up file fails.
  testing::Exec(db.url(), "CREATE TABLE events (x int)");
  auto up = MigrateUp(db.url());
  ASSERT_FALSE(up.ok());
  EXPECT_EQ(Query(db.url(), "SELECT version, dirty FROM schema_migrations"),
            (std::vector<std::vector<std::string>>{{"1", "t"}}));
  EXPECT_EQ(Query(db.url(), "SELECT to_regclass('users') IS NULL")[0][0], "t");
}

TEST(MigrateTest, TwoNodesMigratingAtOnceBothSucceed) {
  NEBU_REQUIRE_PG();
  TestDatabase db;
  Result<MigrationState> a = Status::Internal("unset"), b = Status::Internal("unset");
  std::thread t1([&] { a = MigrateUp(db.url()); });
  std::thread t2([&] { b = MigrateUp(db.url()); });
  t1.join();
  t2.join();
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  EXPECT_EQ(a->version, kSchemaVersionLatest);
  EXPECT_EQ(b->version, kSchemaVersionLatest);
}

TEST(MigrateTest, SchemaLintsClean) {
  // What a managed PostgreSQL and golang-migrate need, checked on the embedded text.
  for (const char* sql : {generated::kMigration1Up, generated::kMigration1Down,
                          generated::kMigration2Up, generated::kMigration2Down}) {
    std::string text;  // without -- comments
    std::string_view rest(sql);
    while (!rest.empty()) {
      size_t end = rest.find('\n');
      std::string_view line = rest.substr(0, end);
      text.append(line.substr(0, line.find("--"))).push_back('\n');
      rest.remove_prefix(end == std::string_view::npos ? rest.size() : end + 1);
    }
    for (const char* banned : {"CONCURRENTLY", "OWNER TO", "CREATE ROLE", "GRANT ", "SUPERUSER",
                               "DROP EXTENSION", "BEGIN;", "COMMIT;"}) {
      EXPECT_EQ(text.find(banned), std::string::npos) << banned;
    }
    for (size_t at = text.find("CREATE INDEX"); at != std::string::npos;
         at = text.find("CREATE INDEX", at + 1)) {
      EXPECT_EQ(text.compare(at, 26, "CREATE INDEX IF NOT EXISTS"), 0) << text.substr(at, 60);
    }
  }
  NEBU_REQUIRE_PG();
  TestDatabase db;
  ASSERT_TRUE(MigrateUp(db.url()).ok());
  // Every table has a primary key.
  EXPECT_EQ(Query(db.url(), R"sql(
      SELECT string_agg(c.relname, ',') FROM pg_class c
       WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'r'
         AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p'))sql")[0][0],
            "<null>");
  // Every foreign key is served by an index on its leading columns (cascades, joins).
  EXPECT_EQ(Query(db.url(), R"sql(
      SELECT string_agg(k.conname, ',') FROM pg_constraint k
       WHERE k.contype = 'f' AND k.connamespace = 'public'::regnamespace
         AND NOT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = k.conrelid
                           AND (i.indkey::int2[])[0:array_length(k.conkey, 1) - 1] = k.conkey))sql")[0][0],
            "<null>");
  // Every function body and trigger compiles (check_function_bodies is on by default).
  EXPECT_EQ(Query(db.url(), "SHOW check_function_bodies")[0][0], "on");
}

// Row-level security calls nebu_is_app_role(); a function that resolved names with its
// caller's search_path would run the caller's own pg_has_role or table
// (row_security_test.cpp). Every function pins its path, but the two hot ones, whose
// bodies qualify every name.
TEST(MigrateTest, EveryFunctionResolvesNamesInPgCatalogFirst) {
  NEBU_REQUIRE_PG();
  TestDatabase db;
  ASSERT_TRUE(MigrateUp(db.url()).ok());
  EXPECT_EQ(Query(db.url(), R"sql(
      SELECT string_agg(p.proname, ',' ORDER BY p.proname) FROM pg_proc p
       WHERE p.pronamespace = 'public'::regnamespace
         AND p.proname NOT IN ('set_updated_at', 'nebu_ms_to_timestamptz')
         AND p.proconfig IS DISTINCT FROM
             ARRAY['search_path=pg_catalog, public, pg_temp'])sql")[0][0],
            "<null>");
  EXPECT_GE(std::stoi(Query(db.url(), "SELECT count(*) FROM pg_proc WHERE pronamespace = "
                                      "'public'::regnamespace AND proconfig IS NOT NULL")[0][0]),
            7);  // the guards, nebu_is_app_role and the four compliance functions
  // The hot ones name nothing unqualified that a caller could shadow.
  for (const char* name : {"set_updated_at", "nebu_ms_to_timestamptz"}) {
    std::string body = Query(db.url(), std::string("SELECT prosrc FROM pg_proc WHERE proname = '") +
                                           name + "'")[0][0];
    EXPECT_NE(body.find("pg_catalog."), std::string::npos) << name;
  }
}

TEST(MigrateTest, ErrorsNeverShowThePassword) {
  auto bad = MigrationVersion("postgresql://nebu:s3cret-pw@127.0.0.1:1/nebu?sslmode=bogus%zz");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().find("s3cret-pw"), std::string::npos) << bad.status().ToString();
  auto refused = MigrationVersion("postgresql://nebu:s3cret-pw@127.0.0.1:1/nebu");
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().message().find("s3cret-pw"), std::string::npos);
}

TEST(MigrateTest, UnreachableDatabaseIsUnavailable) {
  auto up = MigrateUp("postgresql://nebu@127.0.0.1:1/nebu");
  ASSERT_FALSE(up.ok());
  EXPECT_EQ(up.status().code(), StatusCode::kUnavailable) << up.status().ToString();
}

}  // namespace
}  // namespace nebu::projections
