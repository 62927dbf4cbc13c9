// Goal: argon2id hashing produces a verifiable, salted PHC string within the time
// budget, and verification refuses wrong passwords and malformed or overpriced
// hashes. Method: real libargon2 with the production parameters.
#include "engine/accounts/password.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace nebu::accounts {
namespace {

TEST(PasswordTest, HashIsAnArgon2idPhcStringWithTheNamedParameters) {
  Result<std::string> encoded = HashPassword("correct horse battery staple");
  ASSERT_TRUE(encoded.ok()) << encoded.status().ToString();
  EXPECT_TRUE(encoded->starts_with("$argon2id$v=19$m=19456,t=2,p=1$")) << *encoded;
  EXPECT_TRUE(CheckPasswordHash(*encoded).ok());
  EXPECT_LE(encoded->size(), kPasswordHashBytesMax);
}

TEST(PasswordTest, HashThenVerifyRoundTrips) {
  Result<std::string> encoded = HashPassword("correct horse battery staple");
  ASSERT_TRUE(encoded.ok());
  EXPECT_TRUE(VerifyPassword("correct horse battery staple", *encoded));
}

TEST(PasswordTest, VerifyRejectsAWrongPassword) {
  Result<std::string> encoded = HashPassword("correct horse battery staple");
  ASSERT_TRUE(encoded.ok());
  EXPECT_FALSE(VerifyPassword("correct horse battery stapler", *encoded));
  EXPECT_FALSE(VerifyPassword("", *encoded));
}

TEST(PasswordTest, TwoHashesOfOnePasswordDifferBecauseOfTheSalt) {
  Result<std::string> a = HashPassword("hunter2");
  Result<std::string> b = HashPassword("hunter2");
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b);
  EXPECT_TRUE(VerifyPassword("hunter2", *a));
  EXPECT_TRUE(VerifyPassword("hunter2", *b));
}

TEST(PasswordTest, HashRefusesEmptyAndOverlongPasswords) {
  EXPECT_EQ(HashPassword("").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(HashPassword(std::string(kPasswordBytesMax + 1, 'x')).status().code(),
            StatusCode::kTooLarge);
  Result<std::string> longest = HashPassword(std::string(kPasswordBytesMax, 'x'));
  ASSERT_TRUE(longest.ok());
  EXPECT_TRUE(VerifyPassword(std::string(kPasswordBytesMax, 'x'), *longest));
}

TEST(PasswordTest, PasswordsWithNulAndMultibyteBytesRoundTrip) {
  const std::string password = std::string("pa\0ss", 5) + "wörd😀";
  Result<std::string> encoded = HashPassword(password);
  ASSERT_TRUE(encoded.ok());
  EXPECT_TRUE(VerifyPassword(password, *encoded));
  EXPECT_FALSE(VerifyPassword("pa", *encoded));  // no truncation at the NUL
}

TEST(PasswordTest, CheckPasswordHashRefusesOtherSchemesAndOverpricedParameters) {
  const std::string tail = "$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNo";
  EXPECT_TRUE(CheckPasswordHash("$argon2id$v=19$m=19456,t=2,p=1" + tail).ok());
  for (const std::string& bad : std::initializer_list<std::string>{
           "$argon2i$v=19$m=19456,t=2,p=1" + tail,                 // not the id variant
           "$argon2id$v=16$m=19456,t=2,p=1" + tail,                // old version
           "$argon2id$v=19$m=4194304,t=2,p=1" + tail,              // 4 GiB
           "$argon2id$v=19$m=19456,t=1000,p=1" + tail,             // too many passes
           "$argon2id$v=19$m=19456,t=2,p=64" + tail,               // too many lanes
           "$argon2id$v=19$m=019456,t=2,p=1" + tail,               // leading zero
           std::string("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA"),   // no hash
           std::string("$argon2id$v=19$m=19456,t=2,p=1$$aGFzaA"),  // empty salt
           std::string("$2b$12$abcdefghijklmnopqrstuv"),           // bcrypt
           std::string(""),
       }) {
    EXPECT_FALSE(CheckPasswordHash(bad).ok()) << bad;
    EXPECT_FALSE(VerifyPassword("x", bad)) << bad;
  }
}

// Prints the cost of one hash (a figure, not a check: timing assertions fail on a
// loaded CI machine); the parameters themselves are checked by the PHC tests above.
TEST(PasswordTest, PrintsTheCostOfOneHash) {
  constexpr int kRounds = 3;
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) ASSERT_TRUE(HashPassword("benchmark password").ok());
  std::chrono::duration<double, std::milli> elapsed = std::chrono::steady_clock::now() - start;
  double per_hash_ms = elapsed.count() / kRounds;
  std::printf("argon2id t=%u m=%u KiB p=%u: %.1f ms per hash\n", kArgon2Iterations,
              kArgon2MemoryKib, kArgon2Lanes, per_hash_ms);
}

}  // namespace
}  // namespace nebu::accounts
