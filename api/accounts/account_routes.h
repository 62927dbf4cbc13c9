// Account endpoints of the Client-Server API: registration, login and logout, the
// current user, password change and deactivation, devices, profiles, capabilities.
//
//   Router client("client", &metrics);
//   AddAccountRoutes(client, *engine, {.registration_open = true, .rate_limit = true});
//
// Every route is registered under /_matrix/client/v3 and the legacy /_matrix/client/r0:
//   POST /register                  UIA m.login.dummy; 401 {flows, params, session} first
//   GET  /register/available        {"available": true} or M_USER_IN_USE / M_INVALID_USERNAME
//   GET  /login, POST /login        m.login.password (identifier m.id.user or legacy user)
//   POST /logout, POST /logout/all
//   GET  /account/whoami            {"user_id", "device_id", "is_guest": false}
//   POST /account/password          UIA m.login.password; logout_devices keeps this device
//   POST /account/deactivate        UIA m.login.password
//   GET  /devices, GET|PUT|DELETE /devices/{deviceId} (DELETE: UIA m.login.password)
//   POST /delete_devices            UIA m.login.password
//   GET  /profile/{userId}, GET|PUT /profile/{userId}/displayname|avatar_url
//   GET|PUT|DELETE /profile/{userId}/{keyName}   extended fields (m.tz, ...), yourself only
//   GET  /capabilities              m.get_login_token, m.profile_fields enabled
//   GET  /admin/whois/{userId}      an admin or yourself (admin_routes.cpp)
// and, without the r0 copy (session_routes.cpp, admin_routes.cpp):
//   POST /_matrix/client/v3/refresh, POST /_matrix/client/v1/login/get_token,
//   POST /user/{userId}/openid/request_token (v3 and r0),
//   GET  /_matrix/federation/v1/openid/userinfo (served on the client listener),
//   GET  /_matrix/client/v1/register/m.login.registration_token/validity,
//   GET|PUT /_matrix/client/v1/admin/suspend/{userId}, /admin/lock/{userId}
//
// Sessions: `refresh_token: true` on /register and /login adds refresh_token and
// expires_in_ms (config.access_token_lifetime_ms) to the answer; such access tokens
// are refused from then on with 401 M_UNKNOWN_TOKEN, soft_logout true (api/auth.cpp).
// /login also takes m.login.token (a single-use token from /login/get_token,
// accounts::kLoginTokenLifetimeMs). With registration_requires_token the /register
// flow is m.login.registration_token instead of m.login.dummy.
//
// User-Interactive Auth is stateless: the session ID of a 401 is random and not kept;
// a request that carries a complete `auth` of the flow's one stage (m.login.dummy for
// registration, m.login.password for the rest) succeeds with or without a session.
// A wrong password in `auth` is answered 401 with the flows and M_FORBIDDEN.
//
// Work distribution: reads and token checks run on the server thread; mutations go
// through core::Engine::SubmitAsync (the server thread is not held during the fsync);
// argon2id hashing and verification (~35 ms each on an idle core) run on a WorkerPool
// of HashThreads() threads owned by these routes (at nice kHashThreadsNice). A login
// storm is queued, not refused: up to hash_queue_max jobs wait, each about
// hash_wait_ms_max at most. A job is refused at once with 429 M_LIMIT_EXCEEDED when
// the queue is full or when its estimated wait (jobs waiting x the measured time per
// job / threads) is over hash_wait_ms_max; a job that waited longer than
// hash_stale_ms_max anyway (the hash rate fell) is answered the same 429 instead of
// run, as its client has likely given up. retry_after_ms of these 429s
// is estimated from the same figures: when the queue will have room again, each
// refused client one admission later than the one refused before it (a virtual queue,
// so a storm's refused clients come back spread out), clamped to
// [kHashRetryAfterMsMin, kHashRetryAfterMsMax]; see account_internal::HashLoad.
// /register and /login are rate-limited per client IP
// (api/rate_limit.h) unless config.rate_limit is false; /login also per account
// (kLoginAttemptRateLimit: attempts, refilled by a success; kNewDeviceRateLimit), and
// per user: password re-checks, profile changes, account data and tags.
//
// Ownership and thread-safety: the routes keep a reference to engine, which must
// outlive the router; the worker pool lives as long as the router's handlers and
// finishes its queue when the router is destroyed, so destroy the router before the
// engine. Handlers are safe from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "api/rate_limit.h"
#include "api/router.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

// argon2id workers: one per hardware thread, at least kHashThreadsMin, at most
// kHashThreadsMax (each hash holds the argon2id memory cost, 19 MiB by default, so at
// most 8 x 19 MiB). They run at kHashThreadsNice, so more of them never slow the I/O
// threads down; they only raise the login rate a machine with more cores reaches.
inline constexpr size_t kHashThreadsMin = 2;
inline constexpr size_t kHashThreadsMax = 8;
// Hash jobs waiting for a worker (the memory bound: a queued job holds its request's
// fields, a few hundred bytes, and its open connection). 1024 is ~50 s of work at the ~20
// logins/s two cores reach, so on such a machine the wait bound below binds first.
inline constexpr size_t kHashQueueMax = 1024;
// The wait bound: a hash job is queued only while its estimated wait for a worker is
// at most this; else it is refused at once (it would only time out). 30 s: half the
// 60 s that HTTP clients and proxies commonly allow a request (k6, nginx's
// proxy_read_timeout, AWS ALB's idle timeout), so a queued login is answered before
// its client gives up even when the hash rate falls (other load on the machine).
inline constexpr int64_t kHashWaitMsMax = 30'000;
// A queued job that waited longer than this (the estimate was wrong: the hash rate
// fell) is answered 429 M_LIMIT_EXCEEDED instead of run: by then its client has given
// up (the 60 s above), and a storm must not turn into minutes of stale work.
inline constexpr int64_t kHashStaleMsMax = 60'000;
// The bounds of a hash-queue 429's retry_after_ms (see the file comment).
inline constexpr int64_t kHashRetryAfterMsMin = 100;
inline constexpr int64_t kHashRetryAfterMsMax = 30'000;
// The time per hash job assumed until the first job has been measured.
inline constexpr int64_t kHashJobMsInitial = 50;
// The hash workers' nice value: under a login storm the I/O threads (sends, syncs)
// get the CPU first.
inline constexpr int kHashThreadsNice = 10;
inline constexpr size_t kDeleteDevicesMax = 1000;  // device IDs in one /delete_devices

// The default lifetime of an access token issued with a refresh token (5 min, as
// Synapse; the app's NEBU_ACCESS_TOKEN_LIFETIME_MS).
inline constexpr int64_t kAccessTokenLifetimeMsDefault = 5 * 60 * 1000;

struct AccountRoutesConfig {
  bool registration_open = false;  // false: POST /register answers 403 M_FORBIDDEN
  // true (with registration_open false): POST /register only with a valid registration
  // token, UIA stage m.login.registration_token.
  bool registration_requires_token = false;
  int64_t access_token_lifetime_ms = kAccessTokenLifetimeMsDefault;
  bool rate_limit = true;          // false: no 429s from these routes
  // The per-user limiters (profile, account data, new devices, password checks, login
  // attempts per account; api/rate_limit.h); null: the routes' own, on when rate_limit is.
  std::shared_ptr<UserRateLimits> user_limits = nullptr;
  // false (NEBU_PASSWORD_LOGIN=off): GET /login omits m.login.password, POST /login
  // with it and POST /register answer 403 M_FORBIDDEN, m.change_password is disabled.
  bool password_login = true;
  // Non-empty: GET /login lists m.login.sso with this identity provider
  // (api/sso/sso_routes.h), and the UIA of users without a password is m.login.sso.
  std::string sso_idp_id{};
  std::string sso_idp_name{};
  // The hash queue's bounds (see the file comment); tests make them small.
  size_t hash_queue_max = kHashQueueMax;
  int64_t hash_wait_ms_max = kHashWaitMsMax;
  int64_t hash_stale_ms_max = kHashStaleMsMax;
};

// The number of hash workers on this machine (kHashThreadsMin..kHashThreadsMax).
size_t HashThreads();

void AddAccountRoutes(Router& router, core::Engine& engine, const AccountRoutesConfig& config);

// Proposes a leave of every room the user is joined to, invited to or knocking on
// (spec: deactivation leaves the user's rooms; POST /account/deactivate and the admin
// API's deactivation), then runs `then` once every leave applied. A leave that fails
// (a room that refuses it) is logged and skipped: the deactivation goes on. `then`
// runs on the apply thread (or this one when there is nothing to leave).
void LeaveAllRooms(core::Engine& engine, const std::string& user_id, std::function<void()> then);

}  // namespace nebu::api
