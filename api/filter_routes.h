// Filters (Client-Server API § Filtering): POST /user/{userId}/filter and
// GET /user/{userId}/filter/{filterId}, under v3 and r0.
//
// A filter ID is stateless: "F" + the URL-safe unpadded base64 of the filter's
// canonical JSON. Uploading the same filter twice gives the same ID, nothing is
// stored or replicated, and /sync?filter=<id> decodes it (FilterFromId). IDs never
// start with '{', as the spec requires. Filters are at most kFilterBytesMax bytes of
// canonical JSON (400 M_TOO_LARGE beyond), so an ID fits comfortably in a URL.
//
//   AddFilterRoutes(router, *engine);
//   std::optional<std::string> json = FilterFromId(id);   // the filter's JSON text
//
// Thread-safety: stateless; safe from any thread.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "api/router.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

inline constexpr size_t kFilterBytesMax = 4096;

// The canonical JSON of the filter an ID stands for; nullopt for a malformed ID.
std::optional<std::string> FilterFromId(std::string_view filter_id);

void AddFilterRoutes(Router& router, core::Engine& engine);

}  // namespace nebu::api
