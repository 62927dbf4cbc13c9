// Goal: the router's contract without sockets: path parameters (percent-decoded),
// specificity, 404 vs 405, OPTIONS preflight and CORS on every answer, handler
// failures, body limits and metrics. Method: Router::Handle on MakeRequest values.
#include "api/router.h"

#include <gtest/gtest.h>

#include <boost/json/array.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>
#include <stdexcept>

#include "api/discovery.h"
#include "api/metrics.h"
#include "api/ops.h"
#include "api/path_params.h"

namespace nebu::api {
namespace {

Response Text(std::string body) {
  Response response;
  response.body = std::move(body);
  return response;
}

std::string Errcode(const Response& response) {
  return std::string(boost::json::parse(response.body).at("errcode").as_string());
}

TEST(RouterTest, PassesPercentDecodedPathParams) {
  Router router("test");
  router.Add(
      "PUT", "/rooms/{roomId}/send/{eventType}/{txnId}",
      [](const Request&, const PathParams& params) {
        return Text(params.at("roomId") + "|" + params.at("eventType") + "|" + params.at("txnId"));
      });
  Response response =
      router.Handle(MakeRequest("PUT", "/rooms/%21abc%3Aexample.org/send/m.room.message/t%2F1"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "!abc:example.org|m.room.message|t/1");
}

TEST(RouterTest, MatchesAnEmptyTrailingParam) {
  Router router("test");
  router.Add("GET", "/state/{eventType}/{stateKey}", [](const Request&, const PathParams& params) {
    return Text("[" + params.at("stateKey") + "]");
  });
  EXPECT_EQ(router.Handle(MakeRequest("GET", "/state/m.room.name/")).body, "[]");
}

TEST(RouterTest, PrefersLiteralSegmentsOverParams) {
  Router router("test");
  router.Add("GET", "/devices/{deviceId}",
             [](const Request&, const PathParams&) { return Text("param"); });
  router.Add("GET", "/devices/list",
             [](const Request&, const PathParams&) { return Text("literal"); });
  EXPECT_EQ(router.Handle(MakeRequest("GET", "/devices/list")).body, "literal");
  EXPECT_EQ(router.Handle(MakeRequest("GET", "/devices/ABC")).body, "param");
}

TEST(RouterTest, AnswersUnknownPathWith404Unrecognized) {
  Router router("test");
  router.Add("GET", "/known", [](const Request&, const PathParams&) { return Text("ok"); });
  for (const char* path : {"/unknown", "/known/", "/known/extra", "", "known"}) {
    Response response = router.Handle(MakeRequest("GET", path));
    EXPECT_EQ(response.status, 404) << path;
    EXPECT_EQ(Errcode(response), "M_UNRECOGNIZED") << path;
  }
}

TEST(RouterTest, AnswersWrongMethodWith405UnrecognizedAndAllow) {
  Router router("test");
  router.Add("GET", "/known", [](const Request&, const PathParams&) { return Text("ok"); });
  router.Add("PUT", "/known", [](const Request&, const PathParams&) { return Text("ok"); });
  Response response = router.Handle(MakeRequest("POST", "/known"));
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(Errcode(response), "M_UNRECOGNIZED");
  EXPECT_EQ(response.headers.Get("Allow"), "GET, PUT, OPTIONS");
}

TEST(RouterTest, AnswersPreflightOnAnyPathWithoutRunningHandlers) {
  Router router("test");
  bool ran = false;
  router.Add("DELETE", "/known", [&](const Request&, const PathParams&) {
    ran = true;
    return Text("ok");
  });
  for (const char* path : {"/known", "/unknown/path"}) {
    Response response = router.Handle(MakeRequest("OPTIONS", path));
    EXPECT_EQ(response.status, 204) << path;
    EXPECT_TRUE(response.body.empty());
    EXPECT_EQ(response.headers.Get("Access-Control-Allow-Origin"), "*");
    EXPECT_EQ(response.headers.Get("Access-Control-Allow-Headers"),
              "X-Requested-With, Content-Type, Authorization");
  }
  EXPECT_FALSE(ran);
}

TEST(RouterTest, AddsCorsHeadersToEveryAnswer) {
  Router router("test");
  router.Add("GET", "/known", [](const Request&, const PathParams&) { return Text("ok"); });
  for (auto request :
       {MakeRequest("GET", "/known"), MakeRequest("GET", "/nope"), MakeRequest("PUT", "/known")}) {
    EXPECT_EQ(router.Handle(request).headers.Get("Access-Control-Allow-Methods"),
              "GET, POST, PUT, DELETE, OPTIONS");
  }
}

TEST(RouterTest, RejectsMalformedPercentEncodingInParams) {
  Router router("test");
  router.Add("GET", "/rooms/{roomId}",
             [](const Request&, const PathParams&) { return Text("ok"); });
  Response response = router.Handle(MakeRequest("GET", "/rooms/%zz"));
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(Errcode(response), "M_INVALID_PARAM");
}

TEST(RouterTest, RefusesParamsThatBreakTheirRuleBeforeTheHandlerRuns) {
  Router router("test");
  int ran = 0;
  router.Add("POST", "/rooms/{roomId}/leave", [&ran](const Request&, const PathParams&) {
    ++ran;
    return Text("ok");
  });
  router.Add("PUT", "/rooms/{roomId}/send/{eventType}/{txnId}",
             [&ran](const Request&, const PathParams&) {
               ++ran;
               return Text("ok");
             });
  const std::string over(kTxnIdBytesMax + 1, 't');
  for (const char* target :
       {"/rooms/%FF/leave", "/rooms/%21a%C0%80%3Ab/leave", "/rooms/%21%ED%A0%80%3Ab/leave",
        "/rooms/%21a%00%3Ab/leave", "/rooms/abc/leave"}) {
    Response response = router.Handle(MakeRequest("POST", target));
    EXPECT_EQ(response.status, 400) << target;
    EXPECT_EQ(Errcode(response), "M_INVALID_PARAM") << target;
  }
  for (std::string target : {std::string("/rooms/!a:b/send/%FF/t1"),
                             std::string("/rooms/!a:b/send/m.room.message/%00"),
                             "/rooms/!a:b/send/m.room.message/" + over}) {
    EXPECT_EQ(router.Handle(MakeRequest("PUT", target)).status, 400) << target;
  }
  EXPECT_EQ(ran, 0);
  EXPECT_EQ(router.Handle(MakeRequest("POST", "/rooms/%21a%3Ab/leave")).status, 200);
  EXPECT_EQ(ran, 1);
}

TEST(RouterTest, RefusesQueryValuesThatAreNotText) {
  Router router("test");
  router.Add("GET", "/messages", [](const Request& request, const PathParams&) {
    return Text(std::string(request.Query("from").value_or("")));
  });
  EXPECT_EQ(router.Handle(MakeRequest("GET", "/messages?from=%C3%BC")).body, "\xC3\xBC");
  for (const char* target : {"/messages?from=%FF", "/messages?from=a%00", "/messages?%ED%A0%80=1",
                             "/messages?dir=b&from=%C0%80"}) {
    Response response = router.Handle(MakeRequest("GET", target));
    EXPECT_EQ(response.status, 400) << target;
    EXPECT_EQ(Errcode(response), "M_INVALID_PARAM") << target;
  }
}

TEST(RouterTest, TurnsHandlerExceptionsInto500) {
  Router router("test");
  router.Add("GET", "/boom", [](const Request&, const PathParams&) -> Response {
    throw std::runtime_error("boom");
  });
  Response response = router.Handle(MakeRequest("GET", "/boom"));
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(Errcode(response), "M_UNKNOWN");
}

TEST(RouterTest, ReportsPerRouteBodyLimitsWithADefault) {
  Router router("test");
  auto ok = [](const Request&, const PathParams&) { return Text("ok"); };
  router.Add("POST", "/small/{id}", ok, {.body_bytes_max = 100});
  router.Add("POST", "/default", ok);
  EXPECT_EQ(router.BodyBytesMax("POST", "/small/x"), 100u);
  EXPECT_EQ(router.BodyBytesMax("POST", "/default"), Router::kBodyBytesMaxDefault);
  EXPECT_EQ(router.BodyBytesMax("GET", "/small/x"), Router::kBodyBytesMaxDefault);
  EXPECT_EQ(router.BodyBytesMax("POST", "/unknown"), Router::kBodyBytesMaxDefault);
}

TEST(RouterTest, RecordsRequestsByRoutePatternAndStatus) {
  Metrics metrics;
  Router router("client", &metrics);
  router.Add("GET", "/rooms/{roomId}",
             [](const Request&, const PathParams&) { return Text("ok"); });
  (void)router.Handle(MakeRequest("GET", "/rooms/%21a%3Ab"));
  (void)router.Handle(MakeRequest("GET", "/rooms/%21b%3Ab"));
  (void)router.Handle(MakeRequest("GET", "/nowhere"));
  std::string text = metrics.Serialize();
  constexpr std::string_view kTwoOks =
      R"(nebu_http_requests_total{listener="client",method="GET",route="/rooms/{roomId}",)"
      R"(status="200"} 2)";
  EXPECT_NE(text.find(kTwoOks), std::string::npos) << text;
  EXPECT_NE(text.find(R"x(route="(unmatched)",status="404"} 1)x"), std::string::npos) << text;
  EXPECT_NE(text.find("nebu_http_request_duration_seconds_bucket"), std::string::npos);
}

TEST(DiscoveryTest, AdvertisesVersionsAndWellKnown) {
  Router router("client");
  AddDiscoveryRoutes(router, {.public_base_url = "https://matrix.example.org"});
  Response versions = router.Handle(MakeRequest("GET", "/_matrix/client/versions"));
  ASSERT_EQ(versions.status, 200);
  boost::json::value body = boost::json::parse(versions.body);
  const boost::json::array& list = body.at("versions").as_array();
  EXPECT_EQ(list.front().as_string(), "v1.1");
  EXPECT_EQ(list.back().as_string(), "v1.11");
  Response well_known = router.Handle(MakeRequest("GET", "/.well-known/matrix/client"));
  EXPECT_EQ(boost::json::parse(well_known.body).at("m.homeserver").at("base_url").as_string(),
            "https://matrix.example.org");
}

TEST(OpsTest, ReadyFollowsTheProbe) {
  Metrics metrics;
  Router router("ops", &metrics);
  bool ready = false;
  AddOpsRoutes(router, metrics, [&] {
    return Readiness{.ready = ready, .body = {{"status", ready ? "ready" : "starting"}}};
  });
  EXPECT_EQ(router.Handle(MakeRequest("GET", "/ready")).status, 503);
  ready = true;
  Response response = router.Handle(MakeRequest("GET", "/ready"));
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, R"({"status":"ready","core_status":"GRÜN","degraded":[]})");
  EXPECT_EQ(router.Handle(MakeRequest("GET", "/health")).body, R"({"status":"ok"})");
}

}  // namespace
}  // namespace nebu::api
