#include "engine/push/rule_eval.h"

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
  }
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

}  // namespace nebu::push
