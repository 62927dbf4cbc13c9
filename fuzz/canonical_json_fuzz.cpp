// Fuzz target for canonical JSON: whatever ParseJson accepts must serialize, and
// the canonical bytes must be a fixed point: they parse again, serialize to the
// same bytes, and IsCanonicalJson says so. Inputs that do not parse are fine; the
// parser must just not crash (ASan/UBSan watch that under libFuzzer).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/event/canonical_json.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using nebu::event::CanonicalJson;
  using nebu::event::IsCanonicalJson;
  using nebu::event::ParseJson;
  std::string_view text(reinterpret_cast<const char*>(data), size);

  // Lenient numbers exercise the double/uint64 paths; serializing may then fail.
  nebu::event::ParseOptions lenient;
  lenient.canonical_numbers = false;
  auto loose = ParseJson(text, lenient);
  if (loose.ok()) (void)CanonicalJson(*loose);

  auto parsed = ParseJson(text);
  if (!parsed.ok()) return 0;
  auto first = CanonicalJson(*parsed);
  NEBU_CHECK(first.ok(), "a parsed value must serialize");
  auto reparsed = ParseJson(*first);
  NEBU_CHECK(reparsed.ok(), "canonical output must parse");
  auto second = CanonicalJson(*reparsed);
  NEBU_CHECK(second.ok() && *second == *first, "canonical output must be a fixed point");
  NEBU_CHECK(IsCanonicalJson(*first), "canonical output must be recognised as canonical");
  NEBU_CHECK(*reparsed == *parsed, "re-parsing canonical output must give the same value");
  return 0;
}
