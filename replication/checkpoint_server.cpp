#include "replication/checkpoint_server.h"

#include <grpcpp/grpcpp.h>
#include <openssl/evp.h>
#include <rocksdb/utilities/checkpoint.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>

#include "engine/common/crypto.h"
#include "proto/core/core.grpc.pb.h"
#include "engine/common/clock.h"
#include "replication/checkpoint_codec.h"

namespace nebu::replication {

namespace fs = std::filesystem;

namespace {

grpc::Status ToGrpc(const Status& s) {
  switch (s.code()) {
    case StatusCode::kUnauthenticated:
      return {grpc::StatusCode::UNAUTHENTICATED, s.message()};
    case StatusCode::kForbidden:
      return {grpc::StatusCode::PERMISSION_DENIED, s.message()};
    case StatusCode::kInvalidArgument:
      return {grpc::StatusCode::INVALID_ARGUMENT, s.message()};
    case StatusCode::kResourceExhausted:
      return {grpc::StatusCode::RESOURCE_EXHAUSTED, s.message()};
    case StatusCode::kUnavailable:
      return {grpc::StatusCode::UNAVAILABLE, s.message()};
    default:
      return {grpc::StatusCode::INTERNAL, s.message()};
  }
}

// SHA-256 of a file, read in chunks.
Result<std::string> HashFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IoError("cannot read " + path.string());
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  NEBU_CHECK(ctx && EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) == 1, "SHA-256 init");
  std::string buffer(kCheckpointChunkBytes, '\0');
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    NEBU_CHECK(EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(in.gcount())) == 1,
               "SHA-256 update");
  }
  if (in.bad()) return Status::IoError("cannot read " + path.string());
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  NEBU_CHECK(EVP_DigestFinal_ex(ctx.get(), out, &len) == 1, "SHA-256 final");
  return std::string(reinterpret_cast<char*>(out), len);
}

// Removes a directory tree on scope exit.
struct RemoveOnExit {
  fs::path path;
  ~RemoveOnExit() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

}  // namespace

class CheckpointServer::Service final : public core::CoreService::Service {
 public:
  explicit Service(CheckpointServerOptions options) : options_(std::move(options)) {}

  grpc::Status GetCheckpoint(grpc::ServerContext* context, const core::CheckpointRequest* request,
                             grpc::ServerWriter<core::CheckpointEnvelope>* writer) override {
    if (options_.secret.empty()) {
      return {grpc::StatusCode::FAILED_PRECONDITION,
              "NEBU_INTERNAL_SECRET is not set on this node"};
    }
    Status verified =
        VerifyCheckpointRequest(options_.secret, options_.cluster_id,
                                SystemClock::Get().NowUnixMs(), *request);
    if (verified.ok() && !RememberNonce(request->nonce())) {
      verified = Status::Unauthenticated("checkpoint request: nonce seen before (a replay)");
    }
    if (!verified.ok()) {
      spdlog::warn("checkpoint: refused a request from {}: {}", context->peer(),
                   verified.message());
      return ToGrpc(verified);
    }
    if (active_.fetch_add(1) >= kCheckpointTransfersMax) {
      active_.fetch_sub(1);
      return {grpc::StatusCode::RESOURCE_EXHAUSTED,
              "a checkpoint transfer is already running on this node; try another or later"};
    }
    const auto started = std::chrono::steady_clock::now();
    Status s = Transfer(context, *request, writer);
    active_.fetch_sub(1);
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::steady_clock::now() - started)
                        .count();
    if (!s.ok()) {
      spdlog::warn("checkpoint: transfer to node {} failed after {} ms: {}", request->node_id(),
                   ms, s.message());
      return ToGrpc(s);
    }
    spdlog::info("checkpoint: sent to node {} in {} ms", request->node_id(), ms);
    return grpc::Status::OK;
  }

 private:
  // False when the nonce was seen (within the remembered window).
  bool RememberNonce(const std::string& nonce) {
    std::lock_guard lock(mu_);
    const int64_t now = SystemClock::Get().NowUnixMs();
    while (!nonce_order_.empty() &&
           (nonce_order_.size() >= kCheckpointNoncesMax ||
            nonce_order_.front().first < now - 2 * kCheckpointRequestSkewMs)) {
      nonces_.erase(nonce_order_.front().second);
      nonce_order_.pop_front();
    }
    if (!nonces_.emplace(nonce, now).second) return false;
    nonce_order_.emplace_back(now, nonce);
    return true;
  }

  Status Transfer(grpc::ServerContext* context, const core::CheckpointRequest& request,
                  grpc::ServerWriter<core::CheckpointEnvelope>* writer) {
    const fs::path dir =
        fs::path(options_.data_dir) / "checkpoints" / HexEncode(request.nonce());
    RemoveOnExit cleanup{dir};
    const int64_t applied = options_.applied_revision ? options_.applied_revision() : 0;
    rocksdb::Checkpoint* raw = nullptr;
    rocksdb::Status rs = rocksdb::Checkpoint::Create(options_.db, &raw);
    std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
    if (rs.ok()) rs = checkpoint->CreateCheckpoint(dir.string());
    if (!rs.ok()) return Status::IoError("cannot create a checkpoint: " + rs.ToString());
    core::CheckpointHeader header;
    header.set_cluster_id(options_.cluster_id);
    header.set_applied_revision(applied);
    std::vector<fs::path> paths;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (it->is_regular_file(ec)) paths.push_back(it->path());
    }
    if (ec) return Status::IoError("cannot list " + dir.string() + ": " + ec.message());
    std::sort(paths.begin(), paths.end());
    for (const fs::path& p : paths) {
      core::CheckpointFile* f = header.add_files();
      f->set_name(p.filename().string());
      const uintmax_t size = fs::file_size(p, ec);
      if (ec) return Status::IoError("cannot stat " + p.string() + ": " + ec.message());
      f->set_size(size);
      NEBU_ASSIGN_OR_RETURN(std::string sha, HashFile(p));
      f->set_sha256(std::move(sha));
    }
    CheckpointSealer sealer(options_.secret, request.nonce(), options_.cluster_id);
    auto send = [&](const core::CheckpointEnvelope& envelope) {
      if (context->IsCancelled() || !writer->Write(envelope)) {
        return Status::Unavailable("the client went away");
      }
      return Status::Ok();
    };
    NEBU_RETURN_IF_ERROR(send(sealer.SealHeader(header)));
    core::CheckpointTrailer trailer;
    std::string buffer(kCheckpointChunkBytes, '\0');
    for (size_t i = 0; i < paths.size(); ++i) {
      std::ifstream in(paths[i], std::ios::binary);
      if (!in) return Status::IoError("cannot read " + paths[i].string());
      uint64_t offset = 0;
      const uint64_t size = header.files(static_cast<int>(i)).size();
      while (offset < size) {
        const size_t n = static_cast<size_t>(std::min<uint64_t>(size - offset, buffer.size()));
        if (!in.read(buffer.data(), static_cast<std::streamsize>(n))) {
          return Status::IoError("short read of " + paths[i].string());
        }
        core::CheckpointChunk chunk;
        chunk.set_file_index(static_cast<uint32_t>(i));
        chunk.set_offset(offset);
        chunk.set_bytes(buffer.data(), n);
        NEBU_RETURN_IF_ERROR(send(sealer.SealChunk(chunk)));
        offset += n;
        trailer.set_chunks(trailer.chunks() + 1);
        trailer.set_total_bytes(trailer.total_bytes() + n);
      }
    }
    return send(sealer.SealTrailer(trailer));
  }

  const CheckpointServerOptions options_;
  std::atomic<int> active_{0};
  std::mutex mu_;
  std::map<std::string, int64_t> nonces_;                // guarded by mu_
  std::deque<std::pair<int64_t, std::string>> nonce_order_;  // guarded by mu_
};

Result<std::unique_ptr<CheckpointServer>> CheckpointServer::Start(
    CheckpointServerOptions options) {
  if (options.secret.empty()) {
    return Status::InvalidArgument(
        "NEBU_INTERNAL_SECRET is not set: the checkpoint service (NEBU_GRPC_ADDR) does not start");
  }
  NEBU_CHECK(options.db != nullptr, "CheckpointServer without a DB");
  // Leftovers of a crash in the middle of a transfer.
  std::error_code ec;
  const fs::path checkpoints = fs::path(options.data_dir) / "checkpoints";
  fs::remove_all(checkpoints, ec);
  fs::create_directories(checkpoints, ec);
  if (ec) return Status::IoError("cannot create " + checkpoints.string() + ": " + ec.message());
  std::unique_ptr<CheckpointServer> server(new CheckpointServer());
  const std::string address = options.address;
  server->service_ = std::make_unique<Service>(std::move(options));
  grpc::ServerBuilder builder;
  // Without this two processes could listen on one address (gRPC sets SO_REUSEPORT).
  builder.AddChannelArgument(GRPC_ARG_ALLOW_REUSEPORT, 0);
  builder.AddListeningPort(address, grpc::InsecureServerCredentials(), &server->port_);
  builder.RegisterService(server->service_.get());
  server->server_ = builder.BuildAndStart();
  if (server->server_ == nullptr || server->port_ == 0) {
    return Status::Unavailable("cannot listen on NEBU_GRPC_ADDR " + address);
  }
  return server;
}

CheckpointServer::~CheckpointServer() { Stop(); }

void CheckpointServer::Stop() {
  if (server_ == nullptr) return;
  server_->Shutdown(std::chrono::system_clock::now() +
                    std::chrono::milliseconds(kCheckpointServerStopMs));
  server_->Wait();
  server_.reset();
}

}  // namespace nebu::replication
