// Goal: the plain HTTP helpers handlers rely on (query parsing, percent-decoding,
// header lookup, token extraction, log redaction). Method: direct calls on literals.
#include "api/http.h"

#include <gtest/gtest.h>

namespace nebu::api {
namespace {

TEST(PercentDecodeTest, DecodesEscapesAndRejectsMalformedOnes) {
  EXPECT_EQ(PercentDecode("%21room%3Aexample.org"), "!room:example.org");
  EXPECT_EQ(PercentDecode("a%2Fb"), "a/b");
  EXPECT_EQ(PercentDecode("plain+text"), "plain+text");
  EXPECT_EQ(PercentDecode(""), "");
  EXPECT_FALSE(PercentDecode("%").has_value());
  EXPECT_FALSE(PercentDecode("%4").has_value());
  EXPECT_FALSE(PercentDecode("%zz").has_value());
}

TEST(MakeRequestTest, SplitsPathFromDecodedQuery) {
  Request request = MakeRequest("GET", "/_matrix/client/v3/sync?since=s%201&full_state=true&flag");
  EXPECT_EQ(request.path, "/_matrix/client/v3/sync");
  EXPECT_EQ(request.Query("since"), "s 1");
  EXPECT_EQ(request.Query("full_state"), "true");
  EXPECT_EQ(request.Query("flag"), "");
  EXPECT_FALSE(request.Query("missing").has_value());
}

TEST(HeadersTest, LookupIsCaseInsensitiveAndSetReplaces) {
  Headers headers;
  headers.Add("Content-Type", "text/plain");
  headers.Add("X-Twice", "1");
  headers.Add("x-twice", "2");
  EXPECT_EQ(headers.Get("content-type"), "text/plain");
  EXPECT_EQ(headers.Get("X-TWICE"), "1");
  headers.Set("x-Twice", "3");
  EXPECT_EQ(headers.Get("X-Twice"), "3");
  EXPECT_EQ(headers.fields().size(), 2u);
}

TEST(AccessTokenTest, PrefersBearerHeaderThenQueryParameter) {
  Request request = MakeRequest("GET", "/x?access_token=from_query");
  EXPECT_EQ(request.AccessToken(), "from_query");
  request.headers.Set("Authorization", "Bearer from_header");
  EXPECT_EQ(request.AccessToken(), "from_header");
  EXPECT_FALSE(MakeRequest("GET", "/x").AccessToken().has_value());
}

TEST(RedactTargetTest, HidesEveryAccessTokenValue) {
  EXPECT_EQ(RedactTarget("/sync?access_token=secret&since=s1"),
            "/sync?access_token=<redacted>&since=s1");
  EXPECT_EQ(RedactTarget("/sync?since=s1&access%5Ftoken=secret"),
            "/sync?since=s1&access%5Ftoken=<redacted>");
  EXPECT_EQ(RedactTarget("/versions"), "/versions");
  EXPECT_EQ(RedactTarget("/x?a=1"), "/x?a=1");
  // Other secrets of a query string: a registration token, an OIDC code, a login token.
  EXPECT_EQ(RedactTarget("/v1/register/m.login.registration_token/validity?token=abc"),
            "/v1/register/m.login.registration_token/validity?token=<redacted>");
  EXPECT_EQ(RedactTarget("/cb?code=xyz&state=s"), "/cb?code=<redacted>&state=s");
  EXPECT_EQ(RedactTarget("/x?loginToken=t"), "/x?loginToken=<redacted>");
}

TEST(AddCorsHeadersTest, SetsTheSpecRecommendedHeaders) {
  Response response;
  AddCorsHeaders(response);
  EXPECT_EQ(response.headers.Get("Access-Control-Allow-Origin"), "*");
  EXPECT_EQ(response.headers.Get("Access-Control-Allow-Methods"),
            "GET, POST, PUT, DELETE, OPTIONS");
  EXPECT_EQ(response.headers.Get("Access-Control-Allow-Headers"),
            "X-Requested-With, Content-Type, Authorization");
}

}  // namespace
}  // namespace nebu::api
