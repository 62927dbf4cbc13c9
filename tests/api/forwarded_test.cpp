// Goal: NEBU_TRUSTED_PROXIES parsing and the client-address rule of api/forwarded.h:
// X-Forwarded-For believed only from a trusted peer, read from the right up to the
// first untrusted hop, malformed entries falling back to the peer. Method: the pure
// functions with literal inputs.
#include "api/forwarded.h"

#include <gtest/gtest.h>

namespace nebu::api {
namespace {

TrustedProxies Proxies(std::string_view text) {
  Result<TrustedProxies> parsed = ParseTrustedProxies(text);
  EXPECT_TRUE(parsed.ok()) << parsed.status().ToString();
  return parsed.ok() ? *parsed : TrustedProxies{};
}

TEST(ForwardedTest, ParsesIpv4AndIpv6CidrsAndBareAddresses) {
  TrustedProxies proxies = Proxies(" 10.0.0.0/8, 192.168.1.1 ,fd00::/8,::1");
  ASSERT_EQ(proxies.size(), 4u);
  EXPECT_EQ(proxies[0].prefix_bits, 104);
  EXPECT_EQ(proxies[1].prefix_bits, 128);
  EXPECT_EQ(proxies[2].prefix_bits, 8);
  EXPECT_TRUE(Proxies("").empty());
  EXPECT_TRUE(Proxies("  ").empty());
}

TEST(ForwardedTest, RefusesMalformedLists) {
  for (std::string_view bad : {"10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0/8", "localhost",
                               "10.0.0.0/8,", "1.2.3.4/-1", "1.2.3.4/8x", "[::1]/128"}) {
    Result<TrustedProxies> parsed = ParseTrustedProxies(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    if (!parsed.ok()) {
      EXPECT_EQ(parsed.status().code(), StatusCode::kInvalidArgument);
    }
  }
  std::string many;
  for (size_t i = 0; i <= kTrustedProxiesMax; ++i) many += (i ? "," : "") + std::string("::1");
  EXPECT_FALSE(ParseTrustedProxies(many).ok());
}

TEST(ForwardedTest, MatchesByPrefixAndTreatsMappedIpv4AsIpv4) {
  TrustedProxies proxies = Proxies("10.1.0.0/16,2001:db8::/32");
  EXPECT_TRUE(IsTrusted(*ParseIp("10.1.255.3"), proxies));
  EXPECT_FALSE(IsTrusted(*ParseIp("10.2.0.1"), proxies));
  EXPECT_TRUE(IsTrusted(*ParseIp("::ffff:10.1.0.9"), proxies));
  EXPECT_TRUE(IsTrusted(*ParseIp("[2001:db8:5::1]"), proxies));
  EXPECT_FALSE(IsTrusted(*ParseIp("2001:db9::1"), proxies));
  EXPECT_TRUE(IsTrusted(*ParseIp("1.2.3.4"), Proxies("0.0.0.0/0")));
  EXPECT_FALSE(IsTrusted(*ParseIp("::1"), Proxies("0.0.0.0/0")));  // IPv4 /0 is IPv4 only
}

TEST(ForwardedTest, AnUntrustedPeerIsTheClientWhateverItForwards) {
  TrustedProxies proxies = Proxies("10.0.0.1");
  EXPECT_EQ(ClientAddress("203.0.113.5", {"198.51.100.1"}, proxies), "203.0.113.5");
  EXPECT_EQ(ClientAddress("203.0.113.5", {"198.51.100.1"}, {}), "203.0.113.5");
}

TEST(ForwardedTest, ATrustedPeerNamesTheRightmostUntrustedHop) {
  TrustedProxies proxies = Proxies("10.0.0.0/8");
  EXPECT_EQ(ClientAddress("10.0.0.1", {"198.51.100.1"}, proxies), "198.51.100.1");
  // A forged left part is never read: the hop the trusted proxy saw wins.
  EXPECT_EQ(ClientAddress("10.0.0.1", {"6.6.6.6, 198.51.100.1, 10.0.0.7"}, proxies),
            "198.51.100.1");
  EXPECT_EQ(ClientAddress("10.0.0.1", {"garbage, 198.51.100.1"}, proxies), "198.51.100.1");
  // Several fields are one list, in order.
  EXPECT_EQ(ClientAddress("10.0.0.1", {"6.6.6.6", "198.51.100.2,10.0.0.3"}, proxies),
            "198.51.100.2");
  EXPECT_EQ(ClientAddress("10.0.0.1", {"[2001:db8::9]"}, proxies), "2001:db8::9");
  EXPECT_EQ(ClientAddress("::ffff:10.0.0.1", {"198.51.100.1"}, proxies), "198.51.100.1");
  // Every hop trusted: the leftmost.
  EXPECT_EQ(ClientAddress("10.0.0.1", {"10.0.0.5, 10.0.0.6"}, proxies), "10.0.0.5");
}

TEST(ForwardedTest, AMalformedOrMissingHeaderFallsBackToThePeer) {
  TrustedProxies proxies = Proxies("10.0.0.0/8");
  EXPECT_EQ(ClientAddress("10.0.0.1", {}, proxies), "10.0.0.1");
  EXPECT_EQ(ClientAddress("10.0.0.1", {""}, proxies), "10.0.0.1");
  EXPECT_EQ(ClientAddress("10.0.0.1", {"unknown"}, proxies), "10.0.0.1");
  EXPECT_EQ(ClientAddress("10.0.0.1", {"198.51.100.1:443"}, proxies), "10.0.0.1");
  EXPECT_EQ(ClientAddress("10.0.0.1", {"198.51.100.1,"}, proxies), "10.0.0.1");
  EXPECT_EQ(ClientAddress("10.0.0.1", {"198.51.100.1, 10.0.0.2 x"}, proxies), "10.0.0.1");
}

TEST(ForwardedTest, ReadsAtMostTheHopLimit) {
  TrustedProxies proxies = Proxies("10.0.0.0/8");
  std::string chain = "198.51.100.1";
  for (size_t i = 0; i < kForwardedHopsMax; ++i) chain += ", 10.0.0.2";
  EXPECT_EQ(ClientAddress("10.0.0.1", {chain}, proxies), "10.0.0.1");
  // Many forged entries to the left do not matter.
  std::string forged;
  for (size_t i = 0; i < 1000; ++i) forged += "6.6.6.6, ";
  EXPECT_EQ(ClientAddress("10.0.0.1", {forged + "198.51.100.1"}, proxies), "198.51.100.1");
}

}  // namespace
}  // namespace nebu::api
