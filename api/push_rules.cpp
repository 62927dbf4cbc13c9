// Push rules (Client-Server API § Push Rules): the server-default rule set.
//
// The rule definitions below are the spec's "Default Override Rules" and "Default
// Underride Rules" (content/client-server-api/modules/push.md), verbatim as JSON, with
// "[the user's Matrix ID]" replaced per user. The spec defines no default content,
// room or sender rules.
#include "api/push_rules.h"

#include <boost/json.hpp>
#include <string>
#include <string_view>

#include "api/auth.h"
#include "api/errors.h"
#include "engine/core/engine.h"

namespace nebu::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kUserIdPlaceholder = "[the user's Matrix ID]";

constexpr std::string_view kDefaultRuleset = R"json({"override":[{"rule_id":".m.rule.master","default":true,"enabled":false,"conditions":[],"actions":[]},{"rule_id":".m.rule.suppress_notices","default":true,"enabled":true,"conditions":[{"kind":"event_match","key":"content.msgtype","pattern":"m.notice"}],"actions":[]},{"rule_id":".m.rule.invite_for_me","default":true,"enabled":true,"conditions":[{"key":"type","kind":"event_match","pattern":"m.room.member"},{"key":"content.membership","kind":"event_match","pattern":"invite"},{"key":"state_key","kind":"event_match","pattern":"[the user's Matrix ID]"}],"actions":["notify",{"set_tweak":"sound","value":"default"}]},{"rule_id":".m.rule.member_event","default":true,"enabled":true,"conditions":[{"key":"type","kind":"event_match","pattern":"m.room.member"}],"actions":[]},{"rule_id":".m.rule.is_user_mention","default":true,"enabled":true,"conditions":[{"kind":"event_property_contains","key":"content.m\\.mentions.user_ids","value":"[the user's Matrix ID]"}],"actions":["notify",{"set_tweak":"sound","value":"default"},{"set_tweak":"highlight"}]},{"rule_id":".m.rule.is_room_mention","default":true,"enabled":true,"conditions":[{"kind":"event_property_is","key":"content.m\\.mentions.room","value":true},{"kind":"sender_notification_permission","key":"room"}],"actions":["notify",{"set_tweak":"highlight"}]},{"rule_id":".m.rule.tombstone","default":true,"enabled":true,"conditions":[{"kind":"event_match","key":"type","pattern":"m.room.tombstone"},{"kind":"event_match","key":"state_key","pattern":""}],"actions":["notify",{"set_tweak":"highlight"}]},{"rule_id":".m.rule.reaction","default":true,"enabled":true,"conditions":[{"kind":"event_match","key":"type","pattern":"m.reaction"}],"actions":[]},{"rule_id":".m.rule.room.server_acl","default":true,"enabled":true,"conditions":[{"kind":"event_match","key":"type","pattern":"m.room.server_acl"},{"kind":"event_match","key":"state_key","pattern":""}],"actions":[]},{"rule_id":".m.rule.suppress_edits","default":true,"enabled":true,"conditions":[{"kind":"event_property_is","key":"content.m\\.relates_to.rel_type","value":"m.replace"}],"actions":[]}],"content":[],"room":[],"sender":[],"underride":[{"rule_id":".m.rule.call","default":true,"enabled":true,"conditions":[{"key":"type","kind":"event_match","pattern":"m.call.invite"}],"actions":["notify",{"set_tweak":"sound","value":"ring"}]},{"rule_id":".m.rule.encrypted_room_one_to_one","default":true,"enabled":true,"conditions":[{"kind":"room_member_count","is":"2"},{"kind":"event_match","key":"type","pattern":"m.room.encrypted"}],"actions":["notify",{"set_tweak":"sound","value":"default"}]},{"rule_id":".m.rule.room_one_to_one","default":true,"enabled":true,"conditions":[{"kind":"room_member_count","is":"2"},{"kind":"event_match","key":"type","pattern":"m.room.message"}],"actions":["notify",{"set_tweak":"sound","value":"default"}]},{"rule_id":".m.rule.message","default":true,"enabled":true,"conditions":[{"kind":"event_match","key":"type","pattern":"m.room.message"}],"actions":["notify"]},{"rule_id":".m.rule.encrypted","default":true,"enabled":true,"conditions":[{"kind":"event_match","key":"type","pattern":"m.room.encrypted"}],"actions":["notify"]}]})json";

void Substitute(json::value& v, std::string_view user_id) {
  if (auto* s = v.if_string()) {
    if (*s == kUserIdPlaceholder) *s = user_id;
  } else if (auto* a = v.if_array()) {
    for (auto& e : *a) Substitute(e, user_id);
  } else if (auto* o = v.if_object()) {
    for (auto& kv : *o) Substitute(kv.value(), user_id);
  }
}

const json::object* FindRule(const json::object& ruleset, std::string_view kind,
                             std::string_view rule_id) {
  const json::value* rules = ruleset.if_contains(kind);
  if (!rules || !rules->is_array()) return nullptr;
  for (const auto& r : rules->as_array()) {
    const json::value* id = r.as_object().if_contains("rule_id");
    if (id && id->is_string() && id->as_string() == rule_id) return &r.as_object();
  }
  return nullptr;
}

// The caller's rule set, or the ready error response.
std::variant<json::object, Response> RulesetFor(const Request& request, core::Engine& engine) {
  auto caller = Authenticate(request, engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  return DefaultPushRuleset(std::get<Caller>(caller).user_id);
}

Response GetRulePart(const Request& request, core::Engine& engine, const PathParams& p,
                     std::string_view part) {
  auto ruleset = RulesetFor(request, engine);
  if (auto* error = std::get_if<Response>(&ruleset)) return *error;
  const json::object* rule =
      FindRule(std::get<json::object>(ruleset), p.at("kind"), p.at("ruleId"));
  if (!rule) return ErrorResponse(404, "M_NOT_FOUND", "No such push rule");
  if (part.empty()) return JsonResponse(200, *rule);
  return JsonResponse(200, json::object{{part, rule->at(part)}});
}

}  // namespace

json::object DefaultPushRuleset(std::string_view user_id) {
  json::value v = json::parse(kDefaultRuleset);
  Substitute(v, user_id);
  return std::move(v.as_object());
}

void AddPushRuleRoutes(Router& router, core::Engine& engine) {
  for (std::string_view prefix : {"/_matrix/client/v3", "/_matrix/client/r0"}) {
    const std::string base = std::string(prefix) + "/pushrules";
    router.Add("GET", base + "/", [&engine](const Request& r, const PathParams&) {
      auto ruleset = RulesetFor(r, engine);
      if (auto* error = std::get_if<Response>(&ruleset)) return *error;
      return JsonResponse(200, json::object{{"global", std::get<json::object>(ruleset)}});
    });
    router.Add("GET", base + "/global/", [&engine](const Request& r, const PathParams&) {
      auto ruleset = RulesetFor(r, engine);
      if (auto* error = std::get_if<Response>(&ruleset)) return *error;
      return JsonResponse(200, std::get<json::object>(ruleset));
    });
    router.Add("GET", base + "/global/{kind}/{ruleId}",
               [&engine](const Request& r, const PathParams& p) {
                 return GetRulePart(r, engine, p, "");
               });
    for (std::string_view part : {"enabled", "actions"}) {
      router.Add("GET", base + "/global/{kind}/{ruleId}/" + std::string(part),
                 [&engine, part](const Request& r, const PathParams& p) {
                   return GetRulePart(r, engine, p, part);
                 });
    }
  }
}

}  // namespace nebu::api
