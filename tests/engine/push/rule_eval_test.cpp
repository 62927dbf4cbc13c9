// The push-rule evaluator (engine/push/rule_eval.h). Goal: every condition and default
// rule of the spec gives the spec's answer. Method: a table of spec cases over the real
// server-default rule set, plus properties (rapidcheck; the seed is printed on failure,
// replay with RC_PARAMS="seed=N") of the glob matcher, of rule order, and that a
// CompiledRuleset (a memo shared by several users) answers as EvaluatePushRules.
#include "engine/push/rule_eval.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "engine/accounts/push_rules.h"

namespace nebu::push {
namespace {

namespace json = boost::json;

json::object Obj(std::string_view text) { return json::parse(text).as_object(); }

struct Case {
  const char* name;
  const char* event;
  uint64_t members;
  bool notify;
  bool highlight;
  const char* rule;  // the rule that decides ("" none)
};

constexpr const char* kPl = R"({"users":{"@admin:hs":100},"users_default":0,"notifications":{"room":50}})";

TEST(RuleEval, SpecDefaultRulesTable) {
  const Case cases[] = {
      {"message in a group", R"({"type":"m.room.message","sender":"@a:hs","content":{"msgtype":"m.text","body":"hi"}})", 5, true, false, ".m.rule.message"},
      {"message in a DM", R"({"type":"m.room.message","sender":"@a:hs","content":{"msgtype":"m.text","body":"hi"}})", 2, true, false, ".m.rule.room_one_to_one"},
      {"encrypted in a DM", R"({"type":"m.room.encrypted","sender":"@a:hs","content":{"algorithm":"x"}})", 2, true, false, ".m.rule.encrypted_room_one_to_one"},
      {"encrypted in a group", R"({"type":"m.room.encrypted","sender":"@a:hs","content":{"algorithm":"x"}})", 5, true, false, ".m.rule.encrypted"},
      {"notice", R"({"type":"m.room.message","sender":"@a:hs","content":{"msgtype":"m.notice","body":"bot"}})", 2, false, false, ".m.rule.suppress_notices"},
      {"user mention", R"({"type":"m.room.message","sender":"@a:hs","content":{"body":"x","m.mentions":{"user_ids":["@bob:hs"]}}})", 5, true, true, ".m.rule.is_user_mention"},
      {"other user mention", R"({"type":"m.room.message","sender":"@a:hs","content":{"body":"x","m.mentions":{"user_ids":["@carol:hs"]}}})", 5, true, false, ".m.rule.message"},
      {"room mention by admin", R"({"type":"m.room.message","sender":"@admin:hs","content":{"body":"x","m.mentions":{"room":true}}})", 5, true, true, ".m.rule.is_room_mention"},
      {"room mention without power", R"({"type":"m.room.message","sender":"@a:hs","content":{"body":"x","m.mentions":{"room":true}}})", 5, true, false, ".m.rule.message"},
      {"room mention as string", R"({"type":"m.room.message","sender":"@admin:hs","content":{"body":"x","m.mentions":{"room":"true"}}})", 5, true, false, ".m.rule.message"},
      {"invite for me", R"({"type":"m.room.member","sender":"@a:hs","state_key":"@bob:hs","content":{"membership":"invite"}})", 5, true, false, ".m.rule.invite_for_me"},
      {"other member event", R"({"type":"m.room.member","sender":"@a:hs","state_key":"@a:hs","content":{"membership":"join"}})", 5, false, false, ".m.rule.member_event"},
      {"tombstone", R"({"type":"m.room.tombstone","sender":"@admin:hs","state_key":"","content":{"body":"moved"}})", 5, true, true, ".m.rule.tombstone"},
      {"tombstone with a state key", R"({"type":"m.room.tombstone","sender":"@admin:hs","state_key":"x","content":{}})", 5, false, false, ""},
      {"reaction", R"({"type":"m.reaction","sender":"@a:hs","content":{"m.relates_to":{"rel_type":"m.annotation","event_id":"$e","key":"+"}}})", 5, false, false, ".m.rule.reaction"},
      {"edit", R"({"type":"m.room.message","sender":"@a:hs","content":{"body":"* x","m.relates_to":{"rel_type":"m.replace","event_id":"$e"}}})", 5, false, false, ".m.rule.suppress_edits"},
      {"call invite", R"({"type":"m.call.invite","sender":"@a:hs","content":{}})", 5, true, false, ".m.rule.call"},
      {"server acl", R"({"type":"m.room.server_acl","sender":"@a:hs","state_key":"","content":{}})", 5, false, false, ".m.rule.room.server_acl"},
      {"topic", R"({"type":"m.room.topic","sender":"@a:hs","state_key":"","content":{"topic":"t"}})", 5, false, false, ""},
  };
  const json::object ruleset = accounts::EffectivePushRuleset("@bob:hs", nullptr);
  const json::object pl = Obj(kPl);
  for (const Case& c : cases) {
    const json::object event = Obj(c.event);
    const PushActions a =
        EvaluatePushRules(ruleset, PreparedEvent(event),
                          {.room_id = "!r:hs", .joined_member_count = c.members, .power_levels = &pl,
                           .creator = "@admin:hs"},
                          {.user_id = "@bob:hs", .display_name = "Bob"});
    EXPECT_EQ(a.notify, c.notify) << c.name;
    EXPECT_EQ(a.highlight, c.highlight) << c.name;
    EXPECT_EQ(a.rule_id, c.rule) << c.name;
  }
}

PushActions EvalOne(std::string_view kind, std::string_view rule, std::string_view event,
                    uint64_t members = 3, std::string_view display_name = "Bob",
                    const json::object* pl = nullptr) {
  json::object ruleset;
  ruleset[kind] = json::array{Obj(rule)};
  const json::object e = Obj(event);
  return EvaluatePushRules(ruleset, PreparedEvent(e),
                           {.room_id = "!r:hs", .joined_member_count = members,
                            .power_levels = pl, .creator = "@creator:hs"},
                           {.user_id = "@bob:hs", .display_name = display_name});
}

constexpr const char* kNotify = R"("actions":["notify",{"set_tweak":"highlight"}])";

std::string Rule(std::string conditions) {
  return std::string(R"({"rule_id":"r","enabled":true,"conditions":)") + conditions + "," + kNotify + "}";
}

TEST(RuleEval, EventMatchIsCaseInsensitiveWholeValueWithGlobs) {
  const std::string rule = Rule(R"([{"kind":"event_match","key":"content.topic","pattern":"lunc?*"}])");
  EXPECT_TRUE(EvalOne("override", rule, R"({"content":{"topic":"Lunch plans"}})").notify);
  EXPECT_TRUE(EvalOne("override", rule, R"({"content":{"topic":"LUNCH"}})").notify);
  EXPECT_FALSE(EvalOne("override", rule, R"({"content":{"topic":" lunch"}})").notify);
  EXPECT_FALSE(EvalOne("override", rule, R"({"content":{"topic":"lunc"}})").notify);
  EXPECT_FALSE(EvalOne("override", rule, R"({"content":{"topic":null}})").notify);
  EXPECT_FALSE(EvalOne("override", Rule(R"([{"kind":"event_match","key":"content.n","pattern":"*"}])"),
                       R"({"content":{"n":1}})").notify);
}

TEST(RuleEval, BodyMatchesAtWordBoundaries) {
  const std::string rule = Rule(R"([{"kind":"event_match","key":"content.body","pattern":"ex*ple"}])");
  EXPECT_TRUE(EvalOne("override", rule, R"({"content":{"body":"An example event."}})").notify);
  EXPECT_TRUE(EvalOne("override", rule, R"({"content":{"body":"exple"}})").notify);
  EXPECT_TRUE(EvalOne("override", rule, R"({"content":{"body":"An exciting triple-whammy"}})").notify);
  EXPECT_FALSE(EvalOne("override", rule, R"({"content":{"body":"anexample"}})").notify);
  EXPECT_FALSE(EvalOne("override", rule, R"({"content":{"body":"examples"}})").notify);
}

TEST(RuleEval, ContentRuleIsAKeyword) {
  const std::string rule = std::string(R"({"rule_id":"cake","enabled":true,"pattern":"cake",)") + kNotify + "}";
  EXPECT_TRUE(EvalOne("content", rule, R"({"content":{"body":"I like CAKE!"}})").highlight);
  EXPECT_FALSE(EvalOne("content", rule, R"({"content":{"body":"cupcakes"}})").notify);
}

TEST(RuleEval, DottedPathsHonourEscapes) {
  const json::object e = Obj(R"({"content":{"m.federate":true,"a\\b":"x","m":{"federate":false}}})");
  ASSERT_NE(PropertyAt(e, "content.m\\.federate"), nullptr);
  EXPECT_TRUE(PropertyAt(e, "content.m\\.federate")->as_bool());
  EXPECT_FALSE(PropertyAt(e, "content.m.federate")->as_bool());
  ASSERT_NE(PropertyAt(e, "content.a\\\\b"), nullptr);
  EXPECT_EQ(PropertyAt(e, "content.missing"), nullptr);
}

TEST(RuleEval, EventPropertyIsAndContainsCompareWithoutCasts) {
  const std::string is = Rule(R"([{"kind":"event_property_is","key":"content.m\\.federate","value":true}])");
  EXPECT_TRUE(EvalOne("override", is, R"({"content":{"m.federate":true}})").notify);
  EXPECT_FALSE(EvalOne("override", is, R"({"content":{"m.federate":"true"}})").notify);
  EXPECT_FALSE(EvalOne("override", is, R"({"content":{"m.federate":1}})").notify);
  const std::string null_is = Rule(R"([{"kind":"event_property_is","key":"content.x","value":null}])");
  EXPECT_TRUE(EvalOne("override", null_is, R"({"content":{"x":null}})").notify);
  EXPECT_FALSE(EvalOne("override", null_is, R"({"content":{}})").notify);
  const std::string contains = Rule(
      R"([{"kind":"event_property_contains","key":"content.alt_aliases","value":"#myroom:example.com"}])");
  EXPECT_TRUE(EvalOne("override", contains,
                      R"({"content":{"alt_aliases":["#a:b","#myroom:example.com"]}})").notify);
  EXPECT_FALSE(EvalOne("override", contains, R"({"content":{"alt_aliases":[":example.com"]}})").notify);
  EXPECT_FALSE(EvalOne("override", contains, R"({"content":{"alt_aliases":"#myroom:example.com"}})").notify);
  const std::string number = Rule(R"([{"kind":"event_property_contains","key":"content.n","value":3}])");
  EXPECT_TRUE(EvalOne("override", number, R"({"content":{"n":[1,{"x":1},3]}})").notify);
}

TEST(RuleEval, ContainsDisplayNameIsWordBoundedAndLiteral) {
  const std::string rule = Rule(R"([{"kind":"contains_display_name"}])");
  EXPECT_TRUE(EvalOne("override", rule, R"({"content":{"body":"hey bob, look"}})").notify);
  EXPECT_FALSE(EvalOne("override", rule, R"({"content":{"body":"bobby"}})").notify);
  EXPECT_FALSE(EvalOne("override", rule, R"({"content":{"body":"hey bob"}})", 3, "").notify);
  EXPECT_FALSE(EvalOne("override", rule, R"({"content":{"body":"hey Bxb"}})", 3, "B?b").notify);
  EXPECT_TRUE(EvalOne("override", rule, R"({"content":{"body":"hey B?b"}})", 3, "B?b").notify);
}

TEST(RuleEval, RoomMemberCountOperators) {
  struct {
    const char* is;
    uint64_t members;
    bool match;
  } cases[] = {{"2", 2, true},   {"==2", 3, false}, {"<3", 2, true},  {"<3", 3, false},
               {">3", 4, true},  {">3", 3, false},  {"<=3", 3, true}, {">=3", 2, false},
               {"x", 2, false},  {"", 0, false},    {"=2", 2, false}, {"<-1", 0, false}};
  for (const auto& c : cases) {
    const std::string rule =
        Rule(std::string(R"([{"kind":"room_member_count","is":")") + c.is + R"("}])");
    EXPECT_EQ(EvalOne("override", rule, R"({"content":{}})", c.members).notify, c.match) << c.is;
  }
}

TEST(RuleEval, SenderNotificationPermissionUsesPowerLevels) {
  const std::string rule = Rule(R"([{"kind":"sender_notification_permission","key":"room"}])");
  const json::object pl = Obj(R"({"users":{"@mod:hs":50},"users_default":0})");
  EXPECT_TRUE(EvalOne("override", rule, R"({"sender":"@mod:hs","content":{}})", 3, "", &pl).notify);
  EXPECT_FALSE(EvalOne("override", rule, R"({"sender":"@x:hs","content":{}})", 3, "", &pl).notify);
  const json::object low = Obj(R"({"users_default":0,"notifications":{"room":0}})");
  EXPECT_TRUE(EvalOne("override", rule, R"({"sender":"@x:hs","content":{}})", 3, "", &low).notify);
  // No power levels: only the creator (100) passes.
  EXPECT_TRUE(EvalOne("override", rule, R"({"sender":"@creator:hs","content":{}})").notify);
  EXPECT_FALSE(EvalOne("override", rule, R"({"sender":"@x:hs","content":{}})").notify);
}

TEST(RuleEval, UnknownConditionsDisableTheRuleAndDisabledRulesAreSkipped) {
  EXPECT_FALSE(EvalOne("override", Rule(R"([{"kind":"org.future"}])"), R"({"content":{}})").notify);
  EXPECT_FALSE(EvalOne("override", Rule(R"([{"kind":"event_match","key":"type"}])"),
                       R"({"type":"x","content":{}})").notify);
  EXPECT_TRUE(EvalOne("override", Rule("[]"), R"({"content":{}})").notify);
  EXPECT_FALSE(EvalOne("override", R"({"rule_id":"r","enabled":false,"conditions":[],"actions":["notify"]})",
                       R"({"content":{}})").notify);
}

TEST(RuleEval, RoomAndSenderRulesMatchByRuleId) {
  EXPECT_FALSE(EvalOne("room", R"({"rule_id":"!r:hs","enabled":true,"actions":[]})",
                       R"({"type":"m.room.message","content":{}})").notify);
  EXPECT_TRUE(EvalOne("sender", R"({"rule_id":"@a:hs","enabled":true,"actions":["notify"]})",
                      R"({"sender":"@a:hs","content":{}})").notify);
  EXPECT_FALSE(EvalOne("sender", R"({"rule_id":"@a:hs","enabled":true,"actions":["notify"]})",
                       R"({"sender":"@b:hs","content":{}})").notify);
}

TEST(RuleEval, ActionsAndTweaks) {
  auto eval = [](std::string_view actions) {
    return EvalOne("override", std::string(R"({"rule_id":"r","conditions":[],"actions":)") +
                                   std::string(actions) + "}",
                   R"({"content":{}})");
  };
  EXPECT_FALSE(eval("[]").notify);
  EXPECT_FALSE(eval(R"(["dont_notify"])").notify);
  EXPECT_TRUE(eval(R"(["coalesce"])").notify);
  EXPECT_TRUE(eval(R"(["notify",{"set_tweak":"highlight"}])").highlight);
  EXPECT_FALSE(eval(R"(["notify",{"set_tweak":"highlight","value":false}])").highlight);
  EXPECT_FALSE(eval(R"([{"set_tweak":"highlight"}])").highlight);  // no notify, no highlight
  EXPECT_EQ(eval(R"(["notify",{"set_tweak":"sound","value":"ring"}])").sound, "ring");
}

TEST(RuleEval, MasterRuleSilencesEverything) {
  json::object stored = Obj(R"({"override":[{"rule_id":".m.rule.master","default":true,"enabled":true,"conditions":[],"actions":[]}]})");
  const json::object ruleset = accounts::EffectivePushRuleset("@bob:hs", &stored);
  const json::object e = Obj(R"({"type":"m.room.message","sender":"@a:hs","content":{"body":"x","m.mentions":{"user_ids":["@bob:hs"]}}})");
  EXPECT_FALSE(EvaluatePushRules(ruleset, PreparedEvent(e), {.room_id = "!r:hs", .joined_member_count = 2},
                                 {.user_id = "@bob:hs"}).notify);
}

// Properties of the glob matcher against a simple reference (backtracking over code
// points, fine for the short strings generated here).
bool Reference(std::string_view p, std::string_view t) {
  if (p.empty()) return t.empty();
  if (p[0] == '*') return Reference(p.substr(1), t) || (!t.empty() && Reference(p, t.substr(1)));
  if (t.empty()) return false;
  if (p[0] == '?' || std::tolower(p[0]) == std::tolower(t[0])) return Reference(p.substr(1), t.substr(1));
  return false;
}

rc::Gen<std::string> Small(const char* alphabet) {
  return rc::gen::container<std::string>(rc::gen::elementOf(std::string(alphabet)));
}

RC_GTEST_PROP(RuleEvalProperty, WholeValueGlobAgreesWithReference, ()) {
  const std::string pattern = *rc::gen::resize(8, Small("ab*?A"));
  const std::string text = *rc::gen::resize(10, Small("abAB"));
  RC_ASSERT(PushGlobMatch(pattern, text, false) == Reference(pattern, text));
}

RC_GTEST_PROP(RuleEvalProperty, WordBoundedMatchFindsAnEmbeddedWord, ()) {
  const std::string word = *rc::gen::nonEmpty(rc::gen::resize(6, Small("abc")));
  const std::string before = *rc::gen::resize(6, Small("ab c-"));
  const std::string after = *rc::gen::resize(6, Small("ab c."));
  const std::string body = before + " " + word + " " + after;
  RC_ASSERT(PushGlobMatch(word, body, true));
  // A literal pattern never matches inside a longer word.
  RC_ASSERT(!PushGlobMatch(word, "x" + word + "x", true));
}

RC_GTEST_PROP(RuleEvalProperty, FirstEnabledMatchingRuleWins, ()) {
  const size_t n = *rc::gen::inRange<size_t>(1, 6);
  const std::vector<bool> enabled = *rc::gen::container<std::vector<bool>>(n, rc::gen::arbitrary<bool>());
  const std::vector<bool> matches = *rc::gen::container<std::vector<bool>>(n, rc::gen::arbitrary<bool>());
  json::array rules;
  for (size_t i = 0; i < n; ++i) {
    json::object rule{{"rule_id", "r" + std::to_string(i)}, {"enabled", enabled[i]},
                      {"actions", json::array{"notify"}}};
    rule["conditions"] = json::array{json::object{
        {"kind", "event_match"}, {"key", "type"}, {"pattern", matches[i] ? "m.*" : "x.*"}}};
    rules.push_back(std::move(rule));
  }
  const json::object ruleset{{"override", std::move(rules)}};
  const json::object e = Obj(R"({"type":"m.room.message","content":{}})");
  const PushActions a = EvaluatePushRules(ruleset, PreparedEvent(e), {}, {.user_id = "@u:hs"});
  std::string want;
  for (size_t i = 0; i < n; ++i) {
    if (enabled[i] && matches[i]) {
      want = "r" + std::to_string(i);
      break;
    }
  }
  RC_ASSERT(a.rule_id == want);
}


// Random rule sets and events over small alphabets (ASCII and not, wildcards, word and
// non-word characters): the compiled rule sets of several users, sharing one interner
// and one memo per event as the notification worker does, give what the JSON
// interpreter gives for each user.
json::value RandomCondition() {
  const std::vector<std::string> keys = {"content.body", "type", "content.msgtype", "sender",
                                         "content.m\\.mentions.user_ids", "content", "content.body."};
  const std::string key = *rc::gen::elementOf(keys);
  switch (*rc::gen::inRange(0, 9)) {
    case 0:
      return json::object{{"kind", "event_match"}, {"key", key},
                          {"pattern", *rc::gen::resize(5, Small("ab*?A \xc3\xa9"))}};
    case 1:
      return json::object{{"kind", "event_property_is"}, {"key", key},
                          {"value", *rc::gen::resize(4, Small("abA"))}};
    case 2:
      return json::object{{"kind", "event_property_contains"}, {"key", key},
                          {"value", *rc::gen::elementOf(std::vector<std::string>{"@u0:hs", "@u1:hs", "a"})}};
    case 3:
      return json::object{{"kind", "contains_display_name"}};
    case 4:
      return json::object{{"kind", "room_member_count"},
                          {"is", *rc::gen::elementOf(std::vector<std::string>{"2", "<3", ">=2", "x", "==5"})}};
    case 5:
      return json::object{{"kind", "sender_notification_permission"}, {"key", "room"}};
    case 6:
      return json::object{{"kind", "event_match"}, {"key", key}};  // no pattern: never
    case 7:
      return json::value("not an object");
    default:
      return json::object{{"kind", "unknown_kind"}};
  }
}

json::object RandomRule(std::string_view kind, size_t i) {
  std::string id = std::string(kind.substr(0, 1)) + std::to_string(i);
  if (kind == "room") id = *rc::gen::elementOf(std::vector<std::string>{"!r:hs", "!x:hs"});
  if (kind == "sender") id = *rc::gen::elementOf(std::vector<std::string>{"@s:hs", "@x:hs"});
  json::object rule{{"rule_id", id},
                    {"enabled", *rc::gen::weightedElement<bool>({{4, true}, {1, false}})},
                    {"actions", *rc::gen::elementOf(std::vector<json::array>{
                                    json::array{"notify"}, json::array{"dont_notify"},
                                    json::array{"notify", json::object{{"set_tweak", "highlight"}}}})}};
  if (kind == "content") {
    rule["pattern"] = *rc::gen::resize(5, Small("ab*?A \xc3\xa9"));
  } else if (kind == "override" || kind == "underride") {
    json::array conditions;
    const int n = *rc::gen::inRange(0, 3);
    for (int k = 0; k < n; ++k) conditions.push_back(RandomCondition());
    rule["conditions"] = std::move(conditions);
  }
  return rule;
}

// The compiled word-bounded matcher (the ASCII byte search, else the automaton) of a
// content rule and of contains_display_name agrees with PushGlobMatch.
RC_GTEST_PROP(RuleEvalProperty, CompiledWordMatchAgreesWithTheAutomaton, ()) {
  const std::string pattern = *rc::gen::resize(4, Small("abA_ -*?\xc3\xa9"));
  const std::string body = *rc::gen::resize(14, Small("abAB_ -.\xc3\xa9"));
  const json::object ruleset{{"content", json::array{json::object{
      {"rule_id", "c"}, {"pattern", pattern}, {"actions", json::array{"notify"}}}}}};
  const json::object event{{"content", json::object{{"body", body}}}};
  const PushActions* got =
      CompiledRuleset(ruleset, nullptr).Evaluate(PreparedEvent(event), {}, {.user_id = "@u:hs"}, nullptr);
  RC_ASSERT((got != nullptr) == PushGlobMatch(pattern, body, /*word_bounded=*/true));
  const json::object by_name{{"override", json::array{json::object{
      {"rule_id", "d"}, {"conditions", json::array{json::object{{"kind", "contains_display_name"}}}},
      {"actions", json::array{"notify"}}}}}};
  const PreparedEvent prepared(event);
  const PushUser user{.user_id = "@u:hs", .display_name = pattern};
  RC_ASSERT((CompiledRuleset(by_name, nullptr).Evaluate(prepared, {}, user, nullptr) != nullptr) ==
            EvaluatePushRules(by_name, prepared, {}, user).notify);
}

RC_GTEST_PROP(RuleEvalProperty, CompiledRulesetsAnswerAsTheInterpreter, ()) {
  // One user with the defaults only, two with random rules of their own in front.
  std::vector<json::object> rulesets;
  int rules_per_kind = 0;
  for (int u = 0; u < 3; ++u) {
    const std::string user = "@u" + std::to_string(u) + ":hs";
    json::object stored;
    rules_per_kind = *rc::gen::inRange(1, 4);
    if (u > 0) {
      for (std::string_view kind : {"override", "content", "room", "sender", "underride"}) {
        json::array rules;
        for (int i = 0; i < rules_per_kind; ++i) rules.push_back(RandomRule(kind, static_cast<size_t>(i)));
        stored[kind] = std::move(rules);
      }
    }
    rulesets.push_back(accounts::EffectivePushRuleset(user, u > 0 ? &stored : nullptr));
  }
  ConditionInterner interner;
  std::vector<CompiledRuleset> compiled;
  for (const json::object& r : rulesets) compiled.emplace_back(r, &interner);
  const json::object pl = Obj(kPl);
  ConditionMemo memo;
  for (int e = 0; e < 4; ++e) {
    json::object content{{"msgtype", *rc::gen::weightedElement<std::string>({{6, "m.text"}, {1, "m.notice"}})}};
    if (*rc::gen::arbitrary<bool>()) content["body"] = *rc::gen::resize(12, Small("abA _-\xc3\xa9*u0"));
    if (*rc::gen::arbitrary<bool>()) {
      content["m.mentions"] = json::object{{"user_ids", json::array{"@u1:hs"}}, {"room", true}};
    }
    const json::object event{{"type", *rc::gen::elementOf(std::vector<std::string>{"m.room.message", "a"})},
                             {"sender", *rc::gen::elementOf(std::vector<std::string>{"@s:hs", "@admin:hs"})},
                             {"content", std::move(content)}};
    const PreparedEvent prepared(event);
    const PushRoom room{.room_id = "!r:hs", .joined_member_count = *rc::gen::inRange<uint64_t>(1, 6),
                        .power_levels = *rc::gen::arbitrary<bool>() ? &pl : nullptr,
                        .creator = "@admin:hs"};
    memo.Reset();
    for (size_t u = 0; u < rulesets.size(); ++u) {
      const std::string user = "@u" + std::to_string(u) + ":hs";
      const std::string name = *rc::gen::resize(3, Small("aAb \xc3\xa9*"));
      const PushUser push_user{.user_id = user, .display_name = name};
      const PushActions want = EvaluatePushRules(rulesets[u], prepared, room, push_user);
      const PushActions* got = compiled[u].Evaluate(prepared, room, push_user, &memo);
      const PushActions* plain = compiled[u].Evaluate(prepared, room, push_user, nullptr);
      RC_ASSERT(got == plain);
      RC_ASSERT((got ? got->rule_id : std::string()) == want.rule_id);
      RC_ASSERT((got ? got->notify : false) == want.notify);
      RC_ASSERT((got ? got->highlight : false) == want.highlight);
      RC_ASSERT((got ? got->actions : json::array()) == want.actions);
    }
  }
}

}  // namespace
}  // namespace nebu::push
