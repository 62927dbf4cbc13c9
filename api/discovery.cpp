#include "api/discovery.h"

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include "api/errors.h"
#include "engine/event/identifiers.h"

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

bool HasSpace(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7F) return true;
  }
  return false;
}

boost::json::value SupportBody(const SupportInfo& support) {
  boost::json::object out;
  if (!support.contacts.empty()) {
    boost::json::array contacts;
    for (const SupportContact& c : support.contacts) {
      boost::json::object contact{{"role", c.role}};
      if (!c.matrix_id.empty()) contact["matrix_id"] = c.matrix_id;
      if (!c.email_address.empty()) contact["email_address"] = c.email_address;
      contacts.push_back(std::move(contact));
    }
    out["contacts"] = std::move(contacts);
  }
  if (!support.support_page.empty()) out["support_page"] = support.support_page;
  return out;
}

}  // namespace

Result<std::optional<SupportContact>> MakeSupportContact(std::string_view role,
                                                         std::string_view matrix_id,
                                                         std::string_view email) {
  if (matrix_id.empty() && email.empty()) return std::optional<SupportContact>();
  if (!matrix_id.empty() && !event::IsValidUserId(matrix_id)) {
    return Status::InvalidArgument("not a Matrix user ID: \"" + std::string(matrix_id) + "\"");
  }
  if (!email.empty() && (email.size() > kSupportEmailBytesMax || HasSpace(email) ||
                         email.find('@') == std::string_view::npos)) {
    return Status::InvalidArgument("not an email address: \"" + std::string(email) + "\"");
  }
  return std::optional<SupportContact>(
      SupportContact{std::string(role), std::string(matrix_id), std::string(email)});
}

Status CheckSupportPage(std::string_view url) {
  if (url.empty()) return Status::Ok();
  if (url.size() > kSupportPageBytesMax || HasSpace(url) ||
      !(url.starts_with("http://") || url.starts_with("https://"))) {
    return Status::InvalidArgument("expected an http:// or https:// URL");
  }
  return Status::Ok();
}

void AddDiscoveryRoutes(Router& router, const DiscoveryOptions& options) {
  router.Add("GET", "/_matrix/client/versions",
             [](const Request&, const PathParams&) { return JsonResponse(200, VersionsBody()); });
  boost::json::value well_known = boost::json::object{
      {"m.homeserver", boost::json::object{{"base_url", options.public_base_url}}}};
  router.Add("GET", "/.well-known/matrix/client", [well_known](const Request&, const PathParams&) {
    return JsonResponse(200, well_known);
  });
  Response support =
      options.support.empty()
          ? ErrorResponse(404, "M_NOT_FOUND", "No server support information available")
          : JsonResponse(200, SupportBody(options.support));
  router.Add("GET", "/.well-known/matrix/support",
             [support](const Request&, const PathParams&) { return support; });
  router.Add("GET", "/.well-known/matrix/policy_server", [](const Request&, const PathParams&) {
    return ErrorResponse(404, "M_NOT_FOUND", "This server has no policy server");
  });
}

}  // namespace nebu::api
