// Goal: the smaller endpoints of api/rooms/misc_routes.h answer what the spec says and
// never show a caller a room (or its members or events) they may not see.
// Method: a real engine on tmpfs with the room and misc routes on a Router; users,
// rooms and events are made through the real endpoints, then the directory, user
// search, relations and the empty answers are read back by callers of every kind
// (no token, stranger, member, former member).
#include "api/rooms/misc_routes.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "engine/accounts/commands.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

class MiscRoutesTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    AddMiscRoutes(router_, *engine_);
  }

  std::string PublicRoom(const std::string& token, const std::string& name,
                         const std::string& topic = "") {
    json::object body{{"preset", "public_chat"}, {"name", name}, {"visibility", "public"}};
    if (!topic.empty()) body["topic"] = topic;
    return CreateRoom(token, body);
  }

  // The room IDs of a /publicRooms answer, in order.
  static std::vector<std::string> RoomIds(const Response& r) {
    std::vector<std::string> out;
    const json::value body = Body(r);
    for (const json::value& room : body.at("chunk").as_array()) {
      out.emplace_back(room.at("room_id").as_string());
    }
    return out;
  }

  static std::vector<std::string> UserIds(const Response& r) {
    std::vector<std::string> out;
    const json::value body = Body(r);
    for (const json::value& user : body.at("results").as_array()) {
      out.emplace_back(user.at("user_id").as_string());
    }
    return out;
  }

  static std::vector<std::string> EventIds(const Response& r) {
    std::vector<std::string> out;
    const json::value body = Body(r);
    for (const json::value& e : body.at("chunk").as_array()) {
      out.emplace_back(e.at("event_id").as_string());
    }
    return out;
  }

  void SetJoinRule(const std::string& token, const std::string& room, const std::string& rule) {
    Response r = Call("PUT", "/rooms/" + room + "/state/m.room.join_rules/", token,
                      json::object{{"join_rule", rule}});
    ASSERT_EQ(r.status, 200) << r.body;
  }

  // Sends an event of `type` relating to `parent` with `rel_type`; returns its id.
  std::string Relate(const std::string& token, const std::string& room, const std::string& type,
                     const std::string& parent, const std::string& rel_type) {
    json::object relates{{"rel_type", rel_type}, {"event_id", parent}};
    if (rel_type == "m.annotation") relates["key"] = "+1";
    json::object content{{"m.relates_to", relates}};
    if (type == "m.room.message") {
      content["msgtype"] = "m.text";
      content["body"] = "reply";
    }
    Response r = Call("PUT", "/rooms/" + room + "/send/" + type + "/r" + std::to_string(++txn_),
                      token, content);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(Body(r).at("event_id").as_string()) : "";
  }
};

// ---- /publicRooms ----

TEST_F(MiscRoutesTest, PublicRoomsListsPublishedRooms) {
  std::string alice = Register("alice"), bob = Register("bob");
  std::string open = PublicRoom(alice, "Cheese", "Tasty cheese");
  std::string closed = CreateRoom(alice, {{"name", "Secret"}});
  ASSERT_EQ(Post(bob, "/join/" + open), 200);

  Response r = Call("GET", "/publicRooms", "");  // the spec's GET needs no token
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(RoomIds(r), std::vector<std::string>{open});
  const json::value room = Body(r).at("chunk").at(0);
  EXPECT_EQ(room.at("name"), "Cheese");
  EXPECT_EQ(room.at("topic"), "Tasty cheese");
  EXPECT_EQ(room.at("num_joined_members"), 2);
  EXPECT_EQ(room.at("join_rule"), "public");
  EXPECT_EQ(room.at("world_readable"), false);
  EXPECT_EQ(room.at("guest_can_join"), false);
  EXPECT_FALSE(Body(r).as_object().contains("next_batch"));

  // A public join rule alone does not publish a room; PUT /directory/list/room does,
  // and the entry shows the room's join rule as it is.
  SetJoinRule(alice, closed, "public");
  EXPECT_EQ(RoomIds(Call("GET", "/publicRooms", "")).size(), 1u);
  SetJoinRule(alice, closed, "invite");
  const std::string list = "/directory/list/room/";
  ASSERT_EQ(Call("PUT", list + closed, alice, json::object{{"visibility", "public"}}).status, 200);
  Response both = Call("GET", "/publicRooms", "");
  EXPECT_EQ(RoomIds(both).size(), 2u);
  const json::value listed = Body(both);
  for (const json::value& chunk : listed.at("chunk").as_array()) {
    EXPECT_EQ(chunk.at("join_rule"), chunk.at("room_id").as_string() == closed ? "invite" : "public");
  }
  EXPECT_EQ(Body(Call("GET", list + closed, alice)).at("visibility"), "public");
  // Unlisting; the body's visibility defaults to public.
  ASSERT_EQ(Call("PUT", list + closed, alice, json::object{{"visibility", "private"}}).status, 200);
  ASSERT_EQ(Call("PUT", list + open, alice, json::object{{"visibility", "private"}}).status, 200);
  EXPECT_TRUE(RoomIds(Call("GET", "/publicRooms", "")).empty());
  ASSERT_EQ(Call("PUT", list + open, alice, json::object{}).status, 200);
  EXPECT_EQ(RoomIds(Call("GET", "/publicRooms", "")), std::vector<std::string>{open});
  // Who may: a member with the power to set the canonical alias. Bad input changes nothing.
  Response member = Call("PUT", list + open, bob, json::object{{"visibility", "private"}});
  EXPECT_EQ(member.status, 403) << member.body;
  std::string carol = Register("carol");
  EXPECT_EQ(Call("PUT", list + open, carol, json::object{{"visibility", "private"}}).status, 403);
  EXPECT_EQ(Call("PUT", list + "!nowhere:localhost", alice, json::object{}).status, 404);
  EXPECT_EQ(ErrCode(Call("PUT", list + open, alice, json::object{{"visibility", "hidden"}})),
            "M_INVALID_PARAM");
  EXPECT_EQ(ErrCode(Call("PUT", list + open, alice, json::object{{"visibility", 1}})), "M_BAD_JSON");
  EXPECT_EQ(Call("PUT", list + open, "", json::object{}).status, 401);
  EXPECT_EQ(RoomIds(Call("GET", "/publicRooms", "")), std::vector<std::string>{open});
}

TEST_F(MiscRoutesTest, PublicRoomsPaginatesForwardAndBack) {
  std::string alice = Register("alice");
  std::set<std::string> made;
  for (int i = 0; i < 5; ++i) made.insert(PublicRoom(alice, "room " + std::to_string(i)));

  std::vector<std::vector<std::string>> pages;
  std::vector<std::string> tokens{""};
  for (int guard = 0; guard < 10; ++guard) {
    const std::string& since = tokens.back();
    Response r = Call("GET", "/publicRooms?limit=2" + (since.empty() ? "" : "&since=" + since), "");
    ASSERT_EQ(r.status, 200) << r.body;
    pages.push_back(RoomIds(r));
    const json::object body = Body(r).as_object();
    EXPECT_EQ(body.contains("prev_batch"), !since.empty());
    if (!body.contains("next_batch")) break;
    tokens.emplace_back(body.at("next_batch").as_string());
  }
  std::vector<std::string> all;
  for (const auto& page : pages) {
    EXPECT_LE(page.size(), 2u);
    all.insert(all.end(), page.begin(), page.end());
  }
  EXPECT_EQ(std::set<std::string>(all.begin(), all.end()), made);
  EXPECT_EQ(all.size(), made.size()) << "a room was listed twice";
  EXPECT_TRUE(std::is_sorted(all.begin(), all.end()));

  // prev_batch of the second page leads back to the first page.
  ASSERT_GE(pages.size(), 3u);
  Response second = Call("GET", "/publicRooms?limit=2&since=" + tokens[1], "");
  std::string prev(Body(second).at("prev_batch").as_string());
  Response back = Call("GET", "/publicRooms?limit=2&since=" + prev, "");
  ASSERT_EQ(back.status, 200) << back.body;
  EXPECT_EQ(RoomIds(back), pages[0]);
  EXPECT_FALSE(Body(back).as_object().contains("prev_batch"));
  EXPECT_EQ(Body(back).at("next_batch").as_string(), tokens[1]);
}

TEST_F(MiscRoutesTest, PostPublicRoomsFiltersAndChecksItsInput) {
  std::string alice = Register("alice");
  std::string cheese = PublicRoom(alice, "Cheese lovers", "All about Brie");
  std::string wine = PublicRoom(alice, "Wine", "Red and white");
  Response space = Call("POST", "/createRoom", alice,
                        json::object{{"preset", "public_chat"},
                                     {"visibility", "public"},
                                     {"name", "A space"},
                                     {"creation_content", json::object{{"type", "m.space"}}}});
  ASSERT_EQ(space.status, 200) << space.body;
  std::string space_id(Body(space).at("room_id").as_string());

  auto post = [&](const json::object& body) { return Call("POST", "/publicRooms", alice, body); };
  EXPECT_EQ(RoomIds(post({{"filter", json::object{{"generic_search_term", "bRIE"}}}})),
            std::vector<std::string>{cheese});
  EXPECT_EQ(RoomIds(post({{"filter", json::object{{"generic_search_term", "wine"}}}})),
            std::vector<std::string>{wine});
  EXPECT_TRUE(RoomIds(post({{"filter", json::object{{"generic_search_term", "beer"}}}})).empty());
  EXPECT_EQ(RoomIds(post({{"filter", json::object{{"room_types", json::array{"m.space"}}}}})),
            std::vector<std::string>{space_id});
  EXPECT_EQ(RoomIds(post({{"filter", json::object{{"room_types", json::array{nullptr}}}}})).size(),
            2u);
  EXPECT_EQ(RoomIds(post({{"limit", 1}})).size(), 1u);

  Response no_token = Call("POST", "/publicRooms", "", json::object{});
  EXPECT_EQ(no_token.status, 401);
  EXPECT_EQ(ErrCode(no_token), "M_MISSING_TOKEN");
  EXPECT_EQ(ErrCode(post({{"limit", "ten"}})), "M_BAD_JSON");
  EXPECT_EQ(ErrCode(post({{"filter", json::object{{"generic_search_term", 3}}}})), "M_BAD_JSON");
  EXPECT_EQ(ErrCode(post({{"since", "garbage"}})), "M_INVALID_PARAM");
  EXPECT_EQ(ErrCode(Call("POST", "/publicRooms", alice, std::string("{not json"))), "M_NOT_JSON");
  Response other = Call("GET", "/publicRooms?server=elsewhere.example", "");
  EXPECT_EQ(other.status, 400);
  EXPECT_EQ(ErrCode(other), "M_INVALID_PARAM");
  EXPECT_EQ(Call("GET", "/publicRooms?server=localhost", "").status, 200);
  EXPECT_EQ(ErrCode(Call("GET", "/publicRooms?limit=-1", "")), "M_INVALID_PARAM");
}

// ---- /directory/list/room ----

TEST_F(MiscRoutesTest, RoomVisibilityNeverRevealsAHiddenRoom) {
  std::string alice = Register("alice"), stranger = Register("stranger");
  std::string open = PublicRoom(alice, "Open");
  std::string closed = CreateRoom(alice);
  auto visibility = [&](const std::string& room, const std::string& token) {
    return Call("GET", "/directory/list/room/" + room, token);
  };
  for (const std::string& token : {std::string(), alice, stranger}) {
    Response r = visibility(open, token);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Body(r).at("visibility"), "public");
  }
  Response member = visibility(closed, alice);
  ASSERT_EQ(member.status, 200) << member.body;
  EXPECT_EQ(Body(member).at("visibility"), "private");
  // Unknown and hidden rooms look alike.
  for (const Response& r : {visibility(closed, stranger), visibility(closed, ""),
                            visibility("!unknown:localhost", alice)}) {
    EXPECT_EQ(r.status, 404) << r.body;
    EXPECT_EQ(ErrCode(r), "M_NOT_FOUND");
  }
  // PUT is served (PublicRoomsListsPublishedRooms covers it): unlisted now.
  EXPECT_EQ(
      Call("PUT", "/directory/list/room/" + open, alice, json::object{{"visibility", "private"}})
          .status,
      200);
  EXPECT_EQ(Body(visibility(open, alice)).at("visibility"), "private");
}

// ---- /user_directory/search ----

TEST_F(MiscRoutesTest, UserSearchFindsRoommatesAndPublicRoomMembersOnly) {
  std::string alice = Register("alice"), bob = Register("bob"), carol = Register("carol");
  std::string dave = Register("dave"), zed = Register("zed");
  std::string shared = CreateRoom(alice, {{"invite", json::array{"@bob:localhost"}}});
  ASSERT_EQ(Post(bob, "/rooms/" + shared + "/join"), 200);
  std::string lobby = PublicRoom(carol, "Lobby");
  CreateRoom(dave);  // dave shares no room with anyone and is in no public room
  auto search = [&](const std::string& token, const json::object& body) {
    Response r = Call("POST", "/user_directory/search", token, body);
    EXPECT_EQ(r.status, 200) << r.body;
    return r;
  };
  // alice: herself and bob (shared room), carol (public room); never dave or zed.
  EXPECT_EQ(UserIds(search(alice, {{"search_term", ""}})),
            (std::vector<std::string>{"@alice:localhost", "@bob:localhost", "@carol:localhost"}));
  EXPECT_TRUE(UserIds(search(alice, {{"search_term", "dave"}})).empty());
  // zed is in no room: only public-room members.
  EXPECT_EQ(UserIds(search(zed, {{"search_term", ""}})),
            std::vector<std::string>{"@carol:localhost"});
  EXPECT_TRUE(UserIds(search(zed, {{"search_term", "bob"}})).empty());
  // Case-insensitive, on the user ID or the display name (the localpart here).
  EXPECT_EQ(UserIds(search(zed, {{"search_term", "CAROL"}})),
            std::vector<std::string>{"@carol:localhost"});
  Response one = search(alice, {{"search_term", ""}, {"limit", 1}});
  EXPECT_EQ(UserIds(one).size(), 1u);
  EXPECT_EQ(Body(one).at("limited"), true);
  EXPECT_EQ(Body(search(alice, {{"search_term", "bob"}})).at("limited"), false);
  const json::value bob_result = Body(search(alice, {{"search_term", "bob"}})).at("results").at(0);
  EXPECT_EQ(bob_result.at("display_name"), "bob");

  EXPECT_EQ(Call("POST", "/user_directory/search", "", json::object{{"search_term", "a"}}).status,
            401);
  EXPECT_EQ(ErrCode(Call("POST", "/user_directory/search", alice, json::object{})), "M_BAD_JSON");
  EXPECT_EQ(ErrCode(Call("POST", "/user_directory/search", alice,
                         json::object{{"search_term", "a"}, {"limit", "x"}})),
            "M_BAD_JSON");
  (void)lobby;
}

TEST_F(MiscRoutesTest, UserSearchMatchesWordPrefixesOfTheNameAndTheUserId) {
  std::string alice = Register("alice"), carol = Register("carol.smith");
  std::string lobby = PublicRoom(carol, "Lobby");
  auto payload = accounts::EncodeAccountCommand(accounts::SetDisplayNameCommand{
      .user_id = "@carol.smith:localhost", .displayname = "Carol Jones-Ortiz"});
  ASSERT_TRUE(payload.ok());
  ASSERT_TRUE(engine_->Submit(core::Command{core::CommandKind::kAccount, *payload}).ok());
  auto found = [&](const std::string& term) {
    Response r = Call("POST", "/user_directory/search", alice, json::object{{"search_term", term}});
    EXPECT_EQ(r.status, 200) << r.body;
    return UserIds(r);
  };
  const std::vector<std::string> carol_only{"@carol.smith:localhost"};
  // Every word of the term is a prefix of a word of the display name or the user ID.
  for (const char* term : {"jo", "ORT", "car jon", "smi", "@carol.smith:localhost", "Jones Carol"}) {
    EXPECT_EQ(found(term), carol_only) << term;
  }
  // Not a substring match any more (it was before the index), and every word must match.
  for (const char* term : {"arol", "ones", "carol zed"}) EXPECT_TRUE(found(term).empty()) << term;
  (void)lobby;
}

// ---- /voip/turnServer, /thirdparty/protocols ----

TEST_F(MiscRoutesTest, TurnServerAndProtocolsAreHonestlyEmpty) {
  std::string alice = Register("alice");
  for (const char* path :
       {"/voip/turnServer", "/thirdparty/protocols", "/_matrix/client/r0/voip/turnServer"}) {
    SCOPED_TRACE(path);
    Response r = Call("GET", path, alice);
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Body(r), json::object{});
    Response anonymous = Call("GET", path, "");
    EXPECT_EQ(anonymous.status, 401);
    EXPECT_EQ(ErrCode(anonymous), "M_MISSING_TOKEN");
  }
}

// ---- /rooms/{roomId}/relations ----

TEST_F(MiscRoutesTest, RelationsListChildrenWithFiltersAndPagination) {
  std::string alice = Register("alice");
  std::string room = CreateRoom(alice);
  std::string parent = Send(alice, room, "parent");
  std::string reaction = Relate(alice, room, "m.reaction", parent, "m.annotation");
  Send(alice, room, "unrelated");
  std::string reply = Relate(alice, room, "m.room.message", parent, "m.thread");
  std::string grandchild = Relate(alice, room, "m.reaction", reply, "m.annotation");
  const std::string base = "/rooms/" + room + "/relations/" + parent;

  Response all = Call("GET", base, alice);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(EventIds(all), (std::vector<std::string>{reply, reaction}));  // newest first
  EXPECT_FALSE(Body(all).as_object().contains("next_batch"));
  EXPECT_FALSE(Body(all).as_object().contains("recursion_depth"));
  EXPECT_EQ(EventIds(Call("GET", base + "?dir=f", alice)),
            (std::vector<std::string>{reaction, reply}));
  EXPECT_EQ(EventIds(Call("GET", base + "/m.annotation", alice)),
            std::vector<std::string>{reaction});
  EXPECT_EQ(EventIds(Call("GET", base + "/m.thread/m.room.message", alice)),
            std::vector<std::string>{reply});
  EXPECT_TRUE(EventIds(Call("GET", base + "/m.annotation/m.room.message", alice)).empty());

  Response recursive = Call("GET", base + "?recurse=true", alice);
  ASSERT_EQ(recursive.status, 200) << recursive.body;
  EXPECT_EQ(EventIds(recursive), (std::vector<std::string>{grandchild, reply, reaction}));
  EXPECT_EQ(Body(recursive).at("recursion_depth"), kRelationsRecursionDepth);

  // One per page, backwards then forwards, until next_batch is absent.
  for (const char* dir : {"b", "f"}) {
    SCOPED_TRACE(dir);
    std::vector<std::string> seen;
    std::string from;
    for (int guard = 0; guard < 10; ++guard) {
      Response page =
          Call("GET", base + "?limit=1&dir=" + dir + (from.empty() ? "" : "&from=" + from), alice);
      ASSERT_EQ(page.status, 200) << page.body;
      for (const std::string& id : EventIds(page)) seen.push_back(id);
      if (!Body(page).as_object().contains("next_batch")) break;
      from = std::string(Body(page).at("next_batch").as_string());
    }
    EXPECT_EQ(seen, (std::string(dir) == "b" ? std::vector<std::string>{reply, reaction}
                                             : std::vector<std::string>{reaction, reply}));
  }

  // A token from before the parent: nothing relates there.
  Response early = Call("GET", base + "?from=s1", alice);
  ASSERT_EQ(early.status, 200) << early.body;
  EXPECT_TRUE(EventIds(early).empty());
  EXPECT_FALSE(Body(early).as_object().contains("next_batch"));
  EXPECT_EQ(EventIds(Call("GET", base + "?dir=f&from=s1", alice)),
            (std::vector<std::string>{reaction, reply}));

  EXPECT_EQ(ErrCode(Call("GET", base + "?dir=x", alice)), "M_INVALID_PARAM");
  EXPECT_EQ(ErrCode(Call("GET", base + "?from=bad", alice)), "M_INVALID_PARAM");
  EXPECT_EQ(ErrCode(Call("GET", base + "?limit=many", alice)), "M_INVALID_PARAM");
  EXPECT_EQ(ErrCode(Call("GET", base + "?recurse=yes", alice)), "M_INVALID_PARAM");
}

TEST_F(MiscRoutesTest, RelationsLeaveRedactedChildrenOutAndAnswerUnderV1) {
  std::string alice = Register("alice");
  std::string room = CreateRoom(alice);
  std::string parent = Send(alice, room, "parent");
  std::string edit = Relate(alice, room, "m.room.message", parent, "m.replace");
  std::string reaction = Relate(alice, room, "m.reaction", parent, "m.annotation");
  std::string on_edit = Relate(alice, room, "m.reaction", edit, "m.annotation");
  ASSERT_EQ(Call("PUT", "/rooms/" + room + "/redact/" + edit + "/x", alice, json::object{}).status,
            200);
  const std::string v1 = "/_matrix/client/v1/rooms/" + room + "/relations/" + parent;
  Response r = Call("GET", v1, alice);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(EventIds(r), std::vector<std::string>{reaction});
  // The redacted edit no longer carries the chain either.
  EXPECT_EQ(EventIds(Call("GET", v1 + "?recurse=true", alice)), std::vector<std::string>{reaction});
  (void)on_edit;
  EXPECT_EQ(EventIds(Call("GET", v1 + "/m.annotation/m.reaction", alice)),
            std::vector<std::string>{reaction});
  // A /sync next_batch is a token here too ("s<position>_<typing>").
  EXPECT_EQ(EventIds(Call("GET", v1 + "?from=s1_0", alice)), std::vector<std::string>{});
  EXPECT_EQ(EventIds(Call("GET", v1 + "?dir=f&from=s1_0", alice)),
            std::vector<std::string>{reaction});
  EXPECT_EQ(ErrCode(Call("GET", v1 + "?from=s1_x", alice)), "M_INVALID_PARAM");
}

TEST_F(MiscRoutesTest, RelationsFarBeyondTheOldScanBoundAreServed) {
  std::string alice = Register("alice");
  std::string room = CreateRoom(alice);
  std::string parent = Send(alice, room, "parent");
  std::string early = Relate(alice, room, "m.reaction", parent, "m.annotation");
  // The route scanned at most 10,000 events of the log before the relations index.
  constexpr int kFiller = 10'050;
  for (int i = 0; i < kFiller; ++i) {
    core::SendEventRequest r{.room_id = room, .sender = "@alice:localhost",
                             .type = "m.room.message",
                             .content = json::object{{"msgtype", "m.text"}, {"body", "filler"}}};
    ASSERT_TRUE(engine_->SendEvent(std::move(r)).ok());
  }
  std::string late = Relate(alice, room, "m.room.message", parent, "m.thread");
  const std::string base = "/_matrix/client/v1/rooms/" + room + "/relations/" + parent;
  EXPECT_EQ(EventIds(Call("GET", base, alice)), (std::vector<std::string>{late, early}));
  EXPECT_EQ(EventIds(Call("GET", base + "?dir=f", alice)), (std::vector<std::string>{early, late}));
  EXPECT_EQ(EventIds(Call("GET", base + "?recurse=true&dir=f", alice)),
            (std::vector<std::string>{early, late}));
  // One per page: the second page starts past the filler without a gap.
  Response first = Call("GET", base + "?dir=f&limit=1", alice);
  ASSERT_EQ(EventIds(first), std::vector<std::string>{early});
  const std::string next(Body(first).at("next_batch").as_string());
  Response second = Call("GET", base + "?dir=f&limit=1&from=" + next, alice);
  EXPECT_EQ(EventIds(second), std::vector<std::string>{late});
  EXPECT_FALSE(Body(second).as_object().contains("next_batch"));
}

TEST_F(MiscRoutesTest, RelationsFollowRoomAccessAndHistoryVisibility) {
  std::string alice = Register("alice"), bob = Register("bob"), stranger = Register("stranger");
  std::string room = CreateRoom(alice, {{"invite", json::array{"@bob:localhost"}}});
  std::string other_room = CreateRoom(alice);
  std::string other_event = Send(alice, other_room, "elsewhere");
  ASSERT_EQ(Post(bob, "/rooms/" + room + "/join"), 200);
  std::string parent = Send(alice, room, "parent");
  std::string before = Relate(alice, room, "m.reaction", parent, "m.annotation");
  ASSERT_EQ(Post(bob, "/rooms/" + room + "/leave"), 200);
  std::string after = Relate(alice, room, "m.reaction", parent, "m.annotation");
  const std::string base = "/rooms/" + room + "/relations/";

  EXPECT_EQ(EventIds(Call("GET", base + parent, alice)), (std::vector<std::string>{after, before}));
  // bob left: he sees what happened while he was there, nothing after.
  Response left = Call("GET", base + parent, bob);
  ASSERT_EQ(left.status, 200) << left.body;
  EXPECT_EQ(EventIds(left), std::vector<std::string>{before});
  EXPECT_EQ(EventIds(Call("GET", base + parent + "?dir=f", bob)), std::vector<std::string>{before});

  // A stranger and an unknown room look alike (403); a parent that is unknown, in
  // another room or hidden is 404.
  for (const Response& r : {Call("GET", base + parent, stranger),
                            Call("GET", "/rooms/!nope:localhost/relations/" + parent, alice)}) {
    EXPECT_EQ(r.status, 403) << r.body;
    EXPECT_EQ(ErrCode(r), "M_FORBIDDEN");
  }
  for (const Response& r :
       {Call("GET", base + "$unknown", alice), Call("GET", base + other_event, alice)}) {
    EXPECT_EQ(r.status, 404) << r.body;
    EXPECT_EQ(ErrCode(r), "M_NOT_FOUND");
  }
  Response anonymous = Call("GET", base + parent, "");
  EXPECT_EQ(anonymous.status, 401);
}

}  // namespace
}  // namespace nebu::api
