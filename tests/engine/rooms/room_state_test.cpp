// RoomState and PowerLevels: lookups, the spec's defaults, and level parsing.
// Method: small hand-built states; each test names the default or rule it pins.
#include "engine/rooms/room_state.h"

#include <gtest/gtest.h>

#include "tests/engine/rooms/rooms_testing.h"

namespace nebu::rooms {
namespace {

using testing::Json;
using testing::kCreator;
using testing::MemberPdu;
using testing::Pdu;
using testing::RoomBuilder;

TEST(MembershipTest, NamesRoundTrip) {
  for (Membership m : {Membership::kInvite, Membership::kJoin, Membership::kLeave, Membership::kBan,
                       Membership::kKnock}) {
    EXPECT_EQ(ParseMembership(MembershipName(m)), m);
  }
  EXPECT_EQ(MembershipName(Membership::kNone), "none");
  EXPECT_EQ(ParseMembership("none"), std::nullopt);
  EXPECT_EQ(ParseMembership("Join"), std::nullopt);
}

TEST(ParsePowerLevelTest, AcceptsIntegersInTheCanonicalJsonRange) {
  EXPECT_EQ(ParsePowerLevel(boost::json::value(50)), 50);
  EXPECT_EQ(ParsePowerLevel(boost::json::value(-7)), -7);
  EXPECT_EQ(ParsePowerLevel(boost::json::value(uint64_t{100})), 100);
  EXPECT_EQ(ParsePowerLevel(boost::json::value(kPowerLevelMax)), kPowerLevelMax);
  EXPECT_EQ(ParsePowerLevel(boost::json::value(kPowerLevelMin)), kPowerLevelMin);
}

TEST(ParsePowerLevelTest, RejectsFloatsStringsAndOutOfRangeIntegers) {
  EXPECT_EQ(ParsePowerLevel(boost::json::value(50.0)), std::nullopt);
  EXPECT_EQ(ParsePowerLevel(boost::json::value("50")), std::nullopt);
  EXPECT_EQ(ParsePowerLevel(boost::json::value(true)), std::nullopt);
  EXPECT_EQ(ParsePowerLevel(boost::json::value(nullptr)), std::nullopt);
  EXPECT_EQ(ParsePowerLevel(boost::json::value(kPowerLevelMax + 1)), std::nullopt);
  EXPECT_EQ(ParsePowerLevel(boost::json::value(kPowerLevelMin - 1)), std::nullopt);
  EXPECT_EQ(ParsePowerLevel(boost::json::value(~uint64_t{0})), std::nullopt);
}

TEST(RoomStateTest, SetGetEraseByTypeAndStateKey) {
  RoomState s;
  EXPECT_EQ(s.Get("m.room.name", ""), nullptr);
  s.Set("m.room.name", "", Pdu(kCreator, "m.room.name", "", {{"name", "a"}}));
  s.Set("m.room.name", "x", Pdu(kCreator, "m.room.name", "x", {{"name", "b"}}));
  ASSERT_NE(s.Get("m.room.name", ""), nullptr);
  EXPECT_EQ(s.Get("m.room.name", "")->at("content").at("name"), "a");
  EXPECT_EQ(s.size(), 2u);
  s.Set("m.room.name", "", Pdu(kCreator, "m.room.name", "", {{"name", "c"}}));
  EXPECT_EQ(s.Get("m.room.name", "")->at("content").at("name"), "c");
  EXPECT_EQ(s.size(), 2u);
  s.Erase("m.room.name", "");
  EXPECT_EQ(s.Get("m.room.name", ""), nullptr);
  s.Erase("m.room.name", "absent");  // erasing nothing is fine
  EXPECT_EQ(s.size(), 1u);
}

TEST(RoomStateTest, MembershipOfReadsTheMemberEvent) {
  RoomState s;
  EXPECT_EQ(s.MembershipOf("@a:x"), Membership::kNone);
  s.Set("m.room.member", "@a:x", MemberPdu("@a:x", "@a:x", "knock"));
  EXPECT_EQ(s.MembershipOf("@a:x"), Membership::kKnock);
  s.Set("m.room.member", "@b:x", Pdu("@b:x", "m.room.member", "@b:x", {{"membership", "odd"}}));
  EXPECT_EQ(s.MembershipOf("@b:x"), Membership::kNone);
  s.Set("m.room.member", "@c:x", Pdu("@c:x", "m.room.member", "@c:x", {}));
  EXPECT_EQ(s.MembershipOf("@c:x"), Membership::kNone);
}

TEST(RoomStateTest, CreatorIsTheCreateEventSender) {
  EXPECT_EQ(RoomState().Creator(), "");
  EXPECT_EQ(RoomBuilder().state().Creator(), kCreator);
}

TEST(RoomStateTest, JoinRuleDefaultsToInvite) {
  RoomBuilder room;
  EXPECT_EQ(room.state().JoinRule(), "invite");
  room.JoinRule("public");
  EXPECT_EQ(room.state().JoinRule(), "public");
  room.Put(Pdu(kCreator, "m.room.join_rules", "", {{"join_rule", 5}}));
  EXPECT_EQ(room.state().JoinRule(), "invite");
}

TEST(PowerLevelsTest, WithoutAPowerLevelsEventTheCreatorHas100AndOthers0) {
  PowerLevels levels = RoomBuilder().state().GetPowerLevels();
  EXPECT_EQ(levels.UserLevel(kCreator), 100);
  EXPECT_EQ(levels.UserLevel("@someone:example.org"), 0);
  EXPECT_EQ(levels.ban, 50);
  EXPECT_EQ(levels.kick, 50);
  EXPECT_EQ(levels.redact, 50);
  EXPECT_EQ(levels.invite, 0);
  EXPECT_EQ(levels.EventLevel("m.room.message", false), 0);
  EXPECT_EQ(levels.EventLevel("m.room.name", true), 50);
  EXPECT_EQ(levels.notifications_room, 50);
}

TEST(PowerLevelsTest, ReadsEveryFieldOfTheContent) {
  RoomBuilder room;
  room.PowerLevels(Json(R"({"ban":1,"invite":2,"kick":3,"redact":4,"events_default":5,
      "state_default":6,"users_default":7,"events":{"m.room.name":8},
      "users":{"@a:x":9},"notifications":{"room":10}})"));
  PowerLevels l = room.state().GetPowerLevels();
  EXPECT_EQ(l.ban, 1);
  EXPECT_EQ(l.invite, 2);
  EXPECT_EQ(l.kick, 3);
  EXPECT_EQ(l.redact, 4);
  EXPECT_EQ(l.UserLevel("@a:x"), 9);
  EXPECT_EQ(l.UserLevel(kCreator), 7) << "with a power levels event the creator is not special";
  EXPECT_EQ(l.EventLevel("m.room.name", true), 8);
  EXPECT_EQ(l.EventLevel("m.room.name", false), 8);
  EXPECT_EQ(l.EventLevel("m.custom", true), 6);
  EXPECT_EQ(l.EventLevel("m.custom", false), 5);
  EXPECT_EQ(l.notifications_room, 10);
}

TEST(PowerLevelsTest, InvalidValuesFallBackToDefaults) {
  RoomBuilder room;
  room.PowerLevels(Json(R"({"ban":"1","kick":2.5,"users":{"@a:x":"9","@b:x":3},"events":[]})"));
  PowerLevels l = room.state().GetPowerLevels();
  EXPECT_EQ(l.ban, 50);
  EXPECT_EQ(l.kick, 50);
  EXPECT_EQ(l.UserLevel("@a:x"), 0);
  EXPECT_EQ(l.UserLevel("@b:x"), 3);
  EXPECT_TRUE(l.events.empty());
}

}  // namespace
}  // namespace nebu::rooms
