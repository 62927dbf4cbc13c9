// Internal to api/: what the account endpoints (account_routes.cpp,
// device_profile_routes.cpp) share — their context (engine, limiters, hash workers),
// the v3 + r0 registration helper, typed body readers, User-Interactive Auth and the
// submit-then-answer helper. Not a public API; see api/accounts/account_routes.h.
#pragma once

#include <boost/json/object.hpp>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "api/accounts/account_routes.h"
#include "api/auth.h"
#include "api/rate_limit.h"
#include "api/router.h"
#include "api/worker_pool.h"
#include "engine/accounts/commands.h"
#include "engine/core/committer.h"

namespace nebu::api::account_internal {

inline constexpr size_t kUiaSessionChars = 24;

// The hash queue's load: how many jobs wait and the measured time per job (an
// exponentially weighted mean, weight kHashJobMsWeight for the newest, starting at
// kHashJobMsInitial), from which the wait of a new job and retry_after_ms are estimated.
// Thread-safe.
class HashLoad {
 public:
  static constexpr double kHashJobMsWeight = 0.125;

  explicit HashLoad(size_t threads);
  void Queued();              // a job was queued
  void Dequeued();            // a queued job started, or its Post failed
  void Ran(double job_ms);    // a job ran for job_ms (wall time, on its worker)
  [[nodiscard]] size_t waiting() const;
  [[nodiscard]] double job_ms() const;
  // The wait of a job queued now, in ms (not clamped).
  [[nodiscard]] double WaitMs() const;
  // retry_after_ms for a job refused at `now_ms` (a monotonic clock) by a queue that
  // takes jobs while their estimated wait is at most `wait_max_ms` and at most
  // `queue_max` of them wait: the time until the queue has room again (its work back
  // under the bound, its count under the maximum), but at least the time promised to
  // the client refused before this one plus one job's time per worker. So the clients
  // refused in a storm form a virtual queue: each is told its own time to come back,
  // one admission apart, rather than all the same. Rounded up to whole ms and at least
  // kHashRetryAfterMsMin; a time past kHashRetryAfterMsMax is answered with the
  // maximum and promised no one.
  int64_t RefusedRetryAfterMs(int64_t now_ms, int64_t wait_max_ms, size_t queue_max);

 private:
  const size_t threads_;
  mutable std::mutex mutex_;
  size_t waiting_ = 0;                                    // guarded by mutex_
  double job_ms_ = static_cast<double>(kHashJobMsInitial);  // guarded by mutex_
  double promised_ms_ = 0;  // the latest come-back time given; guarded by mutex_
};

// Shared by every account handler (held by shared_ptr in each). Hash tasks use a raw
// pointer: the pool is the last member, so it is destroyed (finishing its queue) while
// everything its tasks use is still alive.
struct Context {
  Context(core::Engine& engine_ref, const AccountRoutesConfig& config_value);
  [[nodiscard]] int64_t MonotonicMs() const;
  [[nodiscard]] const std::string& server_name() const;

  core::Engine& engine;
  const AccountRoutesConfig config;
  RateLimiter register_limiter;
  RateLimiter login_limiter;
  std::shared_ptr<UserRateLimits> limits;  // never null
  HashLoad hash_load;
  WorkerPool pool;
};
using ContextPtr = std::shared_ptr<Context>;

// Registers the route under /_matrix/client/v3 and /_matrix/client/r0 (`suffix` starts
// with '/'), with `options` (api/router.h).
void AddBoth(Router& router, std::string_view method, std::string_view suffix, Handler handler,
             RouteOptions options = {});
void AddBothAsync(Router& router, std::string_view method, std::string_view suffix,
                  AsyncHandler handler, RouteOptions options = {});

// Typed readers of optional body fields: true with *out set (nullopt when absent or
// null), false with *error = 400 M_BAD_JSON when present with another type.
bool ReadString(const boost::json::object& body, std::string_view key,
                std::optional<std::string>* out, Response* error);
bool ReadBool(const boost::json::object& body, std::string_view key, std::optional<bool>* out,
              Response* error);

// 400 M_MISSING_PARAM naming the field.
Response MissingParam(std::string_view key);

// ASCII lower case.
std::string Lowercase(std::string_view text);

// The user ID named by a login body or UIA auth dict: identifier {type m.id.user, user}
// or the legacy `user`, a localpart (lower-cased) or a full user ID. nullopt with
// *error (400 M_MISSING_PARAM / M_UNKNOWN / M_BAD_JSON) when it names none.
std::optional<std::string> LoginUserId(const boost::json::object& body,
                                       std::string_view server_name, Response* error);

// 401 {"flows":[{"stages":[stage]}],"params":{},"session":random}, plus errcode and
// error when given (a failed attempt).
Response UiaChallenge(std::string_view stage, std::string_view errcode = {},
                      std::string_view error = {});

// What UiaPassword returns for a completed m.login.sso stage (api/sso/sso_routes.h):
// not a password (UiaPassword refuses passwords with NUL); VerifyThen runs `then`
// without a password check for it.
inline constexpr std::string_view kSsoUiaDone{"\0sso-uia-done", 13};

// Password UIA of a logged-in caller. With single sign-on on, the challenge also
// offers the flow [m.login.sso]; auth {type: m.login.sso, session} succeeds (once)
// when that session was confirmed through the provider for the caller.: the password in body.auth, or nullopt with
// *answer set (401 challenge when auth is absent, of another type, or for another
// user; 400 when malformed).
std::optional<std::string> UiaPassword(const boost::json::object& body, const Caller& caller,
                                       std::string_view server_name, Response* answer);

// Verifies the caller's password on the hash workers, then runs `then` there; answers
// 401 (UIA, M_FORBIDDEN) for a wrong password, and 429 when the workers are saturated
// or the user's password-check bucket (kPasswordCheckRateLimit) is empty.
void VerifyThen(Context* context, std::string user_id, std::string password, Respond respond,
                std::function<void()> then);

// Runs task on the hash workers, or answers 429 M_LIMIT_EXCEEDED (retry_after_ms:
// hash_load.RefusedRetryAfterMs) when config.hash_queue_max jobs already wait, when this
// one's estimated wait is over config.hash_wait_ms_max, or when it waited longer than
// config.hash_stale_ms_max for a worker.
void OnWorkers(Context* context, Respond respond, std::function<void()> task);

// Proposes command; `done` gets the outcome on the engine's apply thread (keep it
// quick) or at once when the command does not encode.
void SubmitCommand(core::Engine& engine, const accounts::AccountCommand& command,
                   core::ProposalDone done);
// SubmitCommand, answering 200 `ok_body` on success and the mapped error otherwise.
void SubmitAndAnswer(core::Engine& engine, const accounts::AccountCommand& command, Respond respond,
                     boost::json::object ok_body = {});

// Device and profile routes (device_profile_routes.cpp).
void AddDeviceRoutes(Router& router, const ContextPtr& context);
void AddProfileRoutes(Router& router, const ContextPtr& context);
// Account data and room tags (account_data_routes.cpp).
void AddAccountDataRoutes(Router& router, const ContextPtr& context);
// /refresh, /login/get_token, OpenID tokens and userinfo, registration token validity
// (session_routes.cpp).
void AddSessionRoutes(Router& router, const ContextPtr& context);
// /admin/whois, /admin/suspend, /admin/lock (admin_routes.cpp).
void AddAdminRoutes(Router& router, const ContextPtr& context);

}  // namespace nebu::api::account_internal
