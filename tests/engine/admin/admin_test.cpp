// Goal: engine/admin follows its header's contract: every command survives encode and
// decode unchanged, malformed payloads and fields over their limits are refused, roles
// start from the account's admin flag and are lost on deactivation, the API's role
// checks keep duties apart, audit records get dense sequence numbers from 1 in log
// order and page by sequence, room blocks and notice rooms are set and read back.
// Method: pure encode/decode (examples and a rapidcheck property over random records),
// and a real Engine on tmpfs applying kAudit and kAccount commands.
#include "engine/admin/admin.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "engine/accounts/commands.h"
#include "engine/core/engine.h"
#include "engine/testing/temp_dir.h"

namespace nebu::admin {
namespace {

namespace json = boost::json;

const std::string kAlice = "@alice:localhost";
const std::string kBob = "@bob:localhost";
const std::string kRoom = "!room:localhost";
// Canonical JSON's integers: |n| <= 2^53 - 1.
constexpr int64_t kSafeIntMax = (int64_t{1} << 53) - 1;

AdminCommand RoundTrip(const AdminCommand& command) {
  Result<std::string> payload = EncodeAdminCommand(command);
  NEBU_CHECK(payload.ok(), "encode");
  Result<AdminCommand> decoded = DecodeAdminCommand(*payload);
  NEBU_CHECK(decoded.ok(), "decode");
  return *decoded;
}

TEST(AdminCommands, EveryKindSurvivesEncodeAndDecode) {
  const std::vector<AdminCommand> commands = {
      SetRolesCommand{.user_id = kAlice, .admin = true},
      SetRolesCommand{.user_id = kAlice, .admin = false, .auditor = true},
      SetRolesCommand{.user_id = kAlice},
      AuditRecord{.ts = 5, .actor = kAlice, .action = "users.put", .target = kBob,
                  .params = json::object{{"admin", true}, {"n", 3}, {"s", "x"}},
                  .outcome = "ok", .status = 200},
      AuditRecord{.ts = 0, .actor = "cli:nebu", .action = "a", .outcome = "M_FORBIDDEN",
                  .status = 403},
      BlockRoomCommand{.room_id = kRoom, .block = true, .actor = kAlice, .ts = 9},
      BlockRoomCommand{.room_id = kRoom, .block = false, .actor = kAlice, .ts = 10},
      SetNoticeRoomCommand{.user_id = kBob, .room_id = kRoom},
  };
  for (const AdminCommand& command : commands) {
    EXPECT_EQ(RoundTrip(command), command) << *EncodeAdminCommand(command);
  }
}

// A random string of printable ASCII and some multi-byte UTF-8, at most `max` bytes.
rc::Gen<std::string> GenText(size_t max) {
  auto piece = rc::gen::oneOf(rc::gen::map(rc::gen::inRange<int>(0x20, 0x7f),
                                           [](int c) { return std::string(1, char(c)); }),
                              rc::gen::elementOf(std::vector<std::string>{"é", "€", "\\", "\"", "😀"}));
  return rc::gen::map(rc::gen::container<std::vector<std::string>>(piece),
                      [max](const std::vector<std::string>& pieces) {
                        std::string out;
                        for (const std::string& p : pieces) {
                          if (out.size() + p.size() > max) break;
                          out += p;
                        }
                        return out;
                      });
}

rc::Gen<json::object> GenParams() {
  auto value = rc::gen::oneOf(
      rc::gen::map(GenText(40), [](std::string s) { return json::value(s); }),
      rc::gen::map(rc::gen::inRange<int64_t>(-kSafeIntMax, kSafeIntMax + 1),
                   [](int64_t n) { return json::value(n); }),
      rc::gen::map(rc::gen::arbitrary<bool>(), [](bool b) { return json::value(b); }),
      rc::gen::just(json::value(nullptr)));
  return rc::gen::map(
      rc::gen::container<std::vector<std::pair<std::string, json::value>>>(
          rc::gen::pair(GenText(20), value)),
      [](const std::vector<std::pair<std::string, json::value>>& entries) {
        json::object o;
        for (const auto& [key, v] : entries) o[key] = v;
        return o;
      });
}

RC_GTEST_PROP(AdminCommandsProperty, AuditRecordsSurviveEncodeAndDecode, ()) {
  AuditRecord record{.ts = *rc::gen::inRange<int64_t>(0, kSafeIntMax + 1),
                     .actor = *GenText(kAuditFieldBytesMax),
                     .action = *rc::gen::nonEmpty(GenText(kAuditFieldBytesMax)),
                     .target = *GenText(kAuditFieldBytesMax),
                     .params = *GenParams(),
                     .outcome = *GenText(64),
                     .status = *rc::gen::inRange<int64_t>(100, 600)};
  RC_PRE(json::serialize(record.params).size() <= kAuditParamsBytesMax);
  Result<std::string> payload = EncodeAdminCommand(record);
  RC_ASSERT(payload.ok());
  Result<AdminCommand> decoded = DecodeAdminCommand(*payload);
  RC_ASSERT(decoded.ok());
  RC_ASSERT(std::get<AuditRecord>(*decoded) == record);
  // The payload is canonical: encoding the decoded command gives the same bytes.
  RC_ASSERT(*EncodeAdminCommand(*decoded) == *payload);
}

RC_GTEST_PROP(AdminCommandsProperty, RolesAndBlocksSurviveEncodeAndDecode,
              (bool admin_set, bool admin, bool auditor_set, bool auditor, bool block)) {
  const std::string local = *rc::gen::nonEmpty(
      rc::gen::container<std::string>(rc::gen::elementOf(std::string("abcxyz0189._=-/"))));
  SetRolesCommand roles{.user_id = "@" + local + ":localhost"};
  if (admin_set) roles.admin = admin;
  if (auditor_set) roles.auditor = auditor;
  RC_ASSERT(std::get<SetRolesCommand>(RoundTrip(roles)) == roles);
  BlockRoomCommand b{.room_id = "!" + local + ":localhost", .block = block, .actor = roles.user_id,
                     .ts = *rc::gen::inRange<int64_t>(0, kSafeIntMax + 1)};
  RC_ASSERT(std::get<BlockRoomCommand>(RoundTrip(b)) == b);
}

TEST(AdminCommands, MalformedPayloadsAreRefused) {
  for (std::string_view payload :
       {R"(not json)", R"([])", R"({})", R"({"op":"nope"})",
        R"({"op":"set_roles","user_id":"@a:localhost","extra":1})",
        R"({"op":"set_roles","user_id":"not a user"})",
        R"({"op":"set_roles","user_id":"@a:localhost","admin":"yes"})",
        R"({"op":"block_room","room_id":"!r:localhost","block":1,"actor":"a","ts":1})",
        R"({"op":"block_room","room_id":"#alias:localhost","block":true,"actor":"a","ts":1})",
        R"({"op":"audit","action":"a","actor":"b","outcome":"ok","params":[],"status":200,"target":"","ts":1})",
        R"({"op":"audit","action":"","actor":"b","outcome":"ok","params":{},"status":200,"target":"","ts":1})",
        R"({"op":"audit","action":"a","actor":"b","outcome":"ok","params":{},"status":200,"target":"","ts":-1})",
        R"({"op":"set_notice_room","user_id":"@a:localhost"})",
        R"({"op":"set_notice_room","user_id":"@a:localhost","room_id":"bad"})"}) {
    SCOPED_TRACE(payload);
    Result<AdminCommand> decoded = DecodeAdminCommand(payload);
    EXPECT_FALSE(decoded.ok());
  }
}

TEST(AdminCommands, FieldsOverTheirLimitsAreRefused) {
  const std::string at_limit(kAuditFieldBytesMax, 'x');
  const std::string over(kAuditFieldBytesMax + 1, 'x');
  AuditRecord ok{.actor = at_limit, .action = at_limit, .target = at_limit, .outcome = "ok"};
  EXPECT_TRUE(EncodeAdminCommand(ok).ok());
  for (std::string AuditRecord::*field :
       {&AuditRecord::actor, &AuditRecord::action, &AuditRecord::target, &AuditRecord::outcome}) {
    AuditRecord bad = ok;
    bad.*field = over;
    Result<std::string> encoded = EncodeAdminCommand(bad);
    ASSERT_FALSE(encoded.ok());
    EXPECT_EQ(encoded.status().code(), StatusCode::kInvalidArgument);
  }
  AuditRecord big = ok;
  big.params["blob"] = std::string(kAuditParamsBytesMax, 'p');
  EXPECT_EQ(EncodeAdminCommand(big).status().code(), StatusCode::kInvalidArgument);
  AuditRecord negative = ok;
  negative.ts = -1;
  EXPECT_EQ(EncodeAdminCommand(negative).status().code(), StatusCode::kInvalidArgument);
  EXPECT_FALSE(EncodeAdminCommand(BlockRoomCommand{.room_id = "x", .block = true}).ok());
  EXPECT_FALSE(EncodeAdminCommand(BlockRoomCommand{.room_id = kRoom, .actor = over}).ok());
  EXPECT_FALSE(EncodeAdminCommand(SetRolesCommand{.user_id = "alice"}).ok());
  EXPECT_FALSE(EncodeAdminCommand(SetNoticeRoomCommand{.user_id = kAlice, .room_id = "r"}).ok());
}

class AdminStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = core::Engine::Open({.data_dir = dir_.path(), .server_name = "localhost"});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    engine_ = std::move(opened).value();
  }
  core::ApplyOutcome Submit(const AdminCommand& command) {
    Result<std::string> payload = EncodeAdminCommand(command);
    if (!payload.ok()) return payload.status();
    return engine_->Submit({core::CommandKind::kAudit, *payload});
  }
  core::ApplyOutcome SubmitAccount(const accounts::AccountCommand& command) {
    Result<std::string> payload = accounts::EncodeAccountCommand(command);
    if (!payload.ok()) return payload.status();
    return engine_->Submit({core::CommandKind::kAccount, *payload});
  }
  void RegisterUser(const std::string& user_id, bool admin) {
    ASSERT_TRUE(SubmitAccount(accounts::RegisterCommand{.user_id = user_id, .admin = admin,
                                                        .created_ts = 1})
                    .ok());
  }
  Roles RolesOf(const std::string& user_id) {
    Result<Roles> roles = GetRoles(engine_->Read(), user_id);
    EXPECT_TRUE(roles.ok()) << roles.status().ToString();
    return roles.ok() ? *roles : Roles{};
  }
  std::vector<AuditRecord> Audit(uint64_t after, size_t limit) {
    std::vector<AuditRecord> out;
    Status s = ForEachAudit(engine_->Read(), after, limit, [&](const AuditRecord& r, bool*) {
      out.push_back(r);
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }

  nebu::testing::TempDir dir_{nebu::testing::TempDir::kTmpfs};
  std::unique_ptr<core::Engine> engine_;
};

TEST_F(AdminStateTest, RolesStartFromTheAccountFlagAndDieWithTheAccount) {
  EXPECT_EQ(RolesOf(kAlice), Roles{});  // unknown user
  RegisterUser(kAlice, /*admin=*/true);
  RegisterUser(kBob, /*admin=*/false);
  EXPECT_EQ(RolesOf(kAlice), (Roles{.admin = true}));
  EXPECT_EQ(RolesOf(kBob), Roles{});
  // The first role record starts from the account's flag: auditor added, admin kept.
  ASSERT_TRUE(Submit(SetRolesCommand{.user_id = kAlice, .auditor = true}).ok());
  EXPECT_EQ(RolesOf(kAlice), (Roles{.admin = true, .auditor = true}));
  ASSERT_TRUE(Submit(SetRolesCommand{.user_id = kAlice, .admin = false}).ok());
  EXPECT_EQ(RolesOf(kAlice), (Roles{.admin = false, .auditor = true}));
  // Separation of duties.
  EXPECT_FALSE(CanUseAdminApi(Roles{.auditor = true}));
  EXPECT_TRUE(CanUseComplianceApi(Roles{.auditor = true}));
  EXPECT_TRUE(CanUseAdminApi(Roles{.admin = true}));
  EXPECT_FALSE(CanUseComplianceApi(Roles{.admin = true}));
  EXPECT_FALSE(CanUseAdminApi(Roles{}) || CanUseComplianceApi(Roles{}));
  // Unknown and deactivated users.
  EXPECT_EQ(Submit(SetRolesCommand{.user_id = "@nobody:localhost", .admin = true})
                .status().code(),
            StatusCode::kNotFound);
  ASSERT_TRUE(Submit(SetRolesCommand{.user_id = kBob, .admin = true}).ok());
  EXPECT_TRUE(RolesOf(kBob).admin);
  ASSERT_TRUE(SubmitAccount(accounts::DeactivateCommand{.user_id = kBob}).ok());
  EXPECT_EQ(RolesOf(kBob), Roles{});
  EXPECT_EQ(Submit(SetRolesCommand{.user_id = kBob, .admin = true}).status().code(),
            StatusCode::kForbidden);
}

TEST_F(AdminStateTest, AuditSequenceNumbersAreDenseFromOneInLogOrder) {
  constexpr int kRecords = 50;
  for (int i = 0; i < kRecords; ++i) {
    core::ApplyOutcome outcome =
        Submit(AuditRecord{.ts = 100 + i, .actor = kAlice, .action = "a" + std::to_string(i),
                           .outcome = "ok", .status = 200});
    ASSERT_TRUE(outcome.ok()) << outcome.status().ToString();
    EXPECT_EQ(*outcome, R"({"seq":)" + std::to_string(i + 1) + "}");
  }
  // Other admin commands take no sequence number.
  ASSERT_TRUE(Submit(BlockRoomCommand{.room_id = kRoom, .block = true, .actor = kAlice}).ok());
  std::vector<AuditRecord> all = Audit(0, 1000);
  ASSERT_EQ(all.size(), static_cast<size_t>(kRecords));
  for (int i = 0; i < kRecords; ++i) {
    EXPECT_EQ(all[i].seq, static_cast<uint64_t>(i + 1));
    EXPECT_EQ(all[i].action, "a" + std::to_string(i));
  }
  // Paging by sequence: after 20, ten records.
  std::vector<AuditRecord> page = Audit(20, 10);
  ASSERT_EQ(page.size(), 10u);
  EXPECT_EQ(page.front().seq, 21u);
  EXPECT_EQ(page.back().seq, 30u);
  EXPECT_TRUE(Audit(kRecords, 10).empty());
  EXPECT_TRUE(Audit(UINT64_MAX, 10).empty());
  // Survives a restart: the next record continues the sequence.
  engine_.reset();
  SetUp();
  core::ApplyOutcome next =
      Submit(AuditRecord{.ts = 1, .actor = kAlice, .action = "after", .outcome = "ok"});
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(*next, R"({"seq":)" + std::to_string(kRecords + 1) + "}");
}

TEST_F(AdminStateTest, RoomBlocksAreSetAndLifted) {
  auto block = GetRoomBlock(engine_->Read(), kRoom);
  ASSERT_TRUE(block.ok());
  EXPECT_FALSE(block->has_value());
  ASSERT_TRUE(Submit(BlockRoomCommand{.room_id = kRoom, .block = true, .actor = kAlice, .ts = 7})
                  .ok());
  block = GetRoomBlock(engine_->Read(), kRoom);
  ASSERT_TRUE(block.ok() && block->has_value());
  EXPECT_EQ((*block)->actor, kAlice);
  EXPECT_EQ((*block)->ts, 7);
  EXPECT_FALSE(GetRoomBlock(engine_->Read(), "!other:localhost")->has_value());
  ASSERT_TRUE(Submit(BlockRoomCommand{.room_id = kRoom, .block = false, .actor = kAlice}).ok());
  EXPECT_FALSE(GetRoomBlock(engine_->Read(), kRoom)->has_value());
}

TEST_F(AdminStateTest, NoticeRoomsAreRememberedPerUser) {
  EXPECT_FALSE(GetNoticeRoom(engine_->Read(), kAlice)->has_value());
  ASSERT_TRUE(Submit(SetNoticeRoomCommand{.user_id = kAlice, .room_id = kRoom}).ok());
  ASSERT_TRUE(Submit(SetNoticeRoomCommand{.user_id = kBob, .room_id = "!b:localhost"}).ok());
  EXPECT_EQ(GetNoticeRoom(engine_->Read(), kAlice)->value_or(""), kRoom);
  ASSERT_TRUE(Submit(SetNoticeRoomCommand{.user_id = kAlice, .room_id = "!new:localhost"}).ok());
  EXPECT_EQ(GetNoticeRoom(engine_->Read(), kAlice)->value_or(""), "!new:localhost");
  EXPECT_EQ(GetNoticeRoom(engine_->Read(), kBob)->value_or(""), "!b:localhost");
}

}  // namespace
}  // namespace nebu::admin
