// Goal: ParseJson accepts exactly the JSON the header promises, and CanonicalJson
// writes the one canonical form of the spec appendix § Canonical JSON.
// Method: every example of that section; tables of non-canonical and invalid input
// with the error each must give; number boundaries; and rapidcheck properties over
// generated JSON values (rapidcheck prints the seed; replay with
// RC_PARAMS="seed=<n>").
#include "engine/event/canonical_json.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <boost/json/serialize.hpp>
#include <string>
#include <vector>

namespace nebu::event {
namespace {

namespace bj = boost::json;

std::string Canon(std::string_view text) {
  auto v = ParseJson(text);
  if (!v.ok()) return "<" + v.status().ToString() + ">";
  auto out = CanonicalJson(*v);
  if (!out.ok()) return "<" + out.status().ToString() + ">";
  return *out;
}

StatusCode ParseCode(std::string_view text, const ParseOptions& options = {}) {
  return ParseJson(text, options).status().code();
}

// ---------------------------------------------------------------------------
// The spec's examples, verbatim (appendices.md § Canonical JSON, Examples).

TEST(CanonicalJsonSpecTest, ProducesEveryExampleOfTheSpec) {
  const std::pair<std::string_view, std::string_view> kExamples[] = {
      {"{}", "{}"},
      {"{\n    \"one\": 1,\n    \"two\": \"Two\"\n}", R"({"one":1,"two":"Two"})"},
      {"{\n    \"b\": \"2\",\n    \"a\": \"1\"\n}", R"({"a":"1","b":"2"})"},
      {R"({"b":"2","a":"1"})", R"({"a":"1","b":"2"})"},
      {R"({
    "auth": {
        "success": true,
        "mxid": "@john.doe:example.com",
        "profile": {
            "display_name": "John Doe",
            "three_pids": [
                {
                    "medium": "email",
                    "address": "john.doe@example.org"
                },
                {
                    "medium": "msisdn",
                    "address": "123456789"
                }
            ]
        }
    }
})",
       R"({"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe","three_pids":[{"address":"john.doe@example.org","medium":"email"},{"address":"123456789","medium":"msisdn"}]},"success":true}})"},
      {"{\n    \"a\": \"日本語\"\n}", "{\"a\":\"日本語\"}"},
      {"{\n    \"本\": 2,\n    \"日\": 1\n}", "{\"日\":1,\"本\":2}"},
      {"{\n    \"a\": \"\\u65E5\"\n}", "{\"a\":\"日\"}"},
      {"{\n    \"a\": null\n}", R"({"a":null})"},
      {"{\n    \"a\": -0,\n    \"b\": 1e10\n}", R"({"a":0,"b":10000000000})"},
  };
  for (auto [input, expected] : kExamples) {
    EXPECT_EQ(Canon(input), expected) << input;
    EXPECT_TRUE(IsCanonicalJson(expected)) << expected;
  }
}

// ---------------------------------------------------------------------------
// Escapes: exactly the grammar's `escaped` production.

TEST(CanonicalJsonEscapeTest, UsesShortEscapesForTheFiveNamedControls) {
  EXPECT_EQ(Canon(R"(["\u0008\u0009\u000A\u000C\u000D"])"), R"(["\b\t\n\f\r"])");
}

TEST(CanonicalJsonEscapeTest, UsesLowerCaseUnicodeEscapesForOtherControls) {
  EXPECT_EQ(Canon(R"(["\u0000\u0001\u000B\u000E\u001F"])"),
            R"(["\u0000\u0001\u000b\u000e\u001f"])");
  for (int c = 0; c < 0x20; ++c) {
    std::string raw = "\"";
    raw.push_back(static_cast<char>(c));
    raw.push_back('"');
    bj::value v = bj::string(raw.substr(1, 1));
    std::string out = *CanonicalJson(v);
    EXPECT_EQ(out.find_first_of(std::string_view("\0\x01\x1f", 3)), std::string::npos);
    EXPECT_TRUE(IsCanonicalJson(out)) << out;
  }
}

TEST(CanonicalJsonEscapeTest, EscapesOnlyQuoteAndBackslashAmongPrintables) {
  EXPECT_EQ(Canon(R"(["\"\\\/"])"), R"(["\"\\/"])");
  EXPECT_EQ(Canon(R"(["\u0041\u007f\u00e9\u2028\ud83d\ude00"])"),
            "[\"A\x7f\xc3\xa9\xe2\x80\xa8\xf0\x9f\x98\x80\"]");
}

TEST(CanonicalJsonEscapeTest, FindsEscapesAtEveryOffsetOfLongStrings) {
  for (char special : {'\x01', '\x1f', '"', '\\', '\n'}) {
    for (size_t len = 1; len <= 40; ++len) {
      for (size_t pos = 0; pos < len; ++pos) {
        std::string raw(len, 'a');
        raw[pos] = special;
        std::string out = *CanonicalJson(bj::value(bj::string(raw)));
        EXPECT_EQ(out.size(), raw.size() + 2 + (special == '\x01' || special == '\x1f' ? 5 : 1))
            << int(special) << " at " << pos << " of " << len;
        EXPECT_EQ(std::string(ParseJson(out)->as_string()), raw);
      }
    }
  }
}

TEST(CanonicalJsonEscapeTest, EscapesKeysLikeValues) {
  EXPECT_EQ(Canon(R"({"a\nb":1,"\u00e9":2})"), "{\"a\\nb\":1,\"\xc3\xa9\":2}");
}

// ---------------------------------------------------------------------------
// Key order: by Unicode code point, i.e. UTF-8 byte order.

TEST(CanonicalJsonOrderTest, SortsKeysByCodePointNotByUtf16) {
  // U+FF61 (EF BD A1) sorts before U+1F600 (F0 9F 98 80) by code point; UTF-16
  // order would put the surrogate pair D83D first.
  EXPECT_EQ(Canon(R"({"😀":1,"｡":2})"), "{\"｡\":2,\"😀\":1}");
  EXPECT_EQ(Canon(R"({"b":1,"B":2,"a":3,"_":4,"aa":5,"":6})"),
            R"({"":6,"B":2,"_":4,"a":3,"aa":5,"b":1})");
  EXPECT_EQ(Canon(R"({"é":1,"z":2})"), "{\"z\":2,\"\xc3\xa9\":1}");
}

TEST(CanonicalJsonOrderTest, SortsLargeObjects) {
  std::string text = "{";
  for (int i = 99; i >= 0; --i)
    text += "\"k" + std::to_string(i) + "\":" + std::to_string(i) + (i ? "," : "}");
  std::string out = Canon(text);
  EXPECT_EQ(out.substr(0, 20), R"({"k0":0,"k1":1,"k10")");
  EXPECT_TRUE(IsCanonicalJson(out));
}

TEST(CanonicalJsonOrderTest, KeepsArrayOrder) { EXPECT_EQ(Canon("[3, 1, 2]"), "[3,1,2]"); }

// ---------------------------------------------------------------------------
// Numbers.

TEST(CanonicalJsonNumberTest, AcceptsTheCanonicalRangeBoundaries) {
  EXPECT_EQ(Canon("9007199254740991"), "9007199254740991");
  EXPECT_EQ(Canon("-9007199254740991"), "-9007199254740991");
  EXPECT_EQ(Canon("0"), "0");
}

TEST(CanonicalJsonNumberTest, NormalizesIntegralSpellings) {
  const std::pair<std::string_view, std::string_view> kCases[] = {
      {"-0", "0"},
      {"1.0", "1"},
      {"1e3", "1000"},
      {"1E+3", "1000"},
      {"10E-1", "1"},
      {"-2.50e1", "-25"},
      {"0.0", "0"},
      {"-0.0e-7", "0"},
      {"0e999999", "0"},
      {"123456789012345.6e1", "1234567890123456"},
      {"9.007199254740991e15", "9007199254740991"},
      {"90071992547409910e-1", "9007199254740991"},
      {"1.000000000000000000000000000", "1"}};
  for (auto [input, expected] : kCases) EXPECT_EQ(Canon(input), expected) << input;
}

TEST(CanonicalJsonNumberTest, RejectsFractionsAndOutOfRangeAsBadJson) {
  for (std::string_view bad :
       {"1.5", "0.1", "-0.5", "1e-1", "9007199254740992", "-9007199254740992", "9007199254740991.5",
        "9007199254740990.6", "1.0000000000000000001", "18446744073709551615",
        "18446744073709551616", "-9223372036854775808", "-9223372036854775809", "1e16", "1e400",
        "-1e400", "123456789012345678901234567890", "[1, 2.5]", R"({"a":{"b":1e20}})"}) {
    EXPECT_EQ(ParseCode(bad), StatusCode::kBadJson) << bad;
  }
}

TEST(CanonicalJsonNumberTest, LenientParsingKeepsFloatsButSerializingRefusesThem) {
  ParseOptions lenient;
  lenient.canonical_numbers = false;
  auto v = ParseJson("[1.5, 18446744073709551615, 9007199254740992]", lenient);
  ASSERT_TRUE(v.ok());
  EXPECT_TRUE(v->as_array()[0].is_double());
  EXPECT_TRUE(v->as_array()[1].is_uint64());
  EXPECT_EQ(CanonicalJson(*v).status().code(), StatusCode::kBadJson);
  EXPECT_EQ(CanonicalJson(bj::value(9007199254740992LL)).status().code(), StatusCode::kBadJson);
  EXPECT_EQ(CanonicalJson(bj::value(uint64_t{9007199254740991})).value(), "9007199254740991");
  EXPECT_EQ(CanonicalJson(bj::value(1.0)).status().code(), StatusCode::kBadJson);
}

// ---------------------------------------------------------------------------
// Errors.

TEST(ParseJsonErrorTest, ReportsNotJsonForSyntaxErrors) {
  for (std::string_view bad : {"",
                               " ",
                               "{",
                               "}",
                               "[1,]",
                               "{\"a\":1,}",
                               "{'a':1}",
                               "{a:1}",
                               "[01]",
                               "[+1]",
                               "[.5]",
                               "[1.]",
                               "[NaN]",
                               "[Infinity]",
                               "tru",
                               "nul",
                               "\"abc",
                               "\"\\x\"",
                               "\"\\u12\"",
                               "{} {}",
                               "{}x",
                               "[1] 2",
                               "/* c */ {}",
                               "{} // c",
                               "\"tab\there\"",
                               "\"a\nb\"",
                               "[\"\\ud800\"]",
                               "[\"\\udc00\"]",
                               "[\"\\ud800\\u0041\"]"}) {
    EXPECT_EQ(ParseCode(bad), StatusCode::kNotJson) << testing::PrintToString(bad);
  }
}

TEST(ParseJsonErrorTest, ReportsNotJsonForInvalidUtf8) {
  for (std::string_view bad : {"\"\xff\"", "\"\xc0\xaf\"", "\"\xed\xa0\x80\"", "{\"\xe6\x97\":1}",
                               "\"\xf4\x90\x80\x80\"", "\xef\xbb\xbf{}"}) {
    EXPECT_EQ(ParseCode(bad), StatusCode::kNotJson) << testing::PrintToString(bad);
  }
}

TEST(ParseJsonErrorTest, ReportsBadJsonForDuplicateKeys) {
  for (std::string_view bad :
       {R"({"a":1,"a":1})", R"({"a":1,"b":2,"a":3})", R"({"x":{"a":1,"a":2}})",
        R"([{"a":[],"a":{}}])", R"({"\u0061":1,"a":2})", R"({"é":1,"\u00e9":2})"}) {
    EXPECT_EQ(ParseCode(bad), StatusCode::kBadJson) << bad;
  }
  EXPECT_TRUE(ParseJson(R"({"a":{"a":1},"b":{"a":1}})").ok());
}

TEST(ParseJsonErrorTest, DetectsDuplicatesInObjectsBeyondTheSmallTableSize) {
  std::string text = "{";
  for (int i = 0; i < 200; ++i) text += "\"k" + std::to_string(i) + "\":0,";
  EXPECT_TRUE(ParseJson(text.substr(0, text.size() - 1) + "}").ok());
  EXPECT_EQ(ParseCode(text + "\"k117\":1}"), StatusCode::kBadJson);
}

std::string Nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(ParseJsonErrorTest, AllowsNestingUpToTheDepthLimit) {
  auto v = ParseJson(Nested(kJsonDepthMax));
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*CanonicalJson(*v), Nested(kJsonDepthMax));
  EXPECT_EQ(ParseCode(Nested(kJsonDepthMax + 1)), StatusCode::kNotJson);
  EXPECT_EQ(ParseCode(std::string(100000, '[')), StatusCode::kNotJson);
}

TEST(CanonicalJsonErrorTest, RefusesValuesNestedBeyondTheDepthLimit) {
  bj::value v = bj::array();
  for (size_t i = 0; i < kJsonDepthMax; ++i) v = bj::array({std::move(v)});
  EXPECT_EQ(CanonicalJson(v).status().code(), StatusCode::kBadJson);
}

TEST(ParseJsonErrorTest, RefusesInputOverTheByteLimitUnparsed) {
  ParseOptions small;
  small.bytes_max = 8;
  EXPECT_TRUE(ParseJson("[1,2,3]", small).ok());
  EXPECT_TRUE(ParseJson("[1,2,34]", small).ok());
  EXPECT_EQ(ParseCode("[1,2,345]", small), StatusCode::kTooLarge);
  EXPECT_EQ(ParseCode(std::string(kJsonInputBytesMax + 1, ' ')), StatusCode::kTooLarge);
}

TEST(CanonicalJsonErrorTest, RefusesStringsThatAreNotUtf8) {
  EXPECT_EQ(CanonicalJson(bj::value(bj::string("\xff"))).status().code(), StatusCode::kBadJson);
  bj::object o;
  o["\xc3"] = 1;
  EXPECT_EQ(CanonicalJson(bj::value(o)).status().code(), StatusCode::kBadJson);
}

TEST(CanonicalJsonErrorTest, AppendLeavesOutputUntouchedOnError) {
  std::string out = "prefix";
  bj::value v = {{"a", 1}, {"b", 1.5}};
  EXPECT_EQ(AppendCanonicalJson(v, &out).code(), StatusCode::kBadJson);
  EXPECT_EQ(out, "prefix");
  EXPECT_TRUE(AppendCanonicalJson(bj::value(7), &out).ok());
  EXPECT_EQ(out, "prefix7");
}

TEST(IsCanonicalJsonTest, RecognisesOnlyTheExactCanonicalBytes) {
  for (std::string_view yes : {"{}", "[]", "0", "-1", "\"\"", "null", R"({"a":[1,{"b":true}]})"}) {
    EXPECT_TRUE(IsCanonicalJson(yes)) << yes;
  }
  for (std::string_view no :
       {"{ }", " {}", "{}\n", R"({"b":1,"a":2})", "-0", "1.0", "1e1", R"("\u00e9")", R"("\/")",
        R"("\u001F")", R"({"a":1,"a":1})", "[1.5]", "9007199254740992", "\"\xff\""}) {
    EXPECT_FALSE(IsCanonicalJson(no)) << no;
  }
}

// ---------------------------------------------------------------------------
// Filtered serialization (used by redaction).

TEST(CanonicalJsonFilterTest, KeepsOnlyListedKeysAndFiltersNestedObjects) {
  static constexpr KeyFilter::Rule kInner[] = {{"keep"}};
  static constexpr KeyFilter kInnerFilter{kInner};
  static constexpr KeyFilter::Rule kOuter[] = {{"z"}, {"a", &kInnerFilter}, {"n", &kInnerFilter}};
  auto v = ParseJson(R"({"z":1,"drop":2,"a":{"keep":[1],"drop":3},"n":"not an object"})");
  ASSERT_TRUE(v.ok());
  KeyFilter filter{kOuter};
  std::string out;
  ASSERT_TRUE(AppendCanonicalJsonFiltered(v->as_object(), filter, &out).ok());
  EXPECT_EQ(out, R"({"a":{"keep":[1]},"z":1})");
  EXPECT_EQ(*CanonicalJson(bj::value(FilterObject(v->as_object(), filter))), out);
}

TEST(CanonicalJsonFilterTest, KeepAllDropsOnlyTheExceptions) {
  static constexpr std::string_view kExcept[] = {"x", "y"};
  KeyFilter filter{{}, true, kExcept};
  auto v = ParseJson(R"({"x":1,"b":2,"y":3,"a":4})");
  std::string out;
  ASSERT_TRUE(AppendCanonicalJsonFiltered(v->as_object(), filter, &out).ok());
  EXPECT_EQ(out, R"({"a":4,"b":2})");
}

// ---------------------------------------------------------------------------
// Properties over generated values.

// Strings mixing ASCII, escapes, and multi-byte UTF-8 (no surrogates).
rc::Gen<std::string> GenUtf8String() {
  auto cp = rc::gen::oneOf(
      rc::gen::inRange<uint32_t>(0x20, 0x7f), rc::gen::inRange<uint32_t>(0, 0x20),
      rc::gen::element<uint32_t>('"', '\\', '/', 0x7f), rc::gen::inRange<uint32_t>(0x80, 0xd800),
      rc::gen::inRange<uint32_t>(0xe000, 0x110000));
  return rc::gen::map(
      rc::gen::container<std::vector<uint32_t>>(cp), [](const std::vector<uint32_t>& cps) {
        std::string s;
        for (uint32_t c : cps) {
          if (c < 0x80) {
            s.push_back(static_cast<char>(c));
          } else if (c < 0x800) {
            s += {static_cast<char>(0xC0 | (c >> 6)), static_cast<char>(0x80 | (c & 0x3F))};
          } else if (c < 0x10000) {
            s += {static_cast<char>(0xE0 | (c >> 12)), static_cast<char>(0x80 | ((c >> 6) & 0x3F)),
                  static_cast<char>(0x80 | (c & 0x3F))};
          } else {
            s +=
                {static_cast<char>(0xF0 | (c >> 18)), static_cast<char>(0x80 | ((c >> 12) & 0x3F)),
                 static_cast<char>(0x80 | ((c >> 6) & 0x3F)), static_cast<char>(0x80 | (c & 0x3F))};
          }
        }
        return s;
      });
}

rc::Gen<bj::value> GenValue(int depth) {
  auto scalar = rc::gen::oneOf(
      rc::gen::just(bj::value(nullptr)),
      rc::gen::map(rc::gen::arbitrary<bool>(), [](bool b) { return bj::value(b); }),
      rc::gen::map(rc::gen::inRange<int64_t>(kCanonicalIntMin, kCanonicalIntMax + 1),
                   [](int64_t i) { return bj::value(i); }),
      rc::gen::map(rc::gen::inRange<int64_t>(-1000, 1000), [](int64_t i) { return bj::value(i); }),
      rc::gen::map(GenUtf8String(), [](const std::string& s) { return bj::value(bj::string(s)); }));
  if (depth <= 0) return scalar;
  auto array = rc::gen::map(
      rc::gen::resize(6, rc::gen::container<std::vector<bj::value>>(GenValue(depth - 1))),
      [](const std::vector<bj::value>& items) {
        return bj::value(bj::array(items.begin(), items.end()));
      });
  auto object = rc::gen::map(
      rc::gen::resize(6, rc::gen::container<std::vector<std::pair<std::string, bj::value>>>(
                             rc::gen::pair(GenUtf8String(), GenValue(depth - 1)))),
      [](const std::vector<std::pair<std::string, bj::value>>& members) {
        bj::object o;
        for (const auto& [k, v] : members) o[k] = v;  // a repeated key keeps the last value
        return bj::value(std::move(o));
      });
  return rc::gen::oneOf(scalar, array, object);
}

bool KeysSortedEverywhere(const bj::value& v) {
  if (v.is_array()) {
    for (const bj::value& item : v.get_array()) {
      if (!KeysSortedEverywhere(item)) return false;
    }
  } else if (v.is_object()) {
    std::string_view previous;
    bool first = true;
    for (const auto& kv : v.get_object()) {
      std::string_view key(kv.key().data(), kv.key().size());
      if (!first && !(previous < key)) return false;
      previous = key;
      first = false;
      if (!KeysSortedEverywhere(kv.value())) return false;
    }
  }
  return true;
}

RC_GTEST_PROP(CanonicalJsonProperty, SerializingAGeneratedValueGivesCanonicalTextOfTheSameValue,
              ()) {
  bj::value v = *GenValue(3);
  auto text = CanonicalJson(v);
  RC_ASSERT(text.ok());
  auto parsed = ParseJson(*text);
  RC_ASSERT(parsed.ok());
  RC_ASSERT(*parsed == v);
  RC_ASSERT(IsCanonicalJson(*text));
  RC_ASSERT(KeysSortedEverywhere(*parsed));  // parse keeps document order
}

RC_GTEST_PROP(CanonicalJsonProperty, ParseThenSerializeIsIdentityOnCanonicalText, ()) {
  std::string text = *CanonicalJson(*GenValue(3));
  RC_ASSERT(*CanonicalJson(*ParseJson(text)) == text);
}

RC_GTEST_PROP(CanonicalJsonProperty, PrettyOrReorderedTextCanonicalizesToTheSameBytes, ()) {
  bj::value v = *GenValue(3);
  std::string canonical = *CanonicalJson(v);
  // Boost's serializer keeps insertion order (unsorted keys), escapes differently and
  // here gets whitespace around every token.
  std::string loose = bj::serialize(v);
  std::string spaced;
  bool in_string = false;
  for (size_t i = 0; i < loose.size(); ++i) {
    char c = loose[i];
    spaced.push_back(c);
    if (in_string && c == '\\') {
      spaced.push_back(loose[++i]);  // the escaped character, never a delimiter
    } else if (c == '"') {
      in_string = !in_string;
    } else if (!in_string && (c == ',' || c == ':' || c == '[' || c == '{')) {
      spaced += " \n\t";
    }
  }
  for (const std::string& text : {loose, spaced}) {
    auto parsed = ParseJson(text);
    RC_ASSERT(parsed.ok());
    RC_ASSERT(*CanonicalJson(*parsed) == canonical);
    RC_ASSERT(IsCanonicalJson(text) == (text == canonical));
  }
}

RC_GTEST_PROP(CanonicalJsonProperty, RepeatingAKeyIsBadJson, ()) {
  std::string key = *GenUtf8String();
  std::string k = *CanonicalJson(bj::value(bj::string(key)));
  std::string a = *CanonicalJson(*GenValue(2));
  std::string b = *CanonicalJson(*GenValue(2));
  RC_ASSERT(ParseCode("{" + k + ":" + a + "," + k + ":" + b + "}") == StatusCode::kBadJson);
}

RC_GTEST_PROP(CanonicalJsonProperty, IntegersParseExactlyInRangeAndFailOutside, (int64_t i)) {
  std::string text = std::to_string(i);
  bool in_range = i >= kCanonicalIntMin && i <= kCanonicalIntMax;
  if (in_range) {
    RC_ASSERT(Canon(text) == text);
    RC_ASSERT(Canon(text + ".000") == text);
    RC_ASSERT(Canon(text + "e0") == text);
    RC_ASSERT(Canon(text + ".00e+0") == text);
  } else {
    RC_ASSERT(ParseCode(text) == StatusCode::kBadJson);
  }
}

RC_GTEST_PROP(CanonicalJsonProperty, ArbitraryBytesNeverCrashAndParsedBytesReachAFixedPoint,
              (const std::string& bytes)) {
  auto parsed = ParseJson(bytes);
  if (!parsed.ok()) {
    RC_ASSERT(parsed.status().code() == StatusCode::kNotJson ||
              parsed.status().code() == StatusCode::kBadJson);
    return;
  }
  std::string once = *CanonicalJson(*parsed);
  RC_ASSERT(Canon(once) == once);
}

RC_GTEST_PROP(CanonicalJsonProperty, InvalidUtf8InsideAStringIsNotJson, ()) {
  const auto junk = *rc::gen::inRange<unsigned>(0x80, 0x100);
  std::string text = "[\"ok";
  text.push_back(static_cast<char>(junk));
  text += "\"]";
  RC_ASSERT(ParseCode(text) == StatusCode::kNotJson);
}

}  // namespace
}  // namespace nebu::event
