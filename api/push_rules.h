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
// {"global": ruleset} (the event the spec says /sync carries), written with the
// accounts put_account_data command; a user who never changed a rule has none, and
// reads answer the defaults. Reads merge the stored set with the current server
// defaults (stored enabled/actions of a default rule win; user rules keep their
// order), so a newer server's default rules appear without a migration. Order per
// kind: .m.rule.master, then the user's rules, then the other defaults (spec:
// server-default rules rank below user-defined ones, except the master rule).
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
// in linear time). Nothing is stored then.
// A change is read-modify-write of the stored set: two concurrent changes by one user
// may race (the later write wins), as room tags do.
//
// Thread-safety: the routes keep no state; safe from any thread.
#pragma once

#include <boost/json/object.hpp>
#include <string_view>

#include "api/router.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

inline constexpr std::string_view kPushRulesType = "m.push_rules";
inline constexpr size_t kPushRuleBodyBytesMax = 16 * 1024;
// Conditions one rule may hold (the spec's default rules have at most 3).
inline constexpr size_t kPushRuleConditionsMax = 16;

// {"override": [...], "content": [], "room": [], "sender": [], "underride": [...]} with
// user_id in the rules that name the user.
boost::json::object DefaultPushRuleset(std::string_view user_id);

// The rule set a user sees: the defaults merged with `stored` (the "global" object of
// the user's m.push_rules account data; nullptr when there is none), as described above.
boost::json::object EffectivePushRuleset(std::string_view user_id,
                                         const boost::json::object* stored);

void AddPushRuleRoutes(Router& router, core::Engine& engine);

}  // namespace nebu::api
