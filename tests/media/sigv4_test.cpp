// SigV4 against AWS's published examples: the signature test suite's get-vanilla cases
// (AKIDEXAMPLE, 20150830T123600Z, us-east-1, service "service") and the S3 SigV4
// documentation's GetObject and PutObject examples (AKIAIOSFODNN7EXAMPLE, examplebucket,
// 20130524T000000Z).
#include "media/sigv4.h"

#include <gtest/gtest.h>

#include <chrono>

namespace nebu::media {
namespace {

SigV4Key SuiteKey() {
  return SigV4Key{.access_key_id = "AKIDEXAMPLE",
                  .secret_access_key = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
                  .region = "us-east-1",
                  .service = "service"};
}

SigV4Key S3DocsKey() {
  return SigV4Key{.access_key_id = "AKIAIOSFODNN7EXAMPLE",
                  .secret_access_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                  .region = "us-east-1",
                  .service = "s3"};
}

TEST(SigV4, GetVanilla) {
  SigV4Request r{.method = "GET",
                 .canonical_uri = "/",
                 .headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
                 .payload_sha256_hex = std::string(kEmptySha256Hex)};
  SigV4Signature s = SignV4(SuiteKey(), r);
  EXPECT_EQ(s.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Hex(s.canonical_request),
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
  EXPECT_EQ(s.authorization,
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, "
            "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, GetVanillaQueryOrderKeyCase) {
  SigV4Request r{.method = "GET",
                 .canonical_uri = "/",
                 .canonical_query = "Param1=value1&Param2=value2",
                 .headers = {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}},
                 .payload_sha256_hex = std::string(kEmptySha256Hex)};
  EXPECT_EQ(SignV4(SuiteKey(), r).signature,
            "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
}

TEST(SigV4, S3GetObjectExample) {
  SigV4Request r{.method = "GET",
                 .canonical_uri = "/test.txt",
                 .headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                             {"Range", "bytes=0-9"},
                             {"x-amz-content-sha256", std::string(kEmptySha256Hex)},
                             {"x-amz-date", "20130524T000000Z"}},
                 .payload_sha256_hex = std::string(kEmptySha256Hex)};
  SigV4Signature s = SignV4(S3DocsKey(), r);
  EXPECT_EQ(s.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(s.signed_headers, "host;range;x-amz-content-sha256;x-amz-date");
  EXPECT_EQ(s.signature, "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, S3PutObjectExample) {
  std::string body = "Welcome to Amazon S3.";
  std::string payload = Sha256Hex(body);
  EXPECT_EQ(payload, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  SigV4Request r{.method = "PUT",
                 .canonical_uri = UriEncode("/test$file.text", true),
                 .headers = {{"Host", "examplebucket.s3.amazonaws.com"},
                             {"Date", "Fri, 24 May 2013 00:00:00 GMT"},
                             {"x-amz-date", "20130524T000000Z"},
                             {"x-amz-storage-class", "REDUCED_REDUNDANCY"},
                             {"x-amz-content-sha256", payload}},
                 .payload_sha256_hex = payload};
  EXPECT_EQ(r.canonical_uri, "/test%24file.text");
  EXPECT_EQ(SignV4(S3DocsKey(), r).signature,
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4, HeaderValuesAreTrimmedAndCollapsed) {
  SigV4Request spaced{.method = "GET",
                      .canonical_uri = "/",
                      .headers = {{"Host", "example.amazonaws.com"},
                                  {"My-Header1", "  value1   with  spaces "},
                                  {"X-Amz-Date", "20150830T123600Z"}},
                      .payload_sha256_hex = std::string(kEmptySha256Hex)};
  EXPECT_NE(SignV4(SuiteKey(), spaced).canonical_request.find("my-header1:value1 with spaces\n"),
            std::string::npos);
}

TEST(SigV4, Helpers) {
  EXPECT_EQ(Sha256Hex(""), kEmptySha256Hex);
  EXPECT_EQ(UriEncode("a b/c~d", true), "a%20b/c~d");
  EXPECT_EQ(UriEncode("a/b", false), "a%2Fb");
  // 2015-08-30T12:36:00Z
  auto t = std::chrono::system_clock::from_time_t(1440938160);
  EXPECT_EQ(FormatAmzDate(t), "20150830T123600Z");
}

}  // namespace
}  // namespace nebu::media
