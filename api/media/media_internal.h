// Shared by the media route files (media_routes.h is the manual).
#pragma once

#include <optional>
#include <variant>
#include <string>
#include <string_view>
#include <utility>

#include "api/http.h"
#include "api/media/media_routes.h"
#include "api/router.h"
#include "engine/media/media.h"

namespace nebu::api {

struct MediaApi::State {
  State(core::Engine& e, MediaApiOptions o)
      : engine(e), options(std::move(o)), uploads(options.upload_rate, options.rate_limit) {}
  core::Engine& engine;
  MediaApiOptions options;
  RateLimiter uploads;
};

namespace media_internal {

// The record a download or thumbnail serves, or the error response: 404 M_NOT_FOUND
// (remote server, malformed or unknown ID, deleted, quarantined, expired), 504
// M_NOT_YET_UPLOADED (created, not uploaded yet).
std::variant<media::MediaRecord, Response> FindServable(const MediaApi::State& state,
                                                        std::string_view server_name,
                                                        std::string_view media_id);

// 502 M_UNKNOWN for a content store failure (logged).
Response StoreFailure(const Status& status);

Response HandleDownload(const MediaApi::State& state, const Request& request,
                        const PathParams& params, bool authenticated);
Response HandleThumbnail(const MediaApi::State& state, const Request& request,
                         const PathParams& params, bool authenticated);

// The Content-Disposition value for a download (see media_routes.h).
std::string ContentDisposition(std::string_view content_type, std::string_view file_name);

}  // namespace media_internal
}  // namespace nebu::api
