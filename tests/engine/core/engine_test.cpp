// Goal: the engine's write path (create room, send, txn dedup, rejection) leaves a
// dense per-room log and matching indexes, and survives a reopen.
// Method: a real Engine on a temp dir; concurrency from plain threads.
#include "engine/core/engine.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <optional>
#include <set>
#include <thread>
#include <tuple>
#include <vector>

#include "engine/accounts/accounts.h"
#include "engine/core/room_reads.h"
#include "engine/testing/temp_dir.h"
#include "tests/engine/core/core_testing.h"

namespace nebu::core {
namespace {

namespace json = boost::json;

std::unique_ptr<Engine> OpenEngine(const std::string& dir) {
  auto e = Engine::Open({.data_dir = dir, .server_name = "localhost"});
  EXPECT_TRUE(e.ok()) << e.status().ToString();
  return e.ok() ? std::move(e).value() : nullptr;
}

SendEventRequest Message(const std::string& room, const std::string& sender,
                         const std::string& body) {
  SendEventRequest r;
  r.room_id = room;
  r.sender = sender;
  r.type = "m.room.message";
  r.content = json::object{{"msgtype", "m.text"}, {"body", body}};
  return r;
}

std::vector<std::string> LogIds(Engine& e, const std::string& room) {
  std::vector<std::string> ids;
  storage::Sequence expected = 1;
  Status s = e.ScanRoom(room, 1, UINT64_MAX, SIZE_MAX, [&](const storage::EventView& v) {
    EXPECT_EQ(v.sequence, expected++);
    ids.emplace_back(v.event_id);
    return true;
  });
  EXPECT_TRUE(s.ok()) << s.ToString();
  return ids;
}

TEST(EngineTest, CreateRoomWritesTheInitialEventsInOrder) {
  testing::TempDir dir;
  auto e = OpenEngine(dir.path());
  rooms::CreateRoomRequest req;
  req.name = "Lobby";
  auto room = e->CreateRoom(req, kAlice);
  ASSERT_TRUE(room.ok()) << room.status().ToString();
  ASSERT_GE(room->events.size(), 4u);
  auto ids = LogIds(*e, room->room_id);
  ASSERT_EQ(ids.size(), room->events.size());
  auto create = e->GetEvent(ids[0]);
  ASSERT_TRUE(create.ok());
  EXPECT_EQ(create->type, "m.room.create");
  EXPECT_EQ(e->MembershipOf(kAlice, create->room), rooms::Membership::kJoin);
  auto state = e->CurrentState(room->room_id);
  ASSERT_TRUE(state.ok());
  const auto* name = state->Get("m.room.name", "");
  ASSERT_NE(name, nullptr);
  EXPECT_EQ(name->at("content").at("name").as_string(), "Lobby");
}

TEST(EngineTest, SentEventsGetDenseSequencesAndStreamPositions) {
  testing::TempDir dir;
  auto e = OpenEngine(dir.path());
  auto room = e->CreateRoom({}, kAlice);
  ASSERT_TRUE(room.ok());
  StreamPosition before = e->stream_position();
  auto a = e->SendEvent(Message(room->room_id, kAlice, "one"));
  auto b = e->SendEvent(Message(room->room_id, kAlice, "two"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(b->sequence, a->sequence + 1);
  EXPECT_EQ(a->stream_position, before + 1);
  EXPECT_EQ(b->stream_position, before + 2);
  auto got = e->GetEvent(b->event_id);
  ASSERT_TRUE(got.ok());
  auto pdu = json::parse(got->json).as_object();
  EXPECT_EQ(pdu.at("prev_events").as_array().at(0).as_string(), a->event_id);
  EXPECT_EQ(pdu.at("content").at("body").as_string(), "two");
}

TEST(EngineTest, ARepeatedTransactionIdReturnsTheFirstEvent) {
  testing::TempDir dir;
  auto e = OpenEngine(dir.path());
  auto room = e->CreateRoom({}, kAlice);
  ASSERT_TRUE(room.ok());
  auto m = Message(room->room_id, kAlice, "once");
  m.device_id = "DEV";
  m.txn_id = "t1";
  auto first = e->SendEvent(m);
  auto again = e->SendEvent(m);
  ASSERT_TRUE(first.ok() && again.ok());
  EXPECT_EQ(first->event_id, again->event_id);
  EXPECT_TRUE(again->deduplicated);
  m.device_id = "OTHER";
  auto other = e->SendEvent(m);
  ASSERT_TRUE(other.ok());
  EXPECT_NE(other->event_id, first->event_id);
}

TEST(EngineTest, ARejectedEventWritesNothing) {
  testing::TempDir dir;
  auto e = OpenEngine(dir.path());
  auto room = e->CreateRoom({}, kAlice);
  ASSERT_TRUE(room.ok());
  auto before_ids = LogIds(*e, room->room_id);
  StreamPosition before = e->stream_position();
  auto r = e->SendEvent(Message(room->room_id, kBob, "not a member"));
  EXPECT_EQ(r.status().code(), StatusCode::kForbidden);
  auto unknown = e->SendEvent(Message("!nope:localhost", kAlice, "x"));
  EXPECT_EQ(unknown.status().code(), StatusCode::kNotFound);
  auto big = Message(room->room_id, kAlice, std::string(70'000, 'x'));
  EXPECT_EQ(e->SendEvent(big).status().code(), StatusCode::kTooLarge);
  EXPECT_EQ(LogIds(*e, room->room_id), before_ids);
  EXPECT_EQ(e->stream_position(), before);
}

TEST(EngineTest, InviteJoinAndLeaveUpdateTheMembershipIndex) {
  testing::TempDir dir;
  auto e = OpenEngine(dir.path());
  auto room = e->CreateRoom({}, kAlice);
  ASSERT_TRUE(room.ok());
  auto member = [&](const char* sender, const char* target, const char* membership) {
    SendEventRequest r;
    r.room_id = room->room_id;
    r.sender = sender;
    r.type = "m.room.member";
    r.state_key = target;
    r.content = json::object{{"membership", membership}};
    return e->SendEvent(r);
  };
  auto number = e->GetRoom(room->room_id)->number;
  ASSERT_TRUE(member(kAlice, kBob, "invite").ok());
  EXPECT_EQ(e->MembershipOf(kBob, number), rooms::Membership::kInvite);
  ASSERT_TRUE(member(kBob, kBob, "join").ok());
  EXPECT_EQ(e->MembershipOf(kBob, number), rooms::Membership::kJoin);
  ASSERT_TRUE(e->SendEvent(Message(room->room_id, kBob, "hi")).ok());
  ASSERT_TRUE(member(kBob, kBob, "leave").ok());
  EXPECT_EQ(e->MembershipOf(kBob, number), rooms::Membership::kLeave);
  EXPECT_EQ(e->SendEvent(Message(room->room_id, kBob, "gone")).status().code(),
            StatusCode::kForbidden);
  auto rooms_of_bob = e->RoomsOf(kBob);
  ASSERT_TRUE(rooms_of_bob.ok());
  ASSERT_EQ(rooms_of_bob->size(), 1u);
  EXPECT_EQ(rooms_of_bob->front().second, rooms::Membership::kLeave);
}

TEST(EngineTest, ManyConcurrentWritersLeaveDenseGapFreeLogs) {
  testing::TempDir dir;
  auto e = OpenEngine(dir.path());
  std::vector<std::string> rooms;
  for (int i = 0; i < 4; ++i) rooms.push_back(e->CreateRoom({}, kAlice)->room_id);
  constexpr int kThreads = 16, kEach = 100;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::string> acked;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        auto r = e->SendEvent(Message(rooms[(t + i) % rooms.size()], kAlice,
                                      std::to_string(t) + ":" + std::to_string(i)));
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        std::lock_guard lock(mu);
        acked.insert(r->event_id);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(acked.size(), size_t{kThreads * kEach});
  std::set<std::string> logged;
  for (const auto& room : rooms) {
    for (auto& id : LogIds(*e, room)) logged.insert(id);  // LogIds checks density
  }
  for (const auto& id : acked) EXPECT_TRUE(logged.count(id)) << id;
}

TEST(EngineTest, ReopenKeepsEveryEventAndContinuesTheSequence) {
  testing::TempDir dir;
  std::string room_id;
  std::vector<std::string> ids;
  {
    auto e = OpenEngine(dir.path());
    room_id = e->CreateRoom({}, kAlice)->room_id;
    for (int i = 0; i < 10; ++i) ASSERT_TRUE(e->SendEvent(Message(room_id, kAlice, "m")).ok());
    ids = LogIds(*e, room_id);
  }
  auto e = OpenEngine(dir.path());
  EXPECT_EQ(LogIds(*e, room_id), ids);
  auto next = e->SendEvent(Message(room_id, kAlice, "after"));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->sequence, ids.size() + 1);
}

TEST(EngineTest, AccountCommandsGoThroughTheWritePathAndSurviveAReopen) {
  testing::TempDir dir;
  std::string token;
  {
    auto e = OpenEngine(dir.path());
    auto prepared = accounts::PrepareRegistration({.user_id = kBob, .password = "hunter22"},
                                                  e->clock().NowUnixMs());
    ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
    token = *prepared->access_token;
    auto out = e->Submit(Command{CommandKind::kAccount, prepared->payload});
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    // The same registration again is rejected by the state machine.
    auto again = e->Submit(Command{CommandKind::kAccount, prepared->payload});
    EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  }
  auto e = OpenEngine(dir.path());
  auto who = accounts::AuthenticateToken(e->store(), token);
  ASSERT_TRUE(who.ok()) << who.status().ToString();
  EXPECT_EQ(who->user_id, kBob);
  EXPECT_EQ(accounts::AuthenticateToken(e->store(), token + "x").status().code(),
            StatusCode::kUnauthenticated);
}

TEST(EngineTest, TheCreatorsJoinCarriesTheirProfile) {
  testing::TempDir dir;
  auto e = OpenEngine(dir.path());
  auto prepared = accounts::PrepareRegistration(
      {.user_id = kAlice, .displayname = std::string("Alice")}, e->clock().NowUnixMs());
  ASSERT_TRUE(prepared.ok());
  ASSERT_TRUE(e->Submit(Command{CommandKind::kAccount, prepared->payload}).ok());
  auto room = e->CreateRoom({}, kAlice);
  ASSERT_TRUE(room.ok());
  auto state = e->CurrentState(room->room_id);
  ASSERT_TRUE(state.ok());
  const auto* join = state->Get("m.room.member", kAlice);
  ASSERT_NE(join, nullptr);
  EXPECT_EQ(join->at("content").at("displayname").as_string(), "Alice");
}

// Profiles in member events are decided in apply: a command built from a stale view
// (before a profile change it is ordered after) still carries the new profile.
void Register(Engine& e, const char* user_id, const char* displayname) {
  auto prepared = accounts::PrepareRegistration(
      {.user_id = user_id, .displayname = std::string(displayname)}, e.clock().NowUnixMs());
  ASSERT_TRUE(prepared.ok());
  ASSERT_TRUE(e.Submit(Command{CommandKind::kAccount, prepared->payload}).ok());
}

ApplyOutcome SetName(Engine& e, const char* user_id, const char* name,
                     std::optional<int64_t> member_events_ts) {
  auto payload = accounts::EncodeAccountCommand(accounts::SetDisplayNameCommand{
      .user_id = user_id, .displayname = std::string(name), .member_events_ts = member_events_ts});
  if (!payload.ok()) return payload.status();
  return e.Submit(Command{CommandKind::kAccount, *payload});
}

std::string MemberName(Engine& e, const std::string& room_id, const char* user_id) {
  auto state = e.CurrentState(room_id);
  EXPECT_TRUE(state.ok());
  if (!state.ok()) return "";
  const auto* member = state->Get("m.room.member", user_id);
  if (member == nullptr) return "";
  const json::value* name = member->at("content").as_object().if_contains("displayname");
  return name && name->is_string() ? std::string(name->as_string()) : "";
}

TEST(EngineTest, ACreateRoomPlannedBeforeAProfileChangeCarriesTheNewProfile) {
  testing::TempDir dir;
  auto e = OpenEngine(dir.path());
  Register(*e, kAlice, "Old");
  std::string room_id;
  auto planned = e->PlanCreateRoom({}, kAlice, &room_id);  // the proposer's view: "Old"
  ASSERT_TRUE(planned.ok());
  ASSERT_TRUE(SetName(*e, kAlice, "New", std::nullopt).ok());
  ASSERT_TRUE(e->Submit(*planned).ok());
  EXPECT_EQ(MemberName(*e, room_id, kAlice), "New");
}

TEST(EngineTest, AJoinProposedBeforeAProfileChangeCarriesTheNewProfile) {
  testing::TempDir dir;
  auto e = OpenEngine(dir.path());
  Register(*e, kBob, "Old");
  auto room = e->CreateRoom({.preset = "public_chat"}, kAlice);
  ASSERT_TRUE(room.ok()) << room.status().ToString();
  SendEventRequest join;
  join.room_id = room->room_id;
  join.sender = kBob;
  join.type = "m.room.member";
  join.state_key = kBob;
  join.content = json::object{{"membership", "join"}, {"displayname", "Stale"}};
  join.sender_profile = true;
  join.origin_server_ts = e->clock().NowUnixMs();
  auto command = MakeSendEventCommand(join);
  ASSERT_TRUE(command.ok());
  ASSERT_TRUE(SetName(*e, kBob, "New", std::nullopt).ok());
  ASSERT_TRUE(e->Submit(*command).ok());
  EXPECT_EQ(MemberName(*e, room->room_id, kBob), "New");
  // Without the flag (a command of an older log) the content stays as proposed.
  join.sender_profile = false;
  join.content["displayname"] = "Proposed";
  ASSERT_TRUE(e->Submit(*MakeSendEventCommand(join)).ok());
  EXPECT_EQ(MemberName(*e, room->room_id, kBob), "Proposed");
}

TEST(EngineTest, AProfileChangeAppendsTheMemberEventOfEveryJoinedRoomInOneCommand) {
  testing::TempDir dir;
  auto e = OpenEngine(dir.path());
  Register(*e, kAlice, "Old");
  auto first = e->CreateRoom({}, kAlice);
  auto second = e->CreateRoom({}, kAlice);
  auto left = e->CreateRoom({.preset = "public_chat"}, kBob);
  ASSERT_TRUE(first.ok() && second.ok() && left.ok());
  SendEventRequest member;
  member.room_id = left->room_id;
  member.sender = kAlice;
  member.type = "m.room.member";
  member.state_key = kAlice;
  member.content = json::object{{"membership", "join"}};
  ASSERT_TRUE(e->SendEvent(member).ok());
  member.content = json::object{{"membership", "leave"}};
  ASSERT_TRUE(e->SendEvent(member).ok());
  const size_t left_events = LogIds(*e, left->room_id).size();

  auto out = SetName(*e, kAlice, "New", int64_t{1234});
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto events = DecodeAppended(*out);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 2u);  // the two joined rooms, in room-number order
  EXPECT_EQ((*events)[0].room_id, first->room_id);
  EXPECT_EQ((*events)[1].room_id, second->room_id);
  EXPECT_EQ((*events)[1].stream_position, (*events)[0].stream_position + 1);
  EXPECT_EQ(MemberName(*e, first->room_id, kAlice), "New");
  EXPECT_EQ(MemberName(*e, second->room_id, kAlice), "New");
  EXPECT_EQ(LogIds(*e, left->room_id).size(), left_events);  // not joined: untouched
  auto profile = accounts::GetProfile(e->store(), kAlice);
  ASSERT_TRUE(profile.ok());
  EXPECT_EQ(profile->displayname, "New");

  // Without member_events_ts (older logs) only the profile changes.
  const size_t first_events = LogIds(*e, first->room_id).size();
  auto old_style = SetName(*e, kAlice, "Newer", std::nullopt);
  ASSERT_TRUE(old_style.ok());
  EXPECT_EQ(*old_style, "{}");
  EXPECT_EQ(LogIds(*e, first->room_id).size(), first_events);
  // A refused profile change (unknown user) appends nothing.
  EXPECT_FALSE(SetName(*e, "@nobody:localhost", "X", int64_t{1}).ok());
}

// A capped profile change (member_events_rooms_max) appends the member events of its
// first rooms and says where it stopped; refresh_member_events commands go on from
// there with the stored profile until no joined room is left.
TEST(EngineTest, ACappedProfileChangeGoesOnThroughRefreshCommandsUntilEveryRoomHasIt) {
  testing::TempDir dir;
  auto e = OpenEngine(dir.path());
  Register(*e, kAlice, "Old");
  constexpr uint32_t kPerCommand = 3;
  std::vector<std::string> rooms;
  for (int i = 0; i < 7; ++i) {
    auto room = e->CreateRoom({}, kAlice);
    ASSERT_TRUE(room.ok()) << room.status().ToString();
    rooms.push_back(room->room_id);
  }
  auto submit = [&](const accounts::AccountCommand& command) {
    auto payload = accounts::EncodeAccountCommand(command);
    EXPECT_TRUE(payload.ok()) << payload.status().ToString();
    return e->Submit(Command{CommandKind::kAccount, *payload});
  };
  // The events of one outcome, and the room the next command starts after.
  auto read = [](const ApplyOutcome& out) {
    json::object o = json::parse(*out).as_object();
    std::optional<uint64_t> more;
    if (const json::value* m = o.if_contains("more_after_room")) more = m->to_number<uint64_t>();
    return std::pair(o.at("events").as_array().size(), more);
  };
  auto first = submit(accounts::SetDisplayNameCommand{.user_id = kAlice,
                                                      .displayname = std::string("New"),
                                                      .member_events_ts = 1234,
                                                      .member_events_rooms_max = kPerCommand});
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto [events, more] = read(first);
  EXPECT_EQ(events, kPerCommand);
  ASSERT_TRUE(more.has_value());
  EXPECT_EQ(MemberName(*e, rooms[2], kAlice), "New");
  EXPECT_EQ(MemberName(*e, rooms[3], kAlice), "Old");  // not yet
  size_t total = events, commands = 1;
  while (more && commands < rooms.size()) {
    auto next = submit(accounts::RefreshMemberEventsCommand{
        .user_id = kAlice, .after_room = *more, .member_events_ts = 1234, .rooms_max = kPerCommand});
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    std::tie(events, more) = read(next);
    EXPECT_LE(events, kPerCommand);
    total += events;
    ++commands;
  }
  EXPECT_FALSE(more.has_value());
  EXPECT_EQ(total, rooms.size());
  EXPECT_EQ(commands, 3u);  // 3 + 3 + 1
  for (const std::string& room : rooms) EXPECT_EQ(MemberName(*e, room, kAlice), "New") << room;
  // A cap out of range is refused before it is proposed.
  EXPECT_FALSE(accounts::EncodeAccountCommand(
                   accounts::SetDisplayNameCommand{.user_id = kAlice,
                                                   .member_events_ts = 1,
                                                   .member_events_rooms_max = 0})
                   .ok());
  // An unknown user's refresh is refused and appends nothing.
  EXPECT_FALSE(submit(accounts::RefreshMemberEventsCommand{.user_id = "@nobody:localhost",
                                                           .member_events_ts = 1})
                   .ok());
}

TEST(EngineTest, AliasesAreAddedByMembersAndRemovedByTheirCreatorOrAModerator) {
  testing::TempDir dir;
  auto e = OpenEngine(dir.path());
  auto room = e->CreateRoom({.preset = "public_chat", .room_alias_name = "lobby"}, kAlice);
  ASSERT_TRUE(room.ok()) << room.status().ToString();
  auto alias = [&](AliasCommand::Op op, const char* name, const char* sender) {
    return e->Submit(*MakeAliasCommand({op, name, room->room_id, sender})).status().code();
  };
  using Op = AliasCommand::Op;
  EXPECT_EQ(alias(Op::kPut, "#lobby:localhost", kAlice), StatusCode::kAlreadyExists);
  EXPECT_EQ(alias(Op::kPut, "#bobs:localhost", kBob), StatusCode::kForbidden);  // not joined
  SendEventRequest join;
  join.room_id = room->room_id;
  join.sender = kBob;
  join.type = "m.room.member";
  join.state_key = kBob;
  join.content = json::object{{"membership", "join"}};
  ASSERT_TRUE(e->SendEvent(join).ok());
  EXPECT_EQ(alias(Op::kPut, "#bobs:localhost", kBob), StatusCode::kOk);
  auto resolved = ResolveRoomAlias(e->store(), "#bobs:localhost");
  ASSERT_TRUE(resolved.ok() && resolved->has_value());
  EXPECT_EQ(**resolved, room->room_id);
  // Bob (level 0) may not remove Alice's alias; Alice (100) may remove Bob's.
  EXPECT_EQ(alias(Op::kDelete, "#lobby:localhost", kBob), StatusCode::kForbidden);
  EXPECT_EQ(alias(Op::kDelete, "#bobs:localhost", kAlice), StatusCode::kOk);
  EXPECT_EQ(alias(Op::kDelete, "#bobs:localhost", kAlice), StatusCode::kNotFound);
  EXPECT_EQ(alias(Op::kDelete, "#lobby:localhost", kAlice), StatusCode::kOk);
  EXPECT_EQ(alias(Op::kPut, "not-an-alias", kAlice), StatusCode::kInvalidArgument);
}

TEST(EngineTest, OpeningADataDirectoryTwiceFails) {
  testing::TempDir dir;
  auto a = OpenEngine(dir.path());
  auto b = Engine::Open({.data_dir = dir.path()});
  EXPECT_FALSE(b.ok());
}

}  // namespace
}  // namespace nebu::core
