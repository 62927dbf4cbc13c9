// The FlatBuffers envelope of one room event in the log (engine/storage/envelope.fbs).
//
// The envelope carries the fields the engine needs without parsing JSON (sequence,
// stream position, timestamps, event ID, sender, type, state_key) and the event's
// canonical JSON, plus a CRC-32C over all of it. Bytes read from disk, a backup or
// a peer are untrusted: DecodeEnvelope runs the FlatBuffers verifier, checks the
// checksum and the field invariants, and returns kCorruption on any mismatch.
//
//   std::string bytes = EncodeEnvelope(record);
//   NEBU_ASSIGN_OR_RETURN(EventRecord back, DecodeEnvelope(bytes));
//
// Bytes: [FlatBuffers buffer, identifier "NEBE"][CRC-32C of that buffer, u32
// little-endian]. The checksum covers every byte of the buffer (vtables, padding
// included), so any flipped byte or truncation is detected before the verifier runs.
// Invariants checked on encode (NEBU_CHECK: writing one is a bug) and decode
// (kCorruption): format_version == kEnvelopeFormatVersion, room >= 1, sequence >= 1,
// event_id starts with '$', sender starts with '@', type is not empty, json is an
// object ('{' ... '}'), total size <= kEnvelopeBytesMax.
//
// Thread-safety: pure functions.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "engine/common/status.h"
#include "engine/storage/keys.h"

namespace nebu::storage {

struct EventRecord {
  RoomNumber room = 0;
  Sequence sequence = 0;
  StreamPosition stream_position = 0;
  int64_t origin_server_ts = 0;
  std::string event_id;
  std::string sender;
  std::string type;
  std::optional<std::string> state_key;  // present exactly for state events
  std::string json;                      // canonical JSON of the whole event
  bool operator==(const EventRecord&) const = default;
};

// A zero-copy view into verified envelope bytes; valid while the bytes live.
struct EventView {
  RoomNumber room = 0;
  Sequence sequence = 0;
  StreamPosition stream_position = 0;
  int64_t origin_server_ts = 0;
  std::string_view event_id;
  std::string_view sender;
  std::string_view type;
  std::optional<std::string_view> state_key;
  std::string_view json;
};

inline constexpr uint8_t kEnvelopeFormatVersion = 1;
inline constexpr size_t kEnvelopeChecksumBytes = 4;
inline constexpr size_t kEnvelopeBytesMax = 1u << 20;  // Matrix events are <= 64 KiB

// Aborts (NEBU_CHECK) if the record breaks an invariant above: callers check events
// before they are written.
std::string EncodeEnvelope(const EventRecord& record);
// Verifies and copies out. kCorruption when the bytes fail verification. Any
// alignment of bytes.data() is accepted.
Result<EventRecord> DecodeEnvelope(std::string_view bytes);
// Verifies and views. kCorruption when the bytes fail verification. FlatBuffers reads
// scalars in place, so bytes.data() should be 8-byte aligned (misaligned works on
// x86-64 but is undefined behaviour that -fsanitize=alignment reports); see
// AlignedEnvelopeBytes.
Result<EventView> ViewEnvelope(std::string_view bytes);

// Returns bytes itself when 8-byte aligned, else a copy in *scratch (which must
// outlive the use of the result). For views of values from RocksDB.
std::string_view AlignedEnvelopeBytes(std::string_view bytes, std::string* scratch);

}  // namespace nebu::storage
