// Push rules (Client-Server API § Push Rules): the read and change endpoints
// (push_rules.h); the rule sets themselves are engine/accounts/push_rules.h.
#include "api/accounts/push_rules.h"

#include <boost/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "api/auth.h"
#include "api/errors.h"
#include "api/glob.h"
#include "engine/accounts/accounts.h"
#include "engine/accounts/push_rules.h"
#include "engine/core/engine.h"
#include "engine/event/canonical_json.h"
#include "engine/event/identifiers.h"

namespace nebu::api {
namespace {

namespace json = boost::json;

using accounts::EditPushRuleCommand;
using accounts::PushRuleChange;
using accounts::PushRuleId;
using accounts::PushRuleIndex;
using accounts::PushRulesOf;

bool IsKind(std::string_view kind) { return accounts::IsPushRuleKind(kind); }
bool IsServerDefault(std::string_view rule_id) {
  return accounts::IsServerDefaultPushRule(rule_id);
}

// The caller and their current rule set, or the ready error response.
struct Loaded {
  Caller caller;
  json::object ruleset;
};
std::variant<Loaded, Response> Load(const Request& request, core::Engine& engine) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  const std::string& user_id = std::get<Caller>(caller).user_id;
  auto stored = accounts::GetAccountData(engine.Read(), user_id, std::nullopt, kPushRulesType);
  if (!stored.ok() && stored.status().code() != StatusCode::kNotFound) {
    return ErrorResponse(stored.status());
  }
  std::optional<json::object> global;
  if (stored.ok()) {
    auto parsed = event::ParseJson(*stored, {.canonical_numbers = false});
    if (!parsed.ok()) return ErrorResponse(Status::Corruption("stored m.push_rules is not JSON"));
    if (const json::object* o = parsed->if_object()) {
      if (const json::value* g = o->if_contains("global"); g && g->is_object()) {
        global = g->as_object();
      }
    }
  }
  json::object ruleset = EffectivePushRuleset(user_id, global ? &*global : nullptr);
  return Loaded{std::move(std::get<Caller>(caller)), std::move(ruleset)};
}

Response NoSuchRule() { return ErrorResponse(404, "M_NOT_FOUND", "The push rule was not found."); }

// Proposes one edit of the caller's rule set; apply decides it against the applied
// set (accounts/push_rules.h) and the outcome is answered: {} or the error, with
// kNotFound as 404 M_NOT_FOUND and an unknown before/after as 400 M_UNKNOWN.
// The edit carries this server's defaults, so every node applies it alike.
void SubmitEdit(core::Engine& engine, const EditPushRuleCommand& edit, Respond respond) {
  EditPushRuleCommand with_defaults = edit;
  with_defaults.defaults = accounts::DefaultPushRuleset(edit.user_id);
  Result<std::string> payload = accounts::EncodeAccountCommand(with_defaults);
  if (!payload.ok()) return respond(ErrorResponse(payload.status()));
  engine.SubmitAsync({core::CommandKind::kAccount, std::move(*payload)},
                     [respond](core::ApplyOutcome outcome) {
                       if (outcome.ok()) return respond(JsonResponse(200, json::object{}));
                       const Status& status = outcome.status();
                       if (status.code() == StatusCode::kNotFound) return respond(NoSuchRule());
                       if (status.code() == StatusCode::kInvalidArgument &&
                           status.message().starts_with(accounts::kPushRuleAnchorNotFound)) {
                         return respond(ErrorResponse(400, "M_UNKNOWN", status.message()));
                       }
                       respond(ErrorResponse(status));
                     });
}

// Body field checks: nullopt when fine, else the 400 answer.
std::optional<Response> CheckActions(const json::object& body) {
  const json::value* actions = body.if_contains("actions");
  if (actions == nullptr) return ErrorResponse(400, "M_MISSING_PARAM", "Missing actions");
  if (!actions->is_array()) return ErrorResponse(400, "M_BAD_JSON", "actions must be an array");
  for (const json::value& a : actions->as_array()) {
    if (!a.is_string() && !a.is_object()) {
      return ErrorResponse(400, "M_BAD_JSON", "each action must be a string or an object");
    }
  }
  return std::nullopt;
}

// A glob pattern (content rules, event_match conditions): a string of at most
// kGlobPatternBytesMax bytes.
std::optional<Response> CheckPattern(const json::value& pattern) {
  if (!pattern.is_string()) return ErrorResponse(400, "M_BAD_JSON", "pattern must be a string");
  if (pattern.as_string().size() > kGlobPatternBytesMax) {
    return ErrorResponse(400, "M_BAD_JSON",
                         "pattern longer than " + std::to_string(kGlobPatternBytesMax) + " bytes");
  }
  return std::nullopt;
}

std::optional<Response> CheckConditions(const json::value& conditions) {
  if (!conditions.is_array())
    return ErrorResponse(400, "M_BAD_JSON", "conditions must be an array");
  if (conditions.as_array().size() > kPushRuleConditionsMax) {
    return ErrorResponse(400, "M_BAD_JSON",
                         "more than " + std::to_string(kPushRuleConditionsMax) + " conditions");
  }
  for (const json::value& c : conditions.as_array()) {
    const json::value* kind = c.is_object() ? c.as_object().if_contains("kind") : nullptr;
    if (kind == nullptr || !kind->is_string()) {
      return ErrorResponse(400, "M_BAD_JSON", "each condition must be an object with a kind");
    }
    const json::value* pattern = c.as_object().if_contains("pattern");
    if (pattern != nullptr && !pattern->is_null()) {
      if (auto error = CheckPattern(*pattern)) return error;
    }
  }
  return std::nullopt;
}

// The rule a PUT builds from its body, or the 400 answer.
std::variant<json::object, Response> RuleFromBody(std::string_view kind, std::string_view rule_id,
                                                  const json::object& body) {
  if (auto error = CheckActions(body)) return *error;
  json::object rule{
      {"rule_id", rule_id}, {"default", false}, {"enabled", true}, {"actions", body.at("actions")}};
  if (kind == "override" || kind == "underride") {
    json::value conditions = json::array{};
    if (const json::value* c = body.if_contains("conditions"); c && !c->is_null()) {
      if (auto error = CheckConditions(*c)) return *error;
      conditions = *c;
    }
    rule["conditions"] = std::move(conditions);
  } else if (kind == "content") {
    const json::value* pattern = body.if_contains("pattern");
    if (pattern == nullptr) return ErrorResponse(400, "M_MISSING_PARAM", "Missing pattern");
    if (auto error = CheckPattern(*pattern)) return *error;
    rule["pattern"] = *pattern;
  } else if (kind == "room" && !event::IsValidRoomId(rule_id)) {
    return ErrorResponse(400, "M_INVALID_PARAM", "A room rule's ID is the room ID");
  } else if (kind == "sender" && !event::IsValidUserId(rule_id)) {
    return ErrorResponse(400, "M_INVALID_PARAM", "A sender rule's ID is the user ID");
  }
  return rule;
}

std::optional<Response> CheckNewRuleId(std::string_view kind, std::string_view rule_id) {
  if (!IsKind(kind)) return ErrorResponse(400, "M_INVALID_PARAM", "Unknown push rule kind");
  if (rule_id.empty() || rule_id.find_first_of("/\\") != std::string_view::npos) {
    return ErrorResponse(400, "M_INVALID_PARAM", "Push rule IDs may not contain '/' or '\\'");
  }
  if (IsServerDefault(rule_id)) {
    return ErrorResponse(400, "M_INVALID_PARAM", "Rule IDs starting with '.' are server defaults");
  }
  return std::nullopt;
}

void PutRule(core::Engine& engine, const Request& request, const PathParams& p, Respond respond) {
  const std::string& kind = p.at("kind");
  const std::string& rule_id = p.at("ruleId");
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return respond(*error);
  if (auto error = CheckNewRuleId(kind, rule_id)) return respond(*error);
  auto body = ParseJsonBody(request, /*canonical_numbers=*/false);
  if (auto* error = std::get_if<Response>(&body)) return respond(*error);
  auto rule = RuleFromBody(kind, rule_id, std::get<json::object>(body));
  if (auto* error = std::get_if<Response>(&rule)) return respond(*error);
  EditPushRuleCommand edit{.user_id = std::get<Caller>(caller).user_id,
                           .kind = kind,
                           .rule_id = rule_id,
                           .change = PushRuleChange::kPut,
                           .value = std::move(std::get<json::object>(rule))};
  auto before = request.Query("before");
  auto after = request.Query("after");
  if (before) {
    edit.before = std::string(*before);
  } else if (after) {
    edit.after = std::string(*after);
  }
  SubmitEdit(engine, edit, std::move(respond));
}

// The caller's rule set and the position of the path's existing rule
// ({kind}/{ruleId}); 404 M_NOT_FOUND for an unknown kind or rule.
struct FoundRule {
  Loaded state;
  size_t index = 0;
};
std::variant<FoundRule, Response> LoadRule(const Request& request, core::Engine& engine,
                                           const PathParams& p) {
  auto loaded = Load(request, engine);
  if (auto* error = std::get_if<Response>(&loaded)) return *error;
  Loaded& state = std::get<Loaded>(loaded);
  if (!IsKind(p.at("kind"))) return NoSuchRule();
  std::optional<size_t> index =
      PushRuleIndex(PushRulesOf(state.ruleset, p.at("kind")), p.at("ruleId"));
  if (!index) return NoSuchRule();
  return FoundRule{std::move(state), *index};
}

// DELETE, PUT .../enabled and .../actions: the caller and the edit's base, or 404 for
// an unknown kind (whether the rule exists is decided in apply).
std::variant<EditPushRuleCommand, Response> EditOf(const Request& request, core::Engine& engine,
                                                   const PathParams& p, PushRuleChange change) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  if (!IsKind(p.at("kind"))) return NoSuchRule();
  return EditPushRuleCommand{.user_id = std::get<Caller>(caller).user_id,
                             .kind = p.at("kind"),
                             .rule_id = p.at("ruleId"),
                             .change = change};
}

void DeleteRule(core::Engine& engine, const Request& request, const PathParams& p,
                Respond respond) {
  auto edit = EditOf(request, engine, p, PushRuleChange::kDelete);
  if (auto* error = std::get_if<Response>(&edit)) return respond(*error);
  SubmitEdit(engine, std::get<EditPushRuleCommand>(edit), std::move(respond));
}

// PUT .../enabled and .../actions: sets one attribute of any existing rule.
void PutRulePart(core::Engine& engine, const Request& request, const PathParams& p,
                 std::string_view part, Respond respond) {
  auto edit = EditOf(request, engine, p,
                     part == "actions" ? PushRuleChange::kActions : PushRuleChange::kEnabled);
  if (auto* error = std::get_if<Response>(&edit)) return respond(*error);
  auto body = ParseJsonBody(request, /*canonical_numbers=*/false);
  if (auto* error = std::get_if<Response>(&body)) return respond(*error);
  const json::object& o = std::get<json::object>(body);
  if (part == "actions") {
    if (auto error = CheckActions(o)) return respond(*error);
  } else {
    const json::value* enabled = o.if_contains("enabled");
    if (enabled == nullptr)
      return respond(ErrorResponse(400, "M_MISSING_PARAM", "Missing enabled"));
    if (!enabled->is_bool()) {
      return respond(ErrorResponse(400, "M_BAD_JSON", "enabled must be a boolean"));
    }
  }
  EditPushRuleCommand& command = std::get<EditPushRuleCommand>(edit);
  command.value = json::object{{part, o.at(part)}};
  SubmitEdit(engine, command, std::move(respond));
}

Response GetRulePart(const Request& request, core::Engine& engine, const PathParams& p,
                     std::string_view part) {
  auto found = LoadRule(request, engine, p);
  if (auto* error = std::get_if<Response>(&found)) return *error;
  FoundRule& located = std::get<FoundRule>(found);
  const json::object& rule =
      PushRulesOf(located.state.ruleset, p.at("kind"))[located.index].as_object();
  if (part.empty()) return JsonResponse(200, rule);
  const json::value* value = rule.if_contains(part);
  return JsonResponse(200, json::object{{part, value ? *value : json::value()}});
}

}  // namespace

void AddPushRuleRoutes(Router& router, core::Engine& engine) {
  const RouteOptions small_body{.body_bytes_max = kPushRuleBodyBytesMax};
  for (std::string_view prefix : {"/_matrix/client/v3", "/_matrix/client/r0"}) {
    const std::string base = std::string(prefix) + "/pushrules";
    const std::string rule = base + "/global/{kind}/{ruleId}";
    router.Add("GET", base + "/", [&engine](const Request& r, const PathParams&) {
      auto loaded = Load(r, engine);
      if (auto* error = std::get_if<Response>(&loaded)) return *error;
      return JsonResponse(200, json::object{{"global", std::get<Loaded>(loaded).ruleset}});
    });
    router.Add("GET", base + "/global/", [&engine](const Request& r, const PathParams&) {
      auto loaded = Load(r, engine);
      if (auto* error = std::get_if<Response>(&loaded)) return *error;
      return JsonResponse(200, std::get<Loaded>(loaded).ruleset);
    });
    router.Add("GET", rule, [&engine](const Request& r, const PathParams& p) {
      return GetRulePart(r, engine, p, "");
    });
    router.AddAsync(
        "PUT", rule,
        [&engine](const Request& r, const PathParams& p, Respond respond) {
          PutRule(engine, r, p, std::move(respond));
        },
        small_body);
    router.AddAsync("DELETE", rule,
                    [&engine](const Request& r, const PathParams& p, Respond respond) {
                      DeleteRule(engine, r, p, std::move(respond));
                    });
    for (std::string_view part : {"enabled", "actions"}) {
      router.Add("GET", rule + "/" + std::string(part),
                 [&engine, part](const Request& r, const PathParams& p) {
                   return GetRulePart(r, engine, p, part);
                 });
      router.AddAsync(
          "PUT", rule + "/" + std::string(part),
          [&engine, part](const Request& r, const PathParams& p, Respond respond) {
            PutRulePart(engine, r, p, part, std::move(respond));
          },
          small_body);
    }
  }
}

}  // namespace nebu::api
