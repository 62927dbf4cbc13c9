// FileContentStore: the ContentStore of NEBU_MEDIA_BACKEND=file (media/content_store.h):
// media bytes under a directory of this node, content-addressed by SHA-256.
//
//   <root>/content/<h0h1>/<h2h3>/<sha256 hex>   one file per object, never rewritten
//   <root>/tmp/                                  temporary files of Put (same filesystem)
//
// Put makes an object durable before it answers OK: when the spooled file is on the same
// filesystem it is fsynced and hard-linked into tmp/ (no copy), otherwise copied there
// in chunks of kCopyChunkBytes and fsynced; then renamed to its final name and the
// directory fsynced. A crash leaves at most a file in tmp/ (removed by the next Open),
// never a partial object under content/. Putting a stored hash only checks it exists.
// Per node: a cluster of nodes needs the s3 backend.
//
// Errors: kInvalidArgument (malformed hash), kNotFound (Fetch of an absent object),
// kNoSpace (ENOSPC/EDQUOT), kIoError (anything else the OS refuses).
// Thread-safety: all methods from any thread concurrently (temporary names are unique).
#pragma once

#include <cstddef>
#include <filesystem>
#include <memory>
#include <string_view>

#include "media/content_store.h"

namespace nebu::media {

// Writes `bytes` to `path` durably (temporary file beside it, fsync, rename, fsync of
// the directory), creating the parent directories. kNoSpace, kIoError.
[[nodiscard]] Status WriteFileDurably(const std::filesystem::path& path, std::string_view bytes);

class FileContentStore final : public ContentStore {
 public:
  // Chunk of the copy Put makes when the spooled file cannot be linked.
  static constexpr size_t kCopyChunkBytes = 1024 * 1024;

  // Creates <root>/content and <root>/tmp (mode 0700) and empties tmp/. kIoError.
  [[nodiscard]] static Result<std::unique_ptr<FileContentStore>> Open(std::filesystem::path root);

  Status Put(std::string_view sha256_hex, const std::filesystem::path& spooled,
             uint64_t size) override;
  Result<std::filesystem::path> Fetch(std::string_view sha256_hex) override;
  Result<bool> Exists(std::string_view sha256_hex) override;
  [[nodiscard]] std::string_view name() const override { return "file"; }

  // Where the object of a (well-formed) hash lives or would live.
  [[nodiscard]] std::filesystem::path PathOf(std::string_view sha256_hex) const;

 private:
  explicit FileContentStore(std::filesystem::path root) : root_(std::move(root)) {}
  std::filesystem::path root_;
};

}  // namespace nebu::media
