// compliance_export_test: the streamed exports (api/compliance/export_routes.h) over real
// HTTP on a real engine, read from a real PostgreSQL projection; each export's content
// is compared against the engine's log. Skips without NEBU_TEST_PG_URL.
#include <gtest/gtest.h>

#include "engine/admin/admin.h"
#include "tests/compliance/export_testing.h"

namespace nebu::compliance_testing {
namespace {

// Who is joined after a membership change.
void Fold(std::set<std::string>* joined, const std::string& membership, const std::string& user) {
  if (membership == "join") {
    joined->insert(user);
  } else {
    joined->erase(user);
  }
}

// A room with joins and leaves, messages, an edit of an edited message, a redaction
// of a message and of an edit.
class RoomHistoryTest : public ExportFixture {
 protected:
  void SetUp() override {
    ExportFixture::SetUp();
    if (IsSkipped() || HasFatalFailure()) return;
    alice_ = Register("alice");
    bob_ = Register("bob");
    carol_ = Register("carol");
    room_ = PublicRoom(alice_);
    Member(room_, bob_.user_id, "join");
    hello_ = Message(room_, alice_.user_id, "hello");
    edit1_ = Edit(room_, alice_.user_id, hello_, "hello there");
    edit2_ = Edit(room_, alice_.user_id, hello_, "hello everyone");
    spam_ = Message(room_, bob_.user_id, "buy now");
    Redact(room_, alice_.user_id, spam_);
    Redact(room_, alice_.user_id, edit2_);
    Member(room_, carol_.user_id, "join");
    Member(room_, bob_.user_id, "leave");
    Message(room_, carol_.user_id, "bye bob");
    checkpoint_ = Project();
  }

  Session alice_, bob_, carol_;
  std::string room_, hello_, edit1_, edit2_, spam_;
  int64_t checkpoint_ = 0;
};

TEST_F(RoomHistoryTest, EveryEventOfTheLogWithItsOriginalContentEditsAndRedactions) {
  Export e = ExportOf(RoomHistory(room_));
  ASSERT_EQ(e.reply.status, 200) << e.reply.head;
  EXPECT_TRUE(e.reply.chunked);
  EXPECT_TRUE(e.reply.complete);
  EXPECT_NE(e.reply.head.find("application/x-ndjson"), std::string::npos);
  EXPECT_EQ(S(e.header, "export"), "room_history");
  EXPECT_EQ(I(e.header, "checkpoint"), checkpoint_);
  ASSERT_TRUE(e.end.has_value());
  EXPECT_EQ(I(*e.end, "lines"), static_cast<int64_t>(e.data.size()));

  std::vector<LogEvent> log = LogOf(room_);
  ASSERT_EQ(e.data.size(), log.size());
  for (size_t i = 0; i < log.size(); ++i) {
    const json::object& line = e.data[i];
    SCOPED_TRACE(log[i].event_id);
    EXPECT_EQ(S(line, "type"), "event");
    EXPECT_EQ(I(line, "sequence"), log[i].sequence);
    EXPECT_EQ(S(line, "event_id"), log[i].event_id);
    EXPECT_EQ(S(line, "sender"), log[i].sender);
    EXPECT_EQ(S(line, "event_type"), log[i].type);
    EXPECT_EQ(line.at("content"), log[i].content);  // the original, redacted or not
    EXPECT_FALSE(S(line, "cursor").empty());
  }
  auto line_of = [&](const std::string& id) {
    for (const json::object& line : e.data) {
      if (S(line, "event_id") == id) return line;
    }
    ADD_FAILURE() << "no line for " << id;
    return json::object{};
  };
  // The redacted message keeps its content, with who redacted it.
  json::object spam = line_of(spam_);
  EXPECT_EQ(spam.at("content").at("body"), "buy now");
  ASSERT_TRUE(spam.at("redacted").is_object());
  EXPECT_EQ(S(spam.at("redacted").as_object(), "sender"), alice_.user_id);
  EXPECT_EQ(S(spam.at("redacted").as_object(), "reason"), "spam");
  // Every edit, listed on the original and each on its own line; a redacted edit too.
  json::object hello = line_of(hello_);
  EXPECT_EQ(hello.at("edits"), (json::array{json::value(edit1_), json::value(edit2_)}));
  EXPECT_TRUE(hello.at("redacted").is_null());
  json::object edit2 = line_of(edit2_);
  EXPECT_EQ(S(edit2.at("relates_to").as_object(), "event_id"), hello_);
  EXPECT_EQ(edit2.at("content").at("m.new_content").at("body"), "hello everyone");
  EXPECT_TRUE(edit2.at("redacted").is_object());
}

TEST_F(RoomHistoryTest, WhoWasJoinedAtEachEventFoldsFromTheMembersLine) {
  // Fold the export: the members line, then each membership change.
  Export e = ExportOf(RoomHistory(room_));
  ASSERT_EQ(e.members.size(), 1u);
  std::set<std::string> joined;
  for (const json::value& u : e.members[0].at("joined").as_array()) joined.insert(std::string(u.as_string()));
  EXPECT_TRUE(joined.empty());  // before the first event
  // The same fold over the log, event by event.
  std::set<std::string> expected;
  std::vector<LogEvent> log = LogOf(room_);
  ASSERT_EQ(e.data.size(), log.size());
  for (size_t i = 0; i < log.size(); ++i) {
    EXPECT_EQ(joined, expected) << "before sequence " << log[i].sequence;
    if (log[i].type == "m.room.member") {
      const std::string membership(log[i].content.at("membership").as_string());
      EXPECT_EQ(S(e.data[i], "membership"), membership);
      Fold(&expected, membership, *log[i].state_key);
      Fold(&joined, S(e.data[i], "membership"), S(e.data[i], "state_key"));
    }
  }
  EXPECT_EQ(joined, (std::set<std::string>{alice_.user_id, carol_.user_id}));
  // A resumed export starts with the members at its resume point.
  const size_t cut = log.size() - 2;  // the last two events: bob's leave and carol's message
  Export resumed = ExportOf(RoomHistory(room_, "cursor=" + S(e.data[cut - 1], "cursor")));
  ASSERT_EQ(resumed.reply.status, 200);
  ASSERT_EQ(resumed.members.size(), 1u);
  std::set<std::string> at_cut;
  for (const json::value& u : resumed.members[0].at("joined").as_array()) at_cut.insert(std::string(u.as_string()));
  std::set<std::string> fold;
  for (size_t i = 0; i < cut; ++i) {
    if (log[i].type != "m.room.member") continue;
    Fold(&fold, std::string(log[i].content.at("membership").as_string()), *log[i].state_key);
  }
  EXPECT_EQ(at_cut, fold);
}

TEST_F(RoomHistoryTest, APeriodSelectsTheEventsSentInIt) {
  std::vector<LogEvent> log = LogOf(room_);
  Export all = ExportOf(RoomHistory(room_));
  ASSERT_EQ(all.data.size(), log.size());
  // From the message "hello" (inclusive) to spam (exclusive).
  int64_t from = -1, to = -1;
  for (const json::object& line : all.data) {
    if (S(line, "event_id") == hello_) from = I(line, "origin_server_ts");
    if (S(line, "event_id") == spam_) to = I(line, "origin_server_ts");
  }
  Export period = ExportOf(RoomHistory(room_, "from_ts=" + std::to_string(from) + "&to_ts=" + std::to_string(to)));
  ASSERT_EQ(period.reply.status, 200);
  std::vector<std::string> ids;
  for (const json::object& line : period.data) ids.push_back(S(line, "event_id"));
  EXPECT_EQ(ids, (std::vector<std::string>{hello_, edit1_, edit2_}));
  EXPECT_EQ(I(period.header, "from_ts"), from);
  // Alice and Bob were joined before "hello".
  std::set<std::string> joined;
  for (const json::value& u : period.members.at(0).at("joined").as_array()) joined.insert(std::string(u.as_string()));
  EXPECT_EQ(joined, (std::set<std::string>{alice_.user_id, bob_.user_id}));
}

TEST_F(RoomHistoryTest, AUserExportHoldsTheirMessagesAcrossRoomsInThePeriod) {
  std::string other = PublicRoom(bob_);
  Member(other, alice_.user_id, "join");
  std::string elsewhere = Message(other, alice_.user_id, "in the other room");
  Message(other, bob_.user_id, "not alice");
  std::string late = Message(room_, alice_.user_id, "late");
  Project();
  Export all = ExportOf(UserMessages(alice_.user_id));
  ASSERT_EQ(all.reply.status, 200);
  std::vector<std::string> ids;
  for (const json::object& line : all.data) {
    EXPECT_EQ(S(line, "sender"), alice_.user_id);
    ids.push_back(S(line, "event_id"));
  }
  EXPECT_EQ(ids, (std::vector<std::string>{hello_, edit1_, edit2_, elsewhere, late}));
  EXPECT_EQ(S(all.data[3], "room_id"), other);
  EXPECT_EQ(S(all.data[1].at("relates_to").as_object(), "rel_type"), "m.replace");
  EXPECT_TRUE(all.data[2].at("redacted").is_object());
  // The period [edit2, late) holds edit2 and the other room's message.
  Export period = ExportOf(UserMessages(alice_.user_id, "from_ts=" + std::to_string(I(all.data[2], "origin_server_ts")) +
                                                            "&to_ts=" + std::to_string(I(all.data[4], "origin_server_ts"))));
  ids.clear();
  for (const json::object& line : period.data) ids.push_back(S(line, "event_id"));
  EXPECT_EQ(ids, (std::vector<std::string>{edit2_, elsewhere}));
}

TEST_F(RoomHistoryTest, AnExportStaysAtItsCheckpointWhileTheProjectionMovesOn) {
  Export first = ExportOf(RoomHistory(room_), 4);  // header, members, two events; then hang up
  ASSERT_EQ(first.data.size(), 2u);
  EXPECT_FALSE(first.reply.complete);
  std::string more = Message(room_, alice_.user_id, "after the checkpoint");
  const int64_t later = Project();
  ASSERT_GT(later, checkpoint_);
  Export rest = ExportOf(RoomHistory(room_, "cursor=" + S(first.data.back(), "cursor")));
  ASSERT_EQ(rest.reply.status, 200);
  EXPECT_EQ(I(rest.header, "checkpoint"), checkpoint_);
  EXPECT_TRUE(rest.header.at("resumed").as_bool());
  // Exactly the rest at the old checkpoint: no loss, no duplicate, not the new event.
  std::vector<LogEvent> log = LogOf(room_);
  ASSERT_EQ(first.data.size() + rest.data.size(), log.size() - 1);
  for (size_t i = 0; i + 1 < log.size(); ++i) {
    const json::object& line = i < 2 ? first.data[i] : rest.data[i - 2];
    EXPECT_EQ(S(line, "event_id"), log[i].event_id);
  }
  // A new export sees the new event.
  Export fresh = ExportOf(RoomHistory(room_));
  EXPECT_EQ(I(fresh.header, "checkpoint"), later);
  EXPECT_EQ(S(fresh.data.back(), "event_id"), more);
}

TEST_F(RoomHistoryTest, PurgedEventsAppearAsTombstones) {
  // What a retention purge leaves in PostgreSQL: the rows are gone (the log keeps a
  // tombstone). Deleting them needs nebu.allow_purge (the events guard trigger).
  std::vector<LogEvent> log = LogOf(room_);
  projections::testing::Exec(db_->url(),
                             "BEGIN; SET LOCAL nebu.allow_purge = on; "
                             "DELETE FROM events WHERE event_id IN ('" + edit1_ + "', '" + edit2_ + "'); COMMIT");
  Export e = ExportOf(RoomHistory(room_));
  ASSERT_EQ(e.reply.status, 200);
  ASSERT_EQ(e.data.size(), log.size() - 1);  // two events, one tombstone line
  size_t at = 0;
  while (at < log.size() && log[at].event_id != edit1_) ++at;
  ASSERT_LT(at + 2, log.size());
  EXPECT_EQ(S(e.data[at], "type"), "tombstone");
  EXPECT_EQ(I(e.data[at], "from_sequence"), log[at].sequence);
  EXPECT_EQ(I(e.data[at], "to_sequence"), log[at + 1].sequence);
  EXPECT_EQ(S(e.data[at + 1], "event_id"), log[at + 2].event_id);
  // A resume from the tombstone goes on after it.
  Export rest = ExportOf(RoomHistory(room_, "cursor=" + S(e.data[at], "cursor")));
  ASSERT_FALSE(rest.data.empty());
  EXPECT_EQ(S(rest.data[0], "event_id"), log[at + 2].event_id);
}

TEST_F(RoomHistoryTest, AResumeAheadOfARebuiltProjectionAnswers503) {
  Export e = ExportOf(RoomHistory(room_));
  ASSERT_GE(e.data.size(), 2u);
  // As after `nebu projection rebuild`, before the projector has caught up again.
  projections::testing::Exec(db_->url(), "UPDATE nebu_projection_checkpoints SET position = 1 "
                                         "WHERE stream = 'stream'");
  StreamReply reply = Get(RoomHistory(room_, "cursor=" + S(e.data[0], "cursor")), &auditor_);
  EXPECT_EQ(reply.status, 503);
  EXPECT_NE(reply.body.find("behind this export's checkpoint"), std::string::npos) << reply.body;
}

TEST_F(RoomHistoryTest, BadParametersAnswer400AndUnknownRooms404) {
  const std::string valid = S(ExportOf(RoomHistory(room_)).data.at(0), "cursor");
  for (const std::string& target :
       {RoomHistory(room_, "from_ts=abc"), RoomHistory(room_, "from_ts=-1"),
        RoomHistory(room_, "from_ts=5&to_ts=5"), RoomHistory(room_, "to_ts=0"),
        RoomHistory(room_, "cursor=nonsense"), RoomHistory(room_, "cursor=c1.1.1.0.1.0.x"),
        RoomHistory(room_, "from_ts=1&cursor=" + valid),  // another period's cursor
        UserMessages(alice_.user_id, "cursor=" + valid),  // another export's cursor
        RoomHistory("not-a-room"), UserMessages("alice"), UserAccount("@nocolon")}) {
    StreamReply reply = Get(target, &auditor_);
    EXPECT_EQ(reply.status, 400) << target;
    EXPECT_NE(reply.body.find("M_INVALID_PARAM"), std::string::npos) << target << " " << reply.body;
  }
  StreamReply unknown = Get(RoomHistory("!unknown:test.local"), &auditor_);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_NE(unknown.body.find("M_NOT_FOUND"), std::string::npos);
  StreamReply nobody = Get(UserAccount("@nobody:test.local"), &auditor_);
  EXPECT_EQ(nobody.status, 404);
}

TEST_F(RoomHistoryTest, OnlyAuditorsMayExportAndEachCallIsAudited) {
  Session admin = RegisterAdmin("root");
  Session both = RegisterAdmin("rootauditor");
  ASSERT_TRUE(SetRoles(both.user_id, std::nullopt, true).ok());
  for (const std::string& target : {RoomHistory(room_), UserMessages(alice_.user_id), UserAccount(alice_.user_id)}) {
    EXPECT_EQ(Get(target, &admin).status, 403) << target;   // separation of duties
    EXPECT_EQ(Get(target, &alice_).status, 403) << target;  // an ordinary user
    EXPECT_EQ(Get(target, nullptr).status, 401) << target;
    EXPECT_EQ(Get(target, &both).status, 200) << target;
    EXPECT_EQ(Get(target, &auditor_).status, 200) << target;
  }
  std::map<std::string, int> audited;  // action -> records by the auditor
  ASSERT_TRUE(admin::ForEachAudit(engine_->Read(), 0, 10000, [&](const admin::AuditRecord& r, bool*) {
                if (r.actor == auditor_.user_id) ++audited[r.action];
                if (r.actor == admin.user_id && r.action == "export.room_history") {
                  EXPECT_EQ(r.status, 403);
                }
                return Status::Ok();
              }).ok());
  EXPECT_EQ(audited["export.room_history"], 1);
  EXPECT_EQ(audited["export.user_messages"], 1);
  EXPECT_EQ(audited["export.user_account"], 1);
}

TEST_F(RoomHistoryTest, AnAccountExportHoldsProfileAndAccountDataHistoryWithoutSecrets) {
  const std::string me = api::testing::PercentEncode(alice_.user_id);
  for (const char* name : {"Alice", "Alice B."}) {
    ASSERT_EQ(Call("PUT", "/profile/" + me + "/displayname", api::testing::Json({{"displayname", name}}),
                   alice_.access_token).status, 200);
    Project();  // the accounts snapshot writes the profile: one history row per change
  }
  for (int v = 1; v <= 2; ++v) {
    ASSERT_EQ(Call("PUT", "/user/" + me + "/account_data/org.example.settings",
                   api::testing::Json({{"v", v}}), alice_.access_token).status, 200);
    Project();  // a value is projected as it is when the projector reads it
  }
  ASSERT_EQ(Call("PUT", "/user/" + me + "/account_data/m.secret_storage.default_key",
                 api::testing::Json({{"key", "SECRET-KEY-ID"}}), alice_.access_token).status, 200);
  const int64_t checkpoint = Project();
  Export e = ExportOf(UserAccount(alice_.user_id));
  ASSERT_EQ(e.reply.status, 200);
  EXPECT_EQ(I(e.header, "checkpoint"), checkpoint);
  for (const std::string& line : e.reply.lines) {
    EXPECT_EQ(line.find("SECRET-KEY-ID"), std::string::npos) << "a secret leaked: " << line;
  }
  std::vector<std::string> names, values;
  std::map<std::string, int> kinds;
  for (const json::object& line : e.data) {
    ++kinds[S(line, "type")];
    if (S(line, "type") == "account") {
      EXPECT_EQ(S(line, "user_id"), alice_.user_id);
      EXPECT_EQ(S(line.at("profile").as_object(), "displayname"), "Alice B.");
      EXPECT_EQ(line.at("devices").as_array().size(), 1u);
    }
    if (S(line, "type") == "profile") names.push_back(S(line, "displayname"));
    if (S(line, "type") == "account_data" && S(line, "data_type") == "org.example.settings") {
      values.push_back(json::serialize(line.at("content")) + (line.at("current").as_bool() ? " now" : ""));
    }
    if (S(line, "type") == "account_data" && S(line, "data_type") == "m.secret_storage.default_key") {
      EXPECT_TRUE(line.at("withheld").as_bool());
      EXPECT_TRUE(line.at("content").is_null());
    }
  }
  EXPECT_EQ(kinds["account"], 1);
  ASSERT_GE(names.size(), 2u);
  EXPECT_EQ(std::vector<std::string>(names.end() - 2, names.end()), (std::vector<std::string>{"Alice", "Alice B."}));
  EXPECT_EQ(values, (std::vector<std::string>{R"({"v":1})", R"({"v":2} now)"}));
  // Her join, and a member event per profile change (the profile goes to her rooms).
  int member_events = 0;
  for (const LogEvent& event : LogOf(room_)) {
    member_events += event.type == "m.room.member" && event.state_key == alice_.user_id;
  }
  EXPECT_EQ(kinds["membership"], member_events);
  // Resumed after the account line: the rest, exactly.
  Export rest = ExportOf(UserAccount(alice_.user_id, "cursor=" + S(e.data.at(0), "cursor")));
  ASSERT_EQ(rest.reply.status, 200);
  ASSERT_EQ(rest.data.size(), e.data.size() - 1);
  for (size_t i = 0; i < rest.data.size(); ++i) EXPECT_EQ(rest.data[i], e.data[i + 1]);
}

// A room of a few pages: the stream arrives in several chunks, and a stream cut
// after any line resumes to exactly the rest.
TEST_F(ExportFixture, ALongExportIsChunkedAndResumesExactlyAfterAnyCut) {
  Session alice = Register("alice");
  std::string room = PublicRoom(alice);
  const size_t messages = 2 * projections::kExportPageRowsMax + 100;
  for (size_t i = 0; i < messages; ++i) {
    core::SendEventRequest r;
    r.room_id = room;
    r.sender = alice.user_id;
    r.type = "m.room.message";
    r.content = json::object{{"msgtype", "m.text"}, {"body", "message " + std::to_string(i)}};
    ASSERT_TRUE(engine_->SendEvent(std::move(r)).ok());
  }
  Project();
  Export whole = ExportOf(RoomHistory(room));
  ASSERT_EQ(whole.reply.status, 200);
  EXPECT_TRUE(whole.reply.complete);
  EXPECT_GE(whole.reply.chunks, 3u) << "one chunk per page";
  std::vector<LogEvent> log = LogOf(room);
  ASSERT_EQ(whole.data.size(), log.size());
  for (size_t cut : {size_t{1}, projections::kExportPageRowsMax, projections::kExportPageRowsMax + 1,
                     log.size() - 1, log.size()}) {
    SCOPED_TRACE(cut);
    Export rest = ExportOf(RoomHistory(room, "cursor=" + S(whole.data[cut - 1], "cursor")));
    ASSERT_EQ(rest.reply.status, 200);
    ASSERT_EQ(rest.data.size(), log.size() - cut);
    for (size_t i = 0; i < rest.data.size(); ++i) {
      EXPECT_EQ(S(rest.data[i], "event_id"), log[cut + i].event_id);
    }
  }
}

TEST_F(ExportFixture, WithoutPostgreSQLTheExportsAnswer503) {
  projector_.reset();
  StartAdmin({});
  Session auditor = RegisterAuditor("auditor2");
  StreamReply reply = Get(RoomHistory("!r:test.local"), &auditor);
  EXPECT_EQ(reply.status, 503);
  EXPECT_NE(reply.body.find("M_UNAVAILABLE"), std::string::npos);
}

}  // namespace
}  // namespace nebu::compliance_testing
