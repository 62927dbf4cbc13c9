// Push rule sets in account data (Client-Server API § Push Rules): the spec's
// server-default rules, the merge of a stored set with them, and the edits the
// edit_push_rule command (commands.h) applies to the stored set in apply.
//
// The stored set is the user's global account data of type m.push_rules,
// {"global": ruleset}; a user who never changed a rule has none, and readers see the
// defaults. EffectivePushRuleset merges the stored set with the current server
// defaults (stored enabled/actions of a default rule win; user rules keep their
// order), so a newer server's default rules appear without a migration. Apply merges
// with the defaults its command carries (MergePushRuleset), not the binary's, so
// nodes of different versions store the same set. Order per
// kind: .m.rule.master, then the user's rules, then the other defaults (spec:
// server-default rules rank below user-defined ones, except the master rule).
//
// Edits (EditPushRuleset), decided against the applied set, so two racing edits by
// one user both land:
//   put      creates or replaces a user rule (value: the rule object). A replaced
//            rule keeps its enabled flag and, without before/after, its place; a new
//            one without before/after becomes the most important user rule of its
//            kind. before/after must name a user rule of the same kind, else
//            kInvalidArgument with a message starting kPushRuleAnchorNotFound.
//   delete   removes a user rule: kNotFound for an unknown rule, kInvalidArgument
//            for a server-default rule (which exists).
//   enabled  value {"enabled": bool}; actions: value {"actions": [...]}: sets that
//            attribute of any existing rule (server defaults included); kNotFound for
//            an unknown rule.
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <optional>
#include <string_view>

#include "engine/common/status.h"

namespace nebu::accounts {

struct EditPushRuleCommand;

inline constexpr std::string_view kPushRulesType = "m.push_rules";
// The message prefix of the kInvalidArgument an unknown before/after rule gives
// (the API answers it 400 M_UNKNOWN, as the spec's examples do).
inline constexpr std::string_view kPushRuleAnchorNotFound = "before/after rule not found";

// True for the five kinds: override, content, room, sender, underride.
bool IsPushRuleKind(std::string_view kind);
// Rule IDs starting with '.' are the server's.
bool IsServerDefaultPushRule(std::string_view rule_id);

// Helpers over a rule set's JSON (also used by api/accounts/push_rules.cpp): a rule's
// "rule_id" ("" when it has none); the rules array of a kind (created empty when
// absent or malformed); the index of rule_id in rules (nullopt when absent).
std::string_view PushRuleId(const boost::json::value& rule);
boost::json::array& PushRulesOf(boost::json::object& ruleset, std::string_view kind);
std::optional<size_t> PushRuleIndex(const boost::json::array& rules, std::string_view rule_id);

// {"override": [...], "content": [], "room": [], "sender": [], "underride": [...]} with
// user_id in the rules that name the user.
boost::json::object DefaultPushRuleset(std::string_view user_id);

// The rule set a user sees: the defaults merged with `stored` (the "global" object of
// the user's m.push_rules account data; nullptr when there is none), as described above.
boost::json::object EffectivePushRuleset(std::string_view user_id,
                                         const boost::json::object* stored);
// The same merge over given `defaults` (a DefaultPushRuleset, e.g. carried by an
// edit_push_rule command): what apply uses, so its result depends only on the command
// and the stored set. Entries of `defaults` that are not rule objects in an array of
// a kind are ignored (it comes from a log). keep_unknown_defaults (apply): a stored
// server-default entry that `defaults` does not list (a rule of a newer server's
// defaults, stored by a node of that version) is kept at the end of its kind, so an
// edit proposed by an older node does not lose it; readers leave it out.
boost::json::object MergePushRuleset(const boost::json::object& defaults,
                                     const boost::json::object* stored,
                                     bool keep_unknown_defaults = false);

// Applies one edit to an effective rule set (as above). On error `ruleset` may be
// half-changed: callers discard it.
[[nodiscard]] Status EditPushRuleset(boost::json::object& ruleset, const EditPushRuleCommand& edit);

// Room upgrades (copy_room_user_state, commands.h): copies every user rule naming
// old_room_id — the room rule whose rule_id it is, any rule with a condition
// {"key": "room_id", "pattern": old_room_id} — to new_room_id — rule_id
// and such patterns rewritten (every occurrence of old_room_id in rule_id replaced),
// the copy placed just after its original — unless some user rule already names
// new_room_id that way, or a rule with the rewritten ID exists. Returns the number
// of rules copied. Deterministic: depends only on `ruleset` and the IDs.
size_t CopyRoomPushRules(boost::json::object& ruleset, std::string_view old_room_id,
                         std::string_view new_room_id);

}  // namespace nebu::accounts
