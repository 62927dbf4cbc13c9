#include "api/rate_limit.h"

#include <algorithm>
#include <boost/json/object.hpp>
#include <cmath>

#include "engine/common/status.h"

namespace nebu::api {

RateLimiter::RateLimiter(RateLimit limit, bool enabled, size_t keys_max)
    : limit_(limit), enabled_(enabled), keys_max_(std::max<size_t>(1, keys_max)) {
  NEBU_CHECK(limit.per_second > 0 && limit.burst >= 1, "a rate limit needs a rate and a burst");
}

int64_t RateLimiter::Acquire(std::string_view key, int64_t now_ms, double cost) {
  if (!enabled_) return 0;
  cost = std::clamp(cost, 1.0, limit_.burst);
  std::lock_guard lock(mutex_);
  auto it = buckets_.find(std::string(key));
  if (it == buckets_.end()) {
    MakeRoom(now_ms);
    it = buckets_.emplace(std::string(key), Bucket{.tokens = limit_.burst, .updated_ms = now_ms})
             .first;
  }
  Bucket& bucket = it->second;
  double elapsed_s = static_cast<double>(std::max<int64_t>(0, now_ms - bucket.updated_ms)) / 1000;
  bucket.tokens = std::min(limit_.burst, bucket.tokens + elapsed_s * limit_.per_second);
  bucket.updated_ms = std::max(bucket.updated_ms, now_ms);
  if (bucket.tokens >= cost) {
    bucket.tokens -= cost;
    return 0;
  }
  double wait_ms = std::ceil((cost - bucket.tokens) / limit_.per_second * 1000);
  return std::max<int64_t>(1, static_cast<int64_t>(wait_ms));
}

void RateLimiter::MakeRoom(int64_t now_ms) {
  if (buckets_.size() < keys_max_) return;
  double refill_ms = limit_.burst / limit_.per_second * 1000;
  std::erase_if(buckets_, [&](const auto& entry) {
    return static_cast<double>(now_ms - entry.second.updated_ms) >= refill_ms;
  });
  if (buckets_.size() < keys_max_) return;
  auto stalest = std::min_element(
      buckets_.begin(), buckets_.end(),
      [](const auto& a, const auto& b) { return a.second.updated_ms < b.second.updated_ms; });
  buckets_.erase(stalest);
}

void RateLimiter::Reset(std::string_view key) {
  if (!enabled_) return;
  std::lock_guard lock(mutex_);
  buckets_.erase(std::string(key));
}

std::optional<Response> Limited(RateLimiter& limiter, std::string_view key, int64_t now_ms,
                                double cost) {
  int64_t wait_ms = limiter.Acquire(key, now_ms, cost);
  if (wait_ms > 0) return RateLimitedResponse(wait_ms);
  return std::nullopt;
}

size_t RateLimiter::bucket_count() const {
  std::lock_guard lock(mutex_);
  return buckets_.size();
}

std::string RemoteIp(const Request& request) {
  std::string_view address = request.remote_address;
  if (address.starts_with('[')) {
    size_t close = address.find(']');
    if (close != std::string_view::npos) return std::string(address.substr(1, close - 1));
  }
  size_t colon = address.rfind(':');
  if (colon != std::string_view::npos && address.find(':') == colon) {
    return std::string(address.substr(0, colon));
  }
  return std::string(address);
}

Response RateLimitedResponse(int64_t retry_after_ms) {
  Response response = JsonResponse(429, boost::json::object{{"errcode", "M_LIMIT_EXCEEDED"},
                                                            {"error", "Too many requests"},
                                                            {"retry_after_ms", retry_after_ms}});
  response.headers.Set("Retry-After", std::to_string((retry_after_ms + 999) / 1000));
  return response;
}

}  // namespace nebu::api
