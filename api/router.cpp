#include "api/router.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <exception>

#include "api/errors.h"
#include "api/metrics.h"
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

}  // namespace

Router::Router(std::string listener, Metrics* metrics)
    : listener_(std::move(listener)), metrics_(metrics) {}

void Router::Add(std::string_view method, std::string_view pattern, Handler handler,
                 RouteOptions options) {
  NEBU_CHECK(!method.empty() && method != "OPTIONS", "route method must be set, not OPTIONS");
  NEBU_CHECK(handler != nullptr, "route handler must be set");
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
  target->routes.push_back({.method = std::string(method),
                            .handler = std::move(handler),
                            .body_bytes_max = options.body_bytes_max});
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

Response Router::Dispatch(const Request& request, std::string_view* route_label) const {
  const Pattern* pattern = Match(request.path);
  if (pattern != nullptr) *route_label = pattern->text;
  if (request.method == "OPTIONS") {
    Response preflight;
    preflight.status = 204;
    return preflight;
  }
  if (pattern == nullptr) return ErrorResponse(404, "M_UNRECOGNIZED", "Unrecognized request");
  const Route* route = FindRoute(*pattern, request.method);
  if (route == nullptr) {
    Response response = ErrorResponse(405, "M_UNRECOGNIZED", "Unrecognized request method");
    std::string allow;
    for (const Route& r : pattern->routes) allow.append(allow.empty() ? "" : ", ").append(r.method);
    response.headers.Set("Allow", allow.append(", OPTIONS"));
    return response;
  }
  PathParams params;
  std::vector<std::string_view> segments = SplitPath(request.path);
  for (size_t i = 0; i < segments.size(); ++i) {
    if (!pattern->segments[i].is_param) continue;
    std::optional<std::string> value = PercentDecode(segments[i]);
    if (!value) return ErrorResponse(400, "M_INVALID_PARAM", "Malformed percent-encoding in path");
    params.emplace(pattern->segments[i].text, std::move(*value));
  }
  try {
    return route->handler(request, params);
  } catch (const std::exception& e) {
    spdlog::error("api: handler {} {} threw: {}", request.method, pattern->text, e.what());
  } catch (...) {
    spdlog::error("api: handler {} {} threw a non-exception", request.method, pattern->text);
  }
  return ErrorResponse(500, "M_UNKNOWN", "Internal server error");
}

Response Router::Handle(const Request& request) const {
  auto start = std::chrono::steady_clock::now();
  std::string_view route_label = Metrics::kUnmatchedRoute;
  Response response = Dispatch(request, &route_label);
  AddCorsHeaders(response);
  if (metrics_ != nullptr) {
    std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    metrics_->RecordRequest(listener_, route_label, request.method, response.status,
                            elapsed.count());
  }
  return response;
}

size_t Router::BodyBytesMax(std::string_view method, std::string_view path) const {
  const Pattern* pattern = Match(path);
  const Route* route = pattern == nullptr ? nullptr : FindRoute(*pattern, method);
  if (route == nullptr || route->body_bytes_max == 0) return kBodyBytesMaxDefault;
  return route->body_bytes_max;
}

void Router::RecordRejected(std::string_view method, int status) const {
  if (metrics_ != nullptr) {
    metrics_->RecordRequest(listener_, Metrics::kUnmatchedRoute, method, status, 0.0);
  }
}

}  // namespace nebu::api
