// History visibility on every room read route (issue 7, item 4), over HTTP as users
// meet it: a redacted edit never leaks through /relations, a child event a user may
// not see is not listed, /joined_members answers only members (or anyone while the
// room is world_readable), /context gives the state at the event and never a
// topic set after the room stopped being world_readable, a user who never joined a
// private room gets 403 from every read, and a user who left sees nothing after
// their departure.
#include "tests/security/nebu_process.h"

namespace nebu::security {
namespace {

class VisibilityTest : public SecurityTest {
 protected:
  void SetUp() override {
    Start();
    alice_ = Register("alice");
    bob_ = Register("bob");
    carol_ = Register("carol");  // never joins
    room_ = CreateRoom(alice_, json::object{{"preset", "public_chat"}});
  }

  std::string RoomPath() const { return "/rooms/" + Encode(room_); }

  std::string SendJson(const std::string& token, const std::string& type, const json::object& content) {
    HttpReply r = Call("PUT", RoomPath() + "/send/" + type + "/v" + std::to_string(++txn_), token,
                       content);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(r.Json().at("event_id").as_string()) : "";
  }
  void SetState(const std::string& type, const json::object& content) {
    HttpReply r = Call("PUT", RoomPath() + "/state/" + type, alice_, content);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  std::string React(const std::string& token, const std::string& parent, const std::string& key) {
    return SendJson(token, "m.reaction",
                    json::object{{"m.relates_to", {{"rel_type", "m.annotation"},
                                                   {"event_id", parent},
                                                   {"key", key}}}});
  }
  // The event IDs in a /relations chunk (v1 path).
  std::vector<std::string> Related(const std::string& token, const std::string& parent,
                                   HttpReply* reply = nullptr) {
    HttpReply r = Call("GET", "/_matrix/client/v1" + RoomPath() + "/relations/" + Encode(parent),
                       token);
    if (reply) *reply = r;
    return ChunkEventIds(r);
  }

  std::string alice_, bob_, carol_, room_;
};

TEST_F(VisibilityTest, RelationsNeverServeARedactedEditsContent) {
  const std::string parent = Send(alice_, room_, "original");
  const std::string edit = SendJson(
      alice_, "m.room.message",
      json::object{{"msgtype", "m.text"},
                   {"body", "* leaked edit text"},
                   {"m.new_content", {{"msgtype", "m.text"}, {"body", "leaked edit text"}}},
                   {"m.relates_to", {{"rel_type", "m.replace"}, {"event_id", parent}}}});
  const std::string reaction = React(alice_, parent, "+1");
  EXPECT_EQ(Related(alice_, parent), (std::vector<std::string>{reaction, edit}));
  HttpReply redact =
      Call("PUT", RoomPath() + "/redact/" + Encode(edit) + "/x", alice_, json::object{});
  ASSERT_EQ(redact.status, 200) << redact.body;
  for (const std::string prefix : {"/_matrix/client/v1", "/_matrix/client/v3", "/_matrix/client/r0"}) {
    for (const std::string suffix : {"", "/m.replace", "/m.replace/m.room.message"}) {
      HttpReply r = Call("GET", prefix + RoomPath() + "/relations/" + Encode(parent) + suffix, alice_);
      ASSERT_EQ(r.status, 200) << prefix << suffix << " " << r.body;
      EXPECT_EQ(r.body.find("leaked edit text"), std::string::npos) << prefix << suffix << r.body;
      EXPECT_EQ(r.body.find(edit), std::string::npos) << "a redacted child is no relation";
    }
  }
  EXPECT_EQ(Related(alice_, parent), (std::vector<std::string>{reaction}));
}

TEST_F(VisibilityTest, RelationsListOnlyChildrenTheCallerMaySee) {
  ASSERT_EQ(Join(bob_, room_), 200);
  SetState("m.room.history_visibility", json::object{{"history_visibility", "joined"}});
  const std::string parent = Send(alice_, room_, "while bob is here");
  const std::string seen = React(alice_, parent, "a");
  ASSERT_EQ(Call("POST", RoomPath() + "/leave", bob_, json::object{}).status, 200);
  const std::string after = React(alice_, parent, "b");
  EXPECT_EQ(Related(alice_, parent), (std::vector<std::string>{after, seen}));
  EXPECT_EQ(Related(bob_, parent), (std::vector<std::string>{seen}));
  HttpReply r;
  Related(carol_, parent, &r);
  EXPECT_EQ(r.status, 403) << r.body;  // never joined a room that is not world_readable
}

TEST_F(VisibilityTest, JoinedMembersAnswersOnlyMembersOrAWorldReadableRoom) {
  ASSERT_EQ(Join(bob_, room_), 200);
  const std::string path = RoomPath() + "/joined_members";
  HttpReply r = Call("GET", path, bob_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.Json().at("joined").as_object().contains(UserId("alice")));
  EXPECT_EQ(Call("GET", path, carol_).status, 403);
  ASSERT_EQ(Call("POST", RoomPath() + "/leave", bob_, json::object{}).status, 200);
  EXPECT_EQ(Call("GET", path, bob_).status, 403);  // "must be in the room"
  SetState("m.room.history_visibility", json::object{{"history_visibility", "world_readable"}});
  r = Call("GET", path, carol_);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json().at("joined").as_object().size(), 1u);
}

TEST_F(VisibilityTest, ContextGivesTheStateAtTheEventNotTheCurrentOne) {
  SetState("m.room.history_visibility", json::object{{"history_visibility", "world_readable"}});
  SetState("m.room.topic", json::object{{"topic", "public topic"}});
  const std::string event = Send(alice_, room_, "readable by all");
  SetState("m.room.history_visibility", json::object{{"history_visibility", "joined"}});
  SetState("m.room.topic", json::object{{"topic", "secret topic"}});
  Send(alice_, room_, "secret message");
  HttpReply r = Call("GET", RoomPath() + "/context/" + Encode(event) + "?limit=10", carol_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body.find("secret"), std::string::npos) << r.body;
  bool topic_seen = false;
  const json::value r_body = r.Json();
  for (const json::value& e : r_body.at("state").as_array()) {
    if (e.at("type") == "m.room.topic") {
      topic_seen = true;
      EXPECT_EQ(e.at("content").at("topic"), "public topic");
    }
  }
  EXPECT_TRUE(topic_seen);
  // Alice, joined, gets the state at the last event returned: the secret topic.
  r = Call("GET", RoomPath() + "/context/" + Encode(event) + "?limit=10", alice_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_NE(r.body.find("secret topic"), std::string::npos);
}

TEST_F(VisibilityTest, ANeverJoinedUserGetsNothingFromAPrivateRoom) {
  const std::string public_room = room_;
  // An invite-only room with the default visibility "shared": members only.
  room_ = CreateRoom(alice_, json::object{{"preset", "private_chat"}});
  const std::string event = Send(alice_, room_, "members only");
  for (const std::string& path :
       {RoomPath() + "/messages?dir=b", RoomPath() + "/context/" + Encode(event),
        RoomPath() + "/event/" + Encode(event), RoomPath() + "/state",
        RoomPath() + "/state/m.room.create", RoomPath() + "/members",
        RoomPath() + "/joined_members",
        std::string("/_matrix/client/v1") + RoomPath() + "/relations/" + Encode(event)}) {
    HttpReply r = Call("GET", path, carol_);
    EXPECT_EQ(r.status, 403) << path << " " << r.body;
    EXPECT_EQ(r.body.find("members only"), std::string::npos) << path;
  }
  // /sync lists no room Carol is not in; the user directory does not find Alice
  // through a room Carol does not share (invite-only; Alice's other room, with the
  // public join rule, would list her, as the user directory's rules say).
  HttpReply sync = Call("GET", "/sync", carol_);
  ASSERT_EQ(sync.status, 200);
  EXPECT_EQ(sync.body.find(room_), std::string::npos);
  ASSERT_EQ(Call("POST", "/rooms/" + Encode(public_room) + "/leave", alice_, json::object{}).status,
            200);
  HttpReply users = Call("POST", "/user_directory/search", carol_,
                         json::object{{"search_term", "alice"}});
  ASSERT_EQ(users.status, 200) << users.body;
  EXPECT_TRUE(users.Json().at("results").as_array().empty()) << users.body;
}

TEST_F(VisibilityTest, AUserWhoLeftSeesNothingSentAfterTheirDeparture) {
  ASSERT_EQ(Join(bob_, room_), 200);
  SetState("m.room.topic", json::object{{"topic", "before"}});
  const std::string before = Send(alice_, room_, "before leaving");
  ASSERT_EQ(Call("POST", RoomPath() + "/leave", bob_, json::object{}).status, 200);
  const std::string after = Send(alice_, room_, "sent later-x");
  SetState("m.room.topic", json::object{{"topic", "topic later-x"}});
  EXPECT_EQ(Call("GET", RoomPath() + "/event/" + Encode(after), bob_).status, 404);
  EXPECT_EQ(Call("GET", RoomPath() + "/context/" + Encode(after), bob_).status, 404);
  HttpReply r = Call("GET", RoomPath() + "/event/" + Encode(before), bob_);
  EXPECT_EQ(r.status, 200) << r.body;
  for (const std::string& path :
       {RoomPath() + "/messages?dir=b&limit=50", RoomPath() + "/messages?dir=f&limit=50",
        RoomPath() + "/state", RoomPath() + "/state/m.room.topic", RoomPath() + "/members",
        RoomPath() + "/context/" + Encode(before) + "?limit=50"}) {
    r = Call("GET", path, bob_);
    EXPECT_EQ(r.status, 200) << path << " " << r.body;
    EXPECT_EQ(r.body.find("later-x"), std::string::npos) << path << " " << r.body;
  }
  r = Call("GET", RoomPath() + "/state/m.room.topic", bob_);
  EXPECT_EQ(r.Json().at("topic"), "before");
}

}  // namespace
}  // namespace nebu::security
