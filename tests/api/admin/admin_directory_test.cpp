// The admin API's lists and statistics answered from PostgreSQL (projections/
// admin_directory.h) over HTTP: every parameter of GET /_synapse/admin/v2/users and
// GET /_synapse/admin/v1/rooms (filters, every order both ways, paging, totals), the
// statistics routes, the projection-lag header, and 503 without PostgreSQL.
#include <gtest/gtest.h>

#include "engine/media/media.h"
#include "tests/api/admin/admin_pg_testing.h"

namespace nebu::api::testing {
namespace {

using Names = std::vector<std::string>;

std::string Local(std::string_view localpart) {
  return "@" + std::string(localpart) + ":" + std::string(kServerName);
}

class AdminDirectoryTest : public AdminPgFixture {
 protected:
  // root (admin, made first), then u01..u05, one second apart, with display names in
  // the reverse order of their IDs; u03 admin, u04 deactivated, u05 locked.
  void MakeUsers() {
    root_ = RegisterAdmin("root");
    const char* names[] = {"Echo", "Delta", "Charlie", "Bravo", "Alpha"};
    for (int i = 1; i <= 5; ++i) {
      clock_.AdvanceMs(1000);
      json::object body{{"displayname", names[i - 1]}};
      if (i == 3) body["admin"] = true;
      if (i == 4) body["deactivated"] = true;
      if (i == 5) body["locked"] = true;
      if (i == 1) body["avatar_url"] = "mxc://test.local/zzz";
      if (i == 2) body["avatar_url"] = "mxc://test.local/aaa";
      HttpReply made = As(&root_, "PUT", AdminV2("/users/" + PercentEncode(Local(U(i)))),
                          Json(body));
      ASSERT_EQ(made.status, 201) << made.body;
    }
  }
  static std::string U(int i) { return "u0" + std::to_string(i); }

  Names UserNames(const std::string& query) {
    return Column(Get(root_, AdminV2("/users") + query), "users", "name");
  }
  Names RoomNames(const std::string& query) {
    return Column(Get(root_, AdminV1("/rooms") + query), "rooms", "name");
  }

  Session root_;
};

TEST_F(AdminDirectoryTest, UsersHaveSynapsesShapeAndTheDefaultFilters) {
  MakeUsers();
  Sync();
  HttpReply reply = As(&root_, "GET", AdminV2("/users"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  json::object body = reply.Json().as_object();
  // Deactivated (u04) and locked (u05) users are left out by default, as in Synapse.
  EXPECT_EQ(Column(body, "users", "name"),
            (Names{Local("root"), Local("u01"), Local("u02"), Local("u03")}));
  EXPECT_EQ(body.at("total").as_int64(), 4);
  EXPECT_FALSE(body.contains("next_token"));
  const json::object& u01 = body.at("users").as_array().at(1).as_object();
  for (std::string_view key : {"name", "is_guest", "admin", "user_type", "deactivated", "erased",
                               "shadow_banned", "displayname", "avatar_url", "creation_ts",
                               "last_seen_ts", "locked"}) {
    EXPECT_TRUE(u01.contains(key)) << key;
  }
  EXPECT_EQ(u01.at("displayname").as_string(), "Echo");
  EXPECT_EQ(u01.at("avatar_url").as_string(), "mxc://test.local/zzz");
  EXPECT_FALSE(u01.at("admin").as_bool());
  EXPECT_FALSE(u01.at("is_guest").as_bool());
  EXPECT_TRUE(u01.at("user_type").is_null());
  EXPECT_EQ(u01.at("creation_ts").as_int64(), 1'700'000'001'000);
  // The admin flag set through the admin API (a role record) is what the list shows.
  EXPECT_TRUE(body.at("users").as_array().at(3).as_object().at("admin").as_bool());
  // The projection lag: none once synced; the checkpoint it was read at in the body.
  EXPECT_EQ(Header(reply, "X-Nebu-Projection-Lag"), "0");
  EXPECT_EQ(body.at("projection_position").to_number<uint64_t>(), engine_->stream_position());
}

TEST_F(AdminDirectoryTest, UserFilters) {
  MakeUsers();
  Sync();
  EXPECT_EQ(UserNames("?deactivated=true"),
            (Names{Local("root"), Local("u01"), Local("u02"), Local("u03"), Local("u04")}));
  EXPECT_EQ(UserNames("?locked=true"),
            (Names{Local("root"), Local("u01"), Local("u02"), Local("u03"), Local("u05")}));
  EXPECT_EQ(UserNames("?deactivated=true&locked=true").size(), 6u);
  EXPECT_EQ(UserNames("?admins=true"), (Names{Local("root"), Local("u03")}));
  EXPECT_EQ(UserNames("?admins=false"), (Names{Local("u01"), Local("u02")}));
  EXPECT_EQ(UserNames("?guests=false").size(), 4u);  // nebu has no guests
  // name: the localpart (case-sensitive) or the display name (case-insensitive).
  EXPECT_EQ(UserNames("?name=u0"), (Names{Local("u01"), Local("u02"), Local("u03")}));
  EXPECT_EQ(UserNames("?name=ECH"), (Names{Local("u01")}));
  EXPECT_EQ(UserNames("?name=alpha&locked=true"), (Names{Local("u05")}));
  EXPECT_EQ(UserNames("?name=%25"), Names{});  // LIKE's wildcards match themselves only
  // user_id: a substring of the ID; ignored when name is given.
  EXPECT_EQ(UserNames("?user_id=02"), (Names{Local("u02")}));
  EXPECT_EQ(UserNames("?user_id=02&name=u01"), (Names{Local("u01")}));
  // not_user_type "" leaves out users without a type: every nebu user.
  json::object none = Get(root_, AdminV2("/users?not_user_type="));
  EXPECT_EQ(none.at("total").as_int64(), 0);
  EXPECT_EQ(UserNames("?not_user_type=bot&not_user_type=support").size(), 4u);
  // Bad values: 400, nothing read.
  for (std::string query : {"?admins=maybe", "?locked=1", "?limit=-1", "?from=x",
                            "?order_by=bogus", "?dir=up"}) {
    ExpectError(As(&root_, "GET", AdminV2("/users") + query), 400, "M_INVALID_PARAM");
  }
}

TEST_F(AdminDirectoryTest, UserOrdersBothWays) {
  MakeUsers();
  Sync();
  const std::string all = "?name=u0&deactivated=true&locked=true";
  const Names by_id{Local("u01"), Local("u02"), Local("u03"), Local("u04"), Local("u05")};
  const Names reversed(by_id.rbegin(), by_id.rend());
  EXPECT_EQ(UserNames(all), by_id);
  EXPECT_EQ(UserNames(all + "&dir=b"), reversed);
  EXPECT_EQ(UserNames(all + "&order_by=creation_ts"), by_id);
  EXPECT_EQ(UserNames(all + "&order_by=creation_ts&dir=b"), reversed);
  EXPECT_EQ(UserNames(all + "&order_by=displayname"), reversed);  // Alpha (u05) first
  EXPECT_EQ(UserNames(all + "&order_by=displayname&dir=b"), by_id);
  // Ties sort by name ascending whatever dir says.
  EXPECT_EQ(UserNames(all + "&order_by=admin"),
            (Names{Local("u01"), Local("u02"), Local("u04"), Local("u05"), Local("u03")}));
  EXPECT_EQ(UserNames(all + "&order_by=admin&dir=b"),
            (Names{Local("u03"), Local("u01"), Local("u02"), Local("u04"), Local("u05")}));
  EXPECT_EQ(UserNames(all + "&order_by=deactivated&dir=b"),
            (Names{Local("u04"), Local("u01"), Local("u02"), Local("u03"), Local("u05")}));
  EXPECT_EQ(UserNames(all + "&order_by=locked&dir=b"),
            (Names{Local("u05"), Local("u01"), Local("u02"), Local("u03"), Local("u04")}));
  // avatar_url: aaa (u02), zzz (u01), then the users without one (NULLs last).
  EXPECT_EQ(UserNames(all + "&order_by=avatar_url"),
            (Names{Local("u02"), Local("u01"), Local("u03"), Local("u04"), Local("u05")}));
  // Orders by what nebu does not have (all equal) fall back to the name.
  for (std::string order : {"is_guest", "user_type", "shadow_banned", "last_seen_ts"}) {
    EXPECT_EQ(UserNames(all + "&order_by=" + order), by_id) << order;
    EXPECT_EQ(UserNames(all + "&order_by=" + order + "&dir=b").size(), 5u) << order;
  }
}

TEST_F(AdminDirectoryTest, UserPagesFollowNextToken) {
  MakeUsers();
  Sync();
  const std::string all = "&deactivated=true&locked=true";
  Names seen;
  std::string from = "0";
  for (int page = 0; page < 10; ++page) {
    json::object body = Get(root_, AdminV2("/users?limit=2&from=" + from + all));
    EXPECT_EQ(body.at("total").as_int64(), 6);
    for (std::string& name : Column(body, "users", "name")) seen.push_back(std::move(name));
    if (!body.contains("next_token")) break;
    from = std::string(body.at("next_token").as_string());
  }
  EXPECT_EQ(seen, UserNames("?limit=100" + all));
  EXPECT_EQ(seen.size(), 6u);
  // Past the end: no users, the total still.
  json::object past = Get(root_, AdminV2("/users?from=50" + all));
  EXPECT_TRUE(past.at("users").as_array().empty());
  EXPECT_EQ(past.at("total").as_int64(), 6);
}

class AdminRoomsTest : public AdminDirectoryTest {
 protected:
  // Alpha (public, alias, 3 joined), Beta (encrypted, 1), Delta (empty: its creator
  // left), Gamma (public, 2).
  void MakeRooms() {
    MakeUsers();
    Session u1{Local("u01"), "", "", ""};
    Session u2{Local("u02"), "", "", ""};
    alpha_ = Room("Alpha", true, "alphaalias", {});
    Join(alpha_, u1.user_id);
    Join(alpha_, u2.user_id);
    beta_ = Room("Beta", false, "", {{"m.room.encryption", "",
                                      json::object{{"algorithm", "m.megolm.v1.aes-sha2"}}, ""}});
    gamma_ = Room("Gamma", true, "", {});
    Join(gamma_, u1.user_id);
    delta_ = Room("Delta", false, "", {});
    Membership(delta_, root_.user_id, "leave");
  }

  std::string Room(std::string name, bool is_public, std::string alias,
                   std::vector<rooms::EventDraft> initial_state) {
    rooms::CreateRoomRequest request;
    request.name = std::move(name);
    if (is_public) request.preset = "public_chat";
    if (!alias.empty()) request.room_alias_name = std::move(alias);
    request.initial_state = std::move(initial_state);
    auto room = engine_->CreateRoom(request, root_.user_id);
    EXPECT_TRUE(room.ok()) << room.status().ToString();
    return room.ok() ? room->room_id : "";
  }
  void Membership(const std::string& room_id, const std::string& user_id,
                  const std::string& membership) {
    core::SendEventRequest request;
    request.room_id = room_id;
    request.sender = user_id;
    request.type = "m.room.member";
    request.state_key = user_id;
    request.content = json::object{{"membership", membership}};
    request.origin_server_ts = clock_.NowUnixMs();
    auto sent = engine_->SendEvent(request);
    EXPECT_TRUE(sent.ok()) << sent.status().ToString();
  }
  void Message(const std::string& room_id, const std::string& user_id) {
    core::SendEventRequest request;
    request.room_id = room_id;
    request.sender = user_id;
    request.type = "m.room.message";
    request.content = json::object{{"msgtype", "m.text"}, {"body", "hello"}};
    request.origin_server_ts = clock_.NowUnixMs();
    auto sent = engine_->SendEvent(request);
    EXPECT_TRUE(sent.ok()) << sent.status().ToString();
  }
  void Join(const std::string& room_id, const std::string& user_id) {
    Membership(room_id, user_id, "join");
  }

  std::string alpha_, beta_, gamma_, delta_;
};

TEST_F(AdminRoomsTest, RoomsHaveSynapsesShape) {
  MakeRooms();
  Sync();
  HttpReply reply = As(&root_, "GET", AdminV1("/rooms"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  json::object body = reply.Json().as_object();
  EXPECT_EQ(Column(body, "rooms", "name"), (Names{"Alpha", "Beta", "Delta", "Gamma"}));
  EXPECT_EQ(body.at("total_rooms").as_int64(), 4);
  EXPECT_EQ(body.at("offset").as_int64(), 0);
  EXPECT_FALSE(body.contains("next_batch"));
  EXPECT_EQ(Header(reply, "X-Nebu-Projection-Lag"), "0");
  const json::object& alpha = body.at("rooms").as_array().at(0).as_object();
  for (std::string_view key : {"room_id", "name", "canonical_alias", "joined_members",
                               "joined_local_members", "version", "creator", "encryption",
                               "federatable", "public", "join_rules", "guest_access",
                               "history_visibility", "state_events", "room_type"}) {
    EXPECT_TRUE(alpha.contains(key)) << key;
  }
  EXPECT_EQ(alpha.at("room_id").as_string(), alpha_);
  EXPECT_EQ(alpha.at("canonical_alias").as_string(), "#alphaalias:test.local");
  EXPECT_EQ(alpha.at("joined_members").as_int64(), 3);
  EXPECT_EQ(alpha.at("joined_local_members").as_int64(), 3);
  EXPECT_EQ(alpha.at("version").as_string(), "11");
  EXPECT_EQ(alpha.at("creator").as_string(), root_.user_id);
  EXPECT_TRUE(alpha.at("encryption").is_null());
  EXPECT_TRUE(alpha.at("federatable").as_bool());
  EXPECT_FALSE(alpha.at("public").as_bool());
  EXPECT_EQ(alpha.at("join_rules").as_string(), "public");
  EXPECT_EQ(alpha.at("history_visibility").as_string(), "shared");
  EXPECT_TRUE(alpha.at("room_type").is_null());
  EXPECT_GE(alpha.at("state_events").as_int64(), 7);
  const json::object& beta = body.at("rooms").as_array().at(1).as_object();
  EXPECT_EQ(beta.at("encryption").as_string(), "m.megolm.v1.aes-sha2");
  EXPECT_EQ(beta.at("join_rules").as_string(), "invite");
}

TEST_F(AdminRoomsTest, RoomFiltersAndOrders) {
  MakeRooms();
  Sync();
  EXPECT_EQ(RoomNames("?dir=b"), (Names{"Gamma", "Delta", "Beta", "Alpha"}));
  EXPECT_EQ(RoomNames("?order_by=alphabetical"), (Names{"Alpha", "Beta", "Delta", "Gamma"}));
  // Counts sort largest first with dir=f, as in Synapse.
  EXPECT_EQ(RoomNames("?order_by=joined_members"), (Names{"Alpha", "Gamma", "Beta", "Delta"}));
  EXPECT_EQ(RoomNames("?order_by=joined_members&dir=b"),
            (Names{"Delta", "Beta", "Gamma", "Alpha"}));
  EXPECT_EQ(RoomNames("?order_by=size"), (Names{"Alpha", "Gamma", "Beta", "Delta"}));
  EXPECT_EQ(RoomNames("?order_by=joined_local_members"),
            (Names{"Alpha", "Gamma", "Beta", "Delta"}));
  EXPECT_EQ(RoomNames("?order_by=encryption").front(), "Beta");   // NULLs last
  EXPECT_EQ(RoomNames("?order_by=encryption&dir=b").back(), "Beta");
  EXPECT_EQ(RoomNames("?order_by=canonical_alias").front(), "Alpha");
  json::object by_state = Get(root_, AdminV1("/rooms?order_by=state_events"));
  std::vector<int64_t> counts;
  for (const json::value& room : by_state.at("rooms").as_array()) {
    counts.push_back(room.at("state_events").as_int64());
  }
  EXPECT_TRUE(std::is_sorted(counts.rbegin(), counts.rend())) << json::serialize(by_state);
  // Every order runs, both ways, over every room.
  for (std::string order :
       {"name", "alphabetical", "size", "canonical_alias", "joined_members",
        "joined_local_members", "version", "creator", "encryption", "federatable", "public",
        "join_rules", "guest_access", "history_visibility", "state_events", "room_id"}) {
    for (std::string dir : {"f", "b"}) {
      json::object body = Get(root_, AdminV1("/rooms?order_by=" + order + "&dir=" + dir));
      EXPECT_EQ(body.at("rooms").as_array().size(), 4u) << order << dir;
      EXPECT_EQ(body.at("total_rooms").as_int64(), 4) << order << dir;
    }
  }
  // search_term: the name or alias localpart (any case), or the room ID.
  EXPECT_EQ(RoomNames("?search_term=alp"), (Names{"Alpha"}));
  EXPECT_EQ(RoomNames("?search_term=GAMMA"), (Names{"Gamma"}));
  EXPECT_EQ(RoomNames("?search_term=phaali"), (Names{"Alpha"}));
  EXPECT_EQ(RoomNames("?search_term=" + PercentEncode(beta_)), (Names{"Beta"}));
  EXPECT_EQ(RoomNames("?search_term=nothing"), Names{});
  // empty_rooms and public_rooms (the room directory, set here by hand).
  EXPECT_EQ(RoomNames("?empty_rooms=true"), (Names{"Delta"}));
  EXPECT_EQ(RoomNames("?empty_rooms=false"), (Names{"Alpha", "Beta", "Gamma"}));
  EXPECT_EQ(RoomNames("?public_rooms=true"), Names{});
  projections::testing::Exec(url(), "INSERT INTO room_directory (room_id, visibility) VALUES ('" +
                                        gamma_ + "', 'public')");
  EXPECT_EQ(RoomNames("?public_rooms=true"), (Names{"Gamma"}));
  EXPECT_EQ(RoomNames("?public_rooms=false"), (Names{"Alpha", "Beta", "Delta"}));
  for (std::string query : {"?order_by=bogus", "?dir=x", "?empty_rooms=yes", "?limit=-2"}) {
    ExpectError(As(&root_, "GET", AdminV1("/rooms") + query), 400, "M_INVALID_PARAM");
  }
}

TEST_F(AdminRoomsTest, RoomPagesAndTheLagHeader) {
  MakeRooms();
  Sync();
  Names seen;
  int64_t from = 0;
  for (int page = 0; page < 10; ++page) {
    json::object body = Get(root_, AdminV1("/rooms?limit=1&from=" + std::to_string(from)));
    EXPECT_EQ(body.at("offset").as_int64(), from);
    EXPECT_EQ(body.at("total_rooms").as_int64(), 4);
    if (from > 0) {
      EXPECT_EQ(body.at("prev_batch").as_int64(), from - 1);
    } else {
      EXPECT_FALSE(body.contains("prev_batch"));
    }
    for (std::string& name : Column(body, "rooms", "name")) seen.push_back(std::move(name));
    if (!body.contains("next_batch")) break;
    from = body.at("next_batch").as_int64();
  }
  EXPECT_EQ(seen, (Names{"Alpha", "Beta", "Delta", "Gamma"}));
  // Writes the projector has not seen yet: the lag header counts them, the body names
  // the checkpoint the answer was read at, and the list is the projected state.
  const uint64_t checkpoint = engine_->stream_position();
  Room("Epsilon", false, "", {});
  HttpReply behind = As(&root_, "GET", AdminV1("/rooms"));
  ASSERT_EQ(behind.status, 200);
  EXPECT_GT(std::stoll(Header(behind, "X-Nebu-Projection-Lag")), 0);
  EXPECT_EQ(behind.Json().at("projection_position").to_number<uint64_t>(), checkpoint);
  EXPECT_EQ(behind.Json().at("total_rooms").as_int64(), 4);
  Sync();
  HttpReply caught_up = As(&root_, "GET", AdminV1("/rooms"));
  EXPECT_EQ(Header(caught_up, "X-Nebu-Projection-Lag"), "0");
  EXPECT_EQ(caught_up.Json().at("total_rooms").as_int64(), 5);
}

class AdminStatsTest : public AdminDirectoryTest {
 protected:
  static constexpr int64_t kT = 1'700'000'100'000;
  void Upload(const std::string& user_id, const std::string& id, uint64_t size, int64_t ts) {
    auto payload = media::EncodeMediaCommand(
        {.op = media::MediaOp::kUpload, .media_id = id, .user_id = user_id, .size = size,
         .content_type = "image/png", .sha256 = std::string(64, 'a'), .ts = ts});
    ASSERT_TRUE(payload.ok()) << payload.status().ToString();
    ASSERT_TRUE(engine_->Submit({core::CommandKind::kMedia, *payload}).ok());
  }
  Names Users(const std::string& query) {
    return Column(Get(root_, AdminV1("/statistics/users/media") + query), "users", "user_id");
  }
};

TEST_F(AdminStatsTest, UserMediaStatistics) {
  MakeUsers();
  Upload(root_.user_id, "r1", 10, kT);
  Upload(root_.user_id, "r2", 20, kT + 1000);
  Upload(Local("u01"), "a1", 100, kT + 10'000);
  Sync();
  HttpReply reply = As(&root_, "GET", AdminV1("/statistics/users/media"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  json::object body = reply.Json().as_object();
  EXPECT_EQ(body.at("total").as_int64(), 2);
  EXPECT_EQ(Header(reply, "X-Nebu-Projection-Lag"), "0");
  ASSERT_EQ(body.at("users").as_array().size(), 2u);
  const json::object& root = body.at("users").as_array().at(0).as_object();
  EXPECT_EQ(root.at("user_id").as_string(), root_.user_id);
  EXPECT_EQ(root.at("media_count").as_int64(), 2);
  EXPECT_EQ(root.at("media_length").as_int64(), 30);
  EXPECT_TRUE(root.contains("displayname"));
  EXPECT_EQ(body.at("users").as_array().at(1).at("displayname").as_string(), "Echo");
  EXPECT_EQ(Users("?dir=b"), (Names{Local("u01"), root_.user_id}));
  EXPECT_EQ(Users("?order_by=media_length"), (Names{root_.user_id, Local("u01")}));
  EXPECT_EQ(Users("?order_by=media_length&dir=b"), (Names{Local("u01"), root_.user_id}));
  EXPECT_EQ(Users("?order_by=media_count"), (Names{Local("u01"), root_.user_id}));
  EXPECT_EQ(Users("?order_by=displayname"), (Names{Local("u01"), root_.user_id}));
  EXPECT_EQ(Users("?from_ts=" + std::to_string(kT + 5000)), (Names{Local("u01")}));
  EXPECT_EQ(Users("?until_ts=" + std::to_string(kT + 5000)), (Names{root_.user_id}));
  json::object until_first = Get(root_, AdminV1("/statistics/users/media?until_ts=" +
                                                std::to_string(kT)));
  EXPECT_EQ(until_first.at("users").as_array().at(0).at("media_length").as_int64(), 10);
  EXPECT_EQ(Users("?search_term=u0"), (Names{Local("u01")}));
  EXPECT_EQ(Users("?search_term=Ech"), (Names{Local("u01")}));
  json::object first = Get(root_, AdminV1("/statistics/users/media?limit=1"));
  EXPECT_EQ(first.at("next_token").as_int64(), 1);
  json::object second = Get(root_, AdminV1("/statistics/users/media?limit=1&from=1"));
  EXPECT_FALSE(second.contains("next_token"));
  EXPECT_EQ(Column(second, "users", "user_id"), (Names{Local("u01")}));
  for (std::string query : {"?until_ts=5&from_ts=10", "?search_term=", "?order_by=size",
                            "?dir=z", "?from=-1", "?from_ts=x"}) {
    ExpectError(As(&root_, "GET", AdminV1("/statistics/users/media") + query), 400,
                "M_INVALID_PARAM");
  }
}

TEST_F(AdminRoomsTest, DatabaseRoomsListsTheLargestFirst) {
  MakeRooms();
  for (int i = 0; i < 20; ++i) Message(gamma_, root_.user_id);
  Sync();
  HttpReply reply = As(&root_, "GET", AdminV1("/statistics/database/rooms"));
  ASSERT_EQ(reply.status, 200) << reply.body;
  EXPECT_EQ(Header(reply, "X-Nebu-Projection-Lag"), "0");
  const json::value body = reply.Json();
  const json::array& rooms = body.at("rooms").as_array();
  ASSERT_EQ(rooms.size(), 4u);
  EXPECT_EQ(rooms.at(0).at("room_id").as_string(), gamma_);  // the most events
  int64_t previous = INT64_MAX;
  for (const json::value& room : rooms) {
    const int64_t size = room.at("estimated_size").as_int64();
    EXPECT_GT(size, 0);
    EXPECT_LE(size, previous);
    previous = size;
  }
}

TEST_F(AdminDirectoryTest, WithoutPostgresTheStatisticsAnswer503) {
  projector_.reset();
  StartAdmin({});
  Session admin = RegisterAdmin("root");
  for (std::string path : {"/statistics/users/media", "/statistics/database/rooms"}) {
    HttpReply reply = As(&admin, "GET", AdminV1(path));
    ExpectError(reply, 503, "M_UNAVAILABLE");
    EXPECT_NE(reply.body.find("PostgreSQL"), std::string::npos);
  }
  ExpectError(As(&admin, "GET", AdminV2("/users")), 503, "M_UNAVAILABLE");
  ExpectError(As(&admin, "GET", AdminV1("/rooms")), 503, "M_UNAVAILABLE");
}

TEST_F(AdminDirectoryTest, PostgresDownAnswers503) {
  root_ = RegisterAdmin("root");
  projector_.reset();
  StartAdmin({.directory = projections::MakeAdminDirectory(
                  "postgresql://nebu@127.0.0.1:1/nebu", std::string(kServerName))});
  root_ = RegisterAdmin("root2");
  for (std::string path : {AdminV2("/users"), AdminV1("/rooms"),
                           AdminV1("/statistics/users/media"),
                           AdminV1("/statistics/database/rooms")}) {
    HttpReply reply = As(&root_, "GET", path);
    EXPECT_EQ(reply.status, 503) << path;
    EXPECT_NE(reply.body.find("PostgreSQL"), std::string::npos) << reply.body;
    EXPECT_EQ(reply.body.find("127.0.0.1"), std::string::npos) << reply.body;  // logged only
  }
}

}  // namespace
}  // namespace nebu::api::testing
