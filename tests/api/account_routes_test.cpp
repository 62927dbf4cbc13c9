// Goal: the account endpoints as a client sees them — registration with UIA, login,
// tokens, logout, password change, deactivation, devices, profiles, capabilities, the
// rate limit and the r0 prefix — with response shapes checked against the spec's
// schemas (required fields present, with the right JSON types) and every error body
// carrying errcode + error.
// Method: a real Engine in a temp dir, AddAccountRoutes on a Router, a Server on
// loopback, and a blocking HTTP client; no fakes.
#include "api/accounts/account_routes.h"

#include <gtest/gtest.h>

#include <boost/json/serialize.hpp>
#include <initializer_list>
#include <string>
#include <vector>

#include "api/rate_limit.h"
#include "api/router.h"
#include "api/server.h"
#include "engine/accounts/commands.h"
#include "engine/core/engine.h"
#include "engine/testing/temp_dir.h"
#include "tests/api/test_http_client.h"

namespace nebu::api {
namespace {

using boost::json::object;
using boost::json::value;
using testing::HttpReply;
using testing::TestHttpClient;

constexpr std::string_view kServerName = "test.local";
constexpr std::string_view kPassword = "correct horse battery";

enum class Type { kString, kBool, kInt, kObject, kArray };

bool HasType(const value& v, Type type) {
  switch (type) {
    case Type::kString:
      return v.is_string();
    case Type::kBool:
      return v.is_bool();
    case Type::kInt:
      return v.is_int64() || v.is_uint64();
    case Type::kObject:
      return v.is_object();
    case Type::kArray:
      return v.is_array();
  }
  return false;
}

// Every named field is present in `json` with its type.
void ExpectShape(const value& json,
                 std::initializer_list<std::pair<std::string_view, Type>> fields) {
  ASSERT_TRUE(json.is_object()) << boost::json::serialize(json);
  for (const auto& [name, type] : fields) {
    const value* field = json.as_object().if_contains(name);
    ASSERT_NE(field, nullptr) << name << " missing in " << boost::json::serialize(json);
    EXPECT_TRUE(HasType(*field, type))
        << name << " has the wrong type in " << boost::json::serialize(json);
  }
}

// A JSON string's text, for comparisons.
std::string AccountText(const value& v) {
  return v.is_string() ? std::string(v.as_string()) : "<not a string>";
}

void ExpectError(const HttpReply& reply, int status, std::string_view errcode) {
  EXPECT_EQ(reply.status, status) << reply.body;
  EXPECT_EQ(reply.Errcode(), errcode) << reply.body;
  ExpectShape(reply.Json(), {{"errcode", Type::kString}, {"error", Type::kString}});
}

// The UIA 401 of the spec: flows[].stages[], params, session.
void ExpectUiaChallenge(const HttpReply& reply, std::string_view stage) {
  EXPECT_EQ(reply.status, 401) << reply.body;
  ExpectShape(reply.Json(),
              {{"flows", Type::kArray}, {"params", Type::kObject}, {"session", Type::kString}});
  value json = reply.Json();
  const value& flow = json.at("flows").at(0);
  EXPECT_EQ(AccountText(flow.at("stages").at(0)), stage);
}

struct Session {
  std::string user_id;
  std::string access_token;
  std::string device_id;
};

std::string PasswordAuth(std::string_view user, std::string_view password) {
  return boost::json::serialize(
      object{{"type", "m.login.password"},
             {"identifier", object{{"type", "m.id.user"}, {"user", user}}},
             {"password", password}});
}

class AccountRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override { Start({.registration_open = true, .rate_limit = false}); }

  void Start(AccountRoutesConfig config) {
    client_.reset();
    server_.reset();
    router_.reset();
    engine_.reset();
    auto engine =
        core::Engine::Open({.data_dir = dir_.path(), .server_name = std::string(kServerName)});
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
    router_ = std::make_unique<Router>("client");
    AddAccountRoutes(*router_, *engine_, config);
    auto server = Server::Start({{.address = "127.0.0.1", .port = 0, .router = router_.get()}},
                                {.threads = 2});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    client_ = std::make_unique<TestHttpClient>(server_->port(0));
    ASSERT_TRUE(client_->connected());
  }

  HttpReply Call(std::string_view method, std::string_view suffix, std::string_view body = {},
                 std::optional<std::string_view> token = std::nullopt) {
    return client_->Call(method, "/_matrix/client/v3" + std::string(suffix), body, token);
  }

  Session Register(std::string_view localpart, std::string_view password = kPassword) {
    HttpReply reply =
        Call("POST", "/register",
             boost::json::serialize(object{{"username", localpart},
                                           {"password", password},
                                           {"auth", object{{"type", "m.login.dummy"}}}}));
    EXPECT_EQ(reply.status, 200) << reply.body;
    return ToSession(reply);
  }

  Session Login(std::string_view user, std::string_view password = kPassword) {
    HttpReply reply =
        Call("POST", "/login",
             boost::json::serialize(
                 object{{"type", "m.login.password"}, {"user", user}, {"password", password}}));
    EXPECT_EQ(reply.status, 200) << reply.body;
    return ToSession(reply);
  }

  static Session ToSession(const HttpReply& reply) {
    value json = reply.Json();
    if (reply.status != 200) return {};
    ExpectShape(json, {{"user_id", Type::kString},
                       {"access_token", Type::kString},
                       {"device_id", Type::kString}});
    return {.user_id = std::string(json.at("user_id").as_string()),
            .access_token = std::string(json.at("access_token").as_string()),
            .device_id = std::string(json.at("device_id").as_string())};
  }

  int WhoAmIStatus(const Session& session) {
    return Call("GET", "/account/whoami", {}, session.access_token).status;
  }

  nebu::testing::TempDir dir_;
  std::unique_ptr<core::Engine> engine_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<Server> server_;
  std::unique_ptr<TestHttpClient> client_;
};

TEST_F(AccountRoutesTest, RegisterAsksForDummyAuthThenRegisters) {
  HttpReply challenge =
      Call("POST", "/register", R"({"username":"alice","password":"correct horse battery"})");
  ExpectUiaChallenge(challenge, "m.login.dummy");
  std::string session(challenge.Json().at("session").as_string());
  HttpReply done = Call("POST", "/register",
                        boost::json::serialize(object{
                            {"username", "alice"},
                            {"password", kPassword},
                            {"auth", object{{"type", "m.login.dummy"}, {"session", session}}}}));
  Session alice = ToSession(done);
  EXPECT_EQ(alice.user_id, "@alice:test.local");
  EXPECT_TRUE(alice.access_token.starts_with("nebu_"));
  EXPECT_EQ(WhoAmIStatus(alice), 200);
  EXPECT_EQ(Register("bob").user_id, "@bob:test.local");  // no session: registers at once
}

TEST_F(AccountRoutesTest, RegisterRefusesTakenInvalidAndGuestNames) {
  Register("alice");
  const std::string dummy = R"("auth":{"type":"m.login.dummy"})";
  ExpectError(Call("POST", "/register", R"({"username":"alice",)" + dummy + "}"), 400,
              "M_USER_IN_USE");
  ExpectError(Call("POST", "/register", R"({"username":"ALICE"})"), 400, "M_USER_IN_USE");
  ExpectError(Call("POST", "/register", R"({"username":"bad name!"})"), 400, "M_INVALID_USERNAME");
  ExpectError(Call("POST", "/register?kind=guest", "{}"), 403, "M_GUEST_ACCESS_FORBIDDEN");
  ExpectError(Call("POST", "/register", R"({"username":"carol","password":"",)" + dummy + "}"), 400,
              "M_WEAK_PASSWORD");
  ExpectError(Call("POST", "/register", "{not json"), 400, "M_NOT_JSON");
  ExpectError(Call("POST", "/register", R"({"username":7})"), 400, "M_BAD_JSON");
}

TEST_F(AccountRoutesTest, RegisterHonoursDeviceFieldsInhibitLoginAndGeneratesNames) {
  HttpReply reply = Call("POST", "/register",
                         R"({"password":"pw12345678","device_id":"MYDEVICE",)"
                         R"("initial_device_display_name":"Phone",)"
                         R"("auth":{"type":"m.login.dummy"}})");
  Session generated = ToSession(reply);
  EXPECT_TRUE(generated.user_id.ends_with(":test.local"));
  EXPECT_EQ(generated.device_id, "MYDEVICE");
  HttpReply device = Call("GET", "/devices/MYDEVICE", {}, generated.access_token);
  ASSERT_EQ(device.status, 200) << device.body;
  EXPECT_EQ(device.Json().at("display_name"), "Phone");

  HttpReply inhibited = Call("POST", "/register",
                             R"({"username":"quiet","inhibit_login":true,)"
                             R"("auth":{"type":"m.login.dummy"}})");
  ASSERT_EQ(inhibited.status, 200) << inhibited.body;
  EXPECT_EQ(inhibited.Json().at("user_id"), "@quiet:test.local");
  EXPECT_EQ(inhibited.Json().as_object().if_contains("access_token"), nullptr);
}

TEST_F(AccountRoutesTest, ClosedRegistrationIsForbidden) {
  Start({.registration_open = false, .rate_limit = false});
  ExpectError(Call("POST", "/register", R"({"auth":{"type":"m.login.dummy"}})"), 403,
              "M_FORBIDDEN");
}

TEST_F(AccountRoutesTest, AvailableReportsFreeTakenAndInvalidNames) {
  Register("alice");
  HttpReply free = Call("GET", "/register/available?username=zed");
  ASSERT_EQ(free.status, 200);
  ExpectShape(free.Json(), {{"available", Type::kBool}});
  EXPECT_EQ(free.Json().at("available"), true);
  ExpectError(Call("GET", "/register/available?username=alice"), 400, "M_USER_IN_USE");
  ExpectError(Call("GET", "/register/available?username=%20x"), 400, "M_INVALID_USERNAME");
  ExpectError(Call("GET", "/register/available"), 400, "M_MISSING_PARAM");
}

TEST_F(AccountRoutesTest, LoginAcceptsLocalpartFullIdAndIdentifier) {
  Session alice = Register("alice");
  HttpReply flows = Call("GET", "/login");
  ASSERT_EQ(flows.status, 200);
  ExpectShape(flows.Json(), {{"flows", Type::kArray}});
  EXPECT_EQ(flows.Json().at("flows").at(0).at("type"), "m.login.password");

  Session by_localpart = Login("alice");
  Session by_full_id = Login("@alice:test.local");
  EXPECT_EQ(by_localpart.user_id, "@alice:test.local");
  EXPECT_NE(by_localpart.device_id, by_full_id.device_id);
  HttpReply by_identifier = Call("POST", "/login",
                                 R"({"type":"m.login.password",)"
                                 R"("identifier":{"type":"m.id.user","user":"Alice"},)"
                                 R"("password":"correct horse battery","device_id":"LAPTOP"})");
  EXPECT_EQ(ToSession(by_identifier).device_id, "LAPTOP");
  EXPECT_EQ(WhoAmIStatus(by_full_id), 200);
  EXPECT_EQ(WhoAmIStatus(alice), 200);  // earlier devices stay logged in
}

TEST_F(AccountRoutesTest, LoginRefusesWrongPasswordsUnknownUsersAndBadTypes) {
  Register("alice");
  const std::string wrong = R"({"type":"m.login.password","user":"alice","password":"nope"})";
  ExpectError(Call("POST", "/login", wrong), 403, "M_FORBIDDEN");
  ExpectError(
      Call("POST", "/login", R"({"type":"m.login.password","user":"ghost","password":"x"})"), 403,
      "M_FORBIDDEN");
  ExpectError(Call("POST", "/login", R"({"type":"m.login.sso","token":"x"})"), 400, "M_UNKNOWN");
  // m.login.token is supported (tests/api/accounts): an unknown token is refused.
  ExpectError(Call("POST", "/login", R"({"type":"m.login.token","token":"x"})"), 403,
              "M_FORBIDDEN");
  ExpectError(Call("POST", "/login", R"({"type":"m.login.password","user":"alice"})"), 400,
              "M_MISSING_PARAM");
}

TEST_F(AccountRoutesTest, WhoAmIAcceptsHeaderOrQueryTokenAndRejectsOthers) {
  Session alice = Register("alice");
  HttpReply by_header = Call("GET", "/account/whoami", {}, alice.access_token);
  ASSERT_EQ(by_header.status, 200) << by_header.body;
  ExpectShape(
      by_header.Json(),
      {{"user_id", Type::kString}, {"device_id", Type::kString}, {"is_guest", Type::kBool}});
  EXPECT_EQ(AccountText(by_header.Json().at("user_id")), alice.user_id);
  EXPECT_EQ(AccountText(by_header.Json().at("device_id")), alice.device_id);
  EXPECT_EQ(by_header.Json().at("is_guest"), false);
  EXPECT_EQ(Call("GET", "/account/whoami?access_token=" + alice.access_token).status, 200);
  ExpectError(Call("GET", "/account/whoami"), 401, "M_MISSING_TOKEN");
  ExpectError(Call("GET", "/account/whoami", {}, "nebu_notatoken"), 401, "M_UNKNOWN_TOKEN");
}

TEST_F(AccountRoutesTest, LogoutEndsOneSessionAndLogoutAllEndsEvery) {
  Session first = Register("alice");
  Session second = Login("alice");
  Session third = Login("alice");
  HttpReply logout = Call("POST", "/logout", "{}", first.access_token);
  EXPECT_EQ(logout.status, 200) << logout.body;
  ExpectError(Call("GET", "/account/whoami", {}, first.access_token), 401, "M_UNKNOWN_TOKEN");
  EXPECT_EQ(WhoAmIStatus(second), 200);
  EXPECT_EQ(Call("POST", "/logout/all", "{}", second.access_token).status, 200);
  EXPECT_EQ(WhoAmIStatus(second), 401);
  EXPECT_EQ(WhoAmIStatus(third), 401);
}

TEST_F(AccountRoutesTest, PasswordChangeNeedsTheOldPasswordAndLogsOutOtherDevices) {
  Session alice = Register("alice");
  Session other = Login("alice");
  const std::string change = R"({"new_password":"brand new secret")";
  ExpectUiaChallenge(Call("POST", "/account/password", change + "}", alice.access_token),
                     "m.login.password");
  HttpReply wrong =
      Call("POST", "/account/password",
           change + R"(,"auth":)" + PasswordAuth("alice", "wrong") + "}", alice.access_token);
  ExpectUiaChallenge(wrong, "m.login.password");
  EXPECT_EQ(wrong.Errcode(), "M_FORBIDDEN");
  HttpReply done =
      Call("POST", "/account/password",
           change + R"(,"auth":)" + PasswordAuth("alice", kPassword) + "}", alice.access_token);
  EXPECT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(WhoAmIStatus(alice), 200);  // the requesting device stays
  EXPECT_EQ(WhoAmIStatus(other), 401);
  ExpectError(
      Call("POST", "/login",
           R"({"type":"m.login.password","user":"alice","password":"correct horse battery"})"),
      403, "M_FORBIDDEN");
  Session again = Login("alice", "brand new secret");
  EXPECT_EQ(WhoAmIStatus(again), 200);
}

TEST_F(AccountRoutesTest, PasswordChangeCanKeepOtherDevices) {
  Session alice = Register("alice");
  Session other = Login("alice");
  HttpReply done = Call("POST", "/account/password",
                        R"({"new_password":"another one","logout_devices":false,"auth":)" +
                            PasswordAuth("@alice:test.local", kPassword) + "}",
                        alice.access_token);
  EXPECT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(WhoAmIStatus(other), 200);
}

TEST_F(AccountRoutesTest, DeactivateEndsTheAccountForGood) {
  Session alice = Register("alice");
  ExpectUiaChallenge(Call("POST", "/account/deactivate", "{}", alice.access_token),
                     "m.login.password");
  HttpReply done = Call("POST", "/account/deactivate",
                        R"({"auth":)" + PasswordAuth("alice", kPassword) + "}", alice.access_token);
  ASSERT_EQ(done.status, 200) << done.body;
  ExpectShape(done.Json(), {{"id_server_unbind_result", Type::kString}});
  EXPECT_EQ(WhoAmIStatus(alice), 401);
  ExpectError(
      Call("POST", "/login",
           R"({"type":"m.login.password","user":"alice","password":"correct horse battery"})"),
      403, "M_FORBIDDEN");
  ExpectError(Call("GET", "/register/available?username=alice"), 400, "M_USER_IN_USE");
}

TEST_F(AccountRoutesTest, DevicesCanBeListedRenamedAndDeleted) {
  Session alice = Register("alice");
  Session phone = Login("alice");
  Session tablet = Login("alice");
  HttpReply list = Call("GET", "/devices", {}, alice.access_token);
  ASSERT_EQ(list.status, 200) << list.body;
  ExpectShape(list.Json(), {{"devices", Type::kArray}});
  ASSERT_EQ(list.Json().at("devices").as_array().size(), 3u);
  value devices = list.Json().at("devices");
  for (const value& device : devices.as_array()) {
    ExpectShape(device, {{"device_id", Type::kString}});
  }
  EXPECT_EQ(
      Call("PUT", "/devices/" + phone.device_id, R"({"display_name":"Phone"})", alice.access_token)
          .status,
      200);
  HttpReply renamed = Call("GET", "/devices/" + phone.device_id, {}, alice.access_token);
  EXPECT_EQ(renamed.Json().at("display_name"), "Phone");
  ExpectError(Call("GET", "/devices/NOSUCH", {}, alice.access_token), 404, "M_NOT_FOUND");
  ExpectError(Call("PUT", "/devices/NOSUCH", R"({"display_name":"x"})", alice.access_token), 404,
              "M_NOT_FOUND");

  ExpectUiaChallenge(Call("DELETE", "/devices/" + phone.device_id, "{}", alice.access_token),
                     "m.login.password");
  HttpReply deleted =
      Call("DELETE", "/devices/" + phone.device_id,
           R"({"auth":)" + PasswordAuth("alice", kPassword) + "}", alice.access_token);
  EXPECT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(WhoAmIStatus(phone), 401);

  HttpReply bulk = Call("POST", "/delete_devices",
                        R"({"devices":[")" + tablet.device_id + R"(","GONE"],"auth":)" +
                            PasswordAuth("alice", kPassword) + "}",
                        alice.access_token);
  EXPECT_EQ(bulk.status, 200) << bulk.body;
  EXPECT_EQ(WhoAmIStatus(tablet), 401);
  EXPECT_EQ(Call("GET", "/devices", {}, alice.access_token).Json().at("devices").as_array().size(),
            1u);
}

TEST_F(AccountRoutesTest, ProfilesAreReadableByAllAndWritableByTheOwner) {
  Session alice = Register("alice");
  Session bob = Register("bob");
  HttpReply initial = Call("GET", "/profile/@alice:test.local");
  ASSERT_EQ(initial.status, 200) << initial.body;
  EXPECT_EQ(initial.Json().at("displayname"), "alice");  // the localpart by default

  EXPECT_EQ(Call("PUT", "/profile/@alice:test.local/displayname", R"({"displayname":"Alice A."})",
                 alice.access_token)
                .status,
            200);
  EXPECT_EQ(Call("PUT", "/profile/%40alice%3Atest.local/avatar_url",
                 R"({"avatar_url":"mxc://test.local/abc"})", alice.access_token)
                .status,
            200);
  HttpReply profile = Call("GET", "/profile/@alice:test.local", {}, bob.access_token);
  ExpectShape(profile.Json(), {{"displayname", Type::kString}, {"avatar_url", Type::kString}});
  EXPECT_EQ(profile.Json().at("displayname"), "Alice A.");
  EXPECT_EQ(profile.Json().at("avatar_url"), "mxc://test.local/abc");
  HttpReply name = Call("GET", "/profile/@alice:test.local/displayname");
  EXPECT_EQ(name.Json().as_object(), (object{{"displayname", "Alice A."}}));
  HttpReply avatar = Call("GET", "/profile/@alice:test.local/avatar_url");
  EXPECT_EQ(avatar.Json().as_object(), (object{{"avatar_url", "mxc://test.local/abc"}}));

  ExpectError(Call("PUT", "/profile/@alice:test.local/displayname", R"({"displayname":"Mallory"})",
                   bob.access_token),
              403, "M_FORBIDDEN");
  ExpectError(Call("PUT", "/profile/@alice:test.local/displayname", R"({"displayname":"x"})"), 401,
              "M_MISSING_TOKEN");
  ExpectError(Call("GET", "/profile/@nobody:test.local"), 404, "M_NOT_FOUND");
}

TEST_F(AccountRoutesTest, ADisplayNameChangeUpdatesTheMemberEventOfEveryJoinedRoom) {
  Session alice = Register("alice");
  auto room = engine_->CreateRoom({}, alice.user_id);
  ASSERT_TRUE(room.ok()) << room.status().ToString();
  ASSERT_EQ(Call("PUT", "/profile/@alice:test.local/displayname", R"({"displayname":"Alice A."})",
                 alice.access_token)
                .status,
            200);
  // The member event is applied with the profile, before the answer.
  auto state = engine_->CurrentState(room->room_id);
  ASSERT_TRUE(state.ok());
  const object* member = state->Get("m.room.member", alice.user_id);
  ASSERT_NE(member, nullptr);
  EXPECT_EQ(member->at("content").at("displayname"), "Alice A.");
  EXPECT_EQ(member->at("content").at("membership"), "join");
}

// More joined rooms than one command updates (accounts::kProfileFanoutRoomsPerCommand):
// the change goes out in several commands, all applied before the answer.
TEST_F(AccountRoutesTest, ADisplayNameChangeReachesMoreRoomsThanOneCommandHoldsBeforeTheAnswer) {
  Session alice = Register("alice");
  const size_t count = 2 * accounts::kProfileFanoutRoomsPerCommand + 3;
  std::vector<std::string> rooms;
  for (size_t i = 0; i < count; ++i) {
    auto room = engine_->CreateRoom({}, alice.user_id);
    ASSERT_TRUE(room.ok()) << room.status().ToString();
    rooms.push_back(room->room_id);
  }
  HttpReply put = Call("PUT", "/profile/@alice:test.local/displayname",
                       R"({"displayname":"Alice A."})", alice.access_token);
  ASSERT_EQ(put.status, 200) << put.body;
  for (const std::string& room : rooms) {
    auto state = engine_->CurrentState(room);
    ASSERT_TRUE(state.ok());
    const object* member = state->Get("m.room.member", alice.user_id);
    ASSERT_NE(member, nullptr);
    EXPECT_EQ(member->at("content").at("displayname"), "Alice A.") << room;
  }
}

TEST_F(AccountRoutesTest, AccountDataAndTagsAreStoredPerUserAndRoom) {
  Session alice = Register("alice");
  Session bob = Register("bob");
  const std::string room = "/user/@alice:test.local/rooms/!r:test.local";
  ExpectError(Call("GET", "/user/@alice:test.local/account_data/org.example.x", {},
                   alice.access_token),
              404, "M_NOT_FOUND");
  EXPECT_EQ(Call("PUT", "/user/@alice:test.local/account_data/org.example.x", R"({"a":1})",
                 alice.access_token)
                .status,
            200);
  HttpReply global =
      Call("GET", "/user/@alice:test.local/account_data/org.example.x", {}, alice.access_token);
  ASSERT_EQ(global.status, 200) << global.body;
  EXPECT_EQ(global.Json().as_object(), (object{{"a", 1}}));
  // Room account data is separate from global account data of the same type.
  ExpectError(Call("GET", room + "/account_data/org.example.x", {}, alice.access_token), 404,
              "M_NOT_FOUND");
  EXPECT_EQ(Call("PUT", room + "/account_data/org.example.x", R"({"b":2})", alice.access_token)
                .status,
            200);
  EXPECT_EQ(Call("GET", room + "/account_data/org.example.x", {}, alice.access_token)
                .Json()
                .as_object(),
            (object{{"b", 2}}));
  // Nobody else reads or writes it; reserved types and bad room ids are refused.
  ExpectError(Call("GET", "/user/@alice:test.local/account_data/org.example.x", {},
                   bob.access_token),
              403, "M_FORBIDDEN");
  ExpectError(Call("PUT", "/user/@alice:test.local/account_data/m.push_rules", R"({})",
                   alice.access_token),
              405, "M_BAD_JSON");
  ExpectError(Call("GET", "/user/@alice:test.local/rooms/nope/account_data/x", {},
                   alice.access_token),
              400, "M_INVALID_PARAM");
  // Tags: put two, delete one.
  EXPECT_EQ(Call("PUT", room + "/tags/m.favourite", R"({"order":1})", alice.access_token).status,
            200);
  EXPECT_EQ(Call("PUT", room + "/tags/u.work", R"({})", alice.access_token).status, 200);
  EXPECT_EQ(Call("DELETE", room + "/tags/u.work", {}, alice.access_token).status, 200);
  HttpReply tags = Call("GET", room + "/tags", {}, alice.access_token);
  ASSERT_EQ(tags.status, 200) << tags.body;
  EXPECT_EQ(tags.Json().as_object(),
            (object{{"tags", object{{"m.favourite", object{{"order", 1}}}}}}));
  // A fractional order (what Element sends) is kept exactly; a non-number is refused.
  EXPECT_EQ(
      Call("PUT", room + "/tags/m.lowpriority", R"({"order":0.5})", alice.access_token).status,
      200);
  EXPECT_NE(Call("GET", room + "/tags", {}, alice.access_token).body.find(R"("order":0.5)"),
            std::string::npos);
  ExpectError(Call("PUT", room + "/tags/m.lowpriority", R"({"order":"high"})", alice.access_token),
              400, "M_BAD_JSON");
}

TEST_F(AccountRoutesTest, CapabilitiesAdvertisePasswordChangeAndRoomVersions) {
  Session alice = Register("alice");
  ExpectError(Call("GET", "/capabilities"), 401, "M_MISSING_TOKEN");
  HttpReply reply = Call("GET", "/capabilities", {}, alice.access_token);
  ASSERT_EQ(reply.status, 200);
  ExpectShape(reply.Json(), {{"capabilities", Type::kObject}});
  value json = reply.Json();
  const value& capabilities = json.at("capabilities");
  ExpectShape(capabilities.at("m.change_password"), {{"enabled", Type::kBool}});
  EXPECT_EQ(capabilities.at("m.change_password").at("enabled"), true);
  const value& versions = capabilities.at("m.room_versions");
  ExpectShape(versions, {{"default", Type::kString}, {"available", Type::kObject}});
  EXPECT_EQ(versions.at("default"), "11");
  EXPECT_EQ(versions.at("available").as_object(), (object{{"10", "stable"}, {"11", "stable"}}));
}

TEST_F(AccountRoutesTest, RegistrationIsRateLimitedPerAddress) {
  Start({.registration_open = true, .rate_limit = true});
  int limited_after = -1;
  for (int i = 0; i < 10 && limited_after < 0; ++i) {
    HttpReply reply =
        Call("POST", "/register", R"({"inhibit_login":true,"auth":{"type":"m.login.dummy"}})");
    if (reply.status == 429) {
      limited_after = i;
      ExpectError(reply, 429, "M_LIMIT_EXCEEDED");
      ExpectShape(reply.Json(), {{"retry_after_ms", Type::kInt}});
      EXPECT_GT(reply.Json().at("retry_after_ms").to_number<int64_t>(), 0);
    } else {
      EXPECT_EQ(reply.status, 200) << reply.body;
    }
  }
  EXPECT_EQ(limited_after, static_cast<int>(kRegisterRateLimit.burst));
}

TEST_F(AccountRoutesTest, R0PrefixServesTheSameEndpoints) {
  Session alice = Register("alice");
  HttpReply reply =
      client_->Call("GET", "/_matrix/client/r0/account/whoami", {}, alice.access_token);
  EXPECT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(AccountText(reply.Json().at("user_id")), alice.user_id);
  HttpReply login = client_->Call(
      "POST", "/_matrix/client/r0/login",
      R"({"type":"m.login.password","user":"alice","password":"correct horse battery"})");
  EXPECT_EQ(login.status, 200) << login.body;
}

}  // namespace
}  // namespace nebu::api
