// Matrix error responses, and the one place where a nebu::StatusCode becomes an HTTP
// status and a Matrix errcode (Client-Server API § "Standard error response").
//
//   NEBU_ASSIGN_OR_RETURN-style code in handlers ends like this:
//     auto room = engine.FindRoom(id);
//     if (!room.ok()) return ErrorResponse(room.status());  // 404 M_NOT_FOUND, ...
//     return ErrorResponse(400, "M_ROOM_IN_USE", "alias taken");  // endpoint-specific
//
// The body is always {"errcode": ..., "error": ...} with Content-Type application/json.
// Server-side failures (kCorruption, kIoError, kInternal) are logged with their
// message and answered with a generic text, so paths and internals never leak.
//
// Thread-safety: pure functions.
#pragma once

#include <string_view>

#include "api/http.h"
#include "engine/common/status.h"

namespace nebu::api {

struct HttpError {
  int status;                // HTTP status code
  std::string_view errcode;  // Matrix errcode, e.g. "M_NOT_FOUND"
};

// The HTTP status and errcode for a non-OK code:
//   kInvalidArgument 400 M_INVALID_PARAM   kNotJson 400 M_NOT_JSON   kBadJson 400 M_BAD_JSON
//   kTooLarge 413 M_TOO_LARGE   kNotFound 404 M_NOT_FOUND   kAlreadyExists 400 M_USER_IN_USE
//   kInvalidUsername 400 M_INVALID_USERNAME   kForbidden 403 M_FORBIDDEN
//   kUnauthenticated 401 M_UNKNOWN_TOKEN   kResourceExhausted 429 M_LIMIT_EXCEEDED
//   kUnavailable 503 M_UNKNOWN   kNoSpace 507 M_RESOURCE_LIMIT_EXCEEDED (disk full)
//   kCorruption/kIoError/kInternal (and kOk) 500 M_UNKNOWN
// Endpoints whose spec names another errcode (M_ROOM_IN_USE, ...) build it directly.
[[nodiscard]] HttpError HttpErrorFor(StatusCode code);

// {"errcode": errcode, "error": message} with the given HTTP status.
[[nodiscard]] Response ErrorResponse(int http_status, std::string_view errcode,
                                     std::string_view message);

// 400 M_BAD_JSON and 400 M_INVALID_PARAM with `message`: the two most common answers to
// bad input.
[[nodiscard]] Response BadJsonResponse(std::string_view message);
[[nodiscard]] Response InvalidParamResponse(std::string_view message);

// The standard error response for a non-OK status (see HttpErrorFor). An OK status is
// a programmer error and answers 500.
[[nodiscard]] Response ErrorResponse(const Status& status);

}  // namespace nebu::api
