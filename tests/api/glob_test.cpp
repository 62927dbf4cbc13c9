// GlobMatch (api/glob.h): the spec's examples, both syntaxes, UTF-8 characters for '?',
// a rapidcheck property against a plain exponential reference on short strings
// (rapidcheck prints its seed; replay with RC_PARAMS="reproduce=..."), and the step
// bound on the inputs that made the old recursive matcher exponential.
#include "api/glob.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

namespace nebu::api {
namespace {

// Splits valid UTF-8 into characters.
std::vector<std::string> Chars(std::string_view text) {
  std::vector<std::string> out;
  for (size_t at = 0; at < text.size();) {
    const auto lead = static_cast<unsigned char>(text[at]);
    size_t n = lead < 0x80 ? 1 : lead < 0xE0 ? 2 : lead < 0xF0 ? 3 : 4;
    out.emplace_back(text.substr(at, n));
    at += n;
  }
  return out;
}

// The obvious recursive definition (exponential; short inputs only).
bool Reference(const std::vector<std::string>& p, size_t i, const std::vector<std::string>& t,
               size_t j, bool question) {
  if (i == p.size()) return j == t.size();
  if (p[i] == "*") {
    for (size_t k = j; k <= t.size(); ++k) {
      if (Reference(p, i + 1, t, k, question)) return true;
    }
    return false;
  }
  if (j == t.size()) return false;
  if ((question && p[i] == "?") || p[i] == t[j]) return Reference(p, i + 1, t, j + 1, question);
  return false;
}

bool Reference(std::string_view pattern, std::string_view text, GlobSyntax syntax) {
  return Reference(Chars(pattern), 0, Chars(text), 0, syntax == GlobSyntax::kStarAndQuestion);
}

TEST(GlobTest, StarMatchesAnyRunIncludingEmpty) {
  EXPECT_TRUE(GlobMatch("*", ""));
  EXPECT_TRUE(GlobMatch("*", "m.room.message"));
  EXPECT_TRUE(GlobMatch("m.room.*", "m.room.message"));
  EXPECT_TRUE(GlobMatch("m.room.*", "m.room."));
  EXPECT_TRUE(GlobMatch("*.message", "m.room.message"));
  EXPECT_TRUE(GlobMatch("m.*.m*e", "m.room.message"));
  EXPECT_FALSE(GlobMatch("m.room.*", "m.room"));
  EXPECT_FALSE(GlobMatch("ab*ba", "aba"));  // prefix and suffix may not overlap
  EXPECT_TRUE(GlobMatch("ab*ba", "abba"));
}

TEST(GlobTest, WithoutStarTheWholeTextMustBeEqual) {
  EXPECT_TRUE(GlobMatch("m.room.message", "m.room.message"));
  EXPECT_FALSE(GlobMatch("m.room.message", "m.room.messages"));
  EXPECT_FALSE(GlobMatch("m.room.messages", "m.room.message"));
  EXPECT_TRUE(GlobMatch("", ""));
  EXPECT_FALSE(GlobMatch("", "a"));
}

TEST(GlobTest, QuestionMarkIsLiteralInFiltersAndOneCharacterInPushRules) {
  EXPECT_FALSE(GlobMatch("m.?oom", "m.room"));
  EXPECT_TRUE(GlobMatch("m.?oom", "m.?oom"));
  EXPECT_TRUE(GlobMatch("m.?oom", "m.room", GlobSyntax::kStarAndQuestion));
  EXPECT_FALSE(GlobMatch("m.?oom", "m.oom", GlobSyntax::kStarAndQuestion));
  EXPECT_TRUE(GlobMatch("*?", "x", GlobSyntax::kStarAndQuestion));
  EXPECT_FALSE(GlobMatch("*?", "", GlobSyntax::kStarAndQuestion));
}

TEST(GlobTest, QuestionMarkMatchesOneUtf8Character) {
  EXPECT_TRUE(GlobMatch("caf?", "caf\xC3\xA9", GlobSyntax::kStarAndQuestion));
  EXPECT_FALSE(GlobMatch("caf??", "caf\xC3\xA9", GlobSyntax::kStarAndQuestion));
  EXPECT_TRUE(GlobMatch("?", "\xF0\x9F\x98\x80", GlobSyntax::kStarAndQuestion));
  EXPECT_TRUE(GlobMatch("*?*", "\xF0\x9F\x98\x80", GlobSyntax::kStarAndQuestion));
}

TEST(GlobTest, MatchAnyAndEmptyList) {
  EXPECT_TRUE(GlobMatchAny({"m.call.*", "m.room.*"}, "m.room.topic"));
  EXPECT_FALSE(GlobMatchAny({"m.call.*"}, "m.room.topic"));
  EXPECT_FALSE(GlobMatchAny({}, "m.room.topic"));
}

// The request that hung the server: many stars against a long type that never matches.
TEST(GlobTest, ManyStarsCostLinearSteps) {
  std::string pattern;
  for (int i = 0; i < 60; ++i) pattern += "*a";
  pattern += "*b";
  const std::string text(255, 'a');
  size_t steps = 0;
  EXPECT_FALSE(GlobMatch(pattern, text, GlobSyntax::kStarOnly, &steps));
  EXPECT_LE(steps, 4 * (pattern.size() + text.size()));
  steps = 0;
  EXPECT_FALSE(GlobMatch(pattern, text, GlobSyntax::kStarAndQuestion, &steps));
  EXPECT_LE(steps, 4 * (pattern.size() + text.size()));
}

// Knuth-Morris-Pratt keeps a self-overlapping segment linear too.
TEST(GlobTest, SelfOverlappingSegmentCostsLinearSteps) {
  const std::string pattern = "*" + std::string(200, 'a') + "b*";
  const std::string text(255, 'a');
  size_t steps = 0;
  EXPECT_FALSE(GlobMatch(pattern, text, GlobSyntax::kStarOnly, &steps));
  EXPECT_LE(steps, 4 * (pattern.size() + text.size()));
}

// '?' segments are tried at each position: bounded by |segment| * |text|.
TEST(GlobTest, QuestionSegmentsCostAtMostSegmentTimesText) {
  const std::string pattern = "*" + std::string(100, '?') + "b*";
  const std::string text(255, 'a');
  size_t steps = 0;
  EXPECT_FALSE(GlobMatch(pattern, text, GlobSyntax::kStarAndQuestion, &steps));
  EXPECT_LE(steps, (pattern.size() + 2) * (text.size() + 2));
}

TEST(GlobTest, CheckGlobPatternsCapsCountAndLength) {
  EXPECT_TRUE(CheckGlobPatterns({"a", "b"}, 2, "types").ok());
  Status too_many = CheckGlobPatterns({"a", "b", "c"}, 2, "types");
  EXPECT_EQ(too_many.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(too_many.message().find("types"), std::string::npos);
  EXPECT_TRUE(CheckGlobPatterns({std::string(kGlobPatternBytesMax, '*')}, 1, "types").ok());
  EXPECT_EQ(CheckGlobPatterns({std::string(kGlobPatternBytesMax + 1, 'a')}, 1, "types").code(),
            StatusCode::kInvalidArgument);
}

rc::Gen<std::string> FromAlphabet(std::vector<std::string> alphabet, int length_max) {
  return rc::gen::map(
      rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(alphabet)),
      [length_max](const std::vector<std::string>& parts) {
        std::string out;
        for (size_t i = 0; i < parts.size() && i < static_cast<size_t>(length_max); ++i) {
          out += parts[i];
        }
        return out;
      });
}

RC_GTEST_PROP(GlobProperty, AgreesWithTheReference, ()) {
  const std::string pattern =
      *FromAlphabet({"a", "b", "\xC3\xA9", "*", "?", "ab", "*a"}, 8).as("pattern");
  const std::string text = *FromAlphabet({"a", "b", "\xC3\xA9", "?", "ba"}, 10).as("text");
  for (GlobSyntax syntax : {GlobSyntax::kStarOnly, GlobSyntax::kStarAndQuestion}) {
    RC_ASSERT(GlobMatch(pattern, text, syntax) == Reference(pattern, text, syntax));
  }
}

}  // namespace
}  // namespace nebu::api
