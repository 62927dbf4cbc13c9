#include "api/ops.h"

#include <boost/json/value.hpp>

namespace nebu::api {

Readiness AlwaysReady() { return {.ready = true, .body = {{"status", "ready"}}}; }

ReadinessProbe WithWriteHealth(std::function<Status()> write_status, ReadinessProbe other) {
  return [write_status = std::move(write_status), other = std::move(other)] {
    Status status = write_status();
    if (status.ok()) return other();
    const char* what = status.code() == StatusCode::kNoSpace ? "disk_full" : "writes_stopped";
    return Readiness{.ready = false,
                     .body = {{"status", what}, {"cause", status.message()}}};
  };
}

void AddOpsRoutes(Router& router, Metrics& metrics, ReadinessProbe probe) {
  router.Add("GET", "/health", [](const Request&, const PathParams&) {
    return JsonResponse(200, boost::json::object{{"status", "ok"}});
  });
  router.Add("GET", "/ready", [probe = std::move(probe)](const Request&, const PathParams&) {
    Readiness readiness = probe();
    return JsonResponse(readiness.ready ? 200 : 503, readiness.body);
  });
  router.Add("GET", "/metrics", [&metrics](const Request&, const PathParams&) {
    Response response;
    response.headers.Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8");
    response.body = metrics.Serialize();
    return response;
  });
}

}  // namespace nebu::api
