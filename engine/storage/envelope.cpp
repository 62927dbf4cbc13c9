#include "engine/storage/envelope.h"

#include <flatbuffers/flatbuffers.h>

#include <cstring>

#include "engine/storage/crc32c.h"
#include "engine/storage/envelope_generated.h"

namespace nebu::storage {
namespace {

constexpr size_t kFlatBufferAlignBytes = 8;
constexpr size_t kEnvelopeOverheadBytes = 128;  // table, vtable, string headers
// Root offset + identifier + the smallest table; anything shorter is damage.
constexpr size_t kFlatBufferBytesMin = 16;
constexpr flatbuffers::uoffset_t kVerifierDepthMax = 2;
constexpr flatbuffers::uoffset_t kVerifierTablesMax = 1;

std::string_view ToView(const flatbuffers::String* s) {
  return s == nullptr ? std::string_view() : std::string_view(s->c_str(), s->size());
}

// The invariants shared by the writer (a bug if broken) and the reader (corruption).
// Returns nullptr when they hold, else what is wrong.
const char* BrokenInvariant(const EventView& e) {
  if (e.room < 1) return "room number is 0";
  if (e.sequence < 1) return "sequence is 0";
  if (e.event_id.empty() || e.event_id.front() != '$') return "event_id does not start with '$'";
  if (e.sender.empty() || e.sender.front() != '@') return "sender does not start with '@'";
  if (e.type.empty()) return "type is empty";
  if (e.json.size() < 2 || e.json.front() != '{' || e.json.back() != '}') {
    return "json is not an object";
  }
  return nullptr;
}

EventView ViewOf(const EventRecord& r) {
  EventView v{
      r.room,       r.sequence, r.stream_position, r.origin_server_ts, r.event_id, r.sender, r.type,
      std::nullopt, r.json};
  if (r.state_key) v.state_key = *r.state_key;
  return v;
}

uint32_t LoadLe32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return uint32_t{u[0]} | (uint32_t{u[1]} << 8) | (uint32_t{u[2]} << 16) | (uint32_t{u[3]} << 24);
}

Status Corrupt(std::string_view what) {
  return Status::Corruption("event envelope: " + std::string(what));
}

}  // namespace

std::string EncodeEnvelope(const EventRecord& record) {
  const char* broken = BrokenInvariant(ViewOf(record));
  NEBU_CHECK(broken == nullptr, broken == nullptr ? "" : broken);

  flatbuffers::FlatBufferBuilder b(record.json.size() + record.event_id.size() +
                                   record.sender.size() + record.type.size() +
                                   kEnvelopeOverheadBytes);
  const auto json = b.CreateString(record.json);
  const auto event_id = b.CreateString(record.event_id);
  const auto sender = b.CreateString(record.sender);
  const auto type = b.CreateString(record.type);
  flatbuffers::Offset<flatbuffers::String> state_key;
  if (record.state_key) state_key = b.CreateString(*record.state_key);

  fb::EnvelopeBuilder e(b);
  e.add_format_version(kEnvelopeFormatVersion);
  e.add_room(record.room);
  e.add_sequence(record.sequence);
  e.add_stream_position(record.stream_position);
  e.add_origin_server_ts(record.origin_server_ts);
  e.add_event_id(event_id);
  e.add_sender(sender);
  e.add_type(type);
  if (record.state_key) e.add_state_key(state_key);
  e.add_json(json);
  fb::FinishEnvelopeBuffer(b, e.Finish());

  const std::string_view buffer(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
  const uint32_t crc = Crc32c(buffer);
  std::string out;
  out.reserve(buffer.size() + kEnvelopeChecksumBytes);
  out.append(buffer);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(crc >> (8 * i)));
  // Unreachable from input: the only writer (RoomLog::Append, from
  // RoomApplier::AppendEvent) runs after event::ValidatePdu, which bounds the event's
  // canonical JSON at event::kEventBytesMax (64 KiB) and its sender and type at 255
  // bytes, so an envelope stays far below kEnvelopeBytesMax (1 MiB).
  NEBU_CHECK(out.size() <= kEnvelopeBytesMax, "event envelope over kEnvelopeBytesMax");
  return out;
}

Result<EventView> ViewEnvelope(std::string_view bytes) {
  if (bytes.size() > kEnvelopeBytesMax) return Corrupt("larger than kEnvelopeBytesMax");
  if (bytes.size() < kFlatBufferBytesMin + kEnvelopeChecksumBytes) return Corrupt("truncated");
  const std::string_view buffer = bytes.substr(0, bytes.size() - kEnvelopeChecksumBytes);
  const uint32_t stored = LoadLe32(bytes.data() + buffer.size());
  if (Crc32c(buffer) != stored) return Corrupt("checksum mismatch");

  const auto* data = reinterpret_cast<const uint8_t*>(buffer.data());
  flatbuffers::Verifier verifier(data, buffer.size(), kVerifierDepthMax, kVerifierTablesMax);
  if (!fb::VerifyEnvelopeBuffer(verifier)) return Corrupt("FlatBuffers verification failed");
  const fb::Envelope* e = fb::GetEnvelope(data);
  if (e->format_version() != kEnvelopeFormatVersion) {
    return Corrupt("unknown format version " + std::to_string(e->format_version()));
  }

  EventView v{e->room(),
              e->sequence(),
              e->stream_position(),
              e->origin_server_ts(),
              ToView(e->event_id()),
              ToView(e->sender()),
              ToView(e->type()),
              std::nullopt,
              ToView(e->json())};
  if (e->state_key() != nullptr) v.state_key = ToView(e->state_key());
  if (const char* broken = BrokenInvariant(v)) return Corrupt(broken);
  return v;
}

Result<EventRecord> DecodeEnvelope(std::string_view bytes) {
  std::string scratch;
  NEBU_ASSIGN_OR_RETURN(const EventView v, ViewEnvelope(AlignedEnvelopeBytes(bytes, &scratch)));
  EventRecord r{v.room,
                v.sequence,
                v.stream_position,
                v.origin_server_ts,
                std::string(v.event_id),
                std::string(v.sender),
                std::string(v.type),
                std::nullopt,
                std::string(v.json)};
  if (v.state_key) r.state_key = std::string(*v.state_key);
  return r;
}

std::string_view AlignedEnvelopeBytes(std::string_view bytes, std::string* scratch) {
  if (reinterpret_cast<uintptr_t>(bytes.data()) % kFlatBufferAlignBytes == 0) return bytes;
  scratch->assign(bytes);
  // operator new returns memory aligned for any scalar; the inline (SSO) buffer sits
  // 16 bytes into an 8-aligned std::string.
  NEBU_CHECK(reinterpret_cast<uintptr_t>(scratch->data()) % kFlatBufferAlignBytes == 0,
             "std::string storage is not 8-byte aligned");
  return *scratch;
}

}  // namespace nebu::storage
