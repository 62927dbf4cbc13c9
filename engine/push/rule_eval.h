// Push rule evaluation (Client-Server API § Push Notifications, "Push Rules"): given an
// event, the room as it was when the event arrived and one user's effective rule set
// (accounts::EffectivePushRuleset: the user's rules and the server defaults), the
// actions of the first enabled rule that matches. Pure: no storage, no clock.
//
//   const PreparedEvent event(event_json);            // once per event
//   PushRoom room{.room_id = "!r:hs", .joined_member_count = 2, .power_levels = &pl,
//                 .creator = "@alice:hs"};
//   PushActions a = EvaluatePushRules(ruleset, event, room,
//                                     {.user_id = "@bob:hs", .display_name = "Bob"});
//   if (a.notify) ...; if (a.highlight) ...;
//
// Order: override, content, room, sender, underride; within a kind the ruleset's order.
// Disabled rules and rules that are not objects are skipped. Conditions (every one must
// hold; none: the rule matches):
//   event_match            `key` (dot-separated path, `\.` and `\\` escapes) names a
//                          string property; `pattern` is a glob ('*' any run, '?' one
//                          character) matched case-insensitively (ASCII folding) against
//                          the whole value — except for content.body, where it must match
//                          a substring starting and ending at a word boundary (start/end
//                          of the value or a character outside [A-Za-z0-9_]).
//   event_property_is      the property equals `value` exactly (string, integer, bool,
//                          null; no casts).
//   event_property_contains the property is an array holding `value` exactly.
//   contains_display_name  content.body contains the user's display name in the room as
//                          a word-bounded, case-insensitive substring (no display name:
//                          no match).
//   room_member_count      `is`: "[==|<|>|<=|>=]N" against the joined member count.
//   sender_notification_permission  the sender's power level is at least
//                          notifications[`key`] of m.room.power_levels (default 50);
//                          without power levels the creator has 100, others 0.
//   anything else (an unknown kind, a malformed parameter): the condition fails, so the
//   rule never matches (spec: unrecognised conditions match no event).
// content rules: `pattern` against content.body as event_match does; room rules: rule_id
// is the room ID; sender rules: rule_id is the sender.
// Actions: "notify" notifies; "dont_notify", unknown strings, [] do not; the legacy
// "coalesce" notifies; {"set_tweak": "highlight", "value": bool (default true)};
// {"set_tweak": "sound", "value": string}. Highlight and sound count only with notify.
//
// Cost: a glob is matched by a simulation of its automaton, O(|pattern| * |value|)
// steps, no backtracking; values beyond kPushMatchValueBytesMax bytes are matched on
// their first kPushMatchValueBytesMax bytes (events are at most 64 KiB).
//
// Many evaluations (the notification worker: one event, every member of a room): a
// CompiledRuleset is a rule set parsed once (paths split, globs built, actions decoded;
// disabled rules dropped) whose Evaluate gives exactly what EvaluatePushRules gives for
// the same JSON (a property test holds them together). Conditions that do not depend on
// the user (all but contains_display_name; an event_property_contains naming a user ID
// is simply a different condition per user) are interned in a ConditionInterner shared
// by the rule sets, and their results kept in a ConditionMemo for the current event, so
// the members of a room who share the default rules evaluate each such condition once
// per event. ASCII patterns without wildcards matched against content.body (the
// contains_user_name keyword, display names) take a byte search instead of the automaton.
//
// Thread-safety: pure functions; a PreparedEvent and a CompiledRuleset are immutable
// once built; a ConditionInterner and a ConditionMemo are not synchronized.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace nebu::push {

inline constexpr size_t kPushMatchValueBytesMax = 16384;

// Case-insensitive glob match (see above); word_bounded: the content.body rule.
[[nodiscard]] bool PushGlobMatch(std::string_view pattern, std::string_view value,
                                 bool word_bounded);

// The value at a dot-separated path in `event` (nullptr when absent).
[[nodiscard]] const boost::json::value* PropertyAt(const boost::json::object& event,
                                                   std::string_view path);

// An event made ready for many evaluations.
class PreparedEvent {
 public:
  explicit PreparedEvent(const boost::json::object& event);
  const boost::json::object& json() const { return event_; }
  std::string_view sender() const { return sender_; }
  std::string_view body() const { return body_; }  // content.body ("" when not a string)
  bool has_body() const { return has_body_; }      // content.body is a string
  // content.body capped at kPushMatchValueBytesMax, as the glob automaton's characters.
  const std::vector<uint32_t>& body_characters() const;

 private:
  const boost::json::object& event_;
  std::string sender_;
  std::string body_;
  bool has_body_ = false;
  mutable std::vector<uint32_t> body_characters_;  // computed on first use
  mutable bool body_characters_ready_ = false;
};

struct PushRoom {
  std::string_view room_id;
  uint64_t joined_member_count = 0;
  const boost::json::object* power_levels = nullptr;  // content; nullptr when none
  std::string_view creator;                           // the m.room.create sender
};

struct PushUser {
  std::string_view user_id;
  std::string_view display_name;  // in the room; "" when none
};

struct PushActions {
  bool notify = false;
  bool highlight = false;
  std::string sound;          // "" when no sound tweak
  boost::json::array actions;  // the matching rule's actions as stored
  std::string rule_id;        // the rule that matched ("" when none)
};

// The power level of `user_id` per `power_levels` (content; nullptr: none, then
// `creator` has 100 and everyone else 0).
[[nodiscard]] int64_t UserPowerLevel(const boost::json::object* power_levels,
                                     std::string_view creator, std::string_view user_id);

[[nodiscard]] PushActions EvaluatePushRules(const boost::json::object& ruleset,
                                            const PreparedEvent& event, const PushRoom& room,
                                            const PushUser& user);

// Ids for the user-independent conditions of compiled rule sets: the same condition
// (its serialized JSON) gets the same id in every rule set compiled with this interner.
class ConditionInterner {
 public:
  size_t Intern(const std::string& condition_json);
  size_t size() const { return ids_.size(); }

 private:
  std::unordered_map<std::string, size_t> ids_;
};

// The results of interned conditions for one event and room: Reset before each event.
class ConditionMemo {
 public:
  void Reset() { results_.clear(); }
  // -1 unknown, 0 false, 1 true.
  int8_t Get(size_t id) const { return id < results_.size() ? results_[id] : -1; }
  void Set(size_t id, bool holds);

 private:
  std::vector<int8_t> results_;
};

namespace internal {
struct CompiledRule;
}

class CompiledRuleset {
 public:
  // interner: nullptr compiles without ids (Evaluate then needs no memo).
  CompiledRuleset(const boost::json::object& ruleset, ConditionInterner* interner);
  ~CompiledRuleset();
  CompiledRuleset(CompiledRuleset&&) noexcept;
  CompiledRuleset& operator=(CompiledRuleset&&) noexcept;

  // The actions of the first matching rule (what EvaluatePushRules returns), nullptr
  // when none matches. memo: the current event's (nullptr: no memo).
  [[nodiscard]] const PushActions* Evaluate(const PreparedEvent& event, const PushRoom& room,
                                            const PushUser& user, ConditionMemo* memo) const;

 private:
  std::vector<internal::CompiledRule> rules_;
};

}  // namespace nebu::push
