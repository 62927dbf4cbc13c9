#include "app/backup_target.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "app/backup_format.h"
#include "engine/common/crypto.h"
#include "media/s3_client.h"

namespace nebu::app {

namespace fs = std::filesystem;

namespace {

Status Errno(const std::string& what, const fs::path& path) {
  return Status::IoError(what + " " + path.string() + ": " + std::strerror(errno));
}

Result<std::optional<std::string>> ReadWholeFile(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::optional<std::string>();
  uint64_t size = fs::file_size(path, ec);
  if (ec) return Status::IoError("cannot stat " + path.string() + ": " + ec.message());
  if (size > kBackupManifestBytesMax) {
    return Status::Corruption(path.string() + " is over " +
                              std::to_string(kBackupManifestBytesMax) + " bytes");
  }
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  if (!in && !in.eof()) return Status::IoError("cannot read " + path.string());
  return std::optional<std::string>(out.str());
}

class DirTarget final : public BackupTarget {
 public:
  explicit DirTarget(fs::path root) : root_(std::move(root)), where_(root_.string()) {}
  const std::string& where() const override { return where_; }

  Result<std::optional<std::string>> Read(const std::string& name) override {
    return ReadWholeFile(root_ / name);
  }
  Status Write(const std::string& name, const std::string& text) override {
    NEBU_RETURN_IF_ERROR(MakeParent(root_ / name));
    return WriteFileAtomically(root_ / name, text);
  }
  Result<bool> HasObject(const std::string& sha256) override {
    std::error_code ec;
    return fs::exists(root_ / ObjectName(sha256), ec);
  }
  Status PutObject(const std::string& sha256, const fs::path& file, uint64_t) override {
    fs::path to = root_ / ObjectName(sha256);
    NEBU_RETURN_IF_ERROR(MakeParent(to));
    return CopyFileAtomically(file, to);
  }
  Status GetObject(const std::string& sha256, uint64_t size, const fs::path& dest) override {
    fs::path from = root_ / ObjectName(sha256);
    std::error_code ec;
    if (!fs::exists(from, ec)) return Status::Corruption("object missing: " + ObjectName(sha256));
    NEBU_RETURN_IF_ERROR(CopyFileAtomically(from, dest));
    return CheckFile(dest, sha256, size);
  }
  bool can_remove() const override { return true; }
  Status Remove(const std::string& name) override {
    if (name.empty()) return Status::InvalidArgument("remove: an empty name");
    std::error_code ec;
    fs::remove(root_ / name, ec);
    if (ec) return Status::IoError("cannot remove " + (root_ / name).string() + ": " + ec.message());
    return Status::Ok();
  }
  Result<std::vector<std::string>> List(const std::string& folder) override {
    std::vector<std::string> out;
    std::error_code ec;
    fs::path dir = root_ / folder;
    if (!fs::exists(dir, ec)) return out;
    for (fs::recursive_directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
      if (!it->is_regular_file() || it->path().extension() == ".part") continue;
      out.push_back(it->path().lexically_relative(root_).generic_string());
    }
    if (ec) return Status::IoError("cannot list " + dir.string() + ": " + ec.message());
    return out;
  }

  static Status CheckFile(const fs::path& file, const std::string& sha256, uint64_t size) {
    std::error_code ec;
    uint64_t got = fs::file_size(file, ec);
    if (ec || got != size) {
      return Status::Corruption("object " + sha256 + ": " + std::to_string(got) +
                                " bytes, the manifest says " + std::to_string(size));
    }
    NEBU_ASSIGN_OR_RETURN(std::string hash, HashFile(file));
    if (hash != sha256) return Status::Corruption("object " + sha256 + ": its SHA-256 is " + hash);
    return Status::Ok();
  }

 private:
  static Status MakeParent(const fs::path& path) {
    std::error_code ec;
    fs::create_directories(path.parent_path(), ec);
    if (ec) return Status::IoError("cannot create " + path.parent_path().string() + ": " + ec.message());
    return Status::Ok();
  }

  fs::path root_;
  std::string where_;
};

class S3Target final : public BackupTarget {
 public:
  S3Target(media::S3Endpoint endpoint, const media::S3Config& config, std::string where)
      : client_(std::move(endpoint), config), prefix_(config.key_prefix), where_(std::move(where)) {}
  const std::string& where() const override { return where_; }

  Result<std::optional<std::string>> Read(const std::string& name) override {
    fs::path tmp = TempPath();
    NEBU_ASSIGN_OR_RETURN(media::S3Reply r, client_.Get(Key(name), tmp));
    if (r.status == 404 || r.status == 403) {
      std::error_code ec;
      fs::remove(tmp, ec);
      return std::optional<std::string>();
    }
    if (r.status != 200) return Failed("GET", name, r);
    auto text = ReadWholeFile(tmp);
    std::error_code ec;
    fs::remove(tmp, ec);
    return text;
  }
  Status Write(const std::string& name, const std::string& text) override {
    fs::path tmp = TempPath();
    NEBU_RETURN_IF_ERROR(WriteFileAtomically(tmp, text));
    std::string sha = HexEncode(Sha256(text));
    auto r = client_.Put(Key(name), tmp, text.size(), sha);
    std::error_code ec;
    fs::remove(tmp, ec);
    if (!r.ok()) return r.status();
    if (r->status != 200) return Failed("PUT", name, *r);
    return Status::Ok();
  }
  Result<bool> HasObject(const std::string& sha256) override {
    NEBU_ASSIGN_OR_RETURN(media::S3Reply r, client_.Head(Key(ObjectName(sha256))));
    if (r.status == 200) return true;
    if (r.status == 404 || r.status == 403) return false;
    return Failed("HEAD", ObjectName(sha256), r);
  }
  Status PutObject(const std::string& sha256, const fs::path& file, uint64_t size) override {
    NEBU_ASSIGN_OR_RETURN(media::S3Reply r, client_.Put(Key(ObjectName(sha256)), file, size, sha256));
    if (r.status != 200) return Failed("PUT", ObjectName(sha256), r);
    return Status::Ok();
  }
  Status GetObject(const std::string& sha256, uint64_t size, const fs::path& dest) override {
    NEBU_ASSIGN_OR_RETURN(media::S3Reply r, client_.Get(Key(ObjectName(sha256)), dest));
    if (r.status == 404) return Status::Corruption("object missing: " + ObjectName(sha256));
    if (r.status != 200) return Failed("GET", ObjectName(sha256), r);
    return DirTarget::CheckFile(dest, sha256, size);
  }
  bool can_remove() const override { return true; }
  Status Remove(const std::string& name) override {
    if (name.empty()) return Status::InvalidArgument("remove: an empty name");
    NEBU_ASSIGN_OR_RETURN(media::S3Reply r, client_.Delete(Key(name)));
    if (r.status != 204 && r.status != 200 && r.status != 404) return Failed("DELETE", name, r);
    return Status::Ok();
  }
  Result<std::vector<std::string>> List(const std::string& folder) override {
    const std::string prefix = Key(folder) + "/";
    const std::string root = prefix_.empty() ? "" : prefix_ + "/";
    std::vector<std::string> out;
    std::string token;
    for (int pages = 0;; ++pages) {
      if (pages == kBackupListPagesMax) {
        return Status::InvalidArgument("S3 listing of " + prefix + " is over " +
                                       std::to_string(kBackupListPagesMax) + " pages");
      }
      media::S3ListPage page;
      NEBU_ASSIGN_OR_RETURN(media::S3Reply r,
                            client_.List(prefix, token, media::kS3ListKeysPerPageMax, &page));
      if (r.status != 200) return Failed("LIST", folder, r);
      for (const media::S3ListedObject& o : page.objects) {
        if (!o.key.starts_with(prefix) || o.key.ends_with(".part")) continue;
        out.push_back(o.key.substr(root.size()));
      }
      if (!page.truncated) return out;
      token = std::move(page.next_token);
    }
  }

 private:
  std::string Key(const std::string& name) const {
    return prefix_.empty() ? name : prefix_ + "/" + name;
  }
  static fs::path TempPath() {
    return fs::temp_directory_path() / ("nebu-backup-" + RandomAlnum(16));
  }
  static Status Failed(std::string_view call, const std::string& name, const media::S3Reply& r) {
    return Status::Unavailable("S3 " + std::string(call) + " " + name + ": HTTP " +
                               std::to_string(r.status) + " " + r.code + " " + r.message);
  }

  media::S3Client client_;
  std::string prefix_;
  std::string where_;
};

}  // namespace

Result<std::vector<std::string>> BackupTarget::ListObjects() {
  NEBU_ASSIGN_OR_RETURN(std::vector<std::string> names, List("objects"));
  std::vector<std::string> out;
  for (const std::string& name : names) {
    std::string sha = name.substr(name.rfind('/') + 1);
    if (IsSha256Hex(sha) && name == ObjectName(sha)) out.push_back(std::move(sha));
  }
  return out;
}

namespace {

bool IsBucket(std::string_view b) {
  if (b.size() < 3 || b.size() > 63) return false;
  for (char c : b) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) return false;
  }
  return true;
}

bool IsPrefix(std::string_view p) {
  if (p.size() > media::kS3KeyPrefixBytesMax || p.starts_with('/') || p.find("..") != p.npos) {
    return false;
  }
  for (char c : p) {
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '/' ||
          c == '-')) {
      return false;
    }
  }
  return true;
}

Result<std::unique_ptr<BackupTarget>> OpenS3(const std::string& url, media::S3Config s3) {
  std::string_view rest = std::string_view(url).substr(5);  // after "s3://"
  size_t slash = rest.find('/');
  std::string bucket(rest.substr(0, slash));
  std::string prefix(slash == rest.npos ? "" : rest.substr(slash + 1));
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (!IsBucket(bucket)) return Status::InvalidArgument("backup destination: bad S3 bucket in " + url);
  if (!IsPrefix(prefix)) {
    return Status::InvalidArgument("backup destination: bad S3 key prefix in " + url +
                                   " (use [A-Za-z0-9._/-], at most 256 bytes)");
  }
  if (s3.endpoint.empty()) {
    return Status::InvalidArgument("backup destination " + url +
                                   ": set NEBU_S3_ENDPOINT, NEBU_S3_BUCKET, NEBU_S3_ACCESS_KEY_ID "
                                   "and NEBU_S3_SECRET_ACCESS_KEY_FILE");
  }
  NEBU_ASSIGN_OR_RETURN(media::S3Endpoint endpoint, media::ParseS3Endpoint(s3.endpoint));
  s3.bucket = bucket;
  s3.key_prefix = prefix;
  return std::unique_ptr<BackupTarget>(new S3Target(std::move(endpoint), s3, url));
}

}  // namespace

Status SyncPath(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("cannot open", path);
  int rc = ::fsync(fd);
  ::close(fd);
  if (rc != 0) return Errno("cannot fsync", path);
  return Status::Ok();
}

Status WriteFileAtomically(const fs::path& path, std::string_view bytes) {
  fs::path part = path.string() + ".part";
  {
    std::ofstream out(part, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) return Errno("cannot write", part);
  }
  NEBU_RETURN_IF_ERROR(SyncPath(part));
  std::error_code ec;
  fs::rename(part, path, ec);
  if (ec) return Status::IoError("cannot rename " + part.string() + ": " + ec.message());
  return SyncPath(path.parent_path().empty() ? fs::path(".") : path.parent_path());
}

Status CopyFileAtomically(const fs::path& from, const fs::path& to,
                          const std::function<void(uint64_t)>& on_bytes) {
  fs::path part = to.string() + ".part";
  {
    std::ifstream in(from, std::ios::binary);
    if (!in) return Errno("cannot read", from);
    std::ofstream out(part, std::ios::binary | std::ios::trunc);
    std::string buffer(kBackupChunkBytes, '\0');
    while (in) {
      in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
      std::streamsize got = in.gcount();
      if (got <= 0) break;
      out.write(buffer.data(), got);
      if (on_bytes) on_bytes(static_cast<uint64_t>(got));
    }
    if (in.bad()) return Errno("cannot read", from);
    out.flush();
    if (!out) return Errno("cannot write", part);
  }
  NEBU_RETURN_IF_ERROR(SyncPath(part));
  std::error_code ec;
  fs::rename(part, to, ec);
  if (ec) return Status::IoError("cannot rename " + part.string() + ": " + ec.message());
  return SyncPath(to.parent_path().empty() ? fs::path(".") : to.parent_path());
}

Result<std::unique_ptr<BackupTarget>> OpenBackupTarget(const std::string& destination,
                                                       const media::S3Config& s3) {
  if (destination.empty()) return Status::InvalidArgument("backup destination is empty");
  if (destination.starts_with("s3://")) return OpenS3(destination, s3);
  if (destination.find("://") != std::string::npos) {
    return Status::InvalidArgument("backup destination " + destination +
                                   ": a directory or s3://BUCKET/PREFIX");
  }
  fs::path root = fs::absolute(destination);
  std::error_code ec;
  bool made = fs::create_directories(root, ec);
  if (ec) return Status::IoError("cannot create " + root.string() + ": " + ec.message());
  if (made) fs::permissions(root, fs::perms::owner_all, fs::perm_options::replace, ec);
  return std::unique_ptr<BackupTarget>(new DirTarget(root));
}

}  // namespace nebu::app
