// Goal: restricted joins, knocking and invites with the invitee's profile, as a
// client meets them over real HTTP (rooms_testing.h). Method: alice makes a space
// and rooms; bob, carol and mallory join, knock, are invited or try what they may
// not, and the room state afterwards shows what was accepted.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "api/accounts/account_routes.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

class RestrictedKnockTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    AddAccountRoutes(router_, *engine_, {.registration_open = false, .rate_limit = false});
    alice_ = Register("alice");
    bob_ = Register("bob");
    mallory_ = Register("mallory");
  }

  // A room whose join_rules content is `join_rules`.
  std::string RoomWithJoinRules(const json::object& join_rules) {
    return CreateRoom(alice_, json::object{
                                  {"initial_state",
                                   json::array{json::object{{"type", "m.room.join_rules"},
                                                            {"state_key", ""},
                                                            {"content", join_rules}}}}});
  }
  static json::object Restricted(const std::string& rule, const std::string& allowed_room) {
    return json::object{{"join_rule", rule},
                        {"allow", json::array{json::object{{"type", "m.room_membership"},
                                                           {"room_id", allowed_room}}}}};
  }
  json::object MemberContent(const std::string& room, const std::string& user) {
    Response r = Call("GET", "/rooms/" + room + "/state/m.room.member/" + user, alice_);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? Body(r).as_object() : json::object{};
  }
  // The user's membership in the room; "" when they have no member event.
  std::string Membership(const std::string& room, const std::string& user) {
    Response r = Call("GET", "/rooms/" + room + "/state/m.room.member/" + user, alice_);
    if (r.status == 404) return "";
    json::object content = MemberContent(room, user);
    return content.contains("membership") ? std::string(content.at("membership").as_string())
                                          : "";
  }

  std::string alice_, bob_, mallory_;
  const std::string bob_id_ = "@bob:localhost";
  const std::string mallory_id_ = "@mallory:localhost";
};

TEST_F(RestrictedKnockTest, SpaceMemberJoinsRestrictedRoomAuthorisedByTheCreator) {
  std::string space = CreateRoom(alice_, json::object{{"preset", "public_chat"}});
  std::string room = RoomWithJoinRules(Restricted("restricted", space));
  ASSERT_EQ(Post(bob_, "/join/" + space), 200);
  Response r = Call("POST", "/join/" + room, bob_, json::object{});
  ASSERT_EQ(r.status, 200) << r.body;
  json::object content = MemberContent(room, bob_id_);
  EXPECT_EQ(content.at("membership").as_string(), "join");
  EXPECT_EQ(content.at("join_authorised_via_users_server").as_string(), "@alice:localhost");
  EXPECT_EQ(content.at("displayname").as_string(), "bob");
}

TEST_F(RestrictedKnockTest, JoiningRestrictedRoomWithoutMembershipOfAnAllowedRoomIsForbidden) {
  std::string space = CreateRoom(alice_);  // private: mallory cannot join it either
  for (std::string rule : {"restricted", "knock_restricted"}) {
    std::string room = RoomWithJoinRules(Restricted(rule, space));
    Response r = Call("POST", "/rooms/" + room + "/join", mallory_, json::object{});
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(ErrCode(r), "M_FORBIDDEN");
    EXPECT_EQ(Membership(room, mallory_id_), "");  // nothing was written
  }
  // A member who left the space no longer qualifies.
  std::string open_space = CreateRoom(alice_, json::object{{"preset", "public_chat"}});
  std::string room = RoomWithJoinRules(Restricted("restricted", open_space));
  ASSERT_EQ(Post(mallory_, "/join/" + open_space), 200);
  ASSERT_EQ(Post(mallory_, "/rooms/" + open_space + "/leave"), 200);
  EXPECT_EQ(Post(mallory_, "/join/" + room), 403);
}

TEST_F(RestrictedKnockTest, AllowListOfUnknownRoomsIsUnableToAuthorise) {
  std::string room = RoomWithJoinRules(Restricted("restricted", "!elsewhere:other.example"));
  Response r = Call("POST", "/join/" + room, bob_, json::object{});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(ErrCode(r), "M_UNABLE_TO_AUTHORISE_JOIN");
}

TEST_F(RestrictedKnockTest, NoMemberWithInvitePowerIsUnableToGrant) {
  std::string space = CreateRoom(alice_, json::object{{"preset", "public_chat"}});
  std::string room = RoomWithJoinRules(Restricted("restricted", space));
  // Only alice may invite; she leaves, so no joined member can authorise.
  Response pl = Call("PUT", "/rooms/" + room + "/state/m.room.power_levels", alice_,
            json::object{{"users", json::object{{"@alice:localhost", 100}}}, {"invite", 100}});
  ASSERT_EQ(pl.status, 200) << pl.body;
  ASSERT_EQ(Post(alice_, "/rooms/" + room + "/leave"), 200);
  ASSERT_EQ(Post(bob_, "/join/" + space), 200);
  Response r = Call("POST", "/join/" + room, bob_, json::object{});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(ErrCode(r), "M_UNABLE_TO_GRANT_JOIN");
}

TEST_F(RestrictedKnockTest, InvitedUserJoinsRestrictedRoomWithoutAuthoriser) {
  std::string space = CreateRoom(alice_);
  std::string room = RoomWithJoinRules(Restricted("restricted", space));
  ASSERT_EQ(Post(alice_, "/rooms/" + room + "/invite", {{"user_id", bob_id_}}), 200);
  ASSERT_EQ(Post(bob_, "/join/" + room), 200);
  EXPECT_FALSE(MemberContent(room, bob_id_).contains("join_authorised_via_users_server"));
}

TEST_F(RestrictedKnockTest, InviteCarriesTheInviteesProfile) {
  Response put = Call("PUT", "/profile/@bob:localhost/avatar_url", bob_,
                      json::object{{"avatar_url", "mxc://localhost/bob"}});
  ASSERT_EQ(put.status, 200) << put.body;
  std::string room = CreateRoom(alice_);
  ASSERT_EQ(Post(alice_, "/rooms/" + room + "/invite", {{"user_id", bob_id_}, {"reason", "hi"}}),
            200);
  json::object content = MemberContent(room, bob_id_);
  EXPECT_EQ(content.at("membership").as_string(), "invite");
  EXPECT_EQ(content.at("displayname").as_string(), "bob");
  EXPECT_EQ(content.at("avatar_url").as_string(), "mxc://localhost/bob");
  EXPECT_EQ(content.at("reason").as_string(), "hi");
  // A user with no account here gets a bare invite.
  ASSERT_EQ(Post(alice_, "/rooms/" + room + "/invite", {{"user_id", "@ghost:localhost"}}), 200);
  json::object ghost = MemberContent(room, "@ghost:localhost");
  EXPECT_FALSE(ghost.contains("displayname"));
}

TEST_F(RestrictedKnockTest, KnockIsAcceptedByAnInvite) {
  std::string room = RoomWithJoinRules(json::object{{"join_rule", "knock"}});
  EXPECT_EQ(Post(bob_, "/join/" + room), 403) << "knock rooms need an invite to join";
  Response r = Call("POST", "/knock/" + room, bob_, json::object{{"reason", "let me in"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("room_id").as_string(), room);
  json::object content = MemberContent(room, bob_id_);
  EXPECT_EQ(content.at("membership").as_string(), "knock");
  EXPECT_EQ(content.at("reason").as_string(), "let me in");
  EXPECT_EQ(content.at("displayname").as_string(), "bob");
  EXPECT_EQ(Post(bob_, "/knock/" + room), 200) << "knocking again while knocking (rule 4.7.3)";
  ASSERT_EQ(Post(alice_, "/rooms/" + room + "/invite", {{"user_id", bob_id_}}), 200);
  ASSERT_EQ(Post(bob_, "/join/" + room), 200);
  EXPECT_EQ(Membership(room, bob_id_), "join");
}

TEST_F(RestrictedKnockTest, KnockCanBeRetractedRefusedOrBanned) {
  std::string room = RoomWithJoinRules(json::object{{"join_rule", "knock"}});
  ASSERT_EQ(Post(bob_, "/knock/" + room), 200);
  ASSERT_EQ(Post(bob_, "/rooms/" + room + "/leave"), 200);  // retracted
  EXPECT_EQ(Membership(room, bob_id_), "leave");
  ASSERT_EQ(Post(bob_, "/knock/" + room), 200);              // knocks again
  ASSERT_EQ(Post(alice_, "/rooms/" + room + "/kick", {{"user_id", bob_id_}}), 200);  // refused
  EXPECT_EQ(Membership(room, bob_id_), "leave");
  ASSERT_EQ(Post(bob_, "/knock/" + room), 200);
  ASSERT_EQ(Post(alice_, "/rooms/" + room + "/ban", {{"user_id", bob_id_}}), 200);
  EXPECT_EQ(Membership(room, bob_id_), "ban");
  EXPECT_EQ(Post(bob_, "/knock/" + room), 403) << "banned users cannot knock";
}

TEST_F(RestrictedKnockTest, KnockingOnARoomWhoseRuleIsNotKnockIsForbidden) {
  for (std::string rule : {"invite", "public", "restricted"}) {
    std::string room = RoomWithJoinRules(json::object{{"join_rule", rule}});
    Response r = Call("POST", "/knock/" + room, mallory_, json::object{});
    EXPECT_EQ(r.status, 403) << rule << " " << r.body;
    EXPECT_EQ(ErrCode(r), "M_FORBIDDEN");
  }
  std::string joined = CreateRoom(alice_, json::object{{"preset", "public_chat"}});
  EXPECT_EQ(Post(alice_, "/knock/" + joined), 403) << "members cannot knock";
}

TEST_F(RestrictedKnockTest, KnockRestrictedRoomTakesKnocksAndSpaceMembers) {
  std::string space = CreateRoom(alice_, json::object{{"preset", "public_chat"}});
  std::string room = RoomWithJoinRules(Restricted("knock_restricted", space));
  ASSERT_EQ(Post(mallory_, "/knock/" + room), 200);
  ASSERT_EQ(Post(bob_, "/join/" + space), 200);
  ASSERT_EQ(Post(bob_, "/join/" + room), 200);
  EXPECT_EQ(Membership(room, bob_id_), "join");
  // A knocker who joins the space may then join directly.
  ASSERT_EQ(Post(mallory_, "/join/" + space), 200);
  ASSERT_EQ(Post(mallory_, "/join/" + room), 200);
  EXPECT_EQ(Membership(room, mallory_id_), "join");
}

TEST_F(RestrictedKnockTest, KnockOnUnknownRoomOrAliasIsNotFound) {
  EXPECT_EQ(Post(bob_, "/knock/!nowhere:localhost"), 404);
  EXPECT_EQ(Post(bob_, "/knock/%23nowhere:localhost"), 404);
  EXPECT_EQ(Post(bob_, "/knock/not-a-room"), 400);
  EXPECT_EQ(Call("POST", "/knock/!nowhere:localhost", "", json::object{}).status, 401);
}

}  // namespace
}  // namespace nebu::api
