// S3Client: the S3 calls the media store and the backups need (HeadObject, PutObject
// streamed from a local file, GetObject streamed into a local file, DeleteObject, and
// ListObjectsV2 one bounded page at a time), signed with SigV4
// (media/sigv4.h), over HTTP/1.1 (http:// for loopback and private networks, https://
// with the peer verified against the system CA store and the host name checked).
//
//   S3Client client(endpoint, config);             // endpoint from ParseS3Endpoint
//   Result<S3Reply> r = client.Put("ab/cd/<sha>", "/spool/x", size, sha256_hex);
//   if (r.ok() && r->status == 200) { ... }
//
// Results: a transport failure (refused, reset, timed out, TLS, a malformed or truncated
// answer) is kUnavailable with a message that names the call, the key and the cause. Any
// HTTP answer is a Result with the status and, for errors, S3's <Code> and <Message>
// (S3Reply). Get writes the body to `dest` only on 200 (created or truncated); on any
// failure `dest` may hold a part of the body: the caller removes it.
//
// One connection per call (no pooling). Timeouts: S3Config's connect, idle and request
// timeouts (media/s3_config.h). Never holds a body in memory beyond Beast's buffers
// (an error body is read up to kS3ErrorBodyBytesMax, a list page up to
// kS3ListBodyBytesMax).
//
// Thread-safety: every method may be called from any thread concurrently; each call
// runs its own I/O context and blocks until done.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "media/s3_config.h"

namespace nebu::media {

// The largest S3 error body read (the XML with <Code> and <Message>).
inline constexpr size_t kS3ErrorBodyBytesMax = 64 * 1024;

// The keys one ListObjectsV2 page asks for (S3 answers at most 1000).
inline constexpr int kS3ListKeysPerPageMax = 1000;
// The largest ListObjectsV2 answer read (1000 keys of up to 1 KiB each, with their
// metadata, stay well below); a larger one is a transport error (kUnavailable).
inline constexpr size_t kS3ListBodyBytesMax = 4u << 20;

struct S3Endpoint {
  bool tls = false;  // https://
  std::string host;  // a DNS name or an IP literal (IPv6 without brackets)
  uint16_t port = 0;
};

// Parses "http(s)://HOST[:PORT]" (an optional trailing '/', no other path); the port
// defaults to 80 or 443. kInvalidArgument otherwise.
[[nodiscard]] Result<S3Endpoint> ParseS3Endpoint(std::string_view url);

struct S3Reply {
  int status = 0;          // the HTTP status
  std::string code;        // S3's error <Code>, e.g. "SignatureDoesNotMatch" ("" on success)
  std::string message;     // S3's error <Message>
  uint64_t body_bytes = 0; // Get: bytes written to dest
};

// One object of a ListObjectsV2 page.
struct S3ListedObject {
  std::string key;            // the full key (with any prefix)
  uint64_t size = 0;
  std::string last_modified;  // as S3 sends it, "2026-12-06T22:51:19.000Z"
};

// One ListObjectsV2 page: `truncated` with `next_token` when more keys follow.
struct S3ListPage {
  std::vector<S3ListedObject> objects;
  bool truncated = false;
  std::string next_token;  // NextContinuationToken ("" when not truncated)
};

class S3Client {
 public:
  S3Client(S3Endpoint endpoint, const S3Config& config);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // HeadObject. 200 exists, 404 (or 403 under a policy without s3:ListBucket) missing.
  [[nodiscard]] Result<S3Reply> Head(std::string_view key);
  // PutObject of the `size` bytes of `file`, whose hex SHA-256 is `sha256_hex` (signed
  // as x-amz-content-sha256, so S3 rejects a body that does not match).
  [[nodiscard]] Result<S3Reply> Put(std::string_view key, const std::filesystem::path& file,
                                    uint64_t size, std::string_view sha256_hex);
  // GetObject into `dest` (on 200).
  [[nodiscard]] Result<S3Reply> Get(std::string_view key, const std::filesystem::path& dest);
  // DeleteObject. 204 (or 200) deleted, and also when the key did not exist (S3
  // answers 204 for a missing key too).
  [[nodiscard]] Result<S3Reply> Delete(std::string_view key);
  // One ListObjectsV2 page of the keys starting with `prefix` (the full prefix: the
  // caller adds its own key prefix), in key order, at most `max_keys` (1 to
  // kS3ListKeysPerPageMax, clamped). `continuation_token`: "" for the first page, then
  // the previous page's next_token. On 200 `page` holds the page; a 200 answer that is
  // not a ListBucketResult is kUnavailable.
  [[nodiscard]] Result<S3Reply> List(std::string_view prefix, std::string_view continuation_token,
                                     int max_keys, S3ListPage* page);

  // "http://127.0.0.1:9000/bucket" for messages (never a credential).
  [[nodiscard]] const std::string& where() const { return where_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::string where_;
};

}  // namespace nebu::media
