// Spec-exact pagination (issue 7, item 10), every parameter in every documented form:
// /messages takes /sync's next_batch and prev_batch and its own start and end as
// `from` and `to`, in both directions; /members?at= takes a /sync token (Element
// 1.11.80 sends one) with membership / not_membership; /relations answers under the
// spec's /_matrix/client/v1 paths (and the v3 and r0 aliases) with from, to, dir,
// limit and recurse; /context's start and end continue in /messages.
#include <set>

#include "tests/security/nebu_process.h"

namespace nebu::security {
namespace {

class PaginationTest : public SecurityTest {
 protected:
  void SetUp() override {
    Start();
    alice_ = Register("alice");
    bob_ = Register("bob");
    room_ = CreateRoom(alice_, json::object{{"preset", "public_chat"}});
  }

  std::string RoomPath() const { return "/rooms/" + Encode(room_); }

  // An initial /sync of Alice's with a timeline of at most `limit` events: next_batch
  // and the room's prev_batch.
  std::pair<std::string, std::string> SyncTokens(int limit = 2) {
    std::string filter = R"({"room":{"timeline":{"limit":)" + std::to_string(limit) + "}}}";
    HttpReply r = Call("GET", "/sync?filter=" + Encode(filter), alice_);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return {};
    json::value v = r.Json();
    const json::value& timeline = v.at("rooms").at("join").at(room_).at("timeline");
    return {std::string(v.at("next_batch").as_string()),
            std::string(timeline.at("prev_batch").as_string())};
  }

  // /messages restricted to m.room.message: the bodies, and the whole reply.
  std::vector<std::string> Bodies(const std::string& query, HttpReply* reply = nullptr) {
    std::string filter = Encode(R"({"types":["m.room.message"]})");
    HttpReply r = Call("GET", RoomPath() + "/messages?filter=" + filter + "&" + query, alice_);
    EXPECT_EQ(r.status, 200) << query << " " << r.body;
    if (reply) *reply = r;
    std::vector<std::string> out;
    if (r.status != 200) return out;
    const json::value r_body = r.Json();
    for (const json::value& e : r_body.at("chunk").as_array()) {
      out.emplace_back(e.at("content").at("body").as_string());
    }
    return out;
  }

  std::string SendJson(const std::string& type, const json::object& content) {
    HttpReply r = Call("PUT", RoomPath() + "/send/" + type + "/p" + std::to_string(++txn_), alice_,
                       content);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(r.Json().at("event_id").as_string()) : "";
  }
  std::string Annotate(const std::string& parent, const std::string& key) {
    return SendJson("m.reaction", json::object{{"m.relates_to", {{"rel_type", "m.annotation"},
                                                                 {"event_id", parent},
                                                                 {"key", key}}}});
  }

  // Event IDs of a /relations answer; the reply in *reply.
  std::vector<std::string> Relations(const std::string& target, HttpReply* reply = nullptr) {
    HttpReply r = Call("GET", target, alice_);
    EXPECT_EQ(r.status, 200) << target << " " << r.body;
    if (reply) *reply = r;
    return ChunkEventIds(r);
  }

  std::string alice_, bob_, room_;
};

using Strings = std::vector<std::string>;

TEST_F(PaginationTest, MessagesTakesSyncTokensAndItsOwnInFromAndToBothWays) {
  for (const char* body : {"m1", "m2", "m3"}) Send(alice_, room_, body);
  auto [next1, prev1] = SyncTokens(2);  // timeline m2, m3
  Send(alice_, room_, "m4");
  Send(alice_, room_, "m5");
  auto [next2, prev2] = SyncTokens(2);  // timeline m4, m5
  ASSERT_NE(next1.find('_'), std::string::npos) << "a /sync next_batch: " << next1;

  EXPECT_EQ(Bodies("dir=b&from=" + Encode(next1)), (Strings{"m3", "m2", "m1"}));
  EXPECT_EQ(Bodies("dir=f&from=" + Encode(next1)), (Strings{"m4", "m5"}));
  EXPECT_EQ(Bodies("dir=b&from=" + Encode(next2) + "&to=" + Encode(next1)), (Strings{"m5", "m4"}));
  EXPECT_EQ(Bodies("dir=f&from=" + Encode(next1) + "&to=" + Encode(next2)), (Strings{"m4", "m5"}));
  // prev_batch: just before the sync's timeline.
  EXPECT_EQ(Bodies("dir=b&from=" + Encode(prev1)), (Strings{"m1"}));
  EXPECT_EQ(Bodies("dir=b&from=" + Encode(prev2)), (Strings{"m3", "m2", "m1"}));
  EXPECT_EQ(Bodies("dir=f&from=" + Encode(prev2)), (Strings{"m4", "m5"}));
  EXPECT_EQ(Bodies("dir=f&from=" + Encode(prev1) + "&to=" + Encode(next1)), (Strings{"m2", "m3"}));
  // Its own end (continue) and start (the same page again) tokens.
  HttpReply page;
  EXPECT_EQ(Bodies("dir=b&limit=1&from=" + Encode(next2), &page), (Strings{"m5"}));
  const std::string end(page.Json().at("end").as_string());
  const std::string start(page.Json().at("start").as_string());
  EXPECT_EQ(Bodies("dir=b&limit=1&from=" + Encode(end), &page), (Strings{"m4"}));
  EXPECT_EQ(Bodies("dir=b&limit=1&from=" + Encode(start)), (Strings{"m5"}));
  EXPECT_EQ(Bodies("dir=f&limit=10&from=" + Encode(std::string(page.Json().at("end").as_string()))),
            (Strings{"m4", "m5"}));
  // No from: the live end (b) or the start (f).
  EXPECT_EQ(Bodies("dir=b&limit=2"), (Strings{"m5", "m4"}));
  EXPECT_EQ(Bodies("dir=f&limit=2"), (Strings{"m1", "m2"}));
  // Anything else is 400 M_INVALID_PARAM, for from and to alike.
  for (const std::string bad : {"garbage", "s", "s1_", "s1_x", "t5", "s-1", "s1_2_3_4_5", ""}) {
    for (const char* param : {"from", "to"}) {
      HttpReply r = Call("GET", RoomPath() + "/messages?dir=b&" + param + "=" + Encode(bad), alice_);
      EXPECT_EQ(r.status, 400) << param << "=" << bad << " " << r.body;
    }
  }
  EXPECT_EQ(Call("GET", RoomPath() + "/messages?dir=x", alice_).status, 400);
}

TEST_F(PaginationTest, MembersAtASyncTokenWithMembershipFilters) {
  auto [before_bob, prev] = SyncTokens();
  ASSERT_EQ(Join(bob_, room_), 200);
  auto members = [&](const std::string& query) {
    HttpReply r = Call("GET", RoomPath() + "/members" + query, alice_);
    EXPECT_EQ(r.status, 200) << query << " " << r.body;
    std::set<std::string> users;
    if (r.status != 200) return users;
    const json::value r_body = r.Json();
    for (const json::value& e : r_body.at("chunk").as_array()) {
      users.emplace(e.at("state_key").as_string());
    }
    return users;
  };
  const std::string alice = UserId("alice"), bob = UserId("bob");
  EXPECT_EQ(members(""), (std::set<std::string>{alice, bob}));
  EXPECT_EQ(members("?at=" + Encode(before_bob)), (std::set<std::string>{alice}));
  EXPECT_EQ(members("?at=" + Encode(prev)), (std::set<std::string>{alice}));
  auto [after_bob, prev_after] = SyncTokens();
  EXPECT_EQ(members("?at=" + Encode(after_bob)), (std::set<std::string>{alice, bob}));
  ASSERT_EQ(Call("POST", RoomPath() + "/leave", bob_, json::object{}).status, 200);
  EXPECT_EQ(members("?at=" + Encode(after_bob) + "&membership=join"),
            (std::set<std::string>{alice, bob}));
  EXPECT_EQ(members("?membership=join"), (std::set<std::string>{alice}));
  EXPECT_EQ(members("?membership=leave"), (std::set<std::string>{bob}));
  EXPECT_EQ(members("?not_membership=leave"), (std::set<std::string>{alice}));
  EXPECT_EQ(members("?not_membership=join&membership=leave"), (std::set<std::string>{bob}));
  for (const std::string bad : {"?at=garbage", "?at=s1_x", "?membership=joined", "?not_membership="}) {
    HttpReply r = Call("GET", RoomPath() + "/members" + bad, alice_);
    EXPECT_EQ(r.status, 400) << bad << " " << r.body;
    EXPECT_EQ(r.Json().at("errcode"), "M_INVALID_PARAM");
  }
}

TEST_F(PaginationTest, RelationsUnderTheSpecPathsWithEveryParameter) {
  const std::string parent = Send(alice_, room_, "parent");
  const std::string r1 = Annotate(parent, "a");
  auto [after_r1, prev] = SyncTokens();
  const std::string r2 = Annotate(parent, "b");
  const std::string t1 = SendJson(
      "m.room.message", json::object{{"msgtype", "m.text"},
                                     {"body", "in thread"},
                                     {"m.relates_to", {{"rel_type", "m.thread"}, {"event_id", parent}}}});
  const std::string x = Annotate(r1, "c");  // relates to r1: found only with recurse
  const std::string base = RoomPath() + "/relations/" + Encode(parent);
  for (const std::string prefix : {"/_matrix/client/v1", "/_matrix/client/v3", "/_matrix/client/r0"}) {
    SCOPED_TRACE(prefix);
    const std::string p = prefix + base;
    EXPECT_EQ(Relations(p), (Strings{t1, r2, r1}));
    EXPECT_EQ(Relations(p + "/m.annotation"), (Strings{r2, r1}));
    EXPECT_EQ(Relations(p + "/m.annotation/m.reaction"), (Strings{r2, r1}));
    EXPECT_EQ(Relations(p + "/m.thread/m.room.message"), (Strings{t1}));
    EXPECT_EQ(Relations(p + "/m.annotation/m.room.message"), Strings{});
    EXPECT_EQ(Relations(p + "?dir=f"), (Strings{r1, r2, t1}));
    HttpReply reply;
    EXPECT_EQ(Relations(p + "?recurse=true", &reply), (Strings{x, t1, r2, r1}));
    EXPECT_TRUE(reply.Json().as_object().contains("recursion_depth"));
    EXPECT_EQ(Relations(p + "?recurse=false"), (Strings{t1, r2, r1}));
    // limit and next_batch, both directions.
    Strings walked;
    std::string query = "?limit=1";
    for (int i = 0; i < 5; ++i) {
      Strings page = Relations(p + query, &reply);
      walked.insert(walked.end(), page.begin(), page.end());
      const json::value reply_body = reply.Json();
      const json::value* next = reply_body.as_object().if_contains("next_batch");
      if (!next) break;
      query = "?limit=1&from=" + Encode(std::string(next->as_string()));
    }
    EXPECT_EQ(walked, (Strings{t1, r2, r1}));
    EXPECT_EQ(Relations(p + "?dir=f&limit=2", &reply), (Strings{r1, r2}));
    const std::string next(reply.Json().at("next_batch").as_string());
    EXPECT_EQ(Relations(p + "?dir=f&from=" + Encode(next)), (Strings{t1}));
    // /sync tokens in from and to.
    EXPECT_EQ(Relations(p + "?from=" + Encode(after_r1)), (Strings{r1}));
    EXPECT_EQ(Relations(p + "?to=" + Encode(after_r1)), (Strings{t1, r2}));
    EXPECT_EQ(Relations(p + "?dir=f&from=" + Encode(after_r1)), (Strings{r2, t1}));
    EXPECT_EQ(Relations(p + "?dir=f&from=" + Encode(prev) + "&to=" + Encode(after_r1)), (Strings{r1}));
    for (const std::string bad : {"?dir=x", "?recurse=maybe", "?limit=abc", "?from=garbage",
                                  "?to=s1_x"}) {
      EXPECT_EQ(Call("GET", p + bad, alice_).status, 400) << bad;
    }
  }
  EXPECT_EQ(Call("GET", "/_matrix/client/v1" + RoomPath() + "/relations/" + Encode("$nope"), alice_)
                .status,
            404);
}

TEST_F(PaginationTest, ContextTokensContinueInMessages) {
  for (const char* body : {"c1", "c2", "c3", "c4", "c5"}) Send(alice_, room_, body);
  HttpReply page;
  Bodies("dir=b&limit=3", &page);  // c5 c4 c3
  const std::string middle(page.Json().at("chunk").at(2).at("event_id").as_string());  // c3
  const std::string filter = Encode(R"({"types":["m.room.message"]})");
  for (const std::string prefix : {"/_matrix/client/v3", "/_matrix/client/r0"}) {
    HttpReply r = Call("GET", prefix + RoomPath() + "/context/" + Encode(middle) +
                                  "?limit=2&filter=" + filter, alice_);
    ASSERT_EQ(r.status, 200) << r.body;
    json::value v = r.Json();
    EXPECT_EQ(v.at("event").at("content").at("body"), "c3");
    ASSERT_EQ(v.at("events_before").as_array().size(), 1u);
    EXPECT_EQ(v.at("events_before").at(0).at("content").at("body"), "c2");
    ASSERT_EQ(v.at("events_after").as_array().size(), 1u);
    EXPECT_EQ(v.at("events_after").at(0).at("content").at("body"), "c4");
    const std::string start(v.at("start").as_string()), end(v.at("end").as_string());
    EXPECT_EQ(Bodies("dir=b&from=" + Encode(start)), (Strings{"c1"}));
    EXPECT_EQ(Bodies("dir=f&from=" + Encode(end)), (Strings{"c5"}));
  }
  EXPECT_EQ(Call("GET", RoomPath() + "/context/" + Encode(middle) + "?limit=x", alice_).status, 400);
}

}  // namespace
}  // namespace nebu::security
