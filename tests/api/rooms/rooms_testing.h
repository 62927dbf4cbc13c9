// RoomsApiTest: a real Engine on tmpfs with the room routes on a Router, and helpers
// that register users and call endpoints through Router::Handle (no sockets).
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>

#include "api/rooms_routes.h"
#include "api/router.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "engine/testing/fake_clock.h"
#include "engine/testing/temp_dir.h"

namespace nebu::api {

namespace json = boost::json;

inline constexpr std::string_view kV3 = "/_matrix/client/v3";

class RoomsApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened =
        core::Engine::Open({.data_dir = dir_.path(), .server_name = "localhost", .clock = &clock_});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    engine_ = std::move(opened).value();
    AddRoomRoutes(router_, *engine_);
  }

  // Registers @localpart:localhost with a first device; returns its access token.
  std::string Register(const std::string& localpart) {
    auto prepared = accounts::PrepareRegistration(
        {.user_id = "@" + localpart + ":localhost", .displayname = localpart}, clock_.NowUnixMs());
    EXPECT_TRUE(prepared.ok()) << prepared.status().ToString();
    auto applied = engine_->Submit(core::Command{core::CommandKind::kAccount, prepared->payload});
    EXPECT_TRUE(applied.ok()) << applied.status().ToString();
    return *prepared->access_token;
  }

  // A second device (access token) for an existing user.
  std::string Login(const std::string& user_id) {
    auto prepared = accounts::PrepareLogin(user_id, std::nullopt, std::nullopt, clock_.NowUnixMs());
    EXPECT_TRUE(prepared.ok()) << prepared.status().ToString();
    auto applied = engine_->Submit(core::Command{core::CommandKind::kAccount, prepared->payload});
    EXPECT_TRUE(applied.ok()) << applied.status().ToString();
    return *prepared->access_token;
  }

  // `path` is below /_matrix/client/v3 unless it starts with "/_matrix".
  Response Call(const std::string& method, const std::string& path, const std::string& token,
                const std::string& body = "") {
    std::string target = path.starts_with("/_matrix") ? path : std::string(kV3) + path;
    Request request = MakeRequest(method, target, body);
    if (!token.empty()) request.headers.Set("Authorization", "Bearer " + token);
    return router_.Handle(request);
  }
  Response Call(const std::string& method, const std::string& path, const std::string& token,
                const json::value& body) {
    return Call(method, path, token, json::serialize(body));
  }

  static json::value Body(const Response& response) { return json::parse(response.body); }
  static std::string ErrCode(const Response& response) {
    json::value v = Body(response);
    return v.is_object() && v.as_object().contains("errcode")
               ? std::string(v.at("errcode").as_string())
               : std::string();
  }

  // Creates a room with `body`; returns its id ("" on failure, with a test failure).
  std::string CreateRoom(const std::string& token, const json::object& body = {}) {
    Response r = Call("POST", "/createRoom", token, body);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(Body(r).at("room_id").as_string()) : "";
  }

  // Sends an m.room.message with a fresh txn id; returns the response.
  Response SendMessage(const std::string& token, const std::string& room_id,
                       const std::string& text) {
    return Call("PUT", "/rooms/" + room_id + "/send/m.room.message/t" + std::to_string(++txn_),
                token, json::object{{"msgtype", "m.text"}, {"body", text}});
  }
  std::string Send(const std::string& token, const std::string& room_id, const std::string& text) {
    Response r = SendMessage(token, room_id, text);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(Body(r).at("event_id").as_string()) : "";
  }

  int Post(const std::string& token, const std::string& path, const json::object& body = {}) {
    Response r = Call("POST", path, token, body);
    return r.status;
  }

  nebu::testing::TempDir dir_{nebu::testing::TempDir::kTmpfs};
  nebu::testing::FakeClock clock_;
  std::unique_ptr<core::Engine> engine_;
  Router router_{"client"};
  int txn_ = 0;
};

}  // namespace nebu::api
