#include "api/discovery.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

namespace nebu::api {
namespace {

// Spec versions this server advertises; the API issue grows the implementation to match.
constexpr int kSpecMinorVersionMax = 11;

boost::json::value VersionsBody() {
  boost::json::array versions;
  for (int minor = 1; minor <= kSpecMinorVersionMax; ++minor) {
    versions.emplace_back("v1." + std::to_string(minor));
  }
  return boost::json::object{{"versions", std::move(versions)},
                             {"unstable_features", boost::json::object{}}};
}

}  // namespace

void AddDiscoveryRoutes(Router& router, const DiscoveryOptions& options) {
  router.Add("GET", "/_matrix/client/versions",
             [](const Request&, const PathParams&) { return JsonResponse(200, VersionsBody()); });
  boost::json::value well_known = boost::json::object{
      {"m.homeserver", boost::json::object{{"base_url", options.public_base_url}}}};
  router.Add("GET", "/.well-known/matrix/client", [well_known](const Request&, const PathParams&) {
    return JsonResponse(200, well_known);
  });
}

}  // namespace nebu::api
