// CheckpointCodec: the authentication and the sealing of a checkpoint copy between
// two nodes of one cluster (CoreService.GetCheckpoint, proto/core/core.proto), keyed by
// the pre-shared NEBU_INTERNAL_SECRET. No TLS is needed on NEBU_GRPC_ADDR: everything
// that matters is sealed here.
//
// The request: cluster ID, the joiner's node ID, a random kCheckpointNonceBytes nonce
// and the joiner's Unix-ms clock, authenticated by
//   mac = HMAC-SHA256(secret, "nebu-checkpoint-request-v1" || len16(cluster_id) ||
//                     cluster_id || len16(node_id) || node_id || nonce || be64(timestamp))
// VerifyCheckpointRequest checks the MAC in constant time, the cluster ID and the
// clock skew (kCheckpointRequestSkewMs).
//
// The stream: envelopes {sequence, kind, sealed}, sealed = AES-256-GCM(key, iv, aad,
// serialized message) || tag, where
//   key = HKDF-SHA256(ikm = secret, salt = nonce || cluster_id,
//                     info = "nebu-checkpoint-stream-v1"), 32 bytes (new per request)
//   iv  = 4 zero bytes || be64(sequence)          (unique per key)
//   aad = "nebu-checkpoint-envelope-v1" || len16(cluster_id) || cluster_id ||
//         be64(sequence) || kind byte
// Order: sequence 0 is the header (cluster ID, applied revision, file list with sizes
// and SHA-256), then the chunks (kind 2) of file 0, file 1, ... each at the offset
// where the previous one ended, at most kCheckpointChunkBytes each, then the trailer
// (chunk count, byte count). CheckpointOpener checks all of it: a changed, reordered,
// dropped, replayed (also from another transfer: another key) or extra envelope, a
// truncated stream (Finish before the trailer), a file whose bytes do not hash to its
// header's SHA-256, and any other nonce, secret or cluster ID are kCorruption (or
// kForbidden for the cluster ID in the header); never an assertion.
//
//   CheckpointSealer sealer(secret, nonce, cluster_id);
//   writer->Write(sealer.SealHeader(header)); ... sealer.SealChunk(chunk); ...
//   CheckpointOpener opener(secret, nonce, cluster_id);
//   NEBU_ASSIGN_OR_RETURN(CheckpointItem item, opener.Open(envelope));
//   NEBU_RETURN_IF_ERROR(opener.Finish());   // the trailer came, every file complete
//
// Thread-safety: VerifyCheckpointRequest and the free functions are safe from any
// thread; a sealer or opener belongs to one thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "proto/core/core.pb.h"

namespace nebu::replication {

// The request's nonce: random bytes, also the salt of the stream's key.
inline constexpr size_t kCheckpointNonceBytes = 16;
// A request whose timestamp is further than this from the server's clock is refused.
inline constexpr int64_t kCheckpointRequestSkewMs = 60'000;
// File bytes per chunk envelope (a gRPC message stays under its 4 MiB default).
inline constexpr size_t kCheckpointChunkBytes = 1 << 20;
// Files one checkpoint may list; a header over it is refused (kCorruption).
inline constexpr size_t kCheckpointFilesMax = 100'000;
// Bytes of a file name in the header (plain names only: no '/', not "." or "..").
inline constexpr size_t kCheckpointFileNameBytesMax = 255;

enum class CheckpointEnvelopeKind : uint32_t { kHeader = 1, kChunk = 2, kTrailer = 3 };

// The request, MAC filled in.
core::CheckpointRequest MakeCheckpointRequest(std::string_view secret,
                                              std::string_view cluster_id,
                                              std::string_view node_id, std::string nonce,
                                              int64_t timestamp_ms);
// kInvalidArgument (no secret, malformed nonce), kUnauthenticated (wrong MAC, a
// timestamp further than kCheckpointRequestSkewMs from now_ms), kForbidden
// (another cluster's ID; checked after the MAC).
Status VerifyCheckpointRequest(std::string_view secret, std::string_view cluster_id,
                               int64_t now_ms, const core::CheckpointRequest& request);

class CheckpointSealer {
 public:
  CheckpointSealer(std::string_view secret, std::string_view nonce, std::string cluster_id);
  core::CheckpointEnvelope SealHeader(const core::CheckpointHeader& header);
  core::CheckpointEnvelope SealChunk(const core::CheckpointChunk& chunk);
  core::CheckpointEnvelope SealTrailer(const core::CheckpointTrailer& trailer);

 private:
  core::CheckpointEnvelope Seal(CheckpointEnvelopeKind kind, const std::string& plain);
  std::string key_;
  std::string cluster_id_;
  uint64_t next_sequence_ = 0;
};

// One opened envelope: exactly one of the three is set.
struct CheckpointItem {
  std::optional<core::CheckpointHeader> header;
  std::optional<core::CheckpointChunk> chunk;
  std::optional<core::CheckpointTrailer> trailer;
};

class CheckpointOpener {
 public:
  CheckpointOpener(std::string_view secret, std::string_view nonce, std::string cluster_id);
  ~CheckpointOpener();
  CheckpointOpener(const CheckpointOpener&) = delete;
  CheckpointOpener& operator=(const CheckpointOpener&) = delete;

  // Verifies and decodes the next envelope (see the order above). After an error the
  // opener refuses everything.
  Result<CheckpointItem> Open(const core::CheckpointEnvelope& envelope);
  // OK once the trailer was opened (every file complete and verified); kCorruption
  // "truncated" otherwise.
  Status Finish() const;
  // The header, once opened.
  const core::CheckpointHeader* header() const { return header_ ? &*header_ : nullptr; }

 private:
  Status CheckHeader(const core::CheckpointHeader& header);
  Status CheckChunk(const core::CheckpointChunk& chunk);
  Status CheckTrailer(const core::CheckpointTrailer& trailer);
  // Completes file_ (and any empty files after it) when all its bytes came.
  Status CompleteFiles();
  Status Fail(std::string message);

  std::string key_;
  std::string cluster_id_;
  uint64_t next_sequence_ = 0;
  bool failed_ = false;
  bool done_ = false;
  std::optional<core::CheckpointHeader> header_;
  size_t file_ = 0;          // the file whose bytes come next
  uint64_t file_offset_ = 0;  // bytes of it received
  uint64_t chunks_ = 0, total_bytes_ = 0;
  struct HashState;
  HashState* hash_ = nullptr;  // SHA-256 of file_ so far
};

}  // namespace nebu::replication
