// Goal: POST /search finds room events by their words as search_routes.h says, only
// those the caller may see, with the spec's response shape (rank, context, profile,
// state, groups, highlights, count, next_batch), and refuses bad requests with the
// spec's errors while bounding the work of hostile ones.
// Method: RoomsApiTest (a real Engine and server on loopback) with the search route;
// rooms and messages made over HTTP (10,000 messages through Engine::SendEvent for
// speed), searches over HTTP.
#include <gtest/gtest.h>

#include <chrono>
#include <set>

#include "api/search/search_routes.h"
#include "engine/search/search_index.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

class SearchRoutesTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    AddSearchRoutes(router_, *engine_);
  }

  Response Search(const std::string& token, json::object criteria,
                  const std::string& next_batch = "") {
    std::string path = "/search";
    if (!next_batch.empty()) path += "?next_batch=" + next_batch;
    return Call("POST", path, token,
                json::object{{"search_categories", json::object{{"room_events", criteria}}}});
  }
  // The room_events object of a 200 answer.
  json::object RoomEvents(const Response& r) {
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return {};
    return Body(r).at("search_categories").at("room_events").as_object();
  }
  // The bodies of the results, in order.
  std::vector<std::string> Bodies(const json::object& room_events) {
    std::vector<std::string> out;
    for (const json::value& r : room_events.at("results").as_array()) {
      out.emplace_back(r.at("result").at("content").at("body").as_string());
    }
    return out;
  }
  std::vector<std::string> Find(const std::string& token, const std::string& term) {
    return Bodies(RoomEvents(Search(token, {{"search_term", term}, {"order_by", "recent"}})));
  }
  void Join(const std::string& inviter, const std::string& room, const std::string& localpart,
            const std::string& token) {
    ASSERT_EQ(Post(inviter, "/rooms/" + room + "/invite", {{"user_id", "@" + localpart + ":localhost"}}), 200);
    ASSERT_EQ(Post(token, "/rooms/" + room + "/join"), 200);
  }
};

using Strings = std::vector<std::string>;

TEST_F(SearchRoutesTest, FindsAMessageByAWordAndNotOneFromAnotherRoom) {
  const std::string alice = Register("alice"), bob = Register("bob");
  const std::string mine = CreateRoom(alice), theirs = CreateRoom(bob);
  Send(alice, mine, "Lunch at noon?");
  Send(alice, mine, "no match here");
  Send(bob, theirs, "secret lunch plans");
  EXPECT_EQ(Find(alice, "LUNCH"), Strings{"Lunch at noon?"});
  EXPECT_EQ(Find(bob, "lunch"), Strings{"secret lunch plans"});
  EXPECT_EQ(Find(alice, "lunch noon"), Strings{"Lunch at noon?"});  // every word must match
  EXPECT_EQ(Find(alice, "lunch plans"), Strings{});
  EXPECT_EQ(Find(alice, "lun"), Strings{});  // whole words, no prefix matching
  EXPECT_EQ(Find(alice, "  ...  "), Strings{});
  // Naming the other room in the filter does not let alice in.
  json::object filter{{"rooms", json::array{theirs}}};
  EXPECT_EQ(Bodies(RoomEvents(Search(alice, {{"search_term", "lunch"}, {"filter", filter}}))), Strings{});
}

TEST_F(SearchRoutesTest, ALeftRoomShowsOnlyWhatTheCallerSawAndANeverJoinedRoomNothing) {
  const std::string alice = Register("alice"), bob = Register("bob"), eve = Register("eve");
  const std::string room = CreateRoom(alice, {{"preset", "private_chat"}});
  Join(alice, room, "bob", bob);
  Send(alice, room, "pizza before");
  ASSERT_EQ(Post(bob, "/rooms/" + room + "/leave"), 200);
  Send(alice, room, "pizza after");
  EXPECT_EQ(Find(alice, "pizza"), (Strings{"pizza after", "pizza before"}));
  EXPECT_EQ(Find(bob, "pizza"), Strings{"pizza before"});
  EXPECT_EQ(Find(eve, "pizza"), Strings{});
  // Forgotten: nothing at all.
  ASSERT_EQ(Post(bob, "/rooms/" + room + "/forget"), 200);
  EXPECT_EQ(Find(bob, "pizza"), Strings{});
}

TEST_F(SearchRoutesTest, RedactedAndEncryptedEventsAreNeverResults) {
  const std::string alice = Register("alice");
  const std::string room = CreateRoom(alice);
  const std::string gone = Send(alice, room, "ephemeral words");
  Send(alice, room, "lasting words");
  ASSERT_EQ(Call("PUT", "/rooms/" + room + "/redact/" + gone + "/r1", alice, json::object{}).status, 200);
  Response sent = Call("PUT", "/rooms/" + room + "/send/m.room.encrypted/e1", alice,
                       json::object{{"algorithm", "m.megolm.v1.aes-sha2"}, {"ciphertext", "x"},
                                    {"body", "words in the clear"}});
  ASSERT_EQ(sent.status, 200) << sent.body;
  EXPECT_EQ(Find(alice, "words"), Strings{"lasting words"});
  EXPECT_EQ(Find(alice, "ephemeral"), Strings{});
}

TEST_F(SearchRoutesTest, KeysSelectNameTopicOrBody) {
  const std::string alice = Register("alice");
  const std::string room = CreateRoom(alice, {{"name", "Garden club"}, {"topic", "garden tips"}});
  Send(alice, room, "my garden");
  auto types = [&](json::array keys) {
    json::object c{{"search_term", "garden"}};
    if (!keys.empty()) c["keys"] = keys;
    std::multiset<std::string> out;
    const json::object re = RoomEvents(Search(alice, c));
    for (const json::value& r : re.at("results").as_array()) {
      out.emplace(r.at("result").at("type").as_string());
    }
    return out;
  };
  using Set = std::multiset<std::string>;
  EXPECT_EQ(types({}), (Set{"m.room.message", "m.room.name", "m.room.topic"}));
  EXPECT_EQ(types({"content.name"}), Set{"m.room.name"});
  EXPECT_EQ(types({"content.topic", "content.body"}), (Set{"m.room.message", "m.room.topic"}));
}

TEST_F(SearchRoutesTest, OrdersByRankOrRecentAndPagesWithNextBatch) {
  const std::string alice = Register("alice");
  const std::string room = CreateRoom(alice);
  Send(alice, room, "tea tea tea");
  Send(alice, room, "tea once");
  Send(alice, room, "tea tea");
  EXPECT_EQ(Bodies(RoomEvents(Search(alice, {{"search_term", "tea"}}))),
            (Strings{"tea tea tea", "tea tea", "tea once"}));
  json::object first = RoomEvents(Search(alice, {{"search_term", "tea"}}));
  EXPECT_EQ(first.at("results").at(0).at("rank").as_double(), 3.0);
  EXPECT_EQ(first.at("count").as_int64(), 3);
  EXPECT_EQ(first.at("highlights"), (json::array{"tea"}));
  for (const char* order : {"rank", "recent"}) {
    json::object c{{"search_term", "tea"}, {"order_by", order}, {"filter", {{"limit", 1}}}};
    Strings all;
    std::string next;
    for (int page = 0; page < 10; ++page) {
      json::object re = RoomEvents(Search(alice, c, next));
      for (auto& b : Bodies(re)) all.push_back(b);
      if (!re.contains("next_batch")) break;
      next = std::string(re.at("next_batch").as_string());
    }
    EXPECT_EQ(all, std::string(order) == "rank" ? (Strings{"tea tea tea", "tea tea", "tea once"})
                                                : (Strings{"tea tea", "tea once", "tea tea tea"}))
        << order;
  }
}

TEST_F(SearchRoutesTest, FiltersBySenderTypeAndRoom) {
  const std::string alice = Register("alice"), bob = Register("bob");
  const std::string one = CreateRoom(alice), two = CreateRoom(alice);
  Join(alice, one, "bob", bob);
  Send(alice, one, "kiwi from alice");
  Send(bob, one, "kiwi from bob");
  Send(alice, two, "kiwi in two");
  auto find = [&](json::object filter) {
    return Bodies(RoomEvents(Search(alice, {{"search_term", "kiwi"}, {"order_by", "recent"},
                                            {"filter", filter}})));
  };
  EXPECT_EQ(find({{"senders", {"@bob:localhost"}}}), Strings{"kiwi from bob"});
  EXPECT_EQ(find({{"not_senders", {"@bob:localhost"}}}), (Strings{"kiwi in two", "kiwi from alice"}));
  EXPECT_EQ(find({{"rooms", {two}}}), Strings{"kiwi in two"});
  EXPECT_EQ(find({{"not_rooms", {two}}}), (Strings{"kiwi from bob", "kiwi from alice"}));
  EXPECT_EQ(find({{"types", {"m.room.*"}}}).size(), 3u);
  EXPECT_EQ(find({{"not_types", {"m.room.message"}}}), Strings{});
}

TEST_F(SearchRoutesTest, GivesContextProfileStateAndGroups) {
  const std::string alice = Register("alice"), bob = Register("bob");
  const std::string room = CreateRoom(alice, {{"name", "Den"}});
  Join(alice, room, "bob", bob);
  Send(alice, room, "one");
  Send(bob, room, "target word");
  Send(alice, room, "three");
  json::object re = RoomEvents(Search(
      alice, {{"search_term", "target"},
              {"event_context", {{"before_limit", 1}, {"after_limit", 2}, {"include_profile", true}}},
              {"include_state", true},
              {"groupings", {{"group_by", json::array{{{"key", "room_id"}}, {{"key", "sender"}}}}}}}));
  ASSERT_EQ(re.at("results").as_array().size(), 1u);
  const json::object& result = re.at("results").at(0).as_object();
  const std::string id(result.at("result").at("event_id").as_string());
  const json::object& context = result.at("context").as_object();
  ASSERT_EQ(context.at("events_before").as_array().size(), 1u);
  EXPECT_EQ(context.at("events_before").at(0).at("content").at("body"), "one");
  ASSERT_EQ(context.at("events_after").as_array().size(), 1u);
  EXPECT_EQ(context.at("events_after").at(0).at("content").at("body"), "three");
  EXPECT_TRUE(context.at("start").is_string());
  EXPECT_TRUE(context.at("end").is_string());
  EXPECT_EQ(context.at("profile_info").at("@bob:localhost").at("displayname"), "bob");
  bool has_name = false;
  for (const json::value& e : re.at("state").at(room).as_array()) {
    has_name = has_name || e.at("type") == "m.room.name";
  }
  EXPECT_TRUE(has_name);
  EXPECT_EQ(re.at("groups").at("room_id").at(room).at("results"), (json::array{id}));
  EXPECT_EQ(re.at("groups").at("room_id").at(room).at("order"), 1);
  EXPECT_EQ(re.at("groups").at("sender").at("@bob:localhost").at("results"), (json::array{id}));
  EXPECT_FALSE(re.at("groups").at("room_id").at(room).as_object().contains("next_batch"));
}

TEST_F(SearchRoutesTest, RefusesBadRequestsWithTheSpecErrors) {
  const std::string alice = Register("alice");
  auto err = [&](const std::string& body, const std::string& next = "") {
    Response r = Call("POST", "/search" + (next.empty() ? "" : "?next_batch=" + next), alice, body);
    return std::to_string(r.status) + " " + ErrCode(r);
  };
  EXPECT_EQ(err(R"({"search_categories":{"users":{"search_term":"x"}}})"), "400 M_INVALID_PARAM");
  EXPECT_EQ(err(R"({"search_categories":{"room_events":{}}})"), "400 M_BAD_JSON");
  EXPECT_EQ(err(R"({"search_categories":{"room_events":{"search_term":1}}})"), "400 M_BAD_JSON");
  EXPECT_EQ(err(R"({})"), "400 M_BAD_JSON");
  EXPECT_EQ(err("not json"), "400 M_NOT_JSON");
  const std::string ok = R"({"search_categories":{"room_events":{"search_term":"x")";
  EXPECT_EQ(err(ok + R"(,"order_by":"best"}}})"), "400 M_INVALID_PARAM");
  EXPECT_EQ(err(ok + R"(,"keys":["content.sender"]}}})"), "400 M_INVALID_PARAM");
  EXPECT_EQ(err(ok + R"(,"keys":"content.body"}}})"), "400 M_BAD_JSON");
  EXPECT_EQ(err(ok + R"(,"filter":{"limit":"ten"}}}})"), "400 M_BAD_JSON");
  EXPECT_EQ(err(ok + R"(,"groupings":{"group_by":[{"key":"type"}]}}}})"), "400 M_INVALID_PARAM");
  EXPECT_EQ(err(ok + "}}}", "garbage"), "400 M_INVALID_PARAM");
  EXPECT_EQ(err(ok + "}}}", "n1.2"), "400 M_INVALID_PARAM");
  EXPECT_EQ(err(ok + "}}}"), "200 ");
  EXPECT_EQ(err(R"({"search_categories":{}})"), "200 ");
  Response anonymous = Call("POST", "/search", "", ok + "}}}");
  EXPECT_EQ(anonymous.status, 401);
}

TEST_F(SearchRoutesTest, HugeTermsAreCutOrRefusedCheaply) {
  const std::string alice = Register("alice");
  const std::string room = CreateRoom(alice);
  Send(alice, room, std::string(100, 'z') + " tail");
  // One 50,000-byte word: cut to kSearchTokenBytesMax like the indexed word, so it
  // finds the message whose word was cut the same way.
  EXPECT_EQ(Find(alice, std::string(50'000, 'z')).size(), 1u);
  // More distinct words than a query may have.
  std::string many;
  for (size_t i = 0; i <= search::kSearchQueryWordsMax; ++i) many += "w" + std::to_string(i) + " ";
  Response r = Search(alice, {{"search_term", many}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrCode(r), "M_INVALID_PARAM");
  // Repeated words count once.
  std::string repeated;
  for (int i = 0; i < 5000; ++i) repeated += "tail ";
  EXPECT_EQ(Find(alice, repeated).size(), 1u);
}

TEST_F(SearchRoutesTest, TenThousandMatchesArePagedWithinTheBounds) {
  const std::string alice = Register("alice");
  const std::string room = CreateRoom(alice);
  constexpr int kMessages = 10'000;
  for (int i = 0; i < kMessages; ++i) {
    core::SendEventRequest r;
    r.room_id = room;
    r.sender = "@alice:localhost";
    r.type = "m.room.message";
    r.content = json::object{{"msgtype", "m.text"}, {"body", "flood " + std::to_string(i)}};
    ASSERT_TRUE(engine_->SendEvent(std::move(r)).ok());
  }
  const auto started = std::chrono::steady_clock::now();
  json::object re = RoomEvents(Search(alice, {{"search_term", "flood"}, {"order_by", "recent"},
                                              {"filter", {{"limit", 1000}}}}));
  const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started).count();
  std::cout << "10,000 matches, first page of " << kSearchLimitMax << ": " << ms << " ms\n";
  EXPECT_EQ(re.at("results").as_array().size(), kSearchLimitMax);  // the limit is capped
  EXPECT_EQ(re.at("count").as_int64(), kMessages);
  EXPECT_EQ(re.at("results").at(0).at("result").at("content").at("body"), "flood 9999");
  // Walk every page: each event once, newest first.
  std::string next(re.at("next_batch").as_string());
  int seen = kSearchLimitMax, pages = 1;
  int expect = kMessages - 1 - static_cast<int>(kSearchLimitMax);
  while (!next.empty() && pages < 200) {
    json::object page = RoomEvents(Search(alice, {{"search_term", "flood"}, {"order_by", "recent"},
                                                  {"filter", {{"limit", 100}}}}, next));
    for (const auto& b : Bodies(page)) {
      ASSERT_EQ(b, "flood " + std::to_string(expect--));
      ++seen;
    }
    next = page.contains("next_batch") ? std::string(page.at("next_batch").as_string()) : "";
    ++pages;
  }
  EXPECT_EQ(seen, kMessages);
}

}  // namespace
}  // namespace nebu::api
