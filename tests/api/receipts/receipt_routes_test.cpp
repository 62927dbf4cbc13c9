// Goal: POST /receipt, POST /read_markers and PUT /typing do what the spec says for a
// joined user, refuse everyone else with the spec's errors and change nothing then,
// and a fractional tag order (what Element sends) is kept exactly.
// Method: ReceiptsApiTest (real engine on tmpfs, Router::Handle); receipts are read
// back with receipts::ReceiptsInRoom, read markers through the account-data routes,
// typing through the TypingTracker.
#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "engine/receipts/receipts.h"
#include "tests/api/receipts/receipts_api_testing.h"

namespace nebu::api {
namespace {

const std::string kUnknownEvent = "$" + std::string(43, 'A');  // well-formed, never sent

class ReceiptRoutesTest : public ReceiptsApiTest {
 protected:
  Response PostReceipt(const std::string& token, const std::string& type,
                       const std::string& event_id, const json::object& body = {},
                       const std::string& room = "") {
    return Call("POST",
                "/rooms/" + (room.empty() ? room_ : room) + "/receipt/" + type + "/" + event_id,
                token, body);
  }
  std::vector<receipts::Receipt> Receipts() {
    auto receipts = receipts::ReceiptsInRoom(engine_->store(), engine_->GetRoom(room_)->number, 0,
                                             engine_->stream_position());
    EXPECT_TRUE(receipts.ok()) << receipts.status().ToString();
    return receipts.ok() ? *receipts : std::vector<receipts::Receipt>{};
  }
  Response FullyRead(const std::string& token, const std::string& user) {
    return Call("GET", "/user/" + user + "/rooms/" + room_ + "/account_data/m.fully_read", token);
  }
  void ExpectError(const Response& r, int status, const std::string& errcode) {
    EXPECT_EQ(r.status, status) << r.body;
    EXPECT_EQ(ErrCode(r), errcode) << r.body;
  }
};

TEST_F(ReceiptRoutesTest, ReadReceiptsAreStoredPerTypeAndThread) {
  Response r = PostReceipt(bob_, "m.read", messages_[1]);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r), json::value(json::object{}));
  ASSERT_EQ(PostReceipt(bob_, "m.read.private", messages_[2]).status, 200);
  ASSERT_EQ(PostReceipt(bob_, "m.read", messages_[2], {{"thread_id", "main"}}).status, 200);
  // An empty body (no JSON at all) is fine too.
  ASSERT_EQ(
      Call("POST", "/rooms/" + room_ + "/receipt/m.read/" + messages_[0], alice_, std::string())
          .status,
      200);
  std::vector<receipts::Receipt> all = Receipts();
  ASSERT_EQ(all.size(), 4u);
  EXPECT_EQ(all[0].user_id, "@bob:localhost");
  EXPECT_EQ(all[0].type, "m.read");
  EXPECT_EQ(all[0].event_id, messages_[1]);
  EXPECT_EQ(all[0].thread_id, "");
  EXPECT_EQ(all[0].ts, clock_.NowUnixMs());  // decided by the receiving node
  EXPECT_EQ(all[1].type, "m.read.private");
  EXPECT_EQ(all[2].thread_id, "main");
  EXPECT_EQ(all[3].user_id, "@alice:localhost");
  // An earlier event does not move a receipt back (and still answers 200).
  EXPECT_EQ(PostReceipt(bob_, "m.read", messages_[0]).status, 200);
  EXPECT_EQ(Receipts()[0].event_id, messages_[1]);
}

TEST_F(ReceiptRoutesTest, ReceiptErrorsFollowTheSpecAndChangeNothing) {
  const auto before = engine_->stream_position();
  ExpectError(PostReceipt(carol_, "m.read", messages_[0]), 403, "M_FORBIDDEN");
  ExpectError(PostReceipt(bob_, "m.read", messages_[0], {}, "!nope:localhost"), 403, "M_FORBIDDEN");
  ExpectError(PostReceipt(bob_, "m.read", kUnknownEvent), 404, "M_NOT_FOUND");
  ExpectError(PostReceipt(bob_, "m.read", "not-an-event"), 400, "M_INVALID_PARAM");
  ExpectError(PostReceipt(bob_, "m.unknown", messages_[0]), 400, "M_INVALID_PARAM");
  ExpectError(PostReceipt(bob_, "m.read", messages_[0], {{"thread_id", ""}}), 400,
              "M_INVALID_PARAM");
  ExpectError(PostReceipt(bob_, "m.read", messages_[0], {{"thread_id", 5}}), 400,
              "M_INVALID_PARAM");
  ExpectError(PostReceipt(bob_, "m.read", messages_[0], {{"thread_id", "t1"}}), 400,
              "M_INVALID_PARAM");
  ExpectError(PostReceipt(bob_, "m.fully_read", messages_[0], {{"thread_id", "main"}}), 400,
              "M_INVALID_PARAM");
  ExpectError(PostReceipt("", "m.read", messages_[0]), 401, "M_MISSING_TOKEN");
  ExpectError(
      Call("POST", "/rooms/" + room_ + "/receipt/m.read/" + messages_[0], bob_, std::string("[1]")),
      400, "M_BAD_JSON");
  // An event of another room is not in this one.
  const std::string other = CreateRoom(bob_);
  const std::string foreign = Send(bob_, other, "elsewhere");
  const auto after_setup = engine_->stream_position();
  ExpectError(PostReceipt(bob_, "m.read", foreign), 404, "M_NOT_FOUND");
  EXPECT_EQ(engine_->stream_position(), after_setup);
  EXPECT_GT(after_setup, before);
  EXPECT_TRUE(Receipts().empty());
}

TEST_F(ReceiptRoutesTest, FullyReadMarkerIsRoomAccountData) {
  ExpectError(FullyRead(bob_, "@bob:localhost"), 404, "M_NOT_FOUND");
  ASSERT_EQ(PostReceipt(bob_, "m.fully_read", messages_[0]).status, 200);
  Response marker = FullyRead(bob_, "@bob:localhost");
  ASSERT_EQ(marker.status, 200) << marker.body;
  EXPECT_EQ(Body(marker), json::value(json::object{{"event_id", messages_[0]}}));
  EXPECT_TRUE(Receipts().empty());  // m.fully_read is not a receipt
  // The generic account-data endpoint still refuses the reserved type.
  ExpectError(Call("PUT", "/user/@bob:localhost/rooms/" + room_ + "/account_data/m.fully_read",
                   bob_, json::object{{"event_id", messages_[1]}}),
              405, "M_BAD_JSON");
}

TEST_F(ReceiptRoutesTest, ReadMarkersSetsTheMarkerAndBothReceiptsAtOnce) {
  Response r = Call("POST", "/rooms/" + room_ + "/read_markers", bob_,
                    json::object{{"m.fully_read", messages_[1]},
                                 {"m.read", messages_[2]},
                                 {"m.read.private", messages_[2]}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(FullyRead(bob_, "@bob:localhost")),
            json::value(json::object{{"event_id", messages_[1]}}));
  std::vector<receipts::Receipt> all = Receipts();
  ASSERT_EQ(all.size(), 2u);
  EXPECT_EQ(all[0].type, "m.read");
  EXPECT_EQ(all[1].type, "m.read.private");
  EXPECT_EQ(all[1].event_id, messages_[2]);
  // Only the marker (m.fully_read is no longer required, spec 1.4; nothing at all is fine).
  EXPECT_EQ(Call("POST", "/rooms/" + room_ + "/read_markers", bob_,
                 json::object{{"m.fully_read", messages_[2]}})
                .status,
            200);
  EXPECT_EQ(Body(FullyRead(bob_, "@bob:localhost")).at("event_id").as_string(), messages_[2]);
  EXPECT_EQ(Call("POST", "/rooms/" + room_ + "/read_markers", bob_, json::object{}).status, 200);
}

TEST_F(ReceiptRoutesTest, ReadMarkersErrorsChangeNothing) {
  const std::string path = "/rooms/" + room_ + "/read_markers";
  const auto before = engine_->stream_position();
  ExpectError(Call("POST", path, carol_, json::object{{"m.read", messages_[0]}}), 403,
              "M_FORBIDDEN");
  // One bad event refuses the whole request, the good marker included.
  ExpectError(Call("POST", path, bob_,
                   json::object{{"m.fully_read", messages_[0]}, {"m.read", kUnknownEvent}}),
              404, "M_NOT_FOUND");
  ExpectError(Call("POST", path, bob_, json::object{{"m.read", 7}}), 400, "M_BAD_JSON");
  EXPECT_EQ(engine_->stream_position(), before);
  ExpectError(FullyRead(bob_, "@bob:localhost"), 404, "M_NOT_FOUND");
}

TEST_F(ReceiptRoutesTest, TypingIsSetAndClearedForYourselfInAJoinedRoom) {
  const std::string path = "/rooms/" + room_ + "/typing/@bob:localhost";
  Response r = Call("PUT", path, bob_, json::object{{"typing", true}, {"timeout", 30000}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r), json::value(json::object{}));
  EXPECT_EQ(typing_.Typing(room_), (std::vector<std::string>{"@bob:localhost"}));
  // A timeout beyond the maximum is clamped, not refused; no timeout takes the default.
  ASSERT_EQ(Call("PUT", "/rooms/" + room_ + "/typing/@alice:localhost", alice_,
                 json::object{{"typing", true}, {"timeout", 3600000}})
                .status,
            200);
  EXPECT_EQ(typing_.Typing(room_),
            (std::vector<std::string>{"@alice:localhost", "@bob:localhost"}));
  ASSERT_EQ(Call("PUT", path, bob_, json::object{{"typing", false}}).status, 200);
  EXPECT_EQ(typing_.Typing(room_), (std::vector<std::string>{"@alice:localhost"}));
}

TEST_F(ReceiptRoutesTest, TypingErrors) {
  const std::string path = "/rooms/" + room_ + "/typing/@bob:localhost";
  ExpectError(Call("PUT", path, alice_, json::object{{"typing", true}}), 403, "M_FORBIDDEN");
  ExpectError(Call("PUT", "/rooms/" + room_ + "/typing/@carol:localhost", carol_,
                   json::object{{"typing", true}}),
              403, "M_FORBIDDEN");
  ExpectError(Call("PUT", "/rooms/!nope:localhost/typing/@bob:localhost", bob_,
                   json::object{{"typing", true}}),
              403, "M_FORBIDDEN");
  ExpectError(Call("PUT", path, bob_, json::object{}), 400, "M_MISSING_PARAM");
  ExpectError(Call("PUT", path, bob_, json::object{{"typing", "yes"}}), 400, "M_BAD_JSON");
  ExpectError(Call("PUT", path, bob_, json::object{{"typing", true}, {"timeout", -1}}), 400,
              "M_INVALID_PARAM");
  ExpectError(Call("PUT", path, bob_, json::object{{"typing", true}, {"timeout", "soon"}}), 400,
              "M_BAD_JSON");
  ExpectError(Call("PUT", path, "", json::object{{"typing", true}}), 401, "M_MISSING_TOKEN");
  EXPECT_TRUE(typing_.Typing(room_).empty());
}

TEST_F(ReceiptRoutesTest, FractionalTagOrderRoundTripsExactly) {
  const std::string tags = "/user/@bob:localhost/rooms/" + room_ + "/tags";
  Response put = Call("PUT", tags + "/m.lowpriority", bob_, std::string(R"({"order":0.5})"));
  ASSERT_EQ(put.status, 200) << put.body;
  ASSERT_EQ(Call("PUT", tags + "/u.work", bob_,
                 std::string(R"({"order":0.333333333333333314829616256247})"))
                .status,
            200);
  Response got = Call("GET", tags, bob_);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_NE(got.body.find(R"("m.lowpriority":{"order":0.5})"), std::string::npos) << got.body;
  const json::value body = Body(got);
  EXPECT_EQ(body.at("tags").at("m.lowpriority").at("order").as_double(), 0.5);
  EXPECT_EQ(body.at("tags").at("u.work").at("order").as_double(), 1.0 / 3.0);
  // The same content through the m.tag account data.
  Response data = Call("GET", "/user/@bob:localhost/rooms/" + room_ + "/account_data/m.tag", bob_);
  ASSERT_EQ(data.status, 200) << data.body;
  EXPECT_EQ(Body(data), body);
}

}  // namespace
}  // namespace nebu::api
