// S3ContentStore: media bytes in an S3-compatible bucket (NEBU_MEDIA_BACKEND=s3), read
// through a bounded local cache. Implements ContentStore (media/content_store.h); the
// settings are S3Config (media/s3_config.h).
//
//   Result<std::unique_ptr<ContentStore>> store =
//       MakeS3ContentStore(config, data_dir / "media-cache");
//
// Object keys: "[<prefix>/]ab/cd/<sha256>" (the hash's first two byte pairs fan out the
// key space). Objects are never changed nor deleted (content-addressed; deletion is soft,
// in the metadata), so any node may cache any object without invalidation.
//
// Calls: only HeadObject, PutObject and GetObject (media/s3_client.h).
//   Put    HEAD first: an object already stored is not uploaded again (OK at once).
//          Otherwise one PutObject streamed from the spooled file, signed with its
//          SHA-256; OK when S3 answered 200 (S3 is then durable). The spooled file is
//          also hard-linked into the cache when on the same file system (a read right
//          after an upload, e.g. the thumbnailer's, needs no download).
//   Fetch  from the cache, else one GetObject into "<cache>/tmp/<sha256>.<n>.part",
//          renamed into "<cache>/<sha256>" when complete (never a partial file under the
//          final name; the part file is removed on any failure).
//   Exists true when cached, else HeadObject.
// The cache is bounded by S3Config::cache_bytes (NEBU_MEDIA_CACHE_BYTES): after each
// insertion the least recently used files are removed until the total is within the
// bound (the one just fetched is kept, even when larger than the bound). A file removed
// while a reader has it open stays readable through that descriptor. The cache index
// is rebuilt from the directory at start (leftover part files are removed).
//
// Errors: kInvalidArgument (a malformed hash, a spooled file of another size),
// kNotFound (Fetch of an object S3 does not have: 404 NoSuchKey), kUnavailable (S3
// unreachable, timed out, answered 403/5xx or anything else: the message names the
// call, the key, the endpoint and S3's error code; a 403 also names the usual causes),
// kIoError (the local cache).
//
// Thread-safety: all methods from any thread concurrently; network calls happen outside
// the cache's lock.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "media/content_store.h"
#include "media/s3_client.h"
#include "media/s3_config.h"

namespace nebu::media {

class S3ContentStore final : public ContentStore {
 public:
  // Counters since construction (tests and /metrics).
  struct Stats {
    uint64_t heads = 0;          // HeadObject calls
    uint64_t puts = 0;           // PutObject calls
    uint64_t gets = 0;           // GetObject calls
    uint64_t puts_skipped = 0;   // Put of an object S3 already had
    uint64_t cache_hits = 0;     // Fetch/Exists answered from the cache
    uint64_t evictions = 0;      // cache files removed over the bound
  };

  // Checks the config (endpoint, bucket, credentials, prefix, cache bound), creates the
  // cache directory and indexes it. Makes no network call.
  static Result<std::unique_ptr<S3ContentStore>> Open(const S3Config& config,
                                                      const std::filesystem::path& cache_dir);

  Status Put(std::string_view sha256_hex, const std::filesystem::path& spooled,
             uint64_t size) override;
  Result<std::filesystem::path> Fetch(std::string_view sha256_hex) override;
  Result<bool> Exists(std::string_view sha256_hex) override;
  [[nodiscard]] std::string_view name() const override { return "s3"; }

  // The object key of a hash, e.g. "nebu/ab/cd/abcd...".
  [[nodiscard]] std::string ObjectKey(std::string_view sha256_hex) const;
  [[nodiscard]] Stats stats() const;
  [[nodiscard]] uint64_t cached_bytes() const;

 private:
  struct Entry {
    uint64_t bytes = 0;
    uint64_t last_use = 0;  // a tick of use_clock_
  };

  S3ContentStore(const S3Config& config, S3Endpoint endpoint, std::filesystem::path cache_dir);
  Status IndexCache();
  // The cached file of `sha256_hex` if present (marks it used).
  std::optional<std::filesystem::path> Cached(std::string_view sha256_hex);
  // Records a file now in the cache, then evicts over the bound (never `sha256_hex`).
  void Admit(const std::string& sha256_hex, uint64_t bytes);
  void LinkIntoCache(const std::string& sha256_hex, const std::filesystem::path& spooled,
                     uint64_t size);
  std::filesystem::path PartPath(std::string_view sha256_hex);
  Status Failure(std::string_view call, std::string_view sha256_hex, const S3Reply& reply) const;

  S3Config config_;
  S3Client client_;
  std::filesystem::path cache_dir_;
  std::filesystem::path tmp_dir_;

  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> entries_;  // guarded by mu_
  uint64_t total_bytes_ = 0;                           // guarded by mu_
  uint64_t use_clock_ = 0;                             // guarded by mu_

  std::atomic<uint64_t> part_counter_{0};
  std::atomic<uint64_t> heads_{0}, puts_{0}, gets_{0}, puts_skipped_{0}, cache_hits_{0},
      evictions_{0};
};

// The factory the composition root calls for NEBU_MEDIA_BACKEND=s3.
[[nodiscard]] Result<std::unique_ptr<ContentStore>> MakeS3ContentStore(
    const S3Config& config, const std::filesystem::path& cache_dir);

}  // namespace nebu::media
