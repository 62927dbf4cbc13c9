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

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "engine/common/status.h"

namespace nebu::event {

inline constexpr int64_t kCanonicalIntMax = (int64_t{1} << 53) - 1;
inline constexpr int64_t kCanonicalIntMin = -kCanonicalIntMax;
inline constexpr size_t kJsonDepthMax = 64;            // nesting of arrays/objects
inline constexpr size_t kJsonInputBytesMax = 1 << 20;  // larger input is refused unparsed

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

// Appends the canonical form to out; same errors as CanonicalJson. On error out is
// left as it was.
Status AppendCanonicalJson(const boost::json::value& v, std::string* out);

// The same for an object held as such (no copy into a value).
Result<std::string> CanonicalJson(const boost::json::object& o);
Status AppendCanonicalJson(const boost::json::object& o, std::string* out);

// True when text parses and is byte-for-byte its own canonical form.
bool IsCanonicalJson(std::string_view text);

// Number parsing with canonical_numbers: a number token is accepted when its exact
// decimal value is an integer in [kCanonicalIntMin, kCanonicalIntMax], however it is
// spelled — `-0`, `1.0`, `1e3`, `10E-1` parse as the integers 0, 1, 1000, 1 (the
// spec's own example turns `{"a":-0,"b":1e10}` into `{"a":0,"b":10000000000}`).
// Anything else (`1.5`, `1e-1`, `9007199254740992`) is kBadJson. The decision is made
// on the decimal text, never on a rounded double.

// Serializing an object while leaving members out, without copying it (redaction
// for event IDs and hashes). A filter keeps the members whose key has a rule, or,
// with keep_all, every member whose key is not listed in except. A rule with a
// nested filter applies it to the member's value when that value is an object and
// drops the member otherwise (so redaction never keeps a malformed sub-object).
//
//   static constexpr KeyFilter::Rule kRules[] = {{"a"}, {"b"}};
//   NEBU_RETURN_IF_ERROR(AppendCanonicalJsonFiltered(obj, KeyFilter{kRules}, &out));
struct KeyFilter {
  struct Rule {
    std::string_view key;
    const KeyFilter* nested = nullptr;  // nullptr: keep the whole value
  };
  std::span<const Rule> rules = {};
  bool keep_all = false;
  std::span<const std::string_view> except = {};  // with keep_all: keys left out
};

// Appends the canonical form of o filtered by filter; same errors as CanonicalJson.
Status AppendCanonicalJsonFiltered(const boost::json::object& o, const KeyFilter& filter,
                                   std::string* out);
// Builds the filtered copy (what AppendCanonicalJsonFiltered serializes).
boost::json::object FilterObject(const boost::json::object& o, const KeyFilter& filter);

}  // namespace nebu::event
