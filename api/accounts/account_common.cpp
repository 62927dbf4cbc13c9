#include "api/accounts/account_common.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <boost/json/array.hpp>
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <thread>

#include "api/errors.h"
#include "api/sso/sso_routes.h"
#include "engine/accounts/accounts.h"
#include "engine/common/crypto.h"
#include "engine/core/engine.h"

namespace nebu::api::account_internal {

constexpr std::string_view kPrefixV3 = "/_matrix/client/v3";
constexpr std::string_view kPrefixR0 = "/_matrix/client/r0";

Context::Context(core::Engine& engine_ref, const AccountRoutesConfig& config_value)
    : engine(engine_ref),
      config(config_value),
      register_limiter(kRegisterRateLimit, config_value.rate_limit),
      login_limiter(kLoginRateLimit, config_value.rate_limit),
      limits(config_value.user_limits
                 ? config_value.user_limits
                 : std::make_shared<UserRateLimits>(config_value.rate_limit)),
      hash_load(HashThreads()),
      pool({.threads = HashThreads(), .queue_max = config_value.hash_queue_max}) {}

int64_t Context::MonotonicMs() const { return engine.clock().NowMonotonicNs() / 1'000'000; }

const std::string& Context::server_name() const { return engine.server_name(); }

void AddBoth(Router& router, std::string_view method, std::string_view suffix, Handler handler,
             RouteOptions options) {
  router.Add(method, std::string(kPrefixV3).append(suffix), handler, options);
  router.Add(method, std::string(kPrefixR0).append(suffix), std::move(handler), options);
}

void AddBothAsync(Router& router, std::string_view method, std::string_view suffix,
                  AsyncHandler handler, RouteOptions options) {
  router.AddAsync(method, std::string(kPrefixV3).append(suffix), handler, options);
  router.AddAsync(method, std::string(kPrefixR0).append(suffix), std::move(handler), options);
}

namespace {

Response WrongType(std::string_view key, std::string_view type) {
  return ErrorResponse(400, "M_BAD_JSON", std::string(key) + " must be " + std::string(type));
}

}  // namespace

bool ReadString(const boost::json::object& body, std::string_view key,
                std::optional<std::string>* out, Response* error) {
  out->reset();
  const boost::json::value* value = body.if_contains(key);
  if (value == nullptr || value->is_null()) return true;
  if (!value->is_string()) {
    *error = WrongType(key, "a string");
    return false;
  }
  *out = std::string(value->as_string());
  return true;
}

bool ReadBool(const boost::json::object& body, std::string_view key, std::optional<bool>* out,
              Response* error) {
  out->reset();
  const boost::json::value* value = body.if_contains(key);
  if (value == nullptr || value->is_null()) return true;
  if (!value->is_bool()) {
    *error = WrongType(key, "a boolean");
    return false;
  }
  *out = value->as_bool();
  return true;
}

Response MissingParam(std::string_view key) {
  return ErrorResponse(400, "M_MISSING_PARAM", "Missing parameter: " + std::string(key));
}

std::string Lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::optional<std::string> LoginUserId(const boost::json::object& body,
                                       std::string_view server_name, Response* error) {
  std::optional<std::string> user;
  if (const boost::json::value* identifier = body.if_contains("identifier")) {
    if (!identifier->is_object()) {
      *error = WrongType("identifier", "an object");
      return std::nullopt;
    }
    std::optional<std::string> type;
    if (!ReadString(identifier->as_object(), "type", &type, error)) return std::nullopt;
    if (type != "m.id.user") {
      *error = ErrorResponse(400, "M_UNKNOWN", "Unsupported identifier type");
      return std::nullopt;
    }
    if (!ReadString(identifier->as_object(), "user", &user, error)) return std::nullopt;
  } else if (!ReadString(body, "user", &user, error)) {
    return std::nullopt;
  }
  if (!user || user->empty()) {
    *error = MissingParam("identifier.user");
    return std::nullopt;
  }
  if (!user->starts_with('@')) return "@" + Lowercase(*user) + ":" + std::string(server_name);
  size_t colon = user->find(':');
  return Lowercase(std::string_view(*user).substr(0, colon)) +
         (colon == std::string::npos ? "" : user->substr(colon));
}

Response UiaChallenge(std::string_view stage, std::string_view errcode, std::string_view error) {
  boost::json::array flows{boost::json::object{{"stages", boost::json::array{stage}}}};
  if (stage == "m.login.password" && SsoUiaEnabled()) {
    flows.push_back(boost::json::object{{"stages", boost::json::array{"m.login.sso"}}});
  }
  boost::json::object body{
      {"flows", std::move(flows)},
      {"params", boost::json::object{}},
      {"session", RandomAlnum(kUiaSessionChars)},
      {"completed", boost::json::array{}}};
  if (!errcode.empty()) {
    body["errcode"] = errcode;
    body["error"] = error;
  }
  return JsonResponse(401, body);
}

std::optional<std::string> UiaPassword(const boost::json::object& body, const Caller& caller,
                                       std::string_view server_name, Response* answer) {
  constexpr std::string_view kStage = "m.login.password";
  const boost::json::value* auth = body.if_contains("auth");
  if (auth == nullptr || auth->is_null()) {
    *answer = UiaChallenge(kStage);
    return std::nullopt;
  }
  if (!auth->is_object()) {
    *answer = WrongType("auth", "an object");
    return std::nullopt;
  }
  const boost::json::object& dict = auth->as_object();
  std::optional<std::string> type;
  if (!ReadString(dict, "type", &type, answer)) return std::nullopt;
  if (type == "m.login.sso" && SsoUiaEnabled()) {
    std::optional<std::string> session;
    if (!ReadString(dict, "session", &session, answer)) return std::nullopt;
    const int64_t now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    if (!session || !SsoUiaSessions().Consume(*session, caller.user_id, now_ms)) {
      *answer = UiaChallenge(kStage, "M_FORBIDDEN",
                             "Single sign-on not confirmed for this session (see the fallback page)");
      return std::nullopt;
    }
    return std::string(kSsoUiaDone);
  }
  if (type != kStage) {
    *answer = UiaChallenge(kStage, "M_UNRECOGNIZED", "Unsupported authentication type");
    return std::nullopt;
  }
  std::optional<std::string> user_id = LoginUserId(dict, server_name, answer);
  if (!user_id) return std::nullopt;
  if (*user_id != caller.user_id) {
    *answer = UiaChallenge(kStage, "M_FORBIDDEN", "Authentication is for another user");
    return std::nullopt;
  }
  std::optional<std::string> password;
  if (!ReadString(dict, "password", &password, answer)) return std::nullopt;
  if (!password) {
    *answer = MissingParam("auth.password");
    return std::nullopt;
  }
  if (password->find('\0') != std::string::npos) {  // never kSsoUiaDone
    *answer = UiaChallenge(kStage, "M_FORBIDDEN", "Invalid password");
    return std::nullopt;
  }
  return password;
}

// Lowers the calling hash worker's priority to kHashThreadsNice, once per thread (Linux:
// nice is per thread). A failure is logged once and changes nothing else.
static void NiceHashWorker() {
  thread_local bool done = false;
  if (done) return;
  done = true;
  const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
  if (::setpriority(PRIO_PROCESS, tid, kHashThreadsNice) != 0) {
    spdlog::warn("accounts: cannot lower a hash worker's priority: {}", std::strerror(errno));
  }
}

// Whole milliseconds, rounded up, within [kHashRetryAfterMsMin, kHashRetryAfterMsMax].
static int64_t ClampRetryAfterMs(double ms) {
  if (ms >= static_cast<double>(kHashRetryAfterMsMax)) return kHashRetryAfterMsMax;
  return std::max(kHashRetryAfterMsMin, static_cast<int64_t>(std::ceil(ms)));
}

HashLoad::HashLoad(size_t threads) : threads_(std::max<size_t>(threads, 1)) {}

void HashLoad::Queued() {
  std::lock_guard lock(mutex_);
  ++waiting_;
}

void HashLoad::Dequeued() {
  std::lock_guard lock(mutex_);
  NEBU_CHECK(waiting_ > 0, "a hash job dequeued twice");
  --waiting_;
}

void HashLoad::Ran(double job_ms) {
  std::lock_guard lock(mutex_);
  job_ms_ += kHashJobMsWeight * (std::max(job_ms, 0.0) - job_ms_);
}

size_t HashLoad::waiting() const {
  std::lock_guard lock(mutex_);
  return waiting_;
}

double HashLoad::job_ms() const {
  std::lock_guard lock(mutex_);
  return job_ms_;
}

double HashLoad::WaitMs() const {
  std::lock_guard lock(mutex_);
  return static_cast<double>(waiting_) * job_ms_ / static_cast<double>(threads_);
}

int64_t HashLoad::RefusedRetryAfterMs(int64_t now_ms, int64_t wait_max_ms, size_t queue_max) {
  std::lock_guard lock(mutex_);
  const double slot_ms = job_ms_ / static_cast<double>(threads_);  // one admission
  const double work_ms = static_cast<double>(waiting_) * slot_ms;
  const double over_count = static_cast<double>(waiting_ + 1) - static_cast<double>(queue_max);
  const double room_ms = std::max({0.0, work_ms - static_cast<double>(wait_max_ms),
                                   over_count * slot_ms});
  const double now = static_cast<double>(now_ms);
  const double back_ms = std::max(now + room_ms, promised_ms_ + slot_ms);
  if (back_ms - now >= static_cast<double>(kHashRetryAfterMsMax)) return kHashRetryAfterMsMax;
  promised_ms_ = back_ms;
  return ClampRetryAfterMs(back_ms - now);
}

// Real time, not the engine's clock: the bounds are about waiting clients.
static int64_t SteadyMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// The 429 of a refused hash job.
static Response Refused(Context* context) {
  return RateLimitedResponse(context->hash_load.RefusedRetryAfterMs(
      SteadyMs(), context->config.hash_wait_ms_max, context->config.hash_queue_max));
}

void OnWorkers(Context* context, Respond respond, std::function<void()> task) {
  HashLoad& load = context->hash_load;
  if (load.WaitMs() > static_cast<double>(context->config.hash_wait_ms_max)) {
    return respond(Refused(context));  // it would wait too long
  }
  const auto queued = std::chrono::steady_clock::now();
  const int64_t stale_ms = context->config.hash_stale_ms_max;
  auto bounded = [context, &load, respond, task = std::move(task), queued, stale_ms] {
    load.Dequeued();
    NiceHashWorker();
    const auto start = std::chrono::steady_clock::now();
    if (start - queued > std::chrono::milliseconds(stale_ms)) {
      return respond(Refused(context));
    }
    task();
    load.Ran(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
                 .count());
  };
  load.Queued();  // before Post: the worker's Dequeued may run before Post returns
  if (!context->pool.Post(std::move(bounded))) {
    load.Dequeued();
    respond(Refused(context));
  }
}

void VerifyThen(Context* context, std::string user_id, std::string password, Respond respond,
                std::function<void()> then) {
  if (auto limited = Limited(context->limits->password_check, user_id, context->MonotonicMs())) {
    return respond(std::move(*limited));
  }
  if (password == kSsoUiaDone) return OnWorkers(context, respond, std::move(then));
  OnWorkers(context, respond, [context, user_id, password, respond, then] {
    Status verified = accounts::VerifyLogin(context->engine.Read(), user_id, password);
    if (verified.code() == StatusCode::kForbidden) {
      respond(UiaChallenge("m.login.password", "M_FORBIDDEN", "Invalid password"));
    } else if (!verified.ok()) {
      respond(ErrorResponse(verified));
    } else {
      then();
    }
  });
}

void SubmitCommand(core::Engine& engine, const accounts::AccountCommand& command,
                   core::ProposalDone done) {
  Result<std::string> payload = accounts::EncodeAccountCommand(command);
  if (!payload.ok()) {
    done(payload.status());
    return;
  }
  engine.SubmitAsync({.kind = core::CommandKind::kAccount, .payload = std::move(*payload)},
                     std::move(done));
}

void SubmitAndAnswer(core::Engine& engine, const accounts::AccountCommand& command, Respond respond,
                     boost::json::object ok_body) {
  SubmitCommand(
      engine, command, [respond, ok_body = std::move(ok_body)](core::ApplyOutcome outcome) {
        respond(outcome.ok() ? JsonResponse(200, ok_body) : ErrorResponse(outcome.status()));
      });
}

}  // namespace nebu::api::account_internal

namespace nebu::api {

size_t HashThreads() {
  return std::clamp<size_t>(std::thread::hardware_concurrency(), kHashThreadsMin,
                            kHashThreadsMax);
}

}  // namespace nebu::api
