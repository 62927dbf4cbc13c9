// The fixture of compliance_export_test: the admin fixture (real engine on a FakeClock,
// the account and admin routes on a loopback server) with the exports reading a fresh,
// migrated PostgreSQL database that a Projector fills on demand (Project()), and
// helpers to read an export over HTTP and to build rooms through the engine.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "projections/compliance_export.h"
#include "projections/migrate.h"
#include "projections/projector.h"
#include "tests/api/admin/admin_testing.h"
#include "tests/compliance/stream_client.h"
#include "tests/projections/pg_test_util.h"

namespace nebu::compliance_testing {

namespace json = boost::json;
using api::testing::Session;

// One export read over HTTP, its lines parsed.
struct Export {
  StreamReply reply;
  json::object header;
  std::vector<json::object> data;  // every line but header, members and end
  std::vector<json::object> members;
  std::optional<json::object> end;
};

inline Export Parse(StreamReply reply) {
  Export out;
  for (const std::string& line : reply.lines) {
    json::object o = json::parse(line).as_object();
    const std::string type(o.at("type").as_string());
    if (type == "header") {
      out.header = std::move(o);
    } else if (type == "members") {
      out.members.push_back(std::move(o));
    } else if (type == "end") {
      out.end = std::move(o);
    } else {
      out.data.push_back(std::move(o));
    }
  }
  out.reply = std::move(reply);
  return out;
}

inline std::string S(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_string() ? std::string(v->as_string()) : "";
}
inline int64_t I(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v != nullptr && v->is_int64() ? v->as_int64() : -1;
}

class ExportFixture : public api::testing::AdminFixture {
 protected:
  void SetUp() override {
    NEBU_REQUIRE_PG();
    db_ = std::make_unique<projections::testing::TestDatabase>();
    auto up = projections::MigrateUp(db_->url());
    ASSERT_TRUE(up.ok()) << up.status().ToString();
    StartAdmin({.exports = projections::MakePgExportStore(db_->url())});
    projector_ = std::make_unique<projections::Projector>(engine_->Latest(),
                                                          projections::ProjectorOptions{.db_url = db_->url()});
    auditor_ = RegisterAuditor("auditor");
  }
  void TearDown() override {
    projector_.reset();
    AdminFixture::TearDown();
  }

  // Projects everything written so far; the checkpoint.
  int64_t Project() {
    Status status = projector_->CatchUp();
    EXPECT_TRUE(status.ok()) << status.ToString();
    return static_cast<int64_t>(projector_->Stats().checkpoint);
  }

  StreamReply Get(const std::string& target, const Session* who, size_t lines_max = SIZE_MAX) {
    return StreamClient::Get(server_->port(0), target, who != nullptr ? who->access_token : "",
                             lines_max);
  }
  Export ExportOf(const std::string& target, size_t lines_max = SIZE_MAX) {
    return Parse(Get(target, &auditor_, lines_max));
  }

  std::string PublicRoom(const Session& creator) {
    rooms::CreateRoomRequest request;
    request.preset = "public_chat";
    auto room = engine_->CreateRoom(request, creator.user_id);
    EXPECT_TRUE(room.ok()) << room.status().ToString();
    return room.ok() ? room->room_id : "";
  }

  std::string Send(const std::string& room, const std::string& sender, const std::string& type,
                   json::object content, std::optional<std::string> state_key = std::nullopt,
                   std::optional<std::string> redacts = std::nullopt) {
    core::SendEventRequest r;
    r.room_id = room;
    r.sender = sender;
    r.type = type;
    r.content = std::move(content);
    r.state_key = std::move(state_key);
    r.redacts = std::move(redacts);
    clock_.AdvanceMs(1000);
    auto sent = engine_->SendEvent(std::move(r));
    EXPECT_TRUE(sent.ok()) << sent.status().ToString();
    return sent.ok() ? sent->event_id : "";
  }
  std::string Message(const std::string& room, const std::string& sender, const std::string& body) {
    return Send(room, sender, "m.room.message", {{"msgtype", "m.text"}, {"body", body}});
  }
  std::string Edit(const std::string& room, const std::string& sender, const std::string& target,
                   const std::string& body) {
    return Send(room, sender, "m.room.message",
                {{"msgtype", "m.text"},
                 {"body", "* " + body},
                 {"m.new_content", {{"msgtype", "m.text"}, {"body", body}}},
                 {"m.relates_to", {{"rel_type", "m.replace"}, {"event_id", target}}}});
  }
  std::string Redact(const std::string& room, const std::string& sender, const std::string& target) {
    return Send(room, sender, "m.room.redaction", {{"reason", "spam"}}, std::nullopt, target);
  }
  std::string Member(const std::string& room, const std::string& user, const std::string& membership) {
    return Send(room, user, "m.room.member", {{"membership", membership}}, user);
  }

  // The room's events from the log, in order, with their content.
  struct LogEvent {
    int64_t sequence;
    std::string event_id, sender, type;
    std::optional<std::string> state_key;
    json::value content;
  };
  std::vector<LogEvent> LogOf(const std::string& room) {
    std::vector<LogEvent> out;
    Status status = engine_->ScanRoom(room, 1, UINT64_MAX, SIZE_MAX, [&](const storage::EventView& e) {
      json::value event = json::parse(e.json);
      json::value content = event.as_object().contains("content") ? event.at("content") : json::object{};
      out.push_back({static_cast<int64_t>(e.sequence), std::string(e.event_id), std::string(e.sender),
                     std::string(e.type),
                     e.state_key ? std::optional<std::string>(std::string(*e.state_key)) : std::nullopt,
                     std::move(content)});
      return true;
    });
    EXPECT_TRUE(status.ok()) << status.ToString();
    return out;
  }

  std::unique_ptr<projections::testing::TestDatabase> db_;
  std::unique_ptr<projections::Projector> projector_;
  Session auditor_;
};

// "/api/v1/exports/rooms/<room>/history?..." with the ID percent-encoded.
inline std::string RoomHistory(const std::string& room, const std::string& query = "") {
  return "/api/v1/exports/rooms/" + api::testing::PercentEncode(room) + "/history" +
         (query.empty() ? "" : "?" + query);
}
inline std::string UserMessages(const std::string& user, const std::string& query = "") {
  return "/api/v1/exports/users/" + api::testing::PercentEncode(user) + "/messages" +
         (query.empty() ? "" : "?" + query);
}
inline std::string UserAccount(const std::string& user, const std::string& query = "") {
  return "/api/v1/exports/users/" + api::testing::PercentEncode(user) + "/account" +
         (query.empty() ? "" : "?" + query);
}

}  // namespace nebu::compliance_testing
