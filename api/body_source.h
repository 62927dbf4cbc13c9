// Streamed response bodies: a body produced while it is sent (the compliance exports:
// JSON Lines read page by page from PostgreSQL; never the whole body in memory).
//
//   Response response;                                   // status, headers as usual
//   AttachBodySource(response, std::make_shared<MyBody>(...));
//   respond(std::move(response));
//
// The server (server.cpp) sends the header, then asks the source for the first piece
// and for each next piece only once the previous one is on the wire (at most one piece
// per connection in memory), each as an HTTP chunk (Transfer-Encoding: chunked; under
// HTTP/1.0 as plain bytes up to the close), each write bounded by the server's write
// timeout. A failed piece cuts the connection without the final chunk, so the client
// knows the body is incomplete.
//
// How the source travels: Response (api/http.h) has no field for it, so a source is
// parked in a process-wide table under a number that the response carries in the
// header kBodySourceHeader; the server takes it out (and drops that header). A source
// whose response never reached a server (the connection closed first) is dropped from
// the table after kBodySourceClaimMsMax, at the next AttachBodySource. (Moving it into
// Response is a one-field change for when api/http.h is edited anyway.)
//
// Thread-safety: AttachBodySource and TakeBodySource from any thread. The server never
// calls Next() again before `done` ran; the source is dropped (after any pending
// `done`) when the client goes away, which is how a source learns to stop.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "api/http.h"

namespace nebu::api {

inline constexpr std::string_view kBodySourceHeader = "X-Nebu-Body-Source";
inline constexpr int64_t kBodySourceClaimMsMax = 60'000;

// One piece of a streamed body: bytes, or the end, or a failure.
struct BodyPiece {
  std::string data;     // sent as one HTTP chunk when not empty
  bool end = false;     // the body is complete (data, if any, is its last piece)
  bool failed = false;  // cut the connection
};

class BodySource {
 public:
  virtual ~BodySource() = default;
  // Produces the next piece and calls `done` exactly once, from any thread. Long work
  // belongs on the source's own threads, not the caller's (an I/O thread).
  virtual void Next(std::function<void(BodyPiece)> done) = 0;
};

// Makes `response` stream `source` (its body must be empty).
void AttachBodySource(Response& response, std::shared_ptr<BodySource> source);

// The source `response` carries (removing it from the table), or null when it carries
// none. *expired is set when it carried one that was dropped (claimed too late).
[[nodiscard]] std::shared_ptr<BodySource> TakeBodySource(const Response& response, bool* expired);

}  // namespace nebu::api
