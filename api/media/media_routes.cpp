#include "api/media/media_routes.h"

#include <spdlog/spdlog.h>

#include <boost/json.hpp>
#include <string>
#include <utility>
#include <variant>

#include "api/auth.h"
#include "api/errors.h"
#include "api/media/media_internal.h"
#include "engine/core/engine.h"
#include "media/content_store.h"

namespace nebu::api {
namespace {

namespace json = boost::json;
using media_internal::FindServable;
using media_internal::StoreFailure;

std::string MxcUri(const MediaApi::State& state, std::string_view media_id) {
  return "mxc://" + state.engine.server_name() + "/" + std::string(media_id);
}

// The caller, or the error response (401, or 429 over the upload rate).
std::variant<Caller, Response> UploadCaller(MediaApi::State& state, const Request& request) {
  auto caller = Authenticate(request, state.engine);
  if (std::holds_alternative<Response>(caller)) return caller;
  const std::string& user = std::get<Caller>(caller).user_id;
  if (auto limited = Limited(state.uploads, user, state.engine.clock().NowUnixMs())) {
    return *limited;
  }
  return caller;
}

// The upload's file name (query `filename`) and content type (header), or a 400.
std::variant<std::pair<std::string, std::string>, Response> UploadDescription(
    const Request& request) {
  std::string file_name(request.Query("filename").value_or(""));
  if (!media::IsValidFileName(file_name)) {
    return ErrorResponse(400, "M_INVALID_PARAM",
                         "filename must be at most " +
                             std::to_string(media::kMediaFileNameBytesMax) +
                             " bytes of text without '/', '\\' or control characters");
  }
  std::string content_type(request.headers.Get("Content-Type").value_or(""));
  if (content_type.empty()) content_type = "application/octet-stream";
  if (!media::IsValidContentType(content_type)) {
    return ErrorResponse(400, "M_INVALID_PARAM", "invalid Content-Type");
  }
  return std::make_pair(std::move(file_name), std::move(content_type));
}

// 403 when the upload would exceed the user's quota (checked again in apply).
std::optional<Response> OverQuota(const MediaApi::State& state, const std::string& user,
                                  uint64_t size) {
  const uint64_t quota = state.options.user_quota_bytes;
  if (quota == 0) return std::nullopt;
  auto usage = media::GetMediaUsage(state.engine.Read(), user);
  if (!usage.ok()) return ErrorResponse(usage.status());
  if (size > quota || usage->bytes > quota - size) {
    return ErrorResponse(403, "M_FORBIDDEN", "The upload would exceed your media quota");
  }
  return std::nullopt;
}

// Stores the spooled body; nullopt when durable, else the 502.
std::optional<Response> StoreBody(const MediaApi::State& state, const Request& request) {
  Status stored = state.options.store->Put(request.body_sha256, request.body_file,
                                           request.body_file_bytes);
  if (!stored.ok()) return StoreFailure(stored);
  return std::nullopt;
}

// The answer for a failed kMedia upload or fill.
Response CommandFailure(const Status& status) {
  switch (status.code()) {
    case StatusCode::kForbidden: return ErrorResponse(403, "M_FORBIDDEN", status.message());
    case StatusCode::kNotFound: return ErrorResponse(404, "M_NOT_FOUND", "Unknown media ID");
    case StatusCode::kAlreadyExists:
      return ErrorResponse(409, "M_CANNOT_OVERWRITE_MEDIA", "Media already uploaded");
    default: return ErrorResponse(status);
  }
}

media::MediaCommand ContentCommand(const MediaApi::State& state, media::MediaOp op,
                                   std::string media_id, std::string user, const Request& request,
                                   std::pair<std::string, std::string> description) {
  return {.op = op, .media_id = std::move(media_id), .user_id = std::move(user),
          .size = request.body_file_bytes, .content_type = std::move(description.second),
          .file_name = std::move(description.first), .sha256 = request.body_sha256,
          .ts = state.engine.clock().NowUnixMs(), .quota_bytes = state.options.user_quota_bytes};
}

Result<std::string> MediaSubmit(const MediaApi::State& state, const media::MediaCommand& command) {
  NEBU_ASSIGN_OR_RETURN(std::string payload, media::EncodeMediaCommand(command));
  return state.engine.Submit({core::CommandKind::kMedia, std::move(payload)});
}

Response HandleUpload(MediaApi::State& state, const Request& request) {
  auto caller = UploadCaller(state, request);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  const std::string user = std::get<Caller>(caller).user_id;
  auto description = UploadDescription(request);
  if (auto* error = std::get_if<Response>(&description)) return *error;
  if (auto over = OverQuota(state, user, request.body_file_bytes)) return *over;
  if (auto failed = StoreBody(state, request)) return *failed;
  media::MediaCommand command =
      ContentCommand(state, media::MediaOp::kUpload, media::NewMediaId(), user, request,
                     std::get<0>(std::move(description)));
  auto applied = MediaSubmit(state, command);
  if (!applied.ok()) return CommandFailure(applied.status());
  return JsonResponse(200, json::object{{"content_uri", MxcUri(state, command.media_id)}});
}

Response HandleCreate(MediaApi::State& state, const Request& request) {
  auto caller = UploadCaller(state, request);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  const int64_t now = state.engine.clock().NowUnixMs();
  media::MediaCommand command{.op = media::MediaOp::kCreate,
                              .media_id = media::NewMediaId(),
                              .user_id = std::get<Caller>(caller).user_id,
                              .ts = now,
                              .expires_ts = now + state.options.pending_lifetime_ms,
                              .pending_max = state.options.pending_max};
  auto applied = MediaSubmit(state, command);
  if (!applied.ok()) {
    if (applied.status().code() == StatusCode::kResourceExhausted) {
      return ErrorResponse(429, "M_LIMIT_EXCEEDED", applied.status().message());
    }
    return ErrorResponse(applied.status());
  }
  return JsonResponse(200, json::object{{"content_uri", MxcUri(state, command.media_id)},
                                        {"unused_expires_at", command.expires_ts}});
}

// PUT upload/{serverName}/{mediaId}: every check that needs no bytes comes before the
// bytes are stored.
Response HandleFill(MediaApi::State& state, const Request& request, const PathParams& params) {
  auto caller = UploadCaller(state, request);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  const std::string user = std::get<Caller>(caller).user_id;
  const std::string& media_id = params.at("mediaId");
  if (params.at("serverName") != state.engine.server_name() || !media::IsValidMediaId(media_id)) {
    return ErrorResponse(404, "M_NOT_FOUND", "Unknown media ID");
  }
  auto record = media::GetMedia(state.engine.Read(), media_id);
  if (!record.ok()) return ErrorResponse(record.status());
  const int64_t now = state.engine.clock().NowUnixMs();
  if (!*record || (*record)->ExpiredAt(now)) return ErrorResponse(404, "M_NOT_FOUND", "Unknown media ID");
  if ((*record)->user_id != user) {
    return ErrorResponse(403, "M_FORBIDDEN", "This media ID was created by another user");
  }
  if (!(*record)->pending) {
    return ErrorResponse(409, "M_CANNOT_OVERWRITE_MEDIA", "Media already uploaded");
  }
  auto description = UploadDescription(request);
  if (auto* error = std::get_if<Response>(&description)) return *error;
  if (auto over = OverQuota(state, user, request.body_file_bytes)) return *over;
  if (auto failed = StoreBody(state, request)) return *failed;
  auto applied = MediaSubmit(state, ContentCommand(state, media::MediaOp::kFill, media_id, user,
                                                   request, std::get<0>(std::move(description))));
  if (!applied.ok()) return CommandFailure(applied.status());
  return JsonResponse(200, json::object{});
}

Response HandleConfig(const MediaApi::State& state, const Request& request) {
  auto caller = Authenticate(request, state.engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  return JsonResponse(
      200, json::object{{"m.upload.size", static_cast<int64_t>(state.options.upload_bytes_max)}});
}

Response HandlePreviewUrl(const MediaApi::State& state, const Request& request) {
  auto caller = Authenticate(request, state.engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  return ErrorResponse(404, "M_UNRECOGNIZED", "URL previews are disabled on this server");
}

}  // namespace

namespace media_internal {

Response StoreFailure(const Status& status) {
  spdlog::error("media: the content store failed: {}", status.ToString());
  return ErrorResponse(502, "M_UNKNOWN", "The media storage is unavailable; try again later");
}

}  // namespace media_internal

MediaApi::MediaApi(core::Engine& engine, MediaApiOptions options)
    : state_(std::make_shared<State>(engine, options)) {
  NEBU_CHECK(options.store != nullptr, "MediaApi without a content store");
}

MediaApi::~MediaApi() = default;

void MediaApi::Mount(Router& router) const {
  std::shared_ptr<State> s = state_;
  const RouteOptions upload{.body_bytes_max = static_cast<size_t>(s->options.upload_bytes_max),
                            .offload = true,
                            .spool_body = true};
  const RouteOptions offload{.offload = true};
  auto upload_route = [s](const Request& r, const PathParams&) { return HandleUpload(*s, r); };
  router.Add("POST", "/_matrix/media/v3/upload", upload_route, upload);
  router.Add("POST", "/_matrix/media/v1/create",
             [s](const Request& r, const PathParams&) { return HandleCreate(*s, r); });
  router.Add("PUT", "/_matrix/media/v3/upload/{serverName}/{mediaId}",
             [s](const Request& r, const PathParams& p) { return HandleFill(*s, r, p); }, upload);
  auto config = [s](const Request& r, const PathParams&) { return HandleConfig(*s, r); };
  auto preview = [s](const Request& r, const PathParams&) { return HandlePreviewUrl(*s, r); };
  auto download = [s](bool authenticated) {
    return [s, authenticated](const Request& r, const PathParams& p) {
      return media_internal::HandleDownload(*s, r, p, authenticated);
    };
  };
  auto thumbnail = [s](bool authenticated) {
    return [s, authenticated](const Request& r, const PathParams& p) {
      return media_internal::HandleThumbnail(*s, r, p, authenticated);
    };
  };
  const std::string v1 = "/_matrix/client/v1/media";
  router.Add("GET", v1 + "/config", config);
  router.Add("GET", v1 + "/preview_url", preview);
  router.Add("GET", v1 + "/download/{serverName}/{mediaId}", download(true), offload);
  router.Add("GET", v1 + "/download/{serverName}/{mediaId}/{fileName}", download(true), offload);
  router.Add("GET", v1 + "/thumbnail/{serverName}/{mediaId}", thumbnail(true), offload);
  if (!s->options.legacy) return;
  router.Add("POST", "/_matrix/media/r0/upload", upload_route, upload);
  for (const std::string version : {"v3", "r0"}) {
    const std::string base = "/_matrix/media/" + version;
    router.Add("GET", base + "/config", config);
    router.Add("GET", base + "/preview_url", preview);
    router.Add("GET", base + "/download/{serverName}/{mediaId}", download(false), offload);
    router.Add("GET", base + "/download/{serverName}/{mediaId}/{fileName}", download(false),
               offload);
    router.Add("GET", base + "/thumbnail/{serverName}/{mediaId}", thumbnail(false), offload);
  }
}

}  // namespace nebu::api
