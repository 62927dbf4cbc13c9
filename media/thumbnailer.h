// Thumbnailer: scaled and cropped images for /thumbnail (docs/architecture.md, "Media"),
// made with libvips.
//
//   ThumbnailRequest request{.width = 320, .height = 240, .method = ThumbnailMethod::kScale};
//   Result<Thumbnail> thumb = MakeThumbnail("/path/to/content", "image/jpeg", request);
//
// Contract:
//   - scale: the largest image that fits inside width x height keeping the aspect ratio,
//     never larger than the source; crop: exactly width x height (or the source's size
//     if smaller), the centre kept.
//   - EXIF orientation is applied before scaling.
//   - animated = true and an animated GIF or WebP source: an animated result of the same
//     type; otherwise the first frame.
//   - Output: PNG for sources with an alpha channel or PNG/GIF sources, JPEG otherwise
//     (animated: the source's type); content_type says which.
// Limits (decompression bombs): a source over kThumbnailInputBytesMax bytes or whose
// header declares more than kThumbnailPixelsMax pixels (per frame, times frames when
// animated) is refused with kTooLarge before it is decoded; width and height must be
// 1..kThumbnailSideMax.
// Errors: kInvalidArgument (bad request), kTooLarge (limits), kNotJson is never used;
// kUnsupported-style failures (not an image, a corrupt file, an unsupported type) are
// kInvalidArgument with a message saying so.
//
// Thread-safety: MakeThumbnail may be called from any thread concurrently.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

#include "engine/common/status.h"

namespace nebu::media {

inline constexpr uint64_t kThumbnailInputBytesMax = 64ull * 1024 * 1024;
inline constexpr uint64_t kThumbnailPixelsMax = 50'000'000;
inline constexpr int kThumbnailSideMax = 4096;

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

// Whether `content_type` is an image type the thumbnailer can decode.
[[nodiscard]] bool CanThumbnail(std::string_view content_type);

// Makes a thumbnail of the image in `source` (see the contract above).
[[nodiscard]] Result<Thumbnail> MakeThumbnail(const std::filesystem::path& source,
                                              std::string_view content_type,
                                              const ThumbnailRequest& request);

}  // namespace nebu::media
