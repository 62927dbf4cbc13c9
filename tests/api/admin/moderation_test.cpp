// Goal: the admin moderation routes act as Synapse's: make_room_admin gives a user the
// power of the room's strongest local member (inviting them into a private room), the
// admin /messages reads any room, a shadow-banned user's sends and invites answer
// success but nobody else ever sees them, a locked user gets 401 M_USER_LOCKED and a
// suspended one 403 M_USER_SUSPENDED, and an admin deactivation leaves every room.
// Ordinary users get 403 and change nothing.
// Method: the room admin fixture (real engine, loopback HTTP, client room and sync routes).
#include <boost/json.hpp>

#include "tests/api/admin/room_admin_testing.h"

namespace nebu::api::testing {
namespace {

using boost::json::object;

class ModerationTest : public RoomAdminFixture {
 protected:
  const std::string v1_ = "/_synapse/admin/v1";
  const std::string v2_ = "/_synapse/admin/v2";

  int64_t PowerOf(const std::string& room_id, const std::string& user_id) {
    auto state = engine_->CurrentState(room_id);
    return state.ok() ? state->GetPowerLevels().UserLevel(user_id) : -1000;
  }
  // The bodies of the room's m.room.message events, as `reader` reads them.
  std::vector<std::string> Bodies(const Session& reader, const std::string& room_id) {
    HttpReply reply = Call("GET", "/rooms/" + PercentEncode(room_id) + "/messages?dir=f&limit=100",
                           {}, reader.access_token);
    std::vector<std::string> out;
    if (reply.status != 200) return out;
    const boost::json::value reply_json = reply.Json();
    for (const auto& event : reply_json.at("chunk").as_array()) {
      if (Str(event, "type") == "m.room.message") out.push_back(Str(event.at("content"), "body"));
    }
    return out;
  }
};

TEST_F(ModerationTest, MakeRoomAdminGivesTheStrongestLocalPowerAndInvites) {
  Session admin = RegisterAdmin("root");
  Session alice = Register("alice");
  Session bob = Register("bob");
  const std::string room = CreateRoomHttp(alice, object{{"preset", "private_chat"}});
  const std::string path = v1_ + "/rooms/" + PercentEncode(room) + "/make_room_admin";

  ExpectError(As(&bob, "POST", path, "{}"), 403, "M_FORBIDDEN");
  EXPECT_EQ(PowerOf(room, bob.user_id), 0);

  // Default: the caller; not in a private room, so invited by alice.
  ASSERT_EQ(As(&admin, "POST", path, "{}").status, 200);
  EXPECT_EQ(PowerOf(room, admin.user_id), 100);
  EXPECT_EQ(MembershipIn(room, admin.user_id), "invite");
  // Another user, by alias-less room ID; bob is invited too.
  ASSERT_EQ(As(&admin, "POST", path, Json({{"user_id", bob.user_id}})).status, 200);
  EXPECT_EQ(PowerOf(room, bob.user_id), 100);
  EXPECT_EQ(MembershipIn(room, bob.user_id), "invite");

  // A public room: no invite.
  Session carol = Register("carol");
  const std::string open = CreateRoomHttp(alice, object{{"preset", "public_chat"},
                                                        {"room_alias_name", "open"}});
  HttpReply by_alias = As(&admin, "POST",
                          v1_ + "/rooms/" + PercentEncode("#open:test.local") + "/make_room_admin",
                          Json({{"user_id", carol.user_id}}));
  ASSERT_EQ(by_alias.status, 200) << by_alias.body;
  EXPECT_EQ(PowerOf(open, carol.user_id), 100);
  EXPECT_EQ(MembershipIn(open, carol.user_id), "");

  // No local admin left in the room: 400; remote users and unknown rooms refused.
  ASSERT_EQ(Call("POST", "/rooms/" + PercentEncode(open) + "/leave", "{}", alice.access_token)
                .status,
            200);
  ExpectError(As(&admin, "POST",
                 v1_ + "/rooms/" + PercentEncode(open) + "/make_room_admin", "{}"),
              400, "M_UNKNOWN");
  ExpectError(As(&admin, "POST", path, Json({{"user_id", "@x:elsewhere"}})), 400,
              "M_INVALID_PARAM");
  ExpectError(As(&admin, "POST", v1_ + "/rooms/" + PercentEncode("!nope:test.local") +
                                     "/make_room_admin", "{}"),
              404, "M_NOT_FOUND");
}

TEST_F(ModerationTest, AdminMessagesReadAnyRoom) {
  Session admin = RegisterAdmin("root");
  Session alice = Register("alice");
  Session bob = Register("bob");
  const std::string room = CreateRoomHttp(alice, object{{"preset", "private_chat"}});
  for (const char* body : {"one", "two", "three"}) {
    ASSERT_EQ(SendText(alice, room, body).status, 200);
  }
  const std::string path = v1_ + "/rooms/" + PercentEncode(room) + "/messages";
  HttpReply page = As(&admin, "GET", path + "?limit=100");  // dir defaults to f
  ASSERT_EQ(page.status, 200) << page.body;
  std::vector<std::string> bodies;
  const boost::json::value page_json = page.Json();
  for (const auto& event : page_json.at("chunk").as_array()) {
    if (Str(event, "type") == "m.room.message") bodies.push_back(Str(event.at("content"), "body"));
  }
  EXPECT_EQ(bodies, (std::vector<std::string>{"one", "two", "three"}));
  // Backwards with a type filter and a limit: the last message only, and an end token.
  HttpReply last = As(&admin, "GET",
                      path + "?dir=b&limit=1&filter=" +
                          PercentEncode(R"({"types":["m.room.message"]})"));
  ASSERT_EQ(last.status, 200) << last.body;
  ASSERT_EQ(last.Json().at("chunk").as_array().size(), 1u);
  EXPECT_EQ(Str(last.Json().at("chunk").at(0).at("content"), "body"), "three");
  EXPECT_FALSE(Str(last.Json(), "end").empty());

  ExpectError(As(&bob, "GET", path), 403, "M_FORBIDDEN");
  ExpectError(As(&admin, "GET", path + "?dir=x"), 400, "M_INVALID_PARAM");
  ExpectError(As(&admin, "GET", v1_ + "/rooms/" + PercentEncode("!nope:test.local") + "/messages"),
              404, "M_NOT_FOUND");
}

TEST_F(ModerationTest, ShadowBannedWritesAreInvisibleToOthers) {
  Session admin = RegisterAdmin("root");
  Session alice = Register("alice");
  Session bob = Register("bob");
  Session carol = Register("carol");
  const std::string room = CreateRoomHttp(alice, object{{"preset", "public_chat"}});
  ASSERT_EQ(Join(bob, room).status, 200);
  const std::string ban = v1_ + "/users/" + PercentEncode(bob.user_id) + "/shadow_ban";

  ExpectError(As(&alice, "POST", ban, "{}"), 403, "M_FORBIDDEN");
  EXPECT_EQ(As(&admin, "GET", v2_ + "/users/" + PercentEncode(bob.user_id))
                .Json()
                .at("shadow_banned"),
            false);
  ASSERT_EQ(As(&admin, "POST", ban, "{}").status, 200);
  EXPECT_EQ(As(&admin, "GET", v2_ + "/users/" + PercentEncode(bob.user_id))
                .Json()
                .at("shadow_banned"),
            true);

  // Alice's sync position before bob's writes.
  HttpReply first = Call("GET", "/sync?timeout=0", {}, alice.access_token);
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string since = Str(first.Json(), "next_batch");
  const uint64_t stream_before = engine_->stream_position();

  HttpReply sent = SendText(bob, room, "spam");
  ASSERT_EQ(sent.status, 200) << sent.body;
  const std::string fake_id = Str(sent.Json(), "event_id");
  EXPECT_TRUE(fake_id.starts_with("$")) << sent.body;
  HttpReply state = Call("PUT", "/rooms/" + PercentEncode(room) + "/state/m.room.topic",
                         Json({{"topic", "spam"}}), bob.access_token);
  EXPECT_EQ(state.status, 200) << state.body;
  EXPECT_EQ(Invite(bob, room, carol.user_id).status, 200);

  // Nothing was written: no stream position moved, alice's sync has nothing new.
  EXPECT_EQ(engine_->stream_position(), stream_before);
  EXPECT_EQ(MembershipIn(room, carol.user_id), "");
  EXPECT_EQ(Bodies(alice, room), std::vector<std::string>{});
  HttpReply event = Call("GET", "/rooms/" + PercentEncode(room) + "/event/" + PercentEncode(fake_id),
                         {}, alice.access_token);
  EXPECT_EQ(event.status, 404) << event.body;
  HttpReply later = Call("GET", "/sync?timeout=0&since=" + since, {}, alice.access_token);
  ASSERT_EQ(later.status, 200) << later.body;
  const boost::json::value body = later.Json();
  const auto* rooms = body.as_object().if_contains("rooms");
  const auto* joined = rooms != nullptr ? rooms->as_object().if_contains("join") : nullptr;
  EXPECT_TRUE(joined == nullptr || !joined->as_object().contains(room)) << later.body;

  // Lifted: bob's messages are real again.
  ASSERT_EQ(As(&admin, "DELETE", ban).status, 200);
  ASSERT_EQ(SendText(bob, room, "hello").status, 200);
  EXPECT_EQ(Bodies(alice, room), std::vector<std::string>{"hello"});
  ExpectError(As(&admin, "POST", v1_ + "/users/" + PercentEncode("@ghost:test.local") +
                                     "/shadow_ban", "{}"),
              404, "M_NOT_FOUND");
}

TEST_F(ModerationTest, LockedAndSuspendedUsersAreRestricted) {
  Session admin = RegisterAdmin("root");
  Session alice = Register("alice");
  Session bob = Register("bob");
  const std::string room = CreateRoomHttp(alice, object{{"preset", "public_chat"}});
  ASSERT_EQ(Join(bob, room).status, 200);

  ASSERT_EQ(As(&admin, "PUT", v2_ + "/users/" + PercentEncode(alice.user_id),
               Json({{"locked", true}})).status,
            200);
  HttpReply locked = Call("GET", "/account/whoami", {}, alice.access_token);
  ExpectError(locked, 401, "M_USER_LOCKED");
  EXPECT_TRUE(SoftLogout(locked));
  EXPECT_EQ(As(&admin, "GET", v2_ + "/users/" + PercentEncode(alice.user_id)).Json().at("locked"),
            true);

  const std::string suspend = v1_ + "/suspend/" + PercentEncode(bob.user_id);
  ExpectError(As(&bob, "PUT", suspend, Json({{"suspend", false}})), 403, "M_FORBIDDEN");
  HttpReply suspended = As(&admin, "PUT", suspend, Json({{"suspend", true}}));
  ASSERT_EQ(suspended.status, 200) << suspended.body;
  EXPECT_EQ(suspended.Json().at("user_" + bob.user_id + "_suspended"), true);
  ExpectError(SendText(bob, room, "hi"), 403, "M_USER_SUSPENDED");
  ASSERT_EQ(As(&admin, "PUT", suspend, Json({{"suspend", false}})).status, 200);
  EXPECT_EQ(SendText(bob, room, "hi").status, 200);
}

TEST_F(ModerationTest, AdminDeactivationLeavesEveryRoom) {
  Session admin = RegisterAdmin("root");
  Session alice = Register("alice");
  Session bob = Register("bob");
  Session carol = Register("carol");
  const std::string one = CreateRoomHttp(alice, object{{"preset", "public_chat"}});
  const std::string two = CreateRoomHttp(alice, object{{"preset", "private_chat"}});
  ASSERT_EQ(Join(bob, one).status, 200);
  ASSERT_EQ(Invite(alice, two, bob.user_id).status, 200);
  ASSERT_EQ(Join(carol, one).status, 200);

  ExpectError(As(&carol, "POST", v1_ + "/deactivate/" + PercentEncode(bob.user_id), "{}"), 403,
              "M_FORBIDDEN");
  EXPECT_EQ(MembershipIn(one, bob.user_id), "join");

  // POST deactivate: bob leaves the room he joined and the invite he had.
  HttpReply done = As(&admin, "POST", v1_ + "/deactivate/" + PercentEncode(bob.user_id),
                      Json({{"erase", true}}));
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(MembershipIn(one, bob.user_id), "leave");
  EXPECT_EQ(MembershipIn(two, bob.user_id), "leave");
  EXPECT_EQ(Call("GET", "/account/whoami", {}, bob.access_token).status, 401);

  // PUT v2 deactivated: carol leaves too.
  ASSERT_EQ(As(&admin, "PUT", v2_ + "/users/" + PercentEncode(carol.user_id),
               Json({{"deactivated", true}})).status,
            200);
  EXPECT_EQ(MembershipIn(one, carol.user_id), "leave");
  EXPECT_EQ(As(&admin, "GET", v2_ + "/users/" + PercentEncode(carol.user_id))
                .Json()
                .at("deactivated"),
            true);
}

}  // namespace
}  // namespace nebu::api::testing
