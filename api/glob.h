// Glob matching in linear time, for the spec's glob-style patterns (event filters'
// `types` / `not_types`, push rules' `pattern`; Client-Server API appendix "Glob-style
// matching"), and the caps on the pattern lists a request may carry.
//
//   GlobMatch("m.room.*", "m.room.message")                       // true
//   GlobMatch("m.?oom.*", "m.room.message")                       // false: '?' is literal
//   GlobMatch("m.?oom.*", "m.room.message", GlobSyntax::kStarAndQuestion)  // true
//   NEBU_RETURN_IF_ERROR(CheckGlobPatterns(filter.types, kFilterPatternsMax, "types"));
//
// Semantics: '*' matches any run of characters (possibly empty); with
// kStarAndQuestion, '?' matches exactly one character (one UTF-8 sequence: a lead
// byte and its continuation bytes; a stray byte counts as one character). Every other
// byte matches itself (case-sensitive, byte for byte); there is no escape. The whole
// text must match.
//
// Cost: the pattern is split at '*' into segments; the first must match at the start,
// the last at the end, and each middle one is found leftmost after the previous one
// (that greedy choice is optimal). A segment without '?' is found with
// Knuth-Morris-Pratt, so a '*'-only pattern (every event filter) costs
// O(|pattern| + |text|) steps; a segment with '?' is tried at each position, at most
// O(|segment| * |text|). There is no backtracking across segments, so no input is
// exponential. The optional `steps` counter adds the comparisons made (tests assert
// the bound with it).
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"

namespace nebu::api {

// The longest glob pattern a filter or a push rule may hold, in bytes (an event type is
// at most 255 bytes; a longer pattern is never useful).
inline constexpr size_t kGlobPatternBytesMax = 255;

enum class GlobSyntax {
  kStarOnly,          // event filters: only '*' is special
  kStarAndQuestion,   // push rules: '*' and '?'
};

// Whether `text` matches `pattern` as a whole (see above). `steps`, when set, is
// increased by the number of byte comparisons and text positions visited.
[[nodiscard]] bool GlobMatch(std::string_view pattern, std::string_view text,
                             GlobSyntax syntax = GlobSyntax::kStarOnly, size_t* steps = nullptr);

// Whether any of `patterns` matches `text`.
[[nodiscard]] bool GlobMatchAny(const std::vector<std::string>& patterns, std::string_view text,
                                GlobSyntax syntax = GlobSyntax::kStarOnly);

// kInvalidArgument naming `field` when `patterns` holds more than `count_max` patterns
// or one longer than kGlobPatternBytesMax; OK otherwise.
[[nodiscard]] Status CheckGlobPatterns(const std::vector<std::string>& patterns, size_t count_max,
                                       std::string_view field);

}  // namespace nebu::api
