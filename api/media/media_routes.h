// Media routes (Client-Server API "Content repository", spec v1.11+): uploads,
// downloads, thumbnails and the configuration, over a media::ContentStore for the bytes
// and engine/media for the metadata (a kMedia command per upload).
//
//   auto media = std::make_shared<api::MediaApi>(engine, api::MediaApiOptions{.store = store});
//   media->Mount(client_router);   // ClientApiOptions::media does this for the client API
//   media->Mount(media_router);    // NEBU_MEDIA_ADDR: a listener with only these routes
//
// Routes (serverName must be this server's name, else 404 M_NOT_FOUND: no federation):
//   GET  /_matrix/client/v1/media/config                     {"m.upload.size": limit}
//   GET  /_matrix/client/v1/media/download/{serverName}/{mediaId}[/{fileName}]
//   GET  /_matrix/client/v1/media/thumbnail/{serverName}/{mediaId}
//        ?width&height (required, 1..; larger than kThumbnailSideMax is clamped),
//        method=crop|scale (default scale), animated=true|false
//   GET  /_matrix/client/v1/media/preview_url                404 M_UNRECOGNIZED: URL
//        previews are off (the server fetches nothing from the internet)
//   POST /_matrix/media/v3/upload?filename=                  {"content_uri": "mxc://..."}
//   POST /_matrix/media/v1/create                            {"content_uri", "unused_expires_at"}
//   PUT  /_matrix/media/v3/upload/{serverName}/{mediaId}?filename=   {}
//   legacy (options.legacy, NEBU_MEDIA_LEGACY): /_matrix/media/{v3,r0}/download/...,
//        /thumbnail/..., without authentication; /config, /preview_url and r0/upload
//        with it. Off: those paths answer the router's 404 M_UNRECOGNIZED.
// Downloads and thumbnails stream a local file (Response::body_file) with
// Content-Type (the upload's, or application/octet-stream), Content-Disposition
// (inline only for the spec's safe types, attachment otherwise; RFC 6266 filename and
// filename*), Content-Security-Policy (the spec's recommended sandbox policy),
// X-Content-Type-Options: nosniff, Cross-Origin-Resource-Policy: cross-origin,
// Accept-Ranges: bytes, and one `Range: bytes=` range (206 + Content-Range; 416 with
// Content-Range: bytes */size when unsatisfiable).
// Errors: 404 M_NOT_FOUND (unknown, deleted, quarantined, expired, remote, malformed
// media ID), 504 M_NOT_YET_UPLOADED (created, not uploaded yet: answered at once,
// which the spec allows before timeout_ms), 413 M_TOO_LARGE (body over
// upload_bytes_max, from the server before the body is read), 429 M_LIMIT_EXCEEDED
// (upload_rate per user for upload, create and PUT; pending_max pending IDs),
// 403 M_FORBIDDEN (quota; another user's created ID), 409 M_CANNOT_OVERWRITE_MEDIA
// (PUT of an uploaded ID), 400 M_INVALID_PARAM (file name, content type, thumbnail
// parameters), 400 M_UNKNOWN (cannot thumbnail: not an image, undecodable), 502
// M_UNKNOWN (the content store failed: nothing recorded).
// Upload, download and thumbnail handlers are offloaded (Router offload pool); the
// upload bodies are spooled to disk by the server (RouteOptions::spool_body).
//
// Thread-safety: Mount() during set-up; the routes are thread-safe. The engine and
// the store must outlive every router the MediaApi is mounted on.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "api/rate_limit.h"
#include "api/router.h"

namespace nebu::core {
class Engine;
}
namespace nebu::media {
class ContentStore;
}

namespace nebu::api {

// NEBU_MEDIA_MAX_UPLOAD_BYTES's default: the largest upload body (exactly this is accepted).
inline constexpr uint64_t kMediaUploadBytesMaxDefault = 50ull * 1024 * 1024;
// How long a /create'd media ID waits for its upload (the spec's recommended 24 h).
inline constexpr int64_t kMediaPendingLifetimeMs = 24ll * 60 * 60 * 1000;
// Created, not yet uploaded, unexpired media IDs one user may hold (429 beyond).
inline constexpr uint64_t kMediaPendingPerUserMax = 10;
// Uploads, creates and PUTs per user (one bucket).
inline constexpr RateLimit kMediaUploadRateLimit{.per_second = 2, .burst = 30};

struct MediaApiOptions {
  media::ContentStore* store = nullptr;  // required
  uint64_t upload_bytes_max = kMediaUploadBytesMaxDefault;
  uint64_t user_quota_bytes = 0;  // NEBU_MEDIA_USER_QUOTA_BYTES; 0: no quota
  bool legacy = true;             // NEBU_MEDIA_LEGACY
  // Where made thumbnails are cached on this node (deterministic, so per node is
  // correct); empty: made on every request.
  std::string thumbnail_dir;
  bool rate_limit = true;  // NEBU_RATE_LIMIT
  RateLimit upload_rate = kMediaUploadRateLimit;
  uint64_t pending_max = kMediaPendingPerUserMax;
  int64_t pending_lifetime_ms = kMediaPendingLifetimeMs;
};

class MediaApi {
 public:
  MediaApi(core::Engine& engine, MediaApiOptions options);
  ~MediaApi();
  MediaApi(const MediaApi&) = delete;
  MediaApi& operator=(const MediaApi&) = delete;

  // Registers every media route (see above) on `router`.
  void Mount(Router& router) const;

  struct State;  // media_routes.cpp

 private:
  std::shared_ptr<State> state_;
};

}  // namespace nebu::api
