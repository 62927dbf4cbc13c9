// Canonical JSON (Matrix spec, appendices § Canonical JSON) and strict parsing.
//
// Matrix signs and hashes JSON in one canonical form: object keys sorted by
// Unicode code point (byte order of UTF-8), no insignificant whitespace, UTF-8
// output with only the escapes JSON requires (\" \\ \b \f \n \r \t and \u00XX
// for other control characters, lower-case hex), integers only, in the range
// [-(2^53)+1, (2^53)-1], no exponents or fractions, no duplicate keys.
//
//   NEBU_ASSIGN_OR_RETURN(boost::json::value v, ParseJson(body));
//   NEBU_ASSIGN_OR_RETURN(std::string bytes, CanonicalJson(v));
//
// Thread-safety: pure functions.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/common/status.h"

namespace nebu::event {

inline constexpr int64_t kCanonicalIntMax = (int64_t{1} << 53) - 1;
inline constexpr int64_t kCanonicalIntMin = -kCanonicalIntMax;
inline constexpr size_t kJsonDepthMax = 64;               // nesting of arrays/objects
inline constexpr size_t kJsonInputBytesMax = 1 << 20;     // larger input is refused unparsed

struct ParseOptions {
  // Reject floats and integers outside the canonical range (kBadJson). Events and
  // anything hashed need this; some request bodies (e.g. filters) may relax it.
  bool canonical_numbers = true;
  size_t bytes_max = kJsonInputBytesMax;
};

// Parses text as one JSON value. Errors:
//   kNotJson   not JSON: syntax error, invalid UTF-8, trailing bytes, too deep;
//   kBadJson   JSON, but duplicate object keys, or (canonical_numbers) a float or an
//              integer outside the canonical range;
//   kTooLarge  more than bytes_max bytes.
Result<boost::json::value> ParseJson(std::string_view text, const ParseOptions& options = {});

// Serializes v in canonical form. kBadJson when v holds a double, an integer out of
// range, or a string that is not valid UTF-8.
Result<std::string> CanonicalJson(const boost::json::value& v);

// Appends the canonical form to out; same errors as CanonicalJson.
Status AppendCanonicalJson(const boost::json::value& v, std::string* out);

// True when text parses and is byte-for-byte its own canonical form.
bool IsCanonicalJson(std::string_view text);

}  // namespace nebu::event
