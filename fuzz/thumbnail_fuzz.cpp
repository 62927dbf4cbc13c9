// Fuzz target for the thumbnailer: MakeThumbnail must never crash, hang or write to
// stderr on arbitrary bytes, whatever it decodes must come back as a non-empty image
// inside the requested box, and every failure must be one of its documented codes.
// The first byte of an input picks the request (scale or crop, animated or not, the
// box side); the rest is the file, written to a per-process temporary path (the
// thumbnailer keeps no cache, so reusing the path is safe). Seeds: a tiny PNG with
// alpha, a JPEG with EXIF orientation 6, a 3-frame GIF and WebP.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "media/thumbnailer.h"

namespace {

const std::filesystem::path& InputPath() {
  static const std::filesystem::path path =
      std::filesystem::temp_directory_path() /
      ("nebu-fuzz-thumbnail-" + std::to_string(::getpid()) + ".img");
  return path;
}

nebu::media::ThumbnailRequest RequestFrom(uint8_t control) {
  constexpr int kSides[] = {1, 16, 96, 320};
  return {.width = kSides[control & 3],
          .height = kSides[(control >> 2) & 3],
          .method = (control & 16) ? nebu::media::ThumbnailMethod::kCrop
                                   : nebu::media::ThumbnailMethod::kScale,
          .animated = (control & 32) != 0};
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const nebu::media::ThumbnailRequest request = RequestFrom(data[0]);
  {
    std::ofstream out(InputPath(), std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  nebu::Result<nebu::media::Thumbnail> thumb =
      nebu::media::MakeThumbnail(InputPath(), "image/png", request);
  if (thumb.ok()) {
    if (thumb->bytes.empty() || thumb->width < 1 || thumb->height < 1 ||
        thumb->width > request.width || thumb->height > request.height) {
      std::fprintf(stderr, "thumbnail %dx%d (%zu bytes) for a %dx%d box\n", thumb->width,
                   thumb->height, thumb->bytes.size(), request.width, request.height);
      std::abort();
    }
    return 0;
  }
  const nebu::StatusCode code = thumb.status().code();
  if (code != nebu::StatusCode::kInvalidArgument && code != nebu::StatusCode::kTooLarge) {
    std::fprintf(stderr, "unexpected failure: %s\n", thumb.status().ToString().c_str());
    std::abort();
  }
  return 0;
}
