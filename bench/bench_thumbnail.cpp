// Thumbnails of a 12-megapixel JPEG through media::MakeThumbnail: a 4000x3000 photo-like
// JPEG (colour gradients plus mild sensor-like noise, quality 90) is made once by a child
// process (so its memory is not counted), then thumbnailed --runs times to 800x600
// (scale) and 96x96 (crop), one at a time; then the same picture saved as a progressive
// JPEG, to 800x600. Prints ms per thumbnail (median, p99, max),
// the peak RSS of the process (VmHWM) and the load average while it ran, and the CPU time per thumbnail (the
// fairer figure when other builds share the machine).
// Figures only; no pass/fail. Target (issue 10): < 150 ms per thumbnail on 2 cores.
//
//   build/bench/bench_thumbnail [--runs=40] [--source=/tmp/nebu-bench-12mp.jpg]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <vips/vips.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "bench/bench_util.h"
#include "media/thumbnailer.h"

namespace nebu::media {
namespace {

constexpr int kSourceWidth = 4000;
constexpr int kSourceHeight = 3000;
constexpr int kRunsMax = 1000;
constexpr int kWarmupRuns = 2;

std::string ProgressivePath(const std::string& path) { return path + ".progressive.jpg"; }

// Child process: writes the source JPEG, baseline and progressive. 0 on success.
int MakeSource(const std::string& path) {
  if (VIPS_INIT("bench_thumbnail") != 0) return 1;
  VipsImage* xyz = nullptr;    // two bands: x, y
  VipsImage* bands[3] = {};
  VipsImage* joined = nullptr;
  VipsImage* noise = nullptr;
  VipsImage* noisy = nullptr;
  VipsImage* photo = nullptr;
  int rc = vips_xyz(&xyz, kSourceWidth, kSourceHeight, nullptr);
  rc = rc || vips_extract_band(xyz, &bands[0], 0, nullptr);
  rc = rc || vips_extract_band(xyz, &bands[1], 1, nullptr);
  rc = rc || vips_add(bands[0], bands[1], &bands[2], nullptr);
  rc = rc || vips_bandjoin(bands, &joined, 3, nullptr);
  rc = rc || vips_gaussnoise(&noise, kSourceWidth, kSourceHeight, "sigma", 5.0, "mean", 0.0,
                             nullptr);
  rc = rc || vips_add(joined, noise, &noisy, nullptr);
  // Gradients 0..4000 folded into 0..255 so the picture has edges, not one smooth ramp.
  VipsImage* folded = nullptr;
  rc = rc || vips_remainder_const1(noisy, &folded, 256.0, nullptr);
  rc = rc || vips_cast_uchar(folded, &photo, nullptr);
  rc = rc || vips_jpegsave(photo, path.c_str(), "Q", 90, nullptr);
  rc = rc || vips_jpegsave(photo, ProgressivePath(path).c_str(), "Q", 90, "interlace", TRUE,
                           nullptr);
  if (rc != 0) std::fprintf(stderr, "bench_thumbnail: %s\n", vips_error_buffer());
  return rc != 0 ? 1 : 0;
}

bool EnsureSource(const std::string& path) {
  if (std::filesystem::exists(path) && std::filesystem::exists(ProgressivePath(path))) return true;
  const pid_t child = fork();
  if (child == 0) _exit(MakeSource(path));
  int status = 0;
  if (child < 0 || waitpid(child, &status, 0) != child) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

// CPU time of the whole process (every libvips thread), in ms.
double CpuMs() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  const auto ms = [](const timeval& t) { return t.tv_sec * 1000.0 + t.tv_usec / 1000.0; };
  return ms(usage.ru_utime) + ms(usage.ru_stime);
}

void Measure(const char* name, const std::string& source, const ThumbnailRequest& request,
             int runs) {
  std::vector<double> ms;
  Thumbnail last;
  double cpu_start = 0;
  for (int i = 0; i < kWarmupRuns + runs; ++i) {
    if (i == kWarmupRuns) cpu_start = CpuMs();
    const auto start = std::chrono::steady_clock::now();
    Result<Thumbnail> thumb = MakeThumbnail(source, "image/jpeg", request);
    const auto stop = std::chrono::steady_clock::now();
    if (!thumb.ok()) {
      std::printf("%s: failed: %s\n", name, thumb.status().ToString().c_str());
      return;
    }
    if (i >= kWarmupRuns) {
      ms.push_back(std::chrono::duration<double, std::milli>(stop - start).count());
    }
    last = std::move(*thumb);
  }
  const double cpu_per_thumbnail = (CpuMs() - cpu_start) / runs;
  const double median = bench::Percentile(ms, 50);
  const double p99 = bench::Percentile(ms, 99);
  std::printf("%-12s %dx%d %s: median %.1f ms, p99 %.1f ms, max %.1f ms over %d runs; "
              "CPU %.1f ms each; result %dx%d %s, %zu bytes\n",
              name, request.width, request.height,
              request.method == ThumbnailMethod::kCrop ? "crop" : "scale", median, p99, ms.back(),
              runs, cpu_per_thumbnail, last.width, last.height, last.content_type.c_str(), last.bytes.size());
}

void PrintLoad(const char* when) {
  double load[3] = {};
  if (getloadavg(load, 3) == 3) {
    std::printf("load average %s: %.2f %.2f %.2f\n", when, load[0], load[1], load[2]);
  }
}

int Main(int argc, char** argv) {
  bench::PrintCommand(argc, argv);
  const int runs = std::clamp(std::atoi(bench::Arg(argc, argv, "runs", "40").c_str()), 1,
                              kRunsMax);
  const std::string source = bench::Arg(argc, argv, "source", "/tmp/nebu-bench-12mp.jpg");
  if (!EnsureSource(source)) {
    std::fprintf(stderr, "bench_thumbnail: could not write %s\n", source.c_str());
    return 1;
  }
  std::printf("source: %s, %dx%d JPEG, %ju bytes; %ld cores\n", source.c_str(), kSourceWidth,
              kSourceHeight, static_cast<uintmax_t>(std::filesystem::file_size(source)),
              sysconf(_SC_NPROCESSORS_ONLN));
  PrintLoad("before");
  const double rss_before = bench::PeakRssMiB();
  Measure("thumbnail", source, {.width = 800, .height = 600, .method = ThumbnailMethod::kScale},
          runs);
  Measure("thumbnail", source, {.width = 96, .height = 96, .method = ThumbnailMethod::kCrop},
          runs);
  // Progressive JPEGs decode with a whole-image coefficient buffer: slower, more memory.
  const double rss_baseline = bench::PeakRssMiB();
  Measure("progressive", ProgressivePath(source),
          {.width = 800, .height = 600, .method = ThumbnailMethod::kScale}, runs);
  PrintLoad("after");
  std::printf("peak RSS: %.1f MiB before the first thumbnail, %.1f MiB after the baseline "
              "JPEG, %.1f MiB after the progressive one\n",
              rss_before, rss_baseline, bench::PeakRssMiB());
  return 0;
}

}  // namespace
}  // namespace nebu::media

int main(int argc, char** argv) { return nebu::media::Main(argc, argv); }
