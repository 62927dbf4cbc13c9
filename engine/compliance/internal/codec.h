// Internal to engine/compliance: the Cf::kAdmin keys of holds and purges and the JSON of
// their records (compliance.h describes the layout). Not a public API.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/common/status.h"
#include "engine/compliance/compliance.h"

namespace nebu::compliance::internal {

inline constexpr std::string_view kPurgeNextKey = "pn";

std::string HoldKey(std::string_view hold_id);                           // "hr" id
std::string HoldTargetKey(std::string_view target, std::string_view hold_id);  // "ht" t 0 id
std::string HoldTargetPrefix(std::string_view target);                   // "ht" t 0
std::string PurgeKey(std::string_view purge_id);                         // "pj" id
std::string PurgedEventKey(std::string_view event_id);                   // "pe" id
std::string PurgeQueueKey(uint64_t number);                              // "pq" u64
std::string PurgeQueuePrefix();                                          // "pq"

// Records: canonical JSON. Decoding a stored record reports kCorruption.
Result<std::string> EncodeHold(const Hold& hold);
Result<Hold> DecodeHold(std::string_view bytes);
Result<std::string> EncodeProgress(const PurgeProgress& progress);
Result<PurgeProgress> DecodeProgress(std::string_view bytes);
Result<PurgedEvent> DecodePurged(std::string_view bytes);  // number is left 0

}  // namespace nebu::compliance::internal
