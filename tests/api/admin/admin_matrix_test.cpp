// Goal: THE ACCESS MATRIX. Every route of the admin and compliance APIs (the list
// AddAdminApiRoutes returns, so routes added later are covered without editing this file)
// follows the roles: no token 401 M_MISSING_TOKEN; an ordinary user 403 M_FORBIDDEN and
// nothing but the refusal's audit record committed; an auditor-only user 403 on the
// admin API; an admin-only user 403 on the compliance API; an admin on the admin API
// and an auditor on the compliance API get neither 401 nor 403. Every authenticated
// call leaves exactly one audit record naming the caller and the status answered (the
// fake clock is advanced between refusals so kRefusalAuditRateLimit never drops one;
// AdminRoutesTest covers the drop past the burst).
// Method: api/admin fixture (real engine, loopback HTTP); path parameters filled from a
// table of names (unknown names get "x"), bodies "{}".
#include <gtest/gtest.h>

#include "api/admin/admin_common.h"
#include "tests/api/admin/admin_testing.h"

namespace nebu::api::testing {
namespace {

class AdminMatrixTest : public AdminFixture {
 protected:
  struct Counts {
    core::LogIndex applied = 0;
    uint64_t audit = 0;
  };
  Counts Now() {
    uint64_t audit = 0;
    Status s = admin::ForEachAudit(engine_->Read(), 0, SIZE_MAX,
                                   [&](const admin::AuditRecord&, bool*) {
                                     ++audit;
                                     return Status::Ok();
                                   });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return {engine_->applied_index(), audit};
  }
  admin::AuditRecord LastAudit() {
    admin::AuditRecord last;
    Status s = admin::ForEachAudit(engine_->Read(), 0, SIZE_MAX,
                                   [&](const admin::AuditRecord& r, bool*) {
                                     last = r;
                                     return Status::Ok();
                                   });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return last;
  }
};

std::string Fill(const std::string& pattern, const std::map<std::string, std::string>& values) {
  std::string out;
  size_t i = 0;
  while (i < pattern.size()) {
    const size_t open = pattern.find('{', i);
    if (open == std::string::npos) {
      out += pattern.substr(i);
      break;
    }
    const size_t close = pattern.find('}', open);
    out += pattern.substr(i, open - i);
    const std::string name = pattern.substr(open + 1, close - open - 1);
    auto it = values.find(name);
    out += PercentEncode(it != values.end() ? it->second : "x");
    i = close + 1;
  }
  return out;
}

TEST_F(AdminMatrixTest, EveryRegisteredRouteFollowsTheRolesAndIsAudited) {
  Session admin = RegisterAdmin("root");
  Session auditor = RegisterAuditor("auditor");
  Session user = Register("user");
  Session target = Register("target");
  const std::string room = CreateRoom(target, "Matrix");
  ASSERT_FALSE(room.empty());
  const std::map<std::string, std::string> values = {
      {"userId", target.user_id}, {"roomId", room},           {"deviceId", target.device_id},
      {"reportId", "1"},          {"token", "matrixtoken"},   {"deleteId", "nodelete"},
      {"serverName", std::string(kServerName)},               {"mediaId", "nomedia"},
      {"txnId", "txn1"},          {"eventId", "$none"},       {"roomIdOrAlias", room},
      {"holdId", "nohold"},       {"purgeId", "nopurge"}};

  // The list, from mounting the same groups on a scratch router.
  Router scratch("scratch");
  const std::vector<AdminRoute> routes = AddAdminApiRoutes(scratch, *engine_, {});
  std::printf("access matrix: %zu routes\n", routes.size());
  // The groups present when this test was written: a shrinking list is a lost route.
  ASSERT_GE(routes.size(), 40u);

  for (const AdminRoute& route : routes) {
    const bool admin_api = route.pattern.starts_with("/_synapse/admin/");
    ASSERT_TRUE(admin_api || route.pattern.starts_with("/api/v1/")) << route.pattern;
    const std::string path = Fill(route.pattern, values);
    const std::string body = route.method == "GET" || route.method == "DELETE" ? "" : "{}";
    SCOPED_TRACE(route.method + " " + path);

    // No token: 401, nothing committed.
    Counts before = Now();
    ExpectError(As(nullptr, route.method, path, body), 401, "M_MISSING_TOKEN");
    EXPECT_EQ(Now().applied, before.applied);

    // Callers without the role: 403, and the only command committed is the audit record.
    const Session* const refused[] = {&user, admin_api ? &auditor : &admin};
    for (const Session* who : refused) {
      SCOPED_TRACE("as " + who->user_id);
      clock_.AdvanceMs(60'000);  // one refusal's worth of kRefusalAuditRateLimit
      before = Now();
      ExpectError(As(who, route.method, path, body), 403, "M_FORBIDDEN");
      const Counts after = Now();
      EXPECT_EQ(after.audit, before.audit + 1);
      EXPECT_EQ(after.applied, before.applied + 1) << "a refused call committed something";
      admin::AuditRecord record = LastAudit();
      EXPECT_EQ(record.actor, who->user_id);
      EXPECT_EQ(record.status, 403);
      EXPECT_EQ(record.outcome, "M_FORBIDDEN");
    }

    // The role's holder: served (whatever the route answers to these made-up values).
    const Session& permitted = admin_api ? admin : auditor;
    before = Now();
    HttpReply reply = As(&permitted, route.method, path, body);
    EXPECT_NE(reply.status, 401) << reply.body;
    EXPECT_NE(reply.status, 403) << reply.body;
    EXPECT_EQ(Now().audit, before.audit + 1);
    admin::AuditRecord record = LastAudit();
    EXPECT_EQ(record.actor, permitted.user_id);
    EXPECT_EQ(record.status, reply.status);
    EXPECT_FALSE(record.action.empty());
  }
}

}  // namespace
}  // namespace nebu::api::testing
