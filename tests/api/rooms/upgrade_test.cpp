// Goal: POST /rooms/{roomId}/upgrade does the spec's "Room Upgrades" server behaviour
// in one step (tombstone, predecessor, copied state, moved aliases, restricted power
// levels, invites), refuses callers without the power and unsupported versions, and
// changes nothing when refused; GET /rooms/{roomId}/aliases and GET /v1/mutual_rooms
// answer only what the caller may know.
// Method: real engine and HTTP on loopback (rooms_testing.h); state read back through
// the room read endpoints.
#include <gtest/gtest.h>

#include <string>

#include "api/rooms/upgrade_routes.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

class UpgradeTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    AddUpgradeRoutes(router_, *engine_, std::make_shared<UserRateLimits>(false));
    alice_ = Register("alice");
    bob_ = Register("bob");
  }
  json::value State(const std::string& token, const std::string& room, const std::string& type,
                    const std::string& key = "") {
    Response r = Call("GET", "/rooms/" + room + "/state/" + type + "/" + key, token);
    return r.status == 200 ? Body(r) : json::value(nullptr);
  }
  std::string Upgrade(const std::string& token, const std::string& room, int expect = 200) {
    Response r = Call("POST", "/rooms/" + room + "/upgrade", token,
                      json::object{{"new_version", "11"}});
    EXPECT_EQ(r.status, expect) << r.body;
    return r.status == 200 ? std::string(Body(r).at("replacement_room").as_string()) : "";
  }
  std::string alice_, bob_;
};

TEST_F(UpgradeTest, UpgradeMovesStateAliasesAndInvitesMembers) {
  std::string room = CreateRoom(alice_, {{"name", "Old name"},
                                         {"topic", "Old topic"},
                                         {"room_alias_name", "club"},
                                         {"room_version", "10"}});
  ASSERT_EQ(Post(alice_, "/rooms/" + room + "/invite", {{"user_id", "@bob:localhost"}}), 200);
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/join"), 200);
  ASSERT_EQ(Call("PUT", "/rooms/" + room + "/state/m.room.canonical_alias", alice_,
                 json::object{{"alias", "#club:localhost"}})
                .status,
            200);
  ASSERT_EQ(Call("PUT", "/directory/room/%23second:localhost", alice_,
                 json::object{{"room_id", room}})
                .status,
            200);

  std::string next = Upgrade(alice_, room);
  ASSERT_FALSE(next.empty());
  ASSERT_NE(next, room);

  json::value tombstone = State(alice_, room, "m.room.tombstone");
  ASSERT_TRUE(tombstone.is_object());
  EXPECT_EQ(tombstone.at("replacement_room"), json::value(next));

  json::value create = State(alice_, next, "m.room.create");
  ASSERT_TRUE(create.is_object());
  EXPECT_EQ(create.at("room_version"), "11");
  EXPECT_EQ(create.at("predecessor").at("room_id"), json::value(room));
  EXPECT_TRUE(create.at("predecessor").at("event_id").is_string());
  EXPECT_EQ(State(alice_, next, "m.room.name").at("name"), "Old name");
  EXPECT_EQ(State(alice_, next, "m.room.topic").at("topic"), "Old topic");
  EXPECT_EQ(State(alice_, next, "m.room.join_rules").at("join_rule"), "invite");
  EXPECT_EQ(State(alice_, next, "m.room.canonical_alias").at("alias"), "#club:localhost");

  // The old room: canonical alias cleared, power levels restricted.
  EXPECT_FALSE(State(alice_, room, "m.room.canonical_alias").as_object().contains("alias"));
  json::value levels = State(alice_, room, "m.room.power_levels");
  EXPECT_EQ(levels.at("events_default"), 50);
  EXPECT_EQ(levels.at("invite"), 50);
  Response blocked = SendMessage(bob_, room, "still here?");
  EXPECT_EQ(blocked.status, 403) << blocked.body;

  // Aliases point to the new room.
  for (std::string alias : {"%23club:localhost", "%23second:localhost"}) {
    Response r = Call("GET", "/directory/room/" + alias, alice_);
    ASSERT_EQ(r.status, 200);
    EXPECT_EQ(Body(r).at("room_id"), json::value(next)) << alias;
  }
  Response aliases = Call("GET", "/rooms/" + next + "/aliases", alice_);
  ASSERT_EQ(aliases.status, 200) << aliases.body;
  EXPECT_EQ(Body(aliases).at("aliases"),
            (json::array{json::value("#club:localhost"), json::value("#second:localhost")}));
  EXPECT_EQ(Body(Call("GET", "/rooms/" + room + "/aliases", alice_)).at("aliases"), json::array{});

  // Bob was invited (the room is invite-only) and can follow.
  EXPECT_EQ(State(alice_, next, "m.room.member", "@bob:localhost").at("membership"), "invite");
  EXPECT_EQ(Post(bob_, "/rooms/" + next + "/join"), 200);
  EXPECT_FALSE(Send(bob_, next, "hello in the new room").empty());
}

TEST_F(UpgradeTest, UpgraderBelowTheOldLevelsIsRaisedOnlyWhileCopying) {
  // Bob may send the tombstone (50) but not other state (100) nor power levels.
  std::string room = CreateRoom(
      alice_, {{"preset", "public_chat"},
               {"name", "Guarded"},
               {"room_alias_name", "guarded"},
               {"power_level_content_override",
                json::object{{"state_default", 100},
                             {"users", json::object{{"@alice:localhost", 100},
                                                    {"@bob:localhost", 60}}},
                             {"events", json::object{{"m.room.tombstone", 50},
                                                     {"m.room.power_levels", 100},
                                                     {"m.room.canonical_alias", 100}}}}}});
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/join"), 200);
  std::string eve = Register("eve");
  ASSERT_EQ(Post(eve, "/rooms/" + room + "/join"), 200);
  ASSERT_EQ(Post(alice_, "/rooms/" + room + "/ban", {{"user_id", "@eve:localhost"}}), 200);
  ASSERT_EQ(Call("PUT", "/rooms/" + room + "/state/m.room.canonical_alias", alice_,
                 json::object{{"alias", "#guarded:localhost"}})
                .status,
            200);

  std::string next = Upgrade(bob_, room);
  ASSERT_FALSE(next.empty());
  // The new room has the old levels exactly (bob back at 60) and the copied state.
  json::value levels = State(bob_, next, "m.room.power_levels");
  EXPECT_EQ(levels.at("users").at("@bob:localhost"), 60);
  EXPECT_EQ(levels.at("users").at("@alice:localhost"), 100);
  EXPECT_EQ(levels.at("state_default"), 100);
  EXPECT_EQ(State(bob_, next, "m.room.name").at("name"), "Guarded");
  // The ban came along; the public room invited nobody.
  EXPECT_EQ(State(bob_, next, "m.room.member", "@eve:localhost").at("membership"), "ban");
  EXPECT_TRUE(State(bob_, next, "m.room.member", "@alice:localhost").is_null());
  EXPECT_EQ(Post(eve, "/rooms/" + next + "/join"), 403);
  // "If possible": bob may not change the old room's power levels or canonical alias,
  // so both stay as they were; the tombstone and the alias move happened.
  EXPECT_EQ(State(alice_, room, "m.room.power_levels").at("events_default"), 0);
  EXPECT_EQ(State(alice_, room, "m.room.canonical_alias").at("alias"), "#guarded:localhost");
  EXPECT_EQ(State(alice_, room, "m.room.tombstone").at("replacement_room"), json::value(next));
  EXPECT_EQ(Body(Call("GET", "/directory/room/%23guarded:localhost", alice_)).at("room_id"),
            json::value(next));
}

TEST_F(UpgradeTest, MemberWithoutPowerCannotUpgradeAndNothingChanges) {
  std::string room = CreateRoom(alice_, {{"preset", "public_chat"}, {"room_alias_name", "pub"}});
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/join"), 200);
  Response r = Call("POST", "/rooms/" + room + "/upgrade", bob_,
                    json::object{{"new_version", "11"}});
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(ErrCode(r), "M_FORBIDDEN");
  EXPECT_TRUE(State(alice_, room, "m.room.tombstone").is_null());
  EXPECT_EQ(Body(Call("GET", "/directory/room/%23pub:localhost", alice_)).at("room_id"), json::value(room));
  EXPECT_EQ(State(alice_, room, "m.room.power_levels").at("events_default"), 0);
  // A stranger and an unknown room: the same 403.
  std::string eve = Register("eve");
  EXPECT_EQ(ErrCode(Call("POST", "/rooms/" + room + "/upgrade", eve,
                         json::object{{"new_version", "11"}})),
            "M_FORBIDDEN");
  EXPECT_EQ(Call("POST", "/rooms/!nope:localhost/upgrade", eve,
                 json::object{{"new_version", "11"}})
                .status,
            403);
}

TEST_F(UpgradeTest, BadVersionsAreRefused) {
  std::string room = CreateRoom(alice_);
  Response r = Call("POST", "/rooms/" + room + "/upgrade", alice_,
                    json::object{{"new_version", "9"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrCode(r), "M_UNSUPPORTED_ROOM_VERSION");
  EXPECT_EQ(ErrCode(Call("POST", "/rooms/" + room + "/upgrade", alice_, json::object{})),
            "M_MISSING_PARAM");
  EXPECT_EQ(ErrCode(Call("POST", "/rooms/" + room + "/upgrade", alice_,
                         json::object{{"new_version", 11}})),
            "M_BAD_JSON");
  EXPECT_TRUE(State(alice_, room, "m.room.tombstone").is_null());
}

TEST_F(UpgradeTest, PublicRoomInvitesNobodyAndMovesTheDirectoryListing) {
  std::string room = CreateRoom(alice_, {{"preset", "public_chat"}, {"visibility", "public"}});
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/join"), 200);
  std::string next = Upgrade(alice_, room);
  ASSERT_FALSE(next.empty());
  EXPECT_TRUE(State(alice_, next, "m.room.member", "@bob:localhost").is_null());
  EXPECT_EQ(Post(bob_, "/rooms/" + next + "/join"), 200);
}

TEST_F(UpgradeTest, AliasesOfAHiddenRoomAreForbidden) {
  std::string room = CreateRoom(alice_, {{"room_alias_name", "secret"}});
  Response r = Call("GET", "/rooms/" + room + "/aliases", bob_);
  EXPECT_EQ(r.status, 403);
  EXPECT_EQ(ErrCode(r), "M_FORBIDDEN");
  EXPECT_EQ(Call("GET", "/rooms/!unknown:localhost/aliases", bob_).status, 403);
  EXPECT_EQ(Call("GET", "/rooms/" + room + "/aliases", "").status, 401);
  Response mine = Call("GET", "/rooms/" + room + "/aliases", alice_);
  ASSERT_EQ(mine.status, 200);
  EXPECT_EQ(Body(mine).at("aliases"), json::array{json::value("#secret:localhost")});
}

TEST_F(UpgradeTest, MutualRoomsListsRoomsBothAreJoinedTo) {
  std::string shared1 = CreateRoom(alice_, {{"preset", "public_chat"}});
  std::string shared2 = CreateRoom(alice_, {{"preset", "public_chat"}});
  std::string alone = CreateRoom(alice_, {{"preset", "public_chat"}});
  std::string left = CreateRoom(alice_, {{"preset", "public_chat"}});
  for (const std::string& room : {shared1, shared2, left}) {
    ASSERT_EQ(Post(bob_, "/rooms/" + room + "/join"), 200);
  }
  ASSERT_EQ(Post(bob_, "/rooms/" + left + "/leave"), 200);
  Response r = Call("GET", "/_matrix/client/v1/mutual_rooms?user_id=@bob:localhost", alice_);
  ASSERT_EQ(r.status, 200) << r.body;
  json::array expected{json::value(std::min(shared1, shared2)),
                       json::value(std::max(shared1, shared2))};
  EXPECT_EQ(Body(r).at("joined"), expected);
  EXPECT_EQ(Body(r).at("count"), 2);
  EXPECT_FALSE(Body(r).as_object().contains("next_batch"));
  // A well-formed ID of nobody: empty.
  Response nobody = Call("GET", "/_matrix/client/v1/mutual_rooms?user_id=@ghost:localhost", alice_);
  ASSERT_EQ(nobody.status, 200);
  EXPECT_EQ(Body(nobody).at("joined"), json::array{});
  EXPECT_EQ(Body(nobody).at("count"), 0);
  for (std::string query : {"", "?user_id=bob", "?user_id=@alice:localhost",
                            "?user_id=@bob:localhost&from=junk"}) {
    Response bad = Call("GET", "/_matrix/client/v1/mutual_rooms" + query, alice_);
    EXPECT_EQ(bad.status, 400) << query;
    EXPECT_EQ(ErrCode(bad), "M_INVALID_PARAM") << query;
  }
  EXPECT_EQ(Call("GET", "/_matrix/client/v1/mutual_rooms?user_id=@bob:localhost", "").status, 401);
  (void)alone;
}

}  // namespace
}  // namespace nebu::api
