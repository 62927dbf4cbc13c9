// createRoom: request parsing and the planned events for each preset.
// Method: exact expected event lists as JSON; bad requests by error code; and every
// plan replayed through Authorize on a growing RoomState (the plan is consistent).
#include "engine/rooms/room_creation.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <string>
#include <vector>

#include "engine/rooms/auth_rules.h"
#include "tests/engine/rooms/rooms_testing.h"

namespace nebu::rooms {
namespace {

using testing::Json;
using testing::kCreator;

constexpr std::string_view kAlice = "@alice:example.org";
constexpr std::string_view kBob = "@bob:other.org";

CreateRoomRequest Parse(std::string_view body) {
  Result<CreateRoomRequest> r = ParseCreateRoomRequest(Json(body));
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : CreateRoomRequest{};
}

std::vector<EventDraft> Plan(std::string_view body) {
  Result<std::vector<EventDraft>> plan = PlanRoomCreation(Parse(body), kCreator);
  EXPECT_TRUE(plan.ok()) << plan.status().ToString();
  return plan.ok() ? *plan : std::vector<EventDraft>{};
}

// The drafts as [{type, state_key, content}], all sent by the creator.
boost::json::array ToJson(const std::vector<EventDraft>& drafts) {
  boost::json::array out;
  for (const EventDraft& d : drafts) {
    EXPECT_EQ(d.sender, kCreator) << d.type;
    boost::json::object o{{"type", d.type}, {"content", d.content}};
    if (d.state_key) o["state_key"] = *d.state_key;
    out.push_back(std::move(o));
  }
  return out;
}

// The default power levels with the given invite level and extra users.
std::string DefaultLevels(int invite, std::string_view extra_users = "") {
  return std::string(R"({"users":{"@creator:example.org":100)") + std::string(extra_users) +
         R"(},"users_default":0,"events":{"m.room.name":50,"m.room.power_levels":100,
         "m.room.history_visibility":100,"m.room.canonical_alias":50,"m.room.avatar":50,
         "m.room.tombstone":100,"m.room.server_acl":100,"m.room.encryption":100},
         "events_default":0,"state_default":50,"ban":50,"kick":50,"redact":50,"invite":)" +
         std::to_string(invite) + R"(,"notifications":{"room":50}})";
}

std::string ExpectedPlan(std::string_view join_rule, std::string_view guest_access,
                         const std::string& levels, std::string_view tail = "") {
  return R"([{"type":"m.room.create","state_key":"","content":{"room_version":"11"}},
      {"type":"m.room.member","state_key":"@creator:example.org","content":{"membership":"join"}},
      {"type":"m.room.power_levels","state_key":"","content":)" +
         levels + R"(},
      {"type":"m.room.join_rules","state_key":"","content":{"join_rule":")" +
         std::string(join_rule) + R"("}},
      {"type":"m.room.history_visibility","state_key":"","content":{"history_visibility":"shared"}},
      {"type":"m.room.guest_access","state_key":"","content":{"guest_access":")" +
         std::string(guest_access) + R"("}})" + std::string(tail) + "]";
}

boost::json::value Expect(const std::string& text) { return boost::json::parse(text); }

// Applies the drafts in order with Authorize; returns the first refusal.
Status ReplayThroughAuthorize(const std::vector<EventDraft>& drafts) {
  RoomState state;
  for (size_t i = 0; i < drafts.size(); ++i) {
    boost::json::object pdu = DraftToUnplacedPdu(drafts[i], "!new:example.org");
    if (i > 0) pdu["prev_events"] = boost::json::array{"$previous"};
    NEBU_RETURN_IF_ERROR(Authorize(pdu, state));
    state.Set(drafts[i].type, drafts[i].state_key.value_or(""), std::move(pdu));
  }
  return Status::Ok();
}

// ---------------------------------------------------------------------------
// Parsing.

TEST(ParseCreateRoomTest, EmptyBodyGivesTheDefaults) {
  CreateRoomRequest r = Parse("{}");
  EXPECT_EQ(r.visibility, "private");
  EXPECT_EQ(r.preset, std::nullopt);
  EXPECT_EQ(r.room_version, event::kDefaultRoomVersion);
  EXPECT_FALSE(r.is_direct);
  EXPECT_TRUE(r.invite.empty());
  EXPECT_TRUE(r.initial_state.empty());
  EXPECT_FALSE(r.power_level_content_override.has_value());
}

TEST(ParseCreateRoomTest, ReadsEveryField) {
  CreateRoomRequest r = Parse(R"({"visibility":"public","preset":"trusted_private_chat",
      "name":"N","topic":"T","room_alias_name":"pub","invite":["@alice:example.org"],
      "is_direct":true,"room_version":"10","creation_content":{"m.federate":false},
      "initial_state":[{"type":"m.room.encryption","content":{"algorithm":"a"}}],
      "power_level_content_override":{"ban":60},"invite_3pid":[]})");
  EXPECT_EQ(r.visibility, "public");
  EXPECT_EQ(r.preset, "trusted_private_chat");
  EXPECT_EQ(r.name, "N");
  EXPECT_EQ(r.topic, "T");
  EXPECT_EQ(r.room_alias_name, "pub");
  EXPECT_EQ(r.invite, std::vector<std::string>{std::string(kAlice)});
  EXPECT_TRUE(r.is_direct);
  EXPECT_EQ(r.room_version, event::RoomVersion::kV10);
  EXPECT_EQ(r.creation_content, Json(R"({"m.federate":false})"));
  ASSERT_EQ(r.initial_state.size(), 1u);
  EXPECT_EQ(r.initial_state[0].type, "m.room.encryption");
  EXPECT_EQ(r.initial_state[0].state_key, "") << "state_key defaults to empty";
  EXPECT_EQ(r.power_level_content_override, Json(R"({"ban":60})"));
}

TEST(ParseCreateRoomTest, NullFieldsCountAsAbsent) {
  CreateRoomRequest r = Parse(R"({"name":null,"preset":null,"invite":null})");
  EXPECT_EQ(r.name, std::nullopt);
  EXPECT_EQ(r.preset, std::nullopt);
}

TEST(ParseCreateRoomTest, WrongTypesAreBadJson) {
  for (std::string_view body :
       {R"({"name":1})", R"({"topic":{}})", R"({"visibility":true})", R"({"preset":1})",
        R"({"invite":"@a:x"})", R"({"invite":[1]})", R"({"is_direct":"yes"})",
        R"({"room_version":11})", R"({"creation_content":[]})",
        R"({"creation_content":{"m.federate":"no"}})", R"({"initial_state":{}})",
        R"({"initial_state":[1]})", R"({"initial_state":[{"type":"m.x"}]})",
        R"({"initial_state":[{"content":{}}]})",
        R"({"initial_state":[{"type":"m.x","state_key":1,"content":{}}]})",
        R"({"power_level_content_override":1})", R"({"room_alias_name":5})",
        R"({"invite_3pid":{}})"}) {
    EXPECT_EQ(ParseCreateRoomRequest(Json(body)).status().code(), StatusCode::kBadJson) << body;
  }
}

TEST(ParseCreateRoomTest, BadValuesAreInvalidArgument) {
  for (std::string_view body :
       {R"({"visibility":"secret"})", R"({"preset":"party"})", R"({"invite":["alice"]})",
        R"({"room_alias_name":"a:b"})", R"({"room_alias_name":"a b"})", R"({"room_alias_name":""})",
        R"({"initial_state":[{"type":"","content":{}}]})",
        R"({"initial_state":[{"type":"m.room.create","content":{}}]})"}) {
    EXPECT_EQ(ParseCreateRoomRequest(Json(body)).status().code(), StatusCode::kInvalidArgument)
        << body;
  }
}

TEST(ParseCreateRoomTest, UnsupportedRoomVersionNamesTheErrcode) {
  Status s = ParseCreateRoomRequest(Json(R"({"room_version":"9"})")).status();
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("M_UNSUPPORTED_ROOM_VERSION"), std::string::npos);
}

TEST(ParseCreateRoomTest, ThirdPartyInvitesAreRefusedAsNotSupported) {
  Status s = ParseCreateRoomRequest(
                 Json(R"({"invite_3pid":[{"id_server":"i","medium":"email","address":"a@b"}]})"))
                 .status();
  EXPECT_EQ(s.code(), StatusCode::kForbidden);
  EXPECT_NE(s.message().find("not supported"), std::string::npos);
}

TEST(ParseCreateRoomTest, TooManyInviteesIsTooLarge) {
  boost::json::array invite;
  for (size_t i = 0; i <= kCreateRoomInviteesMax; ++i) {
    invite.emplace_back("@u" + std::to_string(i) + ":example.org");
  }
  boost::json::object body{{"invite", invite}};
  EXPECT_EQ(ParseCreateRoomRequest(body).status().code(), StatusCode::kTooLarge);
  invite.pop_back();
  body["invite"] = invite;
  EXPECT_TRUE(ParseCreateRoomRequest(body).ok());
}

// ---------------------------------------------------------------------------
// Plans per preset.

TEST(PlanRoomCreationTest, PrivateChatPlanIsExact) {
  EXPECT_EQ(ToJson(Plan(R"({"preset":"private_chat"})")),
            Expect(ExpectedPlan("invite", "can_join", DefaultLevels(0))));
}

TEST(PlanRoomCreationTest, PublicChatPlanIsExact) {
  EXPECT_EQ(ToJson(Plan(R"({"preset":"public_chat"})")),
            Expect(ExpectedPlan("public", "forbidden", DefaultLevels(50))));
}

TEST(PlanRoomCreationTest, TrustedPrivateChatGivesInviteesTheCreatorLevel) {
  EXPECT_EQ(
      ToJson(Plan(R"({"preset":"trusted_private_chat",
                            "invite":["@alice:example.org","@bob:other.org"]})")),
      Expect(ExpectedPlan("invite", "can_join",
                          DefaultLevels(0, R"(,"@alice:example.org":100,"@bob:other.org":100)"),
                          R"(,{"type":"m.room.member","state_key":"@alice:example.org",
                     "content":{"membership":"invite"}},
                   {"type":"m.room.member","state_key":"@bob:other.org",
                     "content":{"membership":"invite"}})")));
}

TEST(PlanRoomCreationTest, DefaultPresetFollowsVisibility) {
  EXPECT_EQ(ToJson(Plan("{}")), ToJson(Plan(R"({"preset":"private_chat"})")));
  EXPECT_EQ(ToJson(Plan(R"({"visibility":"private"})")),
            ToJson(Plan(R"({"preset":"private_chat"})")));
  EXPECT_EQ(ToJson(Plan(R"({"visibility":"public"})")),
            ToJson(Plan(R"({"preset":"public_chat"})")));
  EXPECT_EQ(ToJson(Plan(R"({"visibility":"public","preset":"private_chat"})")),
            ToJson(Plan(R"({"preset":"private_chat"})")))
      << "an explicit preset wins over visibility";
}

TEST(PlanRoomCreationTest, NameTopicAliasAndInvitesComeInSpecOrder) {
  std::vector<EventDraft> plan = Plan(R"({"preset":"public_chat","name":"Pub","topic":"Beer",
      "room_alias_name":"pub","invite":["@alice:example.org"],"is_direct":true,
      "initial_state":[{"type":"m.room.avatar","content":{"url":"mxc://a/b"}}]})");
  EXPECT_EQ(ToJson(plan), Expect(R"([
      {"type":"m.room.create","state_key":"","content":{"room_version":"11"}},
      {"type":"m.room.member","state_key":"@creator:example.org","content":{"membership":"join"}},
      {"type":"m.room.power_levels","state_key":"","content":)" +
                                 DefaultLevels(50) + R"(},
      {"type":"m.room.canonical_alias","state_key":"","content":{"alias":"#pub:example.org"}},
      {"type":"m.room.join_rules","state_key":"","content":{"join_rule":"public"}},
      {"type":"m.room.history_visibility","state_key":"","content":{"history_visibility":"shared"}},
      {"type":"m.room.guest_access","state_key":"","content":{"guest_access":"forbidden"}},
      {"type":"m.room.avatar","state_key":"","content":{"url":"mxc://a/b"}},
      {"type":"m.room.name","state_key":"","content":{"name":"Pub"}},
      {"type":"m.room.topic","state_key":"","content":{"topic":"Beer",
        "m.topic":{"m.text":[{"body":"Beer","mimetype":"text/plain"}]}}},
      {"type":"m.room.member","state_key":"@alice:example.org",
        "content":{"membership":"invite","is_direct":true}}])"));
}

TEST(PlanRoomCreationTest, ExplicitAliasIsUsedAsGiven) {
  Result<std::vector<EventDraft>> plan = PlanRoomCreation(
      Parse(R"({"room_alias_name":"pub"})"), kCreator, std::string("#pub:chat.example.org"));
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ((*plan)[3].type, "m.room.canonical_alias");
  EXPECT_EQ((*plan)[3].content, Json(R"({"alias":"#pub:chat.example.org"})"));
  EXPECT_EQ(PlanRoomCreation(CreateRoomRequest{}, kCreator, std::string("pub")).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(PlanRoomCreationTest, IsDirectIsSetOnlyWhenRequested) {
  std::vector<EventDraft> plan = Plan(R"({"invite":["@alice:example.org"]})");
  EXPECT_EQ(plan.back().content, Json(R"({"membership":"invite"})"));
}

TEST(PlanRoomCreationTest, InviteesAreDeduplicatedAndTheCreatorIsSkipped) {
  std::vector<EventDraft> plan = Plan(R"({"invite":["@alice:example.org","@creator:example.org",
      "@bob:other.org","@alice:example.org"]})");
  ASSERT_EQ(plan.size(), 8u);
  EXPECT_EQ(plan[6].state_key, kAlice);
  EXPECT_EQ(plan[7].state_key, kBob);
}

TEST(PlanRoomCreationTest, RoomVersion10KeepsCreatorInCreateContent) {
  std::vector<EventDraft> plan =
      Plan(R"({"room_version":"10","creation_content":{"m.federate":false,"creator":"@x:y"}})");
  EXPECT_EQ(plan[0].content,
            Json(R"({"room_version":"10","creator":"@creator:example.org","m.federate":false})"));
}

TEST(PlanRoomCreationTest, RoomVersion11DropsCreatorAndOverwritesRoomVersion) {
  std::vector<EventDraft> plan =
      Plan(R"({"creation_content":{"creator":"@x:y","room_version":"1","type":"m.space"}})");
  EXPECT_EQ(plan[0].content, Json(R"({"room_version":"11","type":"m.space"})"));
}

TEST(PlanRoomCreationTest, InitialStateOverridesPresetEvents) {
  std::vector<EventDraft> plan = Plan(R"({"preset":"public_chat","initial_state":[
      {"type":"m.room.join_rules","content":{"join_rule":"knock"}},
      {"type":"m.room.guest_access","state_key":"","content":{"guest_access":"can_join"}}]})");
  std::vector<std::string> types;
  for (const EventDraft& d : plan) types.push_back(d.type);
  EXPECT_EQ(types, (std::vector<std::string>{"m.room.create", "m.room.member",
                                             "m.room.power_levels", "m.room.history_visibility",
                                             "m.room.join_rules", "m.room.guest_access"}));
  EXPECT_EQ(plan[4].content, Json(R"({"join_rule":"knock"})"));
  EXPECT_EQ(plan[5].content, Json(R"({"guest_access":"can_join"})"));
}

TEST(PlanRoomCreationTest, NameAndTopicOverrideInitialState) {
  std::vector<EventDraft> plan = Plan(R"({"name":"Mine","topic":"T","initial_state":[
      {"type":"m.room.name","content":{"name":"Theirs"}},
      {"type":"m.room.topic","content":{"topic":"Theirs"}},
      {"type":"m.room.name","state_key":"other","content":{"name":"Kept"}}]})");
  ASSERT_EQ(plan.size(), 9u);
  EXPECT_EQ(plan[6].state_key, "other");
  EXPECT_EQ(plan[7].content, Json(R"({"name":"Mine"})"));
  EXPECT_EQ(plan[8].type, "m.room.topic");
  EXPECT_EQ(plan[8].content.at("topic"), "T");
}

TEST(PlanRoomCreationTest, PowerLevelOverrideIsMergedKeyByKey) {
  std::vector<EventDraft> plan = Plan(R"({"power_level_content_override":{"events_default":10,
      "users":{"@creator:example.org":100,"@alice:example.org":50}}})");
  boost::json::object expected = Json(DefaultLevels(0));
  expected["events_default"] = 10;
  expected["users"] = Json(R"({"@creator:example.org":100,"@alice:example.org":50})");
  EXPECT_EQ(plan[2].content, expected);
}

TEST(PlanRoomCreationTest, InitialStatePowerLevelsReplaceTheDefaultsAtStepThree) {
  std::vector<EventDraft> plan = Plan(R"({"initial_state":[{"type":"m.room.power_levels",
      "content":{"users":{"@creator:example.org":100}}}],
      "power_level_content_override":{"kick":0}})");
  ASSERT_EQ(plan.size(), 6u) << "not sent again with initial_state";
  EXPECT_EQ(plan[2].content, Json(R"({"users":{"@creator:example.org":100},"kick":0})"));
}

TEST(PlanRoomCreationTest, OverrideThatStripsTheCreatorIsInvalidRoomState) {
  Result<std::vector<EventDraft>> plan =
      PlanRoomCreation(Parse(R"({"power_level_content_override":{"users":{}}})"), kCreator);
  EXPECT_EQ(plan.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(plan.status().message().find("M_INVALID_ROOM_STATE"), std::string::npos);
}

TEST(PlanRoomCreationTest, NonIntegerOverrideIsBadJson) {
  Result<std::vector<EventDraft>> plan =
      PlanRoomCreation(Parse(R"({"power_level_content_override":{"ban":50.5}})"), kCreator);
  EXPECT_EQ(plan.status().code(), StatusCode::kBadJson);
}

TEST(PlanRoomCreationTest, InitialStateForAnotherUserIsInvalidRoomState) {
  Result<std::vector<EventDraft>> plan = PlanRoomCreation(
      Parse(R"({"initial_state":[{"type":"m.x","state_key":"@alice:example.org","content":{}}]})"),
      kCreator);
  EXPECT_EQ(plan.status().code(), StatusCode::kInvalidArgument);
}

TEST(PlanRoomCreationTest, InvalidCreatorIsInvalidArgument) {
  EXPECT_EQ(PlanRoomCreation(CreateRoomRequest{}, "creator").status().code(),
            StatusCode::kInvalidArgument);
}

// ---------------------------------------------------------------------------
// Every plan passes the authorization rules when applied in order.

TEST(PlanRoomCreationTest, EveryPresetPlanPassesAuthorizeInOrder) {
  for (std::string_view body :
       {R"({})", R"({"visibility":"public"})",
        R"({"preset":"trusted_private_chat","invite":["@alice:example.org"],"is_direct":true})",
        R"({"preset":"public_chat","name":"n","topic":"t","room_alias_name":"a",
            "invite":["@alice:example.org","@bob:other.org"],"room_version":"10",
            "initial_state":[{"type":"m.room.encryption","content":{"algorithm":"x"}},
                             {"type":"m.room.join_rules","content":{"join_rule":"knock"}}]})",
        R"({"power_level_content_override":{"invite":100,"events_default":100}})"}) {
    EXPECT_TRUE(ReplayThroughAuthorize(Plan(body)).ok()) << body;
  }
}

RC_GTEST_PROP(PlanRoomCreationPropertyTest, RandomRequestsPlanOnlyAuthorizedEvents, ()) {
  CreateRoomRequest req;
  req.preset = *rc::gen::elementOf(
      std::vector<std::string>{"private_chat", "trusted_private_chat", "public_chat"});
  req.room_version = *rc::gen::element(event::RoomVersion::kV10, event::RoomVersion::kV11);
  req.is_direct = *rc::gen::arbitrary<bool>();
  if (*rc::gen::arbitrary<bool>()) req.name = "name";
  if (*rc::gen::arbitrary<bool>()) req.topic = "topic";
  if (*rc::gen::arbitrary<bool>()) req.room_alias_name = "alias";
  req.invite = *rc::gen::container<std::vector<std::string>>(rc::gen::elementOf(
      std::vector<std::string>{std::string(kAlice), std::string(kBob), std::string(kCreator)}));
  if (*rc::gen::arbitrary<bool>()) {
    req.initial_state.push_back({"m.room.join_rules", "", {{"join_rule", "public"}}, ""});
  }
  Result<std::vector<EventDraft>> plan = PlanRoomCreation(req, kCreator);
  RC_ASSERT(plan.ok());
  Status replay = ReplayThroughAuthorize(*plan);
  RC_ASSERT(replay.ok());
}

}  // namespace
}  // namespace nebu::rooms
