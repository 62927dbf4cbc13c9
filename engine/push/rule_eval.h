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
// Thread-safety: pure functions; a PreparedEvent is immutable once built.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
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

 private:
  const boost::json::object& event_;
  std::string sender_;
  std::string body_;
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

}  // namespace nebu::push
