#include "replication/checkpoint_codec.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include <memory>

#include "engine/common/crypto.h"

namespace nebu::replication {

namespace {

constexpr std::string_view kRequestLabel = "nebu-checkpoint-request-v1";
constexpr std::string_view kKeyInfo = "nebu-checkpoint-stream-v1";
constexpr std::string_view kEnvelopeLabel = "nebu-checkpoint-envelope-v1";
constexpr size_t kKeyBytes = 32;
constexpr size_t kIvBytes = 12;
constexpr size_t kTagBytes = 16;
constexpr size_t kSha256Bytes = 32;

void AppendBe64(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(v >> shift));
}

// A 16-bit length, then the bytes (the fields are far shorter; longer ones are cut
// to keep the encoding injective only up to 65,535 bytes, which VerifyCheckpointRequest
// refuses beforehand).
void AppendLen16(std::string* out, std::string_view s) {
  const size_t n = std::min<size_t>(s.size(), 0xFFFF);
  out->push_back(static_cast<char>(n >> 8));
  out->push_back(static_cast<char>(n & 0xFF));
  out->append(s.substr(0, n));
}

std::string RequestMac(std::string_view secret, std::string_view cluster_id,
                       std::string_view node_id, std::string_view nonce, int64_t timestamp_ms) {
  std::string message(kRequestLabel);
  AppendLen16(&message, cluster_id);
  AppendLen16(&message, node_id);
  message.append(nonce);
  AppendBe64(&message, static_cast<uint64_t>(timestamp_ms));
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  NEBU_CHECK(HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
                  reinterpret_cast<const unsigned char*>(message.data()), message.size(), mac,
                  &len) != nullptr,
             "HMAC-SHA256 failed");
  return std::string(reinterpret_cast<char*>(mac), len);
}

std::string DeriveKey(std::string_view secret, std::string_view nonce,
                      std::string_view cluster_id) {
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> owner(
      EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY_CTX* ctx = owner.get();
  const std::string salt = std::string(nonce) + std::string(cluster_id);
  auto bytes = [](std::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); };
  auto size = [](std::string_view s) { return static_cast<int>(s.size()); };
  std::string key(kKeyBytes, '\0');
  size_t len = key.size();
  const bool ok = ctx != nullptr && EVP_PKEY_derive_init(ctx) == 1 &&
                  EVP_PKEY_CTX_set_hkdf_md(ctx, EVP_sha256()) == 1 &&
                  EVP_PKEY_CTX_set1_hkdf_salt(ctx, bytes(salt), size(salt)) == 1 &&
                  EVP_PKEY_CTX_set1_hkdf_key(ctx, bytes(secret), size(secret)) == 1 &&
                  EVP_PKEY_CTX_add1_hkdf_info(ctx, bytes(kKeyInfo), size(kKeyInfo)) == 1 &&
                  EVP_PKEY_derive(ctx, reinterpret_cast<unsigned char*>(key.data()), &len) == 1;
  NEBU_CHECK(ok && len == kKeyBytes, "HKDF-SHA256 failed");
  return key;
}

std::string Iv(uint64_t sequence) {
  std::string iv(4, '\0');
  AppendBe64(&iv, sequence);
  return iv;
}

std::string Aad(std::string_view cluster_id, uint64_t sequence, CheckpointEnvelopeKind kind) {
  std::string aad(kEnvelopeLabel);
  AppendLen16(&aad, cluster_id);
  AppendBe64(&aad, sequence);
  aad.push_back(static_cast<char>(kind));
  return aad;
}

using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, decltype(&EVP_CIPHER_CTX_free)>;

// AES-256-GCM: ciphertext || tag. (`decrypt`: in = ciphertext || tag; nullopt when
// the tag does not verify.)
std::optional<std::string> Gcm(bool decrypt, const std::string& key, const std::string& iv,
                               const std::string& aad, std::string_view in) {
  if (decrypt && in.size() < kTagBytes) return std::nullopt;
  CipherCtx ctx(EVP_CIPHER_CTX_new(), EVP_CIPHER_CTX_free);
  NEBU_CHECK(ctx != nullptr, "EVP_CIPHER_CTX_new failed");
  const auto* k = reinterpret_cast<const unsigned char*>(key.data());
  const auto* v = reinterpret_cast<const unsigned char*>(iv.data());
  NEBU_CHECK(EVP_CipherInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr,
                               decrypt ? 0 : 1) == 1 &&
                 EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kIvBytes, nullptr) == 1 &&
                 EVP_CipherInit_ex(ctx.get(), nullptr, nullptr, k, v, -1) == 1,
             "AES-256-GCM init failed");
  int len = 0;
  NEBU_CHECK(EVP_CipherUpdate(ctx.get(), nullptr, &len,
                              reinterpret_cast<const unsigned char*>(aad.data()),
                              static_cast<int>(aad.size())) == 1,
             "AES-256-GCM aad failed");
  const std::string_view body = decrypt ? in.substr(0, in.size() - kTagBytes) : in;
  std::string out(body.size() + kTagBytes, '\0');
  auto* o = reinterpret_cast<unsigned char*>(out.data());
  NEBU_CHECK(EVP_CipherUpdate(ctx.get(), o, &len,
                              reinterpret_cast<const unsigned char*>(body.data()),
                              static_cast<int>(body.size())) == 1,
             "AES-256-GCM update failed");
  size_t produced = static_cast<size_t>(len);
  if (decrypt) {
    std::string tag(in.substr(body.size()));
    NEBU_CHECK(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) == 1,
               "AES-256-GCM set tag failed");
    if (EVP_CipherFinal_ex(ctx.get(), o + produced, &len) != 1) return std::nullopt;
    out.resize(produced + static_cast<size_t>(len));
    return out;
  }
  NEBU_CHECK(EVP_CipherFinal_ex(ctx.get(), o + produced, &len) == 1, "AES-256-GCM final failed");
  produced += static_cast<size_t>(len);
  NEBU_CHECK(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes, o + produced) == 1,
             "AES-256-GCM get tag failed");
  out.resize(produced + kTagBytes);
  return out;
}

bool PlainFileName(std::string_view name) {
  return !name.empty() && name.size() <= kCheckpointFileNameBytesMax && name != "." &&
         name != ".." && name.find('/') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

}  // namespace

core::CheckpointRequest MakeCheckpointRequest(std::string_view secret,
                                              std::string_view cluster_id,
                                              std::string_view node_id, std::string nonce,
                                              int64_t timestamp_ms) {
  core::CheckpointRequest request;
  request.set_cluster_id(std::string(cluster_id));
  request.set_node_id(std::string(node_id));
  request.set_timestamp_ms(timestamp_ms);
  request.set_mac(RequestMac(secret, cluster_id, node_id, nonce, timestamp_ms));
  request.set_nonce(std::move(nonce));
  return request;
}

Status VerifyCheckpointRequest(std::string_view secret, std::string_view cluster_id,
                               int64_t now_ms, const core::CheckpointRequest& request) {
  if (secret.empty()) return Status::InvalidArgument("NEBU_INTERNAL_SECRET is not set");
  if (request.nonce().size() != kCheckpointNonceBytes || request.cluster_id().size() > 0xFFFF ||
      request.node_id().size() > 0xFFFF) {
    return Status::InvalidArgument("malformed checkpoint request");
  }
  const std::string want = RequestMac(secret, request.cluster_id(), request.node_id(),
                                      request.nonce(), request.timestamp_ms());
  if (request.mac().size() != want.size() ||
      CRYPTO_memcmp(request.mac().data(), want.data(), want.size()) != 0) {
    return Status::Unauthenticated(
        "checkpoint request: bad MAC (is NEBU_INTERNAL_SECRET the same on every node?)");
  }
  const int64_t skew = request.timestamp_ms() - now_ms;
  if (skew > kCheckpointRequestSkewMs || skew < -kCheckpointRequestSkewMs) {
    return Status::Unauthenticated("checkpoint request: timestamp " +
                                   std::to_string(skew) + " ms from this node's clock (at most " +
                                   std::to_string(kCheckpointRequestSkewMs) + ")");
  }
  if (request.cluster_id() != cluster_id) {
    return Status::Forbidden("checkpoint request for cluster " + request.cluster_id() +
                             ", but this node belongs to cluster " + std::string(cluster_id));
  }
  return Status::Ok();
}

CheckpointSealer::CheckpointSealer(std::string_view secret, std::string_view nonce,
                                   std::string cluster_id)
    : key_(DeriveKey(secret, nonce, cluster_id)), cluster_id_(std::move(cluster_id)) {}

core::CheckpointEnvelope CheckpointSealer::Seal(CheckpointEnvelopeKind kind,
                                                const std::string& plain) {
  const uint64_t sequence = next_sequence_++;
  core::CheckpointEnvelope envelope;
  envelope.set_sequence(sequence);
  envelope.set_kind(static_cast<uint32_t>(kind));
  envelope.set_sealed(*Gcm(false, key_, Iv(sequence), Aad(cluster_id_, sequence, kind), plain));
  return envelope;
}

core::CheckpointEnvelope CheckpointSealer::SealHeader(const core::CheckpointHeader& header) {
  return Seal(CheckpointEnvelopeKind::kHeader, header.SerializeAsString());
}

core::CheckpointEnvelope CheckpointSealer::SealChunk(const core::CheckpointChunk& chunk) {
  return Seal(CheckpointEnvelopeKind::kChunk, chunk.SerializeAsString());
}

core::CheckpointEnvelope CheckpointSealer::SealTrailer(const core::CheckpointTrailer& trailer) {
  return Seal(CheckpointEnvelopeKind::kTrailer, trailer.SerializeAsString());
}

struct CheckpointOpener::HashState {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx{EVP_MD_CTX_new(), EVP_MD_CTX_free};
  void Reset() {
    NEBU_CHECK(ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1,
               "SHA-256 init failed");
  }
  void Update(std::string_view bytes) {
    NEBU_CHECK(EVP_DigestUpdate(ctx.get(), bytes.data(), bytes.size()) == 1,
               "SHA-256 update failed");
  }
  std::string Final() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    NEBU_CHECK(EVP_DigestFinal_ex(ctx.get(), out, &len) == 1, "SHA-256 final failed");
    return std::string(reinterpret_cast<char*>(out), len);
  }
};

CheckpointOpener::CheckpointOpener(std::string_view secret, std::string_view nonce,
                                   std::string cluster_id)
    : key_(DeriveKey(secret, nonce, cluster_id)),
      cluster_id_(std::move(cluster_id)),
      hash_(new HashState) {
  hash_->Reset();
}

CheckpointOpener::~CheckpointOpener() { delete hash_; }

Status CheckpointOpener::Fail(std::string message) {
  failed_ = true;
  return Status::Corruption("checkpoint stream: " + message);
}

Result<CheckpointItem> CheckpointOpener::Open(const core::CheckpointEnvelope& envelope) {
  if (failed_) return Status::Corruption("checkpoint stream: refused after an earlier error");
  if (done_) return Fail("an envelope after the trailer");
  if (envelope.sequence() != next_sequence_) {
    return Fail("envelope " + std::to_string(envelope.sequence()) + " where " +
                std::to_string(next_sequence_) + " was due (dropped, reordered or replayed)");
  }
  const uint32_t kind = envelope.kind();
  const bool first = next_sequence_ == 0;
  if (kind < 1 || kind > 3 || first != (kind == 1)) {
    return Fail("unexpected envelope kind " + std::to_string(kind));
  }
  const auto k = static_cast<CheckpointEnvelopeKind>(kind);
  std::optional<std::string> plain =
      Gcm(true, key_, Iv(next_sequence_), Aad(cluster_id_, next_sequence_, k), envelope.sealed());
  if (!plain) {
    return Fail("envelope " + std::to_string(next_sequence_) +
                " does not verify (tampered, or another secret, nonce or cluster)");
  }
  ++next_sequence_;
  CheckpointItem item;
  switch (k) {
    case CheckpointEnvelopeKind::kHeader:
      item.header.emplace();
      if (!item.header->ParseFromString(*plain)) return Fail("header does not parse");
      NEBU_RETURN_IF_ERROR(CheckHeader(*item.header));
      break;
    case CheckpointEnvelopeKind::kChunk:
      item.chunk.emplace();
      if (!item.chunk->ParseFromString(*plain)) return Fail("chunk does not parse");
      NEBU_RETURN_IF_ERROR(CheckChunk(*item.chunk));
      break;
    case CheckpointEnvelopeKind::kTrailer:
      item.trailer.emplace();
      if (!item.trailer->ParseFromString(*plain)) return Fail("trailer does not parse");
      NEBU_RETURN_IF_ERROR(CheckTrailer(*item.trailer));
      break;
  }
  return item;
}

Status CheckpointOpener::CheckHeader(const core::CheckpointHeader& header) {
  if (header.cluster_id() != cluster_id_) {
    failed_ = true;
    return Status::Forbidden("checkpoint of cluster " + header.cluster_id() + ", expected " +
                             cluster_id_);
  }
  if (static_cast<size_t>(header.files_size()) > kCheckpointFilesMax) {
    return Fail("header lists " + std::to_string(header.files_size()) + " files (at most " +
                std::to_string(kCheckpointFilesMax) + ")");
  }
  for (const core::CheckpointFile& f : header.files()) {
    if (!PlainFileName(f.name())) return Fail("header lists a bad file name");
    if (f.sha256().size() != kSha256Bytes) return Fail("header lists a bad SHA-256");
  }
  header_ = header;
  return CompleteFiles();  // leading empty files
}

Status CheckpointOpener::CompleteFiles() {
  while (file_ < static_cast<size_t>(header_->files_size()) &&
         file_offset_ == header_->files(static_cast<int>(file_)).size()) {
    const core::CheckpointFile& f = header_->files(static_cast<int>(file_));
    if (hash_->Final() != f.sha256()) return Fail("file " + f.name() + " fails its SHA-256");
    hash_->Reset();
    ++file_;
    file_offset_ = 0;
  }
  return Status::Ok();
}

Status CheckpointOpener::CheckChunk(const core::CheckpointChunk& chunk) {
  if (chunk.file_index() != file_ || file_ >= static_cast<size_t>(header_->files_size())) {
    return Fail("chunk of file " + std::to_string(chunk.file_index()) + " where file " +
                std::to_string(file_) + " was due");
  }
  const core::CheckpointFile& f = header_->files(static_cast<int>(file_));
  if (chunk.offset() != file_offset_ || chunk.bytes().empty() ||
      chunk.bytes().size() > kCheckpointChunkBytes ||
      chunk.bytes().size() > f.size() - file_offset_) {
    return Fail("chunk at a wrong offset or size in file " + f.name());
  }
  hash_->Update(chunk.bytes());
  file_offset_ += chunk.bytes().size();
  ++chunks_;
  total_bytes_ += chunk.bytes().size();
  return CompleteFiles();
}

Status CheckpointOpener::CheckTrailer(const core::CheckpointTrailer& trailer) {
  if (file_ != static_cast<size_t>(header_->files_size())) {
    return Fail("trailer before every file was sent");
  }
  if (trailer.chunks() != chunks_ || trailer.total_bytes() != total_bytes_) {
    return Fail("trailer counts differ from what came");
  }
  done_ = true;
  return Status::Ok();
}

Status CheckpointOpener::Finish() const {
  if (done_ && !failed_) return Status::Ok();
  return Status::Corruption("checkpoint stream: truncated (no trailer)");
}

}  // namespace nebu::replication
