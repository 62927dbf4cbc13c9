// Goal: the hashing and encoding helpers match their standards.
// Method: published vectors (FIPS 180-2 / NIST for SHA-256, RFC 4648 § 10 and the
// spec appendix § Unpadded Base64 for base64), plus round-trip properties.
#include "engine/common/crypto.h"

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <set>

namespace nebu {
namespace {

TEST(Sha256Test, MatchesNistVectors) {
  EXPECT_EQ(HexEncode(Sha256("")),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(HexEncode(Sha256("abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(HexEncode(Sha256("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")),
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
}

TEST(HexEncodeTest, WritesLowerCaseTwoDigitsPerByte) {
  EXPECT_EQ(HexEncode(std::string_view("\x00\x0f\xab\xff", 4)), "000fabff");
  EXPECT_EQ(HexEncode(""), "");
}

// Spec appendix § Unpadded Base64 (same as RFC 4648 § 10 without '=').
TEST(Base64Test, UnpaddedMatchesSpecExamples) {
  const std::pair<std::string_view, std::string_view> kCases[] = {
      {"", ""},           {"f", "Zg"},          {"fo", "Zm8"},         {"foo", "Zm9v"},
      {"foob", "Zm9vYg"}, {"fooba", "Zm9vYmE"}, {"foobar", "Zm9vYmFy"}};
  for (auto [plain, encoded] : kCases) {
    EXPECT_EQ(Base64Unpadded(plain), encoded) << plain;
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded;
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(Base64Test, UrlSafeUsesMinusAndUnderscore) {
  std::string bytes("\xfb\xff\xbf", 3);
  EXPECT_EQ(Base64Unpadded(bytes), "+/+/");
  EXPECT_EQ(Base64UrlUnpadded(bytes), "-_-_");
}

TEST(Base64Test, DigestEncodesTo43Characters) {
  EXPECT_EQ(Base64Unpadded(Sha256("x")).size(), 43u);
  EXPECT_EQ(Base64UrlUnpadded(Sha256("x")).size(), 43u);
}

TEST(Base64Test, DecodeAcceptsPaddedInput) {
  EXPECT_EQ(*Base64Decode("Zg=="), "f");
  EXPECT_EQ(*Base64Decode("Zm8="), "fo");
  EXPECT_EQ(*Base64Decode("Zm9vYmFy"), "foobar");
}

TEST(Base64Test, DecodeRejectsMalformedInput) {
  for (std::string_view bad :
       {"Z", "Zg=", "Z===", "====", "Zm9v!", "Zm9-", "Zm_v", "Zh", "Zm9=", "Zg==Zg==", " Zg"}) {
    auto r = Base64Decode(bad);
    EXPECT_FALSE(r.ok()) << bad;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << bad;
  }
}

RC_GTEST_PROP(Base64Property, DecodeInvertsEncode, (const std::string& bytes)) {
  RC_ASSERT(*Base64Decode(Base64Unpadded(bytes)) == bytes);
  std::string padded = Base64Unpadded(bytes);
  while (padded.size() % 4 != 0) padded.push_back('=');
  RC_ASSERT(*Base64Decode(padded) == bytes);
}

TEST(RandomTest, RandomBytesHaveTheRequestedLength) {
  EXPECT_EQ(RandomBytes(0).size(), 0u);
  EXPECT_EQ(RandomBytes(33).size(), 33u);
  EXPECT_NE(RandomBytes(32), RandomBytes(32));
}

TEST(RandomTest, RandomAlnumUsesOnlyLettersAndDigitsAndCoversThem) {
  std::string s = RandomAlnum(20000);
  ASSERT_EQ(s.size(), 20000u);
  std::set<char> seen(s.begin(), s.end());
  for (char c : seen) EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c))) << c;
  EXPECT_EQ(seen.size(), 62u);  // 20k draws cover all 62 symbols
  EXPECT_EQ(RandomAlnum(0), "");
}

}  // namespace
}  // namespace nebu
