// Goal: the accounts snapshot projects what issue 9 added to accounts: the locked and
// suspended flags (users.locked, users.suspended) and the extended profile fields
// (profiles.fields, jsonb), following later changes (unlock, a field deleted), with
// U+0000 in a field stored as U+FFFD; a database migrated only to version 1 is brought
// to the latest by MigrateUp and keeps its rows.
// Method: a real Engine driven by its accounts commands, the real Projector's CatchUp
// (which writes the accounts snapshot) into a fresh database of the throwaway cluster.
#include <gtest/gtest.h>

#include "engine/accounts/accounts.h"
#include "projections/migrate.h"
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

class AccountsFlagsTest : public testing::ProjectionFixture {
 protected:
  Rows Q(const std::string& sql) { return Query(url(), sql); }
  void CatchUp() {
    Projector projector(engine().store(), ProjectorOptions{.db_url = url()});
    Status caught_up = projector.CatchUp();
    ASSERT_TRUE(caught_up.ok()) << caught_up.ToString();
  }
};

TEST_F(AccountsFlagsTest, LockSuspendAndProfileFieldsAreProjectedAndFollowChanges) {
  ASSERT_TRUE(Account(accounts::RegisterCommand{.user_id = kAlice, .created_ts = 1}).ok());
  ASSERT_TRUE(Account(accounts::RegisterCommand{.user_id = kBob, .created_ts = 2}).ok());
  ASSERT_TRUE(Account(accounts::SetDisplayNameCommand{kAlice, "Alice"}).ok());
  ASSERT_TRUE(Account(accounts::SetProfileFieldCommand{kAlice, "m.tz", R"("Europe/Paris")"}).ok());
  ASSERT_TRUE(Account(accounts::SetProfileFieldCommand{
                          kAlice, "org.example.nul", "\"a\\u0000b\""})
                  .ok());
  ASSERT_TRUE(Account(accounts::RestrictUserCommand{.user_id = kBob, .locked = true}).ok());
  ASSERT_TRUE(Account(accounts::RestrictUserCommand{.user_id = kAlice, .suspended = true}).ok());
  CatchUp();
  EXPECT_EQ(Q("SELECT user_id, locked::text, suspended::text FROM users ORDER BY 1"),
            (Rows{{kAlice, "false", "true"}, {kBob, "true", "false"}}));
  EXPECT_EQ(Q("SELECT fields ->> 'm.tz', fields ->> 'org.example.nul', displayname FROM profiles "
              "WHERE user_id = '" + kAlice + "'"),
            (Rows{{"Europe/Paris", "a\xEF\xBF\xBD" "b", "Alice"}}));

  ASSERT_TRUE(Account(accounts::RestrictUserCommand{.user_id = kBob, .locked = false}).ok());
  ASSERT_TRUE(Account(accounts::SetProfileFieldCommand{kAlice, "m.tz", std::nullopt}).ok());
  CatchUp();
  EXPECT_EQ(Q("SELECT locked::text FROM users WHERE user_id = '" + kBob + "'"), (Rows{{"false"}}));
  EXPECT_EQ(Q("SELECT (fields ? 'm.tz')::text, jsonb_typeof(fields) FROM profiles "
              "WHERE user_id = '" + kAlice + "'"),
            (Rows{{"false", "object"}}));
}

TEST_F(AccountsFlagsTest, MigrationTwoKeepsTheRowsOfVersionOneAndGoesBackDown) {
  ASSERT_TRUE(Account(accounts::RegisterCommand{.user_id = kAlice, .created_ts = 1}).ok());
  ASSERT_TRUE(Account(accounts::SetDisplayNameCommand{kAlice, "Alice"}).ok());
  ASSERT_TRUE(Account(accounts::RestrictUserCommand{.user_id = kAlice, .locked = true}).ok());
  CatchUp();
  // Back to the version-1 schema by hand (its rows kept), then MigrateUp: the rows
  // stay, with the new columns' defaults until the next snapshot.
  testing::Exec(url(), "ALTER TABLE profiles DROP COLUMN fields");
  testing::Exec(url(), "ALTER TABLE users DROP COLUMN suspended");
  testing::Exec(url(), "ALTER TABLE users DROP COLUMN locked");
  testing::Exec(url(), "UPDATE schema_migrations SET version = 1");
  Result<MigrationState> up = MigrateUp(url());
  ASSERT_TRUE(up.ok()) << up.status().ToString();
  EXPECT_EQ(up->version, kSchemaVersionLatest);
  EXPECT_EQ(Q("SELECT u.locked::text, p.fields::text, p.displayname FROM users u "
              "JOIN profiles p USING (user_id)"),
            (Rows{{"false", "{}", "Alice"}}));
}

}  // namespace
}  // namespace nebu::projections
