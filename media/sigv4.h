// SigV4: AWS Signature Version 4 request signing (the S3 backend's authentication),
// over OpenSSL's SHA-256 and HMAC-SHA256. Only the header form ("Authorization:
// AWS4-HMAC-SHA256 ...") with a known payload hash: no presigned URLs, no chunked
// (aws-chunked) payload signing.
//
//   SigV4Key key{.access_key_id = "AKID...", .secret_access_key = secret,
//                .region = "us-east-1", .service = "s3"};
//   SigV4Request r{.method = "PUT", .canonical_uri = "/bucket/ab/cd/<sha256>",
//                  .headers = {{"host", "127.0.0.1:9000"},
//                              {"x-amz-content-sha256", sha256_hex},
//                              {"x-amz-date", FormatAmzDate(now)}},
//                  .payload_sha256_hex = sha256_hex};
//   std::string authorization = SignV4(key, r).authorization;
//
// The caller chooses which headers are signed (all that it passes; host and x-amz-date
// are required by AWS), already encodes the URI path (S3: each segment URI-encoded once,
// UriEncodePath) and the query (canonical: sorted, encoded). The date comes from the
// x-amz-date header. The tests check this against AWS's published examples (the
// get-vanilla suite and the S3 GetObject/PutObject examples).
//
// Thread-safety: pure functions.
#pragma once

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nebu::media {

// The hex SHA-256 of the empty string (an empty payload's x-amz-content-sha256).
inline constexpr std::string_view kEmptySha256Hex =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

struct SigV4Key {
  std::string access_key_id;
  std::string secret_access_key;  // secret: never logged
  std::string region;             // e.g. "us-east-1"
  std::string service;            // "s3"
};

struct SigV4Request {
  std::string method;           // "GET", "PUT", "HEAD"
  std::string canonical_uri;    // already URI-encoded path, "/" for none
  std::string canonical_query;  // already canonical ("" for none)
  // Headers to sign: names any case (lowercased here), values trimmed and inner runs of
  // spaces collapsed here. Must include host and x-amz-date (YYYYMMDDTHHMMSSZ).
  std::vector<std::pair<std::string, std::string>> headers;
  std::string payload_sha256_hex;  // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

struct SigV4Signature {
  std::string canonical_request;
  std::string string_to_sign;
  std::string signed_headers;  // "host;x-amz-content-sha256;x-amz-date"
  std::string signature;       // 64 hex digits
  std::string authorization;   // the Authorization header's value
};

// Signs `request`. A request without an x-amz-date header of 16 characters gets an
// empty date scope (the signature is then simply wrong; callers always set it).
[[nodiscard]] SigV4Signature SignV4(const SigV4Key& key, const SigV4Request& request);

// "YYYYMMDDTHHMMSSZ" in UTC.
[[nodiscard]] std::string FormatAmzDate(std::chrono::system_clock::time_point time);

// The lowercase hex SHA-256 of `data`.
[[nodiscard]] std::string Sha256Hex(std::string_view data);

// HMAC-SHA256(key, data), raw 32 bytes.
[[nodiscard]] std::string HmacSha256(std::string_view key, std::string_view data);

// Lowercase hex of raw bytes.
[[nodiscard]] std::string HexEncode(std::string_view bytes);

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters (A-Z a-z 0-9 - . _ ~)
// kept, everything else %XX uppercase; '/' kept when `keep_slash` (a path).
[[nodiscard]] std::string UriEncode(std::string_view text, bool keep_slash);

}  // namespace nebu::media
