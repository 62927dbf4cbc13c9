// Goal: the login hash queue's 429 is honest — retry_after_ms is the time the workers
// need for the jobs waiting (measured time per job x jobs / threads, clamped), and a
// client that waits that long before trying again gets in — and the queue stays
// bounded.
// Method: the estimator as a function and as HashLoad, then a login storm over real
// HTTP against AddAccountRoutes with a queue of eight jobs, each refused client retrying
// after the retry_after_ms it was given (bounded in attempts and time).
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <boost/json/serialize.hpp>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "api/accounts/account_common.h"
#include "api/accounts/account_routes.h"
#include "api/router.h"
#include "api/server.h"
#include "engine/core/engine.h"
#include "engine/testing/temp_dir.h"
#include "tests/api/test_http_client.h"

namespace nebu::api {
namespace {

using account_internal::HashLoad;
using boost::json::object;
using testing::HttpReply;
using testing::TestHttpClient;
using namespace std::chrono_literals;

TEST(HashLoadTest, CountsWaitingJobsAndMeasuresTheTimePerJob) {
  HashLoad load(2);
  EXPECT_EQ(load.job_ms(), static_cast<double>(kHashJobMsInitial));
  EXPECT_DOUBLE_EQ(load.WaitMs(), 0.0);
  for (int i = 0; i < 40; ++i) load.Queued();
  EXPECT_EQ(load.waiting(), 40u);
  // 40 x 50 ms (the assumption before any measurement) / 2 threads.
  EXPECT_DOUBLE_EQ(load.WaitMs(), 1000.0);
  load.Dequeued();
  load.Ran(50.0 + 8 * 100.0);  // one weighted sample moves the mean by 1/8 of the gap
  EXPECT_DOUBLE_EQ(load.job_ms(), 150.0);
  for (int i = 0; i < 200; ++i) load.Ran(200.0);  // converges on the measured time
  EXPECT_NEAR(load.job_ms(), 200.0, 0.01);
  EXPECT_EQ(load.waiting(), 39u);
  EXPECT_NEAR(load.WaitMs(), 3900.0, 0.5);  // 39 x 200 ms / 2
  for (int i = 0; i < 39; ++i) load.Dequeued();
  EXPECT_DOUBLE_EQ(load.WaitMs(), 0.0);
}

// Refused clients form a virtual queue: each is told when the queue will have room,
// one admission (a job's time per worker) after the client refused before it.
TEST(HashLoadTest, RefusedClientsAreToldTimesOneAdmissionApart) {
  constexpr int64_t kNow = 1'000'000;
  constexpr int64_t kWaitMax = 30'000;
  constexpr size_t kQueueMax = 1024;
  HashLoad load(2);  // 50 ms a job (before any measurement) / 2 workers: 25 ms apart
  for (int i = 0; i < 1000; ++i) load.Queued();  // 12.5 s of work: room in the queue
  EXPECT_EQ(load.RefusedRetryAfterMs(kNow, kWaitMax, kQueueMax), kHashRetryAfterMsMin);
  HashLoad over(2);
  for (int i = 0; i < 1300; ++i) over.Queued();  // 1300 x 25 ms = 32.5 s: 2.5 s over
  EXPECT_EQ(over.RefusedRetryAfterMs(kNow, kWaitMax, 2000), 2500);
  EXPECT_EQ(over.RefusedRetryAfterMs(kNow, kWaitMax, 2000), 2525);
  EXPECT_EQ(over.RefusedRetryAfterMs(kNow + 5, kWaitMax, 2000), 2545);
  // Later, the earlier promises are past: the room in the queue counts again.
  EXPECT_EQ(over.RefusedRetryAfterMs(kNow + 10'000, kWaitMax, 2000), 2500);
  // A full count: room once one job has started (25 ms), then one admission apart.
  HashLoad full(2);
  for (int i = 0; i < 8; ++i) full.Queued();
  EXPECT_EQ(full.RefusedRetryAfterMs(kNow, kWaitMax, 8), kHashRetryAfterMsMin);  // 25 ms
  for (int i = 0; i < 10; ++i) full.RefusedRetryAfterMs(kNow, kWaitMax, 8);
  EXPECT_EQ(full.RefusedRetryAfterMs(kNow, kWaitMax, 8), 25 * 12);
  // A fractional time is rounded up to whole milliseconds.
  HashLoad fraction(2);
  fraction.Ran(50.0 + 8 * 0.3);  // 50.3 ms a job: 25.15 ms an admission
  for (int i = 0; i < 1301; ++i) fraction.Queued();  // 32,720.15 ms: 2,720.15 ms over
  EXPECT_EQ(fraction.RefusedRetryAfterMs(kNow, kWaitMax, 2000), 2721);
  // Past the maximum: the maximum, and no one is promised that time.
  HashLoad far(2);
  for (int i = 0; i < 3000; ++i) far.Queued();  // 75 s of work, 45 s over
  EXPECT_EQ(far.RefusedRetryAfterMs(kNow, kWaitMax, 4000), kHashRetryAfterMsMax);
  for (int i = 0; i < 2000; ++i) far.Dequeued();  // 25 s: room again
  EXPECT_EQ(far.RefusedRetryAfterMs(kNow, kWaitMax, 4000), kHashRetryAfterMsMin);
}

class HashQueueTest : public ::testing::Test {
 protected:
  void Start(AccountRoutesConfig config) {
    auto engine =
        core::Engine::Open({.data_dir = dir_.path(), .server_name = "test.local"});
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
    router_ = std::make_unique<Router>("client");
    AddAccountRoutes(*router_, *engine_, config);
    auto server = Server::Start({{.address = "127.0.0.1", .port = 0, .router = router_.get()}},
                                {.threads = 2});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
  }
  uint16_t port() { return server_->port(0); }

  void TearDown() override {
    server_.reset();
    router_.reset();
    engine_.reset();
  }

  nebu::testing::TempDir dir_;
  std::unique_ptr<core::Engine> engine_;
  std::unique_ptr<Router> router_;
  std::unique_ptr<Server> server_;
};

// kLogins logins at once against a queue of kQueueMax waiting jobs (plus HashThreads()
// running): those that do not fit are refused at once with 429 M_LIMIT_EXCEEDED and a
// retry_after_ms within the bounds (Retry-After in whole seconds, rounded up) that
// follows the queue (a full queue's is kQueueMax jobs' work, over the minimum); each
// refused client waits what it was told and tries again, and every login gets in.
TEST_F(HashQueueTest, ARefusedLoginGetsInAfterItsRetryAfterMs) {
  constexpr int kLogins = 24;
  constexpr size_t kQueueMax = 8;  // x >= 35 ms a job / 2 workers > kHashRetryAfterMsMin
  constexpr int kAttemptsMax = 50;         // per client
  constexpr auto kClientBudget = 60s;      // per client, waits included
  Start({.registration_open = true, .rate_limit = false, .hash_queue_max = kQueueMax});
  {
    TestHttpClient client(port());
    HttpReply reply = client.Call(
        "POST", "/_matrix/client/v3/register",
        R"({"username":"alice","password":"storm password","inhibit_login":true,)"
        R"("auth":{"type":"m.login.dummy"}})");
    ASSERT_EQ(reply.status, 200) << reply.body;
  }
  const std::string body = boost::json::serialize(
      object{{"type", "m.login.password"}, {"user", "alice"}, {"password", "storm password"}});
  std::atomic<int> refused{0}, bad_refusals{0}, succeeded{0}, other{0};
  std::atomic<int64_t> retry_ms_max{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kLogins; ++i) {
    clients.emplace_back([&] {
      const auto deadline = std::chrono::steady_clock::now() + kClientBudget;
      for (int attempt = 0;
           attempt < kAttemptsMax && std::chrono::steady_clock::now() < deadline; ++attempt) {
        TestHttpClient client(port());
        HttpReply reply = client.Call("POST", "/_matrix/client/v3/login", body);
        if (reply.status == 200) {
          ++succeeded;
          return;
        }
        if (reply.status != 429) {
          ++other;
          return;
        }
        ++refused;
        const boost::json::value json = reply.Json();
        const auto* retry = json.is_object() ? json.as_object().if_contains("retry_after_ms")
                                             : nullptr;
        const int64_t retry_ms = retry != nullptr && retry->is_int64() ? retry->as_int64() : -1;
        if (reply.Errcode() != "M_LIMIT_EXCEEDED" || retry_ms < kHashRetryAfterMsMin ||
            retry_ms > kHashRetryAfterMsMax ||
            reply.head.find("Retry-After: " + std::to_string((retry_ms + 999) / 1000) + "\r\n") ==
                std::string::npos) {
          ++bad_refusals;
          std::printf("bad refusal: %s\n%s\n", reply.head.c_str(), reply.body.c_str());
          return;
        }
        int64_t seen = retry_ms_max.load();
        while (seen < retry_ms && !retry_ms_max.compare_exchange_weak(seen, retry_ms)) {
        }
        // What the test is about: the client obeys the server's hint, then tries again.
        std::this_thread::sleep_for(std::chrono::milliseconds(retry_ms));
      }
    });
  }
  for (std::thread& t : clients) t.join();
  std::printf("%d logins against a queue of %zu (+%zu workers): %d refusals, largest "
              "retry_after_ms %lld\n",
              kLogins, kQueueMax, HashThreads(), refused.load(),
              static_cast<long long>(retry_ms_max.load()));
  EXPECT_EQ(bad_refusals.load(), 0);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(succeeded.load(), kLogins);
  EXPECT_GT(refused.load(), 0) << "the queue never overflowed: the test tested nothing";
  EXPECT_GT(retry_ms_max.load(), kHashRetryAfterMsMin) << "retry_after_ms ignores the queue";
}

}  // namespace
}  // namespace nebu::api
