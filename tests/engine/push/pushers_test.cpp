// Goal: pushers are replicated state with the spec's rules: set creates or updates the
// (user, app_id, pushkey) pusher, append false takes the app_id + pushkey away from other
// users, delete removes, delivered positions only move forward and survive a re-set, a
// gateway's rejection (delete if_ts) never removes a pusher set again since, a device's
// removal takes its pushers, and the per-user bound holds.
// Method: a real Engine on tmpfs, kPusher commands through commit and apply, reads
// through PushersOf / ForEachPusher; the codec round-trips and refuses bad input.
#include "engine/push/pushers.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/engine.h"
#include "engine/testing/temp_dir.h"

namespace nebu::push {
namespace {

namespace json = boost::json;

const std::string kAlice = "@alice:localhost";
const std::string kBob = "@bob:localhost";

Pusher MakePusher(std::string pushkey, std::string url = "http://127.0.0.1:1/_matrix/push/v1/notify") {
  return Pusher{.app_id = "org.example.app",
                .pushkey = std::move(pushkey),
                .kind = "http",
                .app_display_name = "App",
                .device_display_name = "Phone",
                .profile_tag = "",
                .lang = "en",
                .data = json::object{{"url", url}, {"format", "event_id_only"}}};
}

class PushersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = core::Engine::Open({.data_dir = dir_.path(), .server_name = "localhost"});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    engine_ = std::move(opened).value();
  }

  core::ApplyOutcome Submit(const PusherCommand& c) {
    Result<std::string> payload = EncodePusherCommand(c);
    if (!payload.ok()) return payload.status();
    return engine_->Submit({core::CommandKind::kPusher, *payload});
  }
  core::ApplyOutcome Set(const std::string& user, const Pusher& p, bool append = false,
                         std::string device = "DEV") {
    return Submit({.op = PusherOp::kSet, .user_id = user, .device_id = std::move(device),
                   .pusher = p, .append = append, .ts = ++ts_});
  }
  std::vector<StoredPusher> Of(const std::string& user) {
    auto got = PushersOf(engine_->Read(), user);
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? *got : std::vector<StoredPusher>{};
  }

  nebu::testing::TempDir dir_{nebu::testing::TempDir::kTmpfs};
  std::unique_ptr<core::Engine> engine_;
  int64_t ts_ = 1700000000000;
};

TEST_F(PushersTest, SetCreatesThenUpdatesOnePusherPerAppIdAndPushkey) {
  ASSERT_TRUE(Set(kAlice, MakePusher("k1")).ok());
  Pusher renamed = MakePusher("k1");
  renamed.device_display_name = "Tablet";
  ASSERT_TRUE(Set(kAlice, renamed).ok());
  auto mine = Of(kAlice);
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].pusher, renamed);
  EXPECT_EQ(mine[0].ts, ts_);
  EXPECT_EQ(mine[0].device_id, "DEV");
}

TEST_F(PushersTest, AppendFalseRemovesOtherUsersPusherOfTheSamePushkeyAppendTrueKeepsIt) {
  ASSERT_TRUE(Set(kAlice, MakePusher("shared")).ok());
  ASSERT_TRUE(Set(kBob, MakePusher("shared"), /*append=*/true).ok());
  EXPECT_EQ(Of(kAlice).size(), 1u);
  EXPECT_EQ(Of(kBob).size(), 1u);
  ASSERT_TRUE(Set(kBob, MakePusher("shared"), /*append=*/false).ok());
  EXPECT_TRUE(Of(kAlice).empty());
  EXPECT_EQ(Of(kBob).size(), 1u);
}

TEST_F(PushersTest, DeleteRemovesAndAnAbsentPusherIsNoError) {
  ASSERT_TRUE(Set(kAlice, MakePusher("k1")).ok());
  PusherCommand del{.op = PusherOp::kDelete, .user_id = kAlice, .pusher = MakePusher("k1")};
  ASSERT_TRUE(Submit(del).ok());
  EXPECT_TRUE(Of(kAlice).empty());
  EXPECT_TRUE(Submit(del).ok());
}

TEST_F(PushersTest, RejectionOfAnOlderSetDoesNotRemoveThePusherSetAgain) {
  ASSERT_TRUE(Set(kAlice, MakePusher("k1")).ok());
  const int64_t old_ts = ts_;
  ASSERT_TRUE(Set(kAlice, MakePusher("k1")).ok());
  ASSERT_TRUE(Submit({.op = PusherOp::kDelete, .user_id = kAlice, .pusher = MakePusher("k1"),
                      .if_ts = old_ts})
                  .ok());
  EXPECT_EQ(Of(kAlice).size(), 1u);
  ASSERT_TRUE(Submit({.op = PusherOp::kDelete, .user_id = kAlice, .pusher = MakePusher("k1"),
                      .if_ts = ts_})
                  .ok());
  EXPECT_TRUE(Of(kAlice).empty());
}

TEST_F(PushersTest, ANewPusherStartsAtTheStreamPositionDeliveredOnlyMovesForward) {
  ASSERT_TRUE(Set(kAlice, MakePusher("k1")).ok());
  const storage::StreamPosition start = Of(kAlice)[0].delivered;
  EXPECT_EQ(start, engine_->stream_position());
  auto delivered = [&](storage::StreamPosition p) {
    return Submit({.op = PusherOp::kDelivered, .user_id = kAlice, .pusher = MakePusher("k1"),
                   .if_ts = ts_, .position = p});
  };
  ASSERT_TRUE(delivered(start + 10).ok());
  ASSERT_TRUE(delivered(start + 5).ok());
  EXPECT_EQ(Of(kAlice)[0].delivered, start + 10);
  ASSERT_TRUE(Set(kAlice, MakePusher("k1")).ok());  // an update keeps the position
  EXPECT_EQ(Of(kAlice)[0].delivered, start + 10);
}

TEST_F(PushersTest, RemoveDeviceTakesThatDevicesPushersAndEmptyDeviceTakesAll) {
  ASSERT_TRUE(Set(kAlice, MakePusher("a"), false, "PHONE").ok());
  ASSERT_TRUE(Set(kAlice, MakePusher("b"), false, "LAPTOP").ok());
  ASSERT_TRUE(Submit({.op = PusherOp::kRemoveDevice, .user_id = kAlice, .device_id = "PHONE"}).ok());
  auto mine = Of(kAlice);
  ASSERT_EQ(mine.size(), 1u);
  EXPECT_EQ(mine[0].pusher.pushkey, "b");
  ASSERT_TRUE(Submit({.op = PusherOp::kRemoveDevice, .user_id = kAlice, .device_id = ""}).ok());
  EXPECT_TRUE(Of(kAlice).empty());
}

TEST_F(PushersTest, AUserHoldsAtMostTheBoundAndForEachPusherSeesEveryUser) {
  for (size_t i = 0; i < kPushersPerUserMax; ++i) {
    ASSERT_TRUE(Set(kAlice, MakePusher("k" + std::to_string(i))).ok());
  }
  core::ApplyOutcome over = Set(kAlice, MakePusher("one-more"));
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().code(), StatusCode::kResourceExhausted);
  EXPECT_TRUE(Set(kAlice, MakePusher("k0")).ok());  // an update is no new pusher
  ASSERT_TRUE(Set(kBob, MakePusher("bob")).ok());
  size_t seen = 0;
  ASSERT_TRUE(ForEachPusher(engine_->Read(), [&](const StoredPusher&) { return ++seen, true; }).ok());
  EXPECT_EQ(seen, kPushersPerUserMax + 1);
}

TEST(PusherCommandTest, RoundTripsAndRefusesBadPushers) {
  PusherCommand c{.op = PusherOp::kSet, .user_id = kAlice, .device_id = "D",
                  .pusher = MakePusher("k"), .append = true, .ts = 5};
  auto payload = EncodePusherCommand(c);
  ASSERT_TRUE(payload.ok()) << payload.status().ToString();
  auto back = DecodePusherCommand(*payload);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(back->pusher, c.pusher);
  EXPECT_TRUE(back->append);

  const std::vector<std::string> bad_urls = {
      "ftp://h/_matrix/push/v1/notify", "http:///_matrix/push/v1/notify",
      "http://h/other", "http://u:p@h/_matrix/push/v1/notify",
      "http://h/_matrix/push/v1/notify?x=1", "http://h /_matrix/push/v1/notify", "notaurl"};
  for (const std::string& url : bad_urls) {
    EXPECT_EQ(ValidatePusher(MakePusher("k", url)).code(), StatusCode::kInvalidArgument) << url;
  }
  EXPECT_TRUE(ValidatePusher(MakePusher("k", "https://gw.example/prefix/_matrix/push/v1/notify")).ok());
  Pusher p = MakePusher(std::string(kPushkeyBytesMax + 1, 'k'));
  EXPECT_EQ(ValidatePusher(p).code(), StatusCode::kInvalidArgument);
  p = MakePusher("k");
  p.app_id = std::string(kAppIdCharsMax + 1, 'a');
  EXPECT_EQ(ValidatePusher(p).code(), StatusCode::kInvalidArgument);
  p = MakePusher("k");
  p.kind = "email";
  EXPECT_EQ(ValidatePusher(p).code(), StatusCode::kInvalidArgument);
  p = MakePusher("k");
  p.data["format"] = "full";
  EXPECT_EQ(ValidatePusher(p).code(), StatusCode::kInvalidArgument);
  p = MakePusher("k");
  p.data["blob"] = std::string(kPusherDataBytesMax, 'x');
  EXPECT_EQ(ValidatePusher(p).code(), StatusCode::kTooLarge);
}

}  // namespace
}  // namespace nebu::push
