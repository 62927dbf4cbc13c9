// Goal: search::Tokenize splits and folds words as tokenizer.h says, for ASCII,
// Latin-1, Greek, Cyrillic, CJK and malformed UTF-8, within its limits.
// Method: tables of texts and the words each must give.
#include "engine/search/tokenizer.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nebu::search {
namespace {

using Words = std::vector<std::string>;

TEST(Tokenize, SplitsOnNonAlphanumericsAndLowerCasesAscii) {
  EXPECT_EQ(Tokenize("Hello, World! it's 2024"), (Words{"hello", "world", "it", "s", "2024"}));
  EXPECT_EQ(Tokenize(""), Words{});
  EXPECT_EQ(Tokenize("  ...  "), Words{});
  EXPECT_EQ(Tokenize("a_b-c.d"), (Words{"a", "b", "c", "d"}));
}

TEST(Tokenize, FoldsLatinGreekAndCyrillicCase) {
  EXPECT_EQ(Tokenize("CAFÉ Café"), (Words{"café", "café"}));
  EXPECT_EQ(Tokenize("ŁÓDŹ"), (Words{"łódź"}));
  EXPECT_EQ(Tokenize("ΑΘΗΝΑ"), (Words{"αθηνα"}));
  EXPECT_EQ(Tokenize("МОСКВА Ёж"), (Words{"москва", "ёж"}));
  EXPECT_EQ(Tokenize("Straße"), (Words{"straße"}));
}

TEST(Tokenize, TreatsSymbolsAndPunctuationAsSeparators) {
  EXPECT_EQ(Tokenize("a×b÷c«d»e"), (Words{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(Tokenize("hi—there…ok"), (Words{"hi", "there", "ok"}));
  EXPECT_EQ(Tokenize("pizza🍕time"), (Words{"pizza", "time"}));
  EXPECT_EQ(Tokenize("日本、東京。"), (Words{"日", "本", "東", "京"}));
}

TEST(Tokenize, MakesEachCjkCharacterAWord) {
  EXPECT_EQ(Tokenize("abc漢字def"), (Words{"abc", "漢", "字", "def"}));
  EXPECT_EQ(Tokenize("ひらがな"), (Words{"ひ", "ら", "が", "な"}));
  EXPECT_EQ(Tokenize("한국어 말"), (Words{"한국어", "말"}));
}

TEST(Tokenize, MalformedUtf8SeparatesWords) {
  EXPECT_EQ(Tokenize(std::string("ab\xff") + "cd"), (Words{"ab", "cd"}));
  EXPECT_EQ(Tokenize(std::string("ab\xc3")), (Words{"ab"}));
  EXPECT_EQ(Tokenize(std::string("x\xed\xa0\x80y")), (Words{"x", "y"}));  // a surrogate
  EXPECT_EQ(Tokenize(std::string("x\xc0\xafy")), (Words{"x", "y"}));      // overlong '/'
}

TEST(Tokenize, CutsLongWordsAtACharacterBoundary) {
  EXPECT_EQ(Tokenize(std::string(200, 'a') + " b"), (Words{std::string(kSearchTokenBytesMax, 'a'), "b"}));
  // 'é' is two bytes: 63 'a' + 'é' would be 65 bytes, so the word stops at 63 and
  // the rest of it (even one-byte characters) is dropped.
  const Words cut = Tokenize(std::string(63, 'a') + "éab c");
  EXPECT_EQ(cut, (Words{std::string(63, 'a'), "c"}));
}

TEST(Tokenize, StopsAfterTheWordLimit) {
  std::string text;
  for (size_t i = 0; i < kSearchTokensPerTextMax + 10; ++i) text += "w ";
  EXPECT_EQ(Tokenize(text).size(), kSearchTokensPerTextMax);
}

}  // namespace
}  // namespace nebu::search
