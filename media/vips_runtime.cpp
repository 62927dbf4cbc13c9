#include "media/vips_runtime.h"

#include <vips/vips.h>

#include <mutex>

#include <spdlog/spdlog.h>

namespace nebu::media::internal {
namespace {

void LogVipsMessage(const gchar* domain, GLogLevelFlags, const gchar* message, gpointer) {
  spdlog::debug("libvips ({}): {}", domain != nullptr ? domain : "-",
                message != nullptr ? message : "");
}

bool Start() {
  if (VIPS_INIT("nebu") != 0) {
    spdlog::error("thumbnails are off: libvips did not start: {}", TakeVipsError());
    return false;
  }
  const auto levels = static_cast<GLogLevelFlags>(
      G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE | G_LOG_LEVEL_INFO |
      G_LOG_LEVEL_DEBUG);
  g_log_set_handler("VIPS", levels, LogVipsMessage, nullptr);
  vips_cache_set_max(kVipsCacheOperationsMax);
  vips_cache_set_max_mem(0);
  vips_cache_set_max_files(0);
  vips_concurrency_set(kVipsThreadsPerImage);
  vips_operation_block_set("VipsForeignLoad", TRUE);
  for (const char* loader : kThumbnailLoaders) vips_operation_block_set(loader, FALSE);
  return true;
}

}  // namespace

Status StartVips() {
  static std::once_flag once;
  static bool started = false;
  std::call_once(once, [] { started = Start(); });
  if (!started) return Status::Unavailable("thumbnails are unavailable: libvips did not start");
  return Status::Ok();
}

std::string TakeVipsError() {
  char* text = vips_error_buffer_copy();
  std::string copy = text != nullptr ? text : "";
  g_free(text);
  while (!copy.empty() && copy.back() == '\n') copy.pop_back();
  return copy;
}

}  // namespace nebu::media::internal
