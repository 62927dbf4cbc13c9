// Goal: the compliance routes do what api/compliance/*.h say over real HTTP: auditors
// (only) create, list, read and release legal holds; admins purge a room's history with
// Synapse's purge_history and read its status; a hold on the room refuses the admin purge
// and the retention purge with an error or report naming it, and a hold on a user keeps
// that user's events; without a hold the purged messages lose their content in /messages,
// /context and /sync, their tombstones stay and the room's log still verifies.
// Method: the api/admin fixture (real engine, FakeClock, loopback HTTP) with the room and
// sync routes mounted too; the retention job driven by RunOnce with the clock advanced.
#include <boost/json.hpp>

#include "api/compliance/purge.h"
#include "api/compliance/retention.h"
#include "api/rooms/rooms_routes.h"
#include "api/sync/sync_routes.h"
#include "engine/compliance/compliance.h"
#include "tests/api/admin/admin_testing.h"

namespace nebu::api::testing {
namespace {

using boost::json::object;
using boost::json::value;

class ComplianceRoutesTest : public AdminFixture {
 protected:
  void SetUp() override {
    auto engine = core::Engine::Open(
        {.data_dir = dir_.path(), .server_name = std::string(kServerName), .clock = &clock_});
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(engine).value();
    router_ = std::make_unique<Router>("client");
    AddAccountRoutes(*router_, *engine_, {.registration_open = true, .rate_limit = false});
    AddRoomRoutes(*router_, *engine_);
    AddSyncRoutes(*router_, *engine_);
    AddAdminApiRoutes(*router_, *engine_, {});
    auto server = Server::Start({{.address = "127.0.0.1", .port = 0, .router = router_.get()}},
                                {.threads = 2});
    ASSERT_TRUE(server.ok()) << server.status().ToString();
    server_ = std::move(server).value();
    client_ = std::make_unique<TestHttpClient>(server_->port(0));
    ASSERT_TRUE(client_->connected());
    admin_ = RegisterAdmin("root");
    auditor_ = RegisterAuditor("audit");
    alice_ = Register("alice");
    bob_ = Register("bob");
  }

  std::string NewRoom(const Session& who, std::optional<int64_t> max_lifetime = std::nullopt) {
    object body{{"preset", "public_chat"}};
    if (max_lifetime) {
      body["initial_state"] = boost::json::array{
          object{{"type", "m.room.retention"}, {"state_key", ""},
                 {"content", object{{"max_lifetime", *max_lifetime}}}}};
    }
    HttpReply reply = Call("POST", "/createRoom", Json(body), who.access_token);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return Str(reply.Json(), "room_id");
  }
  void Join(const Session& who, const std::string& room) {
    EXPECT_EQ(Call("POST", "/rooms/" + PercentEncode(room) + "/join", "{}", who.access_token).status,
              200);
  }
  std::string Send(const Session& who, const std::string& room, const std::string& body) {
    HttpReply reply =
        Call("PUT", "/rooms/" + PercentEncode(room) + "/send/m.room.message/t" +
                        std::to_string(++txn_),
             Json({{"msgtype", "m.text"}, {"body", body}}), who.access_token);
    EXPECT_EQ(reply.status, 200) << reply.body;
    return Str(reply.Json(), "event_id");
  }
  // The bodies of the room's messages as /messages shows them ("" for no body).
  std::map<std::string, std::string> Messages(const Session& who, const std::string& room) {
    HttpReply reply = Call("GET", "/rooms/" + PercentEncode(room) + "/messages?dir=b&limit=100",
                           {}, who.access_token);
    EXPECT_EQ(reply.status, 200) << reply.body;
    std::map<std::string, std::string> out;
    const value json = reply.Json();
    for (const value& e : json.at("chunk").as_array()) {
      if (e.at("type") != "m.room.message") continue;
      out[Str(e, "event_id")] = Str(e.at("content"), "body");
    }
    return out;
  }
  HttpReply CreateHold(const Session& who, const object& body) {
    return As(&who, "POST", "/api/v1/holds", Json(body));
  }
  std::string Hold(const std::string& key, const std::string& target) {
    HttpReply reply =
        CreateHold(auditor_, {{key, target}, {"reason", "litigation"}, {"case_id", "CASE-7"}});
    EXPECT_EQ(reply.status, 200) << reply.body;
    return Str(reply.Json(), "hold_id");
  }
  HttpReply Purge(const std::string& room, const object& body) {
    return As(&admin_, "POST", "/_synapse/admin/v1/purge_history/" + PercentEncode(room),
              Json(body));
  }
  void ExpectVerifies(const std::string& room) {
    Result<uint64_t> verified = compliance::VerifyRoomLog(engine_->Read(), room);
    EXPECT_TRUE(verified.ok()) << verified.status().ToString();
  }

  Session admin_, auditor_, alice_, bob_;
  int txn_ = 0;
};

TEST_F(ComplianceRoutesTest, AuditorsCreateListReadAndReleaseHolds) {
  const std::string room = NewRoom(alice_);
  // Access: auditors only (an admin is no auditor), a token is needed.
  const object body{{"room_id", room}, {"reason", "r"}, {"case_id", "C"}};
  ExpectError(CreateHold(admin_, body), 403, "M_FORBIDDEN");
  ExpectError(CreateHold(alice_, body), 403, "M_FORBIDDEN");
  EXPECT_EQ(As(nullptr, "POST", "/api/v1/holds", Json(body)).status, 401);
  ExpectError(As(&admin_, "GET", "/api/v1/holds"), 403, "M_FORBIDDEN");
  ExpectError(As(&alice_, "DELETE", "/api/v1/holds/x"), 403, "M_FORBIDDEN");
  // Bad input changes nothing.
  ExpectError(CreateHold(auditor_, {{"reason", "r"}, {"case_id", "C"}}), 400, "M_BAD_JSON");
  ExpectError(CreateHold(auditor_, {{"room_id", room}, {"user_id", alice_.user_id},
                                    {"reason", "r"}, {"case_id", "C"}}),
              400, "M_BAD_JSON");
  ExpectError(CreateHold(auditor_, {{"room_id", room}, {"case_id", "C"}}), 400, "M_BAD_JSON");
  ExpectError(CreateHold(auditor_, {{"user_id", "alice"}, {"reason", "r"}, {"case_id", "C"}}),
              400, "M_INVALID_PARAM");
  ExpectError(As(&auditor_, "POST", "/api/v1/holds", "nope"), 400, "M_NOT_JSON");
  EXPECT_TRUE(As(&auditor_, "GET", "/api/v1/holds").Json().at("holds").as_array().empty());

  HttpReply made = CreateHold(auditor_, body);
  ASSERT_EQ(made.status, 200) << made.body;
  const std::string id = Str(made.Json(), "hold_id");
  EXPECT_EQ(Str(made.Json(), "room_id"), room);
  EXPECT_EQ(Str(made.Json(), "case_id"), "C");
  EXPECT_EQ(Str(made.Json(), "created_by"), auditor_.user_id);
  EXPECT_TRUE(made.Json().at("active").as_bool());
  const std::string user_hold = Hold("user_id", bob_.user_id);

  HttpReply list = As(&auditor_, "GET", "/api/v1/holds");
  ASSERT_EQ(list.status, 200) << list.body;
  EXPECT_EQ(list.Json().at("holds").as_array().size(), 2u);
  HttpReply one = As(&auditor_, "GET", "/api/v1/holds/" + id);
  ASSERT_EQ(one.status, 200);
  EXPECT_EQ(Str(one.Json(), "reason"), "r");
  ExpectError(As(&auditor_, "GET", "/api/v1/holds/unknown"), 404, "M_NOT_FOUND");

  HttpReply released = As(&auditor_, "DELETE", "/api/v1/holds/" + id);
  ASSERT_EQ(released.status, 200) << released.body;
  EXPECT_FALSE(released.Json().at("active").as_bool());
  EXPECT_EQ(Str(released.Json(), "released_by"), auditor_.user_id);
  ExpectError(As(&auditor_, "DELETE", "/api/v1/holds/" + id), 400, "M_INVALID_PARAM");
  ExpectError(As(&auditor_, "DELETE", "/api/v1/holds/unknown"), 404, "M_NOT_FOUND");
  HttpReply active = As(&auditor_, "GET", "/api/v1/holds?active=true");
  ASSERT_EQ(active.Json().at("holds").as_array().size(), 1u);
  EXPECT_EQ(Str(active.Json().at("holds").as_array()[0], "hold_id"), user_hold);
  EXPECT_EQ(As(&auditor_, "GET", "/api/v1/holds?limit=1").Json().at("holds").as_array().size(),
            1u);
  // The engine's view (what deactivation and room deletion ask).
  auto found = compliance::FindHold(engine_->Read(), bob_.user_id);
  ASSERT_TRUE(found.ok() && found->has_value());
  EXPECT_EQ((*found)->hold_id, user_hold);
  EXPECT_FALSE(compliance::FindHold(engine_->Read(), room)->has_value());
  // Each call is audited.
  HttpReply audit = As(&auditor_, "GET", "/api/v1/audit?action=holds.create");
  EXPECT_GE(audit.Json().at("records").as_array().size(), 2u);
}

TEST_F(ComplianceRoutesTest, PurgeHistoryTombstonesMessagesAndReportsItsStatus) {
  const std::string room = NewRoom(alice_);
  Join(bob_, room);
  const std::string old_a = Send(alice_, room, "old secret from alice");
  const std::string old_b = Send(bob_, room, "old secret from bob");
  clock_.AdvanceMs(10'000);
  const int64_t cut = clock_.NowUnixMs();
  const std::string fresh = Send(alice_, room, "fresh");
  // Access and input.
  ExpectError(As(&auditor_, "POST", "/_synapse/admin/v1/purge_history/" + PercentEncode(room),
                 "{}"),
              403, "M_FORBIDDEN");
  ExpectError(Purge(room, {}), 400, "M_UNKNOWN");
  ExpectError(Purge(room, {{"purge_up_to_ts", "soon"}}), 400, "M_INVALID_PARAM");
  ExpectError(Purge("!nope:test.local", {{"purge_up_to_ts", cut}}), 404, "M_NOT_FOUND");
  ExpectError(Purge(room, {{"purge_up_to_event_id", "$unknown"}}), 404, "M_NOT_FOUND");
  // Without delete_local_events (Synapse's default) local users' events stay.
  HttpReply kept = Purge(room, {{"purge_up_to_ts", cut}});
  ASSERT_EQ(kept.status, 200) << kept.body;
  EXPECT_EQ(Messages(alice_, room)[old_a], "old secret from alice");

  HttpReply purged = Purge(room, {{"purge_up_to_ts", cut}, {"delete_local_events", true}});
  ASSERT_EQ(purged.status, 200) << purged.body;
  const std::string purge_id = Str(purged.Json(), "purge_id");
  ASSERT_FALSE(purge_id.empty());
  HttpReply status = As(&admin_, "GET", "/_synapse/admin/v1/purge_history_status/" + purge_id);
  ASSERT_EQ(status.status, 200) << status.body;
  EXPECT_EQ(Str(status.Json(), "status"), "complete");
  EXPECT_EQ(status.Json().at("events_purged").as_int64(), 2);
  ExpectError(As(&admin_, "GET", "/_synapse/admin/v1/purge_history_status/unknown"), 404,
              "M_NOT_FOUND");

  // Gone from /messages, /context and /sync; the tombstones stay, the newer one is whole.
  std::map<std::string, std::string> messages = Messages(bob_, room);
  ASSERT_TRUE(messages.count(old_a) && messages.count(old_b));
  EXPECT_EQ(messages[old_a], "");
  EXPECT_EQ(messages[old_b], "");
  EXPECT_EQ(messages[fresh], "fresh");
  HttpReply context = Call("GET", "/rooms/" + PercentEncode(room) + "/context/" +
                                      PercentEncode(old_a),
                           {}, bob_.access_token);
  ASSERT_EQ(context.status, 200) << context.body;
  EXPECT_EQ(context.body.find("old secret"), std::string::npos);
  HttpReply sync = Call("GET", "/sync", {}, bob_.access_token);
  ASSERT_EQ(sync.status, 200) << sync.body;
  EXPECT_EQ(sync.body.find("old secret"), std::string::npos);
  // The log's envelope holds the tombstone; the room still verifies.
  auto record = engine_->GetEvent(old_a);
  ASSERT_TRUE(record.ok());
  EXPECT_EQ(record->json.find("old secret"), std::string::npos);
  EXPECT_EQ(record->sender, alice_.user_id);
  ExpectVerifies(room);
}

TEST_F(ComplianceRoutesTest, AHoldRefusesPurgesOfItsRoomAndKeepsItsUsersEvents) {
  const std::string room = NewRoom(alice_);
  Join(bob_, room);
  const std::string a = Send(alice_, room, "alice says");
  const std::string b = Send(bob_, room, "bob says");
  const std::string hold = Hold("room_id", room);
  const object all{{"purge_up_to_ts", clock_.NowUnixMs() + 1}, {"delete_local_events", true}};
  HttpReply refused = Purge(room, all);
  ExpectError(refused, 403, "M_FORBIDDEN");
  EXPECT_NE(refused.body.find(hold), std::string::npos) << refused.body;
  EXPECT_NE(refused.body.find("CASE-7"), std::string::npos) << refused.body;
  // The room deletion's entry point says the same.
  Result<PurgeRoomReport> direct = PurgeRoomHistory(*engine_, {.room_id = room, .actor = "x"});
  EXPECT_EQ(direct.status().code(), StatusCode::kForbidden);
  EXPECT_EQ(Messages(alice_, room)[a], "alice says");

  ASSERT_EQ(As(&auditor_, "DELETE", "/api/v1/holds/" + hold).status, 200);
  Hold("user_id", bob_.user_id);
  Result<PurgeRoomReport> dry =
      PurgeRoomHistory(*engine_, {.room_id = room, .actor = "x", .dry_run = true});
  ASSERT_TRUE(dry.ok());
  EXPECT_EQ(dry->events_purged, 1u);
  EXPECT_EQ(dry->events_held, 1u);
  EXPECT_EQ(Messages(alice_, room)[a], "alice says");  // a dry run changes nothing
  ASSERT_EQ(Purge(room, all).status, 200);
  std::map<std::string, std::string> messages = Messages(alice_, room);
  EXPECT_EQ(messages[a], "");
  EXPECT_EQ(messages[b], "bob says");
  ExpectVerifies(room);
}

TEST_F(ComplianceRoutesTest, RetentionPurgesExpiredMessagesExceptUnderAHold) {
  const std::string held_room = NewRoom(alice_, 60'000);
  const std::string free_room = NewRoom(alice_, 60'000);
  const std::string plain_room = NewRoom(alice_);  // no retention, no server default
  const std::string h1 = Send(alice_, held_room, "held words");
  const std::string f1 = Send(alice_, free_room, "expiring words");
  const std::string p1 = Send(alice_, plain_room, "kept forever");
  const std::string hold = Hold("room_id", held_room);
  clock_.AdvanceMs(120'000);
  const std::string f2 = Send(alice_, free_room, "recent words");

  // The dry run first: per room, with the held room named.
  ExpectError(As(&admin_, "GET", "/api/v1/retention/report"), 403, "M_FORBIDDEN");
  HttpReply report = As(&auditor_, "GET", "/api/v1/retention/report");
  ASSERT_EQ(report.status, 200) << report.body;
  const value& json = report.Json();
  EXPECT_TRUE(json.at("server_max_lifetime_ms").is_null());
  ASSERT_EQ(json.at("rooms").as_array().size(), 2u) << report.body;
  for (const value& r : json.at("rooms").as_array()) {
    EXPECT_EQ(r.at("max_lifetime_ms").as_int64(), 60'000);
    EXPECT_EQ(Str(r, "source"), "m.room.retention");
    if (Str(r, "room_id") == held_room) {
      EXPECT_EQ(Str(r, "held_by"), hold);
      EXPECT_EQ(r.at("events_to_purge").as_int64(), 0);
    } else {
      EXPECT_EQ(Str(r, "room_id"), free_room);
      EXPECT_EQ(r.at("events_to_purge").as_int64(), 1);
    }
  }
  ASSERT_EQ(json.at("held_rooms").as_array().size(), 1u);
  EXPECT_EQ(Str(json.at("held_rooms").as_array()[0], "hold_id"), hold);
  EXPECT_EQ(Messages(alice_, free_room)[f1], "expiring words");

  RetentionJob job(*engine_, {});
  Result<RetentionReport> run = job.RunOnce();
  ASSERT_TRUE(run.ok()) << run.status().ToString();
  EXPECT_EQ(Messages(alice_, free_room)[f1], "");
  EXPECT_EQ(Messages(alice_, free_room)[f2], "recent words");
  EXPECT_EQ(Messages(alice_, held_room)[h1], "held words");
  EXPECT_EQ(Messages(alice_, plain_room)[p1], "kept forever");
  ExpectVerifies(free_room);

  // Released, the next run purges the held room too; the retention state event stays.
  ASSERT_EQ(As(&auditor_, "DELETE", "/api/v1/holds/" + hold).status, 200);
  ASSERT_TRUE(job.RunOnce().ok());
  EXPECT_EQ(Messages(alice_, held_room)[h1], "");
  auto state = engine_->CurrentState(held_room);
  ASSERT_TRUE(state.ok());
  ASSERT_NE(state->Get("m.room.retention", ""), nullptr);
  ExpectVerifies(held_room);

  // A server default covers rooms without their own policy.
  RetentionJob server_default(*engine_, {.default_max_lifetime_ms = 1000});
  ASSERT_TRUE(server_default.RunOnce().ok());
  EXPECT_EQ(Messages(alice_, plain_room)[p1], "");
}

}  // namespace
}  // namespace nebu::api::testing
