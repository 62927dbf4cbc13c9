// Hashes, encodings and randomness used across the engine (OpenSSL underneath).
//
//   std::string id = "$" + Base64UrlUnpadded(Sha256(canonical_bytes));
//
// Thread-safety: all functions are safe from any thread.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/common/status.h"

namespace nebu {

using Sha256Digest = std::array<uint8_t, 32>;

Sha256Digest Sha256(std::string_view bytes);

// Whether a presented secret equals the expected one, in time independent of where
// they differ: both are hashed to equal-length digests, then compared in constant time.
bool SecretsEqual(std::string_view presented, std::string_view expected);
// Lower-case hex of bytes (64 characters for a digest).
std::string HexEncode(std::string_view bytes);
std::string HexEncode(const Sha256Digest& digest);

// Standard alphabet, no '=' padding (Matrix "unpadded base64").
std::string Base64Unpadded(std::string_view bytes);
std::string Base64Unpadded(const Sha256Digest& digest);
// URL-safe alphabet ('-' and '_'), no padding (room v4+ event IDs).
std::string Base64UrlUnpadded(std::string_view bytes);
std::string Base64UrlUnpadded(const Sha256Digest& digest);
// Accepts padded or unpadded standard base64; kInvalidArgument otherwise.
Result<std::string> Base64Decode(std::string_view text);

// Cryptographically secure random bytes (OpenSSL RAND_bytes); aborts if the RNG fails.
std::string RandomBytes(size_t n);
// n random characters from [A-Za-z0-9]: access tokens, device IDs, session IDs.
std::string RandomAlnum(size_t n);

}  // namespace nebu
