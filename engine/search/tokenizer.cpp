#include "engine/search/tokenizer.h"

#include <cstdint>

namespace nebu::search {

namespace {

// Decodes one UTF-8 sequence at text[i]; sets *len (>= 1). Returns kInvalid for a
// malformed, overlong or surrogate sequence (then *len is 1).
constexpr char32_t kInvalid = 0xFFFFFFFF;

char32_t Decode(std::string_view text, size_t i, size_t* len) {
  const auto b0 = static_cast<unsigned char>(text[i]);
  *len = 1;
  if (b0 < 0x80) return b0;
  size_t n = 0;
  char32_t cp = 0;
  if ((b0 & 0xE0) == 0xC0) {
    n = 2;
    cp = b0 & 0x1F;
  } else if ((b0 & 0xF0) == 0xE0) {
    n = 3;
    cp = b0 & 0x0F;
  } else if ((b0 & 0xF8) == 0xF0) {
    n = 4;
    cp = b0 & 0x07;
  } else {
    return kInvalid;
  }
  if (i + n > text.size()) return kInvalid;
  for (size_t k = 1; k < n; ++k) {
    const auto b = static_cast<unsigned char>(text[i + k]);
    if ((b & 0xC0) != 0x80) return kInvalid;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr char32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return kInvalid;
  *len = n;
  return cp;
}

void Encode(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

bool InRange(char32_t cp, char32_t lo, char32_t hi) { return cp >= lo && cp <= hi; }

// A character that is a word by itself (scripts written without spaces).
bool IsSingleCharWord(char32_t cp) {
  return InRange(cp, 0x3040, 0x30FF) || InRange(cp, 0x3400, 0x9FFF) ||
         InRange(cp, 0xF900, 0xFAFF) || InRange(cp, 0x20000, 0x2FFFF);
}

char32_t Lower(char32_t cp) {
  if (InRange(cp, 'A', 'Z')) return cp + 0x20;
  if (cp < 0x80) return cp;
  if (InRange(cp, 0xC0, 0xDE) && cp != 0xD7) return cp + 0x20;
  if (InRange(cp, 0x100, 0x137) || InRange(cp, 0x14A, 0x177)) return cp | 1;
  if (InRange(cp, 0x139, 0x148) || InRange(cp, 0x179, 0x17E)) return (cp & 1) ? cp + 1 : cp;
  if (cp == 0x178) return 0xFF;
  if (InRange(cp, 0x391, 0x3A9) && cp != 0x3A2) return cp + 0x20;
  if (InRange(cp, 0x400, 0x40F)) return cp + 0x50;
  if (InRange(cp, 0x410, 0x42F)) return cp + 0x20;
  return cp;
}

}  // namespace

bool IsSeparator(char32_t cp) {
  if (cp < 0x80) {
    const bool alnum = InRange(cp, 'a', 'z') || InRange(cp, 'A', 'Z') || InRange(cp, '0', '9');
    return !alnum;
  }
  if (InRange(cp, 0x80, 0xBF)) return cp != 0xAA && cp != 0xB5 && cp != 0xBA;
  return cp == 0xD7 || cp == 0xF7 || InRange(cp, 0x2000, 0x2BFF) || InRange(cp, 0x3000, 0x303F) ||
         InRange(cp, 0xFE00, 0xFE0F) || InRange(cp, 0xFE10, 0xFE6F) ||
         InRange(cp, 0xFF00, 0xFF0F) || InRange(cp, 0xFF1A, 0xFF20) ||
         InRange(cp, 0xFF3B, 0xFF40) || InRange(cp, 0xFF5B, 0xFF65) ||
         InRange(cp, 0xE000, 0xF8FF) || InRange(cp, 0xFFF0, 0xFFFF) ||
         InRange(cp, 0x1F000, 0x1FAFF) || cp == kInvalid;
}

std::vector<std::string> Tokenize(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool cut = false;  // the current word reached kSearchTokenBytesMax: drop the rest
  auto flush = [&] {
    cut = false;
    if (!word.empty() && words.size() < kSearchTokensPerTextMax) words.push_back(std::move(word));
    word.clear();
  };
  for (size_t i = 0; i < text.size() && words.size() < kSearchTokensPerTextMax;) {
    size_t len = 1;
    const char32_t cp = Decode(text, i, &len);
    i += len;
    if (IsSeparator(cp)) {
      flush();
      continue;
    }
    if (IsSingleCharWord(cp)) {
      flush();
      Encode(cp, &word);
      flush();
      continue;
    }
    std::string encoded;
    Encode(Lower(cp), &encoded);
    // Cut at a character boundary: the rest of a long word is dropped.
    if (!cut && word.size() + encoded.size() <= kSearchTokenBytesMax) {
      word += encoded;
    } else {
      cut = true;
    }
  }
  flush();
  return words;
}

}  // namespace nebu::search
