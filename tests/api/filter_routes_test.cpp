// Goal: uploaded filters round-trip through their stateless IDs, only for their owner,
// and /sync accepts such an ID as its filter; glob lists over their caps
// (kFilterPatternsMax, kGlobPatternBytesMax) are refused on upload (M_BAD_JSON, no ID)
// and inline in /sync (M_INVALID_PARAM).
// Method: a real engine in a temp dir, registered users, the router called directly.
#include "api/accounts/filter_routes.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>

#include "api/glob.h"
#include "api/sync/sync_routes.h"
#include "engine/accounts/accounts.h"
#include "engine/core/engine.h"
#include "engine/testing/temp_dir.h"
#include "tests/api/test_http_client.h"

namespace nebu::api {
namespace {

namespace json = boost::json;

class FilterRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto engine = core::Engine::Open({.data_dir = dir_.path()});
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
    alice_ = Register("@alice:localhost");
    bob_ = Register("@bob:localhost");
    AddFilterRoutes(router_, *engine_);
    AddSyncRoutes(router_, *engine_);
  }
  std::string Register(const std::string& user_id) {
    auto prepared = accounts::PrepareRegistration({.user_id = user_id}, engine_->clock().NowUnixMs());
    EXPECT_TRUE(prepared.ok());
    EXPECT_TRUE(engine_->Submit(core::Command{core::CommandKind::kAccount, prepared->payload}).ok());
    return *prepared->access_token;
  }
  Response Call(const std::string& method, const std::string& path, const std::string& token,
                const std::string& body = "") {
    Request r = MakeRequest(method, "/_matrix/client/v3" + path, body);
    r.headers.Set("Authorization", "Bearer " + token);
    return router_.Handle(r);
  }

  nebu::testing::TempDir dir_;
  std::unique_ptr<core::Engine> engine_;
  Router router_{"client"};
  std::string alice_, bob_;
};

TEST_F(FilterRoutesTest, AnUploadedFilterComesBackByItsId) {
  const std::string filter = R"({"room":{"timeline":{"limit":1,"types":["m.room.message"]}}})";
  Response posted = Call("POST", "/user/@alice:localhost/filter", alice_, filter);
  ASSERT_EQ(posted.status, 200) << posted.body;
  std::string id(json::parse(posted.body).at("filter_id").as_string());
  EXPECT_FALSE(id.starts_with("{"));
  // The same filter, differently spelled, gets the same ID.
  Response again = Call("POST", "/user/@alice:localhost/filter", alice_,
                        R"({ "room": {"timeline": {"types": ["m.room.message"], "limit": 1}}})");
  EXPECT_EQ(json::parse(again.body).at("filter_id").as_string(), id);
  Response got = Call("GET", "/user/@alice:localhost/filter/" + id, alice_);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(json::parse(got.body), json::parse(filter));
}

TEST_F(FilterRoutesTest, FiltersBelongToTheirOwnerAndBadIdsAreNotFound) {
  EXPECT_EQ(Call("POST", "/user/@alice:localhost/filter", bob_, "{}").status, 403);
  Response posted = Call("POST", "/user/@bob:localhost/filter", bob_, "{}");
  std::string id(json::parse(posted.body).at("filter_id").as_string());
  EXPECT_EQ(Call("GET", "/user/@alice:localhost/filter/" + id, bob_).status, 403);
  EXPECT_EQ(Call("GET", "/user/@bob:localhost/filter/nope", bob_).status, 404);
  EXPECT_EQ(Call("GET", "/user/@bob:localhost/filter/F!!!", bob_).status, 404);
  EXPECT_FALSE(FilterFromId("F" + std::string(8000, 'A')).has_value());
  std::string big = R"({"x":")" + std::string(kFilterBytesMax, 'a') + R"("})";
  EXPECT_EQ(Call("POST", "/user/@bob:localhost/filter", bob_, big).status, 400);
}

TEST_F(FilterRoutesTest, SyncAcceptsAnUploadedFiltersId) {
  auto room = engine_->CreateRoom({}, "@alice:localhost");
  ASSERT_TRUE(room.ok());
  for (int i = 0; i < 3; ++i) {
    core::SendEventRequest m;
    m.room_id = room->room_id;
    m.sender = "@alice:localhost";
    m.type = "m.room.message";
    m.content = json::object{{"msgtype", "m.text"}, {"body", std::to_string(i)}};
    ASSERT_TRUE(engine_->SendEvent(m).ok());
  }
  Response posted = Call("POST", "/user/@alice:localhost/filter", alice_,
                         R"({"room":{"timeline":{"limit":1}}})");
  std::string id(json::parse(posted.body).at("filter_id").as_string());
  Response sync = Call("GET", "/sync?filter=" + id, alice_);
  ASSERT_EQ(sync.status, 200) << sync.body;
  json::value timeline =
      json::parse(sync.body).at("rooms").at("join").at(room->room_id).at("timeline");
  EXPECT_EQ(timeline.at("events").as_array().size(), 1u);
  EXPECT_TRUE(timeline.at("limited").as_bool());
  EXPECT_EQ(Call("GET", "/sync?filter=Fnot-a-filter", alice_).status, 404);
}

json::array Patterns(size_t count, size_t bytes) {
  json::array list;
  for (size_t i = 0; i < count; ++i) list.emplace_back(std::string(bytes, 'a'));
  return list;
}

TEST(CheckFilterPatternsTest, ChecksEveryGlobListAtItsCaps) {
  EXPECT_TRUE(CheckFilterPatterns({}).ok());
  EXPECT_TRUE(CheckFilterPatterns({{"types", Patterns(kFilterPatternsMax, 1)}}).ok());
  EXPECT_TRUE(CheckFilterPatterns({{"types", Patterns(1, kGlobPatternBytesMax)}}).ok());
  const json::array too_many = Patterns(kFilterPatternsMax + 1, 1);
  const json::array too_long = Patterns(1, kGlobPatternBytesMax + 1);
  for (const json::array* list : {&too_many, &too_long}) {
    for (const json::object& filter :
         {json::object{{"types", *list}}, json::object{{"not_types", *list}},
          json::object{{"presence", {{"types", *list}}}},
          json::object{{"account_data", {{"not_types", *list}}}},
          json::object{{"room", {{"timeline", {{"types", *list}}}}}},
          json::object{{"room", {{"state", {{"not_types", *list}}}}}},
          json::object{{"room", {{"ephemeral", {{"types", *list}}}}}},
          json::object{{"room", {{"account_data", {{"types", *list}}}}}}}) {
      Status status = CheckFilterPatterns(filter);
      EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << json::serialize(filter);
    }
  }
  Status named = CheckFilterPatterns({{"room", {{"timeline", {{"types", too_many}}}}}});
  EXPECT_NE(named.message().find("room.timeline.types"), std::string::npos) << named.message();
  EXPECT_FALSE(CheckFilterPatterns({{"types", json::array{1}}}).ok());
  EXPECT_FALSE(CheckFilterPatterns({{"types", "m.*"}}).ok());
  EXPECT_FALSE(CheckFilterPatterns({{"room", {{"timeline", 1}}}}).ok());
}

TEST_F(FilterRoutesTest, UploadAndInlineSyncRefuseFiltersOverThePatternCaps) {
  for (const json::array& types :
       {Patterns(kFilterPatternsMax + 1, 1), Patterns(1, kGlobPatternBytesMax + 1)}) {
    const std::string filter =
        json::serialize(json::object{{"room", {{"timeline", {{"types", types}}}}}});
    Response posted = Call("POST", "/user/@alice:localhost/filter", alice_, filter);
    EXPECT_EQ(posted.status, 400) << posted.body;
    EXPECT_EQ(json::parse(posted.body).at("errcode"), "M_BAD_JSON");
    EXPECT_FALSE(json::parse(posted.body).as_object().contains("filter_id"));
    Response synced = Call("GET", "/sync?filter=" + api::testing::PercentEncode(filter), alice_);
    EXPECT_EQ(synced.status, 400) << synced.body;
    EXPECT_EQ(json::parse(synced.body).at("errcode"), "M_INVALID_PARAM");
  }
  // A malformed field /sync would refuse is refused on upload too.
  Response bad = Call("POST", "/user/@alice:localhost/filter", alice_,
                      R"({"room":{"timeline":{"limit":"ten"}}})");
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(json::parse(bad.body).at("errcode"), "M_BAD_JSON");
  // At the caps, the upload succeeds.
  const std::string full = json::serialize(
      json::object{{"room", {{"timeline", {{"types", Patterns(kFilterPatternsMax, 1)}}}}}});
  EXPECT_EQ(Call("POST", "/user/@alice:localhost/filter", alice_, full).status, 200);
}

}  // namespace
}  // namespace nebu::api
