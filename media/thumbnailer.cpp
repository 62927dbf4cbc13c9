// Placeholder until the libvips thumbnailer lands (issue 10): every request fails.
#include "media/thumbnailer.h"

namespace nebu::media {

bool CanThumbnail(std::string_view) { return false; }

Result<Thumbnail> MakeThumbnail(const std::filesystem::path&, std::string_view,
                                const ThumbnailRequest&) {
  return Status::Unavailable("thumbnails are not implemented yet");
}

}  // namespace nebu::media
