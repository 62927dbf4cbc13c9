// Goal: row-level security holds against a reader who can create objects: an auditor
// role with SELECT on every table and CREATE on the schema, which defines its own
// pg_has_role, puts its schema before pg_catalog on its search_path, or shadows a
// table with a temporary one, still sees no secret row (password and token hashes, key
// material, cross-signing keys, secret-storage account data); and secret account data
// (m.secret_storage.*, m.cross_signing.*, m.megolm_backup.v1, anything with an
// `encrypted` map) is hidden from an auditor while other account data stays readable.
// Method: a real Engine and Projector into a fresh database of the throwaway cluster;
// the auditor role is created with NEBU_TEST_PG_ADMIN_URL (skipped without it) and
// attacks over its own connection with plain SQL.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <pqxx/pqxx>

#include "engine/accounts/accounts.h"
#include "engine/e2ee/commands.h"
#include "projections/projector.h"
#include "tests/projections/history.h"
#include "tests/projections/pg_test_util.h"
#include "tests/projections/projection_fixture.h"

namespace nebu::projections {
namespace {

namespace json = boost::json;
using testing::kAlice;
using testing::Query;
using Rows = std::vector<std::vector<std::string>>;

// The tables row-level security hides from every role but the app role.
constexpr const char* kSecretTables[] = {"user_passwords", "access_tokens", "device_key_material",
                                         "cross_signing_keys"};

class RowSecurityTest : public testing::ProjectionFixture {
 protected:
  void SetUp() override {
    ProjectionFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    admin_ = testing::EnvUrl("NEBU_TEST_PG_ADMIN_URL");
    if (!admin_) GTEST_SKIP() << "NEBU_TEST_PG_ADMIN_URL is unset: no auditor role";
    FillSecrets();
    Projector projector(engine_->store(), ProjectorOptions{.db_url = url()});
    Status s = projector.CatchUp();
    ASSERT_TRUE(s.ok()) << s.ToString();
    for (const char* table : kSecretTables) {
      ASSERT_NE(Query(url(), std::string("SELECT count(*) FROM ") + table)[0][0], "0") << table;
    }
    auditor_ = "auditor_" + testing::RandomSuffix();
    testing::Exec(*admin_, "CREATE ROLE " + auditor_ + " LOGIN");
    testing::Exec(url(), "GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + auditor_);
    testing::Exec(url(), "GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA public TO " + auditor_);
    testing::Exec(url(), "GRANT CREATE ON SCHEMA public TO " + auditor_);
    auditor_url_ = testing::WithDatabase(url(), db_->name(), auditor_);
  }
  void TearDown() override {
    if (!auditor_.empty()) {
      testing::Exec(testing::WithDatabase(*admin_, db_->name()), "DROP OWNED BY " + auditor_);
      testing::Exec(*admin_, "DROP ROLE " + auditor_);
    }
    ProjectionFixture::TearDown();
  }

  Status Account(const accounts::AccountCommand& c) {
    NEBU_ASSIGN_OR_RETURN(std::string payload, accounts::EncodeAccountCommand(c));
    return engine().Submit(core::Command{core::CommandKind::kAccount, std::move(payload)}).status();
  }
  Status E2ee(const e2ee::E2eeCommand& c) {
    NEBU_ASSIGN_OR_RETURN(std::string payload, e2ee::EncodeE2eeCommand(c));
    return engine().Submit(core::Command{core::CommandKind::kE2ee, std::move(payload)}).status();
  }
  Status PutAccountData(const std::string& type, json::object content) {
    return Account(accounts::PutAccountDataCommand{.user_id = kAlice, .type = type, .content = content});
  }

  // A password, a token, device keys, cross-signing keys and account data of each kind.
  void FillSecrets() {
    ASSERT_TRUE(testing::RegisterWithDevice(engine(), kAlice, "ADEV", std::string(64, 'a')).ok());
    e2ee::UploadKeysCommand keys{.user_id = kAlice, .device_id = "ADEV"};
    keys.device_keys = json::object{{"user_id", kAlice}, {"device_id", "ADEV"},
                                    {"algorithms", json::array{"m.olm.v1.curve25519-aes-sha2"}},
                                    {"keys", json::object{{"curve25519:ADEV", "curve"}}}};
    ASSERT_TRUE(E2ee(keys).ok());
    json::object master{{"user_id", kAlice}, {"usage", json::array{"master"}},
                        {"keys", json::object{{"ed25519:MPK", "MPK"}}}};
    ASSERT_TRUE(E2ee(e2ee::UploadSigningKeysCommand{.user_id = kAlice, .master_key = master}).ok());
    json::object encrypted{{"encrypted", json::object{{"KEYID", json::object{{"iv", "i"},
                                                                         {"ciphertext", "c"},
                                                                         {"mac", "m"}}}}}};
    for (const char* type : {"m.secret_storage.default_key", "m.secret_storage.key.KEYID",
                             "m.cross_signing.master", "m.cross_signing.self_signing",
                             "m.cross_signing.user_signing", "m.megolm_backup.v1",
                             "com.example.my_secret"}) {
      ASSERT_TRUE(PutAccountData(type, encrypted).ok()) << type;
    }
    ASSERT_TRUE(PutAccountData("m.direct", json::object{{"@bob:localhost", json::array{"!r:hs"}}}).ok());
    ASSERT_TRUE(PutAccountData("im.vector.setting", json::object{{"on", true}}).ok());
  }

  // Runs `sql` as the auditor, on a connection where `attack` (statements) ran first.
  Rows AsAuditor(const std::vector<std::string>& attack, const std::string& sql) {
    pqxx::connection conn(auditor_url_);
    for (const std::string& statement : attack) {
      pqxx::nontransaction tx(conn);
      tx.exec(statement);
    }
    return Query(conn, sql);
  }
  // The attack runs once (its objects outlive the connection unless temporary), then
  // every secret table and account_data are read on that connection.
  void ExpectNoSecretRow(const std::vector<std::string>& attack) {
    pqxx::connection conn(auditor_url_);
    for (const std::string& statement : attack) {
      pqxx::nontransaction tx(conn);
      tx.exec(statement);
    }
    for (const char* table : kSecretTables) {
      EXPECT_EQ(Query(conn, std::string("SELECT count(*) FROM ") + table)[0][0], "0") << table;
    }
    EXPECT_EQ(Query(conn, "SELECT type FROM account_data ORDER BY 1"),
              (Rows{{"im.vector.setting"}, {"m.direct"}}));
  }

  std::optional<std::string> admin_;
  std::string auditor_;
  std::string auditor_url_;
};

TEST_F(RowSecurityTest, AnAuditorSeesOrdinaryAccountDataButNoSecret) {
  ExpectNoSecretRow({});
  EXPECT_EQ(Query(url(), "SELECT count(*) FROM account_data")[0][0], "9");  // the app role: all
  EXPECT_EQ(AsAuditor({}, "SELECT count(*) FROM users")[0][0], "1");       // not a secret
}

TEST_F(RowSecurityTest, AShadowingPgHasRoleOnTheAuditorsPathRevealsNothing) {
  // Without the function's own search_path this returned every secret row.
  ExpectNoSecretRow({"CREATE FUNCTION public.pg_has_role(name, oid, text) RETURNS boolean "
                     "LANGUAGE sql AS 'SELECT true'",
                     "CREATE FUNCTION public.pg_has_role(oid, oid, text) RETURNS boolean "
                     "LANGUAGE sql AS 'SELECT true'",
                     "SET search_path = public, pg_catalog"});
}

TEST_F(RowSecurityTest, AShadowingOperatorOrStartsWithRevealsNothing) {
  ExpectNoSecretRow({"CREATE FUNCTION public.starts_with(text, text) RETURNS boolean "
                     "LANGUAGE sql AS 'SELECT false'",
                     "CREATE FUNCTION public.jsonb_has(jsonb, text) RETURNS boolean "
                     "LANGUAGE sql AS 'SELECT false'",
                     "CREATE OPERATOR public.? (LEFTARG = jsonb, RIGHTARG = text, "
                     "FUNCTION = public.jsonb_has)",
                     "SET search_path = public, pg_catalog"});
}

TEST_F(RowSecurityTest, ATemporaryTableNamedLikeTheCheckpointsRevealsNothing) {
  // The temporary schema is searched first for tables unless the path names it.
  ExpectNoSecretRow({"CREATE TEMPORARY TABLE nebu_projection_checkpoints (stream text)"});
}

}  // namespace
}  // namespace nebu::projections
