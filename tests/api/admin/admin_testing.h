// The fixture of api_admin_test: the accounts fixture (real engine, FakeClock, loopback
// server) with the admin routes mounted too, and the five kinds of caller of the access
// matrix: admin, auditor, admin+auditor, ordinary user, no token.
#pragma once

#include "api/admin/admin_routes.h"
#include "engine/admin/admin.h"
#include "engine/rooms/room_creation.h"
#include "tests/api/accounts/accounts_testing.h"

namespace nebu::api::testing {

class AdminFixture : public AccountsFixture {
 protected:
  void SetUp() override { StartAdmin({}); }

  void StartAdmin(AdminRoutesOptions options) {
    Stop();
    auto engine = core::Engine::Open(
        {.data_dir = dir_.path(), .server_name = std::string(kServerName), .clock = &clock_});
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
    router_ = std::make_unique<Router>("client");
    AddAccountRoutes(*router_, *engine_, {.registration_open = true, .rate_limit = false});
    AddAdminApiRoutes(*router_, *engine_, options);
    auto server = Server::Start({{.address = "127.0.0.1", .port = 0, .router = router_.get()}},
                                {.threads = 2});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    client_ = std::make_unique<TestHttpClient>(server_->port(0));
    ASSERT_TRUE(client_->connected());
  }

  core::ApplyOutcome SetRoles(const std::string& user_id, std::optional<bool> admin,
                              std::optional<bool> auditor) {
    auto payload = admin::EncodeAdminCommand(
        admin::SetRolesCommand{.user_id = user_id, .admin = admin, .auditor = auditor});
    if (!payload.ok()) return payload.status();
    return engine_->Submit({.kind = core::CommandKind::kAudit, .payload = *payload});
  }

  Session RegisterAuditor(std::string_view localpart) {
    Session s = Register(localpart);
    EXPECT_TRUE(SetRoles(s.user_id, std::nullopt, true).ok());
    return s;
  }

  // The new room's ID; *create_event_id (when given) its m.room.create event's ID.
  std::string CreateRoom(const Session& creator, std::string name,
                         std::string* create_event_id = nullptr) {
    rooms::CreateRoomRequest request;
    request.name = std::move(name);
    auto room = engine_->CreateRoom(request, creator.user_id);
    EXPECT_TRUE(room.ok()) << room.status().ToString();
    if (!room.ok()) return "";
    if (create_event_id != nullptr) *create_event_id = room->events.at(0).event_id;
    return room->room_id;
  }

  HttpReply As(const Session* who, std::string_view method, std::string_view path,
               std::string_view body = {}) {
    return Raw(method, path, body,
               who != nullptr ? std::optional<std::string_view>(who->access_token)
                              : std::nullopt);
  }
};

}  // namespace nebu::api::testing
