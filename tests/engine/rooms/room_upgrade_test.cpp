// Goal: the room upgrade plan (engine/rooms/room_upgrade.h) follows the spec's
// "Room Upgrades" server behaviour and every plan it makes passes the authorization
// rules when applied in order.
// Method: plans from hand-built old states, applied draft by draft with Authorize
// (DraftToUnplacedPdu); RestrictedPowerLevels on edge values.
#include "engine/rooms/room_upgrade.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "engine/rooms/auth_rules.h"

namespace nebu::rooms {
namespace {

namespace json = boost::json;

constexpr std::string_view kOld = "!old:hs";
constexpr std::string_view kNew = "!new:hs";

json::object Event(std::string_view type, json::object content) {
  return json::object{{"type", type}, {"state_key", ""}, {"sender", "@a:hs"},
                      {"content", std::move(content)}};
}

// Applies the drafts in order with Authorize on the growing state; the first refusal.
Status ApplyAll(const std::vector<EventDraft>& drafts) {
  RoomState state;
  for (size_t i = 0; i < drafts.size(); ++i) {
    json::object pdu = DraftToUnplacedPdu(drafts[i], kNew);
    if (i > 0) pdu["prev_events"] = json::array{"$previous"};
    NEBU_RETURN_IF_ERROR(Authorize(pdu, state));
    state.Set(drafts[i].type, drafts[i].state_key.value_or(""), std::move(pdu));
  }
  return Status::Ok();
}

UpgradePlan UpgradeTestPlan(const RoomState& old, std::string sender) {
  return UpgradePlan{.sender = std::move(sender),
                     .old_room_id = std::string(kOld),
                     .new_room_id = std::string(kNew),
                     .new_version = event::RoomVersion::kV11,
                     .tombstone_event_id = "$tombstone",
                     .old_state = &old};
}

TEST(RoomUpgradePlan, CreateNamesThePredecessorAndKeepsTheType) {
  RoomState old;
  old.Set("m.room.create", "", Event("m.room.create", {{"room_version", "10"},
                                                       {"type", "m.space"},
                                                       {"creator", "@a:hs"}}));
  old.Set("m.room.name", "", Event("m.room.name", {{"name", "N"}}));
  old.Set("m.room.member", "@x:hs", Event("m.room.member", {{"membership", "join"}}));
  old.Set("com.example.custom", "", Event("com.example.custom", {{"x", 1}}));
  auto drafts = PlanReplacementRoom(UpgradeTestPlan(old, "@a:hs"));
  ASSERT_TRUE(drafts.ok()) << drafts.status().ToString();
  const json::object& create = (*drafts)[0].content;
  EXPECT_EQ((*drafts)[0].type, "m.room.create");
  EXPECT_EQ(create.at("room_version"), "11");
  EXPECT_EQ(create.at("type"), "m.space");
  EXPECT_FALSE(create.contains("creator"));  // v11
  EXPECT_EQ(create.at("predecessor"),
            (json::object{{"room_id", kOld}, {"event_id", "$tombstone"}}));
  std::vector<std::string> types;
  for (const auto& d : *drafts) types.push_back(d.type);
  EXPECT_EQ(types, (std::vector<std::string>{"m.room.create", "m.room.member", "m.room.name"}));
  Status applied = ApplyAll(*drafts);
  EXPECT_TRUE(applied.ok()) << applied.ToString();
}

TEST(RoomUpgradePlan, EveryPlanPassesTheAuthRulesAndEndsWithTheOldLevels) {
  RoomState old;
  old.Set("m.room.create", "", Event("m.room.create", {{"room_version", "11"}}));
  json::object levels{{"state_default", 100},
                      {"ban", 90},
                      {"users", json::object{{"@a:hs", 100}, {"@m:hs", 50}}},
                      {"events", json::object{{"m.room.tombstone", 50}}}};
  old.Set("m.room.power_levels", "", Event("m.room.power_levels", levels));
  old.Set("m.room.join_rules", "", Event("m.room.join_rules", {{"join_rule", "invite"}}));
  old.Set("m.room.topic", "", Event("m.room.topic", {{"topic", "t"}}));
  UpgradePlan plan = UpgradeTestPlan(old, "@m:hs");
  plan.joined = {"@a:hs", "@m:hs", "@z:hs"};
  plan.banned = {"@evil:hs"};
  auto drafts = PlanReplacementRoom(plan);
  ASSERT_TRUE(drafts.ok()) << drafts.status().ToString();
  Status applied = ApplyAll(*drafts);
  EXPECT_TRUE(applied.ok()) << applied.ToString();
  EXPECT_EQ(drafts->back().type, "m.room.power_levels");
  EXPECT_EQ(drafts->back().content, levels);
  size_t invites = 0, bans = 0;
  for (const auto& d : *drafts) {
    if (d.type != "m.room.member" || d.state_key == "@m:hs") continue;
    (d.content.at("membership") == "invite" ? invites : bans) += 1;
  }
  EXPECT_EQ(invites, 2u);
  EXPECT_EQ(bans, 1u);
}

TEST(RoomUpgradePlan, InvitesAreBounded) {
  RoomState old;
  old.Set("m.room.create", "", Event("m.room.create", {{"room_version", "11"}}));
  UpgradePlan plan = UpgradeTestPlan(old, "@a:hs");
  for (size_t i = 0; i < kUpgradeInvitesMax + 5; ++i) {
    plan.joined.push_back("@u" + std::to_string(i) + ":hs");
  }
  auto drafts = PlanReplacementRoom(plan);
  ASSERT_TRUE(drafts.ok());
  EXPECT_EQ(drafts->size(), 2 + kUpgradeInvitesMax);
}

TEST(RoomUpgradePlan, BadIdsAreRefused) {
  RoomState old;
  UpgradePlan plan = UpgradeTestPlan(old, "not-a-user");
  EXPECT_EQ(PlanReplacementRoom(plan).status().code(), StatusCode::kInvalidArgument);
  plan = UpgradeTestPlan(old, "@a:hs");
  plan.new_room_id = "nope";
  EXPECT_EQ(PlanReplacementRoom(plan).status().code(), StatusCode::kInvalidArgument);
}

TEST(RestrictedPowerLevels, RaisesEventsDefaultAndInvite) {
  auto r = RestrictedPowerLevels(json::object{});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->at("events_default"), 50);
  EXPECT_EQ(r->at("invite"), 50);
  r = RestrictedPowerLevels(json::object{{"users_default", 70}, {"kick", 1}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->at("events_default"), 71);
  EXPECT_EQ(r->at("invite"), 71);
  EXPECT_EQ(r->at("kick"), 1);
  // Already restricted: nothing to send; a higher value is kept.
  EXPECT_FALSE(RestrictedPowerLevels(json::object{{"events_default", 50}, {"invite", 60}}));
  r = RestrictedPowerLevels(json::object{{"events_default", 80}});
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->at("events_default"), 80);
  EXPECT_EQ(r->at("invite"), 50);
}

TEST(TombstoneDraft, PointsToTheReplacement) {
  EventDraft d = TombstoneDraft("@a:hs", kNew);
  EXPECT_EQ(d.type, "m.room.tombstone");
  EXPECT_EQ(d.state_key, "");
  EXPECT_EQ(d.content.at("replacement_room"), json::value(kNew));
}

}  // namespace
}  // namespace nebu::rooms
