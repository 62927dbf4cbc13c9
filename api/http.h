// HTTP values of nebu's API layer: Request, Response, Headers, and the small helpers
// handlers need (JSON responses, query parameters, percent-decoding, log redaction).
//
// These are our own plain structs so that handler code and its tests never include
// Boost.Beast or Asio; only api/server.cpp converts between them and the wire.
//
//   Response HandleVersions(const Request& request, const PathParams&) {
//     if (auto since = request.Query("since")) { ... }
//     return JsonResponse(200, boost::json::object{{"versions", ...}});
//   }
//
// Thread-safety: values; copy freely.
#pragma once

#include <boost/json/fwd.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace nebu::api {

// An ordered list of header fields; names compare case-insensitively.
class Headers {
 public:
  // The first value of `name`, or nullopt.
  [[nodiscard]] std::optional<std::string_view> Get(std::string_view name) const;
  // Replaces every field called `name` with one field.
  void Set(std::string_view name, std::string_view value);
  // Appends a field even if one with that name exists.
  void Add(std::string_view name, std::string_view value);

  [[nodiscard]] const std::vector<std::pair<std::string, std::string>>& fields() const {
    return fields_;
  }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

// One HTTP request as a handler sees it. The body is complete and within the
// route's size limit when a handler runs.
struct Request {
  std::string method;  // "GET", "POST", ... as sent (HTTP methods are case-sensitive)
  std::string target;  // raw request target, e.g. "/_matrix/client/v3/sync?since=s1"
  std::string path;    // raw (still percent-encoded) path part of the target
  // Query parameters in order, names and values percent-decoded ('+' stays '+').
  std::vector<std::pair<std::string, std::string>> query;
  Headers headers;
  std::string body;
  std::string remote_address;  // "ip:port" of the peer, or the IP a trusted proxy forwarded
                              // (api/forwarded.h); empty in unit tests
  // Routes with RouteOptions::spool_body: the body is in this local file (body stays
  // empty), body_file_bytes long, with lowercase hex SHA-256 body_sha256. The server
  // deletes the file after the answer: a handler that keeps the bytes copies or links
  // them before answering. Empty for other routes.
  std::string body_file;
  uint64_t body_file_bytes = 0;
  std::string body_sha256;

  // The first decoded value of query parameter `name`, or nullopt.
  [[nodiscard]] std::optional<std::string_view> Query(std::string_view name) const;
  // The access token from "Authorization: Bearer ..." or the access_token query
  // parameter (deprecated but still in the spec), or nullopt.
  [[nodiscard]] std::optional<std::string_view> AccessToken() const;
};

// One HTTP response. The server adds Content-Length, Connection and Server.
// With body_file set (body empty) the server streams body_file_length bytes of that
// local file from body_file_offset in chunks (downloads; never the whole file in
// memory); a file that cannot be opened or read then cuts the connection.
struct Response {
  int status = 200;
  Headers headers;
  std::string body;
  std::string body_file;
  uint64_t body_file_offset = 0;
  uint64_t body_file_length = 0;
};

// One satisfiable byte range of a representation: [first, first + length).
struct ByteRange {
  uint64_t first = 0;
  uint64_t length = 0;
};
// The outcome of a Range header against a representation of `size` bytes.
struct RangeOutcome {
  enum Kind { kWhole, kPartial, kUnsatisfiable } kind = kWhole;
  ByteRange range;  // kPartial
};
// Parses a "Range: bytes=..." value (RFC 9110 14.1.2) with ONE range: "a-b", "a-",
// "-n" (the last n bytes). Anything else (other units, several ranges, malformed) is
// ignored: kWhole, as RFC 9110 allows. A range starting at or past `size` (or "-0")
// is kUnsatisfiable (416).
[[nodiscard]] RangeOutcome ParseByteRange(std::string_view value, uint64_t size);

// A response with `body` serialized as JSON and Content-Type application/json.
[[nodiscard]] Response JsonResponse(int status, const boost::json::value& body);

// Builds a Request from a method and a raw target ("/path?a=1"); splits the path from
// the query and decodes the query. For tests and for server.cpp.
[[nodiscard]] Request MakeRequest(std::string method, std::string target, std::string body = {});

// Decodes %XX escapes. Returns nullopt on a malformed escape ("%4", "%zz"). '+' is
// not special (Matrix paths and query values use %20).
[[nodiscard]] std::optional<std::string> PercentDecode(std::string_view text);

// Splits "a=1&b=%20x&c" into decoded pairs (c -> ""). Malformed escapes are kept raw.
[[nodiscard]] std::vector<std::pair<std::string, std::string>> ParseQuery(std::string_view query);

// The target with the value of every access_token query parameter replaced by
// "<redacted>", for access logs.
[[nodiscard]] std::string RedactTarget(std::string_view target);

// Adds the CORS headers the Client-Server API recommends ("Web Browser Clients"):
// Access-Control-Allow-Origin: *, -Methods, -Headers.
void AddCorsHeaders(Response& response);

}  // namespace nebu::api
