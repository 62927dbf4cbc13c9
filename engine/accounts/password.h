// Passwords: argon2id hashing and verification (RFC 9106, libargon2).
//
// nebu stores only the encoded PHC string argon2id produces
// ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"), never a password. Hashing is
// random (a fresh 16-byte salt) and deliberately expensive, so it happens on the
// node that receives the request, before a command is built; the replicated
// command carries the encoded string (engine/accounts/commands.h).
//
//   NEBU_ASSIGN_OR_RETURN(std::string encoded, HashPassword(body.password));
//   ...
//   if (!VerifyPassword(attempt, encoded)) return Status::Forbidden("wrong password");
//
// Parameters: t=2 passes over m=19 MiB with p=1 lane, the first of OWASP's
// equivalent argon2id settings (Password Storage Cheat Sheet); RFC 9106's second
// recommendation (t=3, m=64 MiB) measured ~330 ms here, ~10x the time and 3.4x the
// memory per login, which a homeserver with bursts of logins on 2 cores cannot
// afford. Measured on the dev box (2 shared cores, -O2, libargon2 20171227):
// ~35 ms per hash (the test HashingTakesUnderTheBudget prints it and fails above
// 250 ms). Verification costs the same as hashing.
//
// Thread-safety: all functions are safe from any thread; each call allocates its
// own m_cost KiB of working memory.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/common/status.h"

namespace nebu::accounts {

inline constexpr uint32_t kArgon2Iterations = 2;         // t_cost
inline constexpr uint32_t kArgon2MemoryKib = 19 * 1024;  // m_cost, 19 MiB
inline constexpr uint32_t kArgon2Lanes = 1;              // parallelism
inline constexpr size_t kArgon2SaltBytes = 16;
inline constexpr size_t kArgon2HashBytes = 32;

// Limits on what is hashed and stored. A longer password only costs CPU; 512 bytes
// is far above any passphrase. Hashes with parameters beyond the *Max limits are
// refused on decode and apply, so a corrupted or hostile command cannot make every
// node spend gigabytes verifying a login.
inline constexpr size_t kPasswordBytesMax = 512;
inline constexpr size_t kPasswordHashBytesMax = 256;  // the encoded string
inline constexpr uint32_t kArgon2IterationsMax = 16;
inline constexpr uint32_t kArgon2MemoryKibMax = 256 * 1024;  // 256 MiB
inline constexpr uint32_t kArgon2LanesMax = 8;

// Checks a password a user proposes: kInvalidArgument when empty, kTooLarge when
// longer than kPasswordBytesMax.
[[nodiscard]] Status CheckPassword(std::string_view password);

// Hashes password with argon2id and a fresh random salt; returns the encoded PHC
// string (starts with "$argon2id$"). Two calls with one password differ. Errors:
// those of CheckPassword; kInternal when libargon2 fails (out of memory).
[[nodiscard]] Result<std::string> HashPassword(std::string_view password);

// True when password matches encoded. False for a wrong password, an empty or
// over-long password, and for an encoded string that is not a well-formed argon2id
// hash within the *Max limits (never throws, never aborts). Constant-time compare
// inside libargon2.
[[nodiscard]] bool VerifyPassword(std::string_view password, std::string_view encoded);

// Checks that encoded is an argon2id PHC string nebu accepts: the "$argon2id$v=19$"
// prefix, parameters within the *Max limits, at most kPasswordHashBytesMax bytes.
// kInvalidArgument otherwise. Cheap: parses, does not hash.
[[nodiscard]] Status CheckPasswordHash(std::string_view encoded);

}  // namespace nebu::accounts
