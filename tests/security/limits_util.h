// Helpers of the rate-limit and proxy tests (limits_test.cpp, proxy_test.cpp): a nebu
// with rate limits on behind a "proxy" on loopback (NEBU_TRUSTED_PROXIES=127.0.0.1/32),
// so each request can come from its own client address through X-Forwarded-For.
#pragma once

#include <string>
#include <vector>

#include "tests/security/nebu_process.h"

namespace nebu::security {

class LimitsTest : public SecurityTest {
 protected:
  // Rate limits on; loopback is a trusted proxy (unless `env` says otherwise).
  void StartLimited(Env env = {}) {
    env.emplace("NEBU_RATE_LIMIT", "on");
    env.emplace("NEBU_TRUSTED_PROXIES", "127.0.0.1/32");
    Start(env);
  }

  static std::vector<std::string> From(const std::string& ip) {
    return {"X-Forwarded-For: " + ip};
  }

  // A new client address per call (10.77.x.y), so the per-IP buckets of /register and
  // /login never run dry in a test about something else.
  std::vector<std::string> FreshIp() {
    ++ip_;
    return From("10.77." + std::to_string(ip_ / 250) + "." + std::to_string(ip_ % 250 + 1));
  }

  // POST /register of @localpart:localhost with password "password-<localpart>".
  HttpReply RegisterCall(const std::string& localpart, const std::vector<std::string>& headers) {
    return Call("POST", "/register", "",
                json::object{{"username", localpart},
                             {"password", "password-" + localpart},
                             {"auth", {{"type", "m.login.dummy"}}}},
                headers);
  }
  // Registers from a fresh address; the access token.
  std::string RegisterFresh(const std::string& localpart) {
    HttpReply r = RegisterCall(localpart, FreshIp());
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(r.Json().at("access_token").as_string()) : "";
  }

  HttpReply Login(const std::string& localpart, const std::string& password,
                  const std::vector<std::string>& headers) {
    return Call("POST", "/login", "",
                json::object{{"type", "m.login.password"},
                             {"identifier", {{"type", "m.id.user"}, {"user", localpart}}},
                             {"password", password}},
                headers);
  }

  // 429 M_LIMIT_EXCEEDED with a positive retry_after_ms.
  static void ExpectLimited(const HttpReply& r) {
    EXPECT_EQ(r.status, 429) << r.body;
    EXPECT_EQ(r.Errcode(), "M_LIMIT_EXCEEDED") << r.body;
    json::value v = r.Json();
    const json::value* retry = v.is_object() ? v.as_object().if_contains("retry_after_ms") : nullptr;
    ASSERT_NE(retry, nullptr) << r.body;
    EXPECT_TRUE(retry->is_int64() && retry->as_int64() > 0) << r.body;
  }

  // Calls `attempt(i)` for i = 0, 1, ... until it answers 429, at most `max` times;
  // every earlier answer must be `ok_status`. The index of the 429 (-1: none).
  template <typename Attempt>
  int UntilLimited(int max, int ok_status, Attempt attempt) {
    for (int i = 0; i < max; ++i) {
      HttpReply r = attempt(i);
      if (r.status == 429) {
        ExpectLimited(r);
        return i;
      }
      EXPECT_EQ(r.status, ok_status) << "attempt " << i << ": " << r.body;
      if (r.status != ok_status) return -1;
    }
    ADD_FAILURE() << "no 429 after " << max << " attempts";
    return -1;
  }

  int ip_ = 0;
};

}  // namespace nebu::security
