// Discovery endpoints of the client listener: what a client asks before logging in.
//
//   Router client("client", &metrics);
//   AddDiscoveryRoutes(client, {.public_base_url = "https://matrix.example.org"});
//
//   GET /_matrix/client/versions    {"versions": ["v1.1", ..., "v1.11"], "unstable_features": {}}
//   GET /.well-known/matrix/client  {"m.homeserver": {"base_url": public_base_url}}
//   GET /.well-known/matrix/support {"contacts": [...], "support_page": ...} from
//                                   DiscoveryOptions::support; 404 M_NOT_FOUND when
//                                   none is configured (the spec's "no support
//                                   information available")
//   GET /.well-known/matrix/policy_server  404 M_NOT_FOUND (no policy server)
//
// Thread-safety: the handlers capture copies of the options; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"

#include "api/router.h"

namespace nebu::api {

// Bounds of the support information (kInvalidArgument past them).
inline constexpr size_t kSupportEmailBytesMax = 254;  // RFC 5321's path limit
inline constexpr size_t kSupportPageBytesMax = 2048;

// One way to reach the administrators: role "m.role.admin" or "m.role.security" (or
// a namespaced one) and at least one of matrix_id and email_address.
struct SupportContact {
  std::string role;
  std::string matrix_id;      // "" when none
  std::string email_address;  // "" when none
};
struct SupportInfo {
  std::vector<SupportContact> contacts;
  std::string support_page;  // "" when none
  [[nodiscard]] bool empty() const { return contacts.empty() && support_page.empty(); }
};
// The contact of `role` from the configured values; nullopt-like empty contact when
// both are empty. kInvalidArgument for a matrix_id that is not a user ID or an
// email_address without '@', with whitespace or over kSupportEmailBytesMax bytes.
[[nodiscard]] Result<std::optional<SupportContact>> MakeSupportContact(std::string_view role,
                                                                       std::string_view matrix_id,
                                                                       std::string_view email);
// kInvalidArgument unless an http:// or https:// URL of at most kSupportPageBytesMax
// bytes without whitespace ("" is fine: none).
[[nodiscard]] Status CheckSupportPage(std::string_view url);

struct DiscoveryOptions {
  std::string public_base_url;  // where clients reach the Client-Server API
  SupportInfo support;          // empty: /.well-known/matrix/support is 404
};

void AddDiscoveryRoutes(Router& router, const DiscoveryOptions& options);

}  // namespace nebu::api
