// Goal: holds and purges follow engine/compliance/compliance.h: holds are created,
// found by target and released; a purge turns old messages into tombstones (content and
// search postings gone, event ID, hashes and prev_events kept, so VerifyRoomLog passes),
// keeps state events, newer events and held users' events, is refused while the room is
// held, runs in bounded steps, and two engines applying the same commands end with the
// same state digest.
// Method: real Engines on tmpfs, kPurge commands through commit and apply; a rapidcheck
// property drives random hold/release/purge sequences against an in-memory model.
#include "engine/compliance/compliance.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "engine/core/engine.h"
#include "engine/core/room_applier.h"
#include "engine/core/state_digest.h"
#include "engine/event/canonical_json.h"
#include "engine/search/search_index.h"
#include "engine/testing/temp_dir.h"

namespace nebu::compliance {
namespace {

namespace json = boost::json;

class Node {
 public:
  Node() {
    auto opened = core::Engine::Open({.data_dir = dir_.path(), .server_name = "localhost"});
    NEBU_CHECK(opened.ok(), "engine open");
    engine_ = std::move(opened).value();
  }
  core::Engine& engine() { return *engine_; }

  core::ApplyOutcome Submit(const PurgeCommand& c) {
    Result<std::string> payload = EncodePurgeCommand(c);
    if (!payload.ok()) return payload.status();
    return engine_->Submit({core::CommandKind::kPurge, *payload});
  }
  // Repeats a purge until done; the last outcome (or the first error).
  core::ApplyOutcome Purge(const PurgeEvents& c, int* commands = nullptr) {
    for (int i = 1; i <= 1000; ++i) {
      core::ApplyOutcome outcome = Submit(c);
      if (commands != nullptr) *commands = i;
      if (!outcome.ok()) return outcome;
      auto v = event::ParseJson(*outcome);
      if (v.ok() && v->as_object().at("done").as_bool()) return outcome;
    }
    return Status::Internal("purge never finished");
  }

  // A public room created by `creator` with `member` joined.
  std::string Room(const std::string& creator, const std::string& member) {
    rooms::CreateRoomRequest req;
    req.preset = "public_chat";
    auto room = engine_->CreateRoom(req, creator);
    NEBU_CHECK(room.ok(), "create room");
    core::SendEventRequest join;
    join.room_id = room->room_id;
    join.sender = member;
    join.type = "m.room.member";
    join.state_key = member;
    join.content = json::object{{"membership", "join"}};
    NEBU_CHECK(engine_->SendEvent(join).ok(), "join");
    return room->room_id;
  }
  std::string Message(const std::string& room, const std::string& sender, int64_t ts,
                      const std::string& body = "secret words") {
    core::SendEventRequest r;
    r.room_id = room;
    r.sender = sender;
    r.type = "m.room.message";
    r.content = json::object{{"msgtype", "m.text"}, {"body", body}};
    r.origin_server_ts = ts;
    auto sent = engine_->SendEvent(r);
    NEBU_CHECK(sent.ok(), "send");
    return sent->event_id;
  }
  json::object Pdu(const std::string& event_id) {
    auto e = engine_->GetEvent(event_id);
    NEBU_CHECK(e.ok(), "get event");
    return event::ParseJson(e->json).value().as_object();
  }
  bool Purged(const std::string& event_id) {
    auto purged = IsPurged(engine_->Read(), event_id);
    NEBU_CHECK(purged.ok(), "is purged");
    return *purged;
  }

 private:
  nebu::testing::TempDir dir_{nebu::testing::TempDir::kTmpfs};
  std::unique_ptr<core::Engine> engine_;
};

const std::string kAlice = "@alice:localhost";
const std::string kBob = "@bob:localhost";

HoldCreate NewHold(std::string id, std::string target) {
  return {.hold_id = std::move(id), .target = std::move(target), .reason = "litigation",
          .case_id = "CASE-1", .actor = "@auditor:localhost", .ts = 5};
}
PurgeEvents NewPurge(std::string id, std::string room, std::optional<int64_t> before) {
  return {.purge_id = std::move(id), .room_id = std::move(room), .before_ts = before,
          .actor = "@admin:localhost", .reason = "test", .ts = 9};
}

TEST(ComplianceTest, HoldsAreCreatedFoundAndReleased) {
  Node n;
  ASSERT_TRUE(n.Submit(NewHold("h1", kAlice)).ok());
  EXPECT_EQ(n.Submit(NewHold("h1", kBob)).status().code(), StatusCode::kAlreadyExists);
  auto found = FindHold(n.engine().Read(), kAlice);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->hold_id, "h1");
  EXPECT_EQ((*found)->case_id, "CASE-1");
  EXPECT_EQ((*found)->created_ts, 5);
  EXPECT_FALSE(FindHold(n.engine().Read(), kBob)->has_value());
  // A longer ID with the same start is another target.
  EXPECT_FALSE(FindHold(n.engine().Read(), "@alice:localhost.x")->has_value());

  ASSERT_TRUE(n.Submit(HoldRelease{.hold_id = "h1", .actor = "@a:localhost", .ts = 7}).ok());
  EXPECT_FALSE(FindHold(n.engine().Read(), kAlice)->has_value());
  auto got = GetHold(n.engine().Read(), "h1");
  ASSERT_TRUE(got.ok() && got->has_value());
  EXPECT_EQ((*got)->released_ts, 7);
  EXPECT_EQ((*got)->released_by, "@a:localhost");
  EXPECT_EQ(n.Submit(HoldRelease{.hold_id = "h1", .ts = 8}).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(n.Submit(HoldRelease{.hold_id = "nope", .ts = 8}).status().code(),
            StatusCode::kNotFound);
  std::vector<std::string> ids;
  ASSERT_TRUE(ForEachHold(n.engine().Read(), "", 10, [&](const Hold& h) {
                ids.push_back(h.hold_id);
                return true;
              }).ok());
  EXPECT_EQ(ids, std::vector<std::string>{"h1"});
}

TEST(ComplianceTest, BadCommandsAreRefused) {
  EXPECT_FALSE(EncodePurgeCommand(NewHold("bad id", kAlice)).ok());
  EXPECT_FALSE(EncodePurgeCommand(NewHold("h", "alice")).ok());
  HoldCreate long_reason = NewHold("h", kAlice);
  long_reason.reason.assign(kHoldReasonBytesMax + 1, 'x');
  EXPECT_EQ(EncodePurgeCommand(long_reason).status().code(), StatusCode::kInvalidArgument);
  PurgeEvents zero = NewPurge("p", "!r:localhost", std::nullopt);
  zero.upto_seq = 0;
  EXPECT_FALSE(EncodePurgeCommand(zero).ok());
  EXPECT_EQ(DecodePurgeCommand(R"({"op":"hold_release","hold_id":"h","actor":"a","ts":1,"x":1})")
                .status().code(),
            StatusCode::kBadJson);
  Node n;
  EXPECT_EQ(n.Submit(NewPurge("p", "!unknown:localhost", std::nullopt)).status().code(),
            StatusCode::kNotFound);
}

TEST(ComplianceTest, PurgeTombstonesOldMessagesAndTheLogStillVerifies) {
  Node n;
  const std::string room = n.Room(kAlice, kBob);
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) ids.push_back(n.Message(room, i % 2 ? kBob : kAlice, 1000 + i));
  const json::object before = n.Pdu(ids[0]);
  ASSERT_TRUE(VerifyRoomLog(n.engine().Read(), room).ok());

  core::ApplyOutcome done = n.Purge(NewPurge("p1", room, 1003));
  ASSERT_TRUE(done.ok()) << done.status().ToString();
  auto progress = GetPurge(n.engine().Read(), "p1");
  ASSERT_TRUE(progress.ok() && progress->has_value());
  EXPECT_TRUE((*progress)->done);
  EXPECT_EQ((*progress)->purged, 3u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(n.Purged(ids[i]), i < 3) << i;

  const json::object after = n.Pdu(ids[0]);
  EXPECT_TRUE(after.at("content").as_object().empty());
  EXPECT_EQ(after.at("hashes"), before.at("hashes"));
  EXPECT_EQ(after.at("prev_events"), before.at("prev_events"));
  EXPECT_EQ(after.at("sender"), before.at("sender"));
  EXPECT_EQ(after.at("origin_server_ts"), before.at("origin_server_ts"));
  auto record = n.engine().GetEvent(ids[0]);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->type, "m.room.message");
  EXPECT_EQ(record->json.find("secret"), std::string::npos);
  EXPECT_EQ(n.Pdu(ids[4]).at("content").at("body"), "secret words");
  // The full-text postings of the purged events are gone, the others stay.
  auto posting = [&](int i) {
    auto e = n.engine().GetEvent(ids[i]);
    return n.engine().store().Get(storage::Cf::kSearch,
                                  search::PostingKey("secret", e->room, e->stream_position));
  };
  EXPECT_FALSE(posting(0)->has_value());
  EXPECT_TRUE(posting(4)->has_value());
  // State events stay whole; the hash chain verifies.
  auto state = n.engine().CurrentState(room);
  ASSERT_TRUE(state.ok());
  auto verified = VerifyRoomLog(n.engine().Read(), room);
  ASSERT_TRUE(verified.ok()) << verified.status().ToString();
  EXPECT_GE(*verified, 6u);

  // The projector's feed names each purged event once, in order.
  std::vector<std::string> fed;
  ASSERT_TRUE(ForEachPurged(n.engine().Read(), 0, 100, [&](const PurgedEvent& p) {
                EXPECT_EQ(p.number, fed.size() + 1);
                EXPECT_EQ(p.room_id, room);
                fed.push_back(p.event_id);
                return true;
              }).ok());
  EXPECT_EQ(fed, (std::vector<std::string>{ids[0], ids[1], ids[2]}));
  // Repeating a finished purge changes nothing; a new one skips what is purged.
  ASSERT_TRUE(n.Purge(NewPurge("p1", room, 1003)).ok());
  ASSERT_TRUE(n.Purge(NewPurge("p2", room, std::nullopt)).ok());
  EXPECT_EQ((*GetPurge(n.engine().Read(), "p2"))->purged, 3u);
  EXPECT_TRUE(VerifyRoomLog(n.engine().Read(), room).ok());
  EXPECT_EQ(n.Submit(NewPurge("p2", n.Room(kAlice, kBob), std::nullopt)).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(ComplianceTest, APurgedRelationLeavesTheRelationsIndex) {
  Node n;
  const std::string room = n.Room(kAlice, kBob);
  const std::string parent = n.Message(room, kAlice, 2000);
  core::SendEventRequest r;
  r.room_id = room;
  r.sender = kBob;
  r.type = "m.reaction";
  r.content = json::object{{"m.relates_to", json::object{{"rel_type", "m.annotation"},
                                                          {"event_id", parent},
                                                          {"key", "+1"}}}};
  r.origin_server_ts = 1000;
  auto child = n.engine().SendEvent(r);
  ASSERT_TRUE(child.ok());
  auto meta = n.engine().GetRoom(room);
  ASSERT_TRUE(meta.ok());
  const std::string key = storage::RelationKey(meta->number, parent, child->sequence);
  EXPECT_TRUE(n.engine().store().Get(storage::Cf::kRelations, key)->has_value());
  ASSERT_TRUE(n.Purge(NewPurge("p", room, 1500)).ok());
  EXPECT_TRUE(n.Purged(child->event_id));
  EXPECT_FALSE(n.Purged(parent));
  EXPECT_FALSE(n.engine().store().Get(storage::Cf::kRelations, key)->has_value());
}

TEST(ComplianceTest, PurgeRunsInBoundedCommands) {
  Node n;
  const std::string room = n.Room(kAlice, kBob);
  const int messages = static_cast<int>(kPurgeEventsPerCommandMax) + 20;
  for (int i = 0; i < messages; ++i) n.Message(room, kAlice, 1000 + i);
  int commands = 0;
  ASSERT_TRUE(n.Purge(NewPurge("big", room, std::nullopt), &commands).ok());
  EXPECT_EQ(commands, 2);
  EXPECT_EQ((*GetPurge(n.engine().Read(), "big"))->purged, static_cast<uint64_t>(messages));
  EXPECT_TRUE(VerifyRoomLog(n.engine().Read(), room).ok());
}

TEST(ComplianceTest, HoldsRefuseAPurgeOfTheRoomAndKeepAHeldUsersEvents) {
  Node n;
  const std::string room = n.Room(kAlice, kBob);
  const std::string a = n.Message(room, kAlice, 1000);
  const std::string b = n.Message(room, kBob, 1001);
  ASSERT_TRUE(n.Submit(NewHold("room-hold", room)).ok());
  core::ApplyOutcome refused = n.Submit(NewPurge("p", room, std::nullopt));
  ASSERT_EQ(refused.status().code(), StatusCode::kForbidden);
  EXPECT_NE(refused.status().message().find("room-hold"), std::string::npos);
  EXPECT_NE(refused.status().message().find("CASE-1"), std::string::npos);
  EXPECT_FALSE(n.Purged(a));

  ASSERT_TRUE(n.Submit(HoldRelease{.hold_id = "room-hold", .ts = 6}).ok());
  ASSERT_TRUE(n.Submit(NewHold("bob-hold", kBob)).ok());
  ASSERT_TRUE(n.Purge(NewPurge("p", room, std::nullopt)).ok());
  EXPECT_TRUE(n.Purged(a));
  EXPECT_FALSE(n.Purged(b));
  EXPECT_EQ((*GetPurge(n.engine().Read(), "p"))->held, 1u);
  EXPECT_EQ(n.Pdu(b).at("content").at("body"), "secret words");
}

TEST(ComplianceTest, KeepServerKeepsThatServersEvents) {
  Node n;
  const std::string room = n.Room(kAlice, kBob);
  const std::string a = n.Message(room, kAlice, 1000);
  PurgeEvents keep = NewPurge("p", room, std::nullopt);
  keep.keep_server = "localhost";
  ASSERT_TRUE(n.Purge(keep).ok());
  EXPECT_FALSE(n.Purged(a));
}

TEST(ComplianceTest, TwoEnginesApplyingTheSameCommandsHaveTheSameDigest) {
  Node one, two;
  std::string room_id;
  rooms::CreateRoomRequest req;
  req.preset = "public_chat";
  auto create = one.engine().PlanCreateRoom(req, kAlice, &room_id);
  ASSERT_TRUE(create.ok());
  std::vector<core::Command> commands{*create};
  for (int i = 0; i < 20; ++i) {
    core::SendEventRequest r;
    r.room_id = room_id;
    r.sender = kAlice;
    r.type = "m.room.message";
    r.content = json::object{{"msgtype", "m.text"}, {"body", "word " + std::to_string(i)}};
    r.origin_server_ts = 1000 + i;
    auto c = core::MakeSendEventCommand(r);
    ASSERT_TRUE(c.ok());
    commands.push_back(*c);
  }
  auto encode = [](const PurgeCommand& c) {
    return core::Command{core::CommandKind::kPurge, EncodePurgeCommand(c).value()};
  };
  commands.push_back(encode(NewHold("h", kBob)));
  commands.push_back(encode(NewPurge("p", room_id, 1010)));
  commands.push_back(encode(HoldRelease{.hold_id = "h", .ts = 10}));
  commands.push_back(encode(NewPurge("q", room_id, std::nullopt)));
  for (const core::Command& c : commands) {
    ASSERT_TRUE(one.engine().Submit(c).ok());
    ASSERT_TRUE(two.engine().Submit(c).ok());
  }
  auto a = core::StateDigest(one.engine().store());
  auto b = core::StateDigest(two.engine().store());
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_TRUE(VerifyRoomLog(one.engine().Read(), room_id).ok());
}

// The model: which holds are active, which events are purged.
struct Model {
  std::map<std::string, std::string> active;  // hold ID -> target
  std::set<std::string> released;
  std::set<int> purged;                      // message index
  bool Held(const std::string& target) const {
    for (const auto& [id, t] : active) {
      if (t == target) return true;
    }
    return false;
  }
};

RC_GTEST_PROP(ComplianceProperty, ApplyMatchesTheModel, ()) {
  static Node n;
  static int cases = 0;
  const std::string tag = "t" + std::to_string(++cases);
  const std::string alice = "@" + tag + "a:localhost";
  const std::string bob = "@" + tag + "b:localhost";
  const std::string room = n.Room(alice, bob);
  const int count = *rc::gen::inRange(1, 12);
  std::vector<std::string> ids;
  std::vector<std::string> senders;
  for (int i = 0; i < count; ++i) {
    senders.push_back(*rc::gen::element(alice, bob));
    ids.push_back(n.Message(room, senders.back(), 1000 + i));
  }
  Model model;
  const int steps = *rc::gen::inRange(1, 25);
  for (int step = 0; step < steps; ++step) {
    const int op = *rc::gen::inRange(0, 3);
    const std::string hold_id = tag + "h" + std::to_string(*rc::gen::inRange(0, 4));
    if (op == 0) {
      const std::string target = *rc::gen::element(room, alice, bob);
      const bool exists = model.active.count(hold_id) || model.released.count(hold_id);
      RC_ASSERT(n.Submit(NewHold(hold_id, target)).status().code() ==
                (exists ? StatusCode::kAlreadyExists : StatusCode::kOk));
      if (!exists) model.active[hold_id] = target;
    } else if (op == 1) {
      StatusCode expected = StatusCode::kOk;
      if (model.released.count(hold_id)) expected = StatusCode::kInvalidArgument;
      if (!model.active.count(hold_id) && !model.released.count(hold_id)) {
        expected = StatusCode::kNotFound;
      }
      RC_ASSERT(n.Submit(HoldRelease{.hold_id = hold_id, .ts = 1}).status().code() == expected);
      if (expected == StatusCode::kOk) {
        model.active.erase(hold_id);
        model.released.insert(hold_id);
      }
    } else {
      const int64_t before = 1000 + *rc::gen::inRange(0, count + 1);
      const std::string purge_id = tag + "p" + std::to_string(step);
      const core::ApplyOutcome outcome = n.Purge(NewPurge(purge_id, room, before));
      RC_ASSERT(outcome.status().code() ==
                (model.Held(room) ? StatusCode::kForbidden : StatusCode::kOk));
      if (outcome.ok()) {
        for (int i = 0; i < count; ++i) {
          if (1000 + i < before && !model.Held(senders[i])) model.purged.insert(i);
        }
      }
    }
    for (const std::string& target : {room, alice, bob}) {
      auto found = FindHold(n.engine().Read(), target);
      RC_ASSERT(found.ok());
      RC_ASSERT(found->has_value() == model.Held(target));
    }
  }
  for (int i = 0; i < count; ++i) {
    RC_ASSERT(n.Purged(ids[i]) == (model.purged.count(i) == 1));
    const json::object pdu = n.Pdu(ids[i]);
    RC_ASSERT(pdu.at("content").as_object().empty() == (model.purged.count(i) == 1));
  }
  RC_ASSERT(VerifyRoomLog(n.engine().Read(), room).ok());
}

}  // namespace
}  // namespace nebu::compliance
