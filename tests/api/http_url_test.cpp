// Goal: ParseHttpUrl splits the URLs nebu's outgoing clients call (push gateways, the
// OpenID provider) the way the resolver and the Host header need, and refuses the forms
// that could disguise the real host.
#include "api/http_url.h"

#include <gtest/gtest.h>

namespace nebu::api {
namespace {

TEST(HttpUrlTest, SplitsSchemeHostPortAndTarget) {
  auto url = ParseHttpUrl("https://push.example:8443/_matrix/push/v1/notify?x=1");
  ASSERT_TRUE(url);
  EXPECT_TRUE(url->tls);
  EXPECT_EQ(url->host, "push.example");
  EXPECT_EQ(url->port, "8443");
  EXPECT_EQ(url->target, "/_matrix/push/v1/notify?x=1");
  EXPECT_EQ(url->HostHeader(), "push.example:8443");

  auto plain = ParseHttpUrl("http://127.0.0.1");
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->tls);
  EXPECT_EQ(plain->port, "80");
  EXPECT_EQ(plain->target, "/");
  EXPECT_EQ(plain->HostHeader(), "127.0.0.1");

  auto query_only = ParseHttpUrl("http://idp.example?a=b");
  ASSERT_TRUE(query_only);
  EXPECT_EQ(query_only->target, "/?a=b");
}

TEST(HttpUrlTest, BracketsIpv6InTheHostHeader) {
  auto url = ParseHttpUrl("http://[::1]:9000/notify");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, "9000");
  EXPECT_EQ(url->HostHeader(), "[::1]:9000");
  auto default_port = ParseHttpUrl("https://[2001:db8::1]/");
  ASSERT_TRUE(default_port);
  EXPECT_EQ(default_port->HostHeader(), "[2001:db8::1]");
}

TEST(HttpUrlTest, RefusesOtherSchemesUserinfoAndEmptyParts) {
  for (const char* bad : {"ftp://host/", "//host/", "host/path", "https://user@evil.example/",
                          "https://good.example@evil.example/", "http://:80/", "http:///x",
                          "http://host:/", "http://[::1/", "http://[::1]x/"}) {
    EXPECT_FALSE(ParseHttpUrl(bad)) << bad;
  }
}

}  // namespace
}  // namespace nebu::api
