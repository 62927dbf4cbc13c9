// Goal: every StatusCode maps to the HTTP status and errcode the spec expects, and the
// error body has the standard shape. Method: table over all codes; parse bodies.
#include "api/errors.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

namespace nebu::api {
namespace {

TEST(HttpErrorForTest, MapsEveryStatusCode) {
  struct Case {
    StatusCode code;
    int status;
    std::string_view errcode;
  };
  const Case kCases[] = {
      {StatusCode::kInvalidArgument, 400, "M_INVALID_PARAM"},
      {StatusCode::kNotJson, 400, "M_NOT_JSON"},
      {StatusCode::kBadJson, 400, "M_BAD_JSON"},
      {StatusCode::kTooLarge, 413, "M_TOO_LARGE"},
      {StatusCode::kNotFound, 404, "M_NOT_FOUND"},
      {StatusCode::kAlreadyExists, 400, "M_USER_IN_USE"},
      {StatusCode::kInvalidUsername, 400, "M_INVALID_USERNAME"},
      {StatusCode::kForbidden, 403, "M_FORBIDDEN"},
      {StatusCode::kUnauthenticated, 401, "M_UNKNOWN_TOKEN"},
      {StatusCode::kResourceExhausted, 429, "M_LIMIT_EXCEEDED"},
      {StatusCode::kUnavailable, 503, "M_UNKNOWN"},
      {StatusCode::kNoSpace, 507, "M_RESOURCE_LIMIT_EXCEEDED"},
      {StatusCode::kCorruption, 500, "M_UNKNOWN"},
      {StatusCode::kIoError, 500, "M_UNKNOWN"},
      {StatusCode::kInternal, 500, "M_UNKNOWN"},
      {StatusCode::kOk, 500, "M_UNKNOWN"},
  };
  for (const Case& c : kCases) {
    HttpError error = HttpErrorFor(c.code);
    EXPECT_EQ(error.status, c.status) << StatusCodeName(c.code);
    EXPECT_EQ(error.errcode, c.errcode) << StatusCodeName(c.code);
  }
}

TEST(ErrorResponseTest, HasTheStandardErrorShape) {
  Response response = ErrorResponse(Status::NotFound("no such room"));
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.headers.Get("Content-Type"), "application/json");
  boost::json::value body = boost::json::parse(response.body);
  EXPECT_EQ(body.at("errcode").as_string(), "M_NOT_FOUND");
  EXPECT_EQ(body.at("error").as_string(), "no such room");
}

TEST(ErrorResponseTest, HidesTheMessageOfServerSideFailures) {
  Response response = ErrorResponse(Status::IoError("/var/lib/nebu/000123.sst: EIO"));
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(response.body.find("000123"), std::string::npos);
  EXPECT_EQ(boost::json::parse(response.body).at("errcode").as_string(), "M_UNKNOWN");
}

TEST(ErrorResponseTest, BuildsEndpointSpecificErrors) {
  Response response = ErrorResponse(400, "M_ROOM_IN_USE", "alias taken");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(boost::json::parse(response.body).at("errcode").as_string(), "M_ROOM_IN_USE");
}

}  // namespace
}  // namespace nebu::api
