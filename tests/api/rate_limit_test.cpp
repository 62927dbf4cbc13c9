// Goal: the token bucket (burst, refill, the wait it reports), its memory bound, the
// off switch, and the 429 answer. Method: RateLimiter driven with explicit times.
#include "api/rate_limit.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace nebu::api {
namespace {

TEST(RateLimiterTest, AllowsTheBurstThenReportsTheWaitForTheNextToken) {
  RateLimiter limiter({.per_second = 2, .burst = 3});
  for (int i = 0; i < 3; ++i) EXPECT_EQ(limiter.Acquire("1.2.3.4", 1000), 0);
  EXPECT_EQ(limiter.Acquire("1.2.3.4", 1000), 500);
  EXPECT_EQ(limiter.Acquire("1.2.3.4", 1250), 250);
  EXPECT_EQ(limiter.Acquire("1.2.3.4", 1500), 0);
  EXPECT_EQ(limiter.Acquire("5.6.7.8", 1500), 0);  // keys are independent
}

TEST(RateLimiterTest, RefillsUpToTheBurstOnly) {
  RateLimiter limiter({.per_second = 1, .burst = 2});
  EXPECT_EQ(limiter.Acquire("k", 0), 0);
  EXPECT_EQ(limiter.Acquire("k", 0), 0);
  EXPECT_GT(limiter.Acquire("k", 0), 0);
  int allowed = 0;
  for (int i = 0; i < 5; ++i) allowed += limiter.Acquire("k", 60'000) == 0;
  EXPECT_EQ(allowed, 2);
}

TEST(RateLimiterTest, DisabledLimiterAllowsEverything) {
  RateLimiter limiter({.per_second = 1, .burst = 1}, /*enabled=*/false);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(limiter.Acquire("k", 0), 0);
  EXPECT_EQ(limiter.bucket_count(), 0u);
}

TEST(RateLimiterTest, KeepsAtMostKeysMaxBuckets) {
  RateLimiter limiter({.per_second = 1, .burst = 5}, true, /*keys_max=*/10);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(limiter.Acquire(std::to_string(i), i), 0);
  EXPECT_LE(limiter.bucket_count(), 10u);
  // Idle buckets that refilled are swept first.
  for (int i = 0; i < 10; ++i) EXPECT_EQ(limiter.Acquire("late" + std::to_string(i), 100'000), 0);
  EXPECT_LE(limiter.bucket_count(), 10u);
}

TEST(RateLimitTest, RemoteIpDropsThePort) {
  Request request;
  request.remote_address = "10.0.0.7:5555";
  EXPECT_EQ(RemoteIp(request), "10.0.0.7");
  request.remote_address = "[::1]:8008";
  EXPECT_EQ(RemoteIp(request), "::1");
  request.remote_address = "";
  EXPECT_EQ(RemoteIp(request), "");
}

TEST(RateLimitTest, LimitedResponseIs429WithRetryAfter) {
  Response response = RateLimitedResponse(1500);
  EXPECT_EQ(response.status, 429);
  EXPECT_EQ(response.headers.Get("Retry-After"), "2");
  auto body = boost::json::parse(response.body).as_object();
  EXPECT_EQ(body.at("errcode"), "M_LIMIT_EXCEEDED");
  EXPECT_TRUE(body.at("error").is_string());
  EXPECT_EQ(body.at("retry_after_ms"), 1500);
}

}  // namespace
}  // namespace nebu::api
