// CRC-32C (Castagnoli), the checksum of envelopes and backups.
//
//   uint32_t c = Crc32c(bytes);
//
// Uses the SSE4.2 crc32 instruction when the CPU has it (checked once at run time),
// otherwise slicing-by-8 tables. Crc32c("123456789") == 0xE3069283.
//
// Thread-safety: pure function.
#pragma once

#include <cstdint>
#include <string_view>

namespace nebu::storage {

uint32_t Crc32c(std::string_view bytes);
// Continues a running checksum: Crc32c(a+b) == Crc32cExtend(Crc32c(a), b).
uint32_t Crc32cExtend(uint32_t crc, std::string_view bytes);
// The portable table-driven path, whatever the CPU supports; for tests that compare
// it with the SSE4.2 path Crc32c takes when available.
uint32_t Crc32cSoftwareForTest(std::string_view bytes);

}  // namespace nebu::storage
