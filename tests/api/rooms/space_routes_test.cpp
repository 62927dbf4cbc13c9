// Goal: GET /_matrix/client/v1/rooms/{roomId}/hierarchy and
// /_matrix/client/v1/room_summary/{roomIdOrAlias} over real HTTP (rooms_testing.h):
// the walk's order, depth, suggested_only and pagination, and the visibility rule
// (private rooms of others are left out; a private space one is not in is 403).
#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <string>
#include <vector>

#include "api/rooms/space_routes.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

class SpaceRoutesTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    AddSpaceRoutes(router_, *engine_);
    alice_ = Register("alice");
    bob_ = Register("bob");
  }

  std::string Space(const std::string& token, const std::string& preset = "public_chat") {
    return CreateRoom(token, json::object{{"preset", preset},
                                          {"name", "Space"},
                                          {"creation_content", json::object{{"type", "m.space"}}}});
  }
  void AddChild(const std::string& space, const std::string& child, json::object extra = {}) {
    extra["via"] = json::array{"localhost"};
    Response r = Call("PUT", "/rooms/" + space + "/state/m.space.child/" + child, alice_, extra);
    ASSERT_EQ(r.status, 200) << r.body;
  }
  Response Hierarchy(const std::string& token, const std::string& space,
                     const std::string& query = "") {
    return Call("GET",
                std::string(kClientV1) + "/rooms/" + space + "/hierarchy" +
                    (query.empty() ? "" : "?" + query),
                token);
  }
  static std::vector<std::string> Ids(const Response& r) {
    std::vector<std::string> ids;
    const json::value body = Body(r);
    for (const json::value& room : body.at("rooms").as_array()) {
      ids.emplace_back(room.at("room_id").as_string());
    }
    return ids;
  }

  std::string alice_, bob_;
};

TEST_F(SpaceRoutesTest, HierarchyWalksChildrenDepthFirstInOrder) {
  std::string space = Space(alice_);
  std::string sub = Space(alice_);
  std::string a = CreateRoom(alice_, json::object{{"preset", "public_chat"}, {"name", "A"}});
  std::string b = CreateRoom(alice_, json::object{{"preset", "public_chat"}});
  std::string c = CreateRoom(alice_, json::object{{"preset", "public_chat"}});
  AddChild(space, b, {{"order", "b"}});
  AddChild(space, sub, {{"order", "a"}});
  AddChild(space, a);  // no order: after those with one
  AddChild(sub, c, {{"suggested", true}});
  AddChild(sub, space);  // a cycle back to the root
  Response r = Hierarchy(bob_, space);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Ids(r), (std::vector<std::string>{space, sub, c, b, a}));
  const json::value body = Body(r);
  const json::object& root = body.at("rooms").at(0).as_object();
  EXPECT_EQ(root.at("room_type").as_string(), "m.space");
  EXPECT_EQ(root.at("name").as_string(), "Space");
  EXPECT_EQ(root.at("num_joined_members").as_int64(), 1);
  EXPECT_EQ(root.at("join_rule").as_string(), "public");
  EXPECT_EQ(root.at("children_state").as_array().size(), 3u);
  const json::object& child = root.at("children_state").at(0).as_object();
  EXPECT_EQ(child.at("type").as_string(), "m.space.child");
  EXPECT_TRUE(child.contains("origin_server_ts"));
  EXPECT_FALSE(Body(r).as_object().contains("next_batch"));
  // A plain room has no children_state entries.
  EXPECT_TRUE(Body(r).at("rooms").at(4).at("children_state").as_array().empty());
}

TEST_F(SpaceRoutesTest, MaxDepthAndSuggestedOnlyCutTheWalk) {
  std::string space = Space(alice_);
  std::string sub = Space(alice_);
  std::string c = CreateRoom(alice_, json::object{{"preset", "public_chat"}});
  std::string d = CreateRoom(alice_, json::object{{"preset", "public_chat"}});
  AddChild(space, sub, {{"suggested", true}, {"order", "1"}});
  AddChild(space, d, {{"order", "2"}});
  AddChild(sub, c);
  Response r = Hierarchy(bob_, space, "max_depth=0");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Ids(r), (std::vector<std::string>{space}));
  r = Hierarchy(bob_, space, "max_depth=1");
  EXPECT_EQ(Ids(r), (std::vector<std::string>{space, sub, d}));
  r = Hierarchy(bob_, space, "suggested_only=true");
  EXPECT_EQ(Ids(r), (std::vector<std::string>{space, sub}));
}

TEST_F(SpaceRoutesTest, PaginatesWithNextBatch) {
  std::string space = Space(alice_);
  std::vector<std::string> expected{space};
  for (int i = 0; i < 4; ++i) {
    std::string room = CreateRoom(alice_, json::object{{"preset", "public_chat"}});
    AddChild(space, room, {{"order", std::to_string(i)}});
    expected.push_back(room);
  }
  std::vector<std::string> seen;
  std::string from;
  for (int page = 0; page < 10; ++page) {
    Response r = Hierarchy(bob_, space, "limit=2" + (from.empty() ? "" : "&from=" + from));
    ASSERT_EQ(r.status, 200) << r.body;
    for (std::string& id : Ids(r)) seen.push_back(std::move(id));
    if (!Body(r).as_object().contains("next_batch")) break;
    from = std::string(Body(r).at("next_batch").as_string());
  }
  EXPECT_EQ(seen, expected);
  // The token fixes max_depth and suggested_only.
  Response first = Hierarchy(bob_, space, "limit=2");
  std::string token(Body(first).at("next_batch").as_string());
  Response changed = Hierarchy(bob_, space, "limit=2&max_depth=1&from=" + token);
  EXPECT_EQ(changed.status, 400);
  EXPECT_EQ(ErrCode(changed), "M_INVALID_PARAM");
  EXPECT_EQ(Hierarchy(bob_, space, "suggested_only=true&from=" + token).status, 400);
  EXPECT_EQ(Hierarchy(bob_, space, "from=garbage").status, 400);
}

TEST_F(SpaceRoutesTest, BadParametersAreInvalidParam) {
  std::string space = Space(alice_);
  for (std::string query : {"limit=0", "limit=-1", "limit=x", "max_depth=-1",
                            "suggested_only=yes"}) {
    Response r = Hierarchy(alice_, space, query);
    EXPECT_EQ(r.status, 400) << query;
    EXPECT_EQ(ErrCode(r), "M_INVALID_PARAM") << query;
  }
  EXPECT_EQ(Hierarchy(alice_, space, "limit=100000").status, 200) << "capped, not refused";
  EXPECT_EQ(Hierarchy("", space).status, 401);
}

TEST_F(SpaceRoutesTest, PrivateChildrenOfOthersAreLeftOut) {
  std::string space = Space(alice_);
  std::string secret = CreateRoom(alice_, json::object{{"preset", "private_chat"}});
  std::string invited = CreateRoom(alice_, json::object{{"preset", "private_chat"}});
  std::string restricted = CreateRoom(
      alice_, json::object{{"initial_state",
                            json::array{json::object{
                                {"type", "m.room.join_rules"},
                                {"content", json::object{{"join_rule", "restricted"},
                                                         {"allow", json::array{json::object{
                                                                       {"type", "m.room_membership"},
                                                                       {"room_id", space}}}}}}}}}});
  std::string knock = CreateRoom(
      alice_, json::object{{"initial_state",
                            json::array{json::object{{"type", "m.room.join_rules"},
                                                     {"content", json::object{{"join_rule", "knock"}}}}}}});
  for (const std::string& child : {secret, invited, restricted, knock}) AddChild(space, child);
  AddChild(space, "!unknown:elsewhere.example");
  ASSERT_EQ(Post(alice_, "/rooms/" + invited + "/invite", {{"user_id", "@bob:localhost"}}), 200);
  // bob is not in the space yet: the restricted room is hidden.
  Response r = Hierarchy(bob_, space);
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<std::string> ids = Ids(r);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), secret), 0);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), restricted), 0);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), invited), 1);
  EXPECT_EQ(std::count(ids.begin(), ids.end(), knock), 1);
  EXPECT_EQ(ids.size(), 3u);
  ASSERT_EQ(Post(bob_, "/join/" + space), 200);
  ids = Ids(Hierarchy(bob_, space));
  EXPECT_EQ(std::count(ids.begin(), ids.end(), restricted), 1);
  // alice, joined everywhere, sees all but the unknown room.
  EXPECT_EQ(Ids(Hierarchy(alice_, space)).size(), 5u);
}

TEST_F(SpaceRoutesTest, HierarchyOfAPrivateSpaceOneIsNotInIsForbidden) {
  std::string space = Space(alice_, "private_chat");
  Response r = Hierarchy(bob_, space);
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_EQ(ErrCode(r), "M_FORBIDDEN");
  EXPECT_EQ(Hierarchy(bob_, "!nowhere:localhost").status, 403);
  EXPECT_EQ(Hierarchy(alice_, space).status, 200);
}

TEST_F(SpaceRoutesTest, RoomSummaryFollowsTheSameVisibility) {
  std::string room = CreateRoom(alice_, json::object{{"preset", "public_chat"},
                                                     {"name", "Lobby"},
                                                     {"topic", "hello"},
                                                     {"room_alias_name", "lobby"}});
  std::string secret = CreateRoom(alice_, json::object{{"preset", "private_chat"}});
  Response r = Call("GET", std::string(kClientV1) + "/room_summary/" + room, bob_);
  ASSERT_EQ(r.status, 200) << r.body;
  json::object body = Body(r).as_object();
  EXPECT_EQ(body.at("room_id").as_string(), room);
  EXPECT_EQ(body.at("name").as_string(), "Lobby");
  EXPECT_EQ(body.at("topic").as_string(), "hello");
  EXPECT_EQ(body.at("canonical_alias").as_string(), "#lobby:localhost");
  EXPECT_EQ(body.at("num_joined_members").as_int64(), 1);
  EXPECT_EQ(body.at("join_rule").as_string(), "public");
  EXPECT_EQ(body.at("guest_can_join").as_bool(), false);
  EXPECT_EQ(body.at("world_readable").as_bool(), false);
  EXPECT_TRUE(body.contains("room_version"));
  EXPECT_FALSE(body.contains("membership")) << "bob has none";
  r = Call("GET", std::string(kClientV1) + "/room_summary/%23lobby:localhost", alice_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r).at("membership").as_string(), "join");
  // Anonymous: public rooms only.
  EXPECT_EQ(Call("GET", std::string(kClientV1) + "/room_summary/" + room, "").status, 200);
  EXPECT_EQ(Call("GET", std::string(kClientV1) + "/room_summary/" + secret, "").status, 404);
  // Private rooms of others are not found, like unknown ones.
  r = Call("GET", std::string(kClientV1) + "/room_summary/" + secret, bob_);
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(ErrCode(r), "M_NOT_FOUND");
  EXPECT_EQ(Call("GET", std::string(kClientV1) + "/room_summary/!nowhere:localhost", bob_).status,
            404);
  EXPECT_EQ(Call("GET", std::string(kClientV1) + "/room_summary/%23nowhere:localhost", bob_).status,
            404);
  EXPECT_EQ(Call("GET", std::string(kClientV1) + "/room_summary/nothing", bob_).status, 400);
  EXPECT_EQ(Call("GET", std::string(kClientV1) + "/room_summary/" + room, "bad-token").status, 401);
  EXPECT_EQ(Call("GET", std::string(kClientV1) + "/room_summary/" + secret, alice_).status, 200);
}

}  // namespace
}  // namespace nebu::api
