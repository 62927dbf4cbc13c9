// Goal: the room version 10/11 rules for restricted joins (rule 4.2.1 and 4.3.5):
// a join without an invite into a restricted or knock_restricted room is allowed
// only with join_authorised_via_users_server naming a joined member at the invite
// level, of the sender's server. Method: Authorize on hand-built states.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string_view>

#include "engine/rooms/auth_rules.h"
#include "tests/engine/rooms/rooms_testing.h"

namespace nebu::rooms {
namespace {

using testing::kCreator;
using testing::kSender;
using testing::MemberPdu;
using testing::Pdu;
using testing::RoomBuilder;

constexpr std::string_view kModerator = "@mod:example.org";
constexpr std::string_view kPlain = "@plain:example.org";

// A room with `rule`; the creator (100) and a moderator (50) joined, a plain member
// (0) joined; invites need 50.
RoomState RestrictedRoom(std::string_view rule) {
  RoomBuilder room;
  room.Put(Pdu(kCreator, "m.room.join_rules", "",
               {{"join_rule", rule},
                {"allow", boost::json::array{boost::json::object{
                              {"type", "m.room_membership"}, {"room_id", "!space:example.org"}}}}}))
      .PowerLevels({{"users", {{kCreator, 100}, {kModerator, 50}}}, {"invite", 50}})
      .Member(kModerator, "join")
      .Member(kPlain, "join");
  return room.state();
}

boost::json::object JoinVia(std::string_view via) {
  return Pdu(kSender, "m.room.member", kSender,
             {{"membership", "join"}, {"join_authorised_via_users_server", via}});
}

TEST(RestrictedJoinTest, JoinWithoutInviteNeedsAnAuthorisingUser) {
  for (std::string_view rule : {"restricted", "knock_restricted"}) {
    RoomState state = RestrictedRoom(rule);
    Status s = Authorize(MemberPdu(kSender, kSender, "join"), state);
    EXPECT_EQ(s.code(), StatusCode::kForbidden) << rule;
    EXPECT_NE(s.message().find("join_authorised_via_users_server"), std::string::npos);
    EXPECT_TRUE(Authorize(JoinVia(kModerator), state).ok()) << rule;
    EXPECT_TRUE(Authorize(JoinVia(kCreator), state).ok()) << rule;
  }
}

TEST(RestrictedJoinTest, AuthoriserWithoutInviteLevelIsRefused) {
  RoomState state = RestrictedRoom("restricted");
  Status s = Authorize(JoinVia(kPlain), state);
  EXPECT_EQ(s.code(), StatusCode::kForbidden);
  EXPECT_NE(s.message().find("below the invite level"), std::string::npos) << s.message();
}

TEST(RestrictedJoinTest, AuthoriserWhoIsNotJoinedIsRefused) {
  RoomBuilder room;
  room.Put(Pdu(kCreator, "m.room.join_rules", "", {{"join_rule", "restricted"}}))
      .PowerLevels({{"users", {{kCreator, 100}, {kModerator, 50}}}, {"invite", 50}})
      .Member(kModerator, "leave");
  EXPECT_EQ(Authorize(JoinVia(kModerator), room.state()).code(), StatusCode::kForbidden);
  room.Member(kModerator, "invite");
  EXPECT_EQ(Authorize(JoinVia(kModerator), room.state()).code(), StatusCode::kForbidden);
  EXPECT_EQ(Authorize(JoinVia("@nobody:example.org"), room.state()).code(),
            StatusCode::kForbidden);
}

TEST(RestrictedJoinTest, AuthoriserOfAnotherServerIsRefused) {
  RoomState state = RestrictedRoom("restricted");
  boost::json::object event = JoinVia("@mod:elsewhere.org");
  Status s = Authorize(event, state);
  EXPECT_EQ(s.code(), StatusCode::kForbidden);
  EXPECT_NE(s.message().find("another server"), std::string::npos) << s.message();
  event["content"].as_object()["join_authorised_via_users_server"] = "not a user";
  EXPECT_EQ(Authorize(event, state).code(), StatusCode::kBadJson);
  event["content"].as_object()["join_authorised_via_users_server"] = 5;
  EXPECT_EQ(Authorize(event, state).code(), StatusCode::kBadJson);
}

TEST(RestrictedJoinTest, InvitedOrJoinedUsersNeedNoAuthoriser) {
  RoomBuilder room;
  room.Put(Pdu(kCreator, "m.room.join_rules", "", {{"join_rule", "restricted"}}))
      .Member(kSender, "invite");
  EXPECT_TRUE(Authorize(MemberPdu(kSender, kSender, "join"), room.state()).ok());
}

TEST(RestrictedJoinTest, BannedUsersCannotJoinEvenWithAnAuthoriser) {
  RoomBuilder room;
  room.Put(Pdu(kCreator, "m.room.join_rules", "", {{"join_rule", "restricted"}}))
      .Member(kSender, "ban");
  EXPECT_EQ(Authorize(JoinVia(kCreator), room.state()).code(), StatusCode::kForbidden);
}

TEST(RestrictedJoinTest, AuthoriserIsIgnoredWhereTheRuleDoesNotNeedIt) {
  // Public rooms admit anyone; invite rooms still need an invite.
  RoomState state = RestrictedRoom("public");
  EXPECT_TRUE(Authorize(JoinVia(kModerator), state).ok());
  state = RestrictedRoom("invite");
  EXPECT_EQ(Authorize(JoinVia(kModerator), state).code(), StatusCode::kForbidden);
}

TEST(RestrictedJoinTest, AuthEventKeysIncludeTheAuthorisersMemberEvent) {
  auto keys = AuthEventKeys(JoinVia(kModerator));
  bool found = false;
  for (const auto& key : keys) found = found || key == RoomState::Key{"m.room.member", std::string(kModerator)};
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace nebu::rooms
