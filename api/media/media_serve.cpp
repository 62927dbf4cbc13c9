// Downloads and thumbnails (media_routes.h is the manual).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <fstream>
#include <string>
#include <variant>

#include "api/auth.h"
#include "api/errors.h"
#include "api/media/media_internal.h"
#include "engine/core/engine.h"
#include "media/content_store.h"
#include "media/file_store.h"
#include "media/thumbnailer.h"

namespace nebu::api::media_internal {
namespace {

namespace fs = std::filesystem;

// The spec's "Serving inline content" list.
constexpr std::array<std::string_view, 26> kInlineTypes = {
    "text/css",   "text/plain", "text/csv",   "application/json", "application/ld+json",
    "image/jpeg", "image/gif",  "image/png",  "image/apng",       "image/webp",
    "image/avif", "video/mp4",  "video/webm", "video/ogg",        "video/quicktime",
    "audio/mp4",  "audio/webm", "audio/aac",  "audio/mpeg",       "audio/ogg",
    "audio/wave", "audio/wav",  "audio/x-wav", "audio/x-pn-wav",  "audio/flac",
    "audio/x-flac"};
// The spec's recommended policy for served media.
constexpr std::string_view kContentSecurityPolicy =
    "sandbox; default-src 'none'; script-src 'none'; plugin-types application/pdf; "
    "style-src 'unsafe-inline'; object-src 'self';";

std::string MediaLower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// "image/png; charset=x" -> "image/png", lowercase, trimmed.
std::string MediaType(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && type.back() == ' ') type.remove_suffix(1);
  return MediaLower(type);
}

bool IsAttrChar(unsigned char c) {  // RFC 8187 attr-char
  return std::isalnum(c) || std::string_view("!#$&+-.^_`|~").find(static_cast<char>(c)) !=
                                std::string_view::npos;
}

void AddSecurityHeaders(Response& response) {
  response.headers.Set("Content-Security-Policy", kContentSecurityPolicy);
  response.headers.Set("X-Content-Type-Options", "nosniff");
  response.headers.Set("Cross-Origin-Resource-Policy", "cross-origin");
}

// A file response of `size` bytes with the Range header applied.
Response FileResponse(const Request& request, std::string path, uint64_t offset, uint64_t size,
                      std::string_view content_type) {
  Response response;
  response.headers.Set("Content-Type", content_type.empty() ? "application/octet-stream"
                                                            : std::string(content_type));
  response.headers.Set("Accept-Ranges", "bytes");
  response.headers.Set("Cache-Control", "private, max-age=86400");
  AddSecurityHeaders(response);
  RangeOutcome range;
  if (auto header = request.headers.Get("Range")) range = ParseByteRange(*header, size);
  if (range.kind == RangeOutcome::kUnsatisfiable) {
    Response refused = ErrorResponse(416, "M_UNKNOWN", "Requested range not satisfiable");
    refused.headers.Set("Content-Range", "bytes */" + std::to_string(size));
    AddSecurityHeaders(refused);
    return refused;
  }
  response.body_file = std::move(path);
  response.body_file_offset = offset;
  response.body_file_length = size;
  if (range.kind == RangeOutcome::kPartial) {
    response.status = 206;
    response.body_file_offset = offset + range.range.first;
    response.body_file_length = range.range.length;
    response.headers.Set("Content-Range",
                         "bytes " + std::to_string(range.range.first) + "-" +
                             std::to_string(range.range.first + range.range.length - 1) + "/" +
                             std::to_string(size));
  }
  return response;
}

std::optional<Response> Unauthenticated(const MediaApi::State& state, const Request& request,
                                        bool authenticated) {
  if (!authenticated) return std::nullopt;
  auto caller = Authenticate(request, state.engine);
  if (auto* error = std::get_if<Response>(&caller)) return *error;
  return std::nullopt;
}

// An integer query parameter in 1..max (larger is clamped), or nullopt.
std::optional<int> Dimension(const Request& request, std::string_view name) {
  auto text = request.Query(name);
  if (!text || text->empty()) return std::nullopt;
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size() || value < 1) return std::nullopt;
  return static_cast<int>(std::min<int64_t>(value, media::kThumbnailSideMax));
}

std::variant<media::ThumbnailRequest, Response> ParseThumbnailRequest(const Request& request) {
  auto width = Dimension(request, "width");
  auto height = Dimension(request, "height");
  if (!width || !height) {
    return ErrorResponse(400, "M_INVALID_PARAM", "width and height must be positive integers");
  }
  media::ThumbnailRequest out{.width = *width, .height = *height};
  const std::string_view method = request.Query("method").value_or("scale");
  if (method == "crop") {
    out.method = media::ThumbnailMethod::kCrop;
  } else if (method != "scale") {
    return ErrorResponse(400, "M_INVALID_PARAM", "method must be crop or scale");
  }
  const std::string_view animated = request.Query("animated").value_or("false");
  if (animated != "true" && animated != "false") {
    return ErrorResponse(400, "M_INVALID_PARAM", "animated must be true or false");
  }
  out.animated = animated == "true";
  return out;
}

// <dir>/<h0h1>/<sha256>-<w>x<h>-<method>[-animated]: the first line is the content type.
fs::path ThumbnailPath(const std::string& dir, const std::string& sha256,
                       const media::ThumbnailRequest& r) {
  return fs::path(dir) / sha256.substr(0, 2) /
         (sha256 + "-" + std::to_string(r.width) + "x" + std::to_string(r.height) +
          (r.method == media::ThumbnailMethod::kCrop ? "-crop" : "-scale") +
          (r.animated ? "-animated" : ""));
}

// A cached thumbnail as a response, or nullopt when there is none.
std::optional<Response> CachedThumbnail(const Request& request, const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::string content_type;
  if (!in || !std::getline(in, content_type)) return std::nullopt;
  std::error_code ec;
  const uint64_t size = fs::file_size(path, ec);
  const uint64_t offset = content_type.size() + 1;
  if (ec || size < offset) return std::nullopt;
  Response response = FileResponse(request, path.string(), offset, size - offset, content_type);
  response.headers.Set("Content-Disposition", ContentDisposition(content_type, ""));
  return response;
}

Response ThumbnailFailure(const Status& status) {
  if (status.code() == StatusCode::kTooLarge) {
    return ErrorResponse(413, "M_TOO_LARGE", "Content is too large to thumbnail");
  }
  if (status.code() == StatusCode::kInvalidArgument) {
    return ErrorResponse(400, "M_UNKNOWN", "Cannot generate thumbnails for the requested content");
  }
  spdlog::error("media: thumbnail failed: {}", status.ToString());
  return ErrorResponse(500, "M_UNKNOWN", "Thumbnail failed");
}

}  // namespace

std::variant<media::MediaRecord, Response> FindServable(const MediaApi::State& state,
                                                        std::string_view server_name,
                                                        std::string_view media_id) {
  const Response not_found = ErrorResponse(404, "M_NOT_FOUND", "Media not found");
  if (server_name != state.engine.server_name() || !media::IsValidMediaId(media_id)) {
    return not_found;
  }
  auto record = media::GetMedia(state.engine.Read(), media_id);
  if (!record.ok()) return ErrorResponse(record.status());
  if (!*record) return not_found;
  const media::MediaRecord& r = **record;
  if (r.deleted || r.quarantined || r.ExpiredAt(state.engine.clock().NowUnixMs())) return not_found;
  if (r.pending) {
    return ErrorResponse(504, "M_NOT_YET_UPLOADED", "Content has not yet been uploaded");
  }
  return r;
}

std::string ContentDisposition(std::string_view content_type, std::string_view file_name) {
  const std::string type = MediaType(content_type);
  const bool safe = std::find(kInlineTypes.begin(), kInlineTypes.end(), type) != kInlineTypes.end();
  std::string out = safe ? "inline" : "attachment";
  if (file_name.empty()) return out;
  // A name is only a label: path separators become '_' so no client takes it for a path.
  std::string name(file_name);
  std::replace(name.begin(), name.end(), '/', '_');
  std::replace(name.begin(), name.end(), '\\', '_');
  std::string ascii;
  bool plain = true;
  for (unsigned char c : name) {
    const bool printable = c >= 0x20 && c < 0x7f && c != '"';
    plain = plain && printable;
    ascii.push_back(printable ? static_cast<char>(c) : '_');
  }
  out += "; filename=\"" + ascii + "\"";
  if (plain) return out;
  out += "; filename*=utf-8''";
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (unsigned char c : name) {
    if (IsAttrChar(c)) {
      out.push_back(static_cast<char>(c));
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

Response HandleDownload(const MediaApi::State& state, const Request& request,
                        const PathParams& params, bool authenticated) {
  if (auto error = Unauthenticated(state, request, authenticated)) return *error;
  auto found = FindServable(state, params.at("serverName"), params.at("mediaId"));
  if (auto* error = std::get_if<Response>(&found)) return *error;
  const media::MediaRecord& record = std::get<media::MediaRecord>(found);
  auto path = state.options.store->Fetch(record.sha256);
  if (!path.ok()) return StoreFailure(path.status());
  auto name = params.find("fileName");
  Response response = FileResponse(request, path->string(), 0, record.size, record.content_type);
  response.headers.Set("Content-Disposition",
                       ContentDisposition(record.content_type,
                                          name != params.end() ? name->second : record.file_name));
  return response;
}

Response HandleThumbnail(const MediaApi::State& state, const Request& request,
                         const PathParams& params, bool authenticated) {
  if (auto error = Unauthenticated(state, request, authenticated)) return *error;
  auto parsed = ParseThumbnailRequest(request);
  if (auto* error = std::get_if<Response>(&parsed)) return *error;
  const media::ThumbnailRequest& want = std::get<media::ThumbnailRequest>(parsed);
  auto found = FindServable(state, params.at("serverName"), params.at("mediaId"));
  if (auto* error = std::get_if<Response>(&found)) return *error;
  const media::MediaRecord& record = std::get<media::MediaRecord>(found);
  if (MediaType(record.content_type).rfind("image/", 0) != 0) {
    return ErrorResponse(400, "M_UNKNOWN", "Cannot generate thumbnails for the requested content");
  }
  const std::string& dir = state.options.thumbnail_dir;
  const fs::path cached = dir.empty() ? fs::path() : ThumbnailPath(dir, record.sha256, want);
  if (!dir.empty()) {
    if (auto hit = CachedThumbnail(request, cached)) return *hit;
  }
  auto source = state.options.store->Fetch(record.sha256);
  if (!source.ok()) return StoreFailure(source.status());
  auto made = media::MakeThumbnail(*source, MediaType(record.content_type), want);
  if (!made.ok() && made.status().code() == StatusCode::kUnavailable) {
    // No thumbnailer in this build: the original is a thumbnail "larger than asked".
    Response original = FileResponse(request, source->string(), 0, record.size, record.content_type);
    original.headers.Set("Content-Disposition", ContentDisposition(record.content_type, ""));
    return original;
  }
  if (!made.ok()) return ThumbnailFailure(made.status());
  if (!dir.empty()) {
    Status cached_ok = media::WriteFileDurably(cached, made->content_type + "\n" + made->bytes);
    if (cached_ok.ok()) {
      if (auto hit = CachedThumbnail(request, cached)) return *hit;
    } else {
      spdlog::warn("media: caching a thumbnail failed: {}", cached_ok.ToString());
    }
  }
  Response response;
  response.headers.Set("Content-Type", made->content_type);
  response.headers.Set("Content-Disposition", ContentDisposition(made->content_type, ""));
  AddSecurityHeaders(response);
  response.body = std::move(made->bytes);
  return response;
}

}  // namespace nebu::api::media_internal
