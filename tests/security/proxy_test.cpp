// Goal: issue 7 item 6 on the real binary. X-Forwarded-For moves a request to another
// per-IP bucket only when the TCP peer is a trusted proxy (NEBU_TRUSTED_PROXIES);
// the client is the rightmost address that is not a trusted proxy, so a forged left
// part of the chain changes nothing; a malformed header counts as the peer; the
// access log names the client. Registration is closed unless NEBU_REGISTRATION=open.
// Method: /register's per-IP bucket (kRegisterRateLimit, burst 5) as the probe: drain
// it for one address, then see which addresses still get in. Registrations are bounded
// by the burst; nothing waits for a refill.
#include "api/rate_limit.h"
#include "tests/security/limits_util.h"

namespace nebu::security {
namespace {

const int kBurst = static_cast<int>(api::kRegisterRateLimit.burst);

class ProxyTest : public LimitsTest {
 protected:
  // Registers fresh users with `headers` until the 429; how many got in.
  int DrainRegistrations(const std::vector<std::string>& headers) {
    for (int i = 0; i < 2 * kBurst + 5; ++i) {
      HttpReply r = RegisterCall("u" + std::to_string(++users_), headers);
      if (r.status == 429) {
        ExpectLimited(r);
        return i;
      }
      EXPECT_EQ(r.status, 200) << r.body;
    }
    ADD_FAILURE() << "registration was never limited";
    return -1;
  }
  int Register(const std::vector<std::string>& headers) {
    return RegisterCall("u" + std::to_string(++users_), headers).status;
  }

  int users_ = 0;
};

TEST_F(ProxyTest, AnUntrustedPeersForwardedForIsIgnored) {
  StartLimited({{"NEBU_TRUSTED_PROXIES", ""}});  // loopback is not a proxy here
  EXPECT_GE(DrainRegistrations(From("203.0.113.1")), kBurst);
  // Another claimed address is still the same peer: the same, empty bucket.
  EXPECT_EQ(Register(From("203.0.113.2")), 429);
  EXPECT_EQ(Register({}), 429);
}

TEST_F(ProxyTest, ATrustedPeersForwardedForSelectsTheBucket) {
  StartLimited();
  EXPECT_GE(DrainRegistrations(From("203.0.113.1")), kBurst);
  EXPECT_EQ(Register(From("203.0.113.1")), 429);
  EXPECT_EQ(Register(From("203.0.113.2")), 200);
  EXPECT_EQ(Register({}), 200);  // the proxy's own requests: its own bucket
  EXPECT_EQ(Register(From("2001:db8::7")), 200);
}

TEST_F(ProxyTest, SpoofedChainsDoNotEscapeTheBucket) {
  StartLimited({{"NEBU_TRUSTED_PROXIES", "127.0.0.1/32,10.0.0.0/8"}});
  EXPECT_GE(DrainRegistrations(From("203.0.113.9")), kBurst);
  // The client forged entries on the left; the proxies appended what they saw.
  EXPECT_EQ(Register(From("198.51.100.1, 203.0.113.9")), 429);
  EXPECT_EQ(Register(From("198.51.100.1, 203.0.113.9, 10.1.2.3")), 429);
  EXPECT_EQ(Register({"X-Forwarded-For: 198.51.100.1", "X-Forwarded-For: 203.0.113.9"}), 429);
  // A trusted-looking address forged on the left is not read either.
  EXPECT_EQ(Register(From("10.9.9.9, 203.0.113.9")), 429);
  // A malformed chain is the peer's (the proxy's) bucket, not a way out of it.
  EXPECT_GE(DrainRegistrations(From("not-an-ip")), kBurst);
  EXPECT_EQ(Register(From("203.0.113.9:1234")), 429);
  EXPECT_EQ(Register({}), 429);
  // A genuinely different client still gets in.
  EXPECT_EQ(Register(From("198.51.100.1, 203.0.113.10")), 200);
}

TEST_F(ProxyTest, TheAccessLogNamesTheForwardedClient) {
  StartLimited({{"NEBU_LOG_LEVEL", "info"}});
  EXPECT_EQ(Call("GET", "/_matrix/client/versions", "", std::string(), From("203.0.113.44")).status, 200);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  bool logged = false;
  while (!logged && std::chrono::steady_clock::now() < deadline) {
    logged = nebu_.Log().find("203.0.113.44 via=127.0.0.1:") != std::string::npos;
    if (!logged) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_TRUE(logged) << "no access log line with the forwarded client";
}

TEST_F(ProxyTest, RegistrationIsClosedUnlessOpenedExplicitly) {
  Start({{"NEBU_REGISTRATION", ""}});  // the default, on a loopback listener
  HttpReply r = RegisterCall("alice", {});
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(r.Errcode(), "M_FORBIDDEN");
  Restart(SIGTERM, {{"NEBU_REGISTRATION", "open"}});
  EXPECT_EQ(RegisterCall("alice", {}).status, 200);
}

}  // namespace
}  // namespace nebu::security
