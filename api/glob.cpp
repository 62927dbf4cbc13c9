#include "api/glob.h"

#include <algorithm>

namespace nebu::api {
namespace {

constexpr size_t kNone = std::string_view::npos;

class StepCounter {
 public:
  explicit StepCounter(size_t* steps) : steps_(steps) {}
  void Add() {
    if (steps_ != nullptr) ++*steps_;
  }

 private:
  size_t* steps_;
};

// Bytes of the character at text[at]: a UTF-8 lead byte with its continuation bytes,
// or 1 for a stray byte.
size_t CharBytes(std::string_view text, size_t at) {
  const auto lead = static_cast<unsigned char>(text[at]);
  size_t want = 1;
  if ((lead & 0xE0) == 0xC0) want = 2;
  if ((lead & 0xF0) == 0xE0) want = 3;
  if ((lead & 0xF8) == 0xF0) want = 4;
  if (at + want > text.size()) return 1;
  for (size_t i = 1; i < want; ++i) {
    if ((static_cast<unsigned char>(text[at + i]) & 0xC0) != 0x80) return 1;
  }
  return want;
}

bool HasQuestion(std::string_view segment, bool question) {
  return question && segment.find('?') != kNone;
}

// Where `segment` (no '*') ends when matched at text[at], or kNone.
size_t MatchAt(std::string_view segment, std::string_view text, size_t at, bool question,
               StepCounter& steps) {
  for (char p : segment) {
    steps.Add();
    if (at >= text.size()) return kNone;
    if (question && p == '?') {
      at += CharBytes(text, at);
    } else if (text[at] != p) {
      return kNone;
    } else {
      ++at;
    }
  }
  return at;
}

// The end of the leftmost occurrence of the literal `segment` in text[from..]
// (Knuth-Morris-Pratt: O(|segment| + |text|)), or kNone.
size_t FindLiteral(std::string_view segment, std::string_view text, size_t from,
                   StepCounter& steps) {
  if (segment.empty()) return from;
  std::vector<size_t> fallback(segment.size(), 0);  // longest proper border of segment[0..i]
  for (size_t i = 1, k = 0; i < segment.size(); ++i) {
    while (k > 0 && segment[i] != segment[k]) {
      steps.Add();
      k = fallback[k - 1];
    }
    steps.Add();
    if (segment[i] == segment[k]) ++k;
    fallback[i] = k;
  }
  for (size_t i = from, k = 0; i < text.size(); ++i) {
    while (k > 0 && text[i] != segment[k]) {
      steps.Add();
      k = fallback[k - 1];
    }
    steps.Add();
    if (text[i] == segment[k]) ++k;
    if (k == segment.size()) return i + 1;
  }
  return kNone;
}

// The end of the leftmost match of a segment holding '?' in text[from..], trying each
// character position: O(|segment| * |text|). kNone when there is none.
size_t FindWithQuestion(std::string_view segment, std::string_view text, size_t from,
                        StepCounter& steps) {
  for (size_t at = from; at <= text.size(); at += at < text.size() ? CharBytes(text, at) : 1) {
    steps.Add();
    size_t end = MatchAt(segment, text, at, /*question=*/true, steps);
    if (end != kNone) return end;
  }
  return kNone;
}

// Whether the last segment matches text's end, starting at or after `from`.
bool MatchesEnd(std::string_view segment, std::string_view text, size_t from, bool question,
                StepCounter& steps) {
  if (!HasQuestion(segment, question)) {
    if (text.size() - from < segment.size()) return false;
    return MatchAt(segment, text, text.size() - segment.size(), false, steps) == text.size();
  }
  for (size_t at = from; at <= text.size(); at += at < text.size() ? CharBytes(text, at) : 1) {
    steps.Add();
    if (MatchAt(segment, text, at, /*question=*/true, steps) == text.size()) return true;
  }
  return false;
}

}  // namespace

bool GlobMatch(std::string_view pattern, std::string_view text, GlobSyntax syntax,
               size_t* steps) {
  StepCounter counter(steps);
  const bool question = syntax == GlobSyntax::kStarAndQuestion;
  const size_t first_star = pattern.find('*');
  if (first_star == kNone) return MatchAt(pattern, text, 0, question, counter) == text.size();
  size_t at = MatchAt(pattern.substr(0, first_star), text, 0, question, counter);
  if (at == kNone) return false;
  const size_t last_star = pattern.rfind('*');
  for (size_t begin = first_star + 1; begin <= last_star;) {
    const size_t star = pattern.find('*', begin);
    std::string_view segment = pattern.substr(begin, star - begin);
    begin = star + 1;
    if (segment.empty()) continue;
    at = HasQuestion(segment, question) ? FindWithQuestion(segment, text, at, counter)
                                        : FindLiteral(segment, text, at, counter);
    if (at == kNone) return false;
  }
  return MatchesEnd(pattern.substr(last_star + 1), text, at, question, counter);
}

bool GlobMatchAny(const std::vector<std::string>& patterns, std::string_view text,
                  GlobSyntax syntax) {
  return std::any_of(patterns.begin(), patterns.end(),
                     [&](const std::string& pattern) { return GlobMatch(pattern, text, syntax); });
}

Status CheckGlobPatterns(const std::vector<std::string>& patterns, size_t count_max,
                         std::string_view field) {
  if (patterns.size() > count_max) {
    return Status::InvalidArgument(std::string(field) + " holds more than " +
                                   std::to_string(count_max) + " patterns");
  }
  for (const std::string& pattern : patterns) {
    if (pattern.size() > kGlobPatternBytesMax) {
      return Status::InvalidArgument(std::string(field) + " holds a pattern longer than " +
                                     std::to_string(kGlobPatternBytesMax) + " bytes");
    }
  }
  return Status::Ok();
}

}  // namespace nebu::api
