// Users under /_synapse/admin (Synapse's user admin API): query, create or modify,
// deactivate, reset_password, whois, devices, joined_rooms, the admin flag, suspend,
// and the users list (PostgreSQL, admin_routes.h).
#include <boost/json.hpp>

#include "api/accounts/account_routes.h"
#include "api/admin/admin_common.h"
#include "api/errors.h"
#include "engine/accounts/accounts.h"
#include "engine/accounts/commands.h"
#include "engine/compliance/compliance.h"
#include "engine/core/engine.h"

namespace nebu::api::admin_internal {
namespace {

namespace json = boost::json;

core::Command AccountCommand(const accounts::AccountCommand& command) {
  Result<std::string> payload = accounts::EncodeAccountCommand(command);
  // Commands are built from validated input; an encode failure is reported by apply.
  return {core::CommandKind::kAccount, payload.ok() ? *payload : std::string("{}")};
}
core::Command AdminCommand(const admin::AdminCommand& command) {
  Result<std::string> payload = admin::EncodeAdminCommand(command);
  return {core::CommandKind::kAudit, payload.ok() ? *payload : std::string("{}")};
}

// Proposes commands one after the other; then() after the last, the first error ends.
void RunCommands(Context* context, std::shared_ptr<std::vector<core::Command>> commands,
                 size_t next, Finish finish, std::function<void()> then) {
  if (next == commands->size()) return then();
  context->engine.SubmitAsync((*commands)[next], [context, commands, next, finish,
                                                  then](core::ApplyOutcome outcome) {
    if (!outcome.ok()) return finish(ErrorResponse(outcome.status()));
    RunCommands(context, commands, next + 1, finish, then);
  });
}

json::value OrNull(const std::optional<std::string>& v) {
  return v ? json::value(*v) : json::value(nullptr);
}

// Synapse's user object, or 404.
std::variant<json::object, Response> UserJson(Context* context, const std::string& user_id) {
  core::Snapshot view = context->engine.Read();
  Result<accounts::User> user = accounts::GetUser(view, user_id);
  if (!user.ok()) {
    if (user.status().code() == StatusCode::kNotFound) {
      return ErrorResponse(404, "M_NOT_FOUND", "User not found");
    }
    return ErrorResponse(user.status());
  }
  Result<accounts::Profile> profile = accounts::GetProfile(view, user_id);
  Result<admin::Roles> roles = admin::GetRoles(view, user_id);
  if (!profile.ok() || !roles.ok()) {
    return ErrorResponse(!profile.ok() ? profile.status() : roles.status());
  }
  return json::object{{"name", user_id},
                      {"displayname", OrNull(profile->displayname)},
                      {"avatar_url", OrNull(profile->avatar_url)},
                      {"threepids", json::array{}},
                      {"external_ids", json::array{}},
                      {"is_guest", false},
                      {"admin", roles->admin},
                      {"auditor", roles->auditor},
                      {"deactivated", user->deactivated},
                      {"erased", user->deactivated && !profile->displayname &&
                                     !profile->avatar_url},
                      {"shadow_banned", user->shadow_banned},
                      {"locked", user->locked},
                      {"suspended", user->suspended},
                      {"creation_ts", user->created_ts / 1000},
                      {"appservice_id", nullptr},
                      {"consent_server_notice_sent", nullptr},
                      {"consent_version", nullptr},
                      {"consent_ts", nullptr},
                      {"user_type", nullptr},
                      {"is_local", true},
                      {"last_seen_ts", nullptr}};
}

void AnswerUser(Context* context, const std::string& user_id, int status, const Finish& finish) {
  auto user = UserJson(context, user_id);
  if (auto* error = std::get_if<Response>(&user)) return finish(std::move(*error));
  finish(JsonResponse(status, std::get<json::object>(user)));
}

// Typed optional body fields; false with *error on a wrong type.
bool BodyString(const json::object& body, std::string_view key, std::optional<std::string>* out,
                Response* error) {
  const json::value* v = body.if_contains(key);
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_string()) {
    *error = ErrorResponse(400, "M_BAD_JSON", std::string(key) + " must be a string");
    return false;
  }
  *out = std::string(v->as_string());
  return true;
}
bool BodyBool(const json::object& body, std::string_view key, std::optional<bool>* out,
              Response* error) {
  const json::value* v = body.if_contains(key);
  if (v == nullptr || v->is_null()) return true;
  if (!v->is_bool()) {
    *error = ErrorResponse(400, "M_BAD_JSON", std::string(key) + " must be a boolean");
    return false;
  }
  *out = v->as_bool();
  return true;
}

struct UserEdit {
  std::optional<std::string> password, displayname, avatar_url;
  std::optional<bool> logout_devices, admin, auditor, deactivated, locked;
};

std::optional<UserEdit> ParseUserEdit(const Request& request, Response* error) {
  auto parsed = ParseJsonBody(request);
  if (auto* e = std::get_if<Response>(&parsed)) {
    *error = std::move(*e);
    return std::nullopt;
  }
  const json::object& body = std::get<json::object>(parsed);
  UserEdit edit;
  if (!BodyString(body, "password", &edit.password, error) ||
      !BodyString(body, "displayname", &edit.displayname, error) ||
      !BodyString(body, "avatar_url", &edit.avatar_url, error) ||
      !BodyBool(body, "logout_devices", &edit.logout_devices, error) ||
      !BodyBool(body, "admin", &edit.admin, error) ||
      !BodyBool(body, "auditor", &edit.auditor, error) ||
      !BodyBool(body, "deactivated", &edit.deactivated, error) ||
      !BodyBool(body, "locked", &edit.locked, error)) {
    return std::nullopt;
  }
  return edit;
}

// The commands of a PUT after the user exists (and after a password change).
void AppendEdits(const std::string& user_id, const UserEdit& edit,
                 std::vector<core::Command>* commands) {
  if (edit.displayname) {
    commands->push_back(AccountCommand(
        accounts::SetDisplayNameCommand{.user_id = user_id, .displayname = edit.displayname}));
  }
  if (edit.avatar_url) {
    commands->push_back(AccountCommand(
        accounts::SetAvatarUrlCommand{.user_id = user_id, .avatar_url = edit.avatar_url}));
  }
  if (edit.admin || edit.auditor) {
    commands->push_back(AdminCommand(
        admin::SetRolesCommand{.user_id = user_id, .admin = edit.admin, .auditor = edit.auditor}));
  }
  if (edit.locked) {
    commands->push_back(AccountCommand(
        accounts::RestrictUserCommand{.user_id = user_id, .locked = edit.locked}));
  }
  if (edit.deactivated.value_or(false)) {
    commands->push_back(AccountCommand(accounts::DeactivateCommand{.user_id = user_id}));
  }
}

void PutUser(Context* context, const Call& call, Finish finish) {
  const std::string user_id = call.params.at("userId");
  if (auto error = CheckLocalUser(*context, user_id)) return finish(std::move(*error));
  Response error;
  std::optional<UserEdit> edit = ParseUserEdit(call.request, &error);
  if (!edit) return finish(std::move(error));
  Result<accounts::User> user = accounts::GetUser(context->engine.Read(), user_id);
  if (!user.ok() && user.status().code() != StatusCode::kNotFound) {
    return finish(ErrorResponse(user.status()));
  }
  const bool exists = user.ok();
  if (exists && user->deactivated && edit->deactivated == false) {
    return finish(ErrorResponse(400, "M_INVALID_PARAM", "Reactivating a user is not supported"));
  }
  if (user_id == call.caller.user_id && (edit->admin == false || edit->deactivated == true)) {
    return finish(ErrorResponse(400, "M_INVALID_PARAM",
                                "You may not demote or deactivate yourself"));
  }
  // Password hashing (~35 ms) runs on the pool, then the commands in order.
  bool posted = context->pool.Post([context, user_id, exists, wanted = *edit, finish] {
    auto commands = std::make_shared<std::vector<core::Command>>();
    if (!exists) {
      accounts::RegistrationRequest request{
          .user_id = user_id,
          .password = wanted.password,
          .displayname = wanted.displayname ? wanted.displayname
                                          : std::optional<std::string>(
                                                user_id.substr(1, user_id.find(':') - 1)),
          .inhibit_login = true};
      Result<accounts::Prepared> prepared = accounts::PrepareRegistration(request, context->NowMs());
      if (!prepared.ok()) return finish(ErrorResponse(prepared.status()));
      commands->push_back({core::CommandKind::kAccount, prepared->payload});
      UserEdit rest = wanted;
      rest.displayname.reset();
      AppendEdits(user_id, rest, commands.get());
    } else {
      if (wanted.password) {
        Result<accounts::Prepared> prepared = accounts::PrepareSetPassword(
            user_id, *wanted.password, wanted.logout_devices.value_or(true), std::nullopt);
        if (!prepared.ok()) return finish(ErrorResponse(prepared.status()));
        commands->push_back({core::CommandKind::kAccount, prepared->payload});
      }
      AppendEdits(user_id, wanted, commands.get());
    }
    auto run = [context, commands, user_id, exists, finish] {
      RunCommands(context, commands, 0, finish, [context, user_id, exists, finish] {
        AnswerUser(context, user_id, exists ? 200 : 201, finish);
      });
    };
    // Deactivation leaves the user's rooms first, as the client API's does.
    if (exists && wanted.deactivated.value_or(false)) {
      return LeaveAllRooms(context->engine, user_id, run);
    }
    run();
  });
  if (!posted) finish(ErrorResponse(429, "M_LIMIT_EXCEEDED", "Too many password hashes queued"));
}

void GetUserRoute(Context* context, const Call& call, Finish finish) {
  const std::string& user_id = call.params.at("userId");
  if (auto error = CheckLocalUser(*context, user_id)) return finish(std::move(*error));
  AnswerUser(context, user_id, 200, finish);
}

// The user must exist (deactivated ones too): 404 otherwise.
std::optional<Response> RequireUser(Context* context, const std::string& user_id) {
  if (auto error = CheckLocalUser(*context, user_id)) return error;
  Result<bool> exists = accounts::UserExists(context->engine.Read(), user_id);
  if (!exists.ok()) return ErrorResponse(exists.status());
  if (!*exists) return ErrorResponse(404, "M_NOT_FOUND", "User not found");
  return std::nullopt;
}

// Erasure of a user under a legal hold (compliance::FindHold) is refused: 403
// M_FORBIDDEN naming the hold (the same answer as a purge a hold refuses), and nothing
// changes; deactivation without erase stays possible.
std::optional<Response> RefuseHeldErasure(Context* context, const std::string& user_id) {
  Result<std::optional<compliance::Hold>> hold =
      compliance::FindHold(context->engine.Read(), user_id);
  if (!hold.ok()) return ErrorResponse(hold.status());
  if (!*hold) return std::nullopt;
  return ErrorResponse(403, "M_FORBIDDEN",
                       "User " + user_id + " is under legal hold " + (*hold)->hold_id +
                           " (case " + (*hold)->case_id +
                           "): erasing their data is refused; deactivate without erase, or "
                           "release the hold first");
}

void AdminDeactivate(Context* context, const Call& call, Finish finish) {
  const std::string user_id = call.params.at("userId");
  if (auto error = RequireUser(context, user_id)) return finish(std::move(*error));
  auto parsed = ParseJsonBody(call.request);
  if (auto* e = std::get_if<Response>(&parsed)) return finish(std::move(*e));
  Response error;
  std::optional<bool> erase;
  if (!BodyBool(std::get<json::object>(parsed), "erase", &erase, &error)) {
    return finish(std::move(error));
  }
  if (user_id == call.caller.user_id) {
    return finish(ErrorResponse(400, "M_INVALID_PARAM", "You may not deactivate yourself"));
  }
  if (erase.value_or(false)) {
    if (auto held = RefuseHeldErasure(context, user_id)) return finish(std::move(*held));
  }
  // The rooms first, then the account (api/accounts/account_routes.h LeaveAllRooms).
  LeaveAllRooms(context->engine, user_id, [context, user_id, erase, finish] {
    SubmitThen(context,
               AccountCommand(accounts::DeactivateCommand{.user_id = user_id,
                                                          .erase = erase.value_or(false)}),
               finish, [](const std::string&) {
                 return JsonResponse(200, json::object{{"id_server_unbind_result", "success"}});
               });
  });
}

void ResetPassword(Context* context, const Call& call, Finish finish) {
  const std::string user_id = call.params.at("userId");
  if (auto error = RequireUser(context, user_id)) return finish(std::move(*error));
  auto parsed = ParseJsonBody(call.request);
  if (auto* e = std::get_if<Response>(&parsed)) return finish(std::move(*e));
  Response error;
  std::optional<std::string> password;
  std::optional<bool> logout;
  const json::object& body = std::get<json::object>(parsed);
  if (!BodyString(body, "new_password", &password, &error) ||
      !BodyBool(body, "logout_devices", &logout, &error)) {
    return finish(std::move(error));
  }
  if (!password) return finish(ErrorResponse(400, "M_MISSING_PARAM", "Missing new_password"));
  bool posted = context->pool.Post([context, user_id, new_password = *password,
                                    logout_devices = logout.value_or(true), finish] {
    Result<accounts::Prepared> prepared =
        accounts::PrepareSetPassword(user_id, new_password, logout_devices, std::nullopt);
    if (!prepared.ok()) return finish(ErrorResponse(prepared.status()));
    SubmitThen(context, {core::CommandKind::kAccount, prepared->payload}, finish,
               [](const std::string&) { return JsonResponse(200, json::object{}); });
  });
  if (!posted) finish(ErrorResponse(429, "M_LIMIT_EXCEEDED", "Too many password hashes queued"));
}

void AdminWhoIs(Context* context, const Call& call, Finish finish) {
  const std::string& user_id = call.params.at("userId");
  if (auto error = RequireUser(context, user_id)) return finish(std::move(*error));
  Result<std::vector<accounts::Device>> devices =
      accounts::ListDevices(context->engine.Read(), user_id);
  if (!devices.ok()) return finish(ErrorResponse(devices.status()));
  json::object by_device;
  for (const accounts::Device& device : *devices) {
    by_device[device.device_id] =
        json::object{{"sessions", json::array{json::object{{"connections", json::array{}}}}}};
  }
  finish(JsonResponse(200, json::object{{"user_id", user_id}, {"devices", std::move(by_device)}}));
}

json::object AdminDeviceJson(const std::string& user_id, const accounts::Device& device) {
  return json::object{{"device_id", device.device_id},
                      {"display_name", OrNull(device.display_name)},
                      {"last_seen_ip", nullptr},
                      {"last_seen_ts", nullptr},
                      {"last_seen_user_agent", nullptr},
                      {"user_id", user_id}};
}

void ListDevicesRoute(Context* context, const Call& call, Finish finish) {
  const std::string& user_id = call.params.at("userId");
  if (auto error = RequireUser(context, user_id)) return finish(std::move(*error));
  Result<std::vector<accounts::Device>> devices =
      accounts::ListDevices(context->engine.Read(), user_id);
  if (!devices.ok()) return finish(ErrorResponse(devices.status()));
  json::array list;
  for (const accounts::Device& device : *devices) list.push_back(AdminDeviceJson(user_id, device));
  const auto total = static_cast<int64_t>(list.size());
  finish(JsonResponse(200, json::object{{"devices", std::move(list)}, {"total", total}}));
}

void DeviceRoute(Context* context, const Call& call, Finish finish) {
  const std::string user_id = call.params.at("userId");
  const std::string device_id = call.params.at("deviceId");
  if (auto error = RequireUser(context, user_id)) return finish(std::move(*error));
  Result<accounts::Device> device = accounts::GetDevice(context->engine.Read(), user_id, device_id);
  if (call.request.method == "DELETE") {
    // Synapse answers 200 for a device that is already gone.
    if (!device.ok() && device.status().code() == StatusCode::kNotFound) {
      return finish(JsonResponse(200, json::object{}));
    }
    return SubmitThen(
        context,
        AccountCommand(accounts::DeleteDeviceCommand{.user_id = user_id, .device_id = device_id}),
        finish, [](const std::string&) { return JsonResponse(200, json::object{}); });
  }
  if (!device.ok()) {
    if (device.status().code() == StatusCode::kNotFound) {
      return finish(ErrorResponse(404, "M_NOT_FOUND", "No such device"));
    }
    return finish(ErrorResponse(device.status()));
  }
  if (call.request.method == "GET")
    return finish(JsonResponse(200, AdminDeviceJson(user_id, *device)));
  auto parsed = ParseJsonBody(call.request);
  if (auto* e = std::get_if<Response>(&parsed)) return finish(std::move(*e));
  Response error;
  std::optional<std::string> name;
  if (!BodyString(std::get<json::object>(parsed), "display_name", &name, &error)) {
    return finish(std::move(error));
  }
  SubmitThen(context,
             AccountCommand(accounts::SetDeviceDisplayNameCommand{
                 .user_id = user_id, .device_id = device_id, .display_name = name}),
             finish, [](const std::string&) { return JsonResponse(200, json::object{}); });
}

void AdminDeleteDevices(Context* context, const Call& call, Finish finish) {
  const std::string user_id = call.params.at("userId");
  if (auto error = RequireUser(context, user_id)) return finish(std::move(*error));
  auto parsed = ParseJsonBody(call.request);
  if (auto* e = std::get_if<Response>(&parsed)) return finish(std::move(*e));
  const json::value* devices = std::get<json::object>(parsed).if_contains("devices");
  if (devices == nullptr || !devices->is_array()) {
    return finish(ErrorResponse(400, "M_MISSING_PARAM", "devices must be a list of device IDs"));
  }
  Result<std::vector<accounts::Device>> have =
      accounts::ListDevices(context->engine.Read(), user_id);
  if (!have.ok()) return finish(ErrorResponse(have.status()));
  auto commands = std::make_shared<std::vector<core::Command>>();
  for (const json::value& id : devices->as_array()) {
    if (!id.is_string()) return finish(ErrorResponse(400, "M_BAD_JSON", "device IDs are strings"));
    const std::string device_id(id.as_string());
    bool known = false;
    for (const accounts::Device& d : *have) known = known || d.device_id == device_id;
    if (known) {
      commands->push_back(AccountCommand(
          accounts::DeleteDeviceCommand{.user_id = user_id, .device_id = device_id}));
    }
  }
  RunCommands(context, commands, 0, finish,
              [finish] { finish(JsonResponse(200, json::object{})); });
}

void AdminJoinedRooms(Context* context, const Call& call, Finish finish) {
  const std::string& user_id = call.params.at("userId");
  if (auto error = RequireUser(context, user_id)) return finish(std::move(*error));
  auto rooms = context->engine.RoomsOf(user_id);
  if (!rooms.ok()) return finish(ErrorResponse(rooms.status()));
  json::array joined;
  for (const auto& [room_id, membership] : *rooms) {
    if (membership == rooms::Membership::kJoin) joined.push_back(json::value(room_id));
  }
  const auto total = static_cast<int64_t>(joined.size());
  finish(JsonResponse(200, json::object{{"joined_rooms", std::move(joined)}, {"total", total}}));
}

void AdminFlag(Context* context, const Call& call, Finish finish) {
  const std::string user_id = call.params.at("userId");
  if (auto error = RequireUser(context, user_id)) return finish(std::move(*error));
  if (call.request.method == "GET") {
    Result<admin::Roles> roles = admin::GetRoles(context->engine.Read(), user_id);
    if (!roles.ok()) return finish(ErrorResponse(roles.status()));
    return finish(JsonResponse(200, json::object{{"admin", roles->admin}}));
  }
  auto parsed = ParseJsonBody(call.request);
  if (auto* e = std::get_if<Response>(&parsed)) return finish(std::move(*e));
  Response error;
  std::optional<bool> value;
  if (!BodyBool(std::get<json::object>(parsed), "admin", &value, &error)) {
    return finish(std::move(error));
  }
  if (!value) return finish(ErrorResponse(400, "M_MISSING_PARAM", "Missing key 'admin'"));
  if (user_id == call.caller.user_id && !*value) {
    return finish(ErrorResponse(400, "M_INVALID_PARAM", "You may not demote yourself."));
  }
  SubmitThen(context, AdminCommand(admin::SetRolesCommand{.user_id = user_id, .admin = value}),
             finish, [](const std::string&) { return JsonResponse(200, json::object{}); });
}

void Suspend(Context* context, const Call& call, Finish finish) {
  const std::string user_id = call.params.at("userId");
  if (auto error = RequireUser(context, user_id)) return finish(std::move(*error));
  auto parsed = ParseJsonBody(call.request);
  if (auto* e = std::get_if<Response>(&parsed)) return finish(std::move(*e));
  Response error;
  std::optional<bool> value;
  if (!BodyBool(std::get<json::object>(parsed), "suspend", &value, &error)) {
    return finish(std::move(error));
  }
  if (!value) return finish(ErrorResponse(400, "M_MISSING_PARAM", "Missing key 'suspend'"));
  const bool suspend = *value;
  SubmitThen(context,
             AccountCommand(accounts::RestrictUserCommand{.user_id = user_id, .suspended = suspend}),
             finish, [user_id, suspend](const std::string&) {
               return JsonResponse(200, json::object{{"user_" + user_id + "_suspended", suspend}});
             });
}

void ListUsers(Context* context, const Call& call, Finish finish) {
  if (!context->options.directory) {
    return finish(ErrorResponse(503, "M_UNAVAILABLE",
                                "User lists are served from PostgreSQL, which is not "
                                "configured on this server (NEBU_DB_URL)"));
  }
  Response error;
  UserListQuery query;
  auto from = QueryInt(call.request, "from", 0, 0, &error);
  auto limit = QueryInt(call.request, "limit", kAdminPageDefault, 0, &error);
  auto guests = QueryBool(call.request, "guests", &error);
  auto deactivated = QueryBool(call.request, "deactivated", &error);
  auto admins = QueryBool(call.request, "admins", &error);
  auto locked = QueryBool(call.request, "locked", &error);
  if (!from || !limit || !error.body.empty()) return finish(std::move(error));
  query.from = *from;
  query.limit = std::min(*limit, kAdminPageMax);
  query.guests = guests.value_or(true);
  query.deactivated = deactivated;
  query.admins = admins;
  query.locked = locked.value_or(false);
  if (auto name = call.request.Query("name")) query.name = std::string(*name);
  if (auto user_id = call.request.Query("user_id")) query.user_id = std::string(*user_id);
  for (const auto& [key, value] : call.request.query) {
    if (key == "not_user_type") query.not_user_type.push_back(value);
  }
  static constexpr std::string_view kOrders[] = {
      "name",         "displayname", "admin",       "deactivated",  "creation_ts", "is_guest",
      "user_type",    "shadow_banned", "locked",    "avatar_url",   "last_seen_ts"};
  if (auto bad = ParseListOrder(call.request, kOrders, &query.order_by, &query.backwards)) {
    return finish(std::move(*bad));
  }
  Result<DirectoryPage> page = context->options.directory->ListUsers(query);
  if (!page.ok()) return finish(ErrorResponse(page.status()));
  json::array users;
  for (json::object& user : page->items) users.push_back(std::move(user));
  json::object body{{"users", std::move(users)},
                    {"total", page->total},
                    {"projection_position", page->projection_position}};
  if (query.from + static_cast<int64_t>(body["users"].as_array().size()) < page->total) {
    body["next_token"] =
        std::to_string(query.from + static_cast<int64_t>(body["users"].as_array().size()));
  }
  finish(ListResponse(*context, body, page->projection_position));
}

void ServerVersion(Context* context, const Call&, Finish finish) {
  finish(JsonResponse(200, json::object{{"server_version", context->options.server_version}}));
}

}  // namespace

void AddUserRoutes(Router& router, const ContextPtr& context) {
  constexpr auto kAdmin = Surface::kAdmin;
  const std::string v1 = "/_synapse/admin/v1";
  const std::string v2 = "/_synapse/admin/v2";
  AddRoute(router, context, "GET", v1 + "/server_version", "server_version", kAdmin, ServerVersion);
  AddRoute(router, context, "GET", v2 + "/users", "users.list", kAdmin, ListUsers);
  AddRoute(router, context, "GET", v2 + "/users/{userId}", "users.get", kAdmin, GetUserRoute);
  AddRoute(router, context, "PUT", v2 + "/users/{userId}", "users.put", kAdmin, PutUser);
  AddRoute(router, context, "POST", v1 + "/deactivate/{userId}", "users.deactivate", kAdmin,
           AdminDeactivate);
  AddRoute(router, context, "POST", v1 + "/reset_password/{userId}", "users.reset_password",
           kAdmin, ResetPassword);
  AddRoute(router, context, "GET", v1 + "/whois/{userId}", "users.whois", kAdmin, AdminWhoIs);
  AddRoute(router, context, "GET", v2 + "/users/{userId}/devices", "devices.list", kAdmin,
           ListDevicesRoute);
  for (std::string_view method : {"GET", "PUT", "DELETE"}) {
    AddRoute(router, context, method, v2 + "/users/{userId}/devices/{deviceId}",
             "devices." + std::string(method == "GET" ? "get" : method == "PUT" ? "put" : "delete"),
             kAdmin, DeviceRoute);
  }
  AddRoute(router, context, "POST", v2 + "/users/{userId}/delete_devices", "devices.delete_many",
           kAdmin, AdminDeleteDevices);
  AddRoute(router, context, "GET", v1 + "/users/{userId}/joined_rooms", "users.joined_rooms",
           kAdmin, AdminJoinedRooms);
  AddRoute(router, context, "GET", v1 + "/users/{userId}/admin", "users.admin.get", kAdmin,
           AdminFlag);
  AddRoute(router, context, "PUT", v1 + "/users/{userId}/admin", "users.admin.put", kAdmin,
           AdminFlag);
  AddRoute(router, context, "PUT", v1 + "/suspend/{userId}", "users.suspend", kAdmin, Suspend);
}

}  // namespace nebu::api::admin_internal
