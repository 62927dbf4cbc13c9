// Goal: the validation table of api/path_params.h: every parameter name a route uses
// has its rule, the bytes that used to abort the server (invalid UTF-8, overlong
// forms, surrogates, U+0000, over-length) are refused for every name, and the values
// real clients send pass. Method: PathParamError / QueryError on literal values.
#include "api/path_params.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace nebu::api {
namespace {

// Every {name} used by a route of api::ClientApi (grep "{" in api/*.cpp).
const std::vector<std::string> kRouteParamNames = {
    "roomId",   "userId", "roomAlias", "roomIdOrAlias", "eventId", "eventType",
    "stateKey", "type",   "txnId",     "deviceId",      "tag",     "filterId",
    "kind",     "ruleId", "receiptType", "relType",     "version"};

// Byte strings that are not UTF-8 text, each as a client sends it decoded.
const std::vector<std::string> kNotText = {
    std::string("\xFF"),          // never valid
    std::string("\xC0\x80"),      // overlong U+0000
    std::string("\xE0\x80\xAF"),  // overlong '/'
    std::string("\xED\xA0\x80"),  // lone high surrogate
    std::string("\xED\xBF\xBF"),  // lone low surrogate
    std::string("\xF4\x90\x80\x80"),  // above U+10FFFF
    std::string("a\xC3"),             // truncated sequence
    std::string("a\0b", 3),           // U+0000
};

TEST(PathParamsTest, RefusesBytesThatAreNotTextForEveryName) {
  std::vector<std::string> names = kRouteParamNames;
  names.push_back("someFutureName");  // unknown names get the generic rule
  for (const std::string& name : names) {
    for (const std::string& bad : kNotText) {
      // Wrapped in a valid shape, so only the bytes can be wrong.
      for (const std::string& value : {bad, "!" + bad + ":localhost", "@" + bad + ":localhost",
                                       "#" + bad + ":localhost", "$" + bad}) {
        EXPECT_TRUE(PathParamError(name, value).has_value()) << name << " accepted a bad value";
      }
    }
  }
}

TEST(PathParamsTest, RefusesOverLengthValuesForEveryName) {
  std::vector<std::string> names = kRouteParamNames;
  names.push_back("someFutureName");
  for (const std::string& name : names) {
    std::string fill(kPathParamBytesMaxDefault + 1, 'a');
    for (const std::string& value :
         {fill, "!" + fill + ":localhost", "@" + fill + ":localhost", "#" + fill + ":localhost",
          "$" + fill}) {
      EXPECT_TRUE(PathParamError(name, value).has_value()) << name << " accepted " << value.size();
    }
  }
}

TEST(PathParamsTest, AcceptsWhatClientsSend) {
  const std::vector<std::pair<std::string, std::string>> good = {
      {"roomId", "!abc:example.org"},
      {"roomId", "!abc:[::1]:8448"},
      {"userId", "@alice:example.org"},
      {"userId", "@Ünïcode historical:example.org"},
      {"roomAlias", "#lobby:example.org"},
      {"roomIdOrAlias", "#lobby:example.org"},
      {"roomIdOrAlias", "!abc:example.org"},
      {"eventId", "$YUwRidLecu-_VprOEbkbP5gGQzMyv7BopFBKJdgTjHk"},
      {"eventId", "$nope"},  // unknown IDs are the route's 404, not a 400
      {"eventType", "m.room.message"},
      {"eventType", "org.example.ümlaut"},
      {"stateKey", ""},
      {"stateKey", "@alice:example.org"},
      {"txnId", "m1700000000000.0"},
      {"deviceId", "ABCDEFGHIJ"},
      {"type", "m.direct"},
      {"tag", "u.work"},
      {"kind", "override"},
      {"ruleId", ".m.rule.master"},
      {"receiptType", "m.read.private"},
      {"relType", "m.thread"},
      {"version", "1"},
      {"filterId", "0"},
      {"someFutureName", ""},
  };
  for (const auto& [name, value] : good) {
    EXPECT_EQ(PathParamError(name, value), std::nullopt) << name << " refused " << value;
  }
  std::string longest(kPathParamBytesMaxDefault, 'x');
  EXPECT_EQ(PathParamError("txnId", longest), std::nullopt);
  EXPECT_EQ(PathParamError("stateKey", longest), std::nullopt);
}

TEST(PathParamsTest, RefusesIdentifiersOutsideTheirGrammar) {
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"roomId", "abc"},          {"roomId", "!abc"},       {"roomId", "!:localhost"},
      {"roomId", "!a:bad_host!"}, {"userId", "alice"},      {"userId", "@alice"},
      {"roomAlias", "lobby"},     {"roomAlias", "#:x.org"}, {"roomIdOrAlias", "@a:b"},
      {"eventId", "abc"},         {"eventId", "$"},         {"eventType", ""},
      {"txnId", ""},              {"deviceId", ""},         {"type", ""},
  };
  for (const auto& [name, value] : bad) {
    EXPECT_TRUE(PathParamError(name, value).has_value()) << name << " accepted " << value;
  }
}

TEST(PathParamsTest, QueryValuesMustBeText) {
  EXPECT_EQ(QueryError({{"dir", "b"}, {"filter", R"({"types":["m.*"]})"}, {"from", "ü"}}),
            std::nullopt);
  for (const std::string& bad : kNotText) {
    EXPECT_TRUE(QueryError({{"dir", "b"}, {"from", bad}}).has_value());
    EXPECT_TRUE(QueryError({{bad, "x"}}).has_value());
  }
}

}  // namespace
}  // namespace nebu::api
