// Goal: no request value can reach an assertion (issue 7, item 1). Every route with
// path parameters, given bytes that are not UTF-8 text (invalid, overlong, U+0000,
// lone surrogates) or an over-length value in any one parameter, answers 400
// M_INVALID_PARAM, the server stays up and nothing changes; the same for query
// values; and the requests that used to abort the process (POST /rooms/%FF/leave, a
// /sync since token past any position with a queued to-device message) are answered.
// Method: the real nebu binary over HTTP on loopback (nebu_process.h); state is
// compared before and after through the read routes.
#include <regex>
#include <string>
#include <vector>

#include "tests/security/nebu_process.h"

namespace nebu::security {
namespace {

// Every client route with path parameters (method, pattern below /_matrix/client/v3
// unless it starts with '/_'); the {names} are filled per test.
struct RouteCase {
  const char* method;
  const char* pattern;
};
const std::vector<RouteCase> kRoutes = {
    {"GET", "/user/{userId}/account_data/{type}"},
    {"PUT", "/user/{userId}/account_data/{type}"},
    {"GET", "/user/{userId}/rooms/{roomId}/account_data/{type}"},
    {"PUT", "/user/{userId}/rooms/{roomId}/account_data/{type}"},
    {"GET", "/user/{userId}/rooms/{roomId}/tags"},
    {"PUT", "/user/{userId}/rooms/{roomId}/tags/{tag}"},
    {"DELETE", "/user/{userId}/rooms/{roomId}/tags/{tag}"},
    {"GET", "/profile/{userId}"},
    {"GET", "/profile/{userId}/displayname"},
    {"PUT", "/profile/{userId}/displayname"},
    {"PUT", "/profile/{userId}/avatar_url"},
    {"GET", "/devices/{deviceId}"},
    {"PUT", "/devices/{deviceId}"},
    {"DELETE", "/devices/{deviceId}"},
    {"POST", "/user/{userId}/filter"},
    {"GET", "/user/{userId}/filter/{filterId}"},
    {"PUT", "/sendToDevice/{eventType}/{txnId}"},
    {"GET", "/room_keys/version/{version}"},
    {"DELETE", "/room_keys/version/{version}"},
    {"PUT", "/room_keys/keys/{roomId}/{sessionId}"},
    {"GET", "/room_keys/keys/{roomId}/{sessionId}"},
    {"DELETE", "/room_keys/keys/{roomId}"},
    {"GET", "/directory/list/room/{roomId}"},
    {"PUT", "/directory/list/room/{roomId}"},
    {"GET", "/rooms/{roomId}/relations/{eventId}/{relType}/{eventType}"},
    {"GET", "/rooms/{roomId}/relations/{eventId}"},
    {"GET", "/presence/{userId}/status"},
    {"PUT", "/presence/{userId}/status"},
    {"GET", "/pushrules/global/{kind}/{ruleId}"},
    {"PUT", "/pushrules/global/{kind}/{ruleId}"},
    {"DELETE", "/pushrules/global/{kind}/{ruleId}"},
    {"PUT", "/pushrules/global/{kind}/{ruleId}/enabled"},
    {"POST", "/rooms/{roomId}/receipt/{receiptType}/{eventId}"},
    {"POST", "/rooms/{roomId}/read_markers"},
    {"PUT", "/rooms/{roomId}/typing/{userId}"},
    {"GET", "/rooms/{roomId}/state"},
    {"GET", "/rooms/{roomId}/state/{eventType}/{stateKey}"},
    {"GET", "/rooms/{roomId}/event/{eventId}"},
    {"GET", "/rooms/{roomId}/members"},
    {"GET", "/rooms/{roomId}/joined_members"},
    {"GET", "/rooms/{roomId}/messages"},
    {"GET", "/rooms/{roomId}/context/{eventId}"},
    {"POST", "/join/{roomIdOrAlias}"},
    {"POST", "/rooms/{roomId}/join"},
    {"POST", "/rooms/{roomId}/leave"},
    {"POST", "/rooms/{roomId}/invite"},
    {"POST", "/rooms/{roomId}/kick"},
    {"POST", "/rooms/{roomId}/ban"},
    {"POST", "/rooms/{roomId}/unban"},
    {"POST", "/rooms/{roomId}/forget"},
    {"PUT", "/rooms/{roomId}/send/{eventType}/{txnId}"},
    {"PUT", "/rooms/{roomId}/state/{eventType}/{stateKey}"},
    {"PUT", "/rooms/{roomId}/state/{eventType}"},
    {"PUT", "/rooms/{roomId}/redact/{eventId}/{txnId}"},
    {"GET", "/directory/room/{roomAlias}"},
    {"PUT", "/directory/room/{roomAlias}"},
    {"DELETE", "/directory/room/{roomAlias}"},
};

// Percent-encoded values that must be refused in any parameter.
std::vector<std::string> BadValues() {
  return {"%FF",          "%C0%80",           "%00",         "%ED%A0%80",
          "%21a%FF%3Alocalhost", "%40a%00%3Alocalhost", "%24%ED%BF%BF", "a%F4%90%80%80",
          std::string(300, 'a')};
}

// The names of the {params} of `pattern`, in order.
std::vector<std::string> ParamNames(std::string_view pattern) {
  std::vector<std::string> names;
  for (size_t open = pattern.find('{'); open != std::string_view::npos;
       open = pattern.find('{', open + 1)) {
    names.emplace_back(pattern.substr(open + 1, pattern.find('}', open) - open - 1));
  }
  return names;
}

class InputTest : public SecurityTest {
 protected:
  void SetUp() override {
    Start();
    alice_ = Register("alice");
    room_ = CreateRoom(alice_, json::object{{"preset", "public_chat"}});
    event_ = Send(alice_, room_, "before");
  }

  // A valid (encoded) value for each parameter name.
  std::string Good(const std::string& name) const {
    if (name == "roomId") return Encode(room_);
    if (name == "roomIdOrAlias") return Encode(room_);
    if (name == "userId") return Encode(UserId("alice"));
    if (name == "eventId") return Encode(event_);
    if (name == "eventType") return "m.room.topic";
    if (name == "stateKey") return "";
    if (name == "roomAlias") return Encode("#a:localhost");
    if (name == "kind") return "override";
    if (name == "ruleId") return "r1";
    if (name == "receiptType") return "m.read";
    if (name == "relType") return "m.thread";
    return "x1";
  }

  std::string Fill(std::string pattern, const std::string& bad_name, const std::string& bad) {
    for (const std::string& name : ParamNames(pattern)) {
      const std::string token = "{" + name + "}";
      pattern.replace(pattern.find(token), token.size(), name == bad_name ? bad : Good(name));
    }
    return pattern;
  }

  // What an observer of the room and the account can read.
  std::string Snapshot() {
    std::string out;
    for (const std::string& path :
         {"/rooms/" + Encode(room_) + "/state", "/rooms/" + Encode(room_) + "/messages?dir=b",
          std::string("/joined_rooms"), std::string("/devices"),
          "/user/" + Encode(UserId("alice")) + "/account_data/x1"}) {
      HttpReply r = Call("GET", path, alice_);
      // unsigned.age grows with the clock; everything else must stay the same.
      static const std::regex kAge(R"("age":[0-9]+)");
      out += std::to_string(r.status) + " " + std::regex_replace(r.body, kAge, "") + "\n";
    }
    return out;
  }

  std::string alice_, room_, event_;
};

TEST_F(InputTest, TheOriginalCrashLeaveWithAnInvalidRoomIdIsA400) {
  const std::string before = Snapshot();
  HttpReply r = Call("POST", "/rooms/%FF/leave", alice_, json::object{});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.Json().at("errcode").as_string(), "M_INVALID_PARAM");
  ExpectAlive();
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(InputTest, EveryPathParameterRefusesBytesThatAreNotText) {
  const std::string before = Snapshot();
  size_t sent = 0;
  for (const RouteCase& route : kRoutes) {
    for (const std::string& name : ParamNames(route.pattern)) {
      for (const std::string& bad : BadValues()) {
        std::string path = Fill(route.pattern, name, bad);
        HttpReply r = Call(route.method, path, alice_, std::string("{}"));
        ++sent;
        ASSERT_EQ(r.status, 400) << route.method << " " << path << " -> " << r.body;
        EXPECT_EQ(r.Json().at("errcode").as_string(), "M_INVALID_PARAM") << path;
      }
    }
  }
  std::cout << "sent " << sent << " bad requests\n";
  ExpectAlive();
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(InputTest, QueryValuesThatAreNotTextAreRefused) {
  const std::string before = Snapshot();
  const std::string room = "/rooms/" + Encode(room_);
  for (const std::string& path :
       {room + "/messages?dir=b&from=%FF", room + "/messages?filter=%C0%80",
        room + "/members?at=%ED%A0%80", std::string("/sync?since=%00"),
        std::string("/sync?filter=%7B%22room%22%3A%7B%22types%22%3A%5B%22%FF%22%5D%7D%7D"),
        std::string("/publicRooms?since=%FF"), std::string("/keys/changes?from=%FF&to=s1"),
        room + "/relations/" + Encode(event_) + "?from=%ED%BF%BF"}) {
    HttpReply r = Call("GET", path, alice_);
    EXPECT_EQ(r.status, 400) << path << " -> " << r.body;
  }
  ExpectAlive();
  EXPECT_EQ(Snapshot(), before);
}

TEST_F(InputTest, ASyncTokenPastEveryPositionWithAQueuedToDeviceMessageIsAnswered) {
  HttpReply whoami = Call("GET", "/account/whoami", alice_);
  ASSERT_EQ(whoami.status, 200);
  const std::string device(whoami.Json().at("device_id").as_string());
  json::object messages{{UserId("alice"), json::object{{device, json::object{{"a", 1}}}}}};
  ASSERT_EQ(Call("PUT", "/sendToDevice/org.example.test/td1", alice_,
                 json::object{{"messages", messages}})
                .status,
            200);
  for (const char* since : {"s18446744073709551615", "s9007199254740992", "s99999999999"}) {
    HttpReply r = Call("GET", std::string("/sync?timeout=0&since=") + since, alice_);
    EXPECT_TRUE(r.status == 200 || r.status == 400) << since << " -> " << r.status << r.body;
  }
  ExpectAlive();
}

TEST_F(InputTest, OverLengthTransactionIdsAndStateKeysAreRefusedAndShortOnesWork) {
  const std::string room = "/rooms/" + Encode(room_);
  const std::string txn(256, 't');
  EXPECT_EQ(Call("PUT", room + "/send/m.room.message/" + txn, alice_,
                 json::object{{"msgtype", "m.text"}, {"body", "x"}})
                .status,
            400);
  EXPECT_EQ(Call("PUT", room + "/state/org.example.s/" + std::string(256, 'k'), alice_,
                 json::object{})
                .status,
            400);
  EXPECT_EQ(Call("PUT", room + "/send/m.room.message/" + txn.substr(1), alice_,
                 json::object{{"msgtype", "m.text"}, {"body", "x"}})
                .status,
            200);
  EXPECT_EQ(Call("PUT", room + "/state/org.example.s/" + std::string(255, 'k'), alice_,
                 json::object{})
                .status,
            200);
  ExpectAlive();
}

}  // namespace
}  // namespace nebu::security
