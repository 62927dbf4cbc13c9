// Internal to api/admin/: the route wrapper that checks the caller's role and records
// every call in the audit log (admin_routes.h says the rules), and small helpers the
// admin handlers share. Not a public API.
#pragma once

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <functional>
#include <map>
#include <mutex>
#include <span>
#include <memory>
#include <string>
#include <string_view>

#include "api/admin/admin_routes.h"
#include "api/auth.h"
#include "api/rate_limit.h"
#include "api/worker_pool.h"
#include "engine/admin/admin.h"
#include "engine/core/committer.h"

namespace nebu::rooms {
class RoomState;
}

namespace nebu::api::admin_internal {

// Body and query fields never copied into an audit record (at any depth; "auth" holds
// UIA, "token" a registration token's value).
inline constexpr std::string_view kSecretFields[] = {"password", "new_password", "auth",
                                                     "access_token", "mac", "nonce", "token"};
// Path parameters whose values are secrets (registration tokens): an audit record's
// target and params carry RedactedSecret(value) instead.
inline constexpr std::string_view kSecretPathParams[] = {"token"};
// Hex characters of a secret's SHA-256 kept by RedactedSecret.
inline constexpr size_t kRedactedSecretHexChars = 16;
// "sha256:" + the first kRedactedSecretHexChars hex characters of SHA-256(secret): lets an
// auditor tell records about the same token apart from others without storing it (a
// generated token cannot be recovered from it; a short guessable one chosen by an admin
// could be, by trying candidates).
std::string RedactedSecret(std::string_view secret);
// Pages of the admin lists: Synapse's default and our most per page.
inline constexpr int64_t kAdminPageDefault = 100;
inline constexpr int64_t kAdminPageMax = 1000;
// Refused calls (a caller without the route's role) are audited too, but each is a
// replicated write an ordinary account could repeat: past this per-user bucket a refusal
// answers 403 without a record. Always on, whatever NEBU_RATE_LIMIT says (it protects the
// log, like a quota).
inline constexpr RateLimit kRefusalAuditRateLimit{.per_second = 1.0 / 60, .burst = 32};

struct Context {
  Context(core::Engine& engine_ref, AdminRoutesOptions options_value);
  [[nodiscard]] const std::string& server_name() const;
  [[nodiscard]] int64_t NowMs() const;

  core::Engine& engine;
  const AdminRoutesOptions options;
  // Nonces of /_synapse/admin/v1/register: nonce -> expiry (monotonic ms).
  std::mutex nonces_mutex;
  std::map<std::string, int64_t> nonces;
  RateLimiter refusal_audits{kRefusalAuditRateLimit};  // per caller; see kRefusalAuditRateLimit
  std::vector<AdminRoute> routes;  // what AddRoute registered (set-up only)
  WorkerPool pool;  // password hashing; the last member (see account_common.h)
};
using ContextPtr = std::shared_ptr<Context>;

enum class Surface { kAdmin, kCompliance };

// What a handler gets: copies of the request and its path parameters, and the caller.
struct Call {
  Request request;
  PathParams params;
  Caller caller;
  admin::Roles roles;
};
using Finish = std::function<void(Response)>;
using CallHandler = std::function<void(Context* context, const Call& call, Finish finish)>;

// Registers method + pattern: authenticates, checks the surface's role, runs handler
// and records the call under `action` before answering.
void AddRoute(Router& router, const ContextPtr& context, std::string_view method,
              std::string_view pattern, std::string action, Surface surface,
              CallHandler handler);

// The audit record's target of a route's path parameters (the first of userId, roomId,
// reportId, token (redacted), deleteId, mediaId).
std::string TargetOf(const PathParams& params);
// Records a call of `actor` in the audit log (outcome from the response), then answers it.
void RecordCall(core::Engine& engine, const std::string& action, const std::string& actor,
                const std::string& target, boost::json::object params, Response response,
                const Respond& respond);
// Records a call in the audit log (outcome from the response), then answers it.
void RecordThen(Context* context, const std::string& action, const Caller& caller,
                const std::string& target, boost::json::object params, Response response,
                const Respond& respond);

// The audit parameters of a request (path, query, top-level body fields) minus secrets.
boost::json::object AuditParams(const Request& request, const PathParams& params);

// Helpers for handlers.
// 400 M_INVALID_PARAM unless user_id is a user ID of this server.
// Reads a list route's `order_by` (one of `orders`) and `dir` (f|b) into *order_by and
// *backwards; a 400 M_INVALID_PARAM response for a value outside them.
std::optional<Response> ParseListOrder(const Request& request,
                                       std::span<const std::string_view> orders,
                                       std::string* order_by, bool* backwards);
// A list route's 200 answer with the X-Nebu-Projection-Lag header: stream positions
// between the node's head and the checkpoint the list was read at.
Response ListResponse(const Context& context, const boost::json::object& body,
                      uint64_t projection_position);
std::optional<Response> CheckLocalUser(const Context& context, std::string_view user_id);
// A content field of the room's state event of `type` (empty state key), or null.
boost::json::value StateField(const rooms::RoomState& state, std::string_view type,
                              std::string_view field);
// A query integer: nullopt with *error = 400 M_INVALID_PARAM when malformed or < min.
std::optional<int64_t> QueryInt(const Request& request, std::string_view name, int64_t fallback,
                                int64_t min, Response* error);
// A query boolean ("true"/"false"); nullopt when absent; *error on another value.
std::optional<bool> QueryBool(const Request& request, std::string_view name, Response* error);
// Proposes a command and finishes with ok_status + ok_body, or the mapped error.
void SubmitThen(Context* context, core::Command command, Finish finish,
                std::function<Response(const std::string& outcome)> on_ok);

// The route groups.
void AddUserRoutes(Router& router, const ContextPtr& context);
void AddRoomRoutes(Router& router, const ContextPtr& context);
void AddAuditRoutes(Router& router, const ContextPtr& context);
void AddRegisterRoutes(Router& router, const ContextPtr& context);
void AddTokenRoutes(Router& router, const ContextPtr& context);
void AddReportRoutes(Router& router, const ContextPtr& context);
void AddMediaAdminRoutes(Router& router, const ContextPtr& context);
void AddServerNoticeRoutes(Router& router, const ContextPtr& context);
void AddExportRoutes(Router& router, const ContextPtr& context);  // api/compliance/export_routes.h
void AddStatsRoutes(Router& router, const ContextPtr& context);
void AddComplianceRoutes(Router& router, const ContextPtr& context);  // api/compliance/
void AddRoomDeleteRoutes(Router& router, const ContextPtr& context);
void AddModerationRoutes(Router& router, const ContextPtr& context);

}  // namespace nebu::api::admin_internal
