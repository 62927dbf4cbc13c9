// Goal: the three report endpoints store a report of something real for the admin
// API (reports::ForEachReport), answer every well-formed report alike (no probing of
// which rooms, events or users exist, nor of events in rooms the reporter is not in),
// and refuse bad input with a clear error.
// Method: real engine and HTTP on loopback; the stored reports read back through
// engine/reports.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/rooms/report_routes.h"
#include "engine/reports/reports.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

class ReportTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    limits_ = std::make_shared<UserRateLimits>(limits_enabled_);
    AddReportRoutes(router_, *engine_, limits_);
    alice_ = Register("alice");
    bob_ = Register("bob");
    room_ = CreateRoom(alice_);
    event_ = Send(alice_, room_, "offensive");
  }
  std::vector<reports::Report> Stored() {
    std::vector<reports::Report> out;
    Status s = reports::ForEachReport(engine_->Read(), 0, 100, [&](const reports::Report& r) {
      out.push_back(r);
      return Status::Ok();
    });
    EXPECT_TRUE(s.ok()) << s.ToString();
    return out;
  }
  bool limits_enabled_ = false;
  std::shared_ptr<UserRateLimits> limits_;
  std::string alice_, bob_, room_, event_;
};

TEST_F(ReportTest, ReportsOfRealThingsAreStored) {
  EXPECT_EQ(Post(alice_, "/rooms/" + room_ + "/report/" + event_, {{"reason", "spam"}}), 200);
  EXPECT_EQ(Post(bob_, "/rooms/" + room_ + "/report", {{"reason", ""}}), 200);
  EXPECT_EQ(Post(bob_, "/users/@alice:localhost/report", {{"reason", "rude"}}), 200);
  std::vector<reports::Report> stored = Stored();
  ASSERT_EQ(stored.size(), 3u);
  EXPECT_EQ(stored[0].id, 1u);
  EXPECT_EQ(stored[0].kind, reports::ReportKind::kEvent);
  EXPECT_EQ(stored[0].reporter, "@alice:localhost");
  EXPECT_EQ(stored[0].event_id, event_);
  EXPECT_EQ(stored[0].room_id, room_);
  EXPECT_EQ(stored[0].reason, "spam");
  EXPECT_EQ(stored[1].kind, reports::ReportKind::kRoom);
  EXPECT_EQ(stored[1].reason, "");
  EXPECT_EQ(stored[2].kind, reports::ReportKind::kUser);
  EXPECT_EQ(stored[2].user_id, "@alice:localhost");
  EXPECT_EQ(stored[2].id, 3u);
  auto one = reports::GetReport(engine_->Read(), 2);
  ASSERT_TRUE(one.ok() && one->has_value());
  EXPECT_EQ((*one)->reporter, "@bob:localhost");
}

TEST_F(ReportTest, ReportsRevealNothingAndStoreNothingFake) {
  // Bob is not in the room: the same 200 as a real report, nothing stored.
  Response r = Call("POST", "/rooms/" + room_ + "/report/" + event_, bob_,
                    json::object{{"reason", "x"}});
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "{}");
  std::string unknown = event_;
  unknown.back() = unknown.back() == 'A' ? 'B' : 'A';  // well-formed, names nothing
  EXPECT_EQ(Post(alice_, "/rooms/" + room_ + "/report/" + unknown, {{"reason", "x"}}), 200);
  EXPECT_EQ(Post(alice_, "/rooms/!nosuchroom:localhost/report", {{"reason", "x"}}), 200);
  EXPECT_EQ(Post(alice_, "/users/@nobody:localhost/report", {{"reason", "x"}}), 200);
  // An event of another room named with this room.
  std::string other = CreateRoom(alice_);
  EXPECT_EQ(Post(alice_, "/rooms/" + other + "/report/" + event_, {{"reason", "x"}}), 200);
  EXPECT_TRUE(Stored().empty());
}

TEST_F(ReportTest, BadReportsAreRefused) {
  auto errcode = [&](const std::string& path, const json::object& body) {
    return ErrCode(Call("POST", path, alice_, body));
  };
  EXPECT_EQ(errcode("/rooms/" + room_ + "/report", {}), "M_MISSING_PARAM");
  EXPECT_EQ(errcode("/users/@bob:localhost/report", {}), "M_MISSING_PARAM");
  EXPECT_EQ(errcode("/rooms/" + room_ + "/report", {{"reason", 5}}), "M_BAD_JSON");
  EXPECT_EQ(errcode("/rooms/" + room_ + "/report",
                    {{"reason", std::string(reports::kReportReasonBytesMax + 1, 'x')}}),
            "M_INVALID_PARAM");
  EXPECT_EQ(errcode("/rooms/notaroom/report", {{"reason", "x"}}), "M_INVALID_PARAM");
  EXPECT_EQ(errcode("/users/bob/report", {{"reason", "x"}}), "M_INVALID_PARAM");
  EXPECT_EQ(errcode("/rooms/" + room_ + "/report/notanevent", {}), "M_INVALID_PARAM");
  EXPECT_EQ(Call("POST", "/rooms/" + room_ + "/report", "", json::object{{"reason", "x"}}).status,
            401);
  // A reason exactly at the bound, and an event report without one, are fine.
  EXPECT_EQ(Post(alice_, "/rooms/" + room_ + "/report",
                 {{"reason", std::string(reports::kReportReasonBytesMax, 'x')}}),
            200);
  EXPECT_EQ(Post(alice_, "/rooms/" + room_ + "/report/" + event_), 200);
  EXPECT_EQ(Stored().size(), 2u);
}

class RateLimitedReportTest : public ReportTest {
 protected:
  RateLimitedReportTest() { limits_enabled_ = true; }
};

TEST_F(RateLimitedReportTest, ReportsAreRateLimitedPerUser) {
  const int burst = static_cast<int>(kReportRateLimit.burst);
  for (int i = 0; i < burst; ++i) {
    ASSERT_EQ(Post(bob_, "/users/@alice:localhost/report", {{"reason", "x"}}), 200) << i;
  }
  Response r = Call("POST", "/users/@alice:localhost/report", bob_, json::object{{"reason", "x"}});
  EXPECT_EQ(r.status, 429);
  EXPECT_EQ(ErrCode(r), "M_LIMIT_EXCEEDED");
  // Another user has their own bucket.
  EXPECT_EQ(Post(alice_, "/users/@bob:localhost/report", {{"reason", "x"}}), 200);
}

}  // namespace
}  // namespace nebu::api
