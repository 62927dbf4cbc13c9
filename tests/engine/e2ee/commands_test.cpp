// Goal: the e2ee key codecs and the command payloads are exact and strict: keys of
// different users never share a prefix, records round-trip, every op round-trips
// through its canonical JSON, and malformed or oversized commands are refused.
// Method: fixed examples at the edges (the limits themselves, one past them).
#include "engine/e2ee/commands.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "engine/e2ee/keys.h"
#include "engine/event/canonical_json.h"
#include "tests/engine/e2ee/e2ee_testing.h"

namespace nebu::e2ee {
namespace {

namespace json = boost::json;
using testing::DeviceKeys;
using testing::SignedKey;

TEST(E2eeKeysTest, LengthPrefixesKeepUsersApart) {
  // "@al:x" must not capture "@alice:x"'s keys.
  std::string short_prefix = internal::DeviceKeysPrefix("@al:x");
  EXPECT_FALSE(internal::DeviceKeysKey("@alice:x", "D").starts_with(short_prefix));
  EXPECT_TRUE(internal::DeviceKeysKey("@al:x", "D").starts_with(short_prefix));
  const std::string key = internal::OneTimeKeyKey("@a:x", "DEV", "alg", "id");
  auto parts = internal::DecodeParts(key, 4, 1);
  ASSERT_TRUE(parts.has_value());
  EXPECT_EQ((*parts)[0], "@a:x");
  EXPECT_EQ((*parts)[3], "id");
  EXPECT_FALSE(internal::DecodeParts("k\x01", 1, 1).has_value());  // truncated
}

TEST(E2eeKeysTest, ToDeviceKeysSortByPosition) {
  EXPECT_LT(internal::ToDeviceKey("@a:x", "D", 2), internal::ToDeviceKey("@a:x", "D", 10));
  EXPECT_LT(internal::ToDeviceKey("@a:x", "D", 255), internal::ToDeviceKey("@a:x", "D", 256));
}

TEST(E2eeKeysTest, FallbackRecordRoundTripsAndRejectsDamage) {
  internal::FallbackRecord record{true, "AAAAAQ", "{\"key\":\"k\"}"};
  auto decoded = internal::DecodeFallback(internal::EncodeFallback(record));
  ASSERT_TRUE(decoded.has_value());
  EXPECT_EQ(*decoded, record);
  EXPECT_FALSE(internal::DecodeFallback("").has_value());
  EXPECT_FALSE(internal::DecodeFallback(std::string("\x02\x00\x01x{}", 6)).has_value());
  EXPECT_FALSE(internal::DecodeFallback(std::string("\x00\x00\x01x", 4)).has_value());  // no JSON
}

std::vector<E2eeCommand> OneOfEach() {
  UploadKeysCommand upload{
      .user_id = "@a:hs", .device_id = "DEV", .device_keys = DeviceKeys("@a:hs", "DEV")};
  upload.one_time_keys["signed_curve25519:AAAAAQ"] = SignedKey("k1");
  upload.one_time_keys["curve25519:AAAAAg"] = "plain";
  upload.fallback_keys["signed_curve25519:AAAAAw"] = SignedKey("fb");
  return {
      upload,
      ClaimKeysCommand{{{"@a:hs", "DEV", "signed_curve25519"}, {"@b:hs", "X", "curve25519"}}},
      UploadSigningKeysCommand{
          .user_id = "@a:hs",
          .master_key = json::object{{"user_id", "@a:hs"}},
          .user_signing_key = json::object{{"usage", json::array{"user_signing"}}}},
      UploadSigningKeysCommand{.user_id = "@a:hs",
                               .master_key = json::object{{"user_id", "@a:hs"}},
                               .without_uia = true},
      UploadSignaturesCommand{"@a:hs", {{"@a:hs", "DEV", "ed25519:pub", "sig"}}},
      SendToDeviceCommand{"@a:hs",
                          "DEV",
                          "txn1",
                          "m.room_key_request",
                          {{"@b:hs", "*", json::object{{"a", 1}}}, {"@b:hs", "X", {}}}},
      DeleteToDeviceCommand{"@a:hs", "DEV", 42},
      PruneDevicesCommand{"@a:hs"},
  };
}

TEST(E2eeCommandsTest, EveryOpRoundTripsThroughCanonicalJson) {
  for (const E2eeCommand& command : OneOfEach()) {
    auto payload = EncodeE2eeCommand(command);
    ASSERT_TRUE(payload.ok()) << E2eeCommandName(command) << ": " << payload.status().ToString();
    EXPECT_TRUE(event::IsCanonicalJson(*payload));
    EXPECT_NE(payload->find("\"op\":\"" + std::string(E2eeCommandName(command)) + "\""),
              std::string::npos);
    auto decoded = DecodeE2eeCommand(*payload);
    ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
    EXPECT_EQ(*decoded, command) << *payload;
  }
}

TEST(E2eeCommandsTest, DecodeRefusesUnknownOpsFieldsAndTypes) {
  EXPECT_EQ(DecodeE2eeCommand("nope").status().code(), StatusCode::kNotJson);
  EXPECT_EQ(DecodeE2eeCommand("[]").status().code(), StatusCode::kBadJson);
  EXPECT_EQ(DecodeE2eeCommand(R"({"op":"explode"})").status().code(), StatusCode::kBadJson);
  EXPECT_EQ(DecodeE2eeCommand(R"({"op":"prune_devices","user_id":"@a:hs","x":1})").status().code(),
            StatusCode::kBadJson);
  EXPECT_EQ(DecodeE2eeCommand(R"({"op":"prune_devices","user_id":5})").status().code(),
            StatusCode::kBadJson);
  EXPECT_EQ(
      DecodeE2eeCommand(R"({"op":"delete_to_device","user_id":"@a:hs","device_id":"D","upto":-1})")
          .status()
          .code(),
      StatusCode::kBadJson);
  EXPECT_EQ(DecodeE2eeCommand(R"({"op":"claim_keys","claims":[["@a:hs","D"]]})").status().code(),
            StatusCode::kBadJson);
  EXPECT_EQ(DecodeE2eeCommand(R"({"op":"prune_devices","user_id":"alice"})").status().code(),
            StatusCode::kInvalidArgument);
  // without_uia is written only when true, so false has one encoding only: absent.
  EXPECT_EQ(DecodeE2eeCommand(R"({"op":"upload_signing_keys","user_id":"@a:hs","without_uia":false})")
                .status()
                .code(),
            StatusCode::kBadJson);
}

TEST(E2eeCommandsTest, ValidateRefusesBadKeysAndEnforcesLimits) {
  UploadKeysCommand upload{.user_id = "@a:hs", .device_id = "DEV"};
  upload.one_time_keys["no_colon"] = "k";
  EXPECT_EQ(ValidateE2eeCommand(upload).code(), StatusCode::kInvalidArgument);
  upload.one_time_keys.clear();
  upload.one_time_keys["alg:id"] = 5;  // neither string nor object
  EXPECT_EQ(ValidateE2eeCommand(upload).code(), StatusCode::kInvalidArgument);
  upload.one_time_keys.clear();
  upload.fallback_keys["alg:1"] = "a";
  upload.fallback_keys["alg:2"] = "b";
  EXPECT_EQ(ValidateE2eeCommand(upload).code(), StatusCode::kInvalidArgument);
  upload.fallback_keys.clear();
  for (size_t i = 0; i < kOneTimeKeysPerUploadMax; ++i) {
    upload.one_time_keys["alg:" + std::to_string(i)] = "k";
  }
  EXPECT_TRUE(ValidateE2eeCommand(upload).ok());
  upload.one_time_keys["alg:one_more"] = "k";
  EXPECT_EQ(ValidateE2eeCommand(upload).code(), StatusCode::kTooLarge);
  upload.one_time_keys.clear();
  upload.one_time_keys["alg:big"] = std::string(kKeyJsonBytesMax, 'x');
  EXPECT_EQ(ValidateE2eeCommand(upload).code(), StatusCode::kTooLarge);

  ClaimKeysCommand claim{{{"@a:hs", "D", "alg"}, {"@a:hs", "D", "alg"}}};
  EXPECT_EQ(ValidateE2eeCommand(claim).code(), StatusCode::kInvalidArgument);  // repeated
  SendToDeviceCommand send{"@a:hs", "D", "", "m.x", {}};
  EXPECT_EQ(ValidateE2eeCommand(send).code(), StatusCode::kInvalidArgument);  // empty txn
  send.txn_id = "t";
  send.messages.assign(kToDeviceMessagesPerRequestMax + 1, ToDeviceTarget{"@b:hs", "X", {}});
  EXPECT_EQ(ValidateE2eeCommand(send).code(), StatusCode::kTooLarge);
  EXPECT_EQ(EncodeE2eeCommand(send).status().code(), StatusCode::kTooLarge);
}

}  // namespace
}  // namespace nebu::e2ee
