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

TEST(RateLimiterTest, ACostTakesThatManyTokensCappedAtTheBurst) {
  RateLimiter limiter({.per_second = 1, .burst = 10});
  EXPECT_EQ(limiter.Acquire("k", 0, 4), 0);
  EXPECT_EQ(limiter.Acquire("k", 0, 4), 0);
  EXPECT_EQ(limiter.Acquire("k", 0, 4), 2000);  // 2 left, 4 needed: nothing taken
  EXPECT_EQ(limiter.Acquire("k", 0, 2), 0);
  // A cost above the burst is the burst: it waits for a full bucket, never forever.
  EXPECT_EQ(limiter.Acquire("k", 0, 1000), 10'000);
  EXPECT_EQ(limiter.Acquire("k", 10'000, 1000), 0);
  EXPECT_EQ(limiter.Acquire("other", 0, 0.1), 0);  // a cost below one is one
}

TEST(RateLimiterTest, ResetRefillsOneKey) {
  RateLimiter limiter({.per_second = 0.001, .burst = 2});
  EXPECT_EQ(limiter.Acquire("a", 0), 0);
  EXPECT_EQ(limiter.Acquire("a", 0), 0);
  EXPECT_EQ(limiter.Acquire("b", 0), 0);
  EXPECT_GT(limiter.Acquire("a", 0), 0);
  limiter.Reset("a");
  EXPECT_EQ(limiter.Acquire("a", 0), 0);
  EXPECT_EQ(limiter.Acquire("b", 0), 0);
  EXPECT_GT(limiter.Acquire("b", 0), 0);  // only "a" was reset
}

TEST(RateLimiterTest, UserLimitsAreOnOrOffTogether) {
  UserRateLimits on(true);
  UserRateLimits off(false);
  for (RateLimiter* limiter : {&on.membership, &on.create_room, &on.profile, &on.receipts,
                               &on.typing, &on.presence, &on.account_data, &on.new_device,
                               &on.password_check, &on.login_attempts}) {
    EXPECT_TRUE(limiter->enabled());
  }
  for (int i = 0; i < 1000; ++i) ASSERT_FALSE(Limited(off.create_room, "@a:hs", 0).has_value());
  std::optional<Response> limited;
  for (int i = 0; i < 1000 && !limited; ++i) limited = Limited(on.create_room, "@a:hs", 0);
  ASSERT_TRUE(limited.has_value());
  EXPECT_EQ(limited->status, 429);
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
