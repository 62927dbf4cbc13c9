// RoomsApiTest: a real Engine on tmpfs with the room routes on a Router, served by a
// real api::Server on an ephemeral loopback port, and helpers that register users and
// call endpoints over HTTP/1.1 (one connection per call, so calls from several
// threads are independent). The server starts on the first Call, after the derived
// fixture has added its routes.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cctype>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "api/rooms/rooms_routes.h"
#include "api/router.h"
#include "api/server.h"
#include "tests/api/account_helpers.h"
#include "tests/api/test_http_client.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "engine/testing/fake_clock.h"
#include "engine/testing/temp_dir.h"

namespace nebu::api {

namespace json = boost::json;

inline constexpr std::string_view kV3 = "/_matrix/client/v3";
inline constexpr std::string_view kClientV1 = "/_matrix/client/v1";
// The users most tests register (RoomsApiTest::Register("alice"), ...).
inline constexpr const char* kAliceId = "@alice:localhost";
inline constexpr const char* kBobId = "@bob:localhost";

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
    return testing::RegisterThroughEngine(
        *engine_, {.user_id = "@" + localpart + ":localhost", .displayname = localpart},
        clock_.NowUnixMs());
  }

  // A second device (access token) for an existing user.
  std::string Login(const std::string& user_id) {
    return testing::LoginThroughEngine(*engine_, user_id, clock_.NowUnixMs());
  }

  // `path` is below /_matrix/client/v3 unless it starts with "/_matrix". Over real
  // HTTP on loopback; characters a request line may not carry are percent-encoded.
  Response Call(const std::string& method, const std::string& path, const std::string& token,
                const std::string& body = "") {
    std::string target = path.starts_with("/_matrix") ? path : std::string(kV3) + path;
    uint16_t port = 0;
    {
      std::lock_guard lock(server_mutex_);
      if (!server_) {
        auto started = Server::Start({{.address = "127.0.0.1", .port = 0, .router = &router_}},
                                     {.threads = 2});
        EXPECT_TRUE(started.ok()) << started.status().ToString();
        if (!started.ok()) return Response{.status = 0};
        server_ = std::move(started).value();
      }
      port = server_->port(0);
    }
    testing::TestHttpClient client(port);
    EXPECT_TRUE(client.connected());
    std::optional<std::string_view> bearer;
    if (!token.empty()) bearer = token;
    testing::HttpReply reply = client.Call(method, EncodeTarget(target), body, bearer);
    return Response{.status = reply.status, .body = std::move(reply.body)};
  }

  static std::string EncodeTarget(std::string_view target) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (char c : target) {
      const auto u = static_cast<unsigned char>(c);
      if (std::isalnum(u) || std::string_view("-._~/?=&%:@!$'()*+,;").find(c) != std::string_view::npos) {
        out.push_back(c);
      } else {
        out.push_back('%');
        out.push_back(kHex[u >> 4]);
        out.push_back(kHex[u & 15]);
      }
    }
    return out;
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
  std::mutex server_mutex_;
  std::unique_ptr<Server> server_;  // stopped before router_ goes
  int txn_ = 0;
};

}  // namespace nebu::api
