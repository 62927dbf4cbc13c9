// Goal: VerifyJsonSignature accepts exactly the Matrix ed25519 JSON signatures:
// valid ones over the object minus signatures and unsigned, and nothing else.
// Method: real key pairs from OpenSSL; each test damages one thing.
#include "engine/e2ee/signatures.h"

#include <gtest/gtest.h>

#include "tests/engine/e2ee/ed25519_testing.h"

namespace nebu::e2ee {
namespace {

namespace json = boost::json;
using testing::Ed25519Key;

json::object Key() {
  return json::object{{"user_id", "@a:hs"},
                      {"usage", json::array{"self_signing"}},
                      {"keys", json::object{{"ed25519:pub", "pub"}}}};
}

TEST(E2eeSignaturesTest, AValidSignatureVerifiesAndIgnoresUnsigned) {
  Ed25519Key master;
  json::object key = Key();
  master.Sign(key, "@a:hs", master.public_key());
  key["unsigned"] = json::object{{"device_display_name", "added later"}};
  EXPECT_TRUE(
      VerifyJsonSignature(key, "@a:hs", "ed25519:" + master.public_key(), master.public_key())
          .ok());
}

TEST(E2eeSignaturesTest, DamagedContentKeysOrSignaturesAreRefused) {
  Ed25519Key master, other;
  json::object key = Key();
  master.Sign(key, "@a:hs", "M");
  EXPECT_TRUE(VerifyJsonSignature(key, "@a:hs", "ed25519:M", master.public_key()).ok());
  EXPECT_EQ(VerifyJsonSignature(key, "@a:hs", "ed25519:M", other.public_key()).code(),
            StatusCode::kInvalidArgument);  // another key
  EXPECT_FALSE(VerifyJsonSignature(key, "@b:hs", "ed25519:M", master.public_key()).ok());
  EXPECT_FALSE(VerifyJsonSignature(key, "@a:hs", "ed25519:X", master.public_key()).ok());
  EXPECT_FALSE(VerifyJsonSignature(key, "@a:hs", "ed25519:M", "not base64!").ok());
  EXPECT_FALSE(VerifyJsonSignature(key, "@a:hs", "ed25519:M", "AAAA").ok());  // 3 bytes
  json::object changed = key;
  changed["usage"] = json::array{"master"};
  EXPECT_FALSE(VerifyJsonSignature(changed, "@a:hs", "ed25519:M", master.public_key()).ok());
  json::object garbage = key;
  garbage["signatures"].as_object()["@a:hs"].as_object()["ed25519:M"] = "c2ln";
  EXPECT_FALSE(VerifyJsonSignature(garbage, "@a:hs", "ed25519:M", master.public_key()).ok());
}

}  // namespace
}  // namespace nebu::e2ee
