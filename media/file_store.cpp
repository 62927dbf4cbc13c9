#include "media/file_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "engine/common/crypto.h"

namespace nebu::media {
namespace {

namespace fs = std::filesystem;

Status ErrnoStatus(std::string_view what, int err) {
  std::string message = std::string(what) + ": " + std::strerror(err);
  if (err == ENOSPC || err == EDQUOT) return Status::NoSpace(std::move(message));
  return Status::IoError(std::move(message));
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  [[nodiscard]] int get() const { return fd_; }
  // Closes now, reporting the error close() may carry (delayed write errors).
  Status Close() {
    const int fd = fd_;
    fd_ = -1;
    return ::close(fd) == 0 ? Status::Ok() : ErrnoStatus("close", errno);
  }

 private:
  int fd_;
};

Status SyncDirectory(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoStatus("open directory", errno);
  if (::fsync(fd.get()) != 0) return ErrnoStatus("fsync directory", errno);
  return Status::Ok();
}

Status WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("write", errno);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return Status::Ok();
}

// A name in `dir` no other thread or process of this node uses.
fs::path UniqueTemp(const fs::path& dir) {
  return dir / (".tmp-" + std::to_string(::getpid()) + "-" + RandomAlnum(16));
}

Status CopyInto(const fs::path& from, const fs::path& to) {
  Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (in.get() < 0) return ErrnoStatus("open spooled file", errno);
  Fd out(::open(to.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (out.get() < 0) return ErrnoStatus("create temporary file", errno);
  std::vector<char> chunk(FileContentStore::kCopyChunkBytes);
  while (true) {
    const ssize_t n = ::read(in.get(), chunk.data(), chunk.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus("read spooled file", errno);
    }
    if (n == 0) break;
    NEBU_RETURN_IF_ERROR(WriteAll(out.get(), chunk.data(), static_cast<size_t>(n)));
  }
  if (::fsync(out.get()) != 0) return ErrnoStatus("fsync", errno);
  return out.Close();
}

// Links `from` as `to` after making its bytes durable; false when they are on
// different filesystems (the caller copies instead).
Result<bool> LinkInto(const fs::path& from, const fs::path& to) {
  {
    Fd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
    if (in.get() < 0) return ErrnoStatus("open spooled file", errno);
    if (::fsync(in.get()) != 0) return ErrnoStatus("fsync spooled file", errno);
  }
  if (::link(from.c_str(), to.c_str()) == 0) return true;
  if (errno == EXDEV || errno == EPERM || errno == EMLINK) return false;
  return ErrnoStatus("link", errno);
}

Status MakeDirs(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return ErrnoStatus("create " + dir.string(), ec.value());
  return Status::Ok();
}

}  // namespace

Status WriteFileDurably(const fs::path& path, std::string_view bytes) {
  NEBU_RETURN_IF_ERROR(MakeDirs(path.parent_path()));
  const fs::path temp = UniqueTemp(path.parent_path());
  Status written = [&]() -> Status {
    Fd out(::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
    if (out.get() < 0) return ErrnoStatus("create temporary file", errno);
    NEBU_RETURN_IF_ERROR(WriteAll(out.get(), bytes.data(), bytes.size()));
    if (::fsync(out.get()) != 0) return ErrnoStatus("fsync", errno);
    NEBU_RETURN_IF_ERROR(out.Close());
    if (::rename(temp.c_str(), path.c_str()) != 0) return ErrnoStatus("rename", errno);
    return SyncDirectory(path.parent_path());
  }();
  if (!written.ok()) ::unlink(temp.c_str());
  return written;
}

Result<std::unique_ptr<FileContentStore>> FileContentStore::Open(fs::path root) {
  for (const fs::path& dir : {root / "content", root / "tmp"}) {
    NEBU_RETURN_IF_ERROR(MakeDirs(dir));
    ::chmod(dir.c_str(), 0700);
  }
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(root / "tmp", ec)) fs::remove(entry.path(), ec);
  return std::unique_ptr<FileContentStore>(new FileContentStore(std::move(root)));
}

fs::path FileContentStore::PathOf(std::string_view sha256_hex) const {
  const std::string hex(sha256_hex);
  return root_ / "content" / hex.substr(0, 2) / hex.substr(2, 2) / hex;
}

Status FileContentStore::Put(std::string_view sha256_hex, const fs::path& spooled, uint64_t size) {
  if (!IsSha256Hex(sha256_hex)) return Status::InvalidArgument("malformed SHA-256");
  NEBU_ASSIGN_OR_RETURN(bool present, Exists(sha256_hex));
  if (present) return Status::Ok();
  std::error_code ec;
  const uint64_t actual = fs::file_size(spooled, ec);
  if (ec) return ErrnoStatus("stat spooled file", ec.value());
  if (actual != size) return Status::InvalidArgument("spooled file size differs from the declared size");
  const fs::path final_path = PathOf(sha256_hex);
  NEBU_RETURN_IF_ERROR(MakeDirs(final_path.parent_path()));
  const fs::path temp = UniqueTemp(root_ / "tmp");
  Status stored = [&]() -> Status {
    NEBU_ASSIGN_OR_RETURN(bool linked, LinkInto(spooled, temp));
    if (!linked) NEBU_RETURN_IF_ERROR(CopyInto(spooled, temp));
    // rename over an object another Put stored meanwhile is harmless: same bytes.
    if (::rename(temp.c_str(), final_path.c_str()) != 0) return ErrnoStatus("rename", errno);
    NEBU_RETURN_IF_ERROR(SyncDirectory(final_path.parent_path()));
    NEBU_RETURN_IF_ERROR(SyncDirectory(final_path.parent_path().parent_path()));
    return SyncDirectory(root_ / "content");
  }();
  if (!stored.ok()) ::unlink(temp.c_str());
  return stored;
}

Result<fs::path> FileContentStore::Fetch(std::string_view sha256_hex) {
  NEBU_ASSIGN_OR_RETURN(bool present, Exists(sha256_hex));
  if (!present) return Status::NotFound("no stored object with that hash");
  return PathOf(sha256_hex);
}

Result<bool> FileContentStore::Exists(std::string_view sha256_hex) {
  if (!IsSha256Hex(sha256_hex)) return Status::InvalidArgument("malformed SHA-256");
  struct stat st {};
  if (::stat(PathOf(sha256_hex).c_str(), &st) == 0) return S_ISREG(st.st_mode);
  if (errno == ENOENT) return false;
  return ErrnoStatus("stat", errno);
}

}  // namespace nebu::media
