// CheckpointCodec: the request's MAC, cluster ID and clock checks; the sealed stream
// round-trips, and any flipped byte, reordering, dropped, replayed or extra envelope,
// truncation, or another nonce, secret or cluster ID is refused (never an assertion).
// Property tests (rapidcheck; RC_PARAMS="reproduce=..." replays a failure).
#include "replication/checkpoint_codec.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include "engine/common/crypto.h"

namespace nebu::replication {
namespace {

constexpr std::string_view kSecret = "checkpoint-test-secret-0123456789abcdef";
constexpr std::string_view kCluster = "0123456789abcdef0123456789abcdef";
constexpr std::string_view kOtherSecret = "another-secret-0123456789abcdef0123";
constexpr int64_t kNow = 1'800'000'000'000;

std::string Nonce(char fill = 'n') { return std::string(kCheckpointNonceBytes, fill); }

std::string Digest(const std::string& bytes) {
  Sha256Digest d = Sha256(bytes);
  return std::string(reinterpret_cast<const char*>(d.data()), d.size());
}

// A whole stream for `files` (name -> bytes), chunks of at most `chunk` bytes.
std::vector<core::CheckpointEnvelope> SealStream(
    const std::vector<std::pair<std::string, std::string>>& files, size_t chunk,
    std::string_view secret = kSecret, const std::string& nonce = Nonce(),
    std::string cluster = std::string(kCluster)) {
  CheckpointSealer sealer(secret, nonce, cluster);
  core::CheckpointHeader header;
  header.set_cluster_id(cluster);
  header.set_applied_revision(42);
  for (const auto& [name, bytes] : files) {
    core::CheckpointFile* f = header.add_files();
    f->set_name(name);
    f->set_size(bytes.size());
    f->set_sha256(Digest(bytes));
  }
  std::vector<core::CheckpointEnvelope> out{sealer.SealHeader(header)};
  core::CheckpointTrailer trailer;
  for (size_t i = 0; i < files.size(); ++i) {
    const std::string& bytes = files[i].second;
    for (size_t offset = 0; offset < bytes.size(); offset += chunk) {
      core::CheckpointChunk c;
      c.set_file_index(static_cast<uint32_t>(i));
      c.set_offset(offset);
      c.set_bytes(bytes.substr(offset, chunk));
      out.push_back(sealer.SealChunk(c));
      trailer.set_chunks(trailer.chunks() + 1);
      trailer.set_total_bytes(trailer.total_bytes() + c.bytes().size());
    }
  }
  out.push_back(sealer.SealTrailer(trailer));
  return out;
}

// Opens the stream; the files reassembled, or the first error (Finish included).
Result<std::map<std::string, std::string>> OpenStream(
    const std::vector<core::CheckpointEnvelope>& stream, std::string_view secret = kSecret,
    const std::string& nonce = Nonce(), std::string cluster = std::string(kCluster)) {
  CheckpointOpener opener(secret, nonce, std::move(cluster));
  std::map<std::string, std::string> files;
  for (const core::CheckpointEnvelope& e : stream) {
    NEBU_ASSIGN_OR_RETURN(CheckpointItem item, opener.Open(e));
    if (item.header) {
      for (const auto& f : item.header->files()) files[f.name()];
    }
    if (item.chunk) {
      files[opener.header()->files(static_cast<int>(item.chunk->file_index())).name()] +=
          item.chunk->bytes();
    }
  }
  NEBU_RETURN_IF_ERROR(opener.Finish());
  return files;
}

rc::Gen<std::vector<std::pair<std::string, std::string>>> GenFiles() {
  return rc::gen::map(
      rc::gen::container<std::vector<std::string>>(rc::gen::container<std::string>(
          rc::gen::arbitrary<char>())),
      [](std::vector<std::string> contents) {
        contents.resize(std::min<size_t>(contents.size(), 5));
        std::vector<std::pair<std::string, std::string>> files;
        for (size_t i = 0; i < contents.size(); ++i) {
          files.emplace_back("f" + std::to_string(i) + ".sst", std::move(contents[i]));
        }
        return files;
      });
}

TEST(CheckpointRequestTest, AVerifiedRequestPassesAndEveryDeviationIsRefused) {
  core::CheckpointRequest r = MakeCheckpointRequest(kSecret, kCluster, "node4", Nonce(), kNow);
  EXPECT_TRUE(VerifyCheckpointRequest(kSecret, kCluster, kNow + 1000, r).ok());
  // Another secret: the MAC does not verify.
  EXPECT_EQ(VerifyCheckpointRequest(kOtherSecret, kCluster, kNow, r).code(),
            StatusCode::kUnauthenticated);
  // Another cluster (the MAC is right): forbidden.
  core::CheckpointRequest other =
      MakeCheckpointRequest(kSecret, "ffffffffffffffffffffffffffffffff", "node4", Nonce(), kNow);
  EXPECT_EQ(VerifyCheckpointRequest(kSecret, kCluster, kNow, other).code(), StatusCode::kForbidden);
  // A changed field breaks the MAC.
  core::CheckpointRequest changed = r;
  changed.set_node_id("node5");
  EXPECT_EQ(VerifyCheckpointRequest(kSecret, kCluster, kNow, changed).code(),
            StatusCode::kUnauthenticated);
  changed = r;
  changed.set_timestamp_ms(kNow + 1);
  EXPECT_EQ(VerifyCheckpointRequest(kSecret, kCluster, kNow, changed).code(),
            StatusCode::kUnauthenticated);
  // Stale or future beyond the skew.
  for (int64_t now : {kNow + kCheckpointRequestSkewMs + 1, kNow - kCheckpointRequestSkewMs - 1}) {
    EXPECT_EQ(VerifyCheckpointRequest(kSecret, kCluster, now, r).code(),
              StatusCode::kUnauthenticated);
  }
  // Malformed nonce; no secret on the server.
  changed = MakeCheckpointRequest(kSecret, kCluster, "node4", "short", kNow);
  EXPECT_EQ(VerifyCheckpointRequest(kSecret, kCluster, kNow, changed).code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyCheckpointRequest("", kCluster, kNow, r).code(), StatusCode::kInvalidArgument);
}

TEST(CheckpointCodecTest, EmptyFilesAndAnEmptyCheckpointRoundTrip) {
  auto files = OpenStream(SealStream({{"a", ""}, {"b", "xyz"}, {"c", ""}}, 2));
  ASSERT_TRUE(files.ok()) << files.status().ToString();
  EXPECT_EQ((*files)["b"], "xyz");
  EXPECT_EQ((*files)["c"], "");
  EXPECT_TRUE(OpenStream(SealStream({}, 1)).ok());
}

TEST(CheckpointCodecTest, AFileWhoseBytesDoNotHashToItsHeaderIsRefused) {
  CheckpointSealer sealer(kSecret, Nonce(), std::string(kCluster));
  core::CheckpointHeader header;
  header.set_cluster_id(std::string(kCluster));
  core::CheckpointFile* f = header.add_files();
  f->set_name("x");
  f->set_size(3);
  f->set_sha256(Digest("abc"));
  core::CheckpointChunk c;
  c.set_bytes("abd");
  CheckpointOpener opener(kSecret, Nonce(), std::string(kCluster));
  ASSERT_TRUE(opener.Open(sealer.SealHeader(header)).ok());
  EXPECT_EQ(opener.Open(sealer.SealChunk(c)).status().code(), StatusCode::kCorruption);
}

TEST(CheckpointCodecTest, BadFileNamesAndAnotherClustersHeaderAreRefused) {
  for (std::string name : {"", ".", "..", "../etc", "a/b"}) {
    EXPECT_FALSE(OpenStream(SealStream({{name, "x"}}, 4)).ok()) << name;
  }
  // A header naming another cluster, sealed under our cluster's key.
  CheckpointSealer sealer(kSecret, Nonce(), std::string(kCluster));
  core::CheckpointHeader header;
  header.set_cluster_id("ffffffffffffffffffffffffffffffff");
  CheckpointOpener opener(kSecret, Nonce(), std::string(kCluster));
  EXPECT_EQ(opener.Open(sealer.SealHeader(header)).status().code(), StatusCode::kForbidden);
}

RC_GTEST_PROP(CheckpointCodecProperty, RoundTrips, ()) {
  auto files = *GenFiles();
  const size_t chunk = *rc::gen::inRange<size_t>(1, 64);
  auto opened = OpenStream(SealStream(files, chunk));
  RC_ASSERT(opened.ok());
  RC_ASSERT(opened->size() == files.size());
  for (const auto& [name, bytes] : files) RC_ASSERT(opened->at(name) == bytes);
}

RC_GTEST_PROP(CheckpointCodecProperty, AnyFlippedByteIsRefused, ()) {
  auto stream = SealStream(*GenFiles(), *rc::gen::inRange<size_t>(1, 64));
  const size_t which = *rc::gen::inRange<size_t>(0, stream.size());
  core::CheckpointEnvelope& e = stream[which];
  const int field = *rc::gen::inRange(0, 3);
  if (field == 0) {
    std::string sealed = e.sealed();
    const size_t at = *rc::gen::inRange<size_t>(0, sealed.size());
    sealed[at] = static_cast<char>(sealed[at] ^ (1 << *rc::gen::inRange(0, 8)));
    e.set_sealed(sealed);
  } else if (field == 1) {
    e.set_sequence(e.sequence() ^ (uint64_t{1} << *rc::gen::inRange(0, 64)));
  } else {
    e.set_kind(e.kind() ^ (1u << *rc::gen::inRange(0, 32)));
  }
  RC_ASSERT(!OpenStream(stream).ok());
}

RC_GTEST_PROP(CheckpointCodecProperty, ReorderedDroppedReplayedOrTruncatedStreamsAreRefused, ()) {
  auto stream = SealStream(*GenFiles(), *rc::gen::inRange<size_t>(1, 64));
  const size_t i = *rc::gen::inRange<size_t>(0, stream.size());
  switch (*rc::gen::inRange(0, 4)) {
    case 0: {  // reorder two different envelopes
      RC_PRE(stream.size() > 1);
      size_t j = *rc::gen::inRange<size_t>(0, stream.size());
      RC_PRE(i != j);
      std::swap(stream[i], stream[j]);
      break;
    }
    case 1:  // drop one
      stream.erase(stream.begin() + static_cast<ptrdiff_t>(i));
      break;
    case 2: {  // replay one (right after itself, or at the end)
      const size_t after = *rc::gen::element(i, stream.size() - 1);
      stream.insert(stream.begin() + static_cast<ptrdiff_t>(after) + 1, stream[i]);
      break;
    }
    default:  // truncate
      stream.resize(i);
      break;
  }
  RC_ASSERT(!OpenStream(stream).ok());
}

RC_GTEST_PROP(CheckpointCodecProperty, AnotherNonceSecretOrClusterIsRefused, ()) {
  auto files = *GenFiles();
  auto stream = SealStream(files, 16);
  RC_ASSERT(!OpenStream(stream, kSecret, Nonce('m')).ok());
  RC_ASSERT(!OpenStream(stream, kOtherSecret).ok());
  RC_ASSERT(!OpenStream(stream, kSecret, Nonce(), "fedcba9876543210fedcba9876543210").ok());
  // An envelope of another transfer (another nonce) spliced in at its sequence.
  auto other = SealStream(files, 16, kSecret, Nonce('m'));
  const size_t i = *rc::gen::inRange<size_t>(0, stream.size());
  stream[i] = other[i];
  RC_ASSERT(!OpenStream(stream).ok());
}

}  // namespace
}  // namespace nebu::replication
