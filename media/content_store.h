// ContentStore: where media bytes live (docs/architecture.md, "Media").
//
// Media content is addressed by the lowercase hex SHA-256 of its bytes, so that the same
// bytes uploaded twice are stored once, a stored object never changes, and any node can
// cache any object without invalidation. The metadata (media id, uploader, content
// type, file name, hash, quarantine, soft deletion) is replicated state kept by the
// engine (engine/media); a ContentStore holds only bytes.
//
// Two implementations:
//   FileContentStore  (media/file_store.h)  NEBU_MEDIA_BACKEND=file: under the data
//                     directory, written to a temporary file, fsynced, renamed.
//                     Per node: a cluster of nodes needs s3.
//   S3ContentStore    (media/s3_store.h)    NEBU_MEDIA_BACKEND=s3: PutObject, GetObject,
//                     HeadObject only (works under a least-privilege policy without
//                     DeleteObject or ListBucket); a bounded local cache serves reads.
//
// Nothing here ever holds a whole object in memory: uploads arrive as a spooled file on
// local disk (the HTTP server writes the request body there, api/server.cpp), reads are
// served from a local file (the file backend's own, or the S3 backend's cache file).
//
// Errors: kNotFound (no object with that hash), kUnavailable (the backend failed or
// timed out: nothing was stored; the caller answers 502/504 and records nothing),
// kNoSpace, kIoError, kInvalidArgument (a malformed hash).
//
// Thread-safety: every method is safe from any thread concurrently. Methods block on
// disk or network I/O: call them from offloaded handlers or worker threads, never from
// a server thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "engine/common/status.h"

namespace nebu::media {

// True for exactly 64 lowercase hex digits.
[[nodiscard]] bool IsSha256Hex(std::string_view text);

class ContentStore {
 public:
  virtual ~ContentStore() = default;

  // Stores the `size` bytes of the local file `spooled` under `sha256_hex`, which the
  // caller computed from those bytes. Returns OK only when the object is durable. Storing
  // a hash that is already stored is OK and cheap. The caller still owns `spooled` and
  // deletes it afterwards (an implementation may not move it away).
  virtual Status Put(std::string_view sha256_hex, const std::filesystem::path& spooled,
                     uint64_t size) = 0;

  // A local file holding the object's bytes, for reading (streamed to clients, fed to
  // the thumbnailer). The file stays readable while the returned path is in use by an
  // open file descriptor; an S3 cache may evict it by name later, so open it at once.
  virtual Result<std::filesystem::path> Fetch(std::string_view sha256_hex) = 0;

  // Whether the object is stored (HeadObject for S3).
  virtual Result<bool> Exists(std::string_view sha256_hex) = 0;

  // A short name for logs and /ready: "file" or "s3".
  [[nodiscard]] virtual std::string_view name() const = 0;
};

}  // namespace nebu::media
