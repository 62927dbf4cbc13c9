// Goal: the room write endpoints (createRoom, membership, send, state PUT, redact,
// forget, directory) answer the spec's shapes and errcodes, and sends are idempotent
// per device and txn id.
// Method: a real engine; requests over real HTTP on loopback (rooms_testing.h).
#include <gtest/gtest.h>

#include <set>

#include "api/rate_limit.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

class RoomsWriteTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    alice_ = Register("alice");
    bob_ = Register("bob");
  }
  std::string MembershipOf(const std::string& room, const std::string& user) {
    Response r = Call("GET", "/rooms/" + room + "/state/m.room.member/" + user, alice_);
    return r.status == 200 ? std::string(Body(r).at("membership").as_string()) : "";
  }
  std::string alice_, bob_;
};

TEST_F(RoomsWriteTest, CreateRoomAnswersRoomIdAndTheCreatorIsJoined) {
  std::string room = CreateRoom(alice_, {{"name", "Lobby"}, {"topic", "hi"}});
  EXPECT_TRUE(room.starts_with("!") && room.ends_with(":localhost")) << room;
  Response joined = Call("GET", "/joined_rooms", alice_);
  ASSERT_EQ(joined.status, 200);
  EXPECT_EQ(Body(joined), (json::object{{"joined_rooms", json::array{json::value(room)}}}));
  EXPECT_EQ(Body(Call("GET", "/joined_rooms", bob_)).at("joined_rooms").as_array().size(), 0u);
  EXPECT_EQ(MembershipOf(room, kAliceId), "join");
  Response name = Call("GET", "/rooms/" + room + "/state/m.room.name", alice_);
  EXPECT_EQ(Body(name), (json::object{{"name", "Lobby"}}));
}

TEST_F(RoomsWriteTest, CreateRoomErrorsUseTheSpecErrcodes) {
  CreateRoom(alice_, {{"room_alias_name", "lobby"}});
  Response taken = Call("POST", "/createRoom", bob_, json::object{{"room_alias_name", "lobby"}});
  EXPECT_EQ(taken.status, 400);
  EXPECT_EQ(ErrCode(taken), "M_ROOM_IN_USE");
  Response version = Call("POST", "/createRoom", alice_, json::object{{"room_version", "1"}});
  EXPECT_EQ(version.status, 400);
  EXPECT_EQ(ErrCode(version), "M_UNSUPPORTED_ROOM_VERSION");
  Response state = Call(
      "POST", "/createRoom", alice_,
      json::object{{"power_level_content_override",
                    json::object{{"users", json::object{{kAliceId, 0}}}, {"state_default", 50}}}});
  EXPECT_EQ(state.status, 400);
  EXPECT_EQ(ErrCode(state), "M_INVALID_ROOM_STATE") << state.body;
  Response bad = Call("POST", "/createRoom", alice_, json::object{{"name", 5}});
  EXPECT_EQ(ErrCode(bad), "M_BAD_JSON");
  Response not_json = Call("POST", "/createRoom", alice_, std::string("{nope"));
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(ErrCode(not_json), "M_NOT_JSON");
  EXPECT_EQ(Call("POST", "/createRoom", "", json::object{}).status, 401);
}

TEST_F(RoomsWriteTest, DirectoryResolvesAliases) {
  std::string room = CreateRoom(alice_, {{"room_alias_name", "lobby"}});
  Response found = Call("GET", "/directory/room/%23lobby:localhost", bob_);
  ASSERT_EQ(found.status, 200) << found.body;
  EXPECT_EQ(Body(found),
            (json::object{{"room_id", room}, {"servers", json::array{json::value("localhost")}}}));
  Response unknown = Call("GET", "/directory/room/%23nope:localhost", bob_);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(ErrCode(unknown), "M_NOT_FOUND");
  EXPECT_EQ(Call("GET", "/directory/room/lobby", bob_).status, 400);
}

TEST_F(RoomsWriteTest, DirectoryAliasesAreAddedByMembersAndRemovedByCreatorOrModerator) {
  std::string room = CreateRoom(alice_, {{"room_alias_name", "lobby"}});
  const json::object target{{"room_id", room}};
  // Bob is not in the room: no alias for him, and the room is not revealed.
  Response outsider = Call("PUT", "/directory/room/%23bobs:localhost", bob_, target);
  EXPECT_EQ(outsider.status, 403);
  EXPECT_EQ(ErrCode(outsider), "M_FORBIDDEN");
  Response added = Call("PUT", "/directory/room/%23second:localhost", alice_, target);
  ASSERT_EQ(added.status, 200) << added.body;
  EXPECT_EQ(Body(added), json::object{});
  Response taken = Call("PUT", "/directory/room/%23second:localhost", alice_, target);
  EXPECT_EQ(taken.status, 409);
  EXPECT_EQ(Call("GET", "/directory/room/%23second:localhost", bob_).status, 200);
  EXPECT_EQ(Call("PUT", "/directory/room/%23x:elsewhere.org", alice_, target).status, 400);
  EXPECT_EQ(ErrCode(Call("PUT", "/directory/room/%23y:localhost", alice_, json::object{})),
            "M_MISSING_PARAM");
  Response not_creator = Call("DELETE", "/directory/room/%23second:localhost", bob_);
  EXPECT_EQ(not_creator.status, 403);
  EXPECT_EQ(Call("DELETE", "/directory/room/%23second:localhost", alice_).status, 200);
  Response gone = Call("DELETE", "/directory/room/%23second:localhost", alice_);
  EXPECT_EQ(gone.status, 404);
  EXPECT_EQ(ErrCode(gone), "M_NOT_FOUND");
  EXPECT_EQ(Call("GET", "/directory/room/%23second:localhost", bob_).status, 404);
}

TEST_F(RoomsWriteTest, JoinByAliasOrIdAnswersRoomId) {
  std::string room = CreateRoom(alice_, {{"preset", "public_chat"}, {"room_alias_name", "pub"}});
  Response by_alias = Call("POST", "/join/%23pub:localhost", bob_, json::object{});
  ASSERT_EQ(by_alias.status, 200) << by_alias.body;
  EXPECT_EQ(Body(by_alias), (json::object{{"room_id", room}}));
  EXPECT_EQ(MembershipOf(room, kBobId), "join");
  Response member = Call("GET", "/rooms/" + room + "/state/m.room.member/" + kBobId, bob_);
  EXPECT_EQ(Body(member).at("displayname"), "bob");
  Response by_id = Call("POST", "/rooms/" + room + "/join", bob_, json::object{});
  EXPECT_EQ(Body(by_id), (json::object{{"room_id", room}}));
  Response r0 = Call("POST", "/_matrix/client/r0/join/" + room, bob_, json::object{});
  EXPECT_EQ(r0.status, 200);
  EXPECT_EQ(Call("POST", "/join/%23nope:localhost", bob_, json::object{}).status, 404);
  EXPECT_EQ(Call("POST", "/join/nope", bob_, json::object{}).status, 400);
}

TEST_F(RoomsWriteTest, JoiningAPrivateOrUnknownRoomIsForbidden) {
  std::string room = CreateRoom(alice_);
  Response join = Call("POST", "/rooms/" + room + "/join", bob_, json::object{});
  EXPECT_EQ(join.status, 403);
  EXPECT_EQ(ErrCode(join), "M_FORBIDDEN");
  Response unknown = Call("POST", "/rooms/!nope:localhost/join", bob_, json::object{});
  EXPECT_EQ(unknown.status, 403);
  EXPECT_EQ(ErrCode(unknown), "M_FORBIDDEN");
}

TEST_F(RoomsWriteTest, InviteKickBanUnbanAndLeaveSetMembership) {
  std::string room = CreateRoom(alice_);
  const std::string base = "/rooms/" + room;
  const json::object bob{{"user_id", kBobId}, {"reason", "because"}};
  EXPECT_EQ(Post(alice_, base + "/invite", bob), 200);
  EXPECT_EQ(MembershipOf(room, kBobId), "invite");
  Response member = Call("GET", base + "/state/m.room.member/" + kBobId, alice_);
  EXPECT_EQ(Body(member).at("reason"), "because");
  EXPECT_EQ(Post(bob_, base + "/join"), 200);
  EXPECT_EQ(Post(alice_, base + "/kick", bob), 200);
  EXPECT_EQ(MembershipOf(room, kBobId), "leave");
  EXPECT_EQ(Post(alice_, base + "/ban", bob), 200);
  EXPECT_EQ(MembershipOf(room, kBobId), "ban");
  EXPECT_EQ(Post(bob_, base + "/join"), 403);
  EXPECT_EQ(Post(alice_, base + "/unban", bob), 200);
  EXPECT_EQ(MembershipOf(room, kBobId), "leave");
  EXPECT_EQ(Post(alice_, base + "/invite", bob), 200);
  EXPECT_EQ(Post(bob_, base + "/join"), 200);
  Response left = Call("POST", base + "/leave", bob_, json::object{});
  EXPECT_EQ(left.status, 200);
  EXPECT_EQ(Body(left), json::object{});
  EXPECT_EQ(MembershipOf(room, kBobId), "leave");
}

TEST_F(RoomsWriteTest, MembershipChangesCheckTheirInput) {
  std::string room = CreateRoom(alice_);
  const std::string base = "/rooms/" + room;
  EXPECT_EQ(ErrCode(Call("POST", base + "/invite", alice_, json::object{})), "M_BAD_JSON");
  EXPECT_EQ(ErrCode(Call("POST", base + "/invite", alice_, json::object{{"user_id", "bob"}})),
            "M_INVALID_PARAM");
  // Bob is no member: he may not invite, kick or ban.
  EXPECT_EQ(Post(bob_, base + "/invite", {{"user_id", kAliceId}}), 403);
  EXPECT_EQ(Post(bob_, base + "/kick", {{"user_id", kAliceId}}), 403);
  EXPECT_EQ(Post(bob_, base + "/leave"), 403);
  EXPECT_EQ(Post(bob_, "/rooms/!nope:localhost/leave"), 403);
}

TEST_F(RoomsWriteTest, ForgetNeedsTheRoomToBeLeft) {
  std::string room = CreateRoom(alice_);
  const std::string base = "/rooms/" + room;
  Response joined = Call("POST", base + "/forget", alice_, json::object{});
  EXPECT_EQ(joined.status, 400);
  EXPECT_EQ(Post(bob_, base + "/forget"), 403);
  EXPECT_EQ(Post(alice_, base + "/invite", {{"user_id", kBobId}}), 200);
  EXPECT_EQ(Post(bob_, base + "/join"), 200);
  EXPECT_EQ(Post(bob_, base + "/leave"), 200);
  Response forgot = Call("POST", base + "/forget", bob_, json::object{});
  EXPECT_EQ(forgot.status, 200);
  EXPECT_EQ(Body(forgot), json::object{});
}

TEST_F(RoomsWriteTest, SendAnswersEventIdAndIsIdempotentPerDeviceAndTxn) {
  std::string room = CreateRoom(alice_);
  std::string other_room = CreateRoom(alice_);
  const json::object content{{"msgtype", "m.text"}, {"body", "hi"}};
  auto send = [&](const std::string& token, const std::string& in, const std::string& txn) {
    Response r = Call("PUT", "/rooms/" + in + "/send/m.room.message/" + txn, token, content);
    EXPECT_EQ(r.status, 200) << r.body;
    json::value body = Body(r);
    EXPECT_EQ(body.as_object().size(), 1u);
    return std::string(body.at("event_id").as_string());
  };
  std::string first = send(alice_, room, "txn1");
  EXPECT_TRUE(first.starts_with("$"));
  EXPECT_EQ(send(alice_, room, "txn1"), first);
  std::set<std::string> ids{first, send(alice_, room, "txn2"), send(Login(kAliceId), room, "txn1"),
                            send(alice_, other_room, "txn1")};
  EXPECT_EQ(ids.size(), 4u);
  Response messages = Call("GET", "/rooms/" + room + "/messages?limit=100", alice_);
  size_t count = 0;
  const json::value body = Body(messages);
  for (const json::value& e : body.at("chunk").as_array()) {
    count += e.at("type") == "m.room.message";
  }
  EXPECT_EQ(count, 3u);
}

TEST_F(RoomsWriteTest, SendRejectsLargeBadAndUnknown) {
  std::string room = CreateRoom(alice_);
  std::string big(70 * 1024, 'x');
  Response large = Call("PUT", "/rooms/" + room + "/send/m.room.message/t1", alice_,
                        json::object{{"msgtype", "m.text"}, {"body", big}});
  EXPECT_EQ(large.status, 413);
  EXPECT_EQ(ErrCode(large), "M_TOO_LARGE");
  Response not_json =
      Call("PUT", "/rooms/" + room + "/send/m.room.message/t2", alice_, std::string("not json"));
  EXPECT_EQ(not_json.status, 400);
  EXPECT_EQ(ErrCode(not_json), "M_NOT_JSON");
  Response floats = Call("PUT", "/rooms/" + room + "/send/m.room.message/t3", alice_,
                         std::string(R"({"body":1.5})"));
  EXPECT_EQ(ErrCode(floats), "M_BAD_JSON");
  Response unknown = SendMessage(alice_, "!nope:localhost", "hi");
  EXPECT_EQ(unknown.status, 403);
  EXPECT_EQ(ErrCode(unknown), "M_FORBIDDEN");
  EXPECT_EQ(SendMessage("", room, "hi").status, 401);
}

TEST_F(RoomsWriteTest, StatePutWithAndWithoutStateKey) {
  std::string room = CreateRoom(alice_);
  const std::string base = "/rooms/" + room + "/state/";
  Response topic = Call("PUT", base + "m.room.topic", alice_, json::object{{"topic", "a"}});
  ASSERT_EQ(topic.status, 200) << topic.body;
  EXPECT_TRUE(Body(topic).at("event_id").as_string().starts_with("$"));
  Response empty_key = Call("PUT", base + "m.room.topic/", alice_, json::object{{"topic", "b"}});
  EXPECT_EQ(empty_key.status, 200);
  EXPECT_EQ(Body(Call("GET", base + "m.room.topic", alice_)), (json::object{{"topic", "b"}}));
  Response keyed = Call("PUT", base + "org.example.thing/k1", alice_, json::object{{"n", 1}});
  EXPECT_EQ(keyed.status, 200);
  Response event = Call("GET", base + "org.example.thing/k1?format=event", alice_);
  ASSERT_EQ(event.status, 200);
  EXPECT_EQ(Body(event).at("state_key"), "k1");
  EXPECT_EQ(Body(event).at("event_id"), Body(keyed).at("event_id"));
  EXPECT_EQ(Call("GET", base + "org.example.thing/k2", alice_).status, 404);
  // U+0000 in a state key or an event type (sent as %00) is refused and changes nothing.
  size_t before = Body(Call("GET", "/rooms/" + room + "/state", alice_)).as_array().size();
  Response nul_key = Call("PUT", base + "org.example.thing/" + std::string("a\0b", 3), alice_,
                          json::object{{"n", 2}});
  EXPECT_EQ(nul_key.status, 400) << nul_key.body;
  Response nul_type = Call("PUT", "/rooms/" + room + "/send/" + std::string("m.\0x", 4) + "/t-nul",
                           alice_, json::object{{"body", "x"}});
  EXPECT_EQ(nul_type.status, 400) << nul_type.body;
  EXPECT_EQ(Body(Call("GET", "/rooms/" + room + "/state", alice_)).as_array().size(), before);
}

TEST_F(RoomsWriteTest, RedactAnswersEventIdAndIsIdempotent) {
  std::string room = CreateRoom(alice_);
  std::string target = Send(alice_, room, "oops");
  const std::string path = "/rooms/" + room + "/redact/" + target + "/r1";
  Response redact = Call("PUT", path, alice_, json::object{{"reason", "typo"}});
  ASSERT_EQ(redact.status, 200) << redact.body;
  std::string id(Body(redact).at("event_id").as_string());
  EXPECT_EQ(Body(Call("PUT", path, alice_, json::object{})).at("event_id"), json::value(id));
  Response event = Call("GET", "/rooms/" + room + "/event/" + id, alice_);
  EXPECT_EQ(Body(event).at("type"), "m.room.redaction");
  EXPECT_EQ(Body(event).at("content").at("reason"), "typo");
  EXPECT_EQ(Body(event).at("content").at("redacts"), json::value(target));
  // The same txn id on /send is another transaction.
  Response send = Call("PUT", "/rooms/" + room + "/send/m.room.message/r1", alice_,
                       json::object{{"body", "x"}});
  EXPECT_NE(Body(send).at("event_id"), json::value(id));
}

TEST_F(RoomsWriteTest, RedactedEventsAreServedRedactedEverywhere) {
  std::string room = CreateRoom(alice_);
  std::string target = Send(alice_, room, "secret");
  std::string kept = Send(alice_, room, "kept");
  Response redact =
      Call("PUT", "/rooms/" + room + "/redact/" + target + "/r1", alice_, json::object{});
  ASSERT_EQ(redact.status, 200) << redact.body;
  const json::value redaction_id = Body(redact).at("event_id");
  // A second redaction of the same event: the first stays the one served.
  ASSERT_EQ(Call("PUT", "/rooms/" + room + "/redact/" + target + "/r2", alice_, json::object{})
                .status,
            200);

  json::value event = Body(Call("GET", "/rooms/" + room + "/event/" + target, alice_));
  EXPECT_TRUE(event.at("content").as_object().empty()) << json::serialize(event);
  EXPECT_EQ(event.at("type"), "m.room.message");
  EXPECT_EQ(event.at("unsigned").at("redacted_because").at("event_id"), redaction_id);
  json::value other = Body(Call("GET", "/rooms/" + room + "/event/" + kept, alice_));
  EXPECT_EQ(other.at("content").at("body"), "kept");
  EXPECT_FALSE(other.at("unsigned").as_object().contains("redacted_because"));

  json::value messages = Body(Call("GET", "/rooms/" + room + "/messages?dir=b&limit=50", alice_));
  const std::string page = json::serialize(messages);
  EXPECT_EQ(page.find("secret"), std::string::npos) << page;
  EXPECT_NE(page.find("kept"), std::string::npos);
  json::value context = Body(Call("GET", "/rooms/" + room + "/context/" + target, alice_));
  EXPECT_TRUE(context.at("event").at("content").as_object().empty());
}

TEST_F(RoomsWriteTest, SendsOverTheRateLimitGet429WithRetryAfterUntilTheBucketRefills) {
  Router limited("client");
  AddRoomRoutes(limited, *engine_, {.rate_limit = true});
  std::string room = CreateRoom(alice_, {});
  auto send = [&](int i) {
    Request r = MakeRequest(
        "PUT", std::string(kV3) + "/rooms/" + room + "/send/m.room.message/r" + std::to_string(i),
        R"({"msgtype":"m.text","body":"x"})");
    r.headers.Set("Authorization", "Bearer " + alice_);
    return limited.Handle(r);
  };
  for (int i = 0; i < static_cast<int>(kSendRateLimit.burst); ++i) {
    ASSERT_EQ(send(i).status, 200) << i;
  }
  Response over = send(1000);
  EXPECT_EQ(over.status, 429);
  EXPECT_EQ(ErrCode(over), "M_LIMIT_EXCEEDED");
  EXPECT_GT(Body(over).at("retry_after_ms").as_int64(), 0);
  clock_.AdvanceMs(1000);  // the fake clock refills the bucket
  EXPECT_EQ(send(1001).status, 200);
}

}  // namespace
}  // namespace nebu::api
