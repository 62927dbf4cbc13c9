// Goal: the projection's side tables mirror the engine: receipts (only moving forward,
// private ones included), device keys and their material, cross-signing keys, push
// rules, room aliases and forgotten rooms; a rebuild yields the same rows; verify
// reports a tampered receipt or key row; an auditor sees no key material.
// Method: a real Engine on tmpfs driven by its commands (accounts, e2ee, receipts,
// aliases), the real Projector (CatchUp) into a fresh database of the throwaway
// cluster (scripts/pg.sh), then direct SQL on the rows that matter.
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <cstdio>
#include <map>
#include <random>

#include "engine/accounts/accounts.h"
#include "engine/core/room_applier.h"
#include "engine/e2ee/commands.h"
#include "engine/receipts/receipts.h"
#include "engine/testing/temp_dir.h"
#include "projections/accounts_snapshot.h"
#include "projections/batch_writer.h"
#include "projections/migrate.h"
#include "projections/projector.h"
#include "projections/side_tables.h"
#include "projections/verify.h"
#include "tests/projections/history.h"
#include "tests/projections/pg_test_util.h"
#include "tests/projections/projection_fixture.h"

namespace nebu::projections {
namespace {

namespace json = boost::json;
using testing::kAlice;
using testing::kBob;
using testing::Query;
using Rows = std::vector<std::vector<std::string>>;

std::string TokenHash(char c) { return std::string(64, c); }

// ---- pure parts ----

TEST(PushRuleRowsTest, MapsEveryKindWithPriorityConditionsPatternAndDefaults) {
  std::string content = R"({"global":{
    "override":[{"rule_id":".m.rule.master","default":true,"enabled":true,"conditions":[],"actions":[]},
                {"rule_id":"mine","actions":["notify"],"conditions":[{"kind":"event_match","key":"type","pattern":"x"}]}],
    "content":[{"rule_id":"c1","pattern":"cake*","actions":["notify"],"enabled":false}],
    "room":[{"rule_id":"!r:hs","actions":[]}],
    "sender":[{"actions":["notify"]},{"rule_id":"@s:hs","actions":["notify"]},{"rule_id":"@s:hs","actions":[]}],
    "underride":"not a list",
    "unknown_kind":[{"rule_id":"u","actions":[]}]}})";
  std::vector<PushRuleRow> rows = PushRuleRows(content);
  ASSERT_EQ(rows.size(), 5u);
  EXPECT_EQ(rows[0].kind, "override");
  EXPECT_EQ(rows[0].rule_id, ".m.rule.master");
  EXPECT_EQ(rows[0].priority, 0);
  EXPECT_EQ(rows[1].rule_id, "mine");
  EXPECT_EQ(rows[1].priority, 1);
  EXPECT_EQ(rows[1].conditions, R"([{"kind":"event_match","key":"type","pattern":"x"}])");
  EXPECT_EQ(rows[1].actions, R"(["notify"])");
  EXPECT_TRUE(rows[1].enabled);
  EXPECT_EQ(rows[2].kind, "content");
  EXPECT_EQ(rows[2].pattern, "cake*");
  EXPECT_EQ(rows[2].conditions, "[]");  // no conditions: '[]'
  EXPECT_FALSE(rows[2].enabled);
  EXPECT_EQ(rows[3].kind, "room");
  EXPECT_FALSE(rows[3].pattern);
  EXPECT_EQ(rows[4].kind, "sender");  // the rule without an ID is left out, the repeat too
  EXPECT_EQ(rows[4].rule_id, "@s:hs");
  EXPECT_EQ(rows[4].priority, 1);  // its index in the stored list
  EXPECT_EQ(rows[4].actions, R"(["notify"])");
  EXPECT_TRUE(PushRuleRows("not json").empty());
  EXPECT_TRUE(PushRuleRows(R"({"global":[]})").empty());
}

// ---- with PostgreSQL ----

class SideTablesTest : public testing::ProjectionFixture {
 protected:
  void SetUp() override {
    ProjectionFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    projector_ = std::make_unique<Projector>(engine_->store(), ProjectorOptions{.db_url = url()});
  }

  Rows Q(const std::string& sql) { return Query(url(), sql); }
  void Project() {
    Status s = projector_->CatchUp();
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  std::vector<std::string> Differences() {
    auto report = VerifyProjection(engine().store(), url());
    EXPECT_TRUE(report.ok()) << report.status().ToString();
    return report.ok() ? report->differences : std::vector<std::string>{"verify failed"};
  }
  void ExpectNoDifference() {
    for (const std::string& d : Differences()) ADD_FAILURE() << d;
  }

  Status Submit(core::CommandKind kind, Result<std::string> payload) {
    NEBU_RETURN_IF_ERROR(payload.status());
    return engine().Submit(core::Command{kind, std::move(*payload)}).status();
  }
  Status Account(const accounts::AccountCommand& c) {
    return Submit(core::CommandKind::kAccount, accounts::EncodeAccountCommand(c));
  }
  Status E2ee(const e2ee::E2eeCommand& c) { return Submit(core::CommandKind::kE2ee, e2ee::EncodeE2eeCommand(c)); }
  Status Receipt(const std::string& room, const std::string& user, const std::string& type,
                 const std::string& event_id, int64_t ts, const std::string& thread = "") {
    receipts::ReceiptCommand c{.room_id = room, .user_id = user, .type = type, .event_id = event_id,
                               .thread_id = thread, .ts = ts};
    return Submit(core::CommandKind::kReceipt, receipts::EncodeReceiptCommand(c));
  }
  Status Alias(core::AliasCommand::Op op, const std::string& alias, const std::string& room,
               const std::string& sender) {
    return engine().Submit(*core::MakeAliasCommand({op, alias, room, sender})).status();
  }
  Status UploadDeviceKeys(const std::string& user, const std::string& device, const std::string& curve) {
    e2ee::UploadKeysCommand c{.user_id = user, .device_id = device};
    c.device_keys = json::object{
        {"user_id", user},
        {"device_id", device},
        {"algorithms", json::array{"m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"}},
        {"keys", json::object{{"curve25519:" + device, curve}, {"ed25519:" + device, "ed-" + device}}},
        {"signatures", json::object{{user, json::object{{"ed25519:" + device, "sig"}}}}}};
    c.one_time_keys["signed_curve25519:AAAAAQ"] = json::object{{"key", "otk"}};
    return E2ee(c);
  }
  static json::object SigningKey(const std::string& user, const std::string& usage, const std::string& key) {
    return json::object{{"user_id", user},
                        {"usage", json::array{usage}},
                        {"keys", json::object{{"ed25519:" + key, key}}}};
  }

  // Every side-table row, without PostgreSQL's own timestamps (rebuild comparisons).
  Rows SideRows() {
    Rows all;
    for (const char* sql :
         {"SELECT 'r', room_id, user_id, receipt_type, thread_id, event_id, ts::text, "
          "stream_position::text FROM receipts ORDER BY 2, 3, 4, 5",
          "SELECT 'k', user_id, device_id, algorithms::text, key_ids::text FROM device_keys ORDER BY 2, 3",
          "SELECT 'm', user_id, device_id, key_json::text FROM device_key_material ORDER BY 2, 3",
          "SELECT 'x', user_id, key_type, key_json::text FROM cross_signing_keys ORDER BY 2, 3",
          "SELECT 'p', user_id, scope, kind, rule_id, priority::text, conditions::text, actions::text, "
          "enabled::text, coalesce(pattern, '<null>') FROM push_rules ORDER BY 2, 3, 4, 5",
          "SELECT 'a', alias, room_id, coalesce(creator, '<null>') FROM room_aliases ORDER BY 2",
          "SELECT 'f', user_id, room_id FROM room_forgotten ORDER BY 2, 3"}) {
      for (auto& row : Q(sql)) all.push_back(std::move(row));
    }
    return all;
  }

  std::unique_ptr<Projector> projector_;
};

TEST_F(SideTablesTest, ReceiptsMoveOnlyForwardAndIncludePrivateAndThreadedOnes) {
  ASSERT_TRUE(testing::RegisterWithDevice(engine(), kAlice, "ADEV", TokenHash('a')).ok());
  std::string room = testing::CreatePublicRoom(engine(), kAlice);
  auto first = testing::Message(engine(), room, kAlice, "one");
  auto second = testing::Message(engine(), room, kAlice, "two");
  ASSERT_TRUE(first.ok() && second.ok());
  ASSERT_TRUE(Receipt(room, kAlice, "m.read", first->event_id, 1000).ok());
  ASSERT_TRUE(Receipt(room, kAlice, "m.read.private", second->event_id, 1001).ok());
  Project();
  EXPECT_EQ(Q("SELECT receipt_type, thread_id, event_id, ts FROM receipts ORDER BY 1"),
            (Rows{{"m.read", "", first->event_id, "1000"}, {"m.read.private", "", second->event_id, "1001"}}));
  // Forward, in one batch twice (the first entry resolves to nothing: replaced), and threaded.
  ASSERT_TRUE(Receipt(room, kAlice, "m.read", second->event_id, 2000).ok());
  ASSERT_TRUE(Receipt(room, kAlice, "m.read", second->event_id, 2001, "main").ok());
  auto third = testing::Message(engine(), room, kAlice, "three");
  ASSERT_TRUE(third.ok());
  ASSERT_TRUE(Receipt(room, kAlice, "m.read", third->event_id, 3000).ok());
  Project();
  EXPECT_EQ(Q("SELECT receipt_type, thread_id, event_id, ts FROM receipts ORDER BY 1, 2"),
            (Rows{{"m.read", "", third->event_id, "3000"},
                  {"m.read", "main", second->event_id, "2001"},
                  {"m.read.private", "", second->event_id, "1001"}}));
  auto position = Q("SELECT stream_position FROM receipts WHERE thread_id = '' AND receipt_type = 'm.read'");
  ASSERT_EQ(position.size(), 1u);

  // An older receipt written again (a replayed or racing batch) moves nothing back.
  StreamBatch stale;
  stale.receipts.push_back({/*position=*/1, room, kAlice, "m.read", "", first->event_id, 1});
  {
    pqxx::connection conn(url());
    pqxx::work tx(conn);
    WriteSideTables(tx, stale);
    tx.commit();
  }
  EXPECT_EQ(Q("SELECT event_id, stream_position::text FROM receipts WHERE thread_id = '' AND "
              "receipt_type = 'm.read'"),
            (Rows{{third->event_id, position[0][0]}}));
  ExpectNoDifference();
}

TEST_F(SideTablesTest, DeviceKeysFollowUploadsAndDeviceDeletion) {
  ASSERT_TRUE(testing::RegisterWithDevice(engine(), kAlice, "ADEV", TokenHash('a')).ok());
  ASSERT_TRUE(Account(accounts::LoginCommand{.user_id = kAlice,
                                             .device = {.device_id = "BDEV", .token_hash = TokenHash('b')},
                                             .ts = 2})
                  .ok());
  ASSERT_TRUE(UploadDeviceKeys(kAlice, "ADEV", "curve-a").ok());
  ASSERT_TRUE(UploadDeviceKeys(kAlice, "BDEV", "curve-b").ok());
  Project();
  EXPECT_EQ(Q("SELECT device_id, algorithms::text, key_ids::text FROM device_keys ORDER BY 1"),
            (Rows{{"ADEV", "{m.olm.v1.curve25519-aes-sha2,m.megolm.v1.aes-sha2}",
                   "{curve25519:ADEV,ed25519:ADEV}"},
                  {"BDEV", "{m.olm.v1.curve25519-aes-sha2,m.megolm.v1.aes-sha2}",
                   "{curve25519:BDEV,ed25519:BDEV}"}}));
  EXPECT_EQ(Q("SELECT key_json -> 'keys' ->> 'curve25519:ADEV', key_json ->> 'user_id' FROM "
              "device_key_material WHERE device_id = 'ADEV'"),
            (Rows{{"curve-a", kAlice}}));
  // One-time keys are consumed, never projected.
  EXPECT_EQ(Q("SELECT count(*) FROM device_key_material WHERE key_json::text LIKE '%otk%'")[0][0], "0");
  ExpectNoDifference();

  // A re-upload replaces the JSON; deleting a device (and pruning its keys) removes its rows.
  ASSERT_TRUE(UploadDeviceKeys(kAlice, "ADEV", "curve-a2").ok());
  ASSERT_TRUE(Account(accounts::DeleteDeviceCommand{.user_id = kAlice, .device_id = "BDEV"}).ok());
  ASSERT_TRUE(E2ee(e2ee::PruneDevicesCommand{.user_id = kAlice}).ok());
  Project();
  EXPECT_EQ(Q("SELECT device_id FROM device_keys"), (Rows{{"ADEV"}}));
  EXPECT_EQ(Q("SELECT device_id, key_json -> 'keys' ->> 'curve25519:ADEV' FROM device_key_material"),
            (Rows{{"ADEV", "curve-a2"}}));
  ExpectNoDifference();

  // A tampered key row is reported.
  testing::Exec(url(), "UPDATE device_key_material SET key_json = '{\"forged\":true}'");
  testing::Exec(url(), "DELETE FROM device_keys");
  std::vector<std::string> diffs = Differences();
  ASSERT_EQ(diffs.size(), 1u);
  EXPECT_NE(diffs[0].find("device keys of " + kAlice + " ADEV"), std::string::npos) << diffs[0];
  EXPECT_NE(diffs[0].find("forged"), std::string::npos) << diffs[0];
}

TEST_F(SideTablesTest, CrossSigningKeysAreProjectedAndHiddenFromAnAuditor) {
  ASSERT_TRUE(testing::RegisterWithDevice(engine(), kAlice, "ADEV", TokenHash('a')).ok());
  ASSERT_TRUE(UploadDeviceKeys(kAlice, "ADEV", "curve-a").ok());
  e2ee::UploadSigningKeysCommand c{.user_id = kAlice};
  c.master_key = SigningKey(kAlice, "master", "MASTER");
  c.self_signing_key = SigningKey(kAlice, "self_signing", "SELF");
  ASSERT_TRUE(E2ee(c).ok());
  Project();
  EXPECT_EQ(Q("SELECT key_type, (SELECT string_agg(v, ',') FROM jsonb_each_text(key_json -> 'keys') "
              "AS e(k, v)) FROM cross_signing_keys ORDER BY 1"),
            (Rows{{"master", "MASTER"}, {"self_signing", "SELF"}}));
  c = e2ee::UploadSigningKeysCommand{.user_id = kAlice};
  c.user_signing_key = SigningKey(kAlice, "user_signing", "USER");
  ASSERT_TRUE(E2ee(c).ok());
  Project();
  EXPECT_EQ(Q("SELECT key_type FROM cross_signing_keys ORDER BY 1"),
            (Rows{{"master"}, {"self_signing"}, {"user_signing"}}));
  ExpectNoDifference();

  // An auditor granted SELECT on everything sees key metadata, never key material.
  auto admin = testing::EnvUrl("NEBU_TEST_PG_ADMIN_URL");
  if (!admin) NEBU_PG_SKIP("NEBU_TEST_PG_ADMIN_URL is unset: no auditor role");
  std::string auditor = "auditor_" + testing::RandomSuffix();
  testing::Exec(*admin, "CREATE ROLE " + auditor + " LOGIN");
  testing::Exec(url(), "GRANT SELECT ON ALL TABLES IN SCHEMA public TO " + auditor);
  std::string auditor_url = testing::WithDatabase(url(), db_->name(), auditor);
  EXPECT_EQ(Query(auditor_url, "SELECT count(*) FROM device_keys")[0][0], "1");
  EXPECT_EQ(Query(auditor_url, "SELECT count(*) FROM device_key_material")[0][0], "0");
  EXPECT_EQ(Query(auditor_url, "SELECT count(*) FROM cross_signing_keys")[0][0], "0");
  testing::Exec(testing::WithDatabase(*admin, db_->name()), "DROP OWNED BY " + auditor);
  testing::Exec(*admin, "DROP ROLE " + auditor);
}

TEST_F(SideTablesTest, PushRulesMirrorTheStoredRuleSet) {
  json::object rules{
      {"global",
       json::object{{"override", json::array{json::object{{"rule_id", ".m.rule.master"},
                                                          {"default", true},
                                                          {"enabled", true},
                                                          {"conditions", json::array{}},
                                                          {"actions", json::array{}}}}},
                    {"content", json::array{json::object{{"rule_id", "cake"},
                                                         {"pattern", "cake*"},
                                                         {"enabled", true},
                                                         {"actions", json::array{"notify"}}}}},
                    {"room", json::array{json::object{{"rule_id", "!r:localhost"},
                                                      {"enabled", false},
                                                      {"actions", json::array{}}}}}}}};
  ASSERT_TRUE(testing::PutAccountData(engine(), kAlice, std::nullopt, "m.push_rules", rules).ok());
  Project();
  EXPECT_EQ(Q("SELECT scope, kind, rule_id, priority::text, conditions::text, actions::text, "
              "enabled::text, coalesce(pattern, '-') FROM push_rules ORDER BY kind"),
            (Rows{{"global", "content", "cake", "0", "[]", "[\"notify\"]", "true", "cake*"},
                  {"global", "override", ".m.rule.master", "0", "[]", "[]", "true", "-"},
                  {"global", "room", "!r:localhost", "0", "[]", "[]", "false", "-"}}));

  // A rule deleted (the stored set rewritten without it) goes; the rest stays.
  rules["global"].as_object()["content"] = json::array{};
  ASSERT_TRUE(testing::PutAccountData(engine(), kAlice, std::nullopt, "m.push_rules", rules).ok());
  Project();
  EXPECT_EQ(Q("SELECT kind, rule_id FROM push_rules ORDER BY kind"),
            (Rows{{"override", ".m.rule.master"}, {"room", "!r:localhost"}}));

  // Content gone from the engine (erased with the account) by the time the entry is read.
  ASSERT_TRUE(testing::PutAccountData(engine(), kAlice, std::nullopt, "m.push_rules", rules).ok());
  ASSERT_TRUE(Account(accounts::DeactivateCommand{.user_id = kAlice, .erase = true}).ok());
  Project();
  EXPECT_EQ(Q("SELECT count(*) FROM push_rules")[0][0], "0");
}

TEST_F(SideTablesTest, AccountDataErasedWithTheAccountLeavesTheProjection) {
  ASSERT_TRUE(testing::RegisterWithDevice(engine(), kAlice, "ADEV", TokenHash('a')).ok());
  std::string room = testing::CreatePublicRoom(engine(), kAlice);
  ASSERT_TRUE(testing::PutAccountData(engine(), kAlice, std::nullopt, "m.direct", {{"k", "v"}}).ok());
  ASSERT_TRUE(testing::PutAccountData(engine(), kAlice, room, "m.tag", {{"tags", json::object{}}}).ok());
  ASSERT_TRUE(testing::PutAccountData(engine(), kAlice, std::nullopt, "m.push_rules",
                                      {{"global", json::object{{"room", json::array{json::object{
                                          {"rule_id", room}, {"enabled", true}, {"actions", json::array{}}}}}}}}).ok());
  Project();  // projected while they exist
  EXPECT_EQ(Q("SELECT count(*) FROM account_data")[0][0], "3");
  EXPECT_EQ(Q("SELECT count(*) FROM push_rules")[0][0], "1");
  ASSERT_TRUE(Account(accounts::DeactivateCommand{.user_id = kAlice, .erase = true}).ok());
  Project();
  EXPECT_EQ(Q("SELECT count(*) FROM account_data")[0][0], "0");
  EXPECT_EQ(Q("SELECT count(*) FROM push_rules")[0][0], "0");
  ExpectNoDifference();
}

TEST_F(SideTablesTest, AliasesAndForgottenRoomsFollowTheEngine) {
  ASSERT_TRUE(testing::RegisterWithDevice(engine(), kAlice, "ADEV", TokenHash('a')).ok());
  ASSERT_TRUE(testing::RegisterWithDevice(engine(), kBob, "BDEV", TokenHash('b')).ok());
  std::string room = testing::CreatePublicRoom(engine(), kAlice);
  ASSERT_TRUE(Alias(core::AliasCommand::Op::kPut, "#one:localhost", room, kAlice).ok());

  // Before the room is projected, the alias waits: the snapshot is not recorded.
  {
    auto snap = ReadAccounts(engine().store());
    ASSERT_TRUE(snap.ok()) << snap.status().ToString();
    ASSERT_EQ(snap->aliases.size(), 1u);
    pqxx::connection conn(url());
    std::string digest;
    size_t skipped = 0;
    ASSERT_TRUE(WriteAccounts(conn, *snap, &digest, &skipped).ok());
    EXPECT_EQ(skipped, 1u);
    EXPECT_EQ(digest, "");
    EXPECT_EQ(Q("SELECT count(*) FROM room_aliases")[0][0], "0");
    EXPECT_EQ(Q("SELECT count(*) FROM users")[0][0], "2");  // the rest went in
  }
  Project();
  EXPECT_EQ(Q("SELECT alias, room_id, creator FROM room_aliases"), (Rows{{"#one:localhost", room, kAlice}}));
  std::string created_at = Q("SELECT created_at FROM room_aliases")[0][0];

  ASSERT_TRUE(Alias(core::AliasCommand::Op::kPut, "#two:localhost", room, kAlice).ok());
  ASSERT_TRUE(testing::Member(engine(), room, kBob, kBob, "join").ok());
  ASSERT_TRUE(testing::Member(engine(), room, kBob, kBob, "leave").ok());
  ASSERT_TRUE(Account(accounts::ForgetRoomCommand{.user_id = kBob, .room_id = room}).ok());
  Project();
  EXPECT_EQ(Q("SELECT alias FROM room_aliases ORDER BY 1"), (Rows{{"#one:localhost"}, {"#two:localhost"}}));
  EXPECT_EQ(Q("SELECT created_at FROM room_aliases WHERE alias = '#one:localhost'")[0][0], created_at);
  EXPECT_EQ(Q("SELECT user_id, room_id FROM room_forgotten"), (Rows{{kBob, room}}));

  // Delete an alias; re-joining clears the forgotten mark.
  ASSERT_TRUE(Alias(core::AliasCommand::Op::kDelete, "#one:localhost", "", kAlice).ok());
  ASSERT_TRUE(testing::Member(engine(), room, kBob, kBob, "join").ok());
  Project();
  EXPECT_EQ(Q("SELECT alias FROM room_aliases"), (Rows{{"#two:localhost"}}));
  EXPECT_EQ(Q("SELECT count(*) FROM room_forgotten")[0][0], "0");
}

TEST_F(SideTablesTest, RebuildYieldsTheSameRowsAndVerifyReportsATamperedReceipt) {
  ASSERT_TRUE(testing::RegisterWithDevice(engine(), kAlice, "ADEV", TokenHash('a')).ok());
  ASSERT_TRUE(testing::RegisterWithDevice(engine(), kBob, "BDEV", TokenHash('b')).ok());
  std::string room = testing::CreatePublicRoom(engine(), kAlice);
  ASSERT_TRUE(testing::Member(engine(), room, kBob, kBob, "join").ok());
  auto hello = testing::Message(engine(), room, kAlice, "hello");
  ASSERT_TRUE(hello.ok());
  ASSERT_TRUE(Receipt(room, kBob, "m.read", hello->event_id, 10).ok());
  ASSERT_TRUE(Receipt(room, kAlice, "m.read.private", hello->event_id, 11).ok());
  ASSERT_TRUE(UploadDeviceKeys(kAlice, "ADEV", "curve").ok());
  e2ee::UploadSigningKeysCommand c{.user_id = kBob};
  c.master_key = SigningKey(kBob, "master", "BOBMASTER");
  ASSERT_TRUE(E2ee(c).ok());
  json::object rules{{"global", json::object{{"sender", json::array{json::object{
                                                 {"rule_id", kBob}, {"actions", json::array{"notify"}}}}}}}};
  ASSERT_TRUE(testing::PutAccountData(engine(), kAlice, std::nullopt, "m.push_rules", rules).ok());
  ASSERT_TRUE(Alias(core::AliasCommand::Op::kPut, "#hall:localhost", room, kAlice).ok());
  ASSERT_TRUE(testing::Member(engine(), room, kBob, kBob, "leave").ok());
  ASSERT_TRUE(Account(accounts::ForgetRoomCommand{.user_id = kBob, .room_id = room}).ok());
  Project();
  Rows incremental = SideRows();
  for (char tag : {'r', 'k', 'm', 'x', 'p', 'a', 'f'}) {
    EXPECT_TRUE(std::any_of(incremental.begin(), incremental.end(),
                            [&](const auto& row) { return row[0] == std::string(1, tag); }))
        << "no row of kind " << tag;
  }
  ExpectNoDifference();

  ASSERT_TRUE(RebuildProjection(engine().store(), url()).ok());
  EXPECT_EQ(SideRows(), incremental);
  ExpectNoDifference();

  testing::Exec(url(), "UPDATE receipts SET event_id = '$forged' WHERE user_id = '" + kBob + "'");
  testing::Exec(url(), "INSERT INTO receipts VALUES ('" + room + "', '@ghost:localhost', 'm.read', '', "
                       "'$x', 1, 1)");
  std::vector<std::string> diffs = Differences();
  ASSERT_EQ(diffs.size(), 2u);
  std::sort(diffs.begin(), diffs.end());
  EXPECT_NE(diffs[0].find("receipt (" + room + ", @bob:localhost, m.read): log " + hello->event_id),
            std::string::npos)
      << diffs[0];
  EXPECT_NE(diffs[0].find("PostgreSQL $forged"), std::string::npos) << diffs[0];
  EXPECT_NE(diffs[1].find("@ghost:localhost, m.read) only in PostgreSQL"), std::string::npos) << diffs[1];
}

TEST_F(SideTablesTest, ReaderCountsReceiptAndKeyEntriesSoSmallBatchesCoverTheStream) {
  ASSERT_TRUE(testing::RegisterWithDevice(engine(), kAlice, "ADEV", TokenHash('a')).ok());
  std::string room = testing::CreatePublicRoom(engine(), kAlice);
  auto m = testing::Message(engine(), room, kAlice, "m");
  ASSERT_TRUE(m.ok());
  ASSERT_TRUE(UploadDeviceKeys(kAlice, "ADEV", "c1").ok());
  ASSERT_TRUE(UploadDeviceKeys(kAlice, "ADEV", "c2").ok());
  ASSERT_TRUE(Receipt(room, kAlice, "m.read", m->event_id, 5).ok());
  StreamReader reader(engine().store());
  // One batch: both key entries fold into one item with the current keys.
  auto all = reader.Read(0);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->upto, engine().stream_position());
  ASSERT_EQ(all->device_keys.size(), 1u);
  EXPECT_EQ(all->device_key_entries, 2u);
  EXPECT_EQ(all->device_keys[0].position, engine().stream_position() - 1);
  ASSERT_EQ(all->device_keys[0].devices.size(), 1u);
  EXPECT_NE(all->device_keys[0].devices[0].json.find("c2"), std::string::npos);
  ASSERT_EQ(all->receipts.size(), 1u);
  EXPECT_EQ(all->receipts[0].position, engine().stream_position());
  EXPECT_EQ(all->receipts[0].room_id, room);
  // Batches of one entry still cover every position.
  storage::StreamPosition at = 0;
  size_t batches = 0;
  while (true) {
    auto b = reader.Read(at, {.entries_max = 1});
    ASSERT_TRUE(b.ok());
    if (b->upto == at) break;
    EXPECT_EQ(b->entries(), 1u);
    at = b->upto;
    ++batches;
  }
  EXPECT_EQ(at, engine().stream_position());
  EXPECT_EQ(batches, engine().stream_position());
}

// Goal: with random interleavings of receipts, key uploads, device deletions,
// cross-signing uploads and push-rule changes, projected in batches of random size,
// PostgreSQL ends equal to the engine (verify) and to a rebuild from scratch.
// Replay: NEBU_SIDE_TABLES_SEED=<seed> (printed on every run).
TEST_F(SideTablesTest, RandomHistoriesInRandomBatchesEqualTheEngineAndARebuild) {
  uint64_t seed = std::random_device{}();
  if (auto env = testing::EnvUrl("NEBU_SIDE_TABLES_SEED")) seed = std::stoull(*env);
  std::printf("side tables seed: %llu (replay: NEBU_SIDE_TABLES_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  SCOPED_TRACE("NEBU_SIDE_TABLES_SEED=" + std::to_string(seed));
  std::mt19937_64 rng(seed);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };

  const std::vector<std::string> users = {kAlice, kBob, testing::kCarol};
  std::map<std::string, std::vector<std::string>> devices;  // live devices per user
  int next_device = 0, next_token = 0;
  auto token = [&] {
    char buf[65];
    std::snprintf(buf, sizeof(buf), "%064x", ++next_token);
    return std::string(buf);
  };
  for (const std::string& u : users) {
    std::string d = "D" + std::to_string(next_device++);
    ASSERT_TRUE(testing::RegisterWithDevice(engine(), u, d, token()).ok());
    devices[u].push_back(d);
  }
  std::string room = testing::CreatePublicRoom(engine(), kAlice);
  ASSERT_TRUE(testing::Member(engine(), room, kBob, kBob, "join").ok());
  ASSERT_TRUE(testing::Member(engine(), room, testing::kCarol, testing::kCarol, "join").ok());
  std::vector<std::string> messages;

  auto writer = BatchWriter::Connect(url());
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  StreamReader reader(engine().store());
  auto project_some = [&] {
    auto at = (*writer)->Checkpoint();
    ASSERT_TRUE(at.ok());
    storage::StreamPosition position = *at;
    for (int batches = 1 + pick(3); batches > 0; --batches) {
      auto batch = reader.Read(position, {.entries_max = 1 + pick(6)});
      ASSERT_TRUE(batch.ok()) << batch.status().ToString();
      if (batch->upto == position) break;
      Status s = (*writer)->Write(*batch);
      ASSERT_TRUE(s.ok()) << s.ToString();
      position = batch->upto;
    }
  };

  for (int step = 0; step < 200; ++step) {
    const std::string& user = users[pick(users.size())];
    switch (pick(8)) {
      case 0:
      case 1: {
        auto m = testing::Message(engine(), room, user, "m" + std::to_string(step));
        ASSERT_TRUE(m.ok());
        messages.push_back(m->event_id);
        break;
      }
      case 2:
      case 3:
        if (messages.empty()) break;
        // Backwards ones are refused silently by the engine (receipts only move forward).
        (void)Receipt(room, user, pick(2) ? "m.read" : "m.read.private", messages[pick(messages.size())],
                      step, pick(3) == 0 ? "main" : "");
        break;
      case 4:
        if (devices[user].empty()) break;
        ASSERT_TRUE(UploadDeviceKeys(user, devices[user][pick(devices[user].size())],
                                     "curve" + std::to_string(step))
                        .ok());
        break;
      case 5:
        if (!devices[user].empty() && pick(2)) {  // delete a device, prune its keys
          size_t i = pick(devices[user].size());
          ASSERT_TRUE(Account(accounts::DeleteDeviceCommand{.user_id = user, .device_id = devices[user][i]}).ok());
          ASSERT_TRUE(E2ee(e2ee::PruneDevicesCommand{.user_id = user}).ok());
          devices[user].erase(devices[user].begin() + static_cast<std::ptrdiff_t>(i));
        } else {  // a new device
          std::string d = "D" + std::to_string(next_device++);
          ASSERT_TRUE(Account(accounts::LoginCommand{.user_id = user,
                                                     .device = {.device_id = d, .token_hash = token()},
                                                     .ts = step})
                          .ok());
          devices[user].push_back(d);
        }
        break;
      case 6: {
        e2ee::UploadSigningKeysCommand c{.user_id = user};
        std::string k = "K" + std::to_string(step);
        if (pick(2)) c.master_key = SigningKey(user, "master", k);
        if (pick(2)) c.self_signing_key = SigningKey(user, "self_signing", k);
        if (!c.master_key && !c.self_signing_key) c.user_signing_key = SigningKey(user, "user_signing", k);
        ASSERT_TRUE(E2ee(c).ok());
        break;
      }
      case 7: {
        json::array content;
        for (size_t n = pick(3); n > 0; --n) {
          content.push_back(json::object{{"rule_id", "r" + std::to_string(pick(4))},
                                         {"pattern", "p" + std::to_string(step)},
                                         {"enabled", pick(2) == 0},
                                         {"actions", json::array{"notify"}}});
        }
        json::object rules{{"global", json::object{{"content", content}}}};
        ASSERT_TRUE(testing::PutAccountData(engine(), user, std::nullopt, "m.push_rules", rules).ok());
        break;
      }
    }
    if (pick(10) == 0) project_some();
  }
  Project();
  ExpectNoDifference();
  Rows incremental = SideRows();
  ASSERT_TRUE(RebuildProjection(engine().store(), url()).ok());
  EXPECT_EQ(SideRows(), incremental);
  ExpectNoDifference();
}

// Goal: receipts, the most frequent side rows, cost one statement per batch.
// Method: 2,000 receipts by 20 users, then one CatchUp; prints the rate.
TEST_F(SideTablesTest, ProjectsThousandsOfReceiptsQuickly) {
  std::string room = testing::CreatePublicRoom(engine(), kAlice);
  constexpr int kReceiptUsers = 20, kRounds = 100;
  std::vector<std::string> users;
  for (int u = 0; u < kReceiptUsers; ++u) {
    users.push_back("@u" + std::to_string(u) + ":localhost");
    ASSERT_TRUE(testing::Member(engine(), room, users.back(), users.back(), "join").ok());
  }
  std::vector<std::string> messages;
  for (int i = 0; i < kRounds; ++i) {
    auto m = testing::Message(engine(), room, kAlice, "m" + std::to_string(i));
    ASSERT_TRUE(m.ok());
    messages.push_back(m->event_id);
  }
  Project();
  for (int i = 0; i < kRounds; ++i) {
    for (const std::string& u : users) ASSERT_TRUE(Receipt(room, u, "m.read", messages[i], i).ok());
  }
  auto started = std::chrono::steady_clock::now();
  Project();
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::printf("projected %d receipt entries in %.3f s (%.0f entries/s)\n", kReceiptUsers * kRounds,
              seconds, kReceiptUsers * kRounds / seconds);
  EXPECT_EQ(Q("SELECT count(*), count(DISTINCT event_id) FROM receipts"), (Rows{{"20", "1"}}));
  EXPECT_EQ(Q("SELECT DISTINCT event_id FROM receipts")[0][0], messages.back());
  ExpectNoDifference();
}

}  // namespace
}  // namespace nebu::projections
