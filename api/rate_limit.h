// Rate limits: a token bucket per key (the client's IP for /register and /login, the
// user for everything a logged-in user does that costs others: sends, membership,
// createRoom, profile, receipts, typing, presence, account data, new devices,
// password checks; the account for failed logins), and the 429 M_LIMIT_EXCEEDED answer.
//
//   RateLimiter limiter(kLoginRateLimit);
//   int64_t retry_after_ms = limiter.Acquire(RemoteIp(request), clock.NowUnixMs());
//   if (retry_after_ms > 0) return RateLimitedResponse(retry_after_ms);
//
// A bucket holds at most `burst` tokens and refills at `per_second`; each request takes
// one (or `cost`, e.g. a profile change takes one per room it updates). A bucket idle long enough to be full again is the same as no bucket, so it is
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
#include <optional>
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

// Per user (keyed by user ID). Each is far above what Element or another real client
// does; all are off with NEBU_RATE_LIMIT=off.
// join, leave, invite, kick, ban, unban, knock, forget: each is a state event the room's
// members must receive.
inline constexpr RateLimit kMembershipRateLimit{.per_second = 1, .burst = 20};
// createRoom: a room is ~6 events and state kept forever; 10 at once, then one per 10 s.
inline constexpr RateLimit kCreateRoomRateLimit{.per_second = 0.1, .burst = 10};
// displayname / avatar_url: a change costs 1 + the rooms it updates (a member event
// per joined room), capped at the burst: a user in 50+ rooms changes once a minute.
inline constexpr RateLimit kProfileRateLimit{.per_second = 1, .burst = 60};
// receipts and read markers (one bucket).
inline constexpr RateLimit kReceiptRateLimit{.per_second = 5, .burst = 50};
inline constexpr RateLimit kTypingRateLimit{.per_second = 2, .burst = 20};
inline constexpr RateLimit kPresenceRateLimit{.per_second = 1, .burst = 10};
// account data, global and per room, and room tags (one bucket).
inline constexpr RateLimit kAccountDataRateLimit{.per_second = 2, .burst = 40};
// devices created by /login, per account (whatever the IP).
inline constexpr RateLimit kNewDeviceRateLimit{.per_second = 0.05, .burst = 10};
// password re-checks of a logged-in user (UIA: delete device(s), change password,
// deactivate, keys/device_signing/upload), per account.
inline constexpr RateLimit kPasswordCheckRateLimit{.per_second = 0.1, .burst = 10};
// /login attempts against one account, whatever the IP: each attempt takes a token, a
// success refills the bucket. Five wrong passwords, then one try per 30 s.
inline constexpr RateLimit kLoginAttemptRateLimit{.per_second = 1.0 / 30, .burst = 5};

// content and user reports (one bucket): each is stored for the administrators.
inline constexpr RateLimit kReportRateLimit{.per_second = 0.1, .burst = 10};

class RateLimiter {
 public:
  explicit RateLimiter(RateLimit limit, bool enabled = true, size_t keys_max = kRateLimitKeysMax);

  // Takes `cost` tokens (>= 1, capped at the burst) from key's bucket at time now_ms
  // (any monotonic-enough ms clock). Returns 0 when the request may proceed, else the
  // ms until enough tokens are available (nothing taken).
  [[nodiscard]] int64_t Acquire(std::string_view key, int64_t now_ms, double cost = 1);
  // Forgets key's bucket: its next request finds it full (a successful login).
  void Reset(std::string_view key);

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

// Every per-user limiter, shared by the routes of one ClientApi (one bucket per user
// and kind, whichever route or API version is called).
struct UserRateLimits {
  explicit UserRateLimits(bool enabled)
      : membership(kMembershipRateLimit, enabled),
        create_room(kCreateRoomRateLimit, enabled),
        profile(kProfileRateLimit, enabled),
        receipts(kReceiptRateLimit, enabled),
        typing(kTypingRateLimit, enabled),
        presence(kPresenceRateLimit, enabled),
        account_data(kAccountDataRateLimit, enabled),
        new_device(kNewDeviceRateLimit, enabled),
        password_check(kPasswordCheckRateLimit, enabled),
        login_attempts(kLoginAttemptRateLimit, enabled),
        reports(kReportRateLimit, enabled) {}

  RateLimiter membership;
  RateLimiter create_room;
  RateLimiter profile;
  RateLimiter receipts;
  RateLimiter typing;
  RateLimiter presence;
  RateLimiter account_data;
  RateLimiter new_device;
  RateLimiter password_check;
  RateLimiter login_attempts;  // keyed by the user ID a /login names
  RateLimiter reports;
};

// `limiter.Acquire(key, now_ms, cost)` as an answer: nullopt to proceed, else the 429.
[[nodiscard]] std::optional<Response> Limited(RateLimiter& limiter, std::string_view key,
                                              int64_t now_ms, double cost = 1);

// The client's IP from Request::remote_address ("1.2.3.4:5678" -> "1.2.3.4",
// "[::1]:5678" -> "::1"); the whole value when it has no port.
[[nodiscard]] std::string RemoteIp(const Request& request);

// 429 {"errcode":"M_LIMIT_EXCEEDED","error":...,"retry_after_ms":n} with a Retry-After
// header in whole seconds (rounded up).
[[nodiscard]] Response RateLimitedResponse(int64_t retry_after_ms);

}  // namespace nebu::api
