// Authorization rules (room version 11) for events created on this server.
// Method: hand-written tables of membership transitions and level checks with the
// expected verdict; an exhaustive sweep and random membership sequences compared
// with a small reference model of the membership rules; properties over random
// power-levels changes.
#include "engine/rooms/auth_rules.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <array>
#include <map>
#include <string>
#include <vector>

#include "tests/engine/rooms/rooms_testing.h"

namespace nebu::rooms {
namespace {

using testing::Allowed;
using testing::Json;
using testing::kCreator;
using testing::kRoomId;
using testing::kSender;
using testing::kTarget;
using testing::MemberPdu;
using testing::Pdu;
using testing::RoomBuilder;

// Levels of the membership tables: invite 10, kick 50, ban 60 (all distinct).
constexpr int64_t kInviteLevel = 10;
constexpr int64_t kKickLevel = 50;
constexpr int64_t kBanLevel = 60;

boost::json::object TableLevels(int64_t sender_level, int64_t target_level) {
  return {{"users", {{kCreator, 100}, {kSender, sender_level}, {kTarget, target_level}}},
          {"invite", kInviteLevel},
          {"kick", kKickLevel},
          {"ban", kBanLevel}};
}

Membership M(std::string_view name) {
  return name == "none" ? Membership::kNone : ParseMembership(name).value();
}

// The room of a membership case: the sender and target with their memberships.
RoomState CaseRoom(std::string_view rule, Membership sender_from, Membership target_from,
                   int64_t sender_level, int64_t target_level, bool self) {
  RoomBuilder room;
  room.JoinRule(rule).PowerLevels(TableLevels(sender_level, self ? sender_level : target_level));
  if (sender_from != Membership::kNone) room.Member(kSender, MembershipName(sender_from));
  if (!self && target_from != Membership::kNone) room.Member(kTarget, MembershipName(target_from));
  return room.state();
}

// ---------------------------------------------------------------------------
// Membership tables.

struct SelfCase {
  std::string_view rule, from, to;
  bool allowed;
};

// A user changing its own membership (sender = state_key), at level 0.
constexpr SelfCase kSelfCases[] = {
    {"public", "none", "join", true},      {"public", "invite", "join", true},
    {"public", "join", "join", true},      {"public", "leave", "join", true},
    {"public", "ban", "join", false},      {"public", "knock", "join", true},
    {"invite", "none", "join", false},     {"invite", "invite", "join", true},
    {"invite", "join", "join", true},      {"invite", "leave", "join", false},
    {"invite", "ban", "join", false},      {"invite", "knock", "join", false},
    {"knock", "none", "join", false},      {"knock", "invite", "join", true},
    {"knock", "join", "join", true},       {"knock", "leave", "join", false},
    {"knock", "ban", "join", false},       {"knock", "knock", "join", false},
    {"public", "none", "leave", false},    {"public", "invite", "leave", true},
    {"public", "join", "leave", true},     {"public", "leave", "leave", false},
    {"public", "ban", "leave", false},     {"knock", "knock", "leave", true},
    {"invite", "invite", "leave", true},   {"invite", "join", "leave", true},
    {"knock", "none", "knock", true},      {"knock", "leave", "knock", true},
    {"knock", "knock", "knock", true},     {"knock", "invite", "knock", false},
    {"knock", "join", "knock", false},     {"knock", "ban", "knock", false},
    {"public", "none", "knock", false},    {"invite", "none", "knock", false},
    {"invite", "leave", "knock", false},   {"public", "join", "invite", false},
    {"public", "invite", "invite", false}, {"invite", "none", "invite", false},
    {"public", "join", "ban", false},      {"invite", "join", "ban", false},
};

TEST(MembershipTableTest, OwnMembershipChangesFollowTheTable) {
  for (const SelfCase& c : kSelfCases) {
    SCOPED_TRACE(std::string(c.rule) + ": " + std::string(c.from) + " -> " + std::string(c.to));
    RoomState state = CaseRoom(c.rule, M(c.from), M(c.from), 0, 0, true);
    EXPECT_EQ(Allowed(MemberPdu(kSender, kSender, c.to), state), c.allowed);
  }
}

TEST(MembershipTableTest, KnockRestrictedAllowsKnocksLikeKnock) {
  RoomState state = CaseRoom("knock_restricted", Membership::kNone, {}, 0, 0, true);
  EXPECT_TRUE(Allowed(MemberPdu(kSender, kSender, "knock"), state));
}

struct OtherCase {
  std::string_view sender_from, target_from, to;
  int64_t sender_level, target_level;
  bool allowed;
};

// The sender changing the target's membership (invite, kick, unban, ban), under
// invite 10, kick 50, ban 60. Checked under every join rule: they do not matter.
constexpr OtherCase kOtherCases[] = {
    // invite
    {"join", "none", "invite", 10, 0, true},
    {"join", "leave", "invite", 10, 0, true},
    {"join", "knock", "invite", 10, 0, true},
    {"join", "invite", "invite", 10, 0, true},
    {"join", "join", "invite", 100, 0, false},
    {"join", "ban", "invite", 100, 0, false},
    {"join", "none", "invite", 9, 0, false},
    {"join", "none", "invite", 10, 100, true},
    {"leave", "none", "invite", 100, 0, false},
    {"invite", "none", "invite", 100, 0, false},
    {"none", "none", "invite", 100, 0, false},
    {"knock", "none", "invite", 100, 0, false},
    // kick (leave on behalf of another user)
    {"join", "join", "leave", 50, 0, true},
    {"join", "join", "leave", 50, 49, true},
    {"join", "join", "leave", 50, 50, false},
    {"join", "join", "leave", 50, 100, false},
    {"join", "join", "leave", 49, 0, false},
    {"join", "join", "leave", 100, 50, true},
    {"join", "invite", "leave", 50, 0, true},
    {"join", "knock", "leave", 50, 0, true},
    {"join", "none", "leave", 50, 0, true},
    {"join", "leave", "leave", 50, 0, true},
    {"leave", "join", "leave", 100, 0, false},
    {"invite", "join", "leave", 100, 0, false},
    // unban (leave of a banned user): needs ban 60 as well as kick
    {"join", "ban", "leave", 50, 0, false},
    {"join", "ban", "leave", 59, 0, false},
    {"join", "ban", "leave", 60, 0, true},
    {"join", "ban", "leave", 60, 60, false},
    {"join", "ban", "leave", 100, 60, true},
    // ban
    {"join", "join", "ban", 60, 0, true},
    {"join", "join", "ban", 59, 0, false},
    {"join", "join", "ban", 60, 60, false},
    {"join", "join", "ban", 100, 60, true},
    {"join", "none", "ban", 60, 0, true},
    {"join", "ban", "ban", 60, 0, true},
    {"join", "leave", "ban", 60, 0, true},
    {"join", "invite", "ban", 60, 0, true},
    {"join", "knock", "ban", 60, 0, true},
    {"knock", "join", "ban", 100, 0, false},
    {"leave", "join", "ban", 100, 0, false},
    // joining or knocking on behalf of someone else
    {"join", "invite", "join", 100, 0, false},
    {"join", "none", "join", 100, 0, false},
    {"join", "none", "knock", 100, 0, false},
};

TEST(MembershipTableTest, MembershipChangesOfOthersFollowTheTable) {
  for (std::string_view rule : {"public", "invite", "knock"}) {
    for (const OtherCase& c : kOtherCases) {
      SCOPED_TRACE(std::string(rule) + ": sender " + std::string(c.sender_from) + "@" +
                   std::to_string(c.sender_level) + " sets target " + std::string(c.target_from) +
                   "@" + std::to_string(c.target_level) + " -> " + std::string(c.to));
      RoomState state =
          CaseRoom(rule, M(c.sender_from), M(c.target_from), c.sender_level, c.target_level, false);
      EXPECT_EQ(Allowed(MemberPdu(kSender, kTarget, c.to), state), c.allowed);
    }
  }
}

// ---------------------------------------------------------------------------
// A reference model of the membership rules, written as a plain decision per
// target membership, and compared with Authorize.

struct ModelLevels {
  int64_t invite, kick, ban;
};

bool ModelAllows(std::string_view rule, Membership sender_from, Membership target_from,
                 Membership to, bool self, int64_t sender_level, int64_t target_level,
                 const ModelLevels& l) {
  const bool joined = sender_from == Membership::kJoin;
  const bool invited_or_joined = sender_from == Membership::kInvite || joined;
  const bool knock_rule = rule == "knock" || rule == "knock_restricted";
  switch (to) {
    case Membership::kJoin:
      if (!self || sender_from == Membership::kBan) return false;
      return rule == "public" || invited_or_joined;
    case Membership::kInvite:
      return joined && target_from != Membership::kJoin && target_from != Membership::kBan &&
             sender_level >= l.invite;
    case Membership::kLeave:
      if (self) return invited_or_joined || sender_from == Membership::kKnock;
      if (target_from == Membership::kBan && sender_level < l.ban) return false;
      return joined && sender_level >= l.kick && target_level < sender_level;
    case Membership::kBan:
      return joined && sender_level >= l.ban && target_level < sender_level;
    case Membership::kKnock:
      return self && knock_rule && sender_from != Membership::kBan && !invited_or_joined;
    case Membership::kNone:
      break;
  }
  return false;
}

constexpr std::array<Membership, 6> kAllFrom = {Membership::kNone, Membership::kInvite,
                                                Membership::kJoin, Membership::kLeave,
                                                Membership::kBan,  Membership::kKnock};
constexpr std::array<Membership, 5> kAllTo = {Membership::kInvite, Membership::kJoin,
                                              Membership::kLeave, Membership::kBan,
                                              Membership::kKnock};
constexpr std::array<std::string_view, 5> kAllRules = {"public", "invite", "knock", "restricted",
                                                       "knock_restricted"};

TEST(MembershipModelTest, EveryTransitionMatchesTheReferenceModel) {
  const std::array<int64_t, 5> levels = {0, 10, 50, 60, 100};
  const ModelLevels model_levels{kInviteLevel, kKickLevel, kBanLevel};
  int checked = 0, allowed = 0;
  for (std::string_view rule : kAllRules) {
    for (Membership sender_from : kAllFrom) {
      for (Membership target_from : kAllFrom) {
        for (bool self : {true, false}) {
          if (self && target_from != sender_from) continue;
          for (int64_t sl : levels) {
            for (int64_t tl : levels) {
              if (self && tl != sl) continue;
              RoomState state = CaseRoom(rule, sender_from, target_from, sl, tl, self);
              for (Membership to : kAllTo) {
                bool expected =
                    ModelAllows(rule, sender_from, target_from, to, self, sl, tl, model_levels);
                Status s = Authorize(
                    MemberPdu(kSender, self ? kSender : kTarget, MembershipName(to)), state);
                ASSERT_EQ(s.ok(), expected)
                    << rule << " self=" << self << " " << MembershipName(sender_from) << "@" << sl
                    << " target " << MembershipName(target_from) << "@" << tl << " -> "
                    << MembershipName(to) << ": " << s.ToString();
                ++checked;
                allowed += s.ok() ? 1 : 0;
              }
            }
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 10000);
  EXPECT_GT(allowed, 1000) << "both verdicts are exercised";
}

// Users of the random sequences: the creator (100), a moderator (50), two users.
constexpr std::array<std::string_view, 4> kSequenceUsers = {
    kCreator, "@mod:example.org", "@alice:example.org", "@bob:example.org"};
constexpr std::array<int64_t, 4> kSequenceLevels = {100, 50, 0, 0};

RC_GTEST_PROP(MembershipModelTest, RandomMembershipSequencesMatchTheReferenceModel, ()) {
  const std::string_view rule = *rc::gen::elementOf(kAllRules);
  RoomBuilder room;
  room.JoinRule(rule).PowerLevels(
      {{"users", {{kCreator, 100}, {"@mod:example.org", 50}}}, {"kick", 50}, {"ban", 50}});
  RoomState state = room.state();
  std::map<std::string_view, Membership> model;
  for (std::string_view u : kSequenceUsers) model[u] = Membership::kNone;
  model[kCreator] = Membership::kJoin;
  const auto steps = *rc::gen::container<std::vector<std::tuple<int, int, int>>>(
      rc::gen::tuple(rc::gen::inRange(0, 4), rc::gen::inRange(0, 4), rc::gen::inRange(0, 5)));
  for (const auto& [s, t, m] : steps) {
    std::string_view sender = kSequenceUsers[s], target = kSequenceUsers[t];
    Membership to = kAllTo[m];
    bool expected = ModelAllows(rule, model[sender], model[target], to, s == t, kSequenceLevels[s],
                                kSequenceLevels[t], {0, 50, 50});
    boost::json::object event = MemberPdu(sender, target, MembershipName(to));
    Status status = Authorize(event, state);
    RC_ASSERT(status.ok() == expected);
    if (status.ok()) {
      model[target] = to;
      state.Set("m.room.member", std::string(target), std::move(event));
    }
  }
}

// ---------------------------------------------------------------------------
// Membership details the tables do not show.

TEST(MembershipTest, CreatorJoinsRightAfterCreate) {
  RoomState state;
  boost::json::object create = Pdu(kCreator, "m.room.create", "", {{"room_version", "11"}});
  create["prev_events"] = boost::json::array{};
  create["event_id"] = "$create";
  state.Set("m.room.create", "", create);
  boost::json::object join = MemberPdu(kCreator, kCreator, "join");
  join["prev_events"] = boost::json::array{"$create"};
  EXPECT_TRUE(Authorize(join, state).ok()) << "join rule is invite by default, still allowed";
  join["prev_events"] = boost::json::array{"$other"};
  EXPECT_EQ(Authorize(join, state).code(), StatusCode::kForbidden);
  join["prev_events"] = boost::json::array{"$create", "$other"};
  EXPECT_EQ(Authorize(join, state).code(), StatusCode::kForbidden);
  EXPECT_EQ(Authorize(MemberPdu("@x:example.org", "@x:example.org", "join"), state).code(),
            StatusCode::kForbidden);
}

TEST(MembershipTest, ThirdPartyInvitesAreRefusedAsNotSupported) {
  RoomState state = CaseRoom("invite", Membership::kJoin, Membership::kNone, 100, 0, false);
  boost::json::object invite =
      Pdu(kSender, "m.room.member", kTarget, Json(R"({"membership":"invite","third_party_invite":
                                       {"signed":{"mxid":"@target:example.org","token":"t"}}})"));
  Status s = Authorize(invite, state);
  EXPECT_EQ(s.code(), StatusCode::kForbidden);
  EXPECT_NE(s.message().find("not supported"), std::string::npos) << s.message();
}

TEST(MembershipTest, PrivateJoinRuleAllowsNoJoins) {
  RoomState state = CaseRoom("private", Membership::kNone, {}, 0, 0, true);
  EXPECT_EQ(Authorize(MemberPdu(kSender, kSender, "join"), state).code(), StatusCode::kForbidden);
}

TEST(MembershipTest, MalformedMemberEventsAreBadJson) {
  RoomState state = CaseRoom("public", Membership::kJoin, {}, 0, 0, true);
  EXPECT_EQ(Authorize(Pdu(kSender, "m.room.member", std::nullopt, {{"membership", "join"}}), state)
                .code(),
            StatusCode::kBadJson);
  EXPECT_EQ(Authorize(Pdu(kSender, "m.room.member", kSender, {}), state).code(),
            StatusCode::kBadJson);
  EXPECT_EQ(Authorize(MemberPdu(kSender, kSender, "wander"), state).code(), StatusCode::kBadJson);
  EXPECT_EQ(Authorize(MemberPdu(kSender, "not-a-user", "join"), state).code(),
            StatusCode::kBadJson);
}

TEST(EventShapeTest, MissingSenderTypeOrContentIsBadJson) {
  RoomState state = RoomBuilder().state();
  boost::json::object event = Pdu(kCreator, "m.room.message", std::nullopt, {{"body", "hi"}});
  ASSERT_TRUE(Authorize(event, state).ok());
  for (std::string_view key : {"sender", "type", "content"}) {
    boost::json::object broken = event;
    broken.erase(key);
    EXPECT_EQ(Authorize(broken, state).code(), StatusCode::kBadJson) << key;
  }
  boost::json::object broken = event;
  broken["content"] = "text";
  EXPECT_EQ(Authorize(broken, state).code(), StatusCode::kBadJson);
  broken = event;
  broken["state_key"] = 3;
  EXPECT_EQ(Authorize(broken, state).code(), StatusCode::kBadJson);
  broken = event;
  broken["sender"] = "creator";
  EXPECT_EQ(Authorize(broken, state).code(), StatusCode::kBadJson);
}

// ---------------------------------------------------------------------------
// m.room.create and the create event's context.

boost::json::object CreatePdu(boost::json::object content) {
  boost::json::object create = Pdu(kCreator, "m.room.create", "", std::move(content));
  create["prev_events"] = boost::json::array{};
  return create;
}

TEST(CreateTest, CreateIsAllowedInAnEmptyRoom) {
  EXPECT_TRUE(Authorize(CreatePdu({{"room_version", "11"}}), RoomState()).ok());
}

TEST(CreateTest, CreateWithPrevEventsIsRefused) {
  boost::json::object create = CreatePdu({{"room_version", "11"}});
  create["prev_events"] = boost::json::array{"$x"};
  EXPECT_EQ(Authorize(create, RoomState()).code(), StatusCode::kForbidden);
}

TEST(CreateTest, RoomIdDomainMustMatchSenderDomain) {
  boost::json::object create = CreatePdu({{"room_version", "11"}});
  create["room_id"] = "!room:elsewhere.org";
  EXPECT_EQ(Authorize(create, RoomState()).code(), StatusCode::kForbidden);
}

TEST(CreateTest, UnknownOrMissingRoomVersionIsRefused) {
  EXPECT_EQ(Authorize(CreatePdu({{"room_version", "9"}}), RoomState()).code(),
            StatusCode::kForbidden);
  EXPECT_EQ(Authorize(CreatePdu({}), RoomState()).code(), StatusCode::kForbidden);
}

TEST(CreateTest, RoomVersion10NeedsCreatorInContent) {
  EXPECT_EQ(Authorize(CreatePdu({{"room_version", "10"}}), RoomState()).code(),
            StatusCode::kForbidden);
  EXPECT_TRUE(
      Authorize(CreatePdu({{"room_version", "10"}, {"creator", kCreator}}), RoomState()).ok());
}

TEST(CreateTest, SecondCreateIsRefused) {
  EXPECT_EQ(Authorize(CreatePdu({{"room_version", "11"}}), RoomBuilder().state()).code(),
            StatusCode::kForbidden);
}

TEST(CreateTest, EventsNeedACreateEventInTheState) {
  RoomState state;
  state.Set("m.room.member", std::string(kCreator), MemberPdu(kCreator, kCreator, "join"));
  EXPECT_EQ(Authorize(Pdu(kCreator, "m.room.message", std::nullopt, {}), state).code(),
            StatusCode::kForbidden);
}

TEST(CreateTest, EventsOfAnotherRoomAreRefused) {
  boost::json::object event = Pdu(kCreator, "m.room.message", std::nullopt, {});
  event["room_id"] = "!other:example.org";
  EXPECT_EQ(Authorize(event, RoomBuilder().state()).code(), StatusCode::kForbidden);
}

TEST(CreateTest, NonFederatingRoomRefusesSendersFromOtherServers) {
  RoomBuilder room;
  boost::json::object create = CreatePdu({{"room_version", "11"}, {"m.federate", false}});
  room.Put(create).JoinRule("public");
  EXPECT_EQ(Authorize(MemberPdu("@a:other.org", "@a:other.org", "join"), room.state()).code(),
            StatusCode::kForbidden);
  EXPECT_TRUE(Authorize(MemberPdu("@a:example.org", "@a:example.org", "join"), room.state()).ok());
}

// ---------------------------------------------------------------------------
// Messages and state events by level.

// A room where kSender is joined at `sender_level`, with the given levels.
RoomState LevelRoom(int64_t sender_level, boost::json::object extra = {}) {
  boost::json::object levels{{"users", {{kCreator, 100}, {kSender, sender_level}}}};
  for (const auto& kv : extra) levels[kv.key()] = kv.value();
  RoomBuilder room;
  room.PowerLevels(std::move(levels)).Member(kSender, "join");
  return room.state();
}

TEST(SendTest, MessagesNeedEventsDefault) {
  boost::json::object msg = Pdu(kSender, "m.room.message", std::nullopt, {{"body", "hi"}});
  EXPECT_TRUE(Allowed(msg, LevelRoom(0)));
  EXPECT_FALSE(Allowed(msg, LevelRoom(9, {{"events_default", 10}})));
  EXPECT_TRUE(Allowed(msg, LevelRoom(10, {{"events_default", 10}})));
}

TEST(SendTest, EventsMapOverridesTheDefaults) {
  boost::json::object msg = Pdu(kSender, "m.room.message", std::nullopt, {});
  RoomState state = LevelRoom(20, {{"events", {{"m.room.message", 30}, {"m.custom.state", 0}}}});
  EXPECT_FALSE(Allowed(msg, state));
  EXPECT_TRUE(Allowed(Pdu(kSender, "m.custom.state", "", {}), state));
  EXPECT_FALSE(Allowed(Pdu(kSender, "m.other.state", "", {}), state)) << "state_default 50";
}

TEST(SendTest, StateEventsNeedStateDefault) {
  boost::json::object topic = Pdu(kSender, "m.room.topic", "", {{"topic", "t"}});
  EXPECT_FALSE(Allowed(topic, LevelRoom(49)));
  EXPECT_TRUE(Allowed(topic, LevelRoom(50)));
  EXPECT_TRUE(Allowed(topic, LevelRoom(0, {{"state_default", 0}})));
}

TEST(SendTest, NonMembersCannotSend) {
  boost::json::object msg = Pdu(kSender, "m.room.message", std::nullopt, {});
  for (std::string_view membership : {"invite", "leave", "ban", "knock"}) {
    RoomBuilder room;
    room.Member(kSender, membership);
    EXPECT_FALSE(Allowed(msg, room.state())) << membership;
  }
  EXPECT_FALSE(Allowed(msg, RoomBuilder().state())) << "never a member";
}

TEST(SendTest, WithoutPowerLevelsOnlyTheCreatorMaySendState) {
  RoomBuilder room;
  room.Member(kSender, "join");
  EXPECT_TRUE(Allowed(Pdu(kCreator, "m.room.name", "", {{"name", "n"}}), room.state()));
  EXPECT_FALSE(Allowed(Pdu(kSender, "m.room.name", "", {{"name", "n"}}), room.state()));
  EXPECT_TRUE(Allowed(Pdu(kSender, "m.room.message", std::nullopt, {}), room.state()));
}

TEST(SendTest, StateKeyStartingWithAtMustBeTheSender) {
  RoomState state = LevelRoom(100);
  EXPECT_FALSE(Allowed(Pdu(kSender, "m.custom", kCreator, {}), state));
  EXPECT_TRUE(Allowed(Pdu(kSender, "m.custom", kSender, {}), state));
  EXPECT_TRUE(Allowed(Pdu(kSender, "m.custom", "", {}), state));
  EXPECT_TRUE(Allowed(Pdu(kSender, "m.custom", "x@y", {}), state));
  EXPECT_FALSE(Allowed(Pdu(kSender, "m.custom", "@", {}), state));
}

TEST(SendTest, ThirdPartyInviteEventNeedsTheInviteLevel) {
  boost::json::object tpi = Pdu(kSender, "m.room.third_party_invite", "token", {});
  EXPECT_FALSE(Allowed(tpi, LevelRoom(9, {{"invite", 10}, {"state_default", 0}})));
  EXPECT_TRUE(Allowed(tpi, LevelRoom(10, {{"invite", 10}, {"state_default", 100}})));
}

TEST(SendTest, RedactionEventsNeedOnlyTheirEventLevel) {
  boost::json::object redaction =
      Pdu(kSender, "m.room.redaction", std::nullopt, {{"redacts", "$e"}});
  EXPECT_TRUE(Allowed(redaction, LevelRoom(0, {{"redact", 100}})));
  EXPECT_FALSE(Allowed(redaction, LevelRoom(50, {{"events", {{"m.room.redaction", 51}}}})));
}

// ---------------------------------------------------------------------------
// Redaction rights.

TEST(RedactionTest, SenderMayRedactOwnEventsAtAnyLevel) {
  EXPECT_TRUE(RedactionAllowed(kSender, kSender, LevelRoom(0, {{"redact", 100}})));
}

TEST(RedactionTest, RedactingOthersNeedsTheRedactLevel) {
  EXPECT_FALSE(RedactionAllowed(kSender, kCreator, LevelRoom(49)));
  EXPECT_TRUE(RedactionAllowed(kSender, kCreator, LevelRoom(50)));
  EXPECT_TRUE(RedactionAllowed(kSender, kCreator, LevelRoom(10, {{"redact", 10}})));
  EXPECT_TRUE(RedactionAllowed(kCreator, kSender, RoomBuilder().state()))
      << "no power levels: the creator has 100";
}

// ---------------------------------------------------------------------------
// Auth events selection.

std::vector<RoomState::Key> Keys(std::initializer_list<std::pair<std::string, std::string>> l) {
  return {l.begin(), l.end()};
}

TEST(AuthEventKeysTest, CreateHasNoAuthEvents) {
  EXPECT_TRUE(AuthEventKeys(CreatePdu({{"room_version", "11"}})).empty());
}

TEST(AuthEventKeysTest, MessageNeedsCreatePowerLevelsAndSenderMember) {
  EXPECT_EQ(AuthEventKeys(Pdu(kSender, "m.room.message", std::nullopt, {})),
            Keys({{"m.room.create", ""},
                  {"m.room.power_levels", ""},
                  {"m.room.member", std::string(kSender)}}));
}

TEST(AuthEventKeysTest, JoinAddsJoinRulesAndNoDuplicateMember) {
  EXPECT_EQ(AuthEventKeys(MemberPdu(kSender, kSender, "join")),
            Keys({{"m.room.create", ""},
                  {"m.room.power_levels", ""},
                  {"m.room.member", std::string(kSender)},
                  {"m.room.join_rules", ""}}));
}

TEST(AuthEventKeysTest, InviteAddsTargetAndJoinRulesButLeaveAndBanDoNot) {
  EXPECT_EQ(AuthEventKeys(MemberPdu(kSender, kTarget, "invite")),
            Keys({{"m.room.create", ""},
                  {"m.room.power_levels", ""},
                  {"m.room.member", std::string(kSender)},
                  {"m.room.member", std::string(kTarget)},
                  {"m.room.join_rules", ""}}));
  for (std::string_view m : {"leave", "ban"}) {
    EXPECT_EQ(AuthEventKeys(MemberPdu(kSender, kTarget, m)),
              Keys({{"m.room.create", ""},
                    {"m.room.power_levels", ""},
                    {"m.room.member", std::string(kSender)},
                    {"m.room.member", std::string(kTarget)}}));
  }
}

TEST(AuthEventKeysTest, ThirdPartyInviteAddsItsTokenEvent) {
  boost::json::object invite =
      Pdu(kSender, "m.room.member", kTarget,
          Json(R"({"membership":"invite","third_party_invite":{"signed":{"token":"abc"}}})"));
  std::vector<RoomState::Key> keys = AuthEventKeys(invite);
  ASSERT_FALSE(keys.empty());
  EXPECT_EQ(keys.back(), RoomState::Key("m.room.third_party_invite", "abc"));
}

TEST(AuthEventKeysTest, AuthorizeNeedsOnlyTheSelectedState) {
  // Load only the selected keys of a full room: the verdicts stay the same.
  RoomBuilder full;
  full.JoinRule("public").PowerLevels(TableLevels(60, 0)).Member(kSender, "join");
  full.Member(kTarget, "join").Put(Pdu(kCreator, "m.room.name", "", {{"name", "n"}}));
  for (const boost::json::object& event :
       {MemberPdu(kSender, kTarget, "ban"),
        MemberPdu("@new:example.org", "@new:example.org", "join"),
        Pdu(kSender, "m.room.topic", "", {}), MemberPdu(kSender, kTarget, "leave")}) {
    RoomState partial;
    for (const auto& [type, key] : AuthEventKeys(event)) {
      if (const boost::json::object* e = full.state().Get(type, key)) partial.Set(type, key, *e);
    }
    EXPECT_EQ(Authorize(event, partial), Authorize(event, full.state()));
  }
}

}  // namespace
}  // namespace nebu::rooms
