// Goal: GET /pushers and POST /pushers/set behave as the spec says over real HTTP, and
// every bad or hostile input gets a clear Matrix error and changes nothing: another
// user's pushkey (append false takes it, append true shares it, kind null deletes only
// the caller's), bad URLs, unsupported kinds and formats, oversized fields and data,
// missing fields, the per-user bound; a logged-out device's pushers disappear.
// Method: PushersApiTest (real engine, real server on loopback), v3 and r0 paths.
#include <gtest/gtest.h>

#include <string>

#include "tests/api/push/pushers_api_testing.h"

namespace nebu::api {
namespace {

const std::string kUrl = "http://127.0.0.1:9/_matrix/push/v1/notify";

TEST_F(PushersApiTest, SetThenGetAnswersThePusherUnderV3AndR0) {
  EXPECT_TRUE(Pushers(alice_).empty());
  Response set = Call("POST", "/pushers/set", alice_, HttpPusher("key1", kUrl, true));
  ASSERT_EQ(set.status, 200) << set.body;
  EXPECT_EQ(Body(set), json::object{});
  json::array mine = Pushers(alice_);
  ASSERT_EQ(mine.size(), 1u);
  const json::object& p = mine[0].as_object();
  EXPECT_EQ(p.at("pushkey"), "key1");
  EXPECT_EQ(p.at("kind"), "http");
  EXPECT_EQ(p.at("app_id"), "org.example.app");
  EXPECT_EQ(p.at("lang"), "en");
  EXPECT_EQ(std::string(p.at("data").at("url").as_string()), kUrl);
  EXPECT_EQ(p.at("data").at("format"), "event_id_only");
  Response r0 = Call("GET", "/_matrix/client/r0/pushers", alice_, std::string());
  ASSERT_EQ(r0.status, 200);
  EXPECT_EQ(Body(r0).at("pushers").as_array().size(), 1u);
  EXPECT_TRUE(Pushers(bob_).empty());
}

TEST_F(PushersApiTest, KindNullDeletesOnlyTheCallersPusher) {
  ASSERT_EQ(Call("POST", "/pushers/set", alice_, HttpPusher("shared", kUrl)).status, 200);
  json::object shared = HttpPusher("shared", kUrl);
  shared["append"] = true;
  ASSERT_EQ(Call("POST", "/pushers/set", bob_, shared).status, 200);
  json::object del{{"kind", nullptr}, {"app_id", "org.example.app"}, {"pushkey", "shared"}};
  ASSERT_EQ(Call("POST", "/pushers/set", bob_, del).status, 200);
  EXPECT_TRUE(Pushers(bob_).empty());
  EXPECT_EQ(Pushers(alice_).size(), 1u);
  // Deleting what is not there is no error.
  EXPECT_EQ(Call("POST", "/pushers/set", bob_, del).status, 200);
}

TEST_F(PushersApiTest, AnotherUsersPushkeyWithAppendFalseTakesItOver) {
  ASSERT_EQ(Call("POST", "/pushers/set", alice_, HttpPusher("victim", kUrl)).status, 200);
  ASSERT_EQ(Call("POST", "/pushers/set", bob_, HttpPusher("victim", kUrl)).status, 200);
  EXPECT_TRUE(Pushers(alice_).empty());  // the spec: one pushkey, one user
  EXPECT_EQ(Pushers(bob_).size(), 1u);
}

TEST_F(PushersApiTest, BadInputIsRefusedWithTheRightErrorAndChangesNothing) {
  struct Case {
    const char* what;
    json::object body;
    int status;
    const char* errcode;
  };
  auto with = [&](std::string_view key, json::value v) {
    json::object b = HttpPusher("k", kUrl);
    b[key] = std::move(v);
    return b;
  };
  auto with_data = [&](std::string_view key, json::value v) {
    json::object b = HttpPusher("k", kUrl);
    b["data"].as_object()[key] = std::move(v);
    return b;
  };
  json::object no_lang = HttpPusher("k", kUrl);
  no_lang.erase("lang");
  json::object no_kind = HttpPusher("k", kUrl);
  no_kind.erase("kind");
  json::object no_data = HttpPusher("k", kUrl);
  no_data.erase("data");
  const Case cases[] = {
      {"ftp url", with_data("url", "ftp://127.0.0.1/_matrix/push/v1/notify"), 400, "M_INVALID_PARAM"},
      {"other path", with_data("url", "http://127.0.0.1:9/evil"), 400, "M_INVALID_PARAM"},
      {"credentials", with_data("url", "http://a:b@127.0.0.1/_matrix/push/v1/notify"), 400, "M_INVALID_PARAM"},
      {"url not a string", with_data("url", 5), 400, "M_INVALID_PARAM"},
      {"format", with_data("format", "full"), 400, "M_INVALID_PARAM"},
      {"huge data", with_data("blob", json::string(std::string(push::kPusherDataBytesMax, 'x'))), 413, "M_TOO_LARGE"},
      {"float in data", with_data("f", 1.5), 400, "M_BAD_JSON"},
      {"email kind", with("kind", "email"), 400, "M_INVALID_PARAM"},
      {"kind a number", with("kind", 3), 400, "M_BAD_JSON"},
      {"long pushkey", with("pushkey", json::string(std::string(push::kPushkeyBytesMax + 1, 'k'))), 400, "M_INVALID_PARAM"},
      {"long app_id", with("app_id", json::string(std::string(push::kAppIdCharsMax + 1, 'a'))), 400, "M_INVALID_PARAM"},
      {"long lang", with("lang", json::string(std::string(push::kPusherTextBytesMax + 1, 'l'))), 400, "M_INVALID_PARAM"},
      {"append not bool", with("append", "yes"), 400, "M_BAD_JSON"},
      {"no lang", no_lang, 400, "M_MISSING_PARAM"},
      {"no kind", no_kind, 400, "M_MISSING_PARAM"},
      {"no data", no_data, 400, "M_MISSING_PARAM"},
  };
  for (const Case& c : cases) {
    Response r = Call("POST", "/pushers/set", alice_, c.body);
    EXPECT_EQ(r.status, c.status) << c.what << ": " << r.body;
    EXPECT_EQ(ErrCode(r), c.errcode) << c.what;
  }
  Response huge = Call("POST", "/pushers/set", alice_,
                       std::string(kPusherBodyBytesMax + 1, ' '));
  EXPECT_EQ(huge.status, 413);
  EXPECT_EQ(Call("POST", "/pushers/set", alice_, std::string("not json")).status, 400);
  EXPECT_EQ(Call("POST", "/pushers/set", std::string(), HttpPusher("k", kUrl)).status, 401);
  EXPECT_EQ(Call("GET", "/pushers", std::string(), std::string()).status, 401);
  EXPECT_TRUE(Pushers(alice_).empty());
}

TEST_F(PushersApiTest, AUserHoldsAtMostTheBound) {
  for (size_t i = 0; i < push::kPushersPerUserMax; ++i) {
    ASSERT_EQ(Call("POST", "/pushers/set", alice_, HttpPusher("k" + std::to_string(i), kUrl)).status, 200);
  }
  Response over = Call("POST", "/pushers/set", alice_, HttpPusher("over", kUrl));
  EXPECT_EQ(over.status, 400) << over.body;
  EXPECT_EQ(ErrCode(over), "M_INVALID_PARAM");
  EXPECT_EQ(Pushers(alice_).size(), push::kPushersPerUserMax);
}

TEST_F(PushersApiTest, ALoggedOutDevicesPushersAreNoLongerListed) {
  const std::string phone = Login("@alice:localhost");
  ASSERT_EQ(Call("POST", "/pushers/set", phone, HttpPusher("phone", kUrl)).status, 200);
  ASSERT_EQ(Call("POST", "/pushers/set", alice_, HttpPusher("laptop", kUrl)).status, 200);
  EXPECT_EQ(Pushers(alice_).size(), 2u);
  ASSERT_EQ(Call("POST", "/logout", phone, json::object{}).status, 200);
  json::array left = Pushers(alice_);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0].at("pushkey"), "laptop");
}

}  // namespace
}  // namespace nebu::api
