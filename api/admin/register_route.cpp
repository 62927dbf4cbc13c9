// Synapse's shared-secret registration (admin_routes.h, AdminRoutesOptions::
// registration_shared_secret):
//   GET  /_synapse/admin/v1/register  {"nonce"}
//   POST /_synapse/admin/v1/register  {"nonce","username","password","admin"?,
//        "displayname"?,"auditor"?,"mac"} -> {"access_token","user_id","home_server",
//        "device_id"}
// mac: hex HMAC-SHA1 under the secret of nonce \0 username \0 password \0
// ("admin"|"notadmin"), then \0 "auditor" when auditor is true (nebu's extension;
// Synapse's clients never send it). Errors: 400 M_UNKNOWN (off, unknown or expired
// nonce), 403 M_FORBIDDEN (wrong mac), 400 M_INVALID_USERNAME, 400 M_USER_IN_USE.
// Every POST is audited with the actor "shared-secret".
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <boost/json.hpp>

#include "api/admin/admin_common.h"
#include "api/errors.h"
#include "engine/accounts/accounts.h"
#include "engine/common/crypto.h"
#include "engine/core/engine.h"

namespace nebu::api::admin_internal {
namespace {

namespace json = boost::json;

constexpr size_t kNonceChars = 32;

std::string HmacSha1Hex(std::string_view key, std::string_view message) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha1(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(message.data()), message.size(), out, &length);
  return HexEncode(std::string_view(reinterpret_cast<const char*>(out), length));
}

bool ConstantTimeEqual(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  unsigned char diff = 0;
  for (size_t i = 0; i < a.size(); ++i) diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

Response Disabled() {
  return ErrorResponse(400, "M_UNKNOWN", "Shared secret registration is not enabled");
}

Response NewNonce(Context* context) {
  if (context->options.registration_shared_secret.empty()) return Disabled();
  const int64_t now = context->NowMs();
  std::lock_guard lock(context->nonces_mutex);
  std::erase_if(context->nonces, [now](const auto& entry) { return entry.second <= now; });
  if (context->nonces.size() >= kRegisterNoncesMax) {
    return ErrorResponse(429, "M_LIMIT_EXCEEDED", "Too many registration nonces outstanding");
  }
  std::string nonce = RandomAlnum(kNonceChars);
  context->nonces[nonce] = now + kRegisterNonceTtlMs;
  return JsonResponse(200, json::object{{"nonce", nonce}});
}

// Removes the nonce; false when it is unknown or expired.
bool TakeNonce(Context* context, const std::string& nonce) {
  std::lock_guard lock(context->nonces_mutex);
  auto it = context->nonces.find(nonce);
  if (it == context->nonces.end()) return false;
  const bool live = it->second > context->NowMs();
  context->nonces.erase(it);
  return live;
}

std::string RegisterField(const json::object& body, std::string_view key) {
  const json::value* v = body.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : std::string();
}

void AdminRegister(Context* context, const Request& request, Respond respond) {
  if (context->options.registration_shared_secret.empty()) return respond(Disabled());
  auto parsed = ParseJsonBody(request);
  if (auto* e = std::get_if<Response>(&parsed)) return respond(std::move(*e));
  const json::object& body = std::get<json::object>(parsed);
  const std::string nonce = RegisterField(body, "nonce");
  const std::string username = RegisterField(body, "username");
  const std::string password = RegisterField(body, "password");
  const std::string mac = RegisterField(body, "mac");
  const json::value* admin_v = body.if_contains("admin");
  const json::value* auditor_v = body.if_contains("auditor");
  const bool is_admin = admin_v != nullptr && admin_v->is_bool() && admin_v->as_bool();
  const bool is_auditor = auditor_v != nullptr && auditor_v->is_bool() && auditor_v->as_bool();
  Caller actor{.user_id = "shared-secret"};
  json::object params = AuditParams(request, {});
  auto finish = [context, actor, params, respond](Response response, std::string target) {
    RecordThen(context, "users.register", actor, target, params, std::move(response), respond);
  };
  if (nonce.empty() || username.empty() || password.empty() || mac.empty()) {
    return finish(ErrorResponse(400, "M_MISSING_PARAM",
                                "nonce, username, password and mac are required"), "");
  }
  if (!TakeNonce(context, nonce)) {
    return finish(ErrorResponse(400, "M_UNKNOWN", "unrecognised nonce"), "");
  }
  std::string message = nonce + '\0' + username + '\0' + password + '\0' +
                        (is_admin ? "admin" : "notadmin");
  if (is_auditor) message += std::string(1, '\0') + "auditor";
  const std::string expected = HmacSha1Hex(context->options.registration_shared_secret, message);
  if (!ConstantTimeEqual(expected, mac)) {
    return finish(ErrorResponse(403, "M_FORBIDDEN", "HMAC incorrect"), "");
  }
  Result<std::string> user_id = accounts::NewUserId(username, context->server_name());
  if (!user_id.ok()) return finish(ErrorResponse(user_id.status()), "");
  std::optional<std::string> displayname;
  if (std::string name = RegisterField(body, "displayname"); !name.empty()) displayname = name;
  bool posted = context->pool.Post([context, id = *user_id, password, is_admin, is_auditor,
                                    displayname, finish] {
    accounts::RegistrationRequest registration{
        .user_id = id,
        .password = password,
        .admin = is_admin,
        .displayname = displayname ? displayname
                                   : std::optional<std::string>(
                                         id.substr(1, id.find(':') - 1))};
    Result<accounts::Prepared> prepared = accounts::PrepareRegistration(registration,
                                                                        context->NowMs());
    if (!prepared.ok()) return finish(ErrorResponse(prepared.status()), id);
    json::object answer{{"access_token", *prepared->access_token},
                        {"user_id", id},
                        {"home_server", context->server_name()},
                        {"device_id", *prepared->device_id}};
    context->engine.SubmitAsync(
        {core::CommandKind::kAccount, prepared->payload},
        [context, uid = id, is_auditor, answer, finish](core::ApplyOutcome outcome) {
          if (!outcome.ok()) return finish(ErrorResponse(outcome.status()), uid);
          if (!is_auditor) return finish(JsonResponse(200, answer), uid);
          Result<std::string> roles = admin::EncodeAdminCommand(
              admin::SetRolesCommand{.user_id = uid, .auditor = true});
          if (!roles.ok()) return finish(ErrorResponse(roles.status()), uid);
          context->engine.SubmitAsync({core::CommandKind::kAudit, *roles},
                                      [answer, finish, uid](core::ApplyOutcome set) {
                                        finish(set.ok() ? JsonResponse(200, answer)
                                                        : ErrorResponse(set.status()),
                                               uid);
                                      });
        });
  });
  if (!posted) {
    finish(ErrorResponse(429, "M_LIMIT_EXCEEDED", "Too many password hashes queued"), "");
  }
}

}  // namespace

void AddRegisterRoutes(Router& router, const ContextPtr& context) {
  router.Add("GET", "/_synapse/admin/v1/register",
             [context](const Request&, const PathParams&) { return NewNonce(context.get()); });
  router.AddAsync("POST", "/_synapse/admin/v1/register",
                  [context](const Request& request, const PathParams&, Respond respond) {
                    AdminRegister(context.get(), request, std::move(respond));
                  });
}

}  // namespace nebu::api::admin_internal
