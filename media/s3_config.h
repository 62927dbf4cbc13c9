// S3Config: the settings of the S3 content store (media/s3_store.h), read by app/config
// from NEBU_S3_* and NEBU_MEDIA_CACHE_BYTES, and the S3 backend's limits. Header-only:
// the configuration code includes it without linking the network code.
//
//   NEBU_S3_ENDPOINT            http(s)://HOST[:PORT] of the S3-compatible service
//                               (https: peer verified against the system CA store)
//   NEBU_S3_BUCKET              the bucket (must exist; nebu never creates it)
//   NEBU_S3_REGION              the SigV4 signing region, default us-east-1
//   NEBU_S3_ACCESS_KEY_ID       the access key ID
//   NEBU_S3_SECRET_ACCESS_KEY_FILE  a file holding the secret access key (a file only:
//                               the secret is never in the environment, never logged)
//   NEBU_S3_PATH_STYLE          on (default; https://host/bucket/key, MinIO and most
//                               S3-compatible services) or off (https://bucket.host/key)
//   NEBU_S3_KEY_PREFIX          prepended to every object key, e.g. "nebu/media"
//                               ([A-Za-z0-9._/-], no leading '/', at most kS3KeyPrefixBytesMax)
//   NEBU_MEDIA_CACHE_BYTES      bound of the local read cache, default kMediaCacheBytesDefault
//
// The IAM policy needs only s3:PutObject and s3:GetObject on the bucket's objects
// (HeadObject is covered by s3:GetObject); no DeleteObject, no ListBucket.
#pragma once

#include <cstdint>
#include <string>

namespace nebu::media {

// NEBU_MEDIA_CACHE_BYTES's default: 1 GiB of S3 objects kept on local disk. Over it the
// least recently used objects are removed from the cache (never from S3).
inline constexpr uint64_t kMediaCacheBytesDefault = uint64_t{1} << 30;
// Smallest accepted NEBU_MEDIA_CACHE_BYTES (1 MiB); an object larger than the bound is
// still fetched and served, then is the first evicted.
inline constexpr uint64_t kMediaCacheBytesMin = uint64_t{1} << 20;
// Connecting (TCP, and the TLS handshake) to the S3 endpoint gives up after this.
inline constexpr int64_t kS3ConnectTimeoutMs = 5'000;
// A request gives up when no byte moves in either direction for this long.
inline constexpr int64_t kS3IdleTimeoutMs = 30'000;
// A whole request (connect to last byte) gives up after this: 10 minutes, enough for
// a 100 MB object at 170 KB/s.
inline constexpr int64_t kS3RequestTimeoutMs = 600'000;
// NEBU_S3_KEY_PREFIX's length limit.
inline constexpr size_t kS3KeyPrefixBytesMax = 256;

struct S3Config {
  std::string endpoint;           // "http://127.0.0.1:9000", "https://s3.eu-west-1.amazonaws.com"
  std::string bucket;
  std::string region = "us-east-1";
  std::string access_key_id;
  std::string secret_access_key;  // secret: never logged
  bool path_style = true;
  std::string key_prefix;         // "" or e.g. "nebu/media" (a '/' is added before the hash)
  uint64_t cache_bytes = kMediaCacheBytesDefault;
  // Timeouts; tests shorten them.
  int64_t connect_timeout_ms = kS3ConnectTimeoutMs;
  int64_t idle_timeout_ms = kS3IdleTimeoutMs;
  int64_t request_timeout_ms = kS3RequestTimeoutMs;
};

}  // namespace nebu::media
