// Push rules (Client-Server API § Push Rules): the spec's server-default rules plus
// the user's own, per user.
//
//   AddPushRuleRoutes(router, *engine);
//   // GET  /pushrules/, /pushrules/global/
//   // GET|PUT|DELETE /pushrules/global/{kind}/{ruleId}   (PUT: ?before=, ?after=)
//   // GET|PUT        /pushrules/global/{kind}/{ruleId}/enabled
//   // GET|PUT        /pushrules/global/{kind}/{ruleId}/actions
//
// Storage: the user's whole rule set is global account data of type m.push_rules,
// {"global": ruleset}; reads merge it with the server defaults
// (engine/accounts/push_rules.h says how). Every change is one edit_push_rule command
// (put, delete, enabled, actions of one rule), applied to the stored set in apply, so
// two concurrent changes by one user both land, whatever node proposed them.
//
// Changes: a user rule is created or replaced by PUT (enabled by default; a replaced
// rule keeps its enabled flag and, without before/after, its place; a new one without
// before/after becomes the most important user rule of its kind). before/after must
// name a user rule of the same kind. Server-default rules (rule IDs starting with
// '.') cannot be created, replaced or deleted (400 M_INVALID_PARAM) but their
// enabled flag and actions can be set. Errors: 404 M_NOT_FOUND for an unknown rule
// (or kind, on reads); 400 M_INVALID_PARAM for an unknown kind, a rule ID with '/' or
// '\', a room rule whose ID is not a room ID or a sender rule whose ID is not a user
// ID; 400 M_UNKNOWN "before/after rule not found"; 400 M_MISSING_PARAM / M_BAD_JSON
// for a missing or malformed actions, conditions, pattern or enabled; 400 M_BAD_JSON
// for more than kPushRuleConditionsMax conditions or a glob pattern (a content rule's
// pattern, an event_match condition's) longer than kGlobPatternBytesMax (api/glob.h;
// the rules are stored, and when they are evaluated GlobMatch with '*' and '?' runs
// in linear time). Body checks come first; whether the rule (and before/after)
// exists is decided in apply. Nothing is stored on an error.
//
// Thread-safety: the routes keep no state; safe from any thread.
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

#include "api/router.h"
#include "engine/accounts/push_rules.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

using accounts::kPushRulesType;
inline constexpr size_t kPushRuleBodyBytesMax = 16 * 1024;
// Conditions one rule may hold (the spec's default rules have at most 3).
inline constexpr size_t kPushRuleConditionsMax = 16;

// The defaults and the merge live with the edits in the engine.
using accounts::DefaultPushRuleset;
using accounts::EffectivePushRuleset;

void AddPushRuleRoutes(Router& router, core::Engine& engine);

}  // namespace nebu::api
