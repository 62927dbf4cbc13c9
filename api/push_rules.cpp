// Push rules (Client-Server API § Push Rules): the server-default rule set, the
// user's stored rules (m.push_rules account data) and the change endpoints
// (push_rules.h).
//
// The rule definitions below are the spec's "Default Override Rules" and "Default
// Underride Rules" (content/client-server-api/modules/push.md), verbatim as JSON, with
// "[the user's Matrix ID]" replaced per user. The spec defines no default content,
// room or sender rules.
#include "api/push_rules.h"

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
#include "engine/core/engine.h"
#include "engine/event/canonical_json.h"
#include "engine/event/identifiers.h"

namespace nebu::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kUserIdPlaceholder = "[the user's Matrix ID]";

constexpr std::string_view kDefaultRuleset =
    R"json({"override":[{"rule_id":".m.rule.master","default":true,"enabled":false,"conditions":[],"actions":[]},{"rule_id":".m.rule.suppress_notices","default":true,"enabled":true,"conditions":[{"kind":"event_match","key":"content.msgtype","pattern":"m.notice"}],"actions":[]},{"rule_id":".m.rule.invite_for_me","default":true,"enabled":true,"conditions":[{"key":"type","kind":"event_match","pattern":"m.room.member"},{"key":"content.membership","kind":"event_match","pattern":"invite"},{"key":"state_key","kind":"event_match","pattern":"[the user's Matrix ID]"}],"actions":["notify",{"set_tweak":"sound","value":"default"}]},{"rule_id":".m.rule.member_event","default":true,"enabled":true,"conditions":[{"key":"type","kind":"event_match","pattern":"m.room.member"}],"actions":[]},{"rule_id":".m.rule.is_user_mention","default":true,"enabled":true,"conditions":[{"kind":"event_property_contains","key":"content.m\\.mentions.user_ids","value":"[the user's Matrix ID]"}],"actions":["notify",{"set_tweak":"sound","value":"default"},{"set_tweak":"highlight"}]},{"rule_id":".m.rule.is_room_mention","default":true,"enabled":true,"conditions":[{"kind":"event_property_is","key":"content.m\\.mentions.room","value":true},{"kind":"sender_notification_permission","key":"room"}],"actions":["notify",{"set_tweak":"highlight"}]},{"rule_id":".m.rule.tombstone","default":true,"enabled":true,"conditions":[{"kind":"event_match","key":"type","pattern":"m.room.tombstone"},{"kind":"event_match","key":"state_key","pattern":""}],"actions":["notify",{"set_tweak":"highlight"}]},{"rule_id":".m.rule.reaction","default":true,"enabled":true,"conditions":[{"kind":"event_match","key":"type","pattern":"m.reaction"}],"actions":[]},{"rule_id":".m.rule.room.server_acl","default":true,"enabled":true,"conditions":[{"kind":"event_match","key":"type","pattern":"m.room.server_acl"},{"kind":"event_match","key":"state_key","pattern":""}],"actions":[]},{"rule_id":".m.rule.suppress_edits","default":true,"enabled":true,"conditions":[{"kind":"event_property_is","key":"content.m\\.relates_to.rel_type","value":"m.replace"}],"actions":[]}],"content":[],"room":[],"sender":[],"underride":[{"rule_id":".m.rule.call","default":true,"enabled":true,"conditions":[{"key":"type","kind":"event_match","pattern":"m.call.invite"}],"actions":["notify",{"set_tweak":"sound","value":"ring"}]},{"rule_id":".m.rule.encrypted_room_one_to_one","default":true,"enabled":true,"conditions":[{"kind":"room_member_count","is":"2"},{"kind":"event_match","key":"type","pattern":"m.room.encrypted"}],"actions":["notify",{"set_tweak":"sound","value":"default"}]},{"rule_id":".m.rule.room_one_to_one","default":true,"enabled":true,"conditions":[{"kind":"room_member_count","is":"2"},{"kind":"event_match","key":"type","pattern":"m.room.message"}],"actions":["notify",{"set_tweak":"sound","value":"default"}]},{"rule_id":".m.rule.message","default":true,"enabled":true,"conditions":[{"kind":"event_match","key":"type","pattern":"m.room.message"}],"actions":["notify"]},{"rule_id":".m.rule.encrypted","default":true,"enabled":true,"conditions":[{"kind":"event_match","key":"type","pattern":"m.room.encrypted"}],"actions":["notify"]}]})json";

constexpr std::string_view kKinds[] = {"override", "content", "room", "sender", "underride"};
constexpr std::string_view kMasterRule = ".m.rule.master";

void Substitute(json::value& v, std::string_view user_id) {
  if (auto* s = v.if_string()) {
    if (*s == kUserIdPlaceholder) *s = user_id;
  } else if (auto* a = v.if_array()) {
    for (auto& e : *a) Substitute(e, user_id);
  } else if (auto* o = v.if_object()) {
    for (auto& kv : *o) Substitute(kv.value(), user_id);
  }
}

bool IsKind(std::string_view kind) {
  for (std::string_view k : kKinds) {
    if (k == kind) return true;
  }
  return false;
}

bool IsServerDefault(std::string_view rule_id) { return rule_id.starts_with('.'); }

std::string_view RuleId(const json::value& rule) {
  const json::object* o = rule.if_object();
  const json::value* id = o ? o->if_contains("rule_id") : nullptr;
  return id && id->is_string() ? std::string_view(id->as_string()) : std::string_view();
}

// The rules of one kind (created empty when absent or malformed).
json::array& RulesOf(json::object& ruleset, std::string_view kind) {
  json::value& rules = ruleset[kind];
  if (!rules.is_array()) rules = json::array{};
  return rules.as_array();
}

// Index of rule_id in rules, nullopt when absent.
std::optional<size_t> IndexOf(const json::array& rules, std::string_view rule_id) {
  for (size_t i = 0; i < rules.size(); ++i) {
    if (RuleId(rules[i]) == rule_id) return i;
  }
  return std::nullopt;
}

// Where the user's rules of a kind begin: after .m.rule.master in override.
size_t UserRulesStart(const json::array& rules) {
  return !rules.empty() && RuleId(rules[0]) == kMasterRule ? 1 : 0;
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
  auto stored = accounts::GetAccountData(engine.store(), user_id, std::nullopt, kPushRulesType);
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

// Stores the rule set as the caller's m.push_rules account data; answers {} or the error.
void StoreRuleset(core::Engine& engine, const Loaded& loaded, Respond respond) {
  accounts::PutAccountDataCommand put{.user_id = loaded.caller.user_id,
                                      .room_id = std::nullopt,
                                      .type = std::string(kPushRulesType),
                                      .content = json::object{{"global", loaded.ruleset}}};
  Result<std::string> payload = accounts::EncodeAccountCommand(put);
  if (!payload.ok()) return respond(ErrorResponse(payload.status()));
  engine.SubmitAsync(
      {core::CommandKind::kAccount, std::move(*payload)}, [respond](core::ApplyOutcome outcome) {
        respond(outcome.ok() ? JsonResponse(200, json::object{}) : ErrorResponse(outcome.status()));
      });
}

Response NoSuchRule() { return ErrorResponse(404, "M_NOT_FOUND", "The push rule was not found."); }

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

// The index a PUT puts its rule at (after the old copy was removed), or the 400 answer.
std::variant<size_t, Response> Placement(const Request& request, const json::array& rules,
                                         std::optional<size_t> old_index) {
  auto before = request.Query("before");
  auto after = request.Query("after");
  std::optional<std::string_view> anchor = before ? before : after;
  if (!anchor) return old_index.value_or(UserRulesStart(rules));
  std::optional<size_t> at = IndexOf(rules, *anchor);
  if (!at || IsServerDefault(*anchor)) {
    return ErrorResponse(400, "M_UNKNOWN", "before/after rule not found: " + std::string(*anchor));
  }
  return before ? *at : *at + 1;
}

void PutRule(core::Engine& engine, const Request& request, const PathParams& p, Respond respond) {
  const std::string& kind = p.at("kind");
  const std::string& rule_id = p.at("ruleId");
  auto loaded = Load(request, engine);
  if (auto* error = std::get_if<Response>(&loaded)) return respond(*error);
  if (auto error = CheckNewRuleId(kind, rule_id)) return respond(*error);
  auto body = ParseJsonBody(request, /*canonical_numbers=*/false);
  if (auto* error = std::get_if<Response>(&body)) return respond(*error);
  auto rule = RuleFromBody(kind, rule_id, std::get<json::object>(body));
  if (auto* error = std::get_if<Response>(&rule)) return respond(*error);

  Loaded& state = std::get<Loaded>(loaded);
  json::array& rules = RulesOf(state.ruleset, kind);
  std::optional<size_t> old_index = IndexOf(rules, rule_id);
  if (old_index) {  // a replaced rule keeps its enabled flag
    if (const json::value* e = rules[*old_index].as_object().if_contains("enabled");
        e && e->is_bool()) {
      std::get<json::object>(rule)["enabled"] = e->as_bool();
    }
    rules.erase(rules.begin() + static_cast<std::ptrdiff_t>(*old_index));
  }
  auto at = Placement(request, rules, old_index);
  if (auto* error = std::get_if<Response>(&at)) return respond(*error);
  rules.insert(rules.begin() + static_cast<std::ptrdiff_t>(std::get<size_t>(at)),
               std::move(std::get<json::object>(rule)));
  StoreRuleset(engine, state, std::move(respond));
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
  std::optional<size_t> index = IndexOf(RulesOf(state.ruleset, p.at("kind")), p.at("ruleId"));
  if (!index) return NoSuchRule();
  return FoundRule{std::move(state), *index};
}

void DeleteRule(core::Engine& engine, const Request& request, const PathParams& p,
                Respond respond) {
  auto found = LoadRule(request, engine, p);
  if (auto* error = std::get_if<Response>(&found)) return respond(*error);
  FoundRule& rule = std::get<FoundRule>(found);
  if (IsServerDefault(p.at("ruleId"))) {
    return respond(ErrorResponse(400, "M_INVALID_PARAM", "Server-default rules cannot be deleted"));
  }
  json::array& rules = RulesOf(rule.state.ruleset, p.at("kind"));
  rules.erase(rules.begin() + static_cast<std::ptrdiff_t>(rule.index));
  StoreRuleset(engine, rule.state, std::move(respond));
}

// PUT .../enabled and .../actions: sets one attribute of any existing rule.
void PutRulePart(core::Engine& engine, const Request& request, const PathParams& p,
                 std::string_view part, Respond respond) {
  auto found = LoadRule(request, engine, p);
  if (auto* error = std::get_if<Response>(&found)) return respond(*error);
  FoundRule& rule = std::get<FoundRule>(found);
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
  RulesOf(rule.state.ruleset, p.at("kind"))[rule.index].as_object()[part] = o.at(part);
  StoreRuleset(engine, rule.state, std::move(respond));
}

Response GetRulePart(const Request& request, core::Engine& engine, const PathParams& p,
                     std::string_view part) {
  auto found = LoadRule(request, engine, p);
  if (auto* error = std::get_if<Response>(&found)) return *error;
  FoundRule& located = std::get<FoundRule>(found);
  const json::object& rule =
      RulesOf(located.state.ruleset, p.at("kind"))[located.index].as_object();
  if (part.empty()) return JsonResponse(200, rule);
  const json::value* value = rule.if_contains(part);
  return JsonResponse(200, json::object{{part, value ? *value : json::value()}});
}

}  // namespace

json::object DefaultPushRuleset(std::string_view user_id) {
  json::value v = json::parse(kDefaultRuleset);
  Substitute(v, user_id);
  return std::move(v.as_object());
}

json::object EffectivePushRuleset(std::string_view user_id, const json::object* stored) {
  json::object defaults = DefaultPushRuleset(user_id);
  json::object out;
  for (std::string_view kind : kKinds) {
    json::array user_rules;
    std::map<std::string_view, const json::object*> default_state;
    const json::value* stored_rules = stored ? stored->if_contains(kind) : nullptr;
    if (stored_rules && stored_rules->is_array()) {
      for (const json::value& rule : stored_rules->as_array()) {
        std::string_view id = RuleId(rule);
        if (id.empty()) continue;  // not a rule object
        if (IsServerDefault(id)) {
          default_state.emplace(id, &rule.as_object());
        } else {
          user_rules.push_back(rule);
        }
      }
    }
    json::array merged;
    auto add_default = [&](const json::value& rule) {
      json::object copy = rule.as_object();
      if (auto it = default_state.find(RuleId(rule)); it != default_state.end()) {
        if (const json::value* e = it->second->if_contains("enabled"); e && e->is_bool()) {
          copy["enabled"] = *e;
        }
        if (const json::value* a = it->second->if_contains("actions"); a && a->is_array()) {
          copy["actions"] = *a;
        }
      }
      merged.push_back(std::move(copy));
    };
    const json::array& kind_defaults = defaults.at(kind).as_array();
    for (const json::value& rule : kind_defaults) {
      if (RuleId(rule) == kMasterRule) add_default(rule);
    }
    for (json::value& rule : user_rules) merged.push_back(std::move(rule));
    for (const json::value& rule : kind_defaults) {
      if (RuleId(rule) != kMasterRule) add_default(rule);
    }
    out[kind] = std::move(merged);
  }
  return out;
}

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
