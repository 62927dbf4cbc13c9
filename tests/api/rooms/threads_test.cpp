// Goal: GET /_matrix/client/v1/rooms/{roomId}/threads lists thread roots by latest
// activity with their m.thread aggregation (latest_event, count,
// current_user_participated), include=participated filters, redactions and history
// visibility are respected; m.replace aggregations name the newest valid edit; and
// GET /timestamp_to_event finds the closest visible event in each direction. Attacks:
// a room the caller is not in, bad tokens, bad limits and parameters.
// Method: a real engine; requests over real HTTP on loopback (rooms_testing.h).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "api/rooms/misc_routes.h"
#include "api/rooms/threads_routes.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

class ThreadsTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    AddMiscRoutes(router_, *engine_);
    AddThreadsRoutes(router_, *engine_);
    alice_ = Register("alice");
    bob_ = Register("bob");
    carol_ = Register("carol");
    room_ = CreateRoom(alice_, {{"preset", "public_chat"}});
    EXPECT_EQ(Post(bob_, "/join/" + room_), 200);
  }

  // Sends an event of `type` with `content`; returns its id.
  std::string SendContent(const std::string& token, const json::object& content,
                          const std::string& type = "m.room.message") {
    Response r = Call("PUT", "/rooms/" + room_ + "/send/" + type + "/t" + std::to_string(++txn_),
                      token, content);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(Body(r).at("event_id").as_string()) : "";
  }
  std::string Reply(const std::string& token, const std::string& root, const std::string& text) {
    return SendContent(token, {{"msgtype", "m.text"},
                               {"body", text},
                               {"m.relates_to", {{"rel_type", "m.thread"}, {"event_id", root}}}});
  }
  std::string Edit(const std::string& token, const std::string& original, const std::string& text) {
    return SendContent(token, {{"msgtype", "m.text"},
                               {"body", "* " + text},
                               {"m.new_content", {{"msgtype", "m.text"}, {"body", text}}},
                               {"m.relates_to", {{"rel_type", "m.replace"}, {"event_id", original}}}});
  }
  Response Threads(const std::string& token, const std::string& query = "",
                   const std::string& room = "") {
    return Call(
        "GET",
        std::string(kClientV1) + "/rooms/" + (room.empty() ? room_ : room) + "/threads" + query,
        token);
  }
  // The root IDs of a 200 /threads answer, in order.
  static std::vector<std::string> RootIds(const Response& r) {
    std::vector<std::string> ids;
    const json::value body = Body(r);
    for (const json::value& e : body.at("chunk").as_array()) {
      ids.emplace_back(e.at("event_id").as_string());
    }
    return ids;
  }
  json::object GetEvent(const std::string& token, const std::string& id) {
    Response r = Call("GET", "/rooms/" + room_ + "/event/" + id, token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? Body(r).as_object() : json::object{};
  }
  void Redact(const std::string& token, const std::string& id) {
    Response r = Call("PUT", "/rooms/" + room_ + "/redact/" + id + "/r" + std::to_string(++txn_),
                      token, json::object{});
    EXPECT_EQ(r.status, 200) << r.body;
  }

  std::string alice_, bob_, carol_, room_;
};

TEST_F(ThreadsTest, ListsRootsByLatestActivityWithTheThreadAggregation) {
  const std::string first = Send(alice_, room_, "first root");
  const std::string second = Send(bob_, room_, "second root");
  Send(alice_, room_, "not a thread");
  Reply(bob_, first, "r1");
  const std::string r2 = Reply(alice_, second, "r2");
  const std::string r3 = Reply(bob_, first, "r3");  // `first` is now the most active

  Response r = Threads(carol_);  // carol has not joined the public room: 403
  EXPECT_EQ(r.status, 403) << r.body;
  r = Threads(alice_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(RootIds(r), (std::vector<std::string>{first, second}));
  EXPECT_FALSE(Body(r).as_object().contains("next_batch"));
  const json::value listed = Body(r);
  const json::value& thread = listed.at("chunk").at(0).at("unsigned").at("m.relations").at("m.thread");
  EXPECT_EQ(thread.at("count"), json::value(2));
  EXPECT_EQ(thread.at("latest_event").at("event_id"), json::value(r3));
  EXPECT_EQ(thread.at("latest_event").at("content").at("body"), json::value("r3"));
  EXPECT_EQ(thread.at("current_user_participated"), json::value(true));  // alice sent the root

  // The same aggregation wherever the root is served: /event, /messages, /context.
  json::object served = GetEvent(bob_, second);
  const json::value& second_thread = served.at("unsigned").at("m.relations").at("m.thread");
  EXPECT_EQ(second_thread.at("count"), json::value(1));
  EXPECT_EQ(second_thread.at("latest_event").at("event_id"), json::value(r2));
  EXPECT_EQ(second_thread.at("current_user_participated"), json::value(true));  // bob's root
  Response messages = Call("GET", "/rooms/" + room_ + "/messages?dir=b&limit=50", carol_);
  EXPECT_EQ(messages.status, 403);
  messages = Call("GET", "/rooms/" + room_ + "/messages?dir=b&limit=50", alice_);
  ASSERT_EQ(messages.status, 200);
  bool seen = false;
  const json::value page = Body(messages);
  for (const json::value& e : page.at("chunk").as_array()) {
    if (e.at("event_id") != json::value(first)) continue;
    seen = true;
    EXPECT_EQ(e.at("unsigned").at("m.relations").at("m.thread").at("count"), json::value(2));
  }
  EXPECT_TRUE(seen);
  Response context = Call("GET", "/rooms/" + room_ + "/context/" + first, bob_);
  ASSERT_EQ(context.status, 200);
  EXPECT_EQ(Body(context).at("event").at("unsigned").at("m.relations").at("m.thread").at("count"),
            json::value(2));
}

TEST_F(ThreadsTest, ParticipatedListsOnlyThreadsOfTheCaller) {
  Post(carol_, "/join/" + room_);
  const std::string alices = Send(alice_, room_, "alice's root");
  const std::string bobs = Send(bob_, room_, "bob's root");
  const std::string both = Send(bob_, room_, "bob's root alice replied in");
  Reply(carol_, alices, "carol");
  Reply(carol_, bobs, "carol");
  Reply(alice_, both, "alice");
  Response r = Threads(alice_, "?include=participated");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(RootIds(r), (std::vector<std::string>{both, alices}));
  r = Threads(carol_, "?include=participated");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(RootIds(r), (std::vector<std::string>{bobs, alices}));
  // carol replied in two threads, did not in the third
  json::object served = GetEvent(carol_, both);
  EXPECT_EQ(served.at("unsigned").at("m.relations").at("m.thread").at("current_user_participated"),
            json::value(false));
  EXPECT_EQ(Threads(alice_, "?include=mine").status, 400);
  EXPECT_EQ(ErrCode(Threads(alice_, "?include=mine")), "M_INVALID_PARAM");
}

TEST_F(ThreadsTest, PagesWithNextBatchAndRefusesBadLimitsAndTokens) {
  std::vector<std::string> roots;
  for (int i = 0; i < 5; ++i) {
    roots.push_back(Send(alice_, room_, "root " + std::to_string(i)));
    Reply(bob_, roots.back(), "reply");
  }
  std::vector<std::string> seen;
  std::string query = "?limit=2";
  for (int page = 0; page < 5; ++page) {  // bounded: 5 roots, 2 a page
    Response r = Threads(alice_, query);
    ASSERT_EQ(r.status, 200) << r.body;
    for (const std::string& id : RootIds(r)) seen.push_back(id);
    const json::value parsed = Body(r);
    const json::object& body = parsed.as_object();
    if (!body.contains("next_batch")) break;
    query = "?limit=2&from=" + std::string(body.at("next_batch").as_string());
  }
  EXPECT_EQ(seen, (std::vector<std::string>{roots[4], roots[3], roots[2], roots[1], roots[0]}));
  for (const char* bad : {"?limit=0", "?limit=-1", "?limit=x", "?from=nonsense", "?from=s",
                          "?from=s0", "?from=s12x"}) {
    Response r = Threads(alice_, bad);
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
    EXPECT_EQ(ErrCode(r), "M_INVALID_PARAM") << bad;
  }
  // A huge limit is lowered, not refused.
  Response huge = Threads(alice_, "?limit=1000000");
  ASSERT_EQ(huge.status, 200);
  EXPECT_EQ(RootIds(huge).size(), 5u);
  // No token, a bad token, an unknown room.
  EXPECT_EQ(Threads("").status, 401);
  EXPECT_EQ(Threads("not-a-token").status, 401);
  EXPECT_EQ(Threads(alice_, "", "!nope:localhost").status, 403);
}

TEST_F(ThreadsTest, RedactedRepliesLeaveCountAndLatestAndAllRedactedThreadsTheList) {
  const std::string root = Send(alice_, room_, "root");
  const std::string r1 = Reply(bob_, root, "one");
  const std::string r2 = Reply(bob_, root, "two");
  Redact(bob_, r2);
  json::object served = GetEvent(alice_, root);
  const json::value& thread = served.at("unsigned").at("m.relations").at("m.thread");
  EXPECT_EQ(thread.at("count"), json::value(1));
  EXPECT_EQ(thread.at("latest_event").at("event_id"), json::value(r1));
  Redact(bob_, r1);
  served = GetEvent(alice_, root);
  EXPECT_FALSE(served.at("unsigned").as_object().contains("m.relations")) << served;
  Response r = Threads(alice_);
  ASSERT_EQ(r.status, 200);
  EXPECT_TRUE(RootIds(r).empty());

  // A redacted root stays a thread root, served redacted.
  const std::string other = Send(bob_, room_, "other root");
  Reply(alice_, other, "reply");
  Redact(bob_, other);
  r = Threads(alice_);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(RootIds(r), (std::vector<std::string>{other}));
  EXPECT_TRUE(Body(r).at("chunk").at(0).at("content").as_object().empty());
  EXPECT_EQ(Body(r).at("chunk").at(0).at("unsigned").at("m.relations").at("m.thread").at("count"),
            json::value(1));
}

TEST_F(ThreadsTest, HistoryVisibilityHidesRepliesAfterTheCallerLeft) {
  const std::string root = Send(alice_, room_, "root");
  const std::string before = Reply(alice_, root, "before bob left");
  EXPECT_EQ(Post(bob_, "/rooms/" + room_ + "/leave"), 200);
  Reply(alice_, root, "after bob left");
  Response r = Threads(bob_);
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(RootIds(r), (std::vector<std::string>{root}));
  const json::value listed = Body(r);
  const json::value& thread = listed.at("chunk").at(0).at("unsigned").at("m.relations").at("m.thread");
  EXPECT_EQ(thread.at("count"), json::value(1));
  EXPECT_EQ(thread.at("latest_event").at("event_id"), json::value(before));
  // A thread begun after bob left is not his to see.
  const std::string later = Send(alice_, room_, "later root");
  Reply(alice_, later, "reply");
  r = Threads(bob_);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(RootIds(r), (std::vector<std::string>{root}));
}

TEST_F(ThreadsTest, ReplaceAggregationNamesTheNewestValidEditAndKeepsTheContent) {
  const std::string original = Send(alice_, room_, "I like cake");
  Edit(alice_, original, "I like chocolate cake");
  clock_.AdvanceMs(10);
  const std::string newest = Edit(alice_, original, "I like cheese cake");
  clock_.AdvanceMs(10);
  Edit(bob_, original, "bob may not edit alice");  // another sender: not valid
  json::object served = GetEvent(bob_, original);
  EXPECT_EQ(served.at("content").at("body"), json::value("I like cake"));
  const json::value& edit = served.at("unsigned").at("m.relations").at("m.replace");
  EXPECT_EQ(edit.at("event_id"), json::value(newest));
  EXPECT_EQ(edit.at("content").at("m.new_content").at("body"), json::value("I like cheese cake"));
  // An edit in a thread reply shows inside latest_event.
  const std::string root = Send(bob_, room_, "root");
  const std::string reply = Reply(alice_, root, "reply");
  const std::string reply_edit = Edit(alice_, reply, "reply, edited");
  served = GetEvent(bob_, root);
  const json::value& latest =
      served.at("unsigned").at("m.relations").at("m.thread").at("latest_event");
  EXPECT_EQ(latest.at("unsigned").at("m.relations").at("m.replace").at("event_id"),
            json::value(reply_edit));
  // A redacted original carries no m.replace.
  Redact(alice_, original);
  served = GetEvent(bob_, original);
  EXPECT_FALSE(served.at("unsigned").as_object().contains("m.relations")) << served;
}

TEST_F(ThreadsTest, AThreadCannotStartOffAnEventWithARelation) {
  const std::string root = Send(alice_, room_, "root");
  const std::string reply = Reply(bob_, root, "reply");
  const std::string reaction = SendContent(
      bob_, {{"m.relates_to", {{"rel_type", "m.annotation"}, {"event_id", root}, {"key", "+1"}}}},
      "m.reaction");
  for (const std::string& target : {reply, reaction}) {
    Response r = Call("PUT", "/rooms/" + room_ + "/send/m.room.message/bad" + std::to_string(++txn_),
                      alice_,
                      json::object{{"msgtype", "m.text"},
                                   {"body", "nested"},
                                   {"m.relates_to", {{"rel_type", "m.thread"}, {"event_id", target}}}});
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(ErrCode(r), "M_UNKNOWN");
  }
  Response r = Threads(alice_);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(RootIds(r), (std::vector<std::string>{root}));
  // A root this server does not hold is not checked.
  EXPECT_FALSE(Reply(alice_, "$elsewhere:example.org", "unknown root").empty());
}

TEST_F(ThreadsTest, TimestampToEventFindsTheClosestVisibleEventEachWay) {
  clock_.AdvanceMs(1'000);
  const int64_t t1 = clock_.NowUnixMs();
  const std::string e1 = Send(alice_, room_, "one");
  clock_.AdvanceMs(1'000);
  const std::string e2 = Send(alice_, room_, "two");
  const int64_t t2 = clock_.NowUnixMs();
  clock_.AdvanceMs(1'000);
  const std::string e3 = Send(alice_, room_, "three");
  auto find = [&](const std::string& token, int64_t ts, const char* dir) {
    return Call("GET",
                std::string(kClientV1) + "/rooms/" + room_ +
                    "/timestamp_to_event?ts=" + std::to_string(ts) + "&dir=" + dir,
                token);
  };
  Response r = find(alice_, t1 + 500, "f");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("event_id"), json::value(e2));
  EXPECT_EQ(Body(r).at("origin_server_ts"), json::value(t2));
  r = find(alice_, t1 + 500, "b");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("event_id"), json::value(e1));
  r = find(alice_, t2, "b");
  EXPECT_EQ(Body(r).at("event_id"), json::value(e2));
  r = find(alice_, t2 + 5'000, "f");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrCode(r), "M_NOT_FOUND");
  r = find(alice_, t2 + 5'000, "b");
  EXPECT_EQ(Body(r).at("event_id"), json::value(e3));
  r = find(alice_, 0, "b");
  EXPECT_EQ(r.status, 404);
  // Attacks and bad input.
  EXPECT_EQ(find(carol_, t1, "f").status, 403);
  EXPECT_EQ(find("", t1, "f").status, 401);
  EXPECT_EQ(find(alice_, t1, "x").status, 400);
  EXPECT_EQ(
      Call("GET", std::string(kClientV1) + "/rooms/" + room_ + "/timestamp_to_event?ts=abc&dir=f",
           alice_)
          .status,
      400);
  r = Call("GET", std::string(kClientV1) + "/rooms/" + room_ + "/timestamp_to_event?dir=f", alice_);
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrCode(r), "M_MISSING_PARAM");
}

}  // namespace
}  // namespace nebu::api
