// Rate limits: a token bucket per key (the client's IP for /register and /login, the
// user for sends), and the 429 M_LIMIT_EXCEEDED answer.
//
//   RateLimiter limiter(kLoginRateLimit);
//   int64_t retry_after_ms = limiter.Acquire(RemoteIp(request), clock.NowUnixMs());
//   if (retry_after_ms > 0) return RateLimitedResponse(retry_after_ms);
//
// A bucket holds at most `burst` tokens and refills at `per_second`; each request takes
// one. A bucket idle long enough to be full again is the same as no bucket, so it is
// evicted; memory is bounded by keys_max buckets (when every one is still refilling,
// the longest idle is evicted, which only ever errs towards letting a request in).
// A disabled limiter (NEBU_RATE_LIMIT=off) lets everything through.
//
// Thread-safety: Acquire() from any thread (one mutex; the work under it is a map
// lookup, and a sweep over at most keys_max buckets when full).
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

#include "api/http.h"

namespace nebu::api {

struct RateLimit {
  double per_second = 1.0;  // refill rate, > 0
  double burst = 10.0;      // bucket size, >= 1
};

// The limits nebu applies (Synapse's defaults are stricter for login; these allow a
// family behind one NAT address to log in a few devices at once).
inline constexpr RateLimit kRegisterRateLimit{.per_second = 0.2, .burst = 5};  // per IP
inline constexpr RateLimit kLoginRateLimit{.per_second = 0.5, .burst = 10};    // per IP
inline constexpr RateLimit kSendRateLimit{.per_second = 10, .burst = 50};      // per user
inline constexpr size_t kRateLimitKeysMax = 10'000;  // buckets kept per limiter

class RateLimiter {
 public:
  explicit RateLimiter(RateLimit limit, bool enabled = true, size_t keys_max = kRateLimitKeysMax);

  // Takes a token from key's bucket at time now_ms (any monotonic-enough ms clock).
  // Returns 0 when the request may proceed, else the ms until a token is available
  // (nothing taken).
  [[nodiscard]] int64_t Acquire(std::string_view key, int64_t now_ms);

  [[nodiscard]] bool enabled() const { return enabled_; }
  [[nodiscard]] size_t bucket_count() const;

 private:
  struct Bucket {
    double tokens = 0;
    int64_t updated_ms = 0;
  };
  void MakeRoom(int64_t now_ms);  // requires mutex_

  const RateLimit limit_;
  const bool enabled_;
  const size_t keys_max_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Bucket> buckets_;  // guarded by mutex_
};

// The client's IP from Request::remote_address ("1.2.3.4:5678" -> "1.2.3.4",
// "[::1]:5678" -> "::1"); the whole value when it has no port.
[[nodiscard]] std::string RemoteIp(const Request& request);

// 429 {"errcode":"M_LIMIT_EXCEEDED","error":...,"retry_after_ms":n} with a Retry-After
// header in whole seconds (rounded up).
[[nodiscard]] Response RateLimitedResponse(int64_t retry_after_ms);

}  // namespace nebu::api
