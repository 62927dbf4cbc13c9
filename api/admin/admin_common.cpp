#include "api/admin/admin_common.h"

#include <algorithm>

#include <boost/json.hpp>
#include <charconv>
#include <spdlog/spdlog.h>

#include "api/errors.h"
#include "engine/common/crypto.h"
#include "engine/core/engine.h"
#include "engine/rooms/room_state.h"

namespace nebu::api::admin_internal {
namespace {

namespace json = boost::json;

bool IsSecret(std::string_view key) {
  for (std::string_view secret : kSecretFields) {
    if (key == secret) return true;
  }
  return false;
}

// A value an audit record may hold as canonical JSON: floats become strings.
json::value Auditable(const json::value& v) {
  if (v.is_double()) return json::value(json::serialize(v));
  if (v.is_array()) {
    json::array out;
    for (const json::value& item : v.as_array()) out.push_back(Auditable(item));
    return out;
  }
  if (v.is_object()) {
    json::object out;
    for (const auto& [key, item] : v.as_object()) {
      if (!IsSecret(key)) out[key] = Auditable(item);
    }
    return out;
  }
  return v;
}

std::string Errcode(const Response& response) {
  if (response.status < 400) return "ok";
  boost::system::error_code ec;
  json::value v = json::parse(response.body, ec);
  if (!ec && v.is_object()) {
    if (const json::value* code = v.as_object().if_contains("errcode");
        code != nullptr && code->is_string()) {
      return std::string(code->as_string());
    }
  }
  return "HTTP_" + std::to_string(response.status);
}

bool IsSecretPathParam(std::string_view name) {
  for (std::string_view secret : kSecretPathParams) {
    if (name == secret) return true;
  }
  return false;
}

}  // namespace

std::string TargetOf(const PathParams& params) {
  // The user, room, report, token (redacted), deletion or media the route names; the
  // first of these.
  for (std::string_view name : {"userId", "roomId", "roomIdOrAlias", "reportId", "token",
                                "deleteId", "mediaId", "holdId", "purgeId"}) {
    if (auto it = params.find(name); it != params.end()) {
      return IsSecretPathParam(name) ? RedactedSecret(it->second) : it->second;
    }
  }
  return {};
}

// The audit record of one call, committed before `response` is answered.
void RecordCall(core::Engine& engine, const std::string& action, const std::string& actor,
                const std::string& target, json::object params, Response response,
                const Respond& respond) {
  admin::AuditRecord record{.ts = engine.clock().NowUnixMs(),
                            .actor = actor,
                            .action = action,
                            .target = target.substr(0, admin::kAuditFieldBytesMax),
                            .params = std::move(params),
                            .outcome = Errcode(response),
                            .status = response.status};
  if (json::serialize(record.params).size() > admin::kAuditParamsBytesMax) {
    record.params = json::object{{"truncated", true}};
  }
  Result<std::string> payload = admin::EncodeAdminCommand(record);
  if (!payload.ok()) {
    spdlog::error("admin: audit record of {} not encoded: {}", action,
                  payload.status().ToString());
    return respond(std::move(response));
  }
  engine.SubmitAsync(
      {core::CommandKind::kAudit, std::move(payload).value()},
      [respond, response = std::move(response), action](core::ApplyOutcome outcome) mutable {
        if (!outcome.ok()) {
          spdlog::error("admin: audit record of {} not committed: {}", action,
                        outcome.status().ToString());
        }
        respond(std::move(response));
      });
}

void RecordThen(Context* context, const std::string& action, const Caller& caller,
                const std::string& target, json::object params, Response response,
                const Respond& respond) {
  RecordCall(context->engine, action, caller.user_id, target, std::move(params),
             std::move(response), respond);
}

std::string RedactedSecret(std::string_view secret) {
  return "sha256:" + HexEncode(Sha256(secret)).substr(0, kRedactedSecretHexChars);
}

Context::Context(core::Engine& engine_ref, AdminRoutesOptions options_value)
    : engine(engine_ref),
      options(std::move(options_value)),
      pool({.threads = 1, .queue_max = 64}) {}

const std::string& Context::server_name() const { return engine.server_name(); }
int64_t Context::NowMs() const { return engine.clock().NowUnixMs(); }

json::object AuditParams(const Request& request, const PathParams& params) {
  json::object out;
  for (const auto& [name, value] : params) {
    out[name] = IsSecretPathParam(name) ? RedactedSecret(value) : value;
  }
  for (const auto& [name, value] : request.query) {
    if (!IsSecret(name) && !out.contains(name)) out[name] = value;
  }
  if (!request.body.empty()) {
    boost::system::error_code ec;
    json::value body = json::parse(request.body, ec);
    if (!ec && body.is_object()) {
      json::value cleaned = Auditable(body);
      for (const auto& [name, value] : cleaned.as_object()) {
        if (!out.contains(name)) out[name] = value;
      }
    }
  }
  return out;
}

void AddRoute(Router& router, const ContextPtr& context, std::string_view method,
              std::string_view pattern, std::string action, Surface surface,
              CallHandler handler) {
  context->routes.push_back({std::string(method), std::string(pattern)});
  router.AddAsync(
      method, pattern,
      [context, action = std::move(action), surface, handler = std::move(handler)](
          const Request& request, const PathParams& params, Respond respond) {
        auto caller = Authenticate(request, context->engine);
        if (auto* error = std::get_if<Response>(&caller)) return respond(std::move(*error));
        Call call{.request = request, .params = params, .caller = std::get<Caller>(caller)};
        json::object audit_params = AuditParams(request, params);
        const std::string target = TargetOf(params);
        Finish finish = [context, action, caller = call.caller, target,
                         audit_params = std::move(audit_params), respond](Response response) {
          RecordThen(context.get(), action, caller, target, audit_params, std::move(response),
                     respond);
        };
        Result<admin::Roles> roles = admin::GetRoles(context->engine.Read(), call.caller.user_id);
        if (!roles.ok()) return finish(ErrorResponse(roles.status()));
        call.roles = *roles;
        const bool allowed = surface == Surface::kAdmin ? admin::CanUseAdminApi(call.roles)
                                                        : admin::CanUseComplianceApi(call.roles);
        if (!allowed) {
          Response refused = ErrorResponse(403, "M_FORBIDDEN",
                                           surface == Surface::kAdmin
                                               ? "You are not a server admin"
                                               : "You are not an auditor");
          // Past the bucket the refusal is answered but not written to the replicated log.
          if (context->refusal_audits.Acquire(call.caller.user_id, context->NowMs()) > 0) {
            return respond(std::move(refused));
          }
          return finish(std::move(refused));
        }
        handler(context.get(), call, std::move(finish));
      });
}

std::optional<Response> ParseListOrder(const Request& request,
                                       std::span<const std::string_view> orders,
                                       std::string* order_by, bool* backwards) {
  if (auto by = request.Query("order_by")) {
    if (std::find(orders.begin(), orders.end(), *by) == orders.end()) {
      return ErrorResponse(400, "M_INVALID_PARAM", "Unknown order_by");
    }
    *order_by = std::string(*by);
  }
  if (auto dir = request.Query("dir")) {
    if (*dir != "f" && *dir != "b") return ErrorResponse(400, "M_INVALID_PARAM", "dir must be f or b");
    *backwards = *dir == "b";
  }
  return std::nullopt;
}

Response ListResponse(const Context& context, const json::object& body,
                      uint64_t projection_position) {
  Response response = JsonResponse(200, body);
  const uint64_t head = context.engine.stream_position();
  response.headers.Set("X-Nebu-Projection-Lag",
                       std::to_string(head > projection_position ? head - projection_position : 0));
  return response;
}

std::optional<Response> CheckLocalUser(const Context& context, std::string_view user_id) {
  if (!user_id.starts_with('@') || !user_id.ends_with(":" + context.server_name())) {
    return ErrorResponse(400, "M_INVALID_PARAM", "Can only look up local users");
  }
  return std::nullopt;
}

std::optional<int64_t> QueryInt(const Request& request, std::string_view name, int64_t fallback,
                                int64_t min, Response* error) {
  std::optional<std::string_view> text = request.Query(name);
  if (!text) return fallback;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < min) {
    *error = ErrorResponse(400, "M_INVALID_PARAM",
                           "Query parameter " + std::string(name) + " must be an integer >= " +
                               std::to_string(min));
    return std::nullopt;
  }
  return value;
}

std::optional<bool> QueryBool(const Request& request, std::string_view name, Response* error) {
  std::optional<std::string_view> text = request.Query(name);
  if (!text) return std::nullopt;
  if (*text == "true") return true;
  if (*text == "false") return false;
  *error = ErrorResponse(400, "M_INVALID_PARAM",
                         "Query parameter " + std::string(name) + " must be true or false");
  return std::nullopt;
}

void SubmitThen(Context* context, core::Command command, Finish finish,
                std::function<Response(const std::string& outcome)> on_ok) {
  context->engine.SubmitAsync(std::move(command),
                              [finish = std::move(finish),
                               on_ok = std::move(on_ok)](core::ApplyOutcome outcome) {
                                if (!outcome.ok()) return finish(ErrorResponse(outcome.status()));
                                finish(on_ok(*outcome));
                              });
}

json::value StateField(const rooms::RoomState& state, std::string_view type,
                       std::string_view field) {
  const json::object* event = state.Get(type, "");
  if (event == nullptr) return nullptr;
  const json::value* content = event->if_contains("content");
  if (content == nullptr || !content->is_object()) return nullptr;
  const json::value* value = content->as_object().if_contains(field);
  return value != nullptr ? *value : json::value(nullptr);
}

}  // namespace nebu::api::admin_internal

namespace nebu::api {

struct AdminAuditRecorder::State {
  explicit State(core::Engine& engine_ref) : engine(engine_ref) {}
  core::Engine& engine;
  RateLimiter refusals{admin_internal::kRefusalAuditRateLimit};
};

AdminAuditRecorder::AdminAuditRecorder(core::Engine& engine)
    : state_(std::make_unique<State>(engine)) {}
AdminAuditRecorder::~AdminAuditRecorder() = default;

void AdminAuditRecorder::Record(const std::string& action, const std::string& actor,
                                const Request& request, const PathParams& params,
                                Response response, const Respond& respond) {
  admin_internal::RecordCall(state_->engine, action, actor, admin_internal::TargetOf(params),
                             admin_internal::AuditParams(request, params), std::move(response),
                             respond);
}

void AdminAuditRecorder::RecordRefusal(const std::string& action, const std::string& actor,
                                       const Request& request, const PathParams& params,
                                       Response response, const Respond& respond) {
  if (state_->refusals.Acquire(actor, state_->engine.clock().NowUnixMs()) > 0) {
    return respond(std::move(response));
  }
  Record(action, actor, request, params, std::move(response), respond);
}

}  // namespace nebu::api
