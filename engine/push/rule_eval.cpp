#include "engine/push/rule_eval.h"

#include <boost/json/serialize.hpp>

#include <algorithm>
#include <charconv>
#include <optional>

namespace nebu::push {
namespace {

namespace json = boost::json;

constexpr int64_t kNotificationLevelDefault = 50;
constexpr int64_t kCreatorLevelWithoutPowerLevels = 100;

// One character of a glob or a value: a code point folded to lower case (ASCII), or
// a stray byte (kept as 0x110000 + byte so it never equals a code point).
std::vector<uint32_t> Characters(std::string_view s) {
  std::vector<uint32_t> out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<uint8_t>(s[i]);
    size_t len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) {
      out.push_back(0x110000u + b);
      ++i;
      continue;
    }
    uint32_t cp = len == 1 ? b : b & (0x7Fu >> len);
    bool ok = true;
    for (size_t k = 1; k < len; ++k) {
      const auto c = static_cast<uint8_t>(s[i + k]);
      if ((c >> 6) != 2) ok = false;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    if (!ok) {
      out.push_back(0x110000u + b);
      ++i;
      continue;
    }
    if (cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
    out.push_back(cp);
    i += len;
  }
  return out;
}

bool IsWordChar(uint32_t c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// Automaton over the pattern: state k = "pattern[0..k) matched". A '*' state also
// holds k+1 (it may match nothing). literal: '*' and '?' are ordinary characters.
class GlobAutomaton {
 public:
  GlobAutomaton(std::string_view pattern, bool literal) : p_(Characters(pattern)) {
    kinds_.reserve(p_.size());
    for (uint32_t c : p_) kinds_.push_back(literal ? 0 : c == '*' ? 1 : c == '?' ? 2 : 0);
  }

  // word_bounded: a match may start and end at any word boundary; otherwise it spans
  // the whole value.
  bool Match(const std::vector<uint32_t>& v, bool word_bounded) const {
    const size_t m = p_.size(), n = v.size();
    std::vector<char> on(m + 1, 0), next(m + 1, 0);
    auto boundary = [&](size_t i) {  // between v[i-1] and v[i]
      return i == 0 || i == n || !IsWordChar(v[i - 1]) || !IsWordChar(v[i]);
    };
    for (size_t i = 0;; ++i) {
      if (i == 0 || (word_bounded && boundary(i))) on[0] = 1;
      Close(on);
      if (on[m] && (word_bounded ? boundary(i) : i == n)) return true;
      if (i == n) return false;
      std::fill(next.begin(), next.end(), 0);
      bool any = false;
      for (size_t k = 0; k < m; ++k) {
        if (!on[k]) continue;
        if (kinds_[k] == 1) {
          next[k] = 1;
          any = true;
        } else if (kinds_[k] == 2 || p_[k] == v[i]) {
          next[k + 1] = 1;
          any = true;
        }
      }
      on.swap(next);
      if (!any && !word_bounded) return false;
    }
  }

 private:
  void Close(std::vector<char>& on) const {
    for (size_t k = 0; k < p_.size(); ++k) {
      if (on[k] && kinds_[k] == 1) on[k + 1] = 1;
    }
  }
  std::vector<uint32_t> p_;
  std::vector<uint8_t> kinds_;  // 0 literal, 1 '*', 2 '?'
};

std::string_view Capped(std::string_view value) {
  return value.substr(0, std::min(value.size(), kPushMatchValueBytesMax));
}

// ASCII case folding of one byte; bytes of multi-byte UTF-8 sequences are unchanged,
// so comparing folded bytes is comparing Characters() (which folds ASCII only).
char FoldByte(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool GlobMatchImpl(std::string_view pattern, std::string_view value, bool word_bounded,
                   bool literal) {
  // Fast path: a whole-value match of a pattern without wildcards (most default rules).
  if (!word_bounded && (literal || pattern.find_first_of("*?") == std::string_view::npos)) {
    value = Capped(value);
    return pattern.size() == value.size() &&
           std::equal(pattern.begin(), pattern.end(), value.begin(),
                      [](char a, char b) { return FoldByte(a) == FoldByte(b); });
  }
  return GlobAutomaton(pattern, literal).Match(Characters(Capped(value)), word_bounded);
}

std::string_view StringField(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->as_string()) : std::string_view();
}

// Non-compound canonical JSON values, compared without casts.
bool ScalarEquals(const json::value& a, const json::value& b) {
  if (a.is_string() && b.is_string()) return a.as_string() == b.as_string();
  if (a.is_bool() && b.is_bool()) return a.as_bool() == b.as_bool();
  if (a.is_null() && b.is_null()) return true;
  auto integer = [](const json::value& v) -> std::optional<int64_t> {
    if (v.is_int64()) return v.as_int64();
    if (v.is_uint64() && v.as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
      return static_cast<int64_t>(v.as_uint64());
    }
    return std::nullopt;
  };
  auto x = integer(a), y = integer(b);
  return x && y && *x == *y;
}

bool IsScalar(const json::value& v) {
  return v.is_string() || v.is_bool() || v.is_null() || v.is_int64() || v.is_uint64();
}

std::optional<int64_t> Level(const json::value* v) {
  if (v && v->is_int64()) return v->as_int64();
  if (v && v->is_uint64() && v->as_uint64() <= static_cast<uint64_t>(INT64_MAX)) {
    return static_cast<int64_t>(v->as_uint64());
  }
  return std::nullopt;
}

bool MemberCountMatches(std::string_view is, uint64_t count) {
  std::string_view op = "==";
  for (std::string_view candidate : {"==", "<=", ">=", "<", ">"}) {
    if (is.starts_with(candidate)) {
      op = candidate;
      is.remove_prefix(candidate.size());
      break;
    }
  }
  uint64_t n = 0;
  if (is.empty() || !std::all_of(is.begin(), is.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  auto [ptr, ec] = std::from_chars(is.data(), is.data() + is.size(), n);
  if (ec != std::errc() || ptr != is.data() + is.size()) return false;
  if (op == "==") return count == n;
  if (op == "<") return count < n;
  if (op == ">") return count > n;
  if (op == "<=") return count <= n;
  return count >= n;
}

bool ConditionHolds(const json::value& condition, const PreparedEvent& event, const PushRoom& room,
                    const PushUser& user) {
  if (!condition.is_object()) return false;
  const json::object& c = condition.as_object();
  const std::string_view kind = StringField(c, "kind");
  if (kind == "event_match") {
    const json::value* key = c.if_contains("key");
    const json::value* pattern = c.if_contains("pattern");
    if (!key || !key->is_string() || !pattern || !pattern->is_string()) return false;
    const json::value* v = PropertyAt(event.json(), key->as_string());
    if (!v || !v->is_string()) return false;
    return PushGlobMatch(pattern->as_string(), v->as_string(), key->as_string() == "content.body");
  }
  if (kind == "event_property_is" || kind == "event_property_contains") {
    const json::value* key = c.if_contains("key");
    const json::value* value = c.if_contains("value");
    if (!key || !key->is_string() || !value || !IsScalar(*value)) return false;
    const json::value* v = PropertyAt(event.json(), key->as_string());
    if (!v) return false;
    if (kind == "event_property_is") return IsScalar(*v) && ScalarEquals(*v, *value);
    if (!v->is_array()) return false;
    const json::array& a = v->as_array();
    return std::any_of(a.begin(), a.end(),
                       [&](const json::value& e) { return IsScalar(e) && ScalarEquals(e, *value); });
  }
  if (kind == "contains_display_name") {
    if (user.display_name.empty() || event.body().empty()) return false;
    return GlobMatchImpl(user.display_name, event.body(), /*word_bounded=*/true, /*literal=*/true);
  }
  if (kind == "room_member_count") {
    const json::value* is = c.if_contains("is");
    return is && is->is_string() && MemberCountMatches(is->as_string(), room.joined_member_count);
  }
  if (kind == "sender_notification_permission") {
    const json::value* key = c.if_contains("key");
    if (!key || !key->is_string()) return false;
    int64_t required = kNotificationLevelDefault;
    if (room.power_levels) {
      const json::value* n = room.power_levels->if_contains("notifications");
      if (n && n->is_object()) {
        if (auto level = Level(n->as_object().if_contains(key->as_string()))) required = *level;
      }
    }
    return UserPowerLevel(room.power_levels, room.creator, event.sender()) >= required;
  }
  return false;
}

bool RuleMatches(std::string_view kind, const json::object& rule, const PreparedEvent& event,
                 const PushRoom& room, const PushUser& user) {
  if (kind == "override" || kind == "underride") {
    const json::value* conditions = rule.if_contains("conditions");
    if (!conditions) return true;
    if (!conditions->is_array()) return false;
    for (const json::value& condition : conditions->as_array()) {
      if (!ConditionHolds(condition, event, room, user)) return false;
    }
    return true;
  }
  if (kind == "content") {
    const json::value* pattern = rule.if_contains("pattern");
    if (!pattern || !pattern->is_string()) return false;
    const json::value* body = PropertyAt(event.json(), "content.body");
    return body && body->is_string() &&
           PushGlobMatch(pattern->as_string(), body->as_string(), /*word_bounded=*/true);
  }
  if (kind == "room") return StringField(rule, "rule_id") == room.room_id;
  if (kind == "sender") return StringField(rule, "rule_id") == event.sender();
  return false;
}

PushActions ActionsOf(const json::object& rule) {
  PushActions out;
  out.rule_id = std::string(StringField(rule, "rule_id"));
  const json::value* actions = rule.if_contains("actions");
  if (!actions || !actions->is_array()) return out;
  out.actions = actions->as_array();
  for (const json::value& a : out.actions) {
    if (a.is_string()) {
      if (a.as_string() == "notify" || a.as_string() == "coalesce") out.notify = true;
      continue;
    }
    if (!a.is_object()) continue;
    const std::string_view tweak = StringField(a.as_object(), "set_tweak");
    const json::value* value = a.as_object().if_contains("value");
    if (tweak == "highlight") {
      out.highlight = value == nullptr || (value->is_bool() && value->as_bool());
    } else if (tweak == "sound" && value && value->is_string()) {
      out.sound = std::string(value->as_string());
    }
  }
  if (!out.notify) {
    out.highlight = false;
    out.sound.clear();
  }
  return out;
}

}  // namespace

bool PushGlobMatch(std::string_view pattern, std::string_view value, bool word_bounded) {
  return GlobMatchImpl(pattern, value, word_bounded, /*literal=*/false);
}

const json::value* PropertyAt(const json::object& event, std::string_view path) {
  const json::object* at = &event;
  std::string segment;
  size_t i = 0;
  while (true) {
    segment.clear();
    while (i < path.size() && path[i] != '.') {
      if (path[i] == '\\' && i + 1 < path.size() && (path[i + 1] == '.' || path[i + 1] == '\\')) {
        segment.push_back(path[i + 1]);
        i += 2;
      } else {
        segment.push_back(path[i++]);
      }
    }
    const json::value* v = at->if_contains(segment);
    if (!v) return nullptr;
    if (i == path.size()) return v;
    ++i;  // the '.'
    if (!v->is_object()) return nullptr;
    at = &v->as_object();
  }
}

PreparedEvent::PreparedEvent(const json::object& event)
    : event_(event), sender_(StringField(event, "sender")) {
  if (const json::value* body = PropertyAt(event, "content.body"); body && body->is_string()) {
    body_ = std::string(body->as_string());
    has_body_ = true;
  }
}

const std::vector<uint32_t>& PreparedEvent::body_characters() const {
  if (!body_characters_ready_) {
    body_characters_ = Characters(Capped(body_));
    body_characters_ready_ = true;
  }
  return body_characters_;
}

int64_t UserPowerLevel(const json::object* power_levels, std::string_view creator,
                       std::string_view user_id) {
  if (!power_levels) return user_id == creator ? kCreatorLevelWithoutPowerLevels : 0;
  const json::value* users = power_levels->if_contains("users");
  if (users && users->is_object()) {
    if (auto level = Level(users->as_object().if_contains(user_id))) return *level;
  }
  return Level(power_levels->if_contains("users_default")).value_or(0);
}

PushActions EvaluatePushRules(const json::object& ruleset, const PreparedEvent& event,
                              const PushRoom& room, const PushUser& user) {
  for (std::string_view kind : {"override", "content", "room", "sender", "underride"}) {
    const json::value* rules = ruleset.if_contains(kind);
    if (!rules || !rules->is_array()) continue;
    for (const json::value& r : rules->as_array()) {
      if (!r.is_object()) continue;
      const json::object& rule = r.as_object();
      const json::value* enabled = rule.if_contains("enabled");
      if (enabled && enabled->is_bool() && !enabled->as_bool()) continue;
      if (RuleMatches(kind, rule, event, room, user)) return ActionsOf(rule);
    }
  }
  return {};
}


// ---- Compiled rule sets ----------------------------------------------------------------

namespace {

bool IsAscii(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return static_cast<uint8_t>(c) < 0x80; });
}

bool IsWordByte(char c) {
  const auto b = static_cast<uint8_t>(c);
  return b < 0x80 && IsWordChar(b);
}

// The word-bounded match of an ASCII pattern taken literally, on bytes: the same answer
// as GlobAutomaton(pattern, literal).Match(Characters(value), true). An ASCII byte of
// the value is always a character of its own in Characters (never part of a multi-byte
// sequence, valid or not), and every other byte belongs to a character that is not a
// word character, so matching and boundaries agree byte for byte.
bool AsciiWordMatch(std::string_view pattern, std::string_view value) {
  value = Capped(value);
  const size_t m = pattern.size(), n = value.size();
  if (m == 0) return true;  // the automaton accepts at position 0
  if (m > n) return false;
  auto boundary = [&](size_t i) {
    return i == 0 || i == n || !IsWordByte(value[i - 1]) || !IsWordByte(value[i]);
  };
  const char first = FoldByte(pattern[0]);
  for (size_t s = 0; s + m <= n; ++s) {
    if (FoldByte(value[s]) != first || !boundary(s)) continue;
    size_t k = 1;
    while (k < m && FoldByte(value[s + k]) == FoldByte(pattern[k])) ++k;
    if (k == m && boundary(s + m)) return true;
  }
  return false;
}

// The segments PropertyAt walks for `path`.
std::vector<std::string> SplitPath(std::string_view path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (true) {
    std::string segment;
    while (i < path.size() && path[i] != '.') {
      if (path[i] == '\\' && i + 1 < path.size() && (path[i + 1] == '.' || path[i + 1] == '\\')) {
        segment.push_back(path[i + 1]);
        i += 2;
      } else {
        segment.push_back(path[i++]);
      }
    }
    out.push_back(std::move(segment));
    if (i == path.size()) return out;
    ++i;
  }
}

const json::value* PropertyAtSegments(const json::object& event,
                                      const std::vector<std::string>& segments) {
  const json::object* at = &event;
  for (size_t k = 0; k < segments.size(); ++k) {
    const json::value* v = at->if_contains(segments[k]);
    if (!v) return nullptr;
    if (k + 1 == segments.size()) return v;
    if (!v->is_object()) return nullptr;
    at = &v->as_object();
  }
  return nullptr;
}

// A glob made ready: the whole-value fast path, the ASCII word search, or the automaton.
struct CompiledGlob {
  CompiledGlob(std::string_view p, bool word_bounded_, bool literal)
      : pattern(p), word_bounded(word_bounded_) {
    const bool plain = literal || pattern.find_first_of("*?") == std::string::npos;
    if (!word_bounded && plain) {
      mode = kWhole;
    } else if (word_bounded && plain && IsAscii(pattern)) {
      mode = kAsciiWord;
    } else {
      mode = kAutomaton;
      automaton = std::make_shared<GlobAutomaton>(pattern, literal);
    }
  }
  // body: the value's characters when the value is content.body of `event` (else null).
  bool Match(std::string_view value, const std::vector<uint32_t>* characters) const {
    switch (mode) {
      case kWhole:
        return GlobMatchImpl(pattern, value, /*word_bounded=*/false, /*literal=*/true);
      case kAsciiWord:
        return AsciiWordMatch(pattern, value);
      case kAutomaton:
        if (characters) return automaton->Match(*characters, word_bounded);
        return automaton->Match(Characters(Capped(value)), word_bounded);
    }
    return false;
  }
  std::string pattern;
  bool word_bounded = false;
  enum Mode { kWhole, kAsciiWord, kAutomaton } mode = kWhole;
  std::shared_ptr<const GlobAutomaton> automaton;
};

}  // namespace

namespace internal {

struct CompiledCondition {
  enum Kind { kNever, kEventMatch, kPropertyIs, kPropertyContains, kDisplayName, kMemberCount,
              kSenderPermission } kind = kNever;
  static constexpr size_t kNoId = SIZE_MAX;
  size_t id = kNoId;                    // interned (user-independent) conditions
  std::vector<std::string> path;        // event_match, event_property_*
  bool body_path = false;               // the path is content.body
  std::optional<CompiledGlob> glob;     // event_match
  json::value value;                    // event_property_*
  std::string text;                     // room_member_count `is`, sender permission `key`

  explicit CompiledCondition(const json::value& condition) {
    if (!condition.is_object()) return;
    const json::object& c = condition.as_object();
    const std::string_view k = StringField(c, "kind");
    const json::value* key = c.if_contains("key");
    if (k == "event_match") {
      const json::value* pattern = c.if_contains("pattern");
      if (!key || !key->is_string() || !pattern || !pattern->is_string()) return;
      kind = kEventMatch;
      path = SplitPath(key->as_string());
      body_path = key->as_string() == "content.body";
      glob.emplace(pattern->as_string(), body_path, /*literal=*/false);
    } else if (k == "event_property_is" || k == "event_property_contains") {
      const json::value* v = c.if_contains("value");
      if (!key || !key->is_string() || !v || !IsScalar(*v)) return;
      kind = k == "event_property_is" ? kPropertyIs : kPropertyContains;
      path = SplitPath(key->as_string());
      value = *v;
    } else if (k == "contains_display_name") {
      kind = kDisplayName;
    } else if (k == "room_member_count") {
      const json::value* is = c.if_contains("is");
      if (!is || !is->is_string()) return;
      kind = kMemberCount;
      text = std::string(is->as_string());
    } else if (k == "sender_notification_permission") {
      if (!key || !key->is_string()) return;
      kind = kSenderPermission;
      text = std::string(key->as_string());
    }
  }

  bool Holds(const PreparedEvent& event, const PushRoom& room, const PushUser& user) const {
    switch (kind) {
      case kNever:
        return false;
      case kEventMatch: {
        const json::value* v = PropertyAtSegments(event.json(), path);
        if (!v || !v->is_string()) return false;
        const bool is_body = body_path && event.has_body();
        return glob->Match(v->as_string(), is_body ? &event.body_characters() : nullptr);
      }
      case kPropertyIs:
      case kPropertyContains: {
        const json::value* v = PropertyAtSegments(event.json(), path);
        if (!v) return false;
        if (kind == kPropertyIs) return IsScalar(*v) && ScalarEquals(*v, value);
        if (!v->is_array()) return false;
        const json::array& a = v->as_array();
        return std::any_of(a.begin(), a.end(),
                           [&](const json::value& e) { return IsScalar(e) && ScalarEquals(e, value); });
      }
      case kDisplayName:
        if (user.display_name.empty() || event.body().empty()) return false;
        if (IsAscii(user.display_name)) return AsciiWordMatch(user.display_name, event.body());
        return GlobAutomaton(user.display_name, /*literal=*/true)
            .Match(event.body_characters(), /*word_bounded=*/true);
      case kMemberCount:
        return MemberCountMatches(text, room.joined_member_count);
      case kSenderPermission: {
        int64_t required = kNotificationLevelDefault;
        if (room.power_levels) {
          const json::value* n = room.power_levels->if_contains("notifications");
          if (n && n->is_object()) {
            if (auto level = Level(n->as_object().if_contains(text))) required = *level;
          }
        }
        return UserPowerLevel(room.power_levels, room.creator, event.sender()) >= required;
      }
    }
    return false;
  }

  bool Memoized(const PreparedEvent& event, const PushRoom& room, const PushUser& user,
                ConditionMemo* memo) const {
    if (id == kNoId || memo == nullptr) return Holds(event, room, user);
    const int8_t known = memo->Get(id);
    if (known >= 0) return known == 1;
    const bool holds = Holds(event, room, user);
    memo->Set(id, holds);
    return holds;
  }
};

struct CompiledRule {
  enum Kind { kConditions, kNeverMatches, kContent, kRoom, kSender } kind = kNeverMatches;
  std::vector<CompiledCondition> conditions;  // kConditions (empty: always matches)
  std::optional<CompiledGlob> glob;           // kContent
  std::string rule_id;                        // kRoom, kSender
  PushActions actions;

  bool Matches(const PreparedEvent& event, const PushRoom& room, const PushUser& user,
               ConditionMemo* memo) const {
    switch (kind) {
      case kConditions:
        for (const CompiledCondition& c : conditions) {
          if (!c.Memoized(event, room, user, memo)) return false;
        }
        return true;
      case kNeverMatches:
        return false;
      case kContent:
        return event.has_body() && glob->Match(event.body(), &event.body_characters());
      case kRoom:
        return rule_id == room.room_id;
      case kSender:
        return rule_id == event.sender();
    }
    return false;
  }
};

}  // namespace internal

size_t ConditionInterner::Intern(const std::string& condition_json) {
  return ids_.try_emplace(condition_json, ids_.size()).first->second;
}

void ConditionMemo::Set(size_t id, bool holds) {
  if (id >= results_.size()) results_.resize(id + 1, -1);
  results_[id] = holds ? 1 : 0;
}

CompiledRuleset::CompiledRuleset(const json::object& ruleset, ConditionInterner* interner) {
  using internal::CompiledCondition;
  using internal::CompiledRule;
  for (std::string_view kind : {"override", "content", "room", "sender", "underride"}) {
    const json::value* rules = ruleset.if_contains(kind);
    if (!rules || !rules->is_array()) continue;
    for (const json::value& r : rules->as_array()) {
      if (!r.is_object()) continue;
      const json::object& rule = r.as_object();
      const json::value* enabled = rule.if_contains("enabled");
      if (enabled && enabled->is_bool() && !enabled->as_bool()) continue;
      CompiledRule compiled;
      compiled.actions = ActionsOf(rule);
      if (kind == "override" || kind == "underride") {
        const json::value* conditions = rule.if_contains("conditions");
        if (!conditions) {
          compiled.kind = CompiledRule::kConditions;
        } else if (conditions->is_array()) {
          compiled.kind = CompiledRule::kConditions;
          for (const json::value& c : conditions->as_array()) {
            CompiledCondition& cc = compiled.conditions.emplace_back(c);
            if (interner && cc.kind != CompiledCondition::kDisplayName) {
              cc.id = interner->Intern(json::serialize(c));
            }
          }
        }
      } else if (kind == "content") {
        const json::value* pattern = rule.if_contains("pattern");
        if (pattern && pattern->is_string()) {
          compiled.kind = CompiledRule::kContent;
          compiled.glob.emplace(pattern->as_string(), /*word_bounded=*/true, /*literal=*/false);
        }
      } else {
        compiled.kind = kind == "room" ? CompiledRule::kRoom : CompiledRule::kSender;
        compiled.rule_id = std::string(StringField(rule, "rule_id"));
      }
      rules_.push_back(std::move(compiled));
    }
  }
}

CompiledRuleset::~CompiledRuleset() = default;
CompiledRuleset::CompiledRuleset(CompiledRuleset&&) noexcept = default;
CompiledRuleset& CompiledRuleset::operator=(CompiledRuleset&&) noexcept = default;

const PushActions* CompiledRuleset::Evaluate(const PreparedEvent& event, const PushRoom& room,
                                             const PushUser& user, ConditionMemo* memo) const {
  for (const internal::CompiledRule& rule : rules_) {
    if (rule.Matches(event, room, user, memo)) return &rule.actions;
  }
  return nullptr;
}

}  // namespace nebu::push
