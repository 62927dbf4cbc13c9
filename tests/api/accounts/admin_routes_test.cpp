// Goal: the admin routes (whois, suspend, lock) and extended profile fields over HTTP:
// who may call them, what a locked or suspended user can still do, the spec's limits.
// Method: api/accounts fixture (real engine, FakeClock, loopback server).
#include "tests/api/accounts/accounts_testing.h"

namespace nebu::api::testing {
namespace {

using boost::json::object;

class AdminRoutesTest : public AccountsFixture {
 protected:
  HttpReply Admin(std::string_view method, std::string_view what, std::string_view user_id,
                  const Session& as, std::string_view body = {}) {
    return Raw(method,
               "/_matrix/client/v1/admin/" + std::string(what) + "/" + PercentEncode(user_id),
               body, as.access_token);
  }
  HttpReply SetName(const Session& s, std::string_view name) {
    return Call("PUT", "/profile/" + PercentEncode(s.user_id) + "/displayname",
                Json({{"displayname", name}}), s.access_token);
  }
};

TEST_F(AdminRoutesTest, WhoIsForAdminsAndYourself) {
  Session admin = RegisterAdmin("root");
  Session alice = Register("alice");
  Session bob = Register("bob");
  HttpReply self = Call("GET", "/admin/whois/" + PercentEncode(alice.user_id), {}, alice.access_token);
  ASSERT_EQ(self.status, 200) << self.body;
  EXPECT_EQ(Str(self.Json(), "user_id"), alice.user_id);
  EXPECT_TRUE(self.Json().at("devices").at(alice.device_id).at("sessions").is_array());
  ExpectError(Call("GET", "/admin/whois/" + PercentEncode(bob.user_id), {}, alice.access_token), 403,
              "M_FORBIDDEN");
  EXPECT_EQ(Call("GET", "/admin/whois/" + PercentEncode(bob.user_id), {}, admin.access_token).status,
            200);
}

TEST_F(AdminRoutesTest, SuspendedUserReadsButCannotAct) {
  Session admin = RegisterAdmin("root");
  Session bob = Register("bob");
  // Not an admin: refused, nothing changes.
  ExpectError(Admin("PUT", "suspend", bob.user_id, bob, R"({"suspended":true})"), 403,
              "M_FORBIDDEN");
  Session alice = Register("alice");
  ExpectError(Admin("PUT", "suspend", bob.user_id, alice, R"({"suspended":true})"), 403,
              "M_FORBIDDEN");
  ExpectError(Admin("GET", "suspend", bob.user_id, alice), 403, "M_FORBIDDEN");
  EXPECT_FALSE(Admin("GET", "suspend", bob.user_id, admin).Json().at("suspended").as_bool());

  HttpReply put = Admin("PUT", "suspend", bob.user_id, admin, R"({"suspended":true})");
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_TRUE(put.Json().at("suspended").as_bool());
  EXPECT_TRUE(Admin("GET", "suspend", bob.user_id, admin).Json().at("suspended").as_bool());
  EXPECT_EQ(WhoAmI(bob), 200);  // reading is allowed
  ExpectError(SetName(bob, "Bobby"), 403, "M_USER_SUSPENDED");
  // New sessions are suspended too.
  Session again = ToSession(LoginReply("bob"));
  ExpectError(SetName(again, "Bobby"), 403, "M_USER_SUSPENDED");
  EXPECT_EQ(SetName(alice, "Alice").status, 200);

  ASSERT_EQ(Admin("PUT", "suspend", bob.user_id, admin, R"({"suspended":false})").status, 200);
  EXPECT_EQ(SetName(bob, "Bobby").status, 200);
  EXPECT_EQ(SetName(again, "Bob").status, 200);
}

TEST_F(AdminRoutesTest, LockedUserIsSoftLoggedOutButMayLogOut) {
  Session admin = RegisterAdmin("root");
  Session bob = Register("bob");
  Session bob2 = ToSession(LoginReply("bob"));
  ASSERT_EQ(Admin("PUT", "lock", bob.user_id, admin, R"({"locked":true})").status, 200);
  EXPECT_TRUE(Admin("GET", "lock", bob.user_id, admin).Json().at("locked").as_bool());
  HttpReply locked = Call("GET", "/account/whoami", {}, bob.access_token);
  ExpectError(locked, 401, "M_USER_LOCKED");
  EXPECT_TRUE(SoftLogout(locked));
  ExpectError(LoginReply("bob"), 401, "M_USER_LOCKED");
  EXPECT_EQ(Call("POST", "/logout", "{}", bob2.access_token).status, 200);

  ASSERT_EQ(Admin("PUT", "lock", bob.user_id, admin, R"({"locked":false})").status, 200);
  EXPECT_EQ(WhoAmI(bob), 200);
  EXPECT_EQ(LoginReply("bob").status, 200);
}

TEST_F(AdminRoutesTest, RestrictionsRefuseBadTargets) {
  Session admin = RegisterAdmin("root");
  Session other_admin = RegisterAdmin("root2");
  Register("bob");
  ExpectError(Admin("PUT", "lock", admin.user_id, admin, R"({"locked":true})"), 403, "M_FORBIDDEN");
  ExpectError(Admin("PUT", "lock", other_admin.user_id, admin, R"({"locked":true})"), 403,
              "M_FORBIDDEN");
  ExpectError(Admin("GET", "lock", "@bob:elsewhere.org", admin), 400, "M_INVALID_PARAM");
  ExpectError(Admin("GET", "lock", "@nobody:test.local", admin), 404, "M_NOT_FOUND");
  ExpectError(Admin("PUT", "lock", "@bob:test.local", admin, "{}"), 400, "M_MISSING_PARAM");
  ExpectError(Admin("PUT", "lock", "@bob:test.local", admin, R"({"locked":"yes"})"), 400,
              "M_BAD_JSON");
  EXPECT_EQ(WhoAmI(admin), 200);
}

// ---- extended profile fields ----

TEST_F(AdminRoutesTest, ProfileFieldsPutGetDeleteWithLimits) {
  Session alice = Register("alice");
  Session bob = Register("bob");
  const std::string me = "/profile/" + PercentEncode(alice.user_id);
  ASSERT_EQ(Call("PUT", me + "/m.tz", R"({"m.tz":"Europe/Paris"})", alice.access_token).status, 200);
  ASSERT_EQ(Call("PUT", me + "/org.example.obj", R"({"org.example.obj":{"a":[1,2]}})",
                 alice.access_token)
                .status,
            200);
  EXPECT_EQ(Str(Call("GET", me + "/m.tz").Json(), "m.tz"), "Europe/Paris");
  HttpReply all = Call("GET", me);
  EXPECT_EQ(Str(all.Json(), "m.tz"), "Europe/Paris") << all.body;
  EXPECT_EQ(Str(all.Json(), "displayname"), "alice");
  EXPECT_EQ(all.Json().at("org.example.obj").at("a").as_array().size(), 2u);
  // displayname keeps its own route and behaviour.
  ASSERT_EQ(Call("PUT", me + "/displayname", R"({"displayname":"Alice"})", alice.access_token).status,
            200);
  EXPECT_EQ(Str(Call("GET", me + "/displayname").Json(), "displayname"), "Alice");

  ASSERT_EQ(Call("DELETE", me + "/m.tz", {}, alice.access_token).status, 200);
  ExpectError(Call("GET", me + "/m.tz"), 404, "M_NOT_FOUND");
  EXPECT_FALSE(Call("GET", me).Json().as_object().contains("m.tz"));

  // Only yourself.
  ExpectError(Call("PUT", me + "/m.tz", R"({"m.tz":"x"})", bob.access_token), 403, "M_FORBIDDEN");
  ExpectError(Call("DELETE", me + "/org.example.obj", {}, bob.access_token), 403, "M_FORBIDDEN");
  // Limits and malformed bodies.
  // A key of 255 bytes is fine; a longer one is refused by the router's path-parameter
  // limit (400 M_INVALID_PARAM) before the handler's M_KEY_TOO_LARGE could answer.
  const std::string max_key(accounts::kProfileKeyBytesMax, 'k');
  EXPECT_EQ(Call("PUT", me + "/" + max_key, Json({{max_key, 1}}), alice.access_token).status, 200);
  ASSERT_EQ(Call("DELETE", me + "/" + max_key, {}, alice.access_token).status, 200);
  const std::string long_key(accounts::kProfileKeyBytesMax + 1, 'k');
  EXPECT_EQ(Call("PUT", me + "/" + long_key, Json({{long_key, 1}}), alice.access_token).status, 400);
  ExpectError(Call("PUT", me + "/m.tz", "{}", alice.access_token), 400, "M_MISSING_PARAM");
  ExpectError(Call("PUT", me + "/m.tz", R"({"m.tz":0.5})", alice.access_token), 400, "M_BAD_JSON");
  const std::string big(40 * 1024, 'x');
  ASSERT_EQ(Call("PUT", me + "/a.big", Json({{"a.big", big}}), alice.access_token).status, 200);
  ExpectError(Call("PUT", me + "/b.big", Json({{"b.big", big}}), alice.access_token), 400,
              "M_PROFILE_TOO_LARGE");
  ExpectError(Call("GET", "/profile/" + PercentEncode("@nobody:test.local") + "/m.tz"), 404,
              "M_NOT_FOUND");
  HttpReply caps = Call("GET", "/capabilities", {}, alice.access_token);
  EXPECT_TRUE(caps.Json().at("capabilities").at("m.profile_fields").at("enabled").as_bool());
}

}  // namespace
}  // namespace nebu::api::testing
