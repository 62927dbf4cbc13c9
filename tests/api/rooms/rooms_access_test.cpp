// Goal: no room endpoint lets a caller read or write more than the spec's
// membership and history visibility rules allow, and none tells an unknown room
// from a forbidden one.
// Method: one room with callers in every membership (never a member, invited,
// joined, left, banned) against send, state GET/PUT, members, messages, event; then
// history visibility cases (joined, world_readable, shared after leaving).
#include <gtest/gtest.h>

#include <vector>

#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

class RoomsAccessTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    alice_ = Register("alice");
    // state_default 0: a joined member may send state, so only membership decides.
    room_ =
        CreateRoom(alice_, {{"power_level_content_override", json::object{{"state_default", 0}}}});
    before_ = Send(alice_, room_, "before");
  }
  void Invite(const std::string& user) {
    ASSERT_EQ(Post(alice_, "/rooms/" + room_ + "/invite", {{"user_id", user}}), 200);
  }
  void AddMember(const std::string& localpart, const std::string& token) {
    Invite("@" + localpart + ":localhost");
    ASSERT_EQ(Post(token, "/rooms/" + room_ + "/join"), 200);
  }
  std::vector<std::string> MessageBodies(const std::string& token) {
    Response r = Call("GET", "/rooms/" + room_ + "/messages?limit=100", token);
    std::vector<std::string> out;
    if (r.status != 200) return {"status " + std::to_string(r.status)};
    const json::value body = Body(r);
    for (const json::value& e : body.at("chunk").as_array()) {
      if (e.at("type") == "m.room.message")
        out.emplace_back(e.at("content").at("body").as_string());
    }
    return out;
  }
  std::string alice_, room_, before_;
};

struct Expected {
  const char* who;
  int send, state_get, state_put, members, messages, event_before, event_after;
};

TEST_F(RoomsAccessTest, MembershipMatrix) {
  std::string stranger = Register("stranger"), invited = Register("invited");
  std::string joined = Register("joined"), left = Register("left"), banned = Register("banned");
  Invite("@invited:localhost");
  AddMember("joined", joined);
  AddMember("left", left);
  AddMember("banned", banned);
  std::string during = Send(alice_, room_, "during");
  ASSERT_EQ(Post(left, "/rooms/" + room_ + "/leave"), 200);
  ASSERT_EQ(Post(alice_, "/rooms/" + room_ + "/ban", {{"user_id", "@banned:localhost"}}), 200);
  std::string after = Send(alice_, room_, "after");
  const std::map<std::string, std::string> tokens{{"stranger", stranger},
                                                  {"invited", invited},
                                                  {"joined", joined},
                                                  {"left", left},
                                                  {"banned", banned}};
  for (const Expected& e : {Expected{"stranger", 403, 403, 403, 403, 403, 403, 403},
                            Expected{"invited", 403, 403, 403, 403, 403, 403, 403},
                            Expected{"joined", 200, 200, 200, 200, 200, 200, 200},
                            Expected{"left", 403, 200, 403, 200, 200, 200, 404},
                            Expected{"banned", 403, 200, 403, 200, 200, 200, 404}}) {
    SCOPED_TRACE(e.who);
    const std::string& token = tokens.at(e.who);
    const std::string base = "/rooms/" + room_;
    Response send = SendMessage(token, room_, "x");
    EXPECT_EQ(send.status, e.send) << send.body;
    if (send.status == 403) {
      EXPECT_EQ(ErrCode(send), "M_FORBIDDEN");
    }
    EXPECT_EQ(Call("GET", base + "/state", token).status, e.state_get);
    EXPECT_EQ(Call("GET", base + "/state/m.room.create", token).status, e.state_get);
    EXPECT_EQ(Call("PUT", base + "/state/m.room.topic", token, json::object{{"topic", "t"}}).status,
              e.state_put);
    EXPECT_EQ(Call("GET", base + "/members", token).status, e.members);
    // joined_members: "the current user must be in the room" (the room is not
    // world_readable), so the departed get 403 there.
    EXPECT_EQ(Call("GET", base + "/joined_members", token).status, e.send);
    EXPECT_EQ(Call("GET", base + "/messages", token).status, e.messages);
    EXPECT_EQ(Call("GET", base + "/event/" + during, token).status, e.event_before);
    EXPECT_EQ(Call("GET", base + "/event/" + after, token).status, e.event_after);
    EXPECT_EQ(Call("GET", base + "/context/" + after, token).status,
              e.event_after == 200 ? 200 : (e.messages == 403 ? 403 : 404));
  }
  // The departed read up to their departure: no "after", and state as it was then.
  EXPECT_EQ(MessageBodies(left), (std::vector<std::string>{"during", "before"}));
  Response member = Call("GET", "/rooms/" + room_ + "/state/m.room.member/@banned:localhost", left);
  EXPECT_EQ(Body(member).at("membership"), "join");
}

TEST_F(RoomsAccessTest, UnknownRoomIsForbiddenLikeAForbiddenOne) {
  std::string stranger = Register("stranger");
  for (const std::string& room : {std::string("!nope:localhost"), room_}) {
    SCOPED_TRACE(room);
    for (const char* path : {"/state", "/members", "/joined_members", "/messages",
                             "/state/m.room.create", "/context/$x", "/event/$x"}) {
      Response r = Call("GET", "/rooms/" + room + path, stranger);
      EXPECT_EQ(r.status, 403) << path;
      EXPECT_EQ(ErrCode(r), "M_FORBIDDEN") << path;
    }
    EXPECT_EQ(SendMessage(stranger, room, "x").status, 403);
    EXPECT_EQ(Call("PUT", "/rooms/" + room + "/redact/$x/t", stranger, json::object{}).status, 403);
  }
}

TEST_F(RoomsAccessTest, JoinedVisibilityHidesWhatCameBeforeTheJoin) {
  ASSERT_EQ(Call("PUT", "/rooms/" + room_ + "/state/m.room.history_visibility", alice_,
                 json::object{{"history_visibility", "joined"}})
                .status,
            200);
  std::string hidden = Send(alice_, room_, "hidden");
  std::string bob = Register("bob");
  AddMember("bob", bob);
  Send(alice_, room_, "seen");
  // "before" was sent while the room was shared: Bob's later join reveals it.
  EXPECT_EQ(MessageBodies(bob), (std::vector<std::string>{"seen", "before"}));
  EXPECT_EQ(Call("GET", "/rooms/" + room_ + "/event/" + hidden, bob).status, 404);
  EXPECT_EQ(Call("GET", "/rooms/" + room_ + "/event/" + before_, bob).status, 200);
}

TEST_F(RoomsAccessTest, SharedVisibilityShowsEarlierHistoryToLaterJoiners) {
  std::string bob = Register("bob");
  AddMember("bob", bob);
  EXPECT_EQ(MessageBodies(bob), (std::vector<std::string>{"before"}));
}

TEST_F(RoomsAccessTest, WorldReadableLetsAnyoneReadButNotWrite) {
  ASSERT_EQ(Call("PUT", "/rooms/" + room_ + "/state/m.room.history_visibility", alice_,
                 json::object{{"history_visibility", "world_readable"}})
                .status,
            200);
  Send(alice_, room_, "public");
  std::string stranger = Register("stranger");
  EXPECT_EQ(MessageBodies(stranger), (std::vector<std::string>{"public"}));
  EXPECT_EQ(Call("GET", "/rooms/" + room_ + "/state", stranger).status, 200);
  EXPECT_EQ(Call("GET", "/rooms/" + room_ + "/members", stranger).status, 200);
  EXPECT_EQ(Call("GET", "/rooms/" + room_ + "/event/" + before_, stranger).status, 404);
  EXPECT_EQ(SendMessage(stranger, room_, "x").status, 403);
}

}  // namespace
}  // namespace nebu::api
