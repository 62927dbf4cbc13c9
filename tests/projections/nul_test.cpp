// Goal: U+0000 in a display name never stops the projection. A log may hold one (the
// API refuses them now, older commands and events stay): in a profile displayname, a
// device's display_name (registration, login, rename), an m.room.member event's
// displayname, a message body, a redaction reason and account data. The projector
// catches up, stores U+FFFD in place of each U+0000 (text columns and jsonb cannot
// hold it; docs/compliance.md), marks such events content_lossy, stays live for the
// events after them, and verify finds no difference.
// Method: a real Engine driven by its commands, the real Projector (CatchUp, then the
// live loop) into a fresh database of the throwaway cluster.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>

#include "engine/accounts/accounts.h"
#include "projections/projector.h"
#include "projections/verify.h"
#include "tests/projections/history.h"
#include "tests/projections/pg_test_util.h"
#include "tests/projections/projection_fixture.h"

namespace nebu::projections {
namespace {

namespace json = boost::json;
using testing::kAlice;
using testing::kBob;
using testing::Query;
using Rows = std::vector<std::vector<std::string>>;

const std::string kNulName = std::string("Al\0ice", 6);
const std::string kReplaced = "Al\xEF\xBF\xBDice";  // U+FFFD in place of U+0000

class NulTest : public testing::ProjectionFixture {
 protected:
  Rows Q(const std::string& sql) { return Query(url(), sql); }
  void ExpectNoDifference() {
    auto report = VerifyProjection(engine().store(), url());
    ASSERT_TRUE(report.ok()) << report.status().ToString();
    for (const std::string& d : report->differences) ADD_FAILURE() << d;
  }
};

TEST_F(NulTest, NulInEveryNameProjectsAsReplacementCharacterAndTheProjectorStaysLive) {
  // Accounts: a profile displayname and a device name from registration, a device
  // name from login, a renamed device.
  ASSERT_TRUE(Account(accounts::RegisterCommand{
                          .user_id = kAlice,
                          .created_ts = 1,
                          .displayname = kNulName,
                          .device = accounts::NewDevice{"ADEV", std::string(64, 'a'), kNulName}})
                  .ok());
  ASSERT_TRUE(Account(accounts::LoginCommand{
                          .user_id = kAlice,
                          .device = {.device_id = "BDEV", .token_hash = std::string(64, 'b'),
                                     .display_name = kNulName},
                          .ts = 2})
                  .ok());
  ASSERT_TRUE(testing::RegisterWithDevice(engine(), kBob, "CDEV", std::string(64, 'c')).ok());
  ASSERT_TRUE(Account(accounts::SetDeviceDisplayNameCommand{kBob, "CDEV", kNulName}).ok());
  ASSERT_TRUE(Account(accounts::SetAvatarUrlCommand{kBob, "mxc://hs/" + kNulName}).ok());
  // Room events: a member event's displayname, a message, a redaction reason.
  std::string room = testing::CreatePublicRoom(engine(), kAlice);
  auto member = testing::Send(engine(), room, kAlice, "m.room.member",
                              {{"membership", "join"}, {"displayname", kNulName}}, kAlice);
  ASSERT_TRUE(member.ok()) << member.status().ToString();
  auto message = testing::Message(engine(), room, kAlice, kNulName);
  ASSERT_TRUE(message.ok()) << message.status().ToString();
  auto redaction = testing::Send(engine(), room, kAlice, "m.room.redaction", {{"reason", kNulName}},
                                 std::nullopt, message->event_id);
  ASSERT_TRUE(redaction.ok()) << redaction.status().ToString();
  ASSERT_TRUE(Account(accounts::PutAccountDataCommand{
                          .user_id = kAlice, .type = "im.example", .content = {{"name", kNulName}}})
                  .ok());

  Projector projector(engine().store(), ProjectorOptions{.db_url = url()});
  Status caught_up = projector.CatchUp();
  ASSERT_TRUE(caught_up.ok()) << caught_up.ToString();

  EXPECT_EQ(Q("SELECT user_id, displayname, coalesce(avatar_url, '<null>') FROM profiles "
              "ORDER BY 1"),
            (Rows{{kAlice, kReplaced, "<null>"},
                  {kBob, "Display " + kBob, "mxc://hs/" + kReplaced}}));
  EXPECT_EQ(Q("SELECT device_id, display_name FROM devices ORDER BY 1"),
            (Rows{{"ADEV", kReplaced}, {"BDEV", kReplaced}, {"CDEV", kReplaced}}));
  EXPECT_EQ(Q("SELECT content ->> 'displayname', content_lossy::text FROM events WHERE "
              "event_id = '" + member->event_id + "'"),
            (Rows{{kReplaced, "true"}}));
  EXPECT_EQ(Q("SELECT content ->> 'body', content_lossy::text FROM events WHERE "
              "event_id = '" + message->event_id + "'"),
            (Rows{{kReplaced, "true"}}));
  EXPECT_EQ(Q("SELECT reason FROM redactions"), (Rows{{kReplaced}}));
  EXPECT_EQ(Q("SELECT content ->> 'name' FROM account_data WHERE type = 'im.example'"),
            (Rows{{kReplaced}}));
  EXPECT_EQ(Q("SELECT membership FROM room_memberships WHERE user_id = '" + kAlice + "'"),
            (Rows{{"join"}}));
  ExpectNoDifference();

  // Live: the next events and a later name change project behind them.
  projector.Start();
  auto after = testing::Message(engine(), room, kAlice, "after");
  ASSERT_TRUE(after.ok());
  ASSERT_TRUE(Account(accounts::SetDisplayNameCommand{kAlice, std::string("x\0y", 3)}).ok());
  EXPECT_TRUE(testing::WaitFor(
      [&] {
        return Q("SELECT count(*) FROM events WHERE event_id = '" + after->event_id + "'")[0][0] ==
               "1";
      },
      std::chrono::seconds(20)));
  projector.Stop();
  Status last = projector.CatchUp();  // the accounts snapshot, now
  ASSERT_TRUE(last.ok()) << last.ToString();
  EXPECT_EQ(Q("SELECT displayname FROM profiles WHERE user_id = '" + kAlice + "'"),
            (Rows{{"x\xEF\xBF\xBDy"}}));
  ExpectNoDifference();
}

}  // namespace
}  // namespace nebu::projections
