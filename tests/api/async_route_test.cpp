// Goal: asynchronous routes — the router's contract for AsyncHandler (CORS, metrics,
// exactly one answer, 500 for a throw or a dropped Respond; Handle() blocking) and the
// server's: a route answered later from another thread does not hold the server's
// only thread, and an answer after the server stopped is dropped safely.
// Method: Router::Handle/HandleAsync directly; then a 1-thread Server on loopback with
// an async route whose Respond is kept by the test and called from a test thread.
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <mutex>
#include <thread>

#include "api/errors.h"
#include "api/metrics.h"
#include "api/router.h"
#include "api/server.h"
#include "tests/api/test_http_client.h"

namespace nebu::api {
namespace {

using testing::TestHttpClient;

Response Text(int status, std::string body) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

TEST(AsyncRouteTest, HandleWaitsForAnAnswerFromAnotherThread) {
  Metrics metrics;
  Router router("client", &metrics);
  router.AddAsync("GET", "/later/{what}",
                  [](const Request&, const PathParams& params, Respond respond) {
                    std::thread([respond, what = params.at("what")] {
                      std::this_thread::sleep_for(std::chrono::milliseconds(20));
                      respond(Text(200, what));
                    }).detach();
                  });
  Response response = router.Handle(MakeRequest("GET", "/later/x%21"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "x!");
  EXPECT_EQ(response.headers.Get("Access-Control-Allow-Origin"), "*");
  EXPECT_NE(metrics.Serialize().find("route=\"/later/{what}\""), std::string::npos);
}

TEST(AsyncRouteTest, RouterMadeAnswersGoThroughRespond) {
  Router router("client");
  router.AddAsync("GET", "/a", [](const Request&, const PathParams&, Respond) {});
  std::vector<int> statuses;
  for (const auto& [method, path] :
       {std::pair{"GET", "/nowhere"}, std::pair{"POST", "/a"}, std::pair{"OPTIONS", "/a"}}) {
    router.HandleAsync(MakeRequest(method, path),
                       [&](Response response) { statuses.push_back(response.status); });
  }
  EXPECT_EQ(statuses, (std::vector<int>{404, 405, 204}));
}

TEST(AsyncRouteTest, ThrowingOrDroppingTheRespondAnswers500Once) {
  Router router("client");
  router.AddAsync("GET", "/throws", [](const Request&, const PathParams&, Respond) {
    throw std::runtime_error("boom");
  });
  router.AddAsync("GET", "/drops", [](const Request&, const PathParams&, Respond) {});
  router.AddAsync("GET", "/twice", [](const Request&, const PathParams&, Respond respond) {
    respond(Text(200, "first"));
    respond(Text(201, "second"));
  });
  router.AddAsync("GET", "/answers-then-throws",
                  [](const Request&, const PathParams&, Respond respond) {
                    respond(Text(200, "ok"));
                    throw std::runtime_error("late");
                  });
  for (std::string path : {"/throws", "/drops"}) {
    int calls = 0;
    router.HandleAsync(MakeRequest("GET", path), [&](Response response) {
      ++calls;
      EXPECT_EQ(response.status, 500) << path;
    });
    EXPECT_EQ(calls, 1) << path;
  }
  for (std::string path : {"/twice", "/answers-then-throws"}) {
    std::vector<std::string> bodies;
    router.HandleAsync(MakeRequest("GET", path),
                       [&](Response response) { bodies.push_back(response.body); });
    EXPECT_EQ(bodies.size(), 1u) << path;
  }
}

class AsyncServerTest : public ::testing::Test {
 protected:
  AsyncServerTest() : router_("client") {
    router_.AddAsync("GET", "/slow", [this](const Request&, const PathParams&, Respond respond) {
      std::lock_guard lock(mutex_);
      parked_ = std::move(respond);
      parked_promise_.set_value();
    });
    router_.Add("GET", "/fast",
                [](const Request&, const PathParams&) { return Text(200, "fast"); });
    auto server = Server::Start({{.address = "127.0.0.1", .port = 0, .router = &router_}},
                                {.drain_timeout_ms = 200, .threads = 1});
    EXPECT_TRUE(server.ok());
    server_ = std::move(server).value();
  }

  Respond WaitForParked() {
    EXPECT_EQ(parked_future_.wait_for(std::chrono::seconds(5)), std::future_status::ready);
    std::lock_guard lock(mutex_);
    return parked_;
  }

  Router router_;
  std::mutex mutex_;
  Respond parked_;  // guarded by mutex_
  std::promise<void> parked_promise_;
  std::future<void> parked_future_ = parked_promise_.get_future();
  std::unique_ptr<Server> server_;
};

TEST_F(AsyncServerTest, OneThreadServesOthersWhileAnAsyncRouteWaits) {
  TestHttpClient slow(server_->port(0));
  slow.Send("GET", "/slow");
  Respond respond = WaitForParked();
  TestHttpClient fast(server_->port(0));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(fast.Call("GET", "/fast").body, "fast");
  std::thread answerer([respond] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    respond(Text(200, "slow"));
  });
  testing::HttpReply reply = slow.Read();
  answerer.join();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "slow");
  EXPECT_NE(reply.head.find("Access-Control-Allow-Origin: *"), std::string::npos);
  EXPECT_EQ(slow.Call("GET", "/fast").body, "fast");  // the connection is kept alive
}

TEST_F(AsyncServerTest, AnAnswerAfterTheServerStoppedIsDropped) {
  TestHttpClient slow(server_->port(0));
  slow.Send("GET", "/slow");
  Respond respond = WaitForParked();
  server_->Stop();                 // cuts the waiting connection after the drain timeout
  server_.reset();                 // and destroys its state
  respond(Text(200, "too late"));  // must neither crash nor reach anything
  SUCCEED();
}

}  // namespace
}  // namespace nebu::api
