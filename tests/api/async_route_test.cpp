// Goal: asynchronous routes — the router's contract for AsyncHandler (CORS, metrics,
// exactly one answer, 500 for a throw or a dropped Respond; Handle() blocking) and the
// server's: a route answered later from another thread does not hold the server's
// only thread, and an answer after the server stopped is dropped safely.
// Method: Router::Handle/HandleAsync directly; then a 1-thread Server on loopback with
// an async route whose Respond is kept by the test and called from a test thread.
// Offloaded synchronous routes (RouteOptions::offload): a handler blocked on a gate the
// test opens does not hold a 1-thread server; a full offload queue answers 429.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <condition_variable>
#include <future>
#include <mutex>
#include <stdexcept>
#include <thread>
#include <vector>

#include "api/errors.h"
#include "api/metrics.h"
#include "api/router.h"
#include "api/server.h"
#include "tests/api/test_http_client.h"

namespace nebu::api {
namespace {

using testing::TestHttpClient;

Response AsyncText(int status, std::string body) {
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
                      respond(AsyncText(200, what));
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
    respond(AsyncText(200, "first"));
    respond(AsyncText(201, "second"));
  });
  router.AddAsync("GET", "/answers-then-throws",
                  [](const Request&, const PathParams&, Respond respond) {
                    respond(AsyncText(200, "ok"));
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
                [](const Request&, const PathParams&) { return AsyncText(200, "fast"); });
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
    respond(AsyncText(200, "slow"));
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
  respond(AsyncText(200, "too late"));  // must neither crash nor reach anything
  SUCCEED();
}

// A gate offloaded handlers wait on until the test opens it; counts who entered.
class Gate {
 public:
  void Enter() {
    std::unique_lock lock(mutex_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
  }
  bool WaitEntered(int count) {
    std::unique_lock lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(5), [&] { return entered_ >= count; });
  }
  void Open() {
    std::lock_guard lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int entered_ = 0;   // guarded by mutex_
  bool open_ = false;  // guarded by mutex_
};

TEST(OffloadRouteTest, ASlowOffloadedHandlerDoesNotHoldAOneThreadServer) {
  Gate gate;
  Router router("client", nullptr, {.threads = 1, .queue_max = 4});
  router.Add(
      "GET", "/heavy/{what}",
      [&gate](const Request&, const PathParams& params) {
        gate.Enter();
        return AsyncText(200, params.at("what"));
      },
      {.offload = true});
  router.Add("GET", "/fast",
             [](const Request&, const PathParams&) { return AsyncText(200, "fast"); });
  auto server = Server::Start({{.address = "127.0.0.1", .port = 0, .router = &router}},
                              {.drain_timeout_ms = 200, .threads = 1});
  ASSERT_TRUE(server.ok());
  TestHttpClient heavy((*server)->port(0));
  heavy.Send("GET", "/heavy/x%21");
  ASSERT_TRUE(gate.WaitEntered(1));
  TestHttpClient fast((*server)->port(0));
  for (int i = 0; i < 3; ++i) EXPECT_EQ(fast.Call("GET", "/fast").body, "fast");
  gate.Open();
  testing::HttpReply reply = heavy.Read();
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "x!");  // the handler got its own copy of the params
  EXPECT_NE(reply.head.find("Access-Control-Allow-Origin: *"), std::string::npos);
  (*server)->Stop();
}

TEST(OffloadRouteTest, AFullOffloadQueueAnswers429WithRetryAfter) {
  Gate gate;
  Metrics metrics;
  Router router("client", &metrics, {.threads = 1, .queue_max = 1});
  router.Add(
      "GET", "/heavy",
      [&gate](const Request&, const PathParams&) {
        gate.Enter();
        return AsyncText(200, "done");
      },
      {.offload = true});
  std::mutex mutex;
  std::vector<Response> answers;  // guarded by mutex
  auto collect = [&](Response response) {
    std::lock_guard lock(mutex);
    answers.push_back(std::move(response));
  };
  router.HandleAsync(MakeRequest("GET", "/heavy"), collect);  // runs, blocks on the gate
  ASSERT_TRUE(gate.WaitEntered(1));
  router.HandleAsync(MakeRequest("GET", "/heavy"), collect);  // waits in the queue
  router.HandleAsync(MakeRequest("GET", "/heavy"), collect);  // refused at once
  {
    std::lock_guard lock(mutex);
    ASSERT_EQ(answers.size(), 1u);
    EXPECT_EQ(answers[0].status, 429);
    auto body = boost::json::parse(answers[0].body).as_object();
    EXPECT_EQ(body.at("errcode"), "M_LIMIT_EXCEEDED");
    EXPECT_EQ(body.at("retry_after_ms").as_int64(), Router::kOffloadBusyRetryAfterMs);
    EXPECT_EQ(answers[0].headers.Get("Access-Control-Allow-Origin"), "*");
  }
  gate.Open();
  ASSERT_TRUE(gate.WaitEntered(2));
  Response later = router.Handle(MakeRequest("GET", "/heavy"));  // the queue has room again
  EXPECT_EQ(later.status, 200);
  std::lock_guard lock(mutex);  // one pool thread, FIFO: the first two answered before
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(answers[1].status, 200);
  EXPECT_EQ(answers[2].status, 200);
}

TEST(OffloadRouteTest, AnOffloadedHandlerThatThrowsAnswers500) {
  Router router("client", nullptr, {.threads = 1, .queue_max = 4});
  router.Add(
      "GET", "/throws",
      [](const Request&, const PathParams&) -> Response { throw std::runtime_error("boom"); },
      {.offload = true});
  EXPECT_EQ(router.Handle(MakeRequest("GET", "/throws")).status, 500);
}

}  // namespace
}  // namespace nebu::api
