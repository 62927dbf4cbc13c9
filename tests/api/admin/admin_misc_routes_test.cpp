// Goal: the admin routes of registration tokens, event reports, media and server
// notices answer as Synapse's (paths, parameters, JSON shapes), refuse bad input with a
// clear error and no change, keep token values out of the audit log; the client API's
// admin routes (lock, suspend, whois) are audited.
// Method: api/admin fixture (real engine, loopback HTTP); reports, media records and
// room events are made through the engine (the fixture mounts no room or media routes:
// api/media's own test proves quarantined and deleted media answer 404 on download).
#include <gtest/gtest.h>

#include "api/admin/admin_common.h"
#include "engine/accounts/accounts.h"
#include "engine/media/media.h"
#include "engine/reports/reports.h"
#include "tests/api/admin/admin_testing.h"

namespace nebu::api::testing {
namespace {

using boost::json::object;
using boost::json::value;

std::string MiscV1(std::string_view rest) { return "/_synapse/admin/v1" + std::string(rest); }

class AdminMiscRoutesTest : public AdminFixture {
 protected:
  // Every audit record as one JSON text (to look for what must not be there).
  std::string AuditText() {
    std::string out;
    Status s = admin::ForEachAudit(engine_->Read(), 0, SIZE_MAX,
                                   [&](const admin::AuditRecord& r, bool*) {
                                     out += r.actor + " " + r.action + " " + r.target + " " +
                                            boost::json::serialize(r.params) + "\n";
                                     return Status::Ok();
                                   });
    EXPECT_TRUE(s.ok());
    return out;
  }
  admin::AuditRecord LastAudit() {
    admin::AuditRecord last;
    EXPECT_TRUE(admin::ForEachAudit(engine_->Read(), 0, SIZE_MAX,
                                    [&](const admin::AuditRecord& r, bool*) {
                                      last = r;
                                      return Status::Ok();
                                    })
                    .ok());
    return last;
  }
  void Upload(const std::string& id, const std::string& user, uint64_t size, int64_t ts,
              std::string name = "f.png") {
    auto payload = media::EncodeMediaCommand({.op = media::MediaOp::kUpload, .media_id = id,
                                              .user_id = user, .size = size,
                                              .content_type = "image/png", .file_name = name,
                                              .sha256 = std::string(64, 'a'), .ts = ts});
    ASSERT_TRUE(payload.ok());
    ASSERT_TRUE(engine_->Submit({core::CommandKind::kMedia, *payload}).ok());
  }
  media::MediaRecord Media(const std::string& id) {
    auto r = media::GetMedia(engine_->Read(), id);
    EXPECT_TRUE(r.ok() && r->has_value());
    return r.ok() && *r ? **r : media::MediaRecord{};
  }
  std::string Send(const std::string& room, const std::string& sender, const std::string& type,
                   object content, std::optional<std::string> state_key = std::nullopt) {
    core::SendEventRequest request;
    request.room_id = room;
    request.sender = sender;
    request.type = type;
    request.state_key = std::move(state_key);
    request.content = std::move(content);
    auto sent = engine_->SendEvent(std::move(request));
    EXPECT_TRUE(sent.ok()) << sent.status().ToString();
    return sent.ok() ? sent->event_id : "";
  }
};

TEST_F(AdminMiscRoutesTest, RegistrationTokensCreateListUpdateDeleteAndStayOutOfTheAudit) {
  Session admin = RegisterAdmin("root");
  const int64_t later = clock_.NowUnixMs() + 3'600'000;
  HttpReply made =
      As(&admin, "POST", MiscV1("/registration_tokens/new"),
         Json({{"token", "Secret.Tok-1"}, {"uses_allowed", 2}, {"expiry_time", later}}));
  ASSERT_EQ(made.status, 200) << made.body;
  EXPECT_EQ(made.Json(), value(object{{"token", "Secret.Tok-1"}, {"uses_allowed", 2},
                                      {"pending", 0}, {"completed", 0}, {"expiry_time", later}}));
  HttpReply generated = As(&admin, "POST", MiscV1("/registration_tokens/new"), R"({"length":24})");
  ASSERT_EQ(generated.status, 200) << generated.body;
  const std::string gen(generated.Json().at("token").as_string());
  EXPECT_EQ(gen.size(), 24u);
  EXPECT_TRUE(generated.Json().at("uses_allowed").is_null());

  HttpReply all = As(&admin, "GET", MiscV1("/registration_tokens"));
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(all.Json().at("registration_tokens").as_array().size(), 2u);
  // uses_allowed 0 makes a token invalid: the valid filter splits them.
  HttpReply updated = As(&admin, "PUT", MiscV1("/registration_tokens/Secret.Tok-1"),
                         R"({"uses_allowed":0,"expiry_time":null})");
  ASSERT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(updated.Json().at("uses_allowed").as_int64(), 0);
  EXPECT_TRUE(updated.Json().at("expiry_time").is_null());
  auto tokens = [&](std::string_view query) {
    HttpReply r = As(&admin, "GET", MiscV1("/registration_tokens") + std::string(query));
    EXPECT_EQ(r.status, 200) << r.body;
    std::vector<std::string> out;
    const value json = r.Json();
    for (const value& t : json.at("registration_tokens").as_array()) {
      out.emplace_back(t.at("token").as_string());
    }
    return out;
  };
  EXPECT_EQ(tokens("?valid=false"), std::vector<std::string>{"Secret.Tok-1"});
  EXPECT_EQ(tokens("?valid=true"), std::vector<std::string>{gen});
  ExpectError(As(&admin, "GET", MiscV1("/registration_tokens?valid=maybe")), 400,
              "M_INVALID_PARAM");
  HttpReply one = As(&admin, "GET", MiscV1("/registration_tokens/" + gen));
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(Str(one.Json(), "token"), gen);

  // Bad input changes nothing.
  for (std::string_view body :
       {R"({"token":"has space"})", R"({"token":"Secret.Tok-1"})", R"({"length":0})",
        R"({"length":65})", R"({"uses_allowed":-1})", R"({"expiry_time":1})",
        R"({"uses_allowed":"2"})"}) {
    SCOPED_TRACE(body);
    ExpectError(As(&admin, "POST", MiscV1("/registration_tokens/new"), body), 400,
                "M_INVALID_PARAM");
  }
  ExpectError(
      As(&admin, "PUT", MiscV1("/registration_tokens/Secret.Tok-1"), R"({"uses_allowed":-3})"), 400,
      "M_INVALID_PARAM");
  ExpectError(As(&admin, "PUT", MiscV1("/registration_tokens/nope"), "{}"), 404, "M_NOT_FOUND");
  EXPECT_EQ(tokens("").size(), 2u);

  ASSERT_EQ(As(&admin, "DELETE", MiscV1("/registration_tokens/Secret.Tok-1")).status, 200);
  ExpectError(As(&admin, "GET", MiscV1("/registration_tokens/Secret.Tok-1")), 404, "M_NOT_FOUND");
  ExpectError(As(&admin, "DELETE", MiscV1("/registration_tokens/Secret.Tok-1")), 404,
              "M_NOT_FOUND");
  EXPECT_EQ(LastAudit().target, admin_internal::RedactedSecret("Secret.Tok-1"));
  EXPECT_EQ(LastAudit().action, "registration_tokens.delete");

  // Neither value appears anywhere in the audit log, in any case.
  std::string audit = AuditText();
  std::transform(audit.begin(), audit.end(), audit.begin(), ::tolower);
  EXPECT_EQ(audit.find("secret.tok-1"), std::string::npos) << audit;
  std::string lower_gen = gen;
  std::transform(lower_gen.begin(), lower_gen.end(), lower_gen.begin(), ::tolower);
  EXPECT_EQ(audit.find(lower_gen), std::string::npos) << audit;
}

TEST_F(AdminMiscRoutesTest, EventReportsAreListedShownAndDeleted) {
  Session admin = RegisterAdmin("root");
  Session reporter = Register("reporter");
  std::string create_event;
  const std::string room = CreateRoom(reporter, "Reported", &create_event);
  ASSERT_FALSE(room.empty());
  auto payload = reports::EncodeReportCommand({.kind = reports::ReportKind::kEvent,
                                               .reporter = reporter.user_id, .room_id = room,
                                               .event_id = create_event, .reason = "spam",
                                               .received_ts = 5});
  ASSERT_TRUE(payload.ok());
  ASSERT_TRUE(engine_->Submit({core::CommandKind::kReport, *payload}).ok());

  HttpReply list = As(&admin, "GET", MiscV1("/event_reports"));
  ASSERT_EQ(list.status, 200) << list.body;
  ASSERT_EQ(list.Json().at("total").as_int64(), 1);
  const int64_t id = list.Json().at("event_reports").at(0).at("id").as_int64();
  HttpReply shown = As(&admin, "GET", MiscV1("/event_reports/" + std::to_string(id)));
  ASSERT_EQ(shown.status, 200) << shown.body;
  EXPECT_EQ(Str(shown.Json(), "reason"), "spam");
  EXPECT_TRUE(shown.Json().as_object().contains("event_json"));

  ExpectError(As(&admin, "DELETE", MiscV1("/event_reports/abc")), 400, "M_INVALID_PARAM");
  ExpectError(As(&admin, "DELETE", MiscV1("/event_reports/0")), 400, "M_INVALID_PARAM");
  ExpectError(As(&admin, "DELETE", MiscV1("/event_reports/99")), 404, "M_NOT_FOUND");
  HttpReply deleted = As(&admin, "DELETE", MiscV1("/event_reports/" + std::to_string(id)));
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(deleted.Json(), value(object{}));
  EXPECT_EQ(LastAudit().action, "event_reports.delete");
  EXPECT_EQ(LastAudit().target, std::to_string(id));
  ExpectError(As(&admin, "GET", MiscV1("/event_reports/" + std::to_string(id))), 404,
              "M_NOT_FOUND");
  ExpectError(As(&admin, "DELETE", MiscV1("/event_reports/" + std::to_string(id))), 404,
              "M_NOT_FOUND");
  EXPECT_EQ(As(&admin, "GET", MiscV1("/event_reports")).Json().at("total").as_int64(), 0);
}

TEST_F(AdminMiscRoutesTest, UserMediaIsListedPagedSortedAndDeleted) {
  Session admin = RegisterAdmin("root");
  Session alice = Register("alice");
  Upload("AAA", alice.user_id, 30, 1000, "c.png");
  Upload("BBB", alice.user_id, 10, 3000, "a.png");
  Upload("CCC", alice.user_id, 20, 2000, "b.png");
  const std::string path = MiscV1("/users/" + PercentEncode(alice.user_id) + "/media");
  auto ids = [](const HttpReply& r) {
    std::vector<std::string> out;
    const value json = r.Json();
    for (const value& m : json.at("media").as_array()) out.emplace_back(m.at("media_id").as_string());
    return out;
  };
  HttpReply all = As(&admin, "GET", path);
  ASSERT_EQ(all.status, 200) << all.body;
  EXPECT_EQ(ids(all), (std::vector<std::string>{"AAA", "CCC", "BBB"}));  // created_ts
  EXPECT_EQ(all.Json().at("total").as_int64(), 3);
  const value all_json = all.Json();
  const value& first = all_json.at("media").at(0);
  EXPECT_EQ(first.at("media_length").as_int64(), 30);
  EXPECT_EQ(Str(first, "media_type"), "image/png");
  EXPECT_EQ(Str(first, "upload_name"), "c.png");
  EXPECT_TRUE(first.at("quarantined_by").is_null());
  EXPECT_EQ(ids(As(&admin, "GET", path + "?order_by=media_length&dir=b")),
            (std::vector<std::string>{"AAA", "CCC", "BBB"}));
  EXPECT_EQ(ids(As(&admin, "GET", path + "?order_by=upload_name")),
            (std::vector<std::string>{"BBB", "CCC", "AAA"}));
  HttpReply page = As(&admin, "GET", path + "?limit=2");
  EXPECT_EQ(ids(page), (std::vector<std::string>{"AAA", "CCC"}));
  EXPECT_EQ(page.Json().at("next_token").as_int64(), 2);
  HttpReply rest = As(&admin, "GET", path + "?from=2");
  EXPECT_EQ(ids(rest), std::vector<std::string>{"BBB"});
  EXPECT_FALSE(rest.Json().as_object().contains("next_token"));
  ExpectError(As(&admin, "GET", path + "?order_by=size"), 400, "M_INVALID_PARAM");
  ExpectError(As(&admin, "GET", path + "?limit=-1"), 400, "M_INVALID_PARAM");
  ExpectError(As(&admin, "GET", MiscV1("/users/" + PercentEncode("@x:elsewhere") + "/media")), 400,
              "M_INVALID_PARAM");
  ExpectError(As(&admin, "GET", MiscV1("/users/" + PercentEncode("@nobody:test.local") + "/media")),
              404, "M_NOT_FOUND");

  // DELETE takes the same page: the biggest one.
  HttpReply deleted = As(&admin, "DELETE", path + "?order_by=media_length&dir=b&limit=1");
  ASSERT_EQ(deleted.status, 200) << deleted.body;
  EXPECT_EQ(deleted.Json(), value(object{{"deleted_media", boost::json::array{"AAA"}},
                                         {"total", 1}}));
  EXPECT_TRUE(Media("AAA").deleted);
  EXPECT_EQ(ids(As(&admin, "GET", path)), (std::vector<std::string>{"CCC", "BBB"}));
}

TEST_F(AdminMiscRoutesTest, MediaIsQuarantinedUnquarantinedAndDeleted) {
  Session admin = RegisterAdmin("root");
  Session alice = Register("alice");
  Upload("QQQ", alice.user_id, 5, 1000);
  const std::string server(kServerName);
  HttpReply q = As(&admin, "POST", MiscV1("/media/quarantine/" + server + "/QQQ"), "{}");
  ASSERT_EQ(q.status, 200) << q.body;
  EXPECT_EQ(q.Json(), value(object{}));
  EXPECT_TRUE(Media("QQQ").quarantined);
  HttpReply listed = As(&admin, "GET", MiscV1("/users/" + PercentEncode(alice.user_id) + "/media"));
  EXPECT_EQ(Str(listed.Json().at("media").at(0), "quarantined_by"), server);
  ASSERT_EQ(As(&admin, "POST", MiscV1("/media/unquarantine/" + server + "/QQQ"), "{}").status, 200);
  EXPECT_FALSE(Media("QQQ").quarantined);
  ExpectError(As(&admin, "POST", MiscV1("/media/quarantine/" + server + "/NOPE"), "{}"), 404,
              "M_NOT_FOUND");
  ExpectError(As(&admin, "POST", MiscV1("/media/quarantine/other.org/QQQ"), "{}"), 404,
              "M_NOT_FOUND");
  EXPECT_EQ(LastAudit().action, "media.quarantine");
  EXPECT_EQ(LastAudit().target, "QQQ");
}

TEST_F(AdminMiscRoutesTest, MediaDeletionOneByOneAndByAge) {
  Session admin = RegisterAdmin("root");
  Session alice = Register("alice");
  Upload("ONE", alice.user_id, 5, 1000);
  Upload("OLD", alice.user_id, 50, 1000);
  Upload("AVA", alice.user_id, 50, 1000);
  Upload("NEW", alice.user_id, 50, 9000);
  Upload("TINY", alice.user_id, 1, 1000);
  auto avatar = accounts::EncodeAccountCommand(accounts::SetAvatarUrlCommand{
      .user_id = alice.user_id, .avatar_url = "mxc://test.local/AVA"});
  ASSERT_TRUE(avatar.ok());
  ASSERT_TRUE(engine_->Submit({core::CommandKind::kAccount, *avatar}).ok());
  const std::string server(kServerName);

  HttpReply one = As(&admin, "DELETE", MiscV1("/media/" + server + "/ONE"));
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.Json(), value(object{{"deleted_media", boost::json::array{"ONE"}}, {"total", 1}}));
  EXPECT_TRUE(Media("ONE").deleted);
  ExpectError(As(&admin, "DELETE", MiscV1("/media/" + server + "/ONE")), 404, "M_NOT_FOUND");
  ExpectError(As(&admin, "DELETE", MiscV1("/media/other.org/ONE")), 400, "M_INVALID_PARAM");

  ExpectError(As(&admin, "POST", MiscV1("/media/delete"), "{}"), 400, "M_MISSING_PARAM");
  ExpectError(As(&admin, "POST", MiscV1("/media/delete?before_ts=x"), "{}"), 400,
              "M_INVALID_PARAM");
  // Before 5000, over 2 bytes, the avatar kept (keep_profiles defaults to true).
  HttpReply old = As(&admin, "POST", MiscV1("/media/delete?before_ts=5000&size_gt=2"), "{}");
  ASSERT_EQ(old.status, 200) << old.body;
  EXPECT_EQ(old.Json(), value(object{{"deleted_media", boost::json::array{"OLD"}}, {"total", 1}}));
  EXPECT_FALSE(Media("AVA").deleted);
  EXPECT_FALSE(Media("NEW").deleted);
  EXPECT_FALSE(Media("TINY").deleted);
  HttpReply profiles = As(
      &admin, "POST", MiscV1("/media/delete?before_ts=5000&size_gt=2&keep_profiles=false"), "{}");
  ASSERT_EQ(profiles.status, 200) << profiles.body;
  EXPECT_EQ(profiles.Json().at("deleted_media"), value(boost::json::array{"AVA"}));
}

TEST_F(AdminMiscRoutesTest, RoomMediaIsQuarantinedFromTheRoomsEvents) {
  Session admin = RegisterAdmin("root");
  Session alice = Register("alice");
  Upload("PIC", alice.user_id, 5, 1000);
  Upload("THUMB", alice.user_id, 5, 1000);
  Upload("ELSE", alice.user_id, 5, 1000);
  const std::string room = CreateRoom(alice, "Pictures");
  Send(room, alice.user_id, "m.room.message",
       object{{"msgtype", "m.image"}, {"body", "pic"}, {"url", "mxc://test.local/PIC"},
              {"info", object{{"thumbnail_url", "mxc://test.local/THUMB"}}}});
  Send(room, alice.user_id, "m.room.message",
       object{{"msgtype", "m.image"}, {"body", "again"}, {"url", "mxc://test.local/PIC"}});
  Send(room, alice.user_id, "m.room.message",
       object{{"msgtype", "m.image"}, {"body", "remote"}, {"url", "mxc://other.org/ELSE"}});
  // The room's media list: the local media its events name, each once (Synapse's shape).
  HttpReply listed = As(&admin, "GET", MiscV1("/room/" + PercentEncode(room) + "/media"));
  ASSERT_EQ(listed.status, 200) << listed.body;
  EXPECT_EQ(listed.Json(), value(object{{"local", boost::json::array{"mxc://test.local/PIC",
                                                                     "mxc://test.local/THUMB"}},
                                        {"remote", boost::json::array{}}}));
  ExpectError(As(&alice, "GET", MiscV1("/room/" + PercentEncode(room) + "/media")), 403,
              "M_FORBIDDEN");
  HttpReply q =
      As(&admin, "POST", MiscV1("/room/" + PercentEncode(room) + "/media/quarantine"), "{}");
  ASSERT_EQ(q.status, 200) << q.body;
  EXPECT_EQ(q.Json(), value(object{{"num_quarantined", 2}}));
  EXPECT_TRUE(Media("PIC").quarantined);
  EXPECT_TRUE(Media("THUMB").quarantined);
  EXPECT_FALSE(Media("ELSE").quarantined);
  // Again: nothing new to quarantine.
  EXPECT_EQ(
      As(&admin, "POST", MiscV1("/room/" + PercentEncode(room) + "/media/quarantine"), "{}").Json(),
      value(object{{"num_quarantined", 0}}));
  ExpectError(As(&admin, "POST",
                 MiscV1("/room/" + PercentEncode("!nope:test.local") + "/media/quarantine"), "{}"),
              404, "M_NOT_FOUND");
  ExpectError(As(&admin, "POST", MiscV1("/room/bad/media/quarantine"), "{}"), 400,
              "M_INVALID_PARAM");
}

TEST_F(AdminMiscRoutesTest, ServerNoticesGoToOneTaggedRoomPerUser) {
  Session admin = RegisterAdmin("root");
  Session alice = Register("alice");
  const std::string notices = "@server:test.local";
  auto notice = [&](std::string body) {
    return Json({{"user_id", alice.user_id},
                 {"content", object{{"msgtype", "m.text"}, {"body", std::move(body)}}}});
  };
  HttpReply first = As(&admin, "POST", MiscV1("/send_server_notice"), notice("hello"));
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string event_id(first.Json().at("event_id").as_string());
  auto event = engine_->GetEvent(event_id);
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->sender, notices);
  auto room = admin::GetNoticeRoom(engine_->Read(), alice.user_id);
  ASSERT_TRUE(room.ok() && room->has_value());
  auto state = engine_->CurrentState(**room);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->MembershipOf(alice.user_id), rooms::Membership::kInvite);
  auto tags = accounts::GetAccountData(engine_->Read(), alice.user_id, **room, "m.tag");
  ASSERT_TRUE(tags.ok()) << tags.status().ToString();
  EXPECT_NE(tags->find("m.server_notice"), std::string::npos) << *tags;
  // The notices user has no password: nobody logs in as it.
  auto system = accounts::GetUser(engine_->Read(), notices);
  ASSERT_TRUE(system.ok());
  EXPECT_FALSE(system->has_password);

  // A second notice goes to the same room; alice may join but not write there.
  HttpReply second = As(&admin, "POST", MiscV1("/send_server_notice"), notice("again"));
  ASSERT_EQ(second.status, 200) << second.body;
  EXPECT_EQ(admin::GetNoticeRoom(engine_->Read(), alice.user_id)->value_or(""), **room);
  Send(**room, alice.user_id, "m.room.member", object{{"membership", "join"}}, alice.user_id);
  core::SendEventRequest write;
  write.room_id = **room;
  write.sender = alice.user_id;
  write.type = "m.room.message";
  write.content = object{{"msgtype", "m.text"}, {"body", "reply"}};
  EXPECT_EQ(engine_->SendEvent(std::move(write)).status().code(), StatusCode::kForbidden);

  // PUT with a transaction ID: a retry answers the first event.
  HttpReply put1 = As(&admin, "PUT", MiscV1("/send_server_notice/t1"), notice("once"));
  HttpReply put2 = As(&admin, "PUT", MiscV1("/send_server_notice/t1"), notice("once"));
  ASSERT_EQ(put1.status, 200) << put1.body;
  ASSERT_EQ(put2.status, 200) << put2.body;
  EXPECT_EQ(Str(put1.Json(), "event_id"), Str(put2.Json(), "event_id"));

  // After alice leaves, the next notice makes a new room.
  Send(**room, alice.user_id, "m.room.member", object{{"membership", "leave"}}, alice.user_id);
  ASSERT_EQ(As(&admin, "POST", MiscV1("/send_server_notice"), notice("new room")).status, 200);
  EXPECT_NE(admin::GetNoticeRoom(engine_->Read(), alice.user_id)->value_or(""), **room);

  // Bad input.
  ExpectError(As(&admin, "POST", MiscV1("/send_server_notice"), R"({"content":{}})"), 400,
              "M_MISSING_PARAM");
  ExpectError(As(&admin, "POST", MiscV1("/send_server_notice"), Json({{"user_id", alice.user_id}})),
              400, "M_MISSING_PARAM");
  ExpectError(As(&admin, "POST", MiscV1("/send_server_notice"),
                 Json({{"user_id", "@a:elsewhere.org"}, {"content", object{}}})),
              400, "M_INVALID_PARAM");
  ExpectError(As(&admin, "POST", MiscV1("/send_server_notice"),
                 Json({{"user_id", "@nobody:test.local"}, {"content", object{}}})),
              404, "M_NOT_FOUND");
  ExpectError(As(&admin, "POST", MiscV1("/send_server_notice"),
                 Json({{"user_id", alice.user_id}, {"content", "text"}})),
              400, "M_BAD_JSON");
}

TEST_F(AdminMiscRoutesTest, ServerNoticesRefuseARegisteredNoticesLocalpart) {
  Session admin = RegisterAdmin("root");
  Session alice = Register("alice");
  Register("server");  // an ordinary account took the notices user's name
  ExpectError(As(&admin, "POST", MiscV1("/send_server_notice"),
                 Json({{"user_id", alice.user_id}, {"content", object{{"body", "x"}}}})),
              500, "M_UNKNOWN");
  EXPECT_FALSE(admin::GetNoticeRoom(engine_->Read(), alice.user_id)->has_value());
}

TEST_F(AdminMiscRoutesTest, ClientAdminRoutesAreAudited) {
  Session admin = RegisterAdmin("root");
  Session alice = Register("alice");
  Session bob = Register("bob");
  const std::string a = PercentEncode(alice.user_id);
  HttpReply locked = As(&admin, "PUT", "/_matrix/client/v1/admin/lock/" + a, R"({"locked":true})");
  ASSERT_EQ(locked.status, 200) << locked.body;
  admin::AuditRecord record = LastAudit();
  EXPECT_EQ(record.action, "client.lock.put");
  EXPECT_EQ(record.actor, admin.user_id);
  EXPECT_EQ(record.target, alice.user_id);
  EXPECT_EQ(record.status, 200);
  EXPECT_TRUE(record.params.at("locked").as_bool());
  ASSERT_EQ(As(&admin, "GET", "/_matrix/client/v1/admin/suspend/" + a).status, 200);
  EXPECT_EQ(LastAudit().action, "client.suspend.get");
  ASSERT_EQ(As(&admin, "GET", "/_matrix/client/v3/admin/whois/" + a).status, 200);
  EXPECT_EQ(LastAudit().action, "client.whois");
  // A refusal is recorded too; an error of an admin's call as well.
  ExpectError(As(&bob, "PUT", "/_matrix/client/v1/admin/suspend/" + a, R"({"suspended":true})"),
              403, "M_FORBIDDEN");
  EXPECT_EQ(LastAudit().actor, bob.user_id);
  EXPECT_EQ(LastAudit().outcome, "M_FORBIDDEN");
  ExpectError(As(&admin, "PUT", "/_matrix/client/v1/admin/suspend/" + a, R"({"suspended":1})"),
              400, "M_BAD_JSON");
  EXPECT_EQ(LastAudit().outcome, "M_BAD_JSON");
  EXPECT_EQ(LastAudit().actor, admin.user_id);
  // A user's whois of themself is an ordinary client call: not recorded.
  const uint64_t seq = LastAudit().seq;
  ASSERT_EQ(As(&bob, "GET", "/_matrix/client/v3/admin/whois/" + PercentEncode(bob.user_id)).status,
            200);
  EXPECT_EQ(LastAudit().seq, seq);
  ExpectError(As(nullptr, "GET", "/_matrix/client/v1/admin/lock/" + a), 401, "M_MISSING_TOKEN");
  EXPECT_EQ(LastAudit().seq, seq);
}

}  // namespace
}  // namespace nebu::api::testing
