// Goal: a kRoomUpgrade command is applied completely or not at all, and its result
// survives a restart; kReport stores reports of real things only.
// Method: a real Engine on a temp dir; commands submitted directly; state read back
// through the engine's reads, also after reopening the store.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/reports/reports.h"
#include "engine/testing/temp_dir.h"
#include "tests/engine/core/core_testing.h"

namespace nebu::core {
namespace {

namespace json = boost::json;

class RoomUpgradeApplyTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    engine_.reset();
    auto e = Engine::Open({.data_dir = dir_.path(), .server_name = "localhost"});
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(e).value();
  }
  std::string NewRoom() {
    rooms::CreateRoomRequest req;
    req.preset = "public_chat";
    auto room = engine_->CreateRoom(req, kAlice);
    EXPECT_TRUE(room.ok()) << room.status().ToString();
    return room.ok() ? room->room_id : "";
  }
  ApplyOutcome Upgrade(const std::string& room, const std::string& sender,
                       const std::string& new_id) {
    auto command = MakeRoomUpgradeCommand({.room_id = room,
                                           .new_room_id = new_id,
                                           .new_version = event::RoomVersion::kV11,
                                           .sender = sender,
                                           .origin_server_ts = 1000});
    EXPECT_TRUE(command.ok());
    return engine_->Submit(*command);
  }
  bool HasTombstone(const std::string& room) {
    auto state = engine_->CurrentState(room);
    return state.ok() && state->Get("m.room.tombstone", "") != nullptr;
  }
  nebu::testing::TempDir dir_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(RoomUpgradeApplyTest, RefusedUpgradesChangeNothing) {
  std::string room = NewRoom(), other = NewRoom();
  auto before = engine_->GetRoom(room);
  ASSERT_TRUE(before.ok());
  // The replacement ID is taken.
  EXPECT_EQ(Upgrade(room, kAlice, other).status().code(), StatusCode::kAlreadyExists);
  // Bob is not joined: the tombstone's authorization refuses.
  EXPECT_EQ(Upgrade(room, kBob, "!fresh1:localhost").status().code(), StatusCode::kForbidden);
  EXPECT_EQ(Upgrade("!unknown:localhost", kAlice, "!fresh2:localhost").status().code(),
            StatusCode::kNotFound);
  EXPECT_FALSE(HasTombstone(room));
  EXPECT_EQ(engine_->GetRoom(room)->last_seq, before->last_seq);
  EXPECT_FALSE(engine_->GetRoom("!fresh1:localhost").ok());
  // The room still takes events (the applier's caches are coherent).
  SendEventRequest msg{.room_id = room, .sender = kAlice, .type = "m.room.message",
                       .content = json::object{{"body", "x"}}};
  EXPECT_TRUE(engine_->SendEvent(msg).ok());
}

TEST_F(RoomUpgradeApplyTest, AcceptedUpgradeSurvivesARestart) {
  std::string room = NewRoom();
  ApplyOutcome out = Upgrade(room, kAlice, "!next:localhost");
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  auto events = DecodeAppended(*out);
  ASSERT_TRUE(events.ok());
  EXPECT_EQ(events->front().room_id, room);  // the tombstone first
  Open();
  EXPECT_TRUE(HasTombstone(room));
  auto state = engine_->CurrentState("!next:localhost");
  ASSERT_TRUE(state.ok()) << state.status().ToString();
  const json::object* create = state->Get("m.room.create", "");
  ASSERT_NE(create, nullptr);
  EXPECT_EQ(create->at("content").at("predecessor").at("room_id"), json::value(room));
  EXPECT_EQ(state->MembershipOf(kAlice), rooms::Membership::kJoin);
  // A room created after the restart gets a fresh number.
  std::string later = NewRoom();
  EXPECT_NE(engine_->GetRoom(later)->number, engine_->GetRoom("!next:localhost")->number);
  // Upgrading the same room twice is allowed (the tombstone is replaced).
  EXPECT_TRUE(Upgrade(room, kAlice, "!third:localhost").ok());
}

TEST_F(RoomUpgradeApplyTest, ReportsOfUnknownThingsAreDroppedWithoutError) {
  std::string room = NewRoom();
  auto submit = [&](reports::Report r) {
    r.reporter = kAlice;
    r.received_ts = 5;
    auto payload = reports::EncodeReportCommand(r);
    EXPECT_TRUE(payload.ok());
    return engine_->Submit(Command{CommandKind::kReport, *payload});
  };
  ApplyOutcome stored = submit({.kind = reports::ReportKind::kRoom, .room_id = room});
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(*stored, R"({"report_id":1,"stored":true})");
  ApplyOutcome dropped =
      submit({.kind = reports::ReportKind::kRoom, .room_id = "!gone:localhost"});
  ASSERT_TRUE(dropped.ok());
  EXPECT_EQ(*dropped, R"({"stored":false})");
  EXPECT_EQ(*submit({.kind = reports::ReportKind::kUser, .user_id = "@nobody:localhost"}),
            R"({"stored":false})");
  Open();
  size_t n = 0;
  ASSERT_TRUE(reports::ForEachReport(engine_->Read(), 0, 10, [&](const reports::Report& r) {
                EXPECT_EQ(r.room_id, room);
                ++n;
                return Status::Ok();
              }).ok());
  EXPECT_EQ(n, 1u);
  EXPECT_EQ(*submit({.kind = reports::ReportKind::kRoom, .room_id = room}),
            R"({"report_id":2,"stored":true})");
}

}  // namespace
}  // namespace nebu::core
