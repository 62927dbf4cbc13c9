// The fixture of the room moderation tests of api_admin_test (room deletion, blocks,
// make_room_admin, admin /messages, shadow-ban, deactivation): the admin fixture with
// the client room and sync routes mounted too, so ordinary users join, send and sync
// over real HTTP while an admin acts on them.
#pragma once

#include <chrono>
#include <functional>
#include <thread>

#include "api/rooms/rooms_routes.h"
#include "api/sync/sync_routes.h"
#include "tests/api/admin/admin_testing.h"

namespace nebu::api::testing {

class RoomAdminFixture : public AdminFixture {
 protected:
  // The bound of every wait on a background job (a condition polled each millisecond).
  static constexpr auto kWaitMax = std::chrono::seconds(10);

  void SetUp() override {
    Stop();
    auto engine = core::Engine::Open(
        {.data_dir = dir_.path(), .server_name = std::string(kServerName), .clock = &clock_});
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
    router_ = std::make_unique<Router>("client");
    AddAccountRoutes(*router_, *engine_, {.registration_open = true, .rate_limit = false});
    AddRoomRoutes(*router_, *engine_);
    AddSyncRoutes(*router_, *engine_);
    AddAdminApiRoutes(*router_, *engine_, {});
    auto server = Server::Start({{.address = "127.0.0.1", .port = 0, .router = router_.get()}},
                                {.threads = 2});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    client_ = std::make_unique<TestHttpClient>(server_->port(0));
    ASSERT_TRUE(client_->connected());
  }

  // True once done() holds, false after kWaitMax.
  static bool WaitUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + kWaitMax;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  }

  // POST /createRoom as `who` with `body`; the room ID ("" on failure).
  std::string CreateRoomHttp(const Session& who, const boost::json::object& body) {
    HttpReply reply = Call("POST", "/createRoom", Json(body), who.access_token);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return Str(reply.Json(), "room_id");
  }
  HttpReply Join(const Session& who, const std::string& room_id) {
    return Call("POST", "/join/" + PercentEncode(room_id), "{}", who.access_token);
  }
  HttpReply Invite(const Session& who, const std::string& room_id, const std::string& user_id) {
    return Call("POST", "/rooms/" + PercentEncode(room_id) + "/invite",
                Json({{"user_id", user_id}}), who.access_token);
  }
  // A text message; the reply ({"event_id"}).
  HttpReply SendText(const Session& who, const std::string& room_id, const std::string& body) {
    static int txn = 0;
    return Call("PUT",
                "/rooms/" + PercentEncode(room_id) + "/send/m.room.message/t" +
                    std::to_string(++txn),
                Json({{"msgtype", "m.text"}, {"body", body}}), who.access_token);
  }
  // The user's membership in the room from the engine ("" for none).
  std::string MembershipIn(const std::string& room_id, const std::string& user_id) {
    auto state = engine_->CurrentState(room_id);
    if (!state.ok()) return "";
    const boost::json::object* event = state->Get("m.room.member", user_id);
    if (event == nullptr) return "";
    return Str(event->at("content"), "membership");
  }
};

}  // namespace nebu::api::testing
