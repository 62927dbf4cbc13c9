// BackupTarget: where backups live (the layout is app/backup_format.h). Two kinds:
//
//   /abs/path or ./rel/path   a directory (created 0700 when missing). Writes go to a
//                             ".part" file, are fsynced and renamed: a crash leaves
//                             no half object under its final name.
//   s3://BUCKET[/PREFIX]      an S3-compatible bucket through the media S3 client
//                             (media/s3_client.h), with NEBU_S3_ENDPOINT,
//                             NEBU_S3_ACCESS_KEY_ID, NEBU_S3_SECRET_ACCESS_KEY_FILE,
//                             NEBU_S3_REGION and NEBU_S3_PATH_STYLE of the process
//                             that writes (the bucket and prefix come from the URL).
//                             Old backups are pruned there as in a directory
//                             (ListObjectsV2 in pages of kS3ListKeysPerPageMax, at
//                             most kBackupListPagesMax pages per listing, and
//                             DeleteObject). Never put a bucket lifecycle rule that
//                             expires objects/ on the prefix: objects are shared by
//                             every backup that holds the same bytes.
//
//   NEBU_ASSIGN_OR_RETURN(auto target, OpenBackupTarget("/backups/nebu", config.s3));
//   NEBU_ASSIGN_OR_RETURN(std::optional<std::string> index, target->Read(kIndexName));
//
// Errors: kInvalidArgument for a destination that cannot be used (an s3:// URL without
// S3 settings, a bad bucket or prefix); kIoError (directory) or kUnavailable (S3) when
// a read or write fails; kCorruption when an object's bytes do not match its name.
// Thread-safety: one target per backup job; not for concurrent use.
#pragma once

#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/status.h"
#include "media/s3_config.h"

namespace nebu::app {

class BackupTarget {
 public:
  virtual ~BackupTarget() = default;
  // "/backups/nebu" or "s3://bucket/prefix", for messages.
  [[nodiscard]] virtual const std::string& where() const = 0;
  // A small named file (index, manifest) whole; nullopt when absent.
  virtual Result<std::optional<std::string>> Read(const std::string& name) = 0;
  // Writes (replacing) a small named file.
  virtual Status Write(const std::string& name, const std::string& text) = 0;
  // Whether the object with this hex SHA-256 is stored.
  virtual Result<bool> HasObject(const std::string& sha256) = 0;
  // Stores `file` (`size` bytes, SHA-256 `sha256`) as its object.
  virtual Status PutObject(const std::string& sha256, const std::filesystem::path& file,
                           uint64_t size) = 0;
  // Fetches an object into `dest` and checks its size and SHA-256 (kCorruption if not).
  virtual Status GetObject(const std::string& sha256, uint64_t size,
                           const std::filesystem::path& dest) = 0;
  // Whether Remove and List work (both kinds: yes).
  [[nodiscard]] virtual bool can_remove() const = 0;
  // Removes a named file or object ("manifests/<id>.json", "objects/ab/<sha>"); a
  // missing one is not an error.
  virtual Status Remove(const std::string& name) = 0;
  // The names (relative to the destination, like Read's) of every file under
  // `folder` ("objects", "pending"), at any depth, in no particular order; never a
  // ".part" file. kInvalidArgument when an S3 listing would need more than
  // kBackupListPagesMax pages.
  virtual Result<std::vector<std::string>> List(const std::string& folder) = 0;
  // The SHA-256 names of every stored object (List("objects"), filtered).
  Result<std::vector<std::string>> ListObjects();
};

// An S3 listing of more pages than this (of kS3ListKeysPerPageMax keys: 10 million
// keys) is refused rather than walked for ever.
inline constexpr int kBackupListPagesMax = 10'000;

// A directory path (made absolute by the caller when it crosses processes) or an
// s3:// URL (then `s3` must hold the endpoint and credentials).
Result<std::unique_ptr<BackupTarget>> OpenBackupTarget(const std::string& destination,
                                                       const media::S3Config& s3);

// Writes `bytes` to `path` through "<path>.part", fsynced, renamed, directory fsynced.
Status WriteFileAtomically(const std::filesystem::path& path, std::string_view bytes);
// Copies a file the same way, calling on_bytes per chunk (may be empty).
Status CopyFileAtomically(const std::filesystem::path& from, const std::filesystem::path& to,
                          const std::function<void(uint64_t)>& on_bytes = {});
// fsyncs a file or directory.
Status SyncPath(const std::filesystem::path& path);

}  // namespace nebu::app
