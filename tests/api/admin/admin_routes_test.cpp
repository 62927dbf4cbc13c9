// Goal: what the admin API does (Synapse's shapes) and what the audit log records:
// creating and modifying users, roles and separation of duties, rooms and their block,
// event reports, registration tokens; audit records without secrets, filtered and paged.
// Method: api/admin fixture (real engine, loopback HTTP).
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "api/admin/admin_common.h"
#include "engine/common/crypto.h"
#include "engine/reports/reports.h"
#include "tests/api/admin/admin_testing.h"

namespace nebu::api::testing {
namespace {

using boost::json::object;
using boost::json::value;

constexpr std::string_view kV1 = "/_synapse/admin/v1";
constexpr std::string_view kV2 = "/_synapse/admin/v2";

std::string V1(std::string_view rest) { return std::string(kV1) + std::string(rest); }
std::string V2(std::string_view rest) { return std::string(kV2) + std::string(rest); }

class AdminRoutesTest : public AdminFixture {
 protected:
  boost::json::array Audit(const Session& auditor, std::string_view query) {
    HttpReply reply = As(&auditor, "GET", "/api/v1/audit" + std::string(query));
    EXPECT_EQ(reply.status, 200) << reply.body;
    value json = reply.Json();
    return json.is_object() ? json.at("records").as_array() : boost::json::array{};
  }
};

TEST_F(AdminRoutesTest, CreateModifyAndDeactivateAUser) {
  Session admin = RegisterAdmin("root");
  const std::string made = "@made:test.local";
  HttpReply created = As(&admin, "PUT", V2("/users/" + PercentEncode(made)),
                         Json({{"password", kPassword}, {"displayname", "Made"}}));
  ASSERT_EQ(created.status, 201) << created.body;
  EXPECT_EQ(Str(created.Json(), "name"), made);
  EXPECT_EQ(Str(created.Json(), "displayname"), "Made");
  EXPECT_FALSE(created.Json().at("admin").as_bool());
  Session m = ToSession(LoginReply("made"));
  ASSERT_FALSE(m.access_token.empty());
  ExpectError(As(&m, "GET", V1("/server_version")), 403, "M_FORBIDDEN");

  // Promote through the admin flag route: the new admin may use the admin API.
  ASSERT_EQ(As(&admin, "PUT", V1("/users/" + PercentEncode(made) + "/admin"),
               R"({"admin":true})").status, 200);
  EXPECT_TRUE(As(&admin, "GET", V1("/users/" + PercentEncode(made) + "/admin"))
                  .Json().at("admin").as_bool());
  HttpReply version = As(&m, "GET", V1("/server_version"));
  ASSERT_EQ(version.status, 200) << version.body;
  EXPECT_FALSE(Str(version.Json(), "server_version").empty());
  // An admin is no auditor until made one (separation of duties).
  ExpectError(As(&m, "GET", "/api/v1/audit"), 403, "M_FORBIDDEN");
  HttpReply modified = As(&admin, "PUT", V2("/users/" + PercentEncode(made)),
                          R"({"auditor":true,"displayname":"Made Again"})");
  ASSERT_EQ(modified.status, 200) << modified.body;
  EXPECT_TRUE(modified.Json().at("auditor").as_bool());
  EXPECT_EQ(Str(modified.Json(), "displayname"), "Made Again");
  EXPECT_EQ(As(&m, "GET", "/api/v1/audit").status, 200);

  // An admin cannot demote or deactivate themself.
  ExpectError(As(&admin, "PUT", V1("/users/" + PercentEncode(admin.user_id) + "/admin"),
                 R"({"admin":false})"), 400, "M_INVALID_PARAM");
  ExpectError(As(&admin, "POST", V1("/deactivate/" + PercentEncode(admin.user_id)), "{}"), 400,
              "M_INVALID_PARAM");
  // Bad input changes nothing.
  ExpectError(As(&admin, "PUT", V2("/users/" + PercentEncode(made)), R"({"admin":"yes"})"), 400,
              "M_BAD_JSON");
  ExpectError(As(&admin, "GET", V2("/users/" + PercentEncode("@x:elsewhere.org"))), 400,
              "M_INVALID_PARAM");
  ExpectError(As(&admin, "GET", V2("/users/" + PercentEncode("@nobody:test.local"))), 404,
              "M_NOT_FOUND");

  ASSERT_EQ(As(&admin, "POST", V1("/deactivate/" + PercentEncode(made)), R"({"erase":true})")
                .status, 200);
  HttpReply gone = As(&admin, "GET", V2("/users/" + PercentEncode(made)));
  ASSERT_EQ(gone.status, 200) << gone.body;
  EXPECT_TRUE(gone.Json().at("deactivated").as_bool());
  EXPECT_FALSE(gone.Json().at("admin").as_bool());  // no role once deactivated
  EXPECT_EQ(As(&m, "GET", V1("/server_version")).status, 401);
  ExpectError(LoginReply("made"), 403, "M_FORBIDDEN");
}

TEST_F(AdminRoutesTest, ResetPasswordDevicesAndJoinedRooms) {
  Session admin = RegisterAdmin("root");
  Session bob = Register("bob");
  Session bob2 = ToSession(LoginReply("bob"));
  const std::string b = PercentEncode(bob.user_id);
  HttpReply devices = As(&admin, "GET", V2("/users/" + b + "/devices"));
  ASSERT_EQ(devices.status, 200) << devices.body;
  EXPECT_EQ(devices.Json().at("total").as_int64(), 2);
  ASSERT_EQ(As(&admin, "PUT", V2("/users/" + b + "/devices/" + bob.device_id),
               R"({"display_name":"Phone"})").status, 200);
  EXPECT_EQ(Str(As(&admin, "GET", V2("/users/" + b + "/devices/" + bob.device_id)).Json(),
                "display_name"), "Phone");
  ASSERT_EQ(As(&admin, "POST", V2("/users/" + b + "/delete_devices"),
               Json({{"devices", boost::json::array{bob2.device_id.c_str()}}})).status, 200);
  EXPECT_EQ(WhoAmI(bob2), 401);
  EXPECT_EQ(WhoAmI(bob), 200);

  const std::string room = CreateRoom(bob, "Bob's");
  HttpReply joined = As(&admin, "GET", V1("/users/" + b + "/joined_rooms"));
  ASSERT_EQ(joined.status, 200) << joined.body;
  EXPECT_EQ(joined.Json().at("joined_rooms").as_array().at(0).as_string(), room);

  ASSERT_EQ(As(&admin, "POST", V1("/reset_password/" + b),
               R"({"new_password":"a brand new one"})").status, 200);
  EXPECT_EQ(WhoAmI(bob), 401);  // logout_devices defaults to true
  ExpectError(As(&admin, "POST", V1("/reset_password/" + b), "{}"), 400, "M_MISSING_PARAM");
}

TEST_F(AdminRoutesTest, RoomsBlockReportsAndTokens) {
  Session admin = RegisterAdmin("root");
  std::string create_id;
  const std::string room = CreateRoom(admin, "Lobby", &create_id);
  const std::string r = PercentEncode(room);
  HttpReply details = As(&admin, "GET", V1("/rooms/" + r));
  ASSERT_EQ(details.status, 200) << details.body;
  EXPECT_EQ(Str(details.Json(), "name"), "Lobby");
  EXPECT_EQ(details.Json().at("joined_members").as_int64(), 1);
  EXPECT_EQ(Str(details.Json(), "creator"), admin.user_id);
  EXPECT_EQ(As(&admin, "GET", V1("/rooms/" + r + "/members")).Json().at("members").as_array()
                .at(0).as_string(), admin.user_id);
  EXPECT_GE(As(&admin, "GET", V1("/rooms/" + r + "/state")).Json().at("state").as_array().size(),
            4u);
  ExpectError(As(&admin, "GET", V1("/rooms/" + PercentEncode("!none:test.local"))), 404,
              "M_NOT_FOUND");

  EXPECT_FALSE(As(&admin, "GET", V1("/rooms/" + r + "/block")).Json().at("block").as_bool());
  ASSERT_EQ(As(&admin, "PUT", V1("/rooms/" + r + "/block"), R"({"block":true})").status, 200);
  HttpReply blocked = As(&admin, "GET", V1("/rooms/" + r + "/block"));
  EXPECT_TRUE(blocked.Json().at("block").as_bool());
  EXPECT_EQ(Str(blocked.Json(), "user_id"), admin.user_id);
  ExpectError(As(&admin, "PUT", V1("/rooms/" + r + "/block"), R"({"block":1})"), 400,
              "M_BAD_JSON");

  // An event report, made through the engine (the client route is api/rooms').
  auto payload = reports::EncodeReportCommand({.kind = reports::ReportKind::kEvent,
                                               .reporter = admin.user_id,
                                               .room_id = room,
                                               .event_id = create_id,
                                               .reason = "spam",
                                               .received_ts = 5});
  ASSERT_TRUE(payload.ok());
  ASSERT_TRUE(engine_->Submit({.kind = core::CommandKind::kReport, .payload = *payload}).ok());
  HttpReply list = As(&admin, "GET", V1("/event_reports"));
  ASSERT_EQ(list.status, 200) << list.body;
  const value list_json = list.Json();
  EXPECT_EQ(list_json.at("total").as_int64(), 1);
  const value& first = list_json.at("event_reports").as_array().at(0);
  EXPECT_EQ(Str(first, "reason"), "spam");
  EXPECT_EQ(Str(first, "name"), "Lobby");
  EXPECT_EQ(Str(first, "sender"), admin.user_id);
  HttpReply one = As(&admin, "GET", V1("/event_reports/1"));
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(Str(one.Json().at("event_json"), "type"), "m.room.create");
  EXPECT_EQ(Str(one.Json(), "event_id"), create_id);
  ExpectError(As(&admin, "GET", V1("/event_reports/x")), 400, "M_INVALID_PARAM");

  HttpReply token = As(&admin, "POST", V1("/registration_tokens/new"),
                       R"({"token":"abc","uses_allowed":2})");
  ASSERT_EQ(token.status, 200) << token.body;
  EXPECT_EQ(token.Json().at("uses_allowed").as_int64(), 2);
  HttpReply got = As(&admin, "GET", V1("/registration_tokens/abc"));
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.Json().at("completed").as_int64(), 0);
  ExpectError(As(&admin, "POST", V1("/registration_tokens/new"), R"({"token":"abc"})"), 400,
              "M_INVALID_PARAM");
  HttpReply generated = As(&admin, "POST", V1("/registration_tokens/new"), R"({"length":8})");
  ASSERT_EQ(generated.status, 200) << generated.body;
  EXPECT_EQ(Str(generated.Json(), "token").size(), 8u);
  ExpectError(As(&admin, "POST", V1("/registration_tokens/new"), R"({"token":"bad token"})"),
              400, "M_INVALID_PARAM");
}

TEST_F(AdminRoutesTest, AuditLogRecordsCallsWithoutSecrets) {
  Session admin = RegisterAdmin("root");
  Session auditor = RegisterAuditor("auditor");
  Session user = Register("user");
  const std::string kSecret = "do-not-log-this-password";
  ASSERT_EQ(As(&admin, "PUT", V2("/users/" + PercentEncode("@made:test.local")),
               Json({{"password", kSecret}, {"displayname", "Made"}})).status, 201);
  ASSERT_EQ(As(&admin, "POST", V1("/reset_password/" + PercentEncode("@made:test.local")),
               Json({{"new_password", kSecret + "2"}})).status, 200);
  ExpectError(As(&user, "GET", V2("/users/" + PercentEncode(admin.user_id))), 403,
              "M_FORBIDDEN");

  HttpReply raw = As(&auditor, "GET", "/api/v1/audit");
  ASSERT_EQ(raw.status, 200) << raw.body;
  EXPECT_EQ(raw.body.find(kSecret), std::string::npos) << raw.body;
  boost::json::array all = raw.Json().at("records").as_array();
  ASSERT_EQ(all.size(), 3u) << raw.body;
  const value& put = all[0];
  EXPECT_EQ(Str(put, "actor"), admin.user_id);
  EXPECT_EQ(Str(put, "action"), "users.put");
  EXPECT_EQ(Str(put, "target"), "@made:test.local");
  EXPECT_EQ(Str(put, "outcome"), "ok");
  EXPECT_EQ(put.at("status").as_int64(), 201);
  EXPECT_EQ(Str(put.at("params"), "displayname"), "Made");
  EXPECT_FALSE(put.at("params").as_object().contains("password"));
  EXPECT_EQ(put.at("ts").as_int64(), clock_.NowUnixMs());
  EXPECT_FALSE(all[1].at("params").as_object().contains("new_password"));
  EXPECT_EQ(Str(all[2], "actor"), user.user_id);
  EXPECT_EQ(Str(all[2], "outcome"), "M_FORBIDDEN");
  EXPECT_EQ(all[2].at("status").as_int64(), 403);

  // Filters: actor, action, time; paging with next_token.
  EXPECT_EQ(Audit(auditor, "?actor=" + PercentEncode(user.user_id)).size(), 1u);
  EXPECT_EQ(Audit(auditor, "?action=users.reset_password").size(), 1u);
  const std::string now = std::to_string(clock_.NowUnixMs());
  EXPECT_EQ(Audit(auditor, "?to=" + std::to_string(clock_.NowUnixMs() - 1)).size(), 0u);
  EXPECT_GE(Audit(auditor, "?from=" + now + "&to=" + now).size(), 3u);
  HttpReply page = As(&auditor, "GET", "/api/v1/audit?limit=2");
  ASSERT_EQ(page.Json().at("records").as_array().size(), 2u);
  const std::string next(page.Json().at("next_token").as_string());
  boost::json::array rest = Audit(auditor, "?limit=2&since=" + next);
  ASSERT_FALSE(rest.empty());
  EXPECT_EQ(rest[0].at("seq").as_int64(), 3);
  ExpectError(As(&auditor, "GET", "/api/v1/audit?limit=x"), 400, "M_INVALID_PARAM");
}

// An ordinary account cannot grow the replicated audit log without bound: its refusals are
// recorded up to kRefusalAuditRateLimit's burst, answered 403 either way.
TEST_F(AdminRoutesTest, RefusalsAreAuditedOnlyUpToTheirBucket) {
  Session auditor = RegisterAuditor("auditor");
  Session user = Register("user");
  const auto burst = static_cast<size_t>(admin_internal::kRefusalAuditRateLimit.burst);
  for (size_t i = 0; i < burst + 8; ++i) {
    ExpectError(As(&user, "GET", V1("/server_version")), 403, "M_FORBIDDEN");
  }
  std::string query = "?limit=1000&actor=" + PercentEncode(user.user_id);
  EXPECT_EQ(Audit(auditor, query).size(), burst);
}

TEST_F(AdminRoutesTest, ListsWithoutPostgresAnswer503) {
  Session admin = RegisterAdmin("root");
  HttpReply users = As(&admin, "GET", V2("/users"));
  EXPECT_EQ(users.status, 503);
  EXPECT_NE(users.body.find("PostgreSQL"), std::string::npos);
  EXPECT_EQ(As(&admin, "GET", V1("/rooms")).status, 503);
}

std::string Mac(std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &length);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(out), length));
}

TEST_F(AdminRoutesTest, SharedSecretRegistrationMakesAdminsAndAuditors) {
  ExpectError(Raw("GET", V1("/register")), 400, "M_UNKNOWN");  // off without a secret
  const std::string secret(40, 's');
  StartAdmin({.registration_shared_secret = secret});
  auto nonce = [&] { return Str(Raw("GET", V1("/register")).Json(), "nonce"); };
  auto body = [&](const std::string& n, std::string_view mac, bool auditor) {
    object o{{"nonce", n}, {"username", "boss"}, {"password", kPassword}, {"admin", true},
             {"mac", mac}};
    if (auditor) o["auditor"] = true;
    return Json(o);
  };
  std::string n = nonce();
  ExpectError(Raw("POST", V1("/register"), body(n, "00", false)), 403, "M_FORBIDDEN");
  // The nonce was used by the refused attempt.
  const std::string message = std::string("boss") + '\0' + std::string(kPassword) + '\0' +
                              "admin" + '\0' + "auditor";
  ExpectError(Raw("POST", V1("/register"), body(n, Mac(secret, n + '\0' + message), true)), 400,
              "M_UNKNOWN");
  n = nonce();
  HttpReply made = Raw("POST", V1("/register"), body(n, Mac(secret, n + '\0' + message), true));
  ASSERT_EQ(made.status, 200) << made.body;
  Session boss{Str(made.Json(), "user_id"), Str(made.Json(), "access_token"),
               Str(made.Json(), "device_id"), ""};
  EXPECT_EQ(boss.user_id, "@boss:test.local");
  EXPECT_EQ(As(&boss, "GET", V1("/server_version")).status, 200);
  HttpReply audit = As(&boss, "GET", "/api/v1/audit?action=users.register");
  ASSERT_EQ(audit.status, 200) << audit.body;
  EXPECT_EQ(audit.body.find(std::string(kPassword)), std::string::npos);
  const boost::json::array records = audit.Json().at("records").as_array();
  ASSERT_EQ(records.size(), 3u);  // wrong mac, reused nonce, success
  EXPECT_EQ(Str(records[0], "outcome"), "M_FORBIDDEN");
  EXPECT_EQ(Str(records[1], "outcome"), "M_UNKNOWN");
  EXPECT_EQ(Str(records[2], "target"), "@boss:test.local");
  EXPECT_EQ(Str(records[2], "actor"), "shared-secret");
  EXPECT_EQ(Str(records[2], "outcome"), "ok");
}

}  // namespace
}  // namespace nebu::api::testing
