// The libvips thumbnailer (media/thumbnailer.h). The header is read first, alone, to
// refuse decompression bombs before any pixel is decoded; then vips_thumbnail loads
// with shrink-on-load (JPEG, WebP), applies the EXIF orientation, resizes and crops.
#include "media/thumbnailer.h"

#include <vips/vips.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <memory>
#include <semaphore>
#include <vector>

#include <spdlog/spdlog.h>

#include "media/vips_runtime.h"

namespace nebu::media {
namespace {

struct UnrefVips {
  void operator()(VipsImage* image) const { g_object_unref(image); }
};
using ImagePtr = std::unique_ptr<VipsImage, UnrefVips>;

enum class Format { kJpeg, kPng, kGif, kWebp };

// What the header says, read without decoding pixels.
struct SourceInfo {
  Format format = Format::kJpeg;
  uint64_t width = 0;
  uint64_t height = 0;  // of one frame
  uint64_t frames = 1;
  // Decoded whole into memory rather than streamed: progressive JPEG (libjpeg keeps every
  // coefficient), interlaced PNG, GIF (libnsgif keeps the whole frame).
  bool whole = false;
};

constexpr std::string_view kUndecodable =
    "the file is not a decodable image (corrupt, truncated, or not JPEG, PNG, GIF or WebP)";

std::string NormalizedType(std::string_view content_type) {
  std::string_view essence = content_type.substr(0, content_type.find(';'));
  while (!essence.empty() && std::isspace(static_cast<unsigned char>(essence.back()))) {
    essence.remove_suffix(1);
  }
  while (!essence.empty() && std::isspace(static_cast<unsigned char>(essence.front()))) {
    essence.remove_prefix(1);
  }
  std::string lower(essence);
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return lower;
}

Status Undecodable(const std::filesystem::path& source, std::string_view step) {
  spdlog::debug("thumbnail of {}: {} failed: {}", source.string(), step,
                internal::TakeVipsError());
  return Status::InvalidArgument(std::string(kUndecodable));
}

// The format libvips detects from the bytes (never from the claimed content type);
// only the loaders left enabled by StartVips() can match.
Result<Format> DetectFormat(const std::filesystem::path& source) {
  const char* loader = vips_foreign_find_load(source.c_str());
  if (loader == nullptr) return Undecodable(source, "format detection");
  const std::string_view name(loader);
  if (name.starts_with("VipsForeignLoadJpeg")) return Format::kJpeg;
  if (name.starts_with("VipsForeignLoadPng")) return Format::kPng;
  if (name.starts_with("VipsForeignLoadNsgif")) return Format::kGif;
  if (name.starts_with("VipsForeignLoadWebp")) return Format::kWebp;
  return Status::InvalidArgument(std::string(kUndecodable));
}

Result<SourceInfo> ReadHeader(const std::filesystem::path& source) {
  NEBU_ASSIGN_OR_RETURN(Format format, DetectFormat(source));
  // Opening reads only the header; pixels are decoded on demand, and nothing demands them.
  VipsImage* raw = vips_image_new_from_file(source.c_str(), "access", VIPS_ACCESS_SEQUENTIAL,
                                            "fail_on", VIPS_FAIL_ON_ERROR, nullptr);
  if (raw == nullptr) return Undecodable(source, "header");
  ImagePtr image(raw);
  SourceInfo info{.format = format,
                  .width = static_cast<uint64_t>(vips_image_get_width(image.get())),
                  .height = static_cast<uint64_t>(vips_image_get_height(image.get())),
                  .frames = static_cast<uint64_t>(std::max(1, vips_image_get_n_pages(image.get())))};
  int interlaced = 0;
  if (vips_image_get_typeof(image.get(), "interlaced") != 0 &&
      vips_image_get_int(image.get(), "interlaced", &interlaced) != 0) {
    vips_error_clear();
  }
  info.whole = interlaced != 0 || format == Format::kGif;
  return info;
}

Status CheckPixels(const SourceInfo& info, bool animate) {
  const uint64_t frame = info.width * info.height;  // each side < 2^31: no overflow
  const uint64_t frames = animate ? info.frames : 1;
  if (frame > kThumbnailPixelsMax || frame * frames > kThumbnailPixelsMax) {
    return Status::TooLarge("the image is too large to thumbnail: " + std::to_string(info.width) +
                            "x" + std::to_string(info.height) +
                            (frames > 1 ? " x " + std::to_string(frames) + " frames" : "") +
                            " is over " + std::to_string(kThumbnailPixelsMax) + " pixels");
  }
  if (info.whole && frame > kThumbnailWholeDecodePixelsMax) {
    return Status::TooLarge("the image is too large to thumbnail: " + std::to_string(info.width) +
                            "x" + std::to_string(info.height) + " is over " +
                            std::to_string(kThumbnailWholeDecodePixelsMax) +
                            " pixels for a progressive, interlaced or GIF image");
  }
  return Status::Ok();
}

Result<ImagePtr> CallThumbnail(const std::filesystem::path& source, int width, int height,
                               VipsInteresting crop, bool animate) {
  // vips_thumbnail takes loader options in brackets after the file name.
  const std::string spec = source.string() + (animate ? "[n=-1]" : "");
  VipsImage* raw = nullptr;
  if (vips_thumbnail(spec.c_str(), &raw, width, "height", height, "size", VIPS_SIZE_DOWN, "crop",
                     crop, "fail_on", VIPS_FAIL_ON_ERROR, nullptr) != 0) {
    return Undecodable(source, "thumbnail");
  }
  return ImagePtr(raw);
}

// The centre width x height of every frame of `frames` (a stack of frames, as libvips
// keeps them), restacked.
Result<ImagePtr> CropFrames(const std::filesystem::path& source, VipsImage* frames, int width,
                            int height) {
  const int frame_width = vips_image_get_width(frames);
  const int frame_height = vips_image_get_page_height(frames);
  const int count = vips_image_get_height(frames) / frame_height;
  const int crop_width = std::min(width, frame_width);
  const int crop_height = std::min(height, frame_height);
  const int left = (frame_width - crop_width) / 2;
  const int top = (frame_height - crop_height) / 2;
  std::vector<ImagePtr> owned;
  std::vector<VipsImage*> cropped;
  for (int i = 0; i < count; ++i) {
    VipsImage* raw = nullptr;
    if (vips_extract_area(frames, &raw, left, i * frame_height + top, crop_width, crop_height,
                          nullptr) != 0) {
      return Undecodable(source, "frame crop");
    }
    owned.emplace_back(raw);
    cropped.push_back(raw);
  }
  VipsImage* joined = nullptr;
  if (vips_arrayjoin(cropped.data(), &joined, count, "across", 1, nullptr) != 0) {
    return Undecodable(source, "frame join");
  }
  ImagePtr stack(joined);
  VipsImage* copy = nullptr;  // metadata is shared until copied
  if (vips_copy(stack.get(), &copy, nullptr) != 0) return Undecodable(source, "frame copy");
  vips_image_set_int(copy, "page-height", crop_height);
  return ImagePtr(copy);
}

Result<ImagePtr> Resize(const std::filesystem::path& source, const SourceInfo& info,
                        const ThumbnailRequest& request, bool animate) {
  if (request.method == ThumbnailMethod::kScale) {
    return CallThumbnail(source, request.width, request.height, VIPS_INTERESTING_NONE, animate);
  }
  if (!animate) {
    return CallThumbnail(source, request.width, request.height, VIPS_INTERESTING_CENTRE, false);
  }
  // libvips 8.14 crops a stack of frames as one image: scale every frame to cover the
  // box (rounded up, never enlarged), then crop each frame's centre.
  const double cover = std::min(1.0, std::max(static_cast<double>(request.width) / info.width,
                                              static_cast<double>(request.height) / info.height));
  const int cover_width = std::max(1, static_cast<int>(std::ceil(cover * info.width)));
  const int cover_height = std::max(1, static_cast<int>(std::ceil(cover * info.height)));
  NEBU_ASSIGN_OR_RETURN(ImagePtr frames, CallThumbnail(source, cover_width, cover_height,
                                                       VIPS_INTERESTING_NONE, true));
  return CropFrames(source, frames.get(), request.width, request.height);
}

// Encodes (and so decodes: libvips is lazy) the thumbnail.
Result<Thumbnail> Encode(const std::filesystem::path& source, VipsImage* image, Format format,
                         bool animate) {
  void* buffer = nullptr;
  size_t length = 0;
  Thumbnail out;
  int rc = 0;
  if (animate && format == Format::kGif) {
    out.content_type = "image/gif";
    rc = vips_gifsave_buffer(image, &buffer, &length, "strip", TRUE, nullptr);
  } else if (animate && format == Format::kWebp) {
    out.content_type = "image/webp";
    rc = vips_webpsave_buffer(image, &buffer, &length, "strip", TRUE, "Q",
                              kThumbnailWebpQuality, nullptr);
  } else if (vips_image_hasalpha(image) || format == Format::kPng || format == Format::kGif) {
    out.content_type = "image/png";
    rc = vips_pngsave_buffer(image, &buffer, &length, "strip", TRUE, nullptr);
  } else {
    out.content_type = "image/jpeg";
    rc = vips_jpegsave_buffer(image, &buffer, &length, "strip", TRUE, "Q", kThumbnailJpegQuality,
                              "optimize_coding", TRUE, nullptr);
  }
  if (rc != 0) return Undecodable(source, "decode and encode");
  out.bytes.assign(static_cast<const char*>(buffer), length);
  g_free(buffer);
  out.width = vips_image_get_width(image);
  out.height = animate ? vips_image_get_page_height(image) : vips_image_get_height(image);
  return out;
}

// At most kThumbnailConcurrentMax thumbnails are made at once, process-wide.
class Slot {
 public:
  bool Acquire() {
    held_ = Gate().try_acquire_for(std::chrono::milliseconds(kThumbnailQueueWaitMs));
    return held_;
  }
  ~Slot() {
    if (held_) Gate().release();
  }

 private:
  static std::counting_semaphore<kThumbnailConcurrentMax>& Gate() {
    static std::counting_semaphore<kThumbnailConcurrentMax> gate(kThumbnailConcurrentMax);
    return gate;
  }
  bool held_ = false;
};

Status CheckRequest(const std::filesystem::path& source, std::string_view content_type,
                    const ThumbnailRequest& request) {
  if (request.width < 1 || request.width > kThumbnailSideMax || request.height < 1 ||
      request.height > kThumbnailSideMax) {
    return Status::InvalidArgument("width and height must be between 1 and " +
                                   std::to_string(kThumbnailSideMax));
  }
  if (!CanThumbnail(content_type)) {
    return Status::InvalidArgument("no thumbnails of " + NormalizedType(content_type) +
                                   ": only JPEG, PNG, GIF and WebP images");
  }
  // libvips reads "name[options]" as options: a path ending in ']' is not ours.
  const std::string name = source.string();
  if (name.empty() || name.back() == ']') {
    return Status::InvalidArgument("unusable source path for a thumbnail");
  }
  std::error_code error;
  const uint64_t bytes = std::filesystem::file_size(source, error);
  if (error) return Status::IoError("thumbnail source unreadable: " + error.message());
  if (bytes > kThumbnailInputBytesMax) {
    return Status::TooLarge("the image is too large to thumbnail: " + std::to_string(bytes) +
                            " bytes is over " + std::to_string(kThumbnailInputBytesMax));
  }
  return Status::Ok();
}

Result<Thumbnail> MakeFromHeader(const std::filesystem::path& source, const SourceInfo& info,
                                 const ThumbnailRequest& request, bool animate) {
  NEBU_ASSIGN_OR_RETURN(ImagePtr image, Resize(source, info, request, animate));
  return Encode(source, image.get(), info.format, animate);
}

// A source decoded whole leaves up to kThumbnailWholeDecodePixelsMax pixels' worth of
// freed blocks in the arenas of libvips's worker threads, which glibc keeps: measured,
// the process stayed 270 MB larger after ten progressive 12-megapixel JPEGs. Trimming
// after each such source keeps the growth near 10 MB, for about 15% more CPU (the next
// one faults its pages in again). Streamed sources need no trim.
void ReturnFreedMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

}  // namespace

bool CanThumbnail(std::string_view content_type) {
  const std::string type = NormalizedType(content_type);
  return type == "image/jpeg" || type == "image/png" || type == "image/gif" ||
         type == "image/webp";
}

Result<Thumbnail> MakeThumbnail(const std::filesystem::path& source,
                                std::string_view content_type, const ThumbnailRequest& request) {
  NEBU_RETURN_IF_ERROR(CheckRequest(source, content_type, request));
  NEBU_RETURN_IF_ERROR(internal::StartVips());
  Slot slot;
  if (!slot.Acquire()) return Status::Unavailable("the thumbnailer is busy: try again");
  NEBU_ASSIGN_OR_RETURN(SourceInfo info, ReadHeader(source));
  const bool animate = request.animated && info.frames > 1 &&
                       (info.format == Format::kGif || info.format == Format::kWebp);
  NEBU_RETURN_IF_ERROR(CheckPixels(info, animate));
  Result<Thumbnail> thumb = MakeFromHeader(source, info, request, animate);
  if (info.whole) ReturnFreedMemory();
  return thumb;
}

}  // namespace nebu::media
