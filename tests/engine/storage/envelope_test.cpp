// Goal: an envelope round-trips exactly, and no damaged or ill-formed envelope is
// ever accepted. Method: rapidcheck properties over arbitrary valid records (round
// trip, any byte flipped, any truncation or extension); hand-built FlatBuffers with a
// valid checksum but a broken invariant; a failure prints the seed for RC_PARAMS.
#include "engine/storage/envelope.h"

#include <flatbuffers/flatbuffers.h>
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>

#include "engine/storage/crc32c.h"
#include "engine/storage/envelope_generated.h"
#include "tests/engine/storage/storage_testing.h"

namespace nebu::storage {
namespace {

using testing::ArbitraryRecord;
using testing::MakeRecord;

// Fields for a hand-built envelope; defaults are valid.
struct RawFields {
  uint8_t format_version = kEnvelopeFormatVersion;
  uint64_t room = 1;
  uint64_t sequence = 1;
  const char* event_id = "$e";
  const char* sender = "@a:b";
  const char* type = "m.room.message";
  const char* json = "{}";
  const char* identifier = "NEBE";
};

// Builds an envelope with the schema directly, bypassing EncodeEnvelope's checks,
// and appends a correct checksum: only the field checks can reject it.
std::string BuildRaw(const RawFields& f) {
  flatbuffers::FlatBufferBuilder b;
  const auto json = b.CreateString(f.json);
  const auto event_id = b.CreateString(f.event_id);
  const auto sender = b.CreateString(f.sender);
  const auto type = b.CreateString(f.type);
  fb::EnvelopeBuilder e(b);
  e.add_format_version(f.format_version);
  e.add_room(f.room);
  e.add_sequence(f.sequence);
  e.add_event_id(event_id);
  e.add_sender(sender);
  e.add_type(type);
  e.add_json(json);
  b.Finish(e.Finish(), f.identifier);
  std::string out(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
  const uint32_t crc = Crc32c(out);
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(crc >> (8 * i)));
  return out;
}

StatusCode DecodeCode(std::string_view bytes) { return DecodeEnvelope(bytes).status().code(); }

RC_GTEST_PROP(EnvelopeTest, DecodeInvertsEncode, ()) {
  const EventRecord record = *ArbitraryRecord();
  const auto back = DecodeEnvelope(EncodeEnvelope(record));
  RC_ASSERT(back.ok());
  RC_ASSERT(*back == record);
}

RC_GTEST_PROP(EnvelopeTest, ViewSeesTheEncodedFields, ()) {
  const EventRecord r = *ArbitraryRecord();
  const std::string bytes = EncodeEnvelope(r);
  const auto v = ViewEnvelope(bytes);
  RC_ASSERT(v.ok());
  RC_ASSERT(v->room == r.room && v->sequence == r.sequence);
  RC_ASSERT(v->stream_position == r.stream_position);
  RC_ASSERT(v->origin_server_ts == r.origin_server_ts);
  RC_ASSERT(v->event_id == r.event_id && v->sender == r.sender && v->type == r.type);
  RC_ASSERT(v->json == r.json);
  RC_ASSERT(v->state_key.has_value() == r.state_key.has_value());
  if (r.state_key) RC_ASSERT(*v->state_key == *r.state_key);
  // Zero-copy: the views point into the bytes.
  RC_ASSERT(v->json.data() >= bytes.data() && v->json.data() < bytes.data() + bytes.size());
}

RC_GTEST_PROP(EnvelopeTest, AnyFlippedByteIsCorruption, ()) {
  const std::string good = EncodeEnvelope(*ArbitraryRecord());
  const size_t at = *rc::gen::inRange<size_t>(0, good.size());
  const auto mask = *rc::gen::inRange<int>(1, 256);
  std::string bad = good;
  bad[at] = static_cast<char>(bad[at] ^ mask);
  RC_ASSERT(DecodeCode(bad) == StatusCode::kCorruption);
  RC_ASSERT(ViewEnvelope(bad).status().code() == StatusCode::kCorruption);
}

RC_GTEST_PROP(EnvelopeTest, AnyTruncationOrExtensionIsCorruption, (std::string tail)) {
  const std::string good = EncodeEnvelope(*ArbitraryRecord());
  const size_t length = *rc::gen::inRange<size_t>(0, good.size());
  RC_ASSERT(DecodeCode(good.substr(0, length)) == StatusCode::kCorruption);
  RC_PRE(!tail.empty());
  RC_ASSERT(DecodeCode(good + tail) == StatusCode::kCorruption);
}

RC_GTEST_PROP(EnvelopeTest, ArbitraryBytesAreRejectedWithoutCrashing, (std::string bytes)) {
  RC_ASSERT(DecodeCode(bytes) == StatusCode::kCorruption);
}

TEST(EnvelopeTest, EmptyStateKeyIsDistinctFromAbsent) {
  EventRecord with_empty = MakeRecord(1, 1);
  with_empty.state_key = "";
  EventRecord without = MakeRecord(1, 1);
  without.state_key.reset();
  EXPECT_EQ(DecodeEnvelope(EncodeEnvelope(with_empty))->state_key, std::optional<std::string>(""));
  EXPECT_EQ(DecodeEnvelope(EncodeEnvelope(without))->state_key, std::nullopt);
}

TEST(EnvelopeTest, DecodeAcceptsMisalignedBytes) {
  const EventRecord record = MakeRecord(3, 9, /*state=*/true);
  const std::string buf = "x" + EncodeEnvelope(record);
  const auto back = DecodeEnvelope(std::string_view(buf).substr(1));
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(*back, record);
}

TEST(EnvelopeTest, AHandBuiltValidEnvelopeDecodes) {
  EXPECT_TRUE(DecodeEnvelope(BuildRaw({})).ok());
}

TEST(EnvelopeTest, BrokenInvariantsAreCorruptionEvenWithAValidChecksum) {
  auto expect_corrupt = [](RawFields f, std::string_view what) {
    const auto r = DecodeEnvelope(BuildRaw(f));
    EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << what;
    EXPECT_NE(r.status().message().find("event envelope"), std::string::npos) << what;
  };
  expect_corrupt({.format_version = 0}, "no format version");
  expect_corrupt({.format_version = 2}, "future format version");
  expect_corrupt({.room = 0}, "room 0");
  expect_corrupt({.sequence = 0}, "sequence 0");
  expect_corrupt({.event_id = "e"}, "event id without $");
  expect_corrupt({.event_id = ""}, "empty event id");
  expect_corrupt({.sender = "a:b"}, "sender without @");
  expect_corrupt({.type = ""}, "empty type");
  expect_corrupt({.json = "[]"}, "json not an object");
  expect_corrupt({.json = "{"}, "json cut short");
  expect_corrupt({.identifier = "XXXX"}, "wrong file identifier");
}

TEST(EnvelopeTest, OversizedInputIsCorruption) {
  EXPECT_EQ(DecodeCode(std::string(kEnvelopeBytesMax + 1, '\0')), StatusCode::kCorruption);
}

TEST(EnvelopeTest, ChecksumMismatchIsNamedInTheMessage) {
  std::string bytes = EncodeEnvelope(MakeRecord(1, 1));
  bytes.back() = static_cast<char>(bytes.back() ^ 1);
  EXPECT_NE(DecodeEnvelope(bytes).status().message().find("checksum"), std::string::npos);
}

TEST(EnvelopeDeathTest, EncodingARecordThatBreaksAnInvariantAborts) {
  EventRecord bad = MakeRecord(1, 1);
  bad.sequence = 0;
  EXPECT_DEATH((void)EncodeEnvelope(bad), "sequence is 0");
  bad = MakeRecord(1, 1);
  bad.event_id = "no-dollar";
  EXPECT_DEATH((void)EncodeEnvelope(bad), "event_id");
}

}  // namespace
}  // namespace nebu::storage
