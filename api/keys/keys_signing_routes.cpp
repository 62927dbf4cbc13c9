// Cross-signing endpoints of api/keys/keys_routes.h: /keys/device_signing/upload and
// /keys/signatures/upload.
#include <boost/json.hpp>
#include <map>
#include <set>
#include <utility>

#include "api/accounts/account_common.h"
#include "api/errors.h"
#include "api/keys/keys_common.h"
#include "api/keys/keys_routes.h"
#include "api/rate_limit.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "engine/e2ee/signatures.h"
#include "engine/event/canonical_json.h"

namespace nebu::api::keys_internal {
namespace {

namespace json = boost::json;

constexpr int64_t kBusyRetryAfterMs = 1000;

struct SigningKeys {
  std::optional<json::object> master, self_signing, user_signing;
};

// Checks one uploaded cross-signing key: owner, usage and one ed25519 key.
std::optional<Response> CheckSigningKey(const json::object& key, std::string_view usage,
                                        const Caller& caller) {
  const json::value* user = key.if_contains("user_id");
  if (user == nullptr || !user->is_string() || user->as_string() != caller.user_id) {
    return ErrorResponse(400, "M_INVALID_PARAM", "A cross-signing key must be the caller's own");
  }
  const json::value* usages = key.if_contains("usage");
  bool has_usage = false;
  if (usages != nullptr && usages->is_array()) {
    for (const json::value& u : usages->as_array())
      has_usage |= u.is_string() && u.as_string() == usage;
  }
  if (!has_usage) {
    return ErrorResponse(400, "M_INVALID_PARAM", "usage must contain " + std::string(usage));
  }
  if (!CrossSigningPublicKey(key)) {
    return ErrorResponse(400, "M_INVALID_PARAM", "keys must hold exactly one ed25519 key");
  }
  return std::nullopt;
}

// The stored key of `usage` as canonical text ("" when none).
Result<std::string> StoredText(core::Engine& engine, const std::string& user_id,
                               std::string_view usage) {
  NEBU_ASSIGN_OR_RETURN(auto stored, e2ee::GetCrossSigningKey(engine.Read(), user_id, usage));
  return stored.value_or("");
}

// True when every provided key equals the stored one (a retried upload).
Result<bool> RepeatsStored(core::Engine& engine, const std::string& user_id,
                           const SigningKeys& keys) {
  const std::pair<std::string_view, const std::optional<json::object>*> all[] = {
      {e2ee::kUsageMaster, &keys.master},
      {e2ee::kUsageSelfSigning, &keys.self_signing},
      {e2ee::kUsageUserSigning, &keys.user_signing}};
  for (const auto& [usage, key] : all) {
    if (!*key) continue;
    NEBU_ASSIGN_OR_RETURN(std::string stored, StoredText(engine, user_id, usage));
    NEBU_ASSIGN_OR_RETURN(std::string text, event::CanonicalJson(**key));
    if (stored != text) return false;
  }
  return true;
}

// The answer to a device_signing upload once applied: {} or the error, with the
// master-key checks (e2ee::CheckSignedByMaster, here or in apply) as the spec's codes.
Response SigningAnswer(const Status& status) {
  if (status.ok()) return JsonResponse(200, json::object{});
  if (status.code() == StatusCode::kInvalidArgument) {
    if (status.message().starts_with(e2ee::kNoMasterSigningKey)) {
      return ErrorResponse(400, "M_MISSING_PARAM", status.message());
    }
    if (status.message().starts_with(e2ee::kNotSignedByMaster)) {
      return ErrorResponse(400, "M_INVALID_SIGNATURE", status.message());
    }
  }
  return ErrorResponse(status);
}

// Proposes an upload_signing_keys command; `done` gets the apply status.
void SubmitSigning(core::Engine& engine, const e2ee::UploadSigningKeysCommand& command,
                   std::function<void(Status)> done) {
  Result<std::string> payload = e2ee::EncodeE2eeCommand(command);
  if (!payload.ok()) return done(payload.status());
  if (payload->size() > core::kCommandBytesMax) {
    return done(Status::TooLarge("Request is too large"));
  }
  engine.SubmitAsync({.kind = core::CommandKind::kE2ee, .payload = std::move(*payload)},
                     [done = std::move(done)](core::ApplyOutcome outcome) {
                       done(outcome.ok() ? Status::Ok() : outcome.status());
                     });
}

// The upload when keys exist: the password in body.auth (401 UIA challenge without
// it), verified on the pool, then the command (without_uia false) is proposed.
void UploadWithUia(Context* context, const json::object& body, const Caller& who,
                   e2ee::UploadSigningKeysCommand command, Respond respond) {
  Response answer;
  std::optional<std::string> password =
      account_internal::UiaPassword(body, who, context->engine.server_name(), &answer);
  if (!password) return respond(std::move(answer));
  if (auto limited = Limited(context->limits->password_check, who.user_id,
                             context->engine.clock().NowMonotonicNs() / 1'000'000)) {
    return respond(std::move(*limited));
  }
  core::Engine* engine = &context->engine;
  bool posted = context->pool.Post([engine, user_id = who.user_id, password = *password, respond,
                                    command = std::move(command)] {
    Status verified = password == account_internal::kSsoUiaDone
                          ? Status::Ok()  // m.login.sso completed
                          : accounts::VerifyLogin(engine->Read(), user_id, password);
    if (verified.code() == StatusCode::kForbidden) {
      respond(
          account_internal::UiaChallenge("m.login.password", "M_FORBIDDEN", "Invalid password"));
    } else if (!verified.ok()) {
      respond(ErrorResponse(verified));
    } else {
      SubmitSigning(*engine, command, [respond](Status status) { respond(SigningAnswer(status)); });
    }
  });
  if (!posted) respond(RateLimitedResponse(kBusyRetryAfterMs));
}

void UploadSigning(const ContextPtr& context, const Request& request, Respond respond) {
  auto caller = Authenticate(request, context->engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(std::move(*error));
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return respond(std::move(*error));
  const Caller& who = std::get<Caller>(caller);
  const json::object& o = std::get<json::object>(body);
  SigningKeys keys;
  const std::pair<std::string_view, std::optional<json::object>*> fields[] = {
      {"master_key", &keys.master},
      {"self_signing_key", &keys.self_signing},
      {"user_signing_key", &keys.user_signing}};
  const std::string_view usages[] = {e2ee::kUsageMaster, e2ee::kUsageSelfSigning,
                                     e2ee::kUsageUserSigning};
  for (size_t i = 0; i < 3; ++i) {
    const json::value* v = o.if_contains(fields[i].first);
    if (v == nullptr || v->is_null()) continue;
    if (!v->is_object()) {
      return respond(
          ErrorResponse(400, "M_BAD_JSON", std::string(fields[i].first) + " must be an object"));
    }
    if (auto refused = CheckSigningKey(v->as_object(), usages[i], who)) return respond(*refused);
    *fields[i].second = v->as_object();
  }
  // The master key the other keys must be signed by: the new one, else the stored one.
  // This is an early answer from what this node read; apply checks again against the
  // master key in effect then (check_master_signature), and that decides.
  auto stored_master =
      e2ee::GetCrossSigningKey(context->engine.Read(), who.user_id, e2ee::kUsageMaster);
  if (!stored_master.ok()) return respond(ErrorResponse(stored_master.status()));
  std::optional<json::object> master = keys.master;
  if (!master && *stored_master) {
    Result<json::value> parsed = event::ParseJson(**stored_master);
    if (parsed.ok() && parsed->is_object()) master = parsed->as_object();
  }
  for (const std::optional<json::object>* sub : {&keys.self_signing, &keys.user_signing}) {
    if (!*sub) continue;
    Status signed_by_master =
        e2ee::CheckSignedByMaster(master ? &*master : nullptr, **sub, who.user_id);
    if (!signed_by_master.ok()) return respond(SigningAnswer(signed_by_master));
  }
  e2ee::UploadSigningKeysCommand command{.user_id = who.user_id,
                                         .master_key = keys.master,
                                         .self_signing_key = keys.self_signing,
                                         .user_signing_key = keys.user_signing,
                                         .check_master_signature = true};
  // Raw pointers from here on: a pool task must never hold the last reference to the
  // context (the pool would be destroyed, and joined, from one of its own threads).
  Context* raw = context.get();
  bool skip_uia = !*stored_master;  // the first upload needs no UIA
  if (!skip_uia) {
    Result<bool> repeats = RepeatsStored(context->engine, who.user_id, keys);
    if (!repeats.ok()) return respond(ErrorResponse(repeats.status()));
    skip_uia = *repeats;  // a retried upload needs none either
  }
  if (!skip_uia) return UploadWithUia(raw, o, who, std::move(command), std::move(respond));
  // What this node read may be stale (another node may have stored keys since): the
  // command asks apply to check it (without_uia), and a refusal means "authenticate".
  command.without_uia = true;
  SubmitSigning(raw->engine, command, [raw, o, who, command, respond](Status status) mutable {
    if (status.code() != StatusCode::kAlreadyExists) return respond(SigningAnswer(status));
    command.without_uia = false;
    UploadWithUia(raw, o, who, std::move(command), std::move(respond));
  });
}

// ---- POST /keys/signatures/upload ----

json::object Failure(std::string_view message) {
  return json::object{{"errcode", "M_INVALID_SIGNATURE"}, {"error", message}};
}

// The stored key a signature targets and the signer key IDs allowed to sign it.
struct SigningTarget {
  json::object stored;
  std::map<std::string, std::string> allowed_signers;  // signer key ID -> public key
};

// nullopt with *why when the caller may not sign (user, key_id): the rules of
// e2ee::FindSignatureTarget, which apply uses again on the applied state and decides.
Result<std::optional<SigningTarget>> FindTarget(core::Engine& engine, const Caller& caller,
                                                const std::string& user_id,
                                                const std::string& key_id, std::string* why) {
  NEBU_ASSIGN_OR_RETURN(
      auto found, e2ee::FindSignatureTarget(engine.Read(), caller.user_id, user_id, key_id, why));
  if (!found) return std::optional<SigningTarget>();
  return std::optional<SigningTarget>(
      SigningTarget{std::move(found->stored), std::move(found->allowed_signers)});
}

void UploadSignatures(const ContextPtr& context, const Request& request, Respond respond) {
  auto caller = Authenticate(request, context->engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(std::move(*error));
  auto body = ParseJsonBody(request);
  if (auto* error = std::get_if<Response>(&body)) return respond(std::move(*error));
  const Caller& who = std::get<Caller>(caller);
  // Checked here against what this node read (an early answer); apply checks every
  // entry again against the applied state and reports what fails there.
  e2ee::UploadSignaturesCommand command{.signer = who.user_id, .check_signatures = true};
  json::object failures;
  auto fail = [&failures](const std::string& user_id, const std::string& key_id,
                          std::string_view message) {
    json::value& user = failures[user_id];
    if (!user.is_object()) user = json::object{};
    user.as_object()[key_id] = Failure(message);
  };
  for (const auto& [user_key, keys] : std::get<json::object>(body)) {
    const std::string user_id(user_key);
    if (!keys.is_object())
      return respond(ErrorResponse(400, "M_BAD_JSON", "values must be objects"));
    for (const auto& [key_key, signed_object] : keys.as_object()) {
      const std::string key_id(key_key);
      if (!signed_object.is_object()) {
        return respond(ErrorResponse(400, "M_BAD_JSON", "signed keys must be objects"));
      }
      if (!IsLocalUser(user_id, context->engine.server_name())) {
        fail(user_id, key_id, "federation is not supported");
        continue;
      }
      std::string why;
      Result<std::optional<SigningTarget>> target =
          FindTarget(context->engine, who, user_id, key_id, &why);
      if (!target.ok()) return respond(ErrorResponse(target.status()));
      if (!*target) {
        fail(user_id, key_id, why);
        continue;
      }
      const json::object& o = signed_object.as_object();
      if (o.if_contains("keys") == nullptr || (*target)->stored.if_contains("keys") == nullptr ||
          *o.if_contains("keys") != *(*target)->stored.if_contains("keys")) {
        fail(user_id, key_id, "The signed key does not match the stored key");
        continue;
      }
      const json::value* signatures = o.if_contains("signatures");
      const json::value* mine = signatures && signatures->is_object()
                                    ? signatures->as_object().if_contains(who.user_id)
                                    : nullptr;
      size_t taken = 0;
      if (mine != nullptr && mine->is_object()) {
        for (const auto& [signer_key_id, signature] : mine->as_object()) {
          auto signer = (*target)->allowed_signers.find(std::string(signer_key_id));
          if (!signature.is_string() || signer == (*target)->allowed_signers.end() ||
              !e2ee::VerifyJsonSignature(o, who.user_id, signer_key_id, signer->second).ok()) {
            continue;
          }
          command.signatures.push_back(
              {user_id, key_id, std::string(signer_key_id), std::string(signature.as_string())});
          ++taken;
        }
      }
      if (taken == 0) {
        fail(user_id, key_id, "No valid signature by a key allowed to sign this key");
      }
    }
  }
  if (command.signatures.size() > e2ee::kSignaturesPerUploadMax) {
    return respond(ErrorResponse(400, "M_INVALID_PARAM", "Too many signatures in one upload"));
  }
  if (command.signatures.empty()) {
    return respond(JsonResponse(200, json::object{{"failures", std::move(failures)}}));
  }
  SubmitE2ee(context->engine, command, std::move(respond),
             [failures = std::move(failures)](json::object outcome) mutable {
               // Entries apply refused (the state changed since it was read here).
               if (const json::value* late = outcome.if_contains("failures");
                   late && late->is_object()) {
                 for (const auto& [user, keys] : late->as_object()) {
                   json::value& mine = failures[user];
                   if (!mine.is_object()) mine = json::object{};
                   if (!keys.is_object()) continue;
                   for (const auto& [key, failure] : keys.as_object()) {
                     mine.as_object()[key] = failure;
                   }
                 }
               }
               return JsonResponse(200, json::object{{"failures", failures}});
             });
}

}  // namespace

void AddSigningRoutes(Router& router, const ContextPtr& context) {
  AddAsyncRoute(
      router, "POST", "/keys/device_signing/upload",
      [context](const Request& r, const PathParams&, Respond respond) {
        UploadSigning(context, r, std::move(respond));
      },
      kKeysBodyBytesMax);
  AddAsyncRoute(
      router, "POST", "/keys/signatures/upload",
      [context](const Request& r, const PathParams&, Respond respond) {
        UploadSignatures(context, r, std::move(respond));
      },
      kKeysBodyBytesMax);
}

}  // namespace nebu::api::keys_internal
