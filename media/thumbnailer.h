// Thumbnailer: scaled and cropped images for /thumbnail (docs/architecture.md, "Media"),
// made with libvips.
//
//   ThumbnailRequest request{.width = 320, .height = 240, .method = ThumbnailMethod::kScale};
//   Result<Thumbnail> thumb = MakeThumbnail("/path/to/content", "image/jpeg", request);
//
// Contract:
//   - scale: the largest image that fits inside width x height keeping the aspect ratio,
//     never larger than the source; crop: exactly width x height (or the source's size
//     if smaller), the centre kept. No side of a result is ever 0 pixels (a 1x20000
//     strip scales to 1x96 inside 96x96, and crops to 1x96).
//   - EXIF orientation is applied before scaling; the result carries no metadata (EXIF,
//     XMP, ICC profiles are stripped; colours are converted to sRGB).
//   - animated = true and an animated GIF or WebP source: an animated result of the same
//     type, every frame scaled or cropped alike; otherwise the first frame.
//   - Output: PNG for sources with an alpha channel or PNG/GIF sources, JPEG otherwise
//     (quality kThumbnailJpegQuality; animated: the source's type, WebP at
//     kThumbnailWebpQuality); content_type says which; width and height are the result's
//     (of one frame when animated).
//   - The format is detected from the bytes, never from content_type: a PNG uploaded as
//     image/jpeg still works. Only the JPEG, PNG, GIF and WebP decoders are enabled in
//     libvips (process-wide, media/vips_runtime.h): SVG, PDF, TIFF, HEIF and
//     ImageMagick-handled files are refused as undecodable.
// Limits (decompression bombs): a source over kThumbnailInputBytesMax bytes or whose
// header declares more than kThumbnailPixelsMax pixels (per frame, times frames when
// animated) is refused with kTooLarge before it is decoded, and so is a source that is
// decoded whole into memory instead of streamed (progressive JPEG, interlaced PNG, GIF)
// whose frame is over kThumbnailWholeDecodePixelsMax pixels; width and height must be
// 1..kThumbnailSideMax. At most kThumbnailConcurrentMax thumbnails are made at once in
// the process; a call waits up to kThumbnailQueueWaitMs for its turn.
// Errors: kInvalidArgument (bad width/height, a content type CanThumbnail refuses, and
// every undecodable source: not an image, corrupt, truncated, an unsupported format; the
// message says so and never contains the path), kTooLarge (limits), kUnavailable
// (kThumbnailQueueWaitMs passed without a turn, or libvips did not start), kIoError (the
// source file cannot be read). Never a crash; libvips's warnings go to the debug log.
//
// Thread-safety: MakeThumbnail may be called from any thread concurrently. It blocks on
// disk and CPU (tens of milliseconds for a 12-megapixel JPEG): call it from an offloaded
// handler or a worker thread, never from a server thread.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "engine/common/status.h"

namespace nebu::media {

inline constexpr uint64_t kThumbnailInputBytesMax = 64ull * 1024 * 1024;
inline constexpr uint64_t kThumbnailPixelsMax = 50'000'000;
// Memory to thumbnail (measured, libvips 8.14): a baseline JPEG about 10 MB whatever
// its size (it streams, shrinking on load); a progressive JPEG about 80 MB at 12
// megapixels, 130 MB at 20, 290 MB at 48; an interlaced PNG its whole decoded size
// (up to 8 bytes a pixel). So the worst case at these limits is about
// kThumbnailConcurrentMax x 160 MB.
inline constexpr uint64_t kThumbnailWholeDecodePixelsMax = 20'000'000;
inline constexpr int kThumbnailSideMax = 4096;
inline constexpr int kThumbnailConcurrentMax = 2;
inline constexpr int kThumbnailQueueWaitMs = 10'000;
inline constexpr int kThumbnailJpegQuality = 85;  // libvips Q, 1..100
inline constexpr int kThumbnailWebpQuality = 80;  // libvips Q, 1..100

enum class ThumbnailMethod { kScale, kCrop };

struct ThumbnailRequest {
  int width = 0;
  int height = 0;
  ThumbnailMethod method = ThumbnailMethod::kScale;
  bool animated = false;
};

struct Thumbnail {
  std::string bytes;         // the encoded image (thumbnails are small)
  std::string content_type;  // "image/png", "image/jpeg", "image/gif", "image/webp"
  int width = 0;
  int height = 0;
};

// Whether `content_type` is an image type the thumbnailer can decode: image/jpeg,
// image/png, image/gif, image/webp (case-insensitive; parameters such as
// "; charset=binary" are ignored).
[[nodiscard]] bool CanThumbnail(std::string_view content_type);

// Makes a thumbnail of the image in `source` (see the contract above).
[[nodiscard]] Result<Thumbnail> MakeThumbnail(const std::filesystem::path& source,
                                              std::string_view content_type,
                                              const ThumbnailRequest& request);

}  // namespace nebu::media
