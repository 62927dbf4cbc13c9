// Goal: Crc32c is CRC-32C (Castagnoli) on every code path. Method: the standard check
// value and RFC 3720 vectors; properties that Extend composes and that the SSE4.2
// path (when the CPU has it) equals the portable table path on random inputs.
#include "engine/storage/crc32c.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <string>

namespace nebu::storage {
namespace {

TEST(Crc32cTest, MatchesTheStandardCheckValue) {
  EXPECT_EQ(Crc32c("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32cSoftwareForTest("123456789"), 0xE3069283u);
}

TEST(Crc32cTest, MatchesRfc3720Vectors) {
  std::string ascending(32, '\0');
  for (int i = 0; i < 32; ++i) ascending[i] = static_cast<char>(i);
  EXPECT_EQ(Crc32c(std::string(32, '\0')), 0x8A9136AAu);
  EXPECT_EQ(Crc32c(std::string(32, '\xff')), 0x62A8AB43u);
  EXPECT_EQ(Crc32c(ascending), 0x46DD794Eu);
}

TEST(Crc32cTest, OfNothingIsZero) { EXPECT_EQ(Crc32c(""), 0u); }

RC_GTEST_PROP(Crc32cTest, ExtendContinuesARunningChecksum, (std::string a, std::string b)) {
  RC_ASSERT(Crc32cExtend(Crc32c(a), b) == Crc32c(a + b));
}

RC_GTEST_PROP(Crc32cTest, HardwareAndSoftwarePathsAgree, (std::string s, uint8_t offset)) {
  // Offsets into a larger buffer exercise unaligned starts and every tail length.
  const std::string buf = std::string(offset % 8, 'x') + s;
  const std::string_view view = std::string_view(buf).substr(offset % 8);
  RC_ASSERT(Crc32c(view) == Crc32cSoftwareForTest(view));
}

}  // namespace
}  // namespace nebu::storage
