// CRC-32C (Castagnoli), the checksum of envelopes and backups.
//
//   uint32_t c = Crc32c(bytes);
//
// Thread-safety: pure function.
#pragma once

#include <cstdint>
#include <string_view>

namespace nebu::storage {

uint32_t Crc32c(std::string_view bytes);
// Continues a running checksum: Crc32c(a+b) == Crc32cExtend(Crc32c(a), b).
uint32_t Crc32cExtend(uint32_t crc, std::string_view bytes);

}  // namespace nebu::storage
