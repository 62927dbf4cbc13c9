// Tokenizer of the full-text search index (engine/search/search_index.h): splits text
// into words the index and the queries agree on.
//
//   std::vector<std::string> words = search::Tokenize("Café, 2 CAFÉS!");
//   // {"café", "2", "cafés"}
//
// Rules (the same for indexed text and for a search_term, so a word finds itself):
//   - The text is read as UTF-8. A word is a maximal run of word characters: ASCII
//     letters and digits, and every non-ASCII code point except the punctuation and
//     symbol ranges IsSeparator lists (Latin-1 symbols U+0080..U+00BF but ª µ º,
//     × and ÷, general punctuation, arrows, maths, box drawing and other symbols
//     U+2000..U+2BFF, CJK punctuation U+3000..U+303F, the variation selectors, half and
//     full-width forms' punctuation, private use, emoji U+1F000..U+1FAFF). Any other
//     ASCII byte and any invalid UTF-8 byte separate words.
//   - CJK ideographs (U+3400..U+9FFF, U+F900..U+FAFF, U+20000..U+2FFFF), hiragana and
//     katakana (U+3040..U+30FF) are one word per character: those scripts do not put
//     spaces between words.
//   - Lower-cased: ASCII, Latin-1 (À..Þ but ×), Latin Extended-A (U+0100..U+017F),
//     Greek (Α..Ω) and Cyrillic (Ѐ..Я). Other scripts are kept as written (no full
//     Unicode case folding, no accent stripping, no stemming).
//   - A word longer than kSearchTokenBytesMax bytes is cut to its first
//     kSearchTokenBytesMax bytes (at a character boundary); a text yields at most
//     kSearchTokensPerTextMax words (the rest is not indexed / not searched).
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace nebu::search {

// The longest indexed word, in bytes of UTF-8 (longer words are cut there).
inline constexpr size_t kSearchTokenBytesMax = 64;
// Words taken from one text (one field of one event, or one search_term).
inline constexpr size_t kSearchTokensPerTextMax = 1024;

// The words of `text` in order of appearance (duplicates kept).
[[nodiscard]] std::vector<std::string> Tokenize(std::string_view text);

// Whether the code point separates words (rules above); exposed for tests.
[[nodiscard]] bool IsSeparator(char32_t cp);

}  // namespace nebu::search
