// Goal: POST /rooms/{roomId}/forget is stored through the replicated write path
// (accounts op "forget_room"), only after a leave or ban, survives a restart, and a
// later membership (re-join) clears it; bad requests change nothing.
// Method: a real engine on tmpfs; requests over real HTTP on loopback (rooms_testing.h);
// the mark is read with core::IsRoomForgotten.
#include <gtest/gtest.h>

#include "engine/accounts/commands.h"
#include "engine/core/room_reads.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

class RoomsForgetTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    alice_ = Register("alice");
    bob_ = Register("bob");
    room_ = CreateRoom(alice_, {{"preset", "public_chat"}});
    base_ = "/rooms/" + room_;
  }
  bool Forgotten(const std::string& user_id) {
    auto meta = engine_->GetRoom(room_);
    EXPECT_TRUE(meta.ok()) << meta.status().ToString();
    if (!meta.ok()) return false;
    Result<bool> forgotten = core::IsRoomForgotten(engine_->store(), user_id, meta->number);
    EXPECT_TRUE(forgotten.ok()) << forgotten.status().ToString();
    return forgotten.ok() && *forgotten;
  }
  std::string alice_, bob_, room_, base_;
};

TEST_F(RoomsForgetTest, ForgetAfterLeaveIsStoredAndSurvivesARestart) {
  ASSERT_EQ(Post(bob_, base_ + "/join"), 200);
  ASSERT_EQ(Post(bob_, base_ + "/leave"), 200);
  EXPECT_FALSE(Forgotten(kBobId));
  Response forgot = Call("POST", base_ + "/forget", bob_, json::object{});
  ASSERT_EQ(forgot.status, 200) << forgot.body;
  EXPECT_EQ(Body(forgot), json::object{});
  EXPECT_TRUE(Forgotten(kBobId));
  EXPECT_FALSE(Forgotten("@alice:localhost"));
  EXPECT_EQ(Post(bob_, base_ + "/forget"), 200);  // idempotent
  EXPECT_TRUE(Forgotten(kBobId));

  engine_.reset();  // the mark is in the store, written by the applied command
  auto reopened =
      core::Engine::Open({.data_dir = dir_.path(), .server_name = "localhost", .clock = &clock_});
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  engine_ = std::move(reopened).value();
  EXPECT_TRUE(Forgotten(kBobId));
}

TEST_F(RoomsForgetTest, ForgetAfterBanIsAllowed) {
  ASSERT_EQ(Post(bob_, base_ + "/join"), 200);
  ASSERT_EQ(Post(alice_, base_ + "/ban", {{"user_id", kBobId}}), 200);
  EXPECT_EQ(Post(bob_, base_ + "/forget"), 200);
  EXPECT_TRUE(Forgotten(kBobId));
}

TEST_F(RoomsForgetTest, RefusedRequestsChangeNothing) {
  Response joined = Call("POST", base_ + "/forget", alice_, json::object{});
  EXPECT_EQ(joined.status, 400);
  EXPECT_EQ(ErrCode(joined), "M_UNKNOWN");
  EXPECT_FALSE(Forgotten("@alice:localhost"));

  Response never = Call("POST", base_ + "/forget", bob_, json::object{});  // never a member
  EXPECT_EQ(never.status, 403);
  EXPECT_EQ(ErrCode(never), "M_FORBIDDEN");
  EXPECT_EQ(Post(bob_, "/rooms/!nope:localhost/forget"), 403);
  EXPECT_EQ(Post(bob_, "/rooms/not-a-room/forget"), 400);  // malformed: M_INVALID_PARAM
  EXPECT_EQ(Post("", base_ + "/forget"), 401);
  EXPECT_FALSE(Forgotten(kBobId));

  // An invite is not a departure either.
  ASSERT_EQ(Post(alice_, base_ + "/invite", {{"user_id", kBobId}}), 200);
  Response invited = Call("POST", base_ + "/forget", bob_, json::object{});
  EXPECT_EQ(invited.status, 400);
  EXPECT_EQ(ErrCode(invited), "M_UNKNOWN");
  EXPECT_FALSE(Forgotten(kBobId));
}

TEST_F(RoomsForgetTest, ARejoinClearsTheMark) {
  ASSERT_EQ(Post(bob_, base_ + "/join"), 200);
  ASSERT_EQ(Post(bob_, base_ + "/leave"), 200);
  ASSERT_EQ(Post(bob_, base_ + "/forget"), 200);
  ASSERT_TRUE(Forgotten(kBobId));
  ASSERT_EQ(Post(bob_, base_ + "/join"), 200);
  EXPECT_FALSE(Forgotten(kBobId));
  Response joined = Call("GET", "/joined_rooms", bob_);
  EXPECT_EQ(Body(joined), (json::object{{"joined_rooms", json::array{json::value(room_)}}}));
  // Joined again: forgetting is refused until the next leave.
  EXPECT_EQ(Post(bob_, base_ + "/forget"), 400);
  ASSERT_EQ(Post(bob_, base_ + "/leave"), 200);
  EXPECT_FALSE(Forgotten(kBobId));
  EXPECT_EQ(Post(bob_, base_ + "/forget"), 200);
  EXPECT_TRUE(Forgotten(kBobId));
}

TEST(ForgetRoomCommandTest, RoundTripsAndRefusesBadFields) {
  accounts::ForgetRoomCommand c{.user_id = "@bob:localhost", .room_id = "!r:localhost"};
  Result<std::string> payload = accounts::EncodeAccountCommand(c);
  ASSERT_TRUE(payload.ok()) << payload.status().ToString();
  EXPECT_EQ(*payload,
            R"({"op":"forget_room","room_id":"!r:localhost","user_id":"@bob:localhost"})");
  Result<accounts::AccountCommand> decoded = accounts::DecodeAccountCommand(*payload);
  ASSERT_TRUE(decoded.ok()) << decoded.status().ToString();
  EXPECT_EQ(std::get<accounts::ForgetRoomCommand>(*decoded), c);
  EXPECT_FALSE(accounts::EncodeAccountCommand(
                   accounts::ForgetRoomCommand{.user_id = "@bob:localhost", .room_id = "room"})
                   .ok());
  EXPECT_FALSE(accounts::DecodeAccountCommand(
                   R"({"op":"forget_room","room_id":"!r:localhost","user_id":"@b:x","x":1})")
                   .ok());
}

}  // namespace
}  // namespace nebu::api
