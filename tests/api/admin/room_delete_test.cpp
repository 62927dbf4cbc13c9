// Goal: DELETE /_synapse/admin/v2/rooms/{roomId} (and v1) does what Synapse's Delete
// Room API does (block, a new room with the message, local members moved, aliases
// moved, purge through api::PurgeRoomHistory) as a background job whose replicated
// status both status routes answer; blocked rooms refuse joins and invites; ordinary
// users get 403 and change nothing. The engine's record rules (one running deletion per
// room, finished records final) are checked on the state machine directly.
// Method: the room admin fixture (real engine, loopback HTTP, client room routes).
#include <boost/json.hpp>

#include "engine/admin/room_deletions.h"
#include "engine/compliance/compliance.h"
#include "tests/api/admin/room_admin_testing.h"

namespace nebu::api::testing {
namespace {

using boost::json::object;

class RoomDeleteTest : public RoomAdminFixture {
 protected:
  const std::string v1_ = "/_synapse/admin/v1";
  const std::string v2_ = "/_synapse/admin/v2";

  // The task once its status is final (complete or failed); {} after the bound.
  object WaitFinished(const Session& admin, const std::string& delete_id) {
    object task;
    WaitUntil([&] {
      HttpReply reply = As(&admin, "GET", v2_ + "/rooms/delete_status/" + delete_id);
      if (reply.status != 200) return false;
      task = reply.Json().as_object();
      const std::string status = Str(task, "status");
      return status == "complete" || status == "failed";
    });
    return task;
  }

  static std::vector<std::string> List(const object& task, std::string_view key) {
    std::vector<std::string> out;
    for (const auto& v : task.at("shutdown_room").at(key).as_array()) {
      out.emplace_back(v.as_string());
    }
    std::sort(out.begin(), out.end());
    return out;
  }
};

TEST_F(RoomDeleteTest, DeleteBlocksMovesMembersAndAliasesToANewRoom) {
  Session admin = RegisterAdmin("root");
  Session alice = Register("alice");
  Session bob = Register("bob");
  Session carol = Register("carol");
  const std::string room = CreateRoomHttp(
      alice, object{{"preset", "public_chat"}, {"name", "Bad"}, {"room_alias_name", "bad"}});
  ASSERT_EQ(Join(bob, room).status, 200);
  ASSERT_EQ(SendText(alice, room, "something bad").status, 200);

  HttpReply started = As(&admin, "DELETE", v2_ + "/rooms/" + PercentEncode(room),
                         Json({{"block", true},
                               {"purge", false},
                               {"new_room_user_id", admin.user_id},
                               {"room_name", "Gone"},
                               {"message", "This room was shut down."}}));
  ASSERT_EQ(started.status, 200) << started.body;
  const std::string delete_id = Str(started.Json(), "delete_id");
  ASSERT_FALSE(delete_id.empty());

  object task = WaitFinished(admin, delete_id);
  ASSERT_EQ(Str(task, "status"), "complete") << boost::json::serialize(task);
  EXPECT_EQ(Str(task, "room_id"), room);
  EXPECT_FALSE(task.contains("error"));
  EXPECT_EQ(List(task, "kicked_users"), (std::vector<std::string>{alice.user_id, bob.user_id}));
  EXPECT_TRUE(List(task, "failed_to_kick_users").empty());
  EXPECT_EQ(List(task, "local_aliases"), (std::vector<std::string>{"#bad:test.local"}));
  const std::string new_room = Str(task.at("shutdown_room"), "new_room_id");
  ASSERT_FALSE(new_room.empty());

  // The status by room lists the same task.
  HttpReply by_room = As(&admin, "GET", v2_ + "/rooms/" + PercentEncode(room) + "/delete_status");
  ASSERT_EQ(by_room.status, 200) << by_room.body;
  ASSERT_EQ(by_room.Json().at("results").as_array().size(), 1u);
  EXPECT_EQ(by_room.Json().at("results").at(0).as_object(), task);

  // Members left the old room and are in the new one; the alias points there.
  EXPECT_EQ(MembershipIn(room, alice.user_id), "leave");
  EXPECT_EQ(MembershipIn(room, bob.user_id), "leave");
  EXPECT_EQ(MembershipIn(new_room, alice.user_id), "join");
  EXPECT_EQ(MembershipIn(new_room, bob.user_id), "join");
  HttpReply alias =
      Call("GET", "/directory/room/" + PercentEncode("#bad:test.local"), {}, alice.access_token);
  EXPECT_EQ(Str(alias.Json(), "room_id"), new_room) << alias.body;

  // The old room is blocked: nobody gets back in.
  ExpectError(Join(bob, room), 403, "M_FORBIDDEN");
  ExpectError(Join(carol, room), 403, "M_FORBIDDEN");
  HttpReply block = As(&admin, "GET", v1_ + "/rooms/" + PercentEncode(room) + "/block");
  EXPECT_EQ(block.Json().at("block"), true);

  // The new room carries the message, and its members cannot speak (users_default -10).
  HttpReply messages = As(&admin, "GET", v1_ + "/rooms/" + PercentEncode(new_room) +
                                             "/messages?dir=f&limit=50");
  ASSERT_EQ(messages.status, 200) << messages.body;
  bool found = false;
  const boost::json::value messages_json = messages.Json();
  for (const auto& event : messages_json.at("chunk").as_array()) {
    found = found || Str(event.at("content"), "body") == "This room was shut down.";
  }
  EXPECT_TRUE(found) << messages.body;
  ExpectError(SendText(bob, new_room, "hello?"), 403, "M_FORBIDDEN");
}

TEST_F(RoomDeleteTest, PurgeCompletesAndALegalHoldFailsTheJobChangingNothing) {
  Session admin = RegisterAdmin("root");
  Session alice = Register("alice");
  const std::string room = CreateRoomHttp(alice, object{{"preset", "public_chat"}});
  ASSERT_EQ(SendText(alice, room, "purged with the room").status, 200);
  HttpReply started = As(&admin, "DELETE", v2_ + "/rooms/" + PercentEncode(room),
                         Json({{"purge", true}}));
  ASSERT_EQ(started.status, 200) << started.body;
  object task = WaitFinished(admin, Str(started.Json(), "delete_id"));
  EXPECT_EQ(Str(task, "status"), "complete") << boost::json::serialize(task);
  EXPECT_EQ(List(task, "kicked_users"), (std::vector<std::string>{alice.user_id}));

  // A legal hold on the room (engine/compliance): the purging deletion fails at once,
  // naming the hold, before anything changed: alice is still joined.
  const std::string held = CreateRoomHttp(alice, object{{"preset", "public_chat"}});
  Result<std::string> hold = compliance::EncodePurgeCommand(compliance::HoldCreate{
      .hold_id = "hold1", .target = held, .reason = "litigation", .case_id = "case-7",
      .actor = admin.user_id, .ts = 1});
  ASSERT_TRUE(hold.ok()) << hold.status().ToString();
  ASSERT_TRUE(engine_->Submit({.kind = core::CommandKind::kPurge, .payload = *hold}).ok());
  HttpReply refused = As(&admin, "DELETE", v2_ + "/rooms/" + PercentEncode(held),
                         Json({{"purge", true}}));
  ASSERT_EQ(refused.status, 200) << refused.body;
  object failed = WaitFinished(admin, Str(refused.Json(), "delete_id"));
  ASSERT_EQ(Str(failed, "status"), "failed") << boost::json::serialize(failed);
  EXPECT_NE(Str(failed, "error").find("hold1"), std::string::npos) << Str(failed, "error");
  EXPECT_EQ(MembershipIn(held, alice.user_id), "join");
}

TEST_F(RoomDeleteTest, V1AnswersTheShutdownResultAndBlocksUnknownRooms) {
  Session admin = RegisterAdmin("root");
  Session alice = Register("alice");
  const std::string room = CreateRoomHttp(alice, object{{"preset", "public_chat"}});
  HttpReply done = As(&admin, "DELETE", v1_ + "/rooms/" + PercentEncode(room),
                      Json({{"purge", false}}));
  ASSERT_EQ(done.status, 200) << done.body;
  EXPECT_EQ(done.Json().at("kicked_users").as_array().size(), 1u);
  EXPECT_TRUE(done.Json().at("new_room_id").is_null());
  EXPECT_EQ(MembershipIn(room, alice.user_id), "leave");
  // Not blocked: alice may come back.
  EXPECT_EQ(Join(alice, room).status, 200);

  // An unknown room: v1 blocks it pre-emptively with block, refuses without; v2 404s.
  const std::string unknown = "!unknown:test.local";
  HttpReply blocked = As(&admin, "DELETE", v1_ + "/rooms/" + PercentEncode(unknown),
                         Json({{"block", true}, {"purge", false}}));
  EXPECT_EQ(blocked.status, 200) << blocked.body;
  EXPECT_EQ(As(&admin, "GET", v1_ + "/rooms/" + PercentEncode(unknown) + "/block")
                .Json()
                .at("block"),
            true);
  ExpectError(As(&admin, "DELETE", v1_ + "/rooms/" + PercentEncode("!other:test.local"), "{}"),
              400, "M_INVALID_PARAM");
  ExpectError(As(&admin, "DELETE", v2_ + "/rooms/" + PercentEncode(unknown), "{}"), 404,
              "M_NOT_FOUND");
}

TEST_F(RoomDeleteTest, BadRequestsAndOrdinaryUsersChangeNothing) {
  Session admin = RegisterAdmin("root");
  Session alice = Register("alice");
  const std::string room = CreateRoomHttp(alice, object{{"preset", "public_chat"}});
  const std::string path = v2_ + "/rooms/" + PercentEncode(room);
  ExpectError(As(&admin, "DELETE", path, ""), 400, "M_NOT_JSON");
  ExpectError(As(&admin, "DELETE", path, Json({{"block", "yes"}})), 400, "M_BAD_JSON");
  ExpectError(As(&admin, "DELETE", path, Json({{"new_room_user_id", "@x:elsewhere"}})), 400,
              "M_INVALID_PARAM");
  ExpectError(As(&admin, "DELETE", v2_ + "/rooms/not-a-room", "{}"), 400, "M_INVALID_PARAM");
  ExpectError(As(&admin, "GET", v2_ + "/rooms/delete_status/nosuchid"), 404, "M_NOT_FOUND");

  ExpectError(As(&alice, "DELETE", path, Json({{"block", true}})), 403, "M_FORBIDDEN");
  ExpectError(As(&alice, "DELETE", v1_ + "/rooms/" + PercentEncode(room), "{}"), 403,
              "M_FORBIDDEN");
  ExpectError(As(&alice, "GET", path + "/delete_status"), 403, "M_FORBIDDEN");
  ExpectError(As(nullptr, "DELETE", path, "{}"), 401, "M_MISSING_TOKEN");
  EXPECT_EQ(MembershipIn(room, alice.user_id), "join");
  EXPECT_EQ(As(&admin, "GET", v1_ + "/rooms/" + PercentEncode(room) + "/block").Json().at("block"),
            false);
  ExpectError(As(&admin, "GET", path + "/delete_status"), 404, "M_NOT_FOUND");
}

TEST_F(RoomDeleteTest, BlockedRoomsRefuseJoinsAndInvitesUntilUnblocked) {
  Session admin = RegisterAdmin("root");
  Session alice = Register("alice");
  Session bob = Register("bob");
  const std::string room = CreateRoomHttp(alice, object{{"preset", "public_chat"}});
  const std::string block = v1_ + "/rooms/" + PercentEncode(room) + "/block";
  ASSERT_EQ(As(&admin, "PUT", block, Json({{"block", true}})).status, 200);
  ExpectError(Join(bob, room), 403, "M_FORBIDDEN");
  ExpectError(Invite(alice, room, bob.user_id), 403, "M_FORBIDDEN");
  EXPECT_EQ(MembershipIn(room, bob.user_id), "");
  // Members already in keep talking.
  EXPECT_EQ(SendText(alice, room, "still here").status, 200);
  ASSERT_EQ(As(&admin, "PUT", block, Json({{"block", false}})).status, 200);
  EXPECT_EQ(Join(bob, room).status, 200);
}

// The record rules, on the state machine directly.
class RoomDeletionRecordTest : public RoomAdminFixture {
 protected:
  core::ApplyOutcome Put(const admin::RoomDeletion& d) {
    auto payload = admin::EncodeAdminCommand(d);
    if (!payload.ok()) return payload.status();
    return engine_->Submit({core::CommandKind::kAudit, *payload});
  }
};

TEST_F(RoomDeletionRecordTest, OneRunningDeletionPerRoomAndFinishedRecordsAreFinal) {
  admin::RoomDeletion first{.delete_id = "first", .room_id = "!r:test.local",
                            .status = "scheduled", .actor = "@a:test.local", .ts = 1000};
  ASSERT_TRUE(Put(first).ok());
  admin::RoomDeletion second = first;
  second.delete_id = "second";
  second.ts = 2000;
  EXPECT_EQ(Put(second).status().code(), StatusCode::kAlreadyExists);
  // An update of a new ID must start scheduled.
  admin::RoomDeletion active = second;
  active.status = "active";
  EXPECT_EQ(Put(active).status().code(), StatusCode::kInvalidArgument);
  // Once the first is stale, another may start.
  second.ts = first.ts + admin::kRoomDeletionStaleMs;
  ASSERT_TRUE(Put(second).ok());
  // Finished is final; created_ts stays the first ts.
  second.status = "complete";
  second.ts += 5;
  ASSERT_TRUE(Put(second).ok());
  second.status = "active";
  EXPECT_EQ(Put(second).status().code(), StatusCode::kForbidden);
  auto stored = admin::GetRoomDeletion(engine_->Read(), "second");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->status, "complete");
  EXPECT_EQ((*stored)->created_ts, first.ts + admin::kRoomDeletionStaleMs);
  // Another room's record under an existing ID is refused; bad IDs never encode.
  admin::RoomDeletion moved = first;
  moved.room_id = "!other:test.local";
  moved.status = "active";
  EXPECT_EQ(Put(moved).status().code(), StatusCode::kInvalidArgument);
  admin::RoomDeletion bad = first;
  bad.delete_id = "no/slash";
  EXPECT_FALSE(admin::EncodeAdminCommand(bad).ok());
  auto listed = admin::ListRoomDeletions(engine_->Read(), "!r:test.local");
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u);
}

}  // namespace
}  // namespace nebu::api::testing
