// Goal: the router's catch-up on a miss (api/router.h, api/cluster_view.h) without etcd:
// which answers make it ask the barrier (401 M_UNKNOWN_TOKEN, 403 M_FORBIDDEN, 404
// M_NOT_FOUND of a request with an access token, on a route that allows it), that the
// handler is re-run only when the barrier says it caught up, at most once, with the
// request and params of the first run (also for asynchronous and offloaded routes),
// that a router without a barrier never asks, and the metric (promtool-clean).
// Method: Router::Handle with a fake CatchUpBarrier that answers from its own thread.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json/parse.hpp>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/cluster_view.h"
#include "api/errors.h"
#include "api/metrics.h"
#include "api/router.h"
#include "engine/testing/temp_dir.h"
#include "tests/security/metrics_util.h"

namespace nebu::api {
namespace {

// Answers every catch-up with `result` from a thread of its own (as the real one does
// from its pool); `on_catch_up` runs first there (a test's "the node applied it").
class FakeCatchUpBarrier final : public CatchUpBarrier {
 public:
  explicit FakeCatchUpBarrier(CatchUpResult result) : result_(result) {}
  ~FakeCatchUpBarrier() override {
    std::lock_guard lock(mu_);
    for (std::thread& t : threads_) t.join();
  }

  uint64_t AppliedRevision() const override { return applied_revision.load(); }
  void CatchUpAsync(uint64_t seen_applied, std::function<void(CatchUpResult)> done) override {
    calls_.fetch_add(1);
    last_seen_applied.store(seen_applied);
    std::lock_guard lock(mu_);
    threads_.emplace_back([this, done = std::move(done)] {
      if (on_catch_up) on_catch_up();
      done(result_);
    });
  }

  int calls() const { return calls_.load(); }
  std::function<void()> on_catch_up;  // set before use
  std::atomic<uint64_t> applied_revision{0};
  std::atomic<uint64_t> last_seen_applied{0};

 private:
  const CatchUpResult result_;
  std::atomic<int> calls_{0};
  std::mutex mu_;
  std::vector<std::thread> threads_;
};

Request WithCatchUpToken(Request request) {
  request.headers.Set("Authorization", "Bearer some-token");
  return request;
}

Response ForbiddenAnswer() { return ErrorResponse(403, "M_FORBIDDEN", "You are not in the room"); }

std::string CatchUpErrcode(const Response& response) {
  return std::string(boost::json::parse(response.body).at("errcode").as_string());
}

double CatchUps(const Metrics& metrics, std::string_view outcome) {
  return security::SampleValue(metrics.Serialize(), "nebu_cluster_catchup_total{outcome=\"" +
                                                        std::string(outcome) + "\"}")
      .value_or(-1);
}

// A route whose answer is 403 until `applied` is set (what the barrier's catch-up does).
struct CatchUpRig {
  explicit CatchUpRig(CatchUpResult result, RouteOptions options = {}) : barrier(result) {
    router.Add(
        "PUT", "/rooms/{roomId}/send/{txnId}",
        [this](const Request& request, const PathParams& params) {
          runs.fetch_add(1);
          if (!applied.load()) return ForbiddenAnswer();
          return JsonResponse(200, boost::json::object{{"room", params.at("roomId")},
                                                       {"body", request.body}});
        },
        options);
    barrier.on_catch_up = [this] { applied.store(true); };
    router.SetCatchUp(&barrier);
  }
  Response Send(bool token = true) {
    Request request = MakeRequest("PUT", "/rooms/%21r%3Ax/send/t1", "hello");
    return router.Handle(token ? WithCatchUpToken(std::move(request)) : std::move(request));
  }

  Metrics metrics;
  Router router{"client", &metrics};
  FakeCatchUpBarrier barrier;  // after the router: its threads are joined first
  std::atomic<bool> applied{false};
  std::atomic<int> runs{0};
};

TEST(RouterCatchUpTest, ABehindNodeCatchesUpAndReRunsOnceWithTheSameRequest) {
  CatchUpRig rig(CatchUpResult::kCaughtUp);
  Response response = rig.Send();
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(boost::json::parse(response.body).at("room").as_string(), "!r:x");
  EXPECT_EQ(boost::json::parse(response.body).at("body").as_string(), "hello");
  EXPECT_EQ(rig.runs.load(), 2);
  EXPECT_EQ(rig.barrier.calls(), 1);
  EXPECT_EQ(response.headers.Get("Access-Control-Allow-Origin").value_or(""), "*");
  EXPECT_EQ(CatchUps(rig.metrics, "changed"), 1);
  EXPECT_EQ(CatchUps(rig.metrics, "unchanged"), 0);
}

TEST(RouterCatchUpTest, ANodeThatWasNotBehindKeepsTheFirstAnswerWithoutReRunning) {
  CatchUpRig rig(CatchUpResult::kNotBehind);
  rig.barrier.on_catch_up = nullptr;  // nothing new applied
  Response response = rig.Send();
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(CatchUpErrcode(response), "M_FORBIDDEN");
  EXPECT_EQ(rig.runs.load(), 1);
  EXPECT_EQ(rig.barrier.calls(), 1);
  EXPECT_EQ(CatchUps(rig.metrics, "not_behind"), 1);
}

TEST(RouterCatchUpTest, AReRunThatIsRefusedAgainIsAnsweredAndNeverRunAThirdTime) {
  CatchUpRig rig(CatchUpResult::kCaughtUp);
  rig.barrier.on_catch_up = nullptr;  // caught up, yet still forbidden: a real refusal
  Response response = rig.Send();
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(rig.runs.load(), 2);
  EXPECT_EQ(rig.barrier.calls(), 1);
  EXPECT_EQ(CatchUps(rig.metrics, "unchanged"), 1);
}

TEST(RouterCatchUpTest, TheAppliedRevisionIsReadBeforeTheHandlerRuns) {
  // A group applied while the handler ran must not make the answer look up to date.
  CatchUpRig rig(CatchUpResult::kNotBehind);
  rig.barrier.on_catch_up = nullptr;
  rig.barrier.applied_revision.store(5);
  rig.router.Add("GET", "/racing", [&rig](const Request&, const PathParams&) {
    rig.barrier.applied_revision.store(9);  // the apply thread moved on meanwhile
    return ForbiddenAnswer();
  });
  EXPECT_EQ(rig.router.Handle(WithCatchUpToken(MakeRequest("GET", "/racing"))).status, 403);
  EXPECT_EQ(rig.barrier.last_seen_applied.load(), 5u);
}

TEST(RouterCatchUpTest, StillBehindUnavailableOrBusyKeepTheFirstAnswer) {
  for (CatchUpResult result :
       {CatchUpResult::kStillBehind, CatchUpResult::kUnavailable, CatchUpResult::kBusy}) {
    SCOPED_TRACE(std::string(CatchUpResultName(result)));
    CatchUpRig rig(result);
    EXPECT_EQ(rig.Send().status, 403);
    EXPECT_EQ(rig.runs.load(), 1);
    EXPECT_EQ(CatchUps(rig.metrics, CatchUpResultName(result)), 1);
  }
}

TEST(RouterCatchUpTest, NoTokenOrAnOptedOutRouteNeverAsks) {
  CatchUpRig no_token(CatchUpResult::kCaughtUp);
  EXPECT_EQ(no_token.Send(/*token=*/false).status, 403);
  EXPECT_EQ(no_token.barrier.calls(), 0);
  EXPECT_EQ(no_token.runs.load(), 1);

  CatchUpRig opted_out(CatchUpResult::kCaughtUp, {.catch_up = false});
  EXPECT_EQ(opted_out.Send().status, 403);
  EXPECT_EQ(opted_out.barrier.calls(), 0);
  EXPECT_EQ(opted_out.runs.load(), 1);
}

TEST(RouterCatchUpTest, OnlyUnknownTokenForbiddenAndNotFoundAreMisses) {
  struct Case {
    Response answer;
    bool miss;
  };
  const std::vector<Case> cases = {
      {ErrorResponse(401, "M_UNKNOWN_TOKEN", "Unknown access token"), true},
      {ErrorResponse(404, "M_NOT_FOUND", "Event not found"), true},
      {ErrorResponse(403, "M_FORBIDDEN", "Not in the room"), true},
      {JsonResponse(401, boost::json::object{{"errcode", "M_UNKNOWN_TOKEN"},
                                             {"error", "expired"},
                                             {"soft_logout", true}}),
       false},
      {ErrorResponse(401, "M_MISSING_TOKEN", "Missing access token"), false},
      {ErrorResponse(401, "M_FORBIDDEN", "Invalid password"), false},  // a UIA challenge
      {ErrorResponse(403, "M_USER_SUSPENDED", "Suspended"), false},
      {ErrorResponse(400, "M_BAD_JSON", "bad"), false},
      {ErrorResponse(429, "M_LIMIT_EXCEEDED", "slow down"), false},
      {JsonResponse(200, boost::json::object{}), false},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.answer.body);
    Metrics metrics;
    Router router("client", &metrics);
    FakeCatchUpBarrier barrier(CatchUpResult::kNotBehind);
    router.SetCatchUp(&barrier);
    router.Add("GET", "/x", [&c](const Request&, const PathParams&) { return c.answer; });
    Response response = router.Handle(WithCatchUpToken(MakeRequest("GET", "/x")));
    EXPECT_EQ(response.status, c.answer.status);
    EXPECT_EQ(barrier.calls(), c.miss ? 1 : 0);
  }
}

TEST(RouterCatchUpTest, WithoutABarrierNothingChanges) {
  Metrics metrics;
  Router router("client", &metrics);
  int runs = 0;
  router.Add("GET", "/x", [&runs](const Request&, const PathParams&) {
    ++runs;
    return ForbiddenAnswer();
  });
  EXPECT_EQ(router.Handle(WithCatchUpToken(MakeRequest("GET", "/x"))).status, 403);
  EXPECT_EQ(runs, 1);
  EXPECT_FALSE(security::HasFamily(metrics.Serialize(), "nebu_cluster_catchup_total"));
}

TEST(RouterCatchUpTest, AnAsynchronousRouteAnsweringLaterIsReRunWithItsParams) {
  Metrics metrics;
  Router router("client", &metrics);
  FakeCatchUpBarrier barrier(CatchUpResult::kCaughtUp);
  std::atomic<bool> applied{false};
  std::atomic<int> runs{0};
  std::mutex mu;
  std::vector<std::thread> answerers;  // joined before the router goes
  router.AddAsync("GET", "/rooms/{roomId}/event/{eventId}",
                  [&](const Request&, const PathParams& params, Respond respond) {
                    runs.fetch_add(1);
                    std::string event_id = params.at("eventId");  // params die on return
                    std::lock_guard lock(mu);
                    answerers.emplace_back([&applied, event_id, respond] {
                      respond(applied.load() ? JsonResponse(200, boost::json::object{
                                                                     {"event_id", event_id}})
                                             : ErrorResponse(404, "M_NOT_FOUND", "no event"));
                    });
                  });
  barrier.on_catch_up = [&applied] { applied.store(true); };
  router.SetCatchUp(&barrier);
  Response response =
      router.Handle(WithCatchUpToken(MakeRequest("GET", "/rooms/!r:x/event/%24e1")));
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(boost::json::parse(response.body).at("event_id").as_string(), "$e1");
  EXPECT_EQ(runs.load(), 2);
  std::lock_guard lock(mu);
  for (std::thread& t : answerers) t.join();
}

TEST(RouterCatchUpTest, AnOffloadedRouteIsReRunOnTheOffloadPool) {
  CatchUpRig rig(CatchUpResult::kCaughtUp, {.offload = true});
  Response response = rig.Send();
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(rig.runs.load(), 2);
}

TEST(RouterCatchUpTest, TheCatchUpCountsPassPromtool) {
  CatchUpRig rig(CatchUpResult::kCaughtUp);
  EXPECT_EQ(rig.Send().status, 200);
  const std::string text = rig.metrics.Serialize();
  for (std::string_view outcome :
       {"not_behind", "still_behind", "unavailable", "busy", "changed", "unchanged"}) {
    EXPECT_GE(CatchUps(rig.metrics, outcome), 0) << outcome;
  }
  nebu::testing::TempDir dir;
  const std::string report = security::PromtoolCheck(text, dir.path() + "/metrics.txt");
  if (report == "skip") GTEST_SKIP() << "promtool not installed (Debian: prometheus)";
  EXPECT_EQ(report, "");
}

}  // namespace
}  // namespace nebu::api
