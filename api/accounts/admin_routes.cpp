// The Client-Server admin routes of api/accounts/account_routes.h (admin.yaml):
//
//   GET /_matrix/client/v3/admin/whois/{userId}   an admin, or the user themself
//   GET|PUT /_matrix/client/v1/admin/suspend/{userId}   admins only
//   GET|PUT /_matrix/client/v1/admin/lock/{userId}      admins only
//
// An admin is a user with the admin role (admin::GetRoles: set by the admin API, or
// the account's flag from registration). A PUT may not target the caller nor another
// admin (403). The effect of a lock or suspension is enforced on every request by
// api/auth.cpp.
//
// Audited like the admin API (api/admin/admin_routes.h, AdminAuditRecorder): every
// call by an admin, and refusals (403) of others, rate-limited; a user's whois of
// themself is an ordinary client call and is not recorded. Actions "client.whois",
// "client.suspend.get|put", "client.lock.get|put".
#include <boost/json/object.hpp>

#include "api/accounts/account_common.h"
#include "api/admin/admin_routes.h"
#include "api/errors.h"
#include "engine/accounts/accounts.h"
#include "engine/admin/admin.h"
#include "engine/core/engine.h"

namespace nebu::api::account_internal {
namespace {

using boost::json::object;

// The effective admin role (engine/admin/admin.h: the role record, else the account's flag).
bool IsAdmin(Context& context, const std::string& user_id) {
  Result<admin::Roles> roles = admin::GetRoles(context.engine.Read(), user_id);
  return roles.ok() && roles->admin;
}

// The target of an admin route: 400 M_INVALID_PARAM for another server's user, 404
// M_NOT_FOUND for an unknown or deactivated one.
std::variant<accounts::User, Response> Target(Context& context, const std::string& user_id) {
  const std::string suffix = ":" + context.server_name();
  if (!user_id.ends_with(suffix)) {
    return ErrorResponse(400, "M_INVALID_PARAM", "Not a user of this server");
  }
  Result<accounts::User> user = accounts::GetUser(context.engine.Read(), user_id);
  if (!user.ok()) {
    if (user.status().code() == StatusCode::kNotFound) {
      return ErrorResponse(404, "M_NOT_FOUND", "No such user");
    }
    return ErrorResponse(user.status());
  }
  if (user->deactivated) return ErrorResponse(404, "M_NOT_FOUND", "User is deactivated");
  return std::move(user).value();
}

using RecorderPtr = std::shared_ptr<AdminAuditRecorder>;

Response WhoIsAnswer(Context& context, const std::string& user_id) {
  Result<std::vector<accounts::Device>> devices =
      accounts::ListDevices(context.engine.Read(), user_id);
  if (!devices.ok()) return ErrorResponse(devices.status());
  // nebu keeps no per-connection record (IP, user agent, last seen): every session is
  // listed with no connections.
  object by_device;
  for (const accounts::Device& device : *devices) {
    by_device[device.device_id] = object{
        {"sessions", boost::json::array{object{{"connections", boost::json::array{}}}}}};
  }
  return JsonResponse(200, object{{"user_id", user_id}, {"devices", std::move(by_device)}});
}

void WhoIs(Context& context, const RecorderPtr& recorder, const Request& request,
           const PathParams& params, const Respond& respond) {
  const std::string& user_id = params.at("userId");
  auto caller = Authenticate(request, context.engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(std::move(*error));
  const Caller& who = std::get<Caller>(caller);
  const bool admin = IsAdmin(context, who.user_id);
  if (!admin && who.user_id == user_id) return respond(WhoIsAnswer(context, user_id));
  if (!admin) {
    return recorder->RecordRefusal(
        "client.whois", who.user_id, request, params,
        ErrorResponse(403, "M_FORBIDDEN", "Only admins may look up other users"), respond);
  }
  recorder->Record("client.whois", who.user_id, request, params, WhoIsAnswer(context, user_id),
                   respond);
}

enum class Restriction { kSuspend, kLock };

std::string_view FlagName(Restriction r) {
  return r == Restriction::kSuspend ? "suspended" : "locked";
}

void Restrict(Context* context, const RecorderPtr& recorder, Restriction restriction,
              const Request& request, const PathParams& params, Respond plain_respond) {
  const std::string& user_id = params.at("userId");
  auto caller = Authenticate(request, context->engine);
  if (auto* error = std::get_if<Response>(&caller)) return plain_respond(std::move(*error));
  const Caller& who = std::get<Caller>(caller);
  const std::string action = "client." +
                             std::string(restriction == Restriction::kSuspend ? "suspend" : "lock") +
                             (request.method == "GET" ? ".get" : ".put");
  if (!IsAdmin(*context, who.user_id)) {
    return recorder->RecordRefusal(action, who.user_id, request, params,
                                   ErrorResponse(403, "M_FORBIDDEN", "Only admins may do this"),
                                   plain_respond);
  }
  // From here every answer is recorded first (the request and params are copied: an
  // asynchronous answer outlives them).
  Respond respond = [recorder, action, actor = who.user_id, request, params,
                     plain_respond](Response response) {
    recorder->Record(action, actor, request, params, std::move(response), plain_respond);
  };
  auto target = Target(*context, user_id);
  if (auto* error = std::get_if<Response>(&target)) return respond(std::move(*error));
  const accounts::User& user = std::get<accounts::User>(target);
  const std::string_view flag = FlagName(restriction);
  if (request.method == "GET") {
    bool value = restriction == Restriction::kSuspend ? user.suspended : user.locked;
    return respond(JsonResponse(200, object{{flag, value}}));
  }
  if (user_id == who.user_id || IsAdmin(*context, user_id)) {
    return respond(ErrorResponse(403, "M_FORBIDDEN", "Cannot restrict yourself or an admin"));
  }
  auto parsed = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&parsed)) return respond(std::move(*error));
  Response error;
  std::optional<bool> value;
  if (!ReadBool(std::get<object>(parsed), flag, &value, &error)) return respond(std::move(error));
  if (!value) return respond(MissingParam(flag));
  accounts::RestrictUserCommand command{.user_id = user_id};
  (restriction == Restriction::kSuspend ? command.suspended : command.locked) = *value;
  SubmitAndAnswer(context->engine, command, respond, object{{flag, *value}});
}

void AddRestriction(Router& router, const ContextPtr& context, const RecorderPtr& recorder,
                    Restriction restriction) {
  std::string pattern = "/_matrix/client/v1/admin/" +
                        std::string(restriction == Restriction::kSuspend ? "suspend" : "lock") +
                        "/{userId}";
  for (std::string_view method : {"GET", "PUT"}) {
    router.AddAsync(method, pattern,
                    [context, recorder, restriction](const Request& request,
                                                     const PathParams& params, Respond respond) {
                      Restrict(context.get(), recorder, restriction, request, params,
                               std::move(respond));
                    });
  }
}

}  // namespace

void AddAdminRoutes(Router& router, const ContextPtr& context) {
  auto recorder = std::make_shared<AdminAuditRecorder>(context->engine);
  AddBothAsync(router, "GET", "/admin/whois/{userId}",
               [context, recorder](const Request& request, const PathParams& params,
                                   Respond respond) {
                 WhoIs(*context, recorder, request, params, respond);
               });
  AddRestriction(router, context, recorder, Restriction::kSuspend);
  AddRestriction(router, context, recorder, Restriction::kLock);
}

}  // namespace nebu::api::account_internal
