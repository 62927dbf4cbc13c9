#include "api/router.h"

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/registry.h>
#include <spdlog/spdlog.h>

#include <array>
#include <atomic>
#include <chrono>
#include <exception>
#include <future>
#include <memory>

#include <boost/json/parse.hpp>
#include <boost/json/value.hpp>

#include "api/cluster_view.h"
#include "api/errors.h"
#include "api/metrics.h"
#include "api/path_params.h"
#include "api/rate_limit.h"
#include "engine/common/status.h"

namespace nebu::api {
namespace {

// Splits "/a/b/" into {"a", "b", ""}; a path that does not start with '/' has none.
std::vector<std::string_view> SplitPath(std::string_view path) {
  std::vector<std::string_view> segments;
  if (path.empty() || path.front() != '/') return segments;
  path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

bool IsParamSegment(std::string_view segment) {
  return segment.size() > 2 && segment.front() == '{' && segment.back() == '}';
}

// One request's answer: adds the CORS headers, records the metrics and passes the
// response on, the first time only. Destroyed unanswered (every Respond copy dropped),
// it answers 500 so the connection never hangs.
class ResponseSlot {
 public:
  ResponseSlot(Respond respond, Metrics* metrics, std::string_view listener,
               std::string_view route_label, std::string method)
      : respond_(std::move(respond)),
        metrics_(metrics),
        listener_(listener),
        route_label_(route_label),
        method_(std::move(method)),
        start_(std::chrono::steady_clock::now()) {}
  ~ResponseSlot() {
    if (answered_.load()) return;
    spdlog::error("api: {} {} was never answered", method_, route_label_);
    Answer(ErrorResponse(500, "M_UNKNOWN", "Internal server error"));
  }
  ResponseSlot(const ResponseSlot&) = delete;
  ResponseSlot& operator=(const ResponseSlot&) = delete;

  bool answered() const { return answered_.load(); }

  void Answer(Response response) {
    if (answered_.exchange(true)) {
      spdlog::error("api: {} {} answered twice; the second answer is dropped", method_,
                    route_label_);
      return;
    }
    AddCorsHeaders(response);
    if (metrics_ != nullptr) {
      std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start_;
      metrics_->RecordRequest(listener_, route_label_, method_, response.status, elapsed.count());
    }
    try {
      respond_(std::move(response));
    } catch (const std::exception& e) {
      spdlog::error("api: delivering the answer to {} {} threw: {}", method_, route_label_,
                    e.what());
    }
  }

 private:
  Respond respond_;
  Metrics* metrics_;
  std::string_view listener_;     // the router's; the router outlives its responses
  std::string_view route_label_;  // a pattern of the router, or a static label
  std::string method_;
  std::chrono::steady_clock::time_point start_;
  std::atomic<bool> answered_{false};
};

Response InternalError() { return ErrorResponse(500, "M_UNKNOWN", "Internal server error"); }

// The outcomes of nebu_cluster_catchup_total, in Router::catch_up_counts_ order.
constexpr std::array<std::string_view, 6> kCatchUpOutcomes = {
    "not_behind", "still_behind", "unavailable", "busy", "changed", "unchanged"};

// A first answer the catch-up looks at (api/router.h): 401 M_UNKNOWN_TOKEN without
// soft_logout, 403 M_FORBIDDEN, 404 M_NOT_FOUND.
bool IsCatchUpMiss(const Response& response) {
  std::string_view wanted;
  if (response.status == 401) {
    wanted = "M_UNKNOWN_TOKEN";
  } else if (response.status == 403) {
    wanted = "M_FORBIDDEN";
  } else if (response.status == 404) {
    wanted = "M_NOT_FOUND";
  } else {
    return false;
  }
  boost::system::error_code ec;
  boost::json::value body = boost::json::parse(response.body, ec);
  if (ec || !body.is_object()) return false;
  const boost::json::object& object = body.get_object();
  const boost::json::value* errcode = object.if_contains("errcode");
  if (errcode == nullptr || !errcode->is_string() || errcode->get_string() != wanted) return false;
  const boost::json::value* soft = object.if_contains("soft_logout");
  return soft == nullptr || !soft->is_bool() || !soft->get_bool();
}

}  // namespace

Router::Router(std::string listener, Metrics* metrics, WorkerPoolOptions offload)
    : listener_(std::move(listener)), metrics_(metrics), offload_options_(offload) {}

Router::~Router() { offload_pool_.reset(); }

void Router::AddDrainHook(std::function<void()> hook) {
  NEBU_CHECK(hook != nullptr, "drain hook must be set");
  drain_hooks_.push_back(std::move(hook));
}

void Router::Drain() const {
  for (const auto& hook : drain_hooks_) hook();
}

void Router::Add(std::string_view method, std::string_view pattern, Handler handler,
                 RouteOptions options) {
  NEBU_CHECK(handler != nullptr, "route handler must be set");
  AddRoute(method, pattern,
           {.method = std::string(method),
            .handler = std::move(handler),
            .async_handler = nullptr,
            .body_bytes_max = options.body_bytes_max,
            .offload = options.offload,
            .spool_body = options.spool_body,
            .catch_up = options.catch_up});
  if (options.offload && offload_pool_ == nullptr) {
    offload_pool_ = std::make_unique<WorkerPool>(offload_options_);
  }
}

void Router::AddAsync(std::string_view method, std::string_view pattern, AsyncHandler handler,
                      RouteOptions options) {
  NEBU_CHECK(handler != nullptr, "route handler must be set");
  AddRoute(method, pattern,
           {.method = std::string(method),
            .handler = nullptr,
            .async_handler = std::move(handler),
            .body_bytes_max = options.body_bytes_max,
            .offload = false,
            .spool_body = options.spool_body,
            .catch_up = options.catch_up});
}

void Router::AddRoute(std::string_view method, std::string_view pattern, Route route) {
  NEBU_CHECK(!method.empty() && method != "OPTIONS", "route method must be set, not OPTIONS");
  std::vector<std::string_view> raw = SplitPath(pattern);
  NEBU_CHECK(!raw.empty(), "route pattern must start with '/'");
  Pattern* target = nullptr;
  for (Pattern& existing : patterns_) {
    if (existing.text == pattern) target = &existing;
  }
  if (target == nullptr) {
    Pattern fresh{.text = std::string(pattern), .segments = {}, .routes = {}};
    for (std::string_view segment : raw) {
      bool is_param = IsParamSegment(segment);
      NEBU_CHECK(is_param || segment.find_first_of("{}") == std::string_view::npos,
                 "a pattern segment is a literal or a whole {param}");
      fresh.segments.push_back(
          {.text = std::string(is_param ? segment.substr(1, segment.size() - 2) : segment),
           .is_param = is_param});
    }
    target = &patterns_.emplace_back(std::move(fresh));
  }
  NEBU_CHECK(FindRoute(*target, method) == nullptr, "duplicate route");
  target->routes.push_back(std::move(route));
}

const Router::Pattern* Router::Match(std::string_view path) const {
  std::vector<std::string_view> segments = SplitPath(path);
  const Pattern* best = nullptr;
  for (const Pattern& pattern : patterns_) {
    if (pattern.segments.size() != segments.size()) continue;
    bool matches = true;
    for (size_t i = 0; i < segments.size() && matches; ++i) {
      matches = pattern.segments[i].is_param || pattern.segments[i].text == segments[i];
    }
    if (!matches) continue;
    if (best == nullptr) {
      best = &pattern;
      continue;
    }
    for (size_t i = 0; i < segments.size(); ++i) {  // literal beats param, leftmost first
      if (pattern.segments[i].is_param == best->segments[i].is_param) continue;
      if (!pattern.segments[i].is_param) best = &pattern;
      break;
    }
  }
  return best;
}

const Router::Route* Router::FindRoute(const Pattern& pattern, std::string_view method) {
  for (const Route& route : pattern.routes) {
    if (route.method == method) return &route;
  }
  return nullptr;
}

std::optional<Response> Router::Resolve(const Request& request, const Route** route,
                                        PathParams* params, std::string_view* route_label) const {
  const Pattern* pattern = Match(request.path);
  if (pattern != nullptr) *route_label = pattern->text;
  if (request.method == "OPTIONS") {
    Response preflight;
    preflight.status = 204;
    return preflight;
  }
  if (pattern == nullptr) return ErrorResponse(404, "M_UNRECOGNIZED", "Unrecognized request");
  *route = FindRoute(*pattern, request.method);
  if (*route == nullptr) {
    Response response = ErrorResponse(405, "M_UNRECOGNIZED", "Unrecognized request method");
    std::string allow;
    for (const Route& r : pattern->routes) allow.append(allow.empty() ? "" : ", ").append(r.method);
    response.headers.Set("Allow", allow.append(", OPTIONS"));
    return response;
  }
  std::vector<std::string_view> segments = SplitPath(request.path);
  for (size_t i = 0; i < segments.size(); ++i) {
    if (!pattern->segments[i].is_param) continue;
    const std::string& name = pattern->segments[i].text;
    std::optional<std::string> value = PercentDecode(segments[i]);
    if (!value) return ErrorResponse(400, "M_INVALID_PARAM", "Malformed percent-encoding in path");
    if (auto error = PathParamError(name, *value)) {
      return ErrorResponse(400, "M_INVALID_PARAM", *error);
    }
    params->emplace(name, std::move(*value));
  }
  if (auto error = QueryError(request.query)) return ErrorResponse(400, "M_INVALID_PARAM", *error);
  return std::nullopt;
}

Respond Router::Finisher(const Request& request, std::string_view route_label,
                         Respond respond) const {
  auto slot = std::make_shared<ResponseSlot>(std::move(respond), metrics_, listener_, route_label,
                                             request.method);
  return [slot](Response response) { slot->Answer(std::move(response)); };
}

void Router::Run(const Route& route, const Request& request, const PathParams& params,
                 std::string_view route_label, const Respond& respond) {
  auto answered = std::make_shared<std::atomic<bool>>(false);
  Respond once = [respond, answered](Response response) {
    answered->store(true);
    respond(std::move(response));
  };
  try {
    if (route.handler) {
      respond(route.handler(request, params));
    } else {
      route.async_handler(request, params, std::move(once));
    }
    return;
  } catch (const std::exception& e) {
    spdlog::error("api: handler {} {} threw: {}", request.method, route_label, e.what());
  } catch (...) {
    spdlog::error("api: handler {} {} threw a non-exception", request.method, route_label);
  }
  if (!answered->load()) respond(InternalError());
}

void Router::Offload(const Route& route, const Request& request, PathParams params,
                     std::string_view route_label, Respond respond) const {
  bool queued = offload_pool_->Post(
      [&route, request, params = std::move(params), route_label, respond] {
        Run(route, request, params, route_label, respond);
      });
  if (!queued) {
    spdlog::warn("api: offload queue full, {} {} refused", request.method, route_label);
    respond(RateLimitedResponse(kOffloadBusyRetryAfterMs));
  }
}

void Router::SetCatchUp(CatchUpBarrier* barrier) {
  NEBU_CHECK(catch_up_ == nullptr, "SetCatchUp called twice");
  catch_up_ = barrier;
  if (barrier == nullptr || metrics_ == nullptr) return;
  auto& family = prometheus::BuildCounter()
                     .Name("nebu_cluster_catchup_total")
                     .Help("Requests answered 401 M_UNKNOWN_TOKEN, 403 M_FORBIDDEN or 404 "
                           "M_NOT_FOUND that made this cluster node catch up with etcd, by "
                           "outcome (changed/unchanged: re-run after catching up)")
                     .Register(metrics_->registry());
  for (std::string_view outcome : kCatchUpOutcomes) {
    catch_up_counts_.push_back(&family.Add({{"outcome", std::string(outcome)}}));
  }
}

void Router::CountCatchUp(std::string_view outcome) const {
  for (size_t i = 0; i < catch_up_counts_.size(); ++i) {
    if (kCatchUpOutcomes[i] == outcome) catch_up_counts_[i]->Increment();
  }
}

Respond Router::CatchUpOnMiss(const Route& route, const Request& request,
                              const PathParams& params, std::string_view route_label,
                              Respond finish) const {
  if (catch_up_ == nullptr || !route.catch_up || !request.AccessToken()) return finish;
  // The handler's request and params live only until it returns: keep copies for a re-run.
  auto request_copy = std::make_shared<const Request>(request);
  auto params_copy = std::make_shared<const PathParams>(params);
  auto first_taken = std::make_shared<std::atomic<bool>>(false);
  // Before the handler runs: what it reads is at least this far.
  const uint64_t seen_applied = catch_up_->AppliedRevision();
  return [this, &route, request_copy, params_copy, route_label, first_taken, seen_applied,
          finish = std::move(finish)](Response first) {
    // Only the first answer may start a catch-up; a second one goes to the slot (dropped).
    if (first_taken->exchange(true) || !IsCatchUpMiss(first)) return finish(std::move(first));
    auto held = std::make_shared<Response>(std::move(first));
    catch_up_->CatchUpAsync(seen_applied, [this, &route, request_copy, params_copy, route_label,
                                           held, finish](CatchUpResult result) {
      if (result != CatchUpResult::kCaughtUp) {
        CountCatchUp(CatchUpResultName(result));
        return finish(std::move(*held));
      }
      Rerun(route, request_copy, params_copy, route_label, std::move(*held), finish);
    });
  };
}

void Router::Rerun(const Route& route, const std::shared_ptr<const Request>& request,
                   const std::shared_ptr<const PathParams>& params, std::string_view route_label,
                   Response first, const Respond& finish) const {
  const int first_status = first.status;
  Respond second = [this, first_status, finish](Response response) {
    CountCatchUp(response.status != first_status ? "changed" : "unchanged");
    finish(std::move(response));
  };
  if (!route.offload) {
    Run(route, *request, *params, route_label, second);
    return;
  }
  bool queued = offload_pool_->Post([&route, request, params, route_label, second] {
    Run(route, *request, *params, route_label, second);
  });
  if (!queued) {
    spdlog::warn("api: offload queue full, {} {} not re-run after catching up", request->method,
                 route_label);
    CountCatchUp("unchanged");
    finish(std::move(first));
  }
}

void Router::HandleAsync(const Request& request, Respond respond) const {
  std::string_view route_label = Metrics::kUnmatchedRoute;
  const Route* route = nullptr;
  PathParams params;
  std::optional<Response> ready = Resolve(request, &route, &params, &route_label);
  Respond finish = Finisher(request, route_label, std::move(respond));
  if (ready) {
    finish(std::move(*ready));
    return;
  }
  finish = CatchUpOnMiss(*route, request, params, route_label, std::move(finish));
  if (route->offload) {
    Offload(*route, request, std::move(params), route_label, std::move(finish));
    return;
  }
  Run(*route, request, params, route_label, finish);
}

Response Router::Handle(const Request& request) const {
  std::promise<Response> answer;
  std::future<Response> future = answer.get_future();
  auto shared = std::make_shared<std::promise<Response>>(std::move(answer));
  HandleAsync(request, [shared](Response response) { shared->set_value(std::move(response)); });
  return future.get();
}

size_t Router::BodyBytesMax(std::string_view method, std::string_view path) const {
  const Pattern* pattern = Match(path);
  const Route* route = pattern == nullptr ? nullptr : FindRoute(*pattern, method);
  if (route == nullptr || route->body_bytes_max == 0) return kBodyBytesMaxDefault;
  return route->body_bytes_max;
}

bool Router::SpoolsBody(std::string_view method, std::string_view path) const {
  const Pattern* pattern = Match(path);
  const Route* route = pattern == nullptr ? nullptr : FindRoute(*pattern, method);
  return route != nullptr && route->spool_body;
}

void Router::RecordRejected(std::string_view method, int status) const {
  if (metrics_ != nullptr) {
    metrics_->RecordRequest(listener_, Metrics::kUnmatchedRoute, method, status, 0.0);
  }
}

}  // namespace nebu::api
