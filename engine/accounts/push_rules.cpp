// The push rule sets of push_rules.h. The rule definitions below are the spec's
// "Default Override Rules" and "Default Underride Rules"
// (content/client-server-api/modules/push.md), verbatim as JSON, with "[the user's
// Matrix ID]" replaced per user. The spec defines no default content, room or sender
// rules.
#include "engine/accounts/push_rules.h"

#include <boost/json.hpp>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "engine/accounts/commands.h"

namespace nebu::accounts {
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

bool IsKindImpl(std::string_view kind) {
  for (std::string_view k : kKinds) {
    if (k == kind) return true;
  }
  return false;
}

bool IsServerDefault(std::string_view rule_id) { return rule_id.starts_with('.'); }

// Where the user's rules of a kind begin: after .m.rule.master in override.
size_t UserRulesStart(const json::array& rules) {
  return !rules.empty() && PushRuleId(rules[0]) == kMasterRule ? 1 : 0;
}

// The index a put inserts its rule at (after the old copy was removed).
Result<size_t> Placement(const EditPushRuleCommand& edit, const json::array& rules,
                         std::optional<size_t> old_index) {
  const std::optional<std::string>& anchor = edit.before ? edit.before : edit.after;
  if (!anchor) return old_index.value_or(UserRulesStart(rules));
  std::optional<size_t> at = PushRuleIndex(rules, *anchor);
  if (!at || IsServerDefault(*anchor)) {
    return Status::InvalidArgument(std::string(kPushRuleAnchorNotFound) + ": " + *anchor);
  }
  return edit.before ? *at : *at + 1;
}

Status PutRule(json::array& rules, const EditPushRuleCommand& edit) {
  json::object rule = edit.value;
  std::optional<size_t> old_index = PushRuleIndex(rules, edit.rule_id);
  if (old_index) {  // a replaced rule keeps its enabled flag
    if (const json::value* e = rules[*old_index].as_object().if_contains("enabled");
        e && e->is_bool()) {
      rule["enabled"] = e->as_bool();
    }
    rules.erase(rules.begin() + static_cast<std::ptrdiff_t>(*old_index));
  }
  NEBU_ASSIGN_OR_RETURN(size_t at, Placement(edit, rules, old_index));
  rules.insert(rules.begin() + static_cast<std::ptrdiff_t>(at), std::move(rule));
  return Status::Ok();
}

}  // namespace

std::string_view PushRuleId(const boost::json::value& rule) {
  const boost::json::object* o = rule.if_object();
  const boost::json::value* id = o ? o->if_contains("rule_id") : nullptr;
  return id && id->is_string() ? std::string_view(id->as_string()) : std::string_view();
}

// The rules of one kind (created empty when absent or malformed).
boost::json::array& PushRulesOf(boost::json::object& ruleset, std::string_view kind) {
  boost::json::value& rules = ruleset[kind];
  if (!rules.is_array()) rules = boost::json::array{};
  return rules.as_array();
}

// Index of rule_id in rules, nullopt when absent.
std::optional<size_t> PushRuleIndex(const boost::json::array& rules, std::string_view rule_id) {
  for (size_t i = 0; i < rules.size(); ++i) {
    if (PushRuleId(rules[i]) == rule_id) return i;
  }
  return std::nullopt;
}


bool IsPushRuleKind(std::string_view kind) { return IsKindImpl(kind); }
bool IsServerDefaultPushRule(std::string_view rule_id) { return IsServerDefault(rule_id); }

json::object DefaultPushRuleset(std::string_view user_id) {
  json::value v = json::parse(kDefaultRuleset);
  Substitute(v, user_id);
  return std::move(v.as_object());
}

json::object EffectivePushRuleset(std::string_view user_id, const json::object* stored) {
  return MergePushRuleset(DefaultPushRuleset(user_id), stored);
}

json::object MergePushRuleset(const json::object& defaults, const json::object* stored,
                              bool keep_unknown_defaults) {
  json::object out;
  for (std::string_view kind : kKinds) {
    json::array user_rules;
    std::map<std::string_view, const json::object*> default_state;
    const json::value* stored_rules = stored ? stored->if_contains(kind) : nullptr;
    if (stored_rules && stored_rules->is_array()) {
      for (const json::value& rule : stored_rules->as_array()) {
        std::string_view id = PushRuleId(rule);
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
      if (PushRuleId(rule).empty()) return;  // not a rule object
      json::object copy = rule.as_object();
      if (auto it = default_state.find(PushRuleId(rule)); it != default_state.end()) {
        if (const json::value* e = it->second->if_contains("enabled"); e && e->is_bool()) {
          copy["enabled"] = *e;
        }
        if (const json::value* a = it->second->if_contains("actions"); a && a->is_array()) {
          copy["actions"] = *a;
        }
      }
      merged.push_back(std::move(copy));
    };
    static const json::array kNone;
    const json::value* listed = defaults.if_contains(kind);
    const json::array& kind_defaults = listed && listed->is_array() ? listed->as_array() : kNone;
    for (const json::value& rule : kind_defaults) {
      if (PushRuleId(rule) == kMasterRule) add_default(rule);
    }
    for (json::value& rule : user_rules) merged.push_back(std::move(rule));
    for (const json::value& rule : kind_defaults) {
      if (PushRuleId(rule) != kMasterRule) add_default(rule);
    }
    if (keep_unknown_defaults) {
      for (const auto& [id, rule] : default_state) {
        if (!PushRuleIndex(kind_defaults, id)) merged.push_back(*rule);
      }
    }
    out[kind] = std::move(merged);
  }
  return out;
}

Status EditPushRuleset(json::object& ruleset, const EditPushRuleCommand& edit) {
  if (!IsKindImpl(edit.kind)) return Status::InvalidArgument("unknown push rule kind");
  json::array& rules = PushRulesOf(ruleset, edit.kind);
  if (edit.change == PushRuleChange::kPut) {
    if (IsServerDefault(edit.rule_id)) {
      return Status::InvalidArgument("Rule IDs starting with '.' are server defaults");
    }
    return PutRule(rules, edit);
  }
  std::optional<size_t> index = PushRuleIndex(rules, edit.rule_id);
  if (!index) return Status::NotFound("The push rule was not found.");
  if (edit.change == PushRuleChange::kDelete) {
    if (IsServerDefault(edit.rule_id)) {
      return Status::InvalidArgument("Server-default rules cannot be deleted");
    }
    rules.erase(rules.begin() + static_cast<std::ptrdiff_t>(*index));
    return Status::Ok();
  }
  const std::string_view part = edit.change == PushRuleChange::kEnabled ? "enabled" : "actions";
  const json::value* value = edit.value.if_contains(part);
  if (value == nullptr) return Status::InvalidArgument("push rule edit lacks its value");
  rules[*index].as_object()[part] = *value;
  return Status::Ok();
}

namespace {

// True for a room rule of room_id (its rule_id is the room ID) and for a rule with a
// condition {"key": "room_id", "pattern": room_id}.
bool NamesRoom(std::string_view kind, const json::value& rule, std::string_view room_id) {
  if (kind == "room" && PushRuleId(rule) == room_id) return true;
  const json::object* o = rule.if_object();
  const json::value* conditions = o ? o->if_contains("conditions") : nullptr;
  if (conditions == nullptr || !conditions->is_array()) return false;
  for (const json::value& c : conditions->as_array()) {
    const json::object* co = c.if_object();
    if (co == nullptr) continue;
    const json::value* key = co->if_contains("key");
    const json::value* pattern = co->if_contains("pattern");
    if (key && key->is_string() && key->as_string() == "room_id" && pattern &&
        pattern->is_string() && pattern->as_string() == room_id) {
      return true;
    }
  }
  return false;
}

std::string ReplaceAll(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  size_t at = 0;
  for (size_t hit = text.find(from); hit != std::string_view::npos; hit = text.find(from, at)) {
    out.append(text.substr(at, hit - at)).append(to);
    at = hit + from.size();
  }
  out.append(text.substr(at));
  return out;
}

json::value RewrittenRule(const json::value& rule, std::string_view old_room_id,
                          std::string_view new_room_id) {
  json::value copy = rule;
  json::object& o = copy.as_object();
  o["rule_id"] = ReplaceAll(PushRuleId(rule), old_room_id, new_room_id);
  json::value* conditions = o.if_contains("conditions");
  if (conditions == nullptr || !conditions->is_array()) return copy;
  for (json::value& c : conditions->as_array()) {
    json::object* co = c.if_object();
    if (co == nullptr) continue;
    const json::value* key = co->if_contains("key");
    json::value* pattern = co->if_contains("pattern");
    if (key && key->is_string() && key->as_string() == "room_id" && pattern &&
        pattern->is_string() && pattern->as_string() == old_room_id) {
      *pattern = new_room_id;
    }
  }
  return copy;
}

}  // namespace

size_t CopyRoomPushRules(json::object& ruleset, std::string_view old_room_id,
                         std::string_view new_room_id) {
  for (std::string_view kind : kKinds) {
    for (const json::value& rule : PushRulesOf(ruleset, kind)) {
      if (!IsServerDefault(PushRuleId(rule)) && NamesRoom(kind, rule, new_room_id)) return 0;
    }
  }
  size_t copied = 0;
  for (std::string_view kind : kKinds) {
    json::array& rules = PushRulesOf(ruleset, kind);
    for (size_t i = 0; i < rules.size(); ++i) {
      if (IsServerDefault(PushRuleId(rules[i])) || !NamesRoom(kind, rules[i], old_room_id)) continue;
      json::value copy = RewrittenRule(rules[i], old_room_id, new_room_id);
      if (PushRuleIndex(rules, PushRuleId(copy))) continue;
      rules.insert(rules.begin() + static_cast<std::ptrdiff_t>(i + 1), std::move(copy));
      ++i;  // past the copy
      ++copied;
    }
  }
  return copied;
}

}  // namespace nebu::accounts
