// CRC-32C: the SSE4.2 crc32 instruction when the CPU has it (checked once at run
// time), otherwise slicing-by-8 over tables built at compile time.
#include "engine/storage/crc32c.h"

#include <array>
#include <bit>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace nebu::storage {
namespace {

constexpr uint32_t kPolynomialReflected = 0x82F63B78u;
constexpr size_t kSlices = 8;

using Tables = std::array<std::array<uint32_t, 256>, kSlices>;

constexpr Tables MakeTables() {
  Tables t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ kPolynomialReflected : c >> 1;
    t[0][i] = c;
  }
  for (size_t s = 1; s < kSlices; ++s) {
    for (uint32_t i = 0; i < 256; ++i) t[s][i] = (t[s - 1][i] >> 8) ^ t[0][t[s - 1][i] & 0xff];
  }
  return t;
}

constexpr Tables kTables = MakeTables();

uint64_t LoadLe64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, sizeof v);
  if constexpr (std::endian::native == std::endian::big) v = __builtin_bswap64(v);
  return v;
}

// Works on the inverted register (crc already complemented).
uint32_t SoftwareUpdate(uint32_t crc, const unsigned char* p, size_t n) {
  while (n >= kSlices) {
    const uint64_t v = LoadLe64(p) ^ crc;
    crc = kTables[7][v & 0xff] ^ kTables[6][(v >> 8) & 0xff] ^ kTables[5][(v >> 16) & 0xff] ^
          kTables[4][(v >> 24) & 0xff] ^ kTables[3][(v >> 32) & 0xff] ^
          kTables[2][(v >> 40) & 0xff] ^ kTables[1][(v >> 48) & 0xff] ^ kTables[0][v >> 56];
    p += kSlices;
    n -= kSlices;
  }
  while (n-- > 0) crc = (crc >> 8) ^ kTables[0][(crc ^ *p++) & 0xff];
  return crc;
}

#if defined(__x86_64__)
__attribute__((target("sse4.2"))) uint32_t HardwareUpdate(uint32_t crc, const unsigned char* p,
                                                          size_t n) {
  uint64_t c = crc;
  while (n >= 8) {
    c = _mm_crc32_u64(c, LoadLe64(p));
    p += 8;
    n -= 8;
  }
  auto c32 = static_cast<uint32_t>(c);
  while (n-- > 0) c32 = _mm_crc32_u8(c32, *p++);
  return c32;
}

bool HasSse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, std::string_view bytes) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  crc = ~crc;
#if defined(__x86_64__)
  if (HasSse42()) return ~HardwareUpdate(crc, p, bytes.size());
#endif
  return ~SoftwareUpdate(crc, p, bytes.size());
}

uint32_t Crc32c(std::string_view bytes) { return Crc32cExtend(0, bytes); }

// For tests: the portable path regardless of the CPU.
uint32_t Crc32cSoftwareForTest(std::string_view bytes) {
  return ~SoftwareUpdate(~0u, reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size());
}

}  // namespace nebu::storage
