// The thumbnailer (media/thumbnailer.h) on real images: every source is made here by
// libvips itself (PNG with alpha, JPEG with EXIF orientation 6, a 3-frame GIF and WebP,
// a 1x20000 strip), plus damaged and hostile files: a truncated JPEG, random bytes, an
// SVG, a PNG header declaring 100000x100000 pixels. Each result is decoded again and
// its size, type, frame count and pixel colours checked.
#include "media/thumbnailer.h"

#include <gtest/gtest.h>
#include <vips/vips.h>
#include <zlib.h>

#include <array>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <random>
#include <thread>
#include <vector>

namespace nebu::media {
namespace {

namespace fs = std::filesystem;

struct Rgb {
  uint8_t r, g, b;
};
constexpr Rgb kRed{255, 0, 0};
constexpr Rgb kGreen{0, 255, 0};
constexpr Rgb kBlue{0, 0, 255};

struct UnrefImage {
  void operator()(VipsImage* image) const { g_object_unref(image); }
};
using Image = std::unique_ptr<VipsImage, UnrefImage>;

// An image from a pixel function: colour_at(x, y) -> Rgb, `bands` 3 or 4 (alpha 128).
template <typename ColourAt>
Image Draw(int width, int height, int bands, ColourAt colour_at) {
  std::vector<uint8_t> pixels(static_cast<size_t>(width) * height * bands);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width; ++x) {
      const Rgb c = colour_at(x, y);
      uint8_t* p = &pixels[(static_cast<size_t>(y) * width + x) * bands];
      p[0] = c.r;
      p[1] = c.g;
      p[2] = c.b;
      if (bands == 4) p[3] = 128;
    }
  }
  VipsImage* image = vips_image_new_from_memory_copy(pixels.data(), pixels.size(), width, height,
                                                     bands, VIPS_FORMAT_UCHAR);
  EXPECT_NE(image, nullptr) << vips_error_buffer();
  return Image(image);
}

Image Solid(int width, int height, Rgb colour) {
  return Draw(width, height, 3, [&](int, int) { return colour; });
}

std::vector<double> PixelAt(VipsImage* image, int x, int y) {
  double* values = nullptr;
  int n = 0;
  EXPECT_EQ(vips_getpoint(image, &values, &n, x, y, nullptr), 0) << vips_error_buffer();
  std::vector<double> out(values, values + n);
  g_free(values);
  return out;
}

// Colours survive JPEG only approximately.
void ExpectColour(VipsImage* image, int x, int y, Rgb want) {
  const std::vector<double> got = PixelAt(image, x, y);
  ASSERT_GE(got.size(), 3u);
  EXPECT_NEAR(got[0], want.r, 40) << "at " << x << "," << y;
  EXPECT_NEAR(got[1], want.g, 40) << "at " << x << "," << y;
  EXPECT_NEAR(got[2], want.b, 40) << "at " << x << "," << y;
}

// Decodes a thumbnail again (all frames).
Image Decode(const Thumbnail& thumb) {
  VipsImage* image = vips_image_new_from_buffer(thumb.bytes.data(), thumb.bytes.size(), "",
                                                "n", -1, nullptr);
  if (image == nullptr) {
    vips_error_clear();
    image = vips_image_new_from_buffer(thumb.bytes.data(), thumb.bytes.size(), "", nullptr);
  }
  EXPECT_NE(image, nullptr) << vips_error_buffer();
  return Image(image);
}

class ThumbnailerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(VIPS_INIT("media_thumbnail_test"), 0);
    dir_ = fs::temp_directory_path() /
           ("nebu-thumb-" + std::to_string(::getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  fs::path Save(VipsImage* image, const std::string& name) {
    const fs::path path = dir_ / name;
    EXPECT_EQ(vips_image_write_to_file(image, path.c_str(), nullptr), 0) << vips_error_buffer();
    return path;
  }
  fs::path WriteBytes(const std::string& name, const std::string& bytes) {
    const fs::path path = dir_ / name;
    std::ofstream(path, std::ios::binary) << bytes;
    return path;
  }
  static std::string ReadBytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  }
  // Three frames of 40x30 (red, green, blue), stacked as libvips stores pages.
  fs::path SaveAnimation(const std::string& name) {
    Image frames = Draw(40, 90, 3, [](int, int y) { return y < 30 ? kRed : y < 60 ? kGreen : kBlue; });
    VipsImage* copy = nullptr;
    EXPECT_EQ(vips_copy(frames.get(), &copy, nullptr), 0);
    Image animation(copy);
    vips_image_set_int(animation.get(), "page-height", 30);
    std::array<int, 3> delays{100, 100, 100};
    vips_image_set_array_int(animation.get(), "delay", delays.data(), 3);
    vips_image_set_int(animation.get(), "loop", 0);
    return Save(animation.get(), name);
  }

  fs::path dir_;
};

ThumbnailRequest Scale(int width, int height) {
  return {.width = width, .height = height, .method = ThumbnailMethod::kScale};
}
ThumbnailRequest Crop(int width, int height) {
  return {.width = width, .height = height, .method = ThumbnailMethod::kCrop};
}

TEST_F(ThumbnailerTest, CanThumbnailOnlyTheDecodableTypes) {
  for (std::string_view type : {"image/jpeg", "image/png", "image/gif", "image/webp",
                                "IMAGE/PNG", "image/jpeg; charset=binary", " image/gif "}) {
    EXPECT_TRUE(CanThumbnail(type)) << type;
  }
  for (std::string_view type : {"", "image/svg+xml", "image/tiff", "application/pdf",
                                "image/heic", "text/plain", "image/jpegx", "image"}) {
    EXPECT_FALSE(CanThumbnail(type)) << type;
  }
}

TEST_F(ThumbnailerTest, PngWithAlphaScalesInsideTheBoxAndStaysPngWithAlpha) {
  const fs::path png = Save(Draw(200, 100, 4, [](int, int) { return kBlue; }).get(), "a.png");
  Result<Thumbnail> thumb = MakeThumbnail(png, "image/png", Scale(50, 50));
  ASSERT_TRUE(thumb.ok()) << thumb.status().ToString();
  EXPECT_EQ(thumb->content_type, "image/png");
  EXPECT_EQ(thumb->width, 50);
  EXPECT_EQ(thumb->height, 25);
  Image decoded = Decode(*thumb);
  EXPECT_EQ(vips_image_get_width(decoded.get()), 50);
  EXPECT_EQ(vips_image_get_height(decoded.get()), 25);
  ASSERT_TRUE(vips_image_hasalpha(decoded.get()));
  const std::vector<double> pixel = PixelAt(decoded.get(), 25, 12);
  ASSERT_EQ(pixel.size(), 4u);
  EXPECT_NEAR(pixel[2], 255, 2);
  EXPECT_NEAR(pixel[3], 128, 2);
}

TEST_F(ThumbnailerTest, JpegScaleFitsInsideAndNeverUpscales) {
  const fs::path jpeg = Save(Solid(400, 300, kGreen).get(), "s.jpg");
  Result<Thumbnail> small = MakeThumbnail(jpeg, "image/jpeg", Scale(100, 100));
  ASSERT_TRUE(small.ok()) << small.status().ToString();
  EXPECT_EQ(small->content_type, "image/jpeg");
  EXPECT_EQ(small->width, 100);
  EXPECT_EQ(small->height, 75);
  Image decoded = Decode(*small);
  EXPECT_EQ(vips_image_get_width(decoded.get()), 100);
  EXPECT_EQ(vips_image_get_height(decoded.get()), 75);
  ExpectColour(decoded.get(), 50, 37, kGreen);

  Result<Thumbnail> big = MakeThumbnail(jpeg, "image/jpeg", Scale(800, 800));
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_EQ(big->width, 400);
  EXPECT_EQ(big->height, 300);
}

TEST_F(ThumbnailerTest, CropIsExactAndKeepsTheCentre) {
  // Thirds: red | green | blue; a centred square crop shows only green in its middle.
  const fs::path jpeg = Save(
      Draw(600, 200, 3, [](int x, int) { return x < 200 ? kRed : x < 400 ? kGreen : kBlue; }).get(),
      "c.jpg");
  Result<Thumbnail> thumb = MakeThumbnail(jpeg, "image/jpeg", Crop(96, 96));
  ASSERT_TRUE(thumb.ok()) << thumb.status().ToString();
  EXPECT_EQ(thumb->width, 96);
  EXPECT_EQ(thumb->height, 96);
  Image decoded = Decode(*thumb);
  EXPECT_EQ(vips_image_get_width(decoded.get()), 96);
  EXPECT_EQ(vips_image_get_height(decoded.get()), 96);
  ExpectColour(decoded.get(), 48, 48, kGreen);
  ExpectColour(decoded.get(), 2, 48, kGreen);  // the red third was cropped away
  ExpectColour(decoded.get(), 93, 48, kGreen);

  // Larger than the source: never upscaled, never larger than asked.
  Result<Thumbnail> big = MakeThumbnail(jpeg, "image/jpeg", Crop(800, 800));
  ASSERT_TRUE(big.ok()) << big.status().ToString();
  EXPECT_LE(big->width, 600);
  EXPECT_LE(big->height, 200);
  EXPECT_GT(big->width, 0);
  EXPECT_GT(big->height, 0);
}

TEST_F(ThumbnailerTest, ExifOrientationSixIsApplied) {
  // Stored 80x40, left half red, right half blue, with "rotate 90 degrees clockwise to
  // display": shown upright it is 40x80 with red on top and blue below.
  Image stored = Draw(80, 40, 3, [](int x, int) { return x < 40 ? kRed : kBlue; });
  vips_image_set_int(stored.get(), "orientation", 6);
  const fs::path jpeg = Save(stored.get(), "exif.jpg");
  {  // the fixture really carries the tag
    VipsImage* raw = vips_image_new_from_file(jpeg.c_str(), nullptr);
    ASSERT_NE(raw, nullptr);
    Image check(raw);
    int orientation = 0;
    ASSERT_EQ(vips_image_get_int(check.get(), "orientation", &orientation), 0);
    ASSERT_EQ(orientation, 6);
  }
  Result<Thumbnail> thumb = MakeThumbnail(jpeg, "image/jpeg", Scale(100, 100));
  ASSERT_TRUE(thumb.ok()) << thumb.status().ToString();
  EXPECT_EQ(thumb->width, 40);
  EXPECT_EQ(thumb->height, 80);
  Image decoded = Decode(*thumb);
  ASSERT_EQ(vips_image_get_width(decoded.get()), 40);
  ASSERT_EQ(vips_image_get_height(decoded.get()), 80);
  ExpectColour(decoded.get(), 20, 10, kRed);
  ExpectColour(decoded.get(), 20, 70, kBlue);
  int orientation = 1;  // stripped or 1: a viewer must not rotate it again
  if (vips_image_get_int(decoded.get(), "orientation", &orientation) != 0) vips_error_clear();
  EXPECT_EQ(orientation, 1);
}

TEST_F(ThumbnailerTest, AnimatedGifKeepsItsFramesOnlyWhenAsked) {
  const fs::path gif = SaveAnimation("anim.gif");
  ThumbnailRequest animated = Scale(20, 20);
  animated.animated = true;
  Result<Thumbnail> moving = MakeThumbnail(gif, "image/gif", animated);
  ASSERT_TRUE(moving.ok()) << moving.status().ToString();
  EXPECT_EQ(moving->content_type, "image/gif");
  EXPECT_EQ(moving->width, 20);
  EXPECT_EQ(moving->height, 15);
  Image frames = Decode(*moving);
  EXPECT_EQ(vips_image_get_n_pages(frames.get()), 3);
  EXPECT_EQ(vips_image_get_page_height(frames.get()), 15);
  ExpectColour(frames.get(), 10, 7, kRed);
  ExpectColour(frames.get(), 10, 15 + 7, kGreen);
  ExpectColour(frames.get(), 10, 30 + 7, kBlue);

  ThumbnailRequest cropped = Crop(16, 16);
  cropped.animated = true;
  Result<Thumbnail> square = MakeThumbnail(gif, "image/gif", cropped);
  ASSERT_TRUE(square.ok()) << square.status().ToString();
  EXPECT_EQ(square->width, 16);
  EXPECT_EQ(square->height, 16);
  Image square_frames = Decode(*square);
  EXPECT_EQ(vips_image_get_n_pages(square_frames.get()), 3);
  EXPECT_EQ(vips_image_get_page_height(square_frames.get()), 16);
  ExpectColour(square_frames.get(), 8, 16 + 8, kGreen);

  Result<Thumbnail> still = MakeThumbnail(gif, "image/gif", Scale(20, 20));
  ASSERT_TRUE(still.ok()) << still.status().ToString();
  EXPECT_EQ(still->content_type, "image/png");
  Image first = Decode(*still);
  EXPECT_EQ(vips_image_get_n_pages(first.get()), 1);
  EXPECT_EQ(vips_image_get_height(first.get()), 15);
  ExpectColour(first.get(), 10, 7, kRed);
}

TEST_F(ThumbnailerTest, AnimatedWebpStaysAnimatedWebp) {
  const fs::path webp = SaveAnimation("anim.webp");
  ThumbnailRequest animated = Scale(20, 20);
  animated.animated = true;
  Result<Thumbnail> moving = MakeThumbnail(webp, "image/webp", animated);
  ASSERT_TRUE(moving.ok()) << moving.status().ToString();
  EXPECT_EQ(moving->content_type, "image/webp");
  Image frames = Decode(*moving);
  EXPECT_EQ(vips_image_get_n_pages(frames.get()), 3);
  EXPECT_EQ(vips_image_get_page_height(frames.get()), 15);

  Result<Thumbnail> still = MakeThumbnail(webp, "image/webp", Scale(20, 20));
  ASSERT_TRUE(still.ok()) << still.status().ToString();
  EXPECT_EQ(still->content_type, "image/jpeg");
  EXPECT_EQ(vips_image_get_n_pages(Decode(*still).get()), 1);
}

TEST_F(ThumbnailerTest, OneByTwentyThousandStripHasNoZeroSide) {
  const fs::path png = Save(Solid(1, 20000, kRed).get(), "strip.png");
  for (const ThumbnailRequest& request : {Scale(96, 96), Crop(96, 96), Scale(320, 240)}) {
    Result<Thumbnail> thumb = MakeThumbnail(png, "image/png", request);
    ASSERT_TRUE(thumb.ok()) << thumb.status().ToString();
    EXPECT_GE(thumb->width, 1);
    EXPECT_LE(thumb->width, request.width);
    EXPECT_GE(thumb->height, 1);
    EXPECT_LE(thumb->height, request.height);
    Image decoded = Decode(*thumb);
    EXPECT_EQ(vips_image_get_width(decoded.get()), thumb->width);
    EXPECT_EQ(vips_image_get_height(decoded.get()), thumb->height);
    ExpectColour(decoded.get(), 0, thumb->height / 2, kRed);
  }
  // Exactly: one pixel wide, as tall as the box allows.
  Result<Thumbnail> scaled = MakeThumbnail(png, "image/png", Scale(96, 96));
  ASSERT_TRUE(scaled.ok());
  EXPECT_EQ(scaled->width, 1);
  EXPECT_EQ(scaled->height, 96);
  Result<Thumbnail> cropped = MakeThumbnail(png, "image/png", Crop(96, 96));
  ASSERT_TRUE(cropped.ok());
  EXPECT_EQ(cropped->width, 1);
  EXPECT_EQ(cropped->height, 96);
}

TEST_F(ThumbnailerTest, FormatComesFromTheBytesNotTheClaimedType) {
  const fs::path png = Save(Solid(40, 40, kBlue).get(), "really-a.png");
  Result<Thumbnail> thumb = MakeThumbnail(png, "image/jpeg", Scale(20, 20));
  ASSERT_TRUE(thumb.ok()) << thumb.status().ToString();
  EXPECT_EQ(thumb->content_type, "image/png");
}

TEST_F(ThumbnailerTest, UndecodableFilesAreInvalidArgumentAndQuiet) {
  std::mt19937 rng(20261206);
  std::string noise(4096, '\0');
  for (char& c : noise) c = static_cast<char>(rng());
  const std::string jpeg = ReadBytes(Save(Solid(300, 200, kRed).get(), "whole.jpg"));
  const std::string png = ReadBytes(Save(Solid(300, 200, kRed).get(), "whole.png"));
  // Formats libvips can decode (TIFF built in, BMP through its ImageMagick module) but
  // nebu leaves blocked.
  const std::string tiff = ReadBytes(Save(Solid(30, 20, kRed).get(), "blocked.tif"));
  const std::string bmp = ReadBytes(Save(Solid(30, 20, kRed).get(), "blocked.bmp"));
  const std::vector<std::pair<fs::path, std::string>> files = {
      {WriteBytes("truncated.jpg", jpeg.substr(0, jpeg.size() / 2)), "image/jpeg"},
      {WriteBytes("header-only.jpg", jpeg.substr(0, 200)), "image/jpeg"},
      {WriteBytes("truncated.png", png.substr(0, png.size() / 2)), "image/png"},
      {WriteBytes("noise.jpg", noise), "image/jpeg"},
      {WriteBytes("empty.png", ""), "image/png"},
      {WriteBytes("text.gif", "GIF89a but not really"), "image/gif"},
      {WriteBytes("tiff.png", tiff), "image/png"},
      {WriteBytes("bmp.png", bmp), "image/png"},
      {WriteBytes("vector.png",
                  "<svg xmlns='http://www.w3.org/2000/svg' width='10' height='10'></svg>"),
       "image/png"},
  };
  for (const auto& [path, type] : files) {
    ::testing::internal::CaptureStderr();
    Result<Thumbnail> thumb = MakeThumbnail(path, type, Scale(64, 64));
    const std::string stderr_text = ::testing::internal::GetCapturedStderr();
    ASSERT_FALSE(thumb.ok()) << path;
    EXPECT_EQ(thumb.status().code(), StatusCode::kInvalidArgument) << path;
    EXPECT_NE(thumb.status().message().find("not a decodable image"), std::string::npos)
        << thumb.status().ToString();
    EXPECT_EQ(thumb.status().message().find(dir_.string()), std::string::npos);
    EXPECT_EQ(stderr_text, "") << path;
  }
}

// A PNG whose header declares 100000x100000 RGBA pixels (40 GB decoded) and carries
// almost no data: refused from the header alone, quickly.
std::string PngChunk(std::string_view type, const std::string& data) {
  std::string chunk;
  const uint32_t length = static_cast<uint32_t>(data.size());
  for (int shift = 24; shift >= 0; shift -= 8) chunk += static_cast<char>(length >> shift);
  std::string body = std::string(type) + data;
  const uint32_t crc = static_cast<uint32_t>(
      crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size())));
  chunk += body;
  for (int shift = 24; shift >= 0; shift -= 8) chunk += static_cast<char>(crc >> shift);
  return chunk;
}

TEST_F(ThumbnailerTest, HugeDeclaredImageIsTooLargeBeforeDecoding) {
  std::string ihdr;
  for (uint32_t side : {100000u, 100000u}) {
    for (int shift = 24; shift >= 0; shift -= 8) ihdr += static_cast<char>(side >> shift);
  }
  ihdr += std::string("\x08\x06\x00\x00\x00", 5);  // 8-bit RGBA, deflate, no filter, no interlace
  const std::string png = std::string("\x89PNG\r\n\x1a\n", 8) + PngChunk("IHDR", ihdr) +
                          PngChunk("IDAT", std::string("\x78\x9c\x03\x00\x00\x00\x00\x01", 8)) +
                          PngChunk("IEND", "");
  const fs::path path = WriteBytes("bomb.png", png);
  const auto start = std::chrono::steady_clock::now();
  Result<Thumbnail> thumb = MakeThumbnail(path, "image/png", Scale(96, 96));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(thumb.ok());
  EXPECT_EQ(thumb.status().code(), StatusCode::kTooLarge) << thumb.status().ToString();
  EXPECT_NE(thumb.status().message().find("100000x100000"), std::string::npos);
  EXPECT_LT(elapsed, std::chrono::seconds(2));
}

// A GIF whose screen is width x height with `frames` 1x1 frames. (libnsgif takes a
// screen over 2048 pixels wide or high as bogus and uses the frame's size instead.)
std::string GifOfTinyFrames(uint16_t width, uint16_t height, int frames) {
  std::string gif = "GIF89a";
  for (uint16_t side : {width, height}) {
    gif += static_cast<char>(side & 0xff);
    gif += static_cast<char>(side >> 8);
  }
  gif += std::string("\x80\x00\x00", 3);                // 2-colour global table follows
  gif += std::string("\x00\x00\x00\xff\xff\xff", 6);  // black, white
  for (int i = 0; i < frames; ++i) {
    gif += std::string("\x21\xf9\x04\x00\x0a\x00\x00\x00", 8);  // 100 ms
    gif += std::string("\x2c\x00\x00\x00\x00\x01\x00\x01\x00\x00", 10);  // 1x1 at 0,0
    gif += std::string("\x02\x02\x44\x01\x00", 5);  // LZW: clear, pixel 0, end
  }
  return gif + ";";
}

TEST_F(ThumbnailerTest, AnimationOverThePixelLimitIsTooLargeOnlyWhenAnimated) {
  // 13 frames of 2000x2000 = 52 M pixels declared; the first frame alone is 4 M.
  static_assert(kThumbnailPixelsMax < 13ull * 2000 * 2000);
  const fs::path gif = WriteBytes("big.gif", GifOfTinyFrames(2000, 2000, 13));
  ThumbnailRequest animated = Scale(64, 64);
  animated.animated = true;
  Result<Thumbnail> moving = MakeThumbnail(gif, "image/gif", animated);
  ASSERT_FALSE(moving.ok());
  EXPECT_EQ(moving.status().code(), StatusCode::kTooLarge) << moving.status().ToString();
  EXPECT_NE(moving.status().message().find("13 frames"), std::string::npos);
  Result<Thumbnail> still = MakeThumbnail(gif, "image/gif", Scale(64, 64));
  ASSERT_TRUE(still.ok()) << still.status().ToString();
  EXPECT_EQ(still->width, 64);
  EXPECT_EQ(still->height, 64);
}

// A small JPEG whose frame header (SOF0 baseline, SOF2 progressive) is rewritten to
// declare width x height.
std::string DeclareJpegSize(std::string jpeg, uint16_t width, uint16_t height) {
  for (size_t i = 2; i + 9 < jpeg.size(); ++i) {
    if (static_cast<uint8_t>(jpeg[i]) == 0xff &&
        (static_cast<uint8_t>(jpeg[i + 1]) == 0xc0 || static_cast<uint8_t>(jpeg[i + 1]) == 0xc2)) {
      jpeg[i + 5] = static_cast<char>(height >> 8);  // FF Cn, length (2), precision (1)
      jpeg[i + 6] = static_cast<char>(height & 0xff);
      jpeg[i + 7] = static_cast<char>(width >> 8);
      jpeg[i + 8] = static_cast<char>(width & 0xff);
      return jpeg;
    }
  }
  ADD_FAILURE() << "no SOF marker";
  return jpeg;
}

TEST_F(ThumbnailerTest, LargeProgressiveJpegIsTooLargeButBaselineOfTheSameSizeIsNot) {
  // 5000x5000 = 25 M pixels: within kThumbnailPixelsMax, over the whole-decode limit.
  static_assert(kThumbnailWholeDecodePixelsMax < 5000ull * 5000 &&
                kThumbnailPixelsMax > 5000ull * 5000);
  Image small = Solid(64, 64, kGreen);
  VipsImage* raw = nullptr;
  ASSERT_EQ(vips_copy(small.get(), &raw, nullptr), 0);
  Image image(raw);
  void* buffer = nullptr;
  size_t length = 0;
  ASSERT_EQ(vips_jpegsave_buffer(image.get(), &buffer, &length, "interlace", TRUE, nullptr), 0);
  const std::string progressive(static_cast<const char*>(buffer), length);
  g_free(buffer);
  ASSERT_EQ(vips_jpegsave_buffer(image.get(), &buffer, &length, nullptr), 0);
  const std::string baseline(static_cast<const char*>(buffer), length);
  g_free(buffer);

  const fs::path big_progressive =
      WriteBytes("big-progressive.jpg", DeclareJpegSize(progressive, 5000, 5000));
  Result<Thumbnail> refused = MakeThumbnail(big_progressive, "image/jpeg", Scale(96, 96));
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kTooLarge) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("progressive"), std::string::npos);

  // The same declared size, baseline: streamed, so it passes the header checks. (Its
  // scan ends early at a proper end marker: libjpeg fills the missing rows, a warning
  // that libvips does not count as an error.)
  const fs::path big_baseline = WriteBytes("big-baseline.jpg", DeclareJpegSize(baseline, 5000, 5000));
  Result<Thumbnail> tried = MakeThumbnail(big_baseline, "image/jpeg", Scale(96, 96));
  EXPECT_NE(tried.status().code(), StatusCode::kTooLarge) << tried.status().ToString();

  // A small progressive JPEG is fine.
  const fs::path fine = WriteBytes("small-progressive.jpg", progressive);
  Result<Thumbnail> thumb = MakeThumbnail(fine, "image/jpeg", Scale(32, 32));
  ASSERT_TRUE(thumb.ok()) << thumb.status().ToString();
  EXPECT_EQ(thumb->width, 32);
}

TEST_F(ThumbnailerTest, OversizedInputIsTooLargeUnread) {
  const fs::path path = WriteBytes("huge.jpg", "\xff\xd8\xff");
  fs::resize_file(path, kThumbnailInputBytesMax + 1);  // sparse: nothing written
  Result<Thumbnail> thumb = MakeThumbnail(path, "image/jpeg", Scale(96, 96));
  ASSERT_FALSE(thumb.ok());
  EXPECT_EQ(thumb.status().code(), StatusCode::kTooLarge) << thumb.status().ToString();
}

TEST_F(ThumbnailerTest, BadRequestsAreInvalidArgument) {
  const fs::path jpeg = Save(Solid(50, 50, kRed).get(), "r.jpg");
  for (const ThumbnailRequest& request :
       {Scale(0, 10), Scale(10, 0), Scale(-1, 10), Crop(kThumbnailSideMax + 1, 10)}) {
    Result<Thumbnail> thumb = MakeThumbnail(jpeg, "image/jpeg", request);
    ASSERT_FALSE(thumb.ok());
    EXPECT_EQ(thumb.status().code(), StatusCode::kInvalidArgument);
  }
  Result<Thumbnail> text = MakeThumbnail(jpeg, "text/plain", Scale(10, 10));
  ASSERT_FALSE(text.ok());
  EXPECT_EQ(text.status().code(), StatusCode::kInvalidArgument);
  Result<Thumbnail> missing = MakeThumbnail(dir_ / "missing.jpg", "image/jpeg", Scale(10, 10));
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kIoError);
  Result<Thumbnail> bracket = MakeThumbnail(dir_ / "x.jpg[n=-1]", "image/jpeg", Scale(10, 10));
  ASSERT_FALSE(bracket.ok());
  EXPECT_EQ(bracket.status().code(), StatusCode::kInvalidArgument);
}

TEST_F(ThumbnailerTest, ConcurrentThumbnailsAllSucceedInBoundedTime) {
  constexpr int kThreads = 8;
  constexpr int kPerThread = 20;
  const fs::path jpeg = Save(
      Draw(1600, 1200, 3, [](int x, int y) { return (x / 100 + y / 100) % 2 ? kRed : kBlue; }).get(),
      "load.jpg");
  const fs::path png = Save(Draw(400, 300, 4, [](int, int) { return kGreen; }).get(), "load.png");
  std::atomic<int> ok{0};
  const auto start = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        const bool use_png = (t + i) % 4 == 0;
        const ThumbnailRequest request = i % 2 ? Crop(96, 96) : Scale(320, 240);
        Result<Thumbnail> thumb =
            MakeThumbnail(use_png ? png : jpeg, use_png ? "image/png" : "image/jpeg", request);
        if (thumb.ok() && thumb->width > 0 && thumb->height > 0) ok.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  const auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(ok.load(), kThreads * kPerThread);
  EXPECT_LT(elapsed, std::chrono::seconds(60));
  std::printf("%d thumbnails on %d threads in %lld ms\n", kThreads * kPerThread, kThreads,
              static_cast<long long>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
}

}  // namespace
}  // namespace nebu::media
