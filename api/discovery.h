// Discovery endpoints of the client listener: what a client asks before logging in.
//
//   Router client("client", &metrics);
//   AddDiscoveryRoutes(client, {.public_base_url = "https://matrix.example.org"});
//
//   GET /_matrix/client/versions    {"versions": ["v1.1", ..., "v1.11"], "unstable_features": {}}
//   GET /.well-known/matrix/client  {"m.homeserver": {"base_url": public_base_url}}
//
// Thread-safety: the handlers capture copies of the options; safe from any thread.
#pragma once

#include <string>

#include "api/router.h"

namespace nebu::api {

struct DiscoveryOptions {
  std::string public_base_url;  // where clients reach the Client-Server API
};

void AddDiscoveryRoutes(Router& router, const DiscoveryOptions& options);

}  // namespace nebu::api
