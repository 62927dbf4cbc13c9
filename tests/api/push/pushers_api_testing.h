// PushersApiTest: RoomsApiTest (a real engine on tmpfs, routes on a Router served over
// loopback HTTP) plus the pusher and account routes, and a push gateway the test starts
// on 127.0.0.1 (TestGateway: a real api::Server whose one route records every notify
// body and answers what the test scripted).
#pragma once

#include <boost/json.hpp>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "api/accounts/account_routes.h"
#include "api/push/pusher_routes.h"
#include "api/router.h"
#include "api/server.h"
#include "engine/push/pushers.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {

class TestGateway {
 public:
  TestGateway() {
    router_.Add("POST", std::string(push::kPushGatewayPath),
                [this](const Request& r, const PathParams&) { return Answer(r); });
    auto started = Server::Start({{.address = "127.0.0.1", .port = 0, .router = &router_}}, {});
    NEBU_CHECK(started.ok(), started.status().ToString());
    server_ = std::move(started).value();
  }
  ~TestGateway() { server_.reset(); }

  std::string url() const {
    return "http://127.0.0.1:" + std::to_string(server_->port(0)) + std::string(push::kPushGatewayPath);
  }
  // The next answers, in order (then 200 {"rejected": []}).
  void Script(int status, json::object body = {}) {
    std::lock_guard lock(mu_);
    script_.push_back({status, std::move(body)});
  }
  std::vector<json::object> received() const {
    std::lock_guard lock(mu_);
    return received_;
  }

 private:
  Response Answer(const Request& r) {
    std::lock_guard lock(mu_);
    received_.push_back(json::parse(r.body).as_object());
    if (script_.empty()) return JsonResponse(200, json::object{{"rejected", json::array{}}});
    auto [status, body] = script_.front();
    script_.pop_front();
    return JsonResponse(status, body);
  }

  mutable std::mutex mu_;
  std::deque<std::pair<int, json::object>> script_;  // guarded by mu_
  std::vector<json::object> received_;               // guarded by mu_
  Router router_{"gateway"};
  std::unique_ptr<Server> server_;
};

class PushersApiTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    AddPusherRoutes(router_, *engine_);
    AddAccountRoutes(router_, *engine_, {.registration_open = false, .rate_limit = false});
    alice_ = Register("alice");
    bob_ = Register("bob");
  }

  json::object HttpPusher(const std::string& pushkey, const std::string& url,
                          bool id_only = false) {
    json::object data{{"url", url}, {"custom", "kept"}};
    if (id_only) data["format"] = "event_id_only";
    return json::object{{"kind", "http"},           {"app_id", "org.example.app"},
                        {"pushkey", pushkey},       {"app_display_name", "App"},
                        {"device_display_name", "Phone"}, {"lang", "en"},
                        {"data", std::move(data)}};
  }
  json::array Pushers(const std::string& token) {
    Response r = Call("GET", "/pushers", token, std::string());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? Body(r).at("pushers").as_array() : json::array{};
  }

  std::string alice_, bob_;
};

}  // namespace nebu::api
