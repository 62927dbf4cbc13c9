#include "engine/event/canonical_json.h"

#include <algorithm>
#include <array>
#include <boost/json/basic_parser_impl.hpp>
#include <charconv>
#include <cstring>
#include <optional>
#include <vector>

#include "engine/event/identifiers.h"

namespace nebu::event {
namespace {

namespace bj = boost::json;

std::string_view View(bj::string_view s) { return {s.data(), s.size()}; }

// ---------------------------------------------------------------------------
// Numbers: exact integer value of a JSON number token.

constexpr int64_t kExponentAbsMax = 1'000'000;  // saturation; far beyond any in-range value
constexpr size_t kCanonicalIntDigitsMax = 16;   // kCanonicalIntMax has 16 digits

struct DecimalToken {
  bool negative = false;
  std::string_view int_digits;
  std::string_view frac_digits;
  int64_t exponent = 0;
};

// Splits a JSON number token (already validated by the parser) into its parts.
DecimalToken SplitNumber(std::string_view text) {
  DecimalToken t;
  size_t i = 0;
  if (i < text.size() && text[i] == '-') {
    t.negative = true;
    ++i;
  }
  size_t start = i;
  while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
  t.int_digits = text.substr(start, i - start);
  if (i < text.size() && text[i] == '.') {
    start = ++i;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9') ++i;
    t.frac_digits = text.substr(start, i - start);
  }
  if (i < text.size() && (text[i] == 'e' || text[i] == 'E')) {
    ++i;
    bool exp_negative = false;
    if (i < text.size() && (text[i] == '+' || text[i] == '-')) exp_negative = text[i++] == '-';
    int64_t e = 0;
    for (; i < text.size(); ++i) e = std::min(e * 10 + (text[i] - '0'), kExponentAbsMax);
    t.exponent = exp_negative ? -e : e;
  }
  return t;
}

// The integer a number token denotes, when it is one in the canonical range.
std::optional<int64_t> ExactCanonicalInteger(std::string_view text) {
  DecimalToken t = SplitNumber(text);
  size_t total = t.int_digits.size() + t.frac_digits.size();
  auto digit = [&](size_t k) {
    return k < t.int_digits.size() ? t.int_digits[k] : t.frac_digits[k - t.int_digits.size()];
  };
  size_t lo = 0;
  while (lo < total && digit(lo) == '0') ++lo;
  if (lo == total) return 0;  // 0, -0, 0.000, 0e7
  size_t hi = total - 1;
  while (digit(hi) == '0') --hi;
  // value = D * 10^scale where D = digits[lo..hi] has no leading or trailing zeros.
  int64_t scale = t.exponent - static_cast<int64_t>(t.frac_digits.size()) +
                  static_cast<int64_t>(total - 1 - hi);
  size_t d_len = hi - lo + 1;
  if (scale < 0) return std::nullopt;  // a fraction remains
  if (static_cast<int64_t>(d_len) + scale > static_cast<int64_t>(kCanonicalIntDigitsMax)) {
    return std::nullopt;
  }
  int64_t value = 0;
  for (size_t k = lo; k <= hi; ++k) value = value * 10 + (digit(k) - '0');
  for (int64_t k = 0; k < scale; ++k) value *= 10;
  if (value > kCanonicalIntMax) return std::nullopt;
  return t.negative ? -value : value;
}

// ---------------------------------------------------------------------------
// Parsing: a SAX handler that builds the value and refuses duplicate keys.

enum class Failure : uint8_t { kNone, kDuplicateKey, kBadNumber };

class Builder {
 public:
  static constexpr size_t max_array_size = static_cast<size_t>(-1);
  static constexpr size_t max_object_size = static_cast<size_t>(-1);
  static constexpr size_t max_string_size = static_cast<size_t>(-1);
  static constexpr size_t max_key_size = static_cast<size_t>(-1);

  explicit Builder(bool canonical_numbers) : canonical_numbers_(canonical_numbers) {
    stack_.reserve(16);
  }

  bj::value& root() { return root_; }
  Failure failure() const { return failure_; }

  bool on_document_begin(bj::error_code&) { return true; }
  bool on_document_end(bj::error_code&) { return true; }
  bool on_array_begin(bj::error_code&) {
    stack_.push_back({bj::value(bj::array_kind), {}});
    return true;
  }
  bool on_array_end(size_t, bj::error_code& ec) { return Pop(ec); }
  bool on_object_begin(bj::error_code&) {
    stack_.push_back({bj::value(bj::object_kind), {}});
    return true;
  }
  bool on_object_end(size_t, bj::error_code& ec) { return Pop(ec); }
  bool on_string_part(bj::string_view s, size_t, bj::error_code&) {
    text_.append(s.data(), s.size());
    return true;
  }
  bool on_string(bj::string_view s, size_t, bj::error_code& ec) {
    if (text_.empty()) return Add(bj::value(bj::string(s)), ec);
    text_.append(s.data(), s.size());
    bool ok = Add(bj::value(bj::string(text_)), ec);
    text_.clear();
    return ok;
  }
  bool on_key_part(bj::string_view s, size_t, bj::error_code&) {
    stack_.back().key.append(s.data(), s.size());
    return true;
  }
  bool on_key(bj::string_view s, size_t, bj::error_code&) {
    stack_.back().key.append(s.data(), s.size());
    return true;
  }
  bool on_number_part(bj::string_view s, bj::error_code&) {
    number_.append(s.data(), s.size());
    return true;
  }
  bool on_int64(int64_t i, bj::string_view, bj::error_code& ec) {
    number_.clear();
    if (canonical_numbers_ && (i > kCanonicalIntMax || i < kCanonicalIntMin)) return Fail(ec);
    return Add(bj::value(i), ec);
  }
  bool on_uint64(uint64_t u, bj::string_view, bj::error_code& ec) {
    number_.clear();
    if (canonical_numbers_) return Fail(ec);  // only emitted above INT64_MAX
    return Add(bj::value(u), ec);
  }
  bool on_double(double d, bj::string_view s, bj::error_code& ec) {
    if (!canonical_numbers_) {
      number_.clear();
      return Add(bj::value(d), ec);
    }
    std::optional<int64_t> exact;
    if (number_.empty()) {
      exact = ExactCanonicalInteger(View(s));
    } else {
      number_.append(s.data(), s.size());
      exact = ExactCanonicalInteger(number_);
      number_.clear();
    }
    if (!exact) return Fail(ec);
    return Add(bj::value(*exact), ec);
  }
  bool on_bool(bool b, bj::error_code& ec) { return Add(bj::value(b), ec); }
  bool on_null(bj::error_code& ec) { return Add(bj::value(nullptr), ec); }
  bool on_comment_part(bj::string_view, bj::error_code&) { return true; }
  bool on_comment(bj::string_view, bj::error_code&) { return true; }

 private:
  struct Frame {
    bj::value container;
    std::string key;  // the pending key when container is an object
  };

  bool Fail(bj::error_code& ec, Failure failure = Failure::kBadNumber) {
    failure_ = failure;
    ec = bj::error::syntax;
    return false;
  }

  bool Add(bj::value&& v, bj::error_code& ec) {
    if (stack_.empty()) {
      root_ = std::move(v);
      return true;
    }
    Frame& top = stack_.back();
    if (top.container.is_array()) {
      top.container.get_array().push_back(std::move(v));
      return true;
    }
    bool inserted = top.container.get_object().emplace(top.key, std::move(v)).second;
    top.key.clear();
    return inserted || Fail(ec, Failure::kDuplicateKey);
  }

  bool Pop(bj::error_code& ec) {
    bj::value v = std::move(stack_.back().container);
    stack_.pop_back();
    return Add(std::move(v), ec);
  }

  bool canonical_numbers_;
  Failure failure_ = Failure::kNone;
  bj::value root_;
  std::vector<Frame> stack_;
  std::string text_;    // string parts
  std::string number_;  // number parts
};

Status ParseError(const bj::error_code& ec, Failure failure) {
  switch (failure) {
    case Failure::kDuplicateKey:
      return Status::BadJson("duplicate key in JSON object");
    case Failure::kBadNumber:
      return Status::BadJson("number is not an integer in [-(2^53)+1, (2^53)-1]");
    case Failure::kNone:
      break;
  }
  if (ec == bj::error::exponent_overflow) return Status::BadJson("number out of range");
  return Status::NotJson("invalid JSON: " + ec.message());
}

// ---------------------------------------------------------------------------
// Serialization.

// The escape JSON requires for a byte, or 0 when it is written as is.
constexpr std::array<char, 256> MakeEscapeTable() {
  std::array<char, 256> t{};
  for (int c = 0; c < 0x20; ++c) t[c] = 'u';
  t['\b'] = 'b';
  t['\t'] = 't';
  t['\n'] = 'n';
  t['\f'] = 'f';
  t['\r'] = 'r';
  t['"'] = '"';
  t['\\'] = '\\';
  return t;
}
constexpr std::array<char, 256> kEscape = MakeEscapeTable();
constexpr size_t kSortOnStackMax = 32;

// True when any of the eight bytes at p is a control character, '"' or '\\'
// (SWAR: a byte b is flagged when b < 0x20, or b ^ c == 0 for c in '"', '\\').
bool WordNeedsEscape(const char* p) {
  constexpr uint64_t kOnes = 0x0101010101010101ULL;
  constexpr uint64_t kHigh = 0x8080808080808080ULL;
  uint64_t w;
  std::memcpy(&w, p, 8);
  auto has_less = [&](uint64_t x, uint64_t n) { return (x - kOnes * n) & ~x & kHigh; };
  return (has_less(w, 0x20) | has_less(w ^ (kOnes * '"'), 1) | has_less(w ^ (kOnes * '\\'), 1)) !=
         0;
}

using Member = const bj::key_value_pair*;

bool KeyLess(Member a, Member b) { return View(a->key()) < View(b->key()); }

const KeyFilter::Rule* FindRule(const KeyFilter& filter, std::string_view key) {
  for (const KeyFilter::Rule& rule : filter.rules) {
    if (rule.key == key) return &rule;
  }
  return nullptr;
}

// Whether filter keeps the member named key; *rule is its rule, if it has one.
bool Keeps(const KeyFilter* filter, std::string_view key, const KeyFilter::Rule** rule) {
  *rule = nullptr;
  if (filter == nullptr) return true;
  if (filter->keep_all) {
    return std::find(filter->except.begin(), filter->except.end(), key) == filter->except.end();
  }
  *rule = FindRule(*filter, key);
  return *rule != nullptr;
}

class Writer {
 public:
  explicit Writer(std::string* out) : out_(out) {}

  const char* error() const { return error_; }

  bool Value(const bj::value& v, size_t depth) {
    switch (v.kind()) {
      case bj::kind::null:
        out_->append("null");
        return true;
      case bj::kind::bool_:
        out_->append(v.get_bool() ? "true" : "false");
        return true;
      case bj::kind::int64:
        return Integer(v.get_int64());
      case bj::kind::uint64:
        if (v.get_uint64() > static_cast<uint64_t>(kCanonicalIntMax)) {
          return Fail("integer out of canonical range");
        }
        return Integer(static_cast<int64_t>(v.get_uint64()));
      case bj::kind::double_:
        return Fail("floats are not allowed in canonical JSON");
      case bj::kind::string:
        return String(View(v.get_string()));
      case bj::kind::array:
        return Array(v.get_array(), depth + 1);
      case bj::kind::object:
        return Object(v.get_object(), nullptr, depth + 1);
    }
    return Fail("unknown JSON kind");
  }

  // Writes o; with a filter, only the members it keeps.
  bool Object(const bj::object& o, const KeyFilter* filter, size_t depth) {
    if (depth > kJsonDepthMax) return Fail("JSON nested too deeply");
    std::array<Member, kSortOnStackMax> on_stack;
    std::vector<Member> on_heap;
    Member* members = on_stack.data();
    if (o.size() > kSortOnStackMax) {
      on_heap.resize(o.size());
      members = on_heap.data();
    }
    size_t n = 0;
    const KeyFilter::Rule* rule = nullptr;
    for (const bj::key_value_pair& kv : o) {
      if (!Keeps(filter, View(kv.key()), &rule)) continue;
      if (rule != nullptr && rule->nested != nullptr && !kv.value().is_object()) continue;
      members[n++] = &kv;
    }
    if (!std::is_sorted(members, members + n, KeyLess)) std::sort(members, members + n, KeyLess);
    out_->push_back('{');
    for (size_t i = 0; i < n; ++i) {
      const bj::key_value_pair& kv = *members[i];
      (void)Keeps(filter, View(kv.key()), &rule);  // look the rule up again
      if (i != 0) out_->push_back(',');
      if (!String(View(kv.key()))) return false;
      out_->push_back(':');
      bool ok = rule != nullptr && rule->nested != nullptr
                    ? Object(kv.value().get_object(), rule->nested, depth + 1)
                    : Value(kv.value(), depth);
      if (!ok) return false;
    }
    out_->push_back('}');
    return true;
  }

 private:
  bool Fail(const char* error) {
    error_ = error;
    return false;
  }

  bool Integer(int64_t i) {
    if (i > kCanonicalIntMax || i < kCanonicalIntMin) return Fail("integer out of canonical range");
    char buf[24];
    auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), i);
    out_->append(buf, end);
    return true;
  }

  bool String(std::string_view s) {
    if (!IsValidUtf8(s)) return Fail("string is not valid UTF-8");
    out_->push_back('"');
    size_t run = 0;
    for (size_t i = 0; i < s.size(); ++i) {
      if (i + 8 <= s.size() && !WordNeedsEscape(s.data() + i)) {
        i += 7;  // eight plain bytes; the loop's ++i completes the skip
        continue;
      }
      char esc = kEscape[static_cast<unsigned char>(s[i])];
      if (esc == 0) continue;
      out_->append(s.data() + run, i - run);
      run = i + 1;
      out_->push_back('\\');
      out_->push_back(esc);
      if (esc == 'u') {
        constexpr char kHex[] = "0123456789abcdef";
        unsigned c = static_cast<unsigned char>(s[i]);
        out_->append("00");
        out_->push_back(kHex[c >> 4]);
        out_->push_back(kHex[c & 15]);
      }
    }
    out_->append(s.data() + run, s.size() - run);
    out_->push_back('"');
    return true;
  }

  bool Array(const bj::array& a, size_t depth) {
    if (depth > kJsonDepthMax) return Fail("JSON nested too deeply");
    out_->push_back('[');
    for (size_t i = 0; i < a.size(); ++i) {
      if (i != 0) out_->push_back(',');
      if (!Value(a[i], depth)) return false;
    }
    out_->push_back(']');
    return true;
  }

  std::string* out_;
  const char* error_ = nullptr;
};

Status Finish(const Writer& writer, bool ok, std::string* out, size_t restore_size) {
  if (ok) return Status::Ok();
  out->resize(restore_size);
  return Status::BadJson(writer.error());
}

}  // namespace

Result<boost::json::value> ParseJson(std::string_view text, const ParseOptions& options) {
  if (text.size() > options.bytes_max) return Status::TooLarge("JSON larger than the limit");
  bj::parse_options opt;
  opt.max_depth = kJsonDepthMax;
  bj::basic_parser<Builder> parser(opt, options.canonical_numbers);
  bj::error_code ec;
  size_t used = parser.write_some(false, text.data(), text.size(), ec);
  if (ec) return ParseError(ec, parser.handler().failure());
  if (used != text.size() || !parser.done()) return Status::NotJson("trailing bytes after JSON");
  return std::move(parser.handler().root());
}

Result<std::string> CanonicalJson(const boost::json::value& v) {
  std::string out;
  out.reserve(256);
  NEBU_RETURN_IF_ERROR(AppendCanonicalJson(v, &out));
  return out;
}

Status AppendCanonicalJson(const boost::json::value& v, std::string* out) {
  size_t size = out->size();
  Writer writer(out);
  bool ok = writer.Value(v, 0);
  return Finish(writer, ok, out, size);
}

Result<std::string> CanonicalJson(const boost::json::object& o) {
  std::string out;
  out.reserve(256);
  NEBU_RETURN_IF_ERROR(AppendCanonicalJson(o, &out));
  return out;
}

Status AppendCanonicalJson(const boost::json::object& o, std::string* out) {
  size_t size = out->size();
  Writer writer(out);
  bool ok = writer.Object(o, nullptr, 1);
  return Finish(writer, ok, out, size);
}

Status AppendCanonicalJsonFiltered(const boost::json::object& o, const KeyFilter& filter,
                                   std::string* out) {
  size_t size = out->size();
  Writer writer(out);
  bool ok = writer.Object(o, &filter, 1);
  return Finish(writer, ok, out, size);
}

boost::json::object FilterObject(const boost::json::object& o, const KeyFilter& filter) {
  bj::object out(o.storage());
  const KeyFilter::Rule* rule = nullptr;
  for (const bj::key_value_pair& kv : o) {
    if (!Keeps(&filter, View(kv.key()), &rule)) continue;
    if (rule == nullptr || rule->nested == nullptr) {
      out.emplace(kv.key(), kv.value());
    } else if (kv.value().is_object()) {
      out.emplace(kv.key(), FilterObject(kv.value().get_object(), *rule->nested));
    }
  }
  return out;
}

bool IsCanonicalJson(std::string_view text) {
  Result<bj::value> v = ParseJson(text);
  if (!v.ok()) return false;
  Result<std::string> canonical = CanonicalJson(*v);
  return canonical.ok() && *canonical == text;
}

}  // namespace nebu::event
