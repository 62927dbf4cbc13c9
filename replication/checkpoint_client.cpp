#include "replication/checkpoint_client.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <filesystem>

#include "engine/common/crypto.h"
#include "proto/core/core.grpc.pb.h"
#include "engine/common/clock.h"
#include "replication/checkpoint_codec.h"

namespace nebu::replication {

namespace fs = std::filesystem;

namespace {

Status FromGrpc(const grpc::Status& s, const std::string& addr) {
  const std::string what = "checkpoint from " + addr + ": " + s.error_message();
  switch (s.error_code()) {
    case grpc::StatusCode::UNAUTHENTICATED:
      return Status::Unauthenticated(what);
    case grpc::StatusCode::PERMISSION_DENIED:
      return Status::Forbidden(what);
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
      return Status::ResourceExhausted(what);
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Status::InvalidArgument(what);
    default:
      return Status::Unavailable(what);
  }
}

Status FsyncPath(const fs::path& path, int flags) {
  int fd = ::open(path.c_str(), flags | O_CLOEXEC);
  if (fd < 0) return Status::IoError("cannot open " + path.string());
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok ? Status::Ok() : Status::IoError("cannot fsync " + path.string());
}

// Writes the opened items into `dir`; the files were created when the header came.
class CheckpointWriter {
 public:
  explicit CheckpointWriter(fs::path dir) : dir_(std::move(dir)) {}
  ~CheckpointWriter() { (void)CloseCurrent(); }

  Status Header(const core::CheckpointHeader& header) {
    header_ = header;
    for (const core::CheckpointFile& f : header.files()) {
      int fd = ::open((dir_ / f.name()).c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
      if (fd < 0) return Status::IoError("cannot create " + (dir_ / f.name()).string());
      ::close(fd);
    }
    return Status::Ok();
  }

  Status Chunk(const core::CheckpointChunk& chunk) {
    if (fd_ < 0 || current_ != chunk.file_index()) {
      NEBU_RETURN_IF_ERROR(CloseCurrent());
      const fs::path path = dir_ / header_.files(static_cast<int>(chunk.file_index())).name();
      fd_ = ::open(path.c_str(), O_WRONLY | O_CLOEXEC);
      if (fd_ < 0) return Status::IoError("cannot open " + path.string());
      current_ = chunk.file_index();
    }
    const std::string& bytes = chunk.bytes();
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t n = ::pwrite(fd_, bytes.data() + done, bytes.size() - done,
                           static_cast<off_t>(chunk.offset() + done));
      if (n <= 0) return Status::IoError("cannot write the checkpoint (disk full?)");
      done += static_cast<size_t>(n);
    }
    return Status::Ok();
  }

  // Every file: its size on disk is the header's, fsynced; then the directory.
  Status Finish() {
    NEBU_RETURN_IF_ERROR(CloseCurrent());
    for (const core::CheckpointFile& f : header_.files()) {
      const fs::path path = dir_ / f.name();
      std::error_code ec;
      if (fs::file_size(path, ec) != f.size() || ec) {
        return Status::IoError("the size of " + path.string() + " on disk differs");
      }
      NEBU_RETURN_IF_ERROR(FsyncPath(path, O_RDONLY));
    }
    return FsyncPath(dir_, O_RDONLY | O_DIRECTORY);
  }

 private:
  Status CloseCurrent() {
    if (fd_ < 0) return Status::Ok();
    const bool ok = ::fsync(fd_) == 0;
    ::close(fd_);
    fd_ = -1;
    return ok ? Status::Ok() : Status::IoError("cannot fsync the checkpoint");
  }

  fs::path dir_;
  core::CheckpointHeader header_;
  int fd_ = -1;
  uint32_t current_ = 0;
};

Result<DownloadedCheckpoint> Download(const std::string& grpc_addr,
                                      const CheckpointClientOptions& options,
                                      const fs::path& dir) {
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(2 * kCheckpointChunkBytes));
  auto channel = grpc::CreateCustomChannel(grpc_addr, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() +
                                 std::chrono::milliseconds(kCheckpointConnectMsMax))) {
    return Status::Unavailable("checkpoint from " + grpc_addr + ": cannot connect within " +
                               std::to_string(kCheckpointConnectMsMax) + " ms");
  }
  auto stub = core::CoreService::NewStub(channel);
  const std::string nonce = RandomBytes(kCheckpointNonceBytes);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() +
                       std::chrono::milliseconds(kCheckpointTransferMsMax));
  core::CheckpointRequest request =
      MakeCheckpointRequest(options.secret, options.cluster_id, options.node_id, nonce,
                            SystemClock::Get().NowUnixMs());
  CheckpointOpener opener(options.secret, nonce, options.cluster_id);
  CheckpointWriter writer(dir);
  std::unique_ptr<grpc::ClientReader<core::CheckpointEnvelope>> reader =
      stub->GetCheckpoint(&context, request);
  core::CheckpointEnvelope envelope;
  Status failed;
  while (failed.ok() && reader->Read(&envelope)) {
    Result<CheckpointItem> item = opener.Open(envelope);
    if (!item.ok()) {
      failed = item.status();
    } else if (item->header) {
      failed = writer.Header(*item->header);
    } else if (item->chunk) {
      failed = writer.Chunk(*item->chunk);
    }
  }
  if (!failed.ok()) {
    context.TryCancel();
    (void)reader->Finish();
    return failed;
  }
  grpc::Status finished = reader->Finish();
  if (!finished.ok()) return FromGrpc(finished, grpc_addr);
  NEBU_RETURN_IF_ERROR(opener.Finish());
  NEBU_RETURN_IF_ERROR(writer.Finish());
  DownloadedCheckpoint got;
  got.applied_revision = opener.header()->applied_revision();
  got.files = static_cast<size_t>(opener.header()->files_size());
  for (const core::CheckpointFile& f : opener.header()->files()) got.bytes += f.size();
  return got;
}

}  // namespace

Result<DownloadedCheckpoint> DownloadCheckpoint(const std::string& grpc_addr,
                                                const CheckpointClientOptions& options,
                                                const std::string& target_dir) {
  if (options.secret.empty()) {
    return Status::InvalidArgument(
        "NEBU_INTERNAL_SECRET is not set: a node cannot join by checkpoint without it");
  }
  std::error_code ec;
  if (fs::exists(target_dir, ec)) {
    return Status::IoError(target_dir + " exists: remove it first");
  }
  fs::create_directories(target_dir, ec);
  if (ec) return Status::IoError("cannot create " + target_dir + ": " + ec.message());
  fs::permissions(target_dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  Result<DownloadedCheckpoint> got = Download(grpc_addr, options, target_dir);
  if (!got.ok()) fs::remove_all(target_dir, ec);
  return got;
}

}  // namespace nebu::replication
