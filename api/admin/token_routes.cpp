// Registration tokens under /_synapse/admin/v1/registration_tokens (Synapse's
// registration tokens admin API): list (valid=true|false), create (/new), get, update
// (PUT) and delete one. A token's value is a secret: audit records carry
// RedactedSecret(token) as their target, never the value (admin_common.h).
#include <boost/json.hpp>

#include "api/admin/admin_common.h"
#include "api/errors.h"
#include "engine/accounts/accounts.h"
#include "engine/accounts/commands.h"
#include "engine/common/crypto.h"
#include "engine/core/engine.h"
#include "engine/storage/store.h"

namespace nebu::api::admin_internal {
namespace {

namespace json = boost::json;

// Registration tokens: Synapse's default generated length.
constexpr int64_t kGeneratedTokenLengthDefault = 16;

json::object TokenJson(const accounts::RegistrationToken& t) {
  return json::object{{"token", t.token},
                      {"uses_allowed", t.uses_allowed ? json::value(*t.uses_allowed) : nullptr},
                      {"pending", t.pending},
                      {"completed", t.completed},
                      {"expiry_time", t.expiry_time ? json::value(*t.expiry_time) : nullptr}};
}

Response TokenNotFound() { return ErrorResponse(404, "M_NOT_FOUND", "No such registration token"); }

// The outcome of a token command as the answer: 404 for kNotFound, else the mapped error.
Response CommandError(const Status& status) {
  if (status.code() == StatusCode::kNotFound) return TokenNotFound();
  if (status.code() == StatusCode::kAlreadyExists) {
    return ErrorResponse(400, "M_INVALID_PARAM", "Token already exists");
  }
  return ErrorResponse(status);
}

bool IsValidAt(const accounts::RegistrationToken& t, int64_t now_ms) {
  if (t.expiry_time && *t.expiry_time <= now_ms) return false;
  return !t.uses_allowed || t.completed + t.pending < *t.uses_allowed;
}

void ListTokens(Context* context, const Call& call, Finish finish) {
  Response error;
  std::optional<bool> valid = QueryBool(call.request, "valid", &error);
  if (!valid && call.request.Query("valid")) return finish(std::move(error));
  const int64_t now = context->NowMs();
  // Tokens are few (each made by an administrator): the family's keys are the tokens.
  const auto view = context->engine.Read();
  json::array list;
  auto it = view.NewIterator(storage::Cf::kRegistrationTokens);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    Result<accounts::RegistrationToken> t = accounts::GetRegistrationToken(view, it->key().ToStringView());
    if (!t.ok()) return finish(ErrorResponse(t.status()));
    if (!valid || IsValidAt(*t, now) == *valid) list.push_back(TokenJson(*t));
  }
  if (Status s = storage::FromRocks(it->status()); !s.ok()) return finish(ErrorResponse(s));
  finish(JsonResponse(200, json::object{{"registration_tokens", std::move(list)}}));
}

void GetToken(Context* context, const Call& call, Finish finish) {
  Result<accounts::RegistrationToken> token =
      accounts::GetRegistrationToken(context->engine.Read(), call.params.at("token"));
  if (!token.ok()) return finish(CommandError(token.status()));
  finish(JsonResponse(200, TokenJson(*token)));
}

// An optional body integer >= 0: absent (nullopt), null (a nullopt inside) or a number;
// false with *error for anything else.
bool BodyCount(const json::object& body, std::string_view key,
               std::optional<std::optional<int64_t>>* out, Response* error) {
  const json::value* v = body.if_contains(key);
  if (v == nullptr) return true;
  if (v->is_null()) {
    *out = std::optional<int64_t>();
    return true;
  }
  if (!v->is_int64() || v->as_int64() < 0) {
    *error = ErrorResponse(400, "M_INVALID_PARAM",
                           std::string(key) + " must be a non-negative integer or null");
    return false;
  }
  *out = v->as_int64();
  return true;
}

// uses_allowed and expiry_time of a create or update body (expiry_time not in the past).
bool ReadLimits(Context* context, const json::object& body,
                std::optional<std::optional<int64_t>>* uses_allowed,
                std::optional<std::optional<int64_t>>* expiry_time, Response* error) {
  if (!BodyCount(body, "uses_allowed", uses_allowed, error) ||
      !BodyCount(body, "expiry_time", expiry_time, error)) {
    return false;
  }
  if (*expiry_time && **expiry_time && ***expiry_time < context->NowMs()) {
    *error = ErrorResponse(400, "M_INVALID_PARAM", "expiry_time must not be in the past");
    return false;
  }
  return true;
}

// The token of a /new body: the given one, or a fresh one of `length` characters.
std::optional<std::string> NewTokenValue(const json::object& body, Response* error) {
  if (const json::value* token = body.if_contains("token"); token != nullptr && !token->is_null()) {
    if (!token->is_string() || !accounts::IsValidRegistrationToken(token->as_string())) {
      *error = ErrorResponse(400, "M_INVALID_PARAM",
                             "token must be 1-64 characters of [A-Za-z0-9._~-]");
      return std::nullopt;
    }
    return std::string(token->as_string());
  }
  int64_t length = kGeneratedTokenLengthDefault;
  if (const json::value* v = body.if_contains("length"); v != nullptr && !v->is_null()) {
    if (!v->is_int64()) {
      *error = ErrorResponse(400, "M_INVALID_PARAM", "length must be an integer");
      return std::nullopt;
    }
    length = v->as_int64();
  }
  if (length < 1 || length > static_cast<int64_t>(accounts::kRegistrationTokenBytesMax)) {
    *error = ErrorResponse(400, "M_INVALID_PARAM", "length must be between 1 and 64");
    return std::nullopt;
  }
  return RandomAlnum(static_cast<size_t>(length));
}

void SubmitAccount(Context* context, const accounts::AccountCommand& command, Finish finish,
                   std::function<Response()> on_ok) {
  Result<std::string> payload = accounts::EncodeAccountCommand(command);
  if (!payload.ok()) return finish(ErrorResponse(payload.status()));
  context->engine.SubmitAsync({core::CommandKind::kAccount, *payload},
                              [finish = std::move(finish),
                               on_ok = std::move(on_ok)](core::ApplyOutcome outcome) {
                                if (!outcome.ok()) return finish(CommandError(outcome.status()));
                                finish(on_ok());
                              });
}

void NewToken(Context* context, const Call& call, Finish finish) {
  auto parsed = ParseJsonBody(call.request);
  if (auto* e = std::get_if<Response>(&parsed)) return finish(std::move(*e));
  const json::object& body = std::get<json::object>(parsed);
  Response error;
  std::optional<std::optional<int64_t>> uses_allowed;
  std::optional<std::optional<int64_t>> expiry_time;
  if (!ReadLimits(context, body, &uses_allowed, &expiry_time, &error)) {
    return finish(std::move(error));
  }
  std::optional<std::string> token = NewTokenValue(body, &error);
  if (!token) return finish(std::move(error));
  accounts::CreateRegistrationTokenCommand command{
      .token = *token, .uses_allowed = uses_allowed.value_or(std::nullopt),
      .expiry_time = expiry_time.value_or(std::nullopt)};
  accounts::RegistrationToken answer{.token = command.token,
                                     .uses_allowed = command.uses_allowed,
                                     .expiry_time = command.expiry_time};
  SubmitAccount(context, command, std::move(finish),
                [answer] { return JsonResponse(200, TokenJson(answer)); });
}

void UpdateToken(Context* context, const Call& call, Finish finish) {
  auto parsed = ParseJsonBody(call.request);
  if (auto* e = std::get_if<Response>(&parsed)) return finish(std::move(*e));
  Response error;
  accounts::UpdateRegistrationTokenCommand command{.token = call.params.at("token")};
  if (!accounts::IsValidRegistrationToken(command.token)) return finish(TokenNotFound());
  if (!ReadLimits(context, std::get<json::object>(parsed), &command.uses_allowed,
                  &command.expiry_time, &error)) {
    return finish(std::move(error));
  }
  SubmitAccount(context, command, std::move(finish), [context, token = command.token] {
    Result<accounts::RegistrationToken> now =
        accounts::GetRegistrationToken(context->engine.Read(), token);
    if (!now.ok()) return CommandError(now.status());
    return JsonResponse(200, TokenJson(*now));
  });
}

void DeleteToken(Context* context, const Call& call, Finish finish) {
  accounts::DeleteRegistrationTokenCommand command{.token = call.params.at("token")};
  if (!accounts::IsValidRegistrationToken(command.token)) return finish(TokenNotFound());
  SubmitAccount(context, command, std::move(finish),
                [] { return JsonResponse(200, json::object{}); });
}

}  // namespace

void AddTokenRoutes(Router& router, const ContextPtr& context) {
  constexpr auto kAdmin = Surface::kAdmin;
  const std::string base = "/_synapse/admin/v1/registration_tokens";
  AddRoute(router, context, "GET", base, "registration_tokens.list", kAdmin, ListTokens);
  AddRoute(router, context, "POST", base + "/new", "registration_tokens.new", kAdmin, NewToken);
  AddRoute(router, context, "GET", base + "/{token}", "registration_tokens.get", kAdmin, GetToken);
  AddRoute(router, context, "PUT", base + "/{token}", "registration_tokens.put", kAdmin,
           UpdateToken);
  AddRoute(router, context, "DELETE", base + "/{token}", "registration_tokens.delete", kAdmin,
           DeleteToken);
}

}  // namespace nebu::api::admin_internal
