// Goal: the access matrix of the admin API and the compliance API: every route added by
// api/admin, called with no token, as an ordinary user, an auditor, an admin and an
// admin who is also an auditor, answers 401 / 403 or serves the call as the roles say
// (separation of duties), and every authenticated call leaves an audit record.
// Method: api/admin fixture (real engine, loopback HTTP), one table of routes.
#include "tests/api/admin/admin_testing.h"

namespace nebu::api::testing {
namespace {

using boost::json::object;

enum class Surface { kAdmin, kCompliance };

struct RouteCase {
  std::string method;
  std::string path;
  std::string body;
  Surface surface;
  std::vector<int> allowed;  // statuses a permitted caller may get
};

class AdminAccessTest : public AdminFixture {};

TEST_F(AdminAccessTest, EveryRouteFollowsTheRoles) {
  Session admin = RegisterAdmin("root");
  Session auditor = RegisterAuditor("auditor");
  Session both = RegisterAdmin("both");
  ASSERT_TRUE(SetRoles(both.user_id, std::nullopt, true).ok());
  Session user = Register("user");
  Session target = Register("target");
  Session victim = Register("victim");
  const std::string room = CreateRoom(admin, "Lobby");
  ASSERT_FALSE(room.empty());
  const std::string u = PercentEncode(target.user_id);
  const std::string r = PercentEncode(room);
  const std::string v1 = "/_synapse/admin/v1";
  const std::string v2 = "/_synapse/admin/v2";
  const std::vector<int> ok{200};
  const std::vector<RouteCase> routes = {
      {"GET", v1 + "/server_version", "", Surface::kAdmin, ok},
      {"GET", v2 + "/users?limit=10", "", Surface::kAdmin, {503}},  // no PostgreSQL here
      {"GET", v2 + "/users/" + u, "", Surface::kAdmin, ok},
      {"PUT", v2 + "/users/" + PercentEncode("@made:test.local"),
       R"({"password":"s3cret-pass-word","displayname":"Made"})", Surface::kAdmin, {200, 201}},
      {"POST", v1 + "/deactivate/" + PercentEncode(victim.user_id), R"({"erase":false})",
       Surface::kAdmin, ok},
      {"GET", v1 + "/whois/" + u, "", Surface::kAdmin, ok},
      {"GET", v2 + "/users/" + u + "/devices", "", Surface::kAdmin, ok},
      {"GET", v2 + "/users/" + u + "/devices/" + target.device_id, "", Surface::kAdmin, {200, 404}},
      {"PUT", v2 + "/users/" + u + "/devices/" + target.device_id, R"({"display_name":"x"})",
       Surface::kAdmin, {200, 404}},
      {"GET", v1 + "/users/" + u + "/joined_rooms", "", Surface::kAdmin, ok},
      {"GET", v1 + "/users/" + u + "/admin", "", Surface::kAdmin, ok},
      {"PUT", v1 + "/users/" + u + "/admin", R"({"admin":false})", Surface::kAdmin, ok},
      {"PUT", v1 + "/suspend/" + u, R"({"suspend":false})", Surface::kAdmin, ok},
      {"GET", v1 + "/rooms", "", Surface::kAdmin, {503}},
      {"GET", v1 + "/rooms/" + r, "", Surface::kAdmin, ok},
      {"GET", v1 + "/rooms/" + r + "/members", "", Surface::kAdmin, ok},
      {"GET", v1 + "/rooms/" + r + "/state", "", Surface::kAdmin, ok},
      {"GET", v1 + "/rooms/" + r + "/block", "", Surface::kAdmin, ok},
      {"PUT", v1 + "/rooms/" + r + "/block", R"({"block":false})", Surface::kAdmin, ok},
      {"GET", v1 + "/event_reports", "", Surface::kAdmin, ok},
      {"GET", v1 + "/event_reports/1", "", Surface::kAdmin, {404}},
      {"POST", v1 + "/registration_tokens/new", "{}", Surface::kAdmin, ok},
      {"GET", v1 + "/registration_tokens/none", "", Surface::kAdmin, {404}},
      {"POST", v1 + "/reset_password/" + u, R"({"new_password":"another-pass-word"})",
       Surface::kAdmin, ok},
      {"POST", v2 + "/users/" + u + "/delete_devices", R"({"devices":["NOPE"]})",
       Surface::kAdmin, ok},
      {"DELETE", v2 + "/users/" + u + "/devices/" + target.device_id, "", Surface::kAdmin, ok},
      {"GET", "/api/v1/audit", "", Surface::kCompliance, ok},
  };
  struct Who {
    const char* name;
    const Session* session;
    bool admin;
    bool auditor;
  };
  const Who callers[] = {{"no token", nullptr, false, false},
                         {"user", &user, false, false},
                         {"auditor", &auditor, false, true},
                         {"admin", &admin, true, false},
                         {"admin+auditor", &both, true, true}};
  for (const RouteCase& route : routes) {
    for (const Who& who : callers) {
      SCOPED_TRACE(route.method + " " + route.path + " as " + who.name);
      HttpReply reply = As(who.session, route.method, route.path, route.body);
      if (who.session == nullptr) {
        ExpectError(reply, 401, "M_MISSING_TOKEN");
        continue;
      }
      const bool permitted = route.surface == Surface::kAdmin ? who.admin : who.auditor;
      if (!permitted) {
        ExpectError(reply, 403, "M_FORBIDDEN");
        continue;
      }
      EXPECT_NE(std::find(route.allowed.begin(), route.allowed.end(), reply.status),
                route.allowed.end())
          << reply.status << " " << reply.body;
    }
  }
  // Every authenticated call above left one record: 4 callers per route.
  HttpReply audit = As(&auditor, "GET", "/api/v1/audit?limit=1000");
  ASSERT_EQ(audit.status, 200) << audit.body;
  size_t records = audit.Json().at("records").as_array().size();
  EXPECT_EQ(records, routes.size() * 4);
}

}  // namespace
}  // namespace nebu::api::testing
