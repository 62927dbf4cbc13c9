// Fuzz target for the event envelope: DecodeEnvelope and ViewEnvelope must never
// crash on arbitrary bytes, must agree with each other, and whatever they accept
// must round-trip: encoding the decoded record and decoding again gives the same
// record. Each input is tried twice: as given, and with its last 4 bytes replaced by
// the correct CRC-32C of the rest, so mutations get past the checksum and reach the
// FlatBuffers verifier and the field checks.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/storage/crc32c.h"
#include "engine/storage/envelope.h"

namespace {

using nebu::storage::AlignedEnvelopeBytes;
using nebu::storage::DecodeEnvelope;
using nebu::storage::EncodeEnvelope;
using nebu::storage::EventRecord;
using nebu::storage::kEnvelopeChecksumBytes;
using nebu::storage::ViewEnvelope;

bool SameFields(const nebu::storage::EventView& v, const EventRecord& r) {
  return v.room == r.room && v.sequence == r.sequence && v.stream_position == r.stream_position &&
         v.origin_server_ts == r.origin_server_ts && v.event_id == r.event_id &&
         v.sender == r.sender && v.type == r.type && v.json == r.json &&
         v.state_key.has_value() == r.state_key.has_value() &&
         (!v.state_key || *v.state_key == *r.state_key);
}

void Check(std::string_view bytes) {
  std::string scratch;
  const auto view = ViewEnvelope(AlignedEnvelopeBytes(bytes, &scratch));
  const auto decoded = DecodeEnvelope(bytes);
  NEBU_CHECK(view.ok() == decoded.ok(), "ViewEnvelope and DecodeEnvelope disagree");
  if (!decoded.ok()) {
    NEBU_CHECK(decoded.status().code() == nebu::StatusCode::kCorruption,
               "rejections must be kCorruption");
    return;
  }
  NEBU_CHECK(SameFields(*view, *decoded), "view and record differ");
  const auto again = DecodeEnvelope(EncodeEnvelope(*decoded));
  NEBU_CHECK(again.ok(), "a re-encoded record must decode");
  NEBU_CHECK(*again == *decoded, "re-encoding changed the record");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  Check(bytes);
  if (size > kEnvelopeChecksumBytes) {
    std::string fixed(bytes.substr(0, size - kEnvelopeChecksumBytes));
    const uint32_t crc = nebu::storage::Crc32c(fixed);
    for (size_t i = 0; i < kEnvelopeChecksumBytes; ++i) {
      fixed.push_back(static_cast<char>(crc >> (8 * i)));
    }
    Check(fixed);
  }
  return 0;
}
