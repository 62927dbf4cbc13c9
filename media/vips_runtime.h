// libvips, started once per process for the thumbnailer (media/thumbnailer.h).
//
// StartVips() initialises libvips on first use (thread-safe, once) with server settings:
//   - only the decoders in kThumbnailLoaders are enabled; every other libvips loader
//     (SVG, PDF, TIFF, ImageMagick, OpenSlide, FITS, ...) is blocked process-wide, so
//     an upload is never parsed by a large, rarely-hardened decoder;
//   - the operation cache is off (kVipsCacheOperationsMax = 0): thumbnails are stored
//     by the caller, and a cache keyed by file name could answer with a stale image
//     if a path were ever reused for other bytes;
//   - each image is processed by kVipsThreadsPerImage worker threads: a server makes
//     many thumbnails at once, so parallelism comes from concurrent requests;
//   - libvips's warnings (a damaged file, "premature end of JPEG") go to spdlog at debug
//     level instead of stderr.
// TakeVipsError() returns and clears libvips's error buffer (for debug logs only: it
// names file paths, so it is never shown to a client).
//
// Thread-safety: both functions may be called from any thread.
#pragma once

#include <string>

#include "engine/common/status.h"

namespace nebu::media::internal {

inline constexpr int kVipsCacheOperationsMax = 0;
inline constexpr int kVipsThreadsPerImage = 1;

// The libvips loader classes that stay enabled (and their subclasses: file, buffer,
// source variants): JPEG (libjpeg-turbo), PNG (libpng), GIF (libnsgif), WebP (libwebp).
inline constexpr const char* kThumbnailLoaders[] = {
    "VipsForeignLoadJpeg", "VipsForeignLoadPng", "VipsForeignLoadNsgif",
    "VipsForeignLoadWebp"};

// Ok once libvips is running; kUnavailable if it could not start (logged once).
[[nodiscard]] Status StartVips();

[[nodiscard]] std::string TakeVipsError();

}  // namespace nebu::media::internal
