#include "api/errors.h"

#include <spdlog/spdlog.h>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace nebu::api {

HttpError HttpErrorFor(StatusCode code) {
  switch (code) {
    case StatusCode::kInvalidArgument:
      return {400, "M_INVALID_PARAM"};
    case StatusCode::kNotJson:
      return {400, "M_NOT_JSON"};
    case StatusCode::kBadJson:
      return {400, "M_BAD_JSON"};
    case StatusCode::kTooLarge:
      return {413, "M_TOO_LARGE"};
    case StatusCode::kNotFound:
      return {404, "M_NOT_FOUND"};
    case StatusCode::kAlreadyExists:
      return {400, "M_USER_IN_USE"};
    case StatusCode::kInvalidUsername:
      return {400, "M_INVALID_USERNAME"};
    case StatusCode::kForbidden:
      return {403, "M_FORBIDDEN"};
    case StatusCode::kUnauthenticated:
      return {401, "M_UNKNOWN_TOKEN"};
    case StatusCode::kResourceExhausted:
      return {429, "M_LIMIT_EXCEEDED"};
    case StatusCode::kUnavailable:
      return {503, "M_UNKNOWN"};
    case StatusCode::kNoSpace:  // 507 Insufficient Storage (RFC 4918); clients retry later
      return {507, "M_RESOURCE_LIMIT_EXCEEDED"};
    case StatusCode::kOk:
    case StatusCode::kCorruption:
    case StatusCode::kIoError:
    case StatusCode::kInternal:
      return {500, "M_UNKNOWN"};
  }
  return {500, "M_UNKNOWN"};
}

Response ErrorResponse(int http_status, std::string_view errcode, std::string_view message) {
  return JsonResponse(http_status, boost::json::object{{"errcode", errcode}, {"error", message}});
}

Response ErrorResponse(const Status& status) {
  HttpError error = HttpErrorFor(status.code());
  if (error.status >= 500 && status.code() != StatusCode::kUnavailable &&
      status.code() != StatusCode::kNoSpace) {
    spdlog::error("api: internal error answered with {}: {}", error.status, status.ToString());
    return ErrorResponse(error.status, error.errcode, "Internal server error");
  }
  return ErrorResponse(error.status, error.errcode, status.message());
}

Response BadJsonResponse(std::string_view message) {
  return ErrorResponse(400, "M_BAD_JSON", message);
}

Response InvalidParamResponse(std::string_view message) {
  return ErrorResponse(400, "M_INVALID_PARAM", message);
}

}  // namespace nebu::api
