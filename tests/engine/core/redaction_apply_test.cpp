// Goal: apply enforces the redaction rules for every m.room.redaction event, whether
// it names its target in the command (POST /redact) or in content (PUT /send and
// /state bodies): the target must be an event of the same room, and the sender its
// author or at the redact level; a refused redaction writes nothing. v10 rooms store
// the target at the top level, v11 in content.
// Method: a real Engine on a temp dir; the stored PDU and Cf::kRedactions inspected.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "engine/core/engine.h"
#include "engine/event/canonical_json.h"
#include "engine/testing/temp_dir.h"
#include "tests/engine/core/core_testing.h"

namespace nebu::core {
namespace {

namespace json = boost::json;

class RedactionApplyTest : public ::testing::TestWithParam<event::RoomVersion> {
 protected:
  void SetUp() override {
    auto e = Engine::Open({.data_dir = dir_.path(), .server_name = "localhost"});
    ASSERT_TRUE(e.ok()) << e.status().ToString();
    engine_ = std::move(e).value();
    room_ = NewRoom();
  }

  // A public room of the test's version with Bob joined.
  std::string NewRoom() {
    rooms::CreateRoomRequest req;
    req.preset = "public_chat";
    req.room_version = GetParam();
    auto room = engine_->CreateRoom(req, kAlice);
    EXPECT_TRUE(room.ok()) << room.status().ToString();
    SendEventRequest join;
    join.room_id = room->room_id;
    join.sender = kBob;
    join.type = "m.room.member";
    join.state_key = kBob;
    join.content = json::object{{"membership", "join"}};
    EXPECT_TRUE(engine_->SendEvent(join).ok());
    return room->room_id;
  }

  std::string Message(const char* sender) {
    SendEventRequest r;
    r.room_id = room_;
    r.sender = sender;
    r.type = "m.room.message";
    r.content = json::object{{"msgtype", "m.text"}, {"body", "hi"}};
    auto sent = engine_->SendEvent(r);
    EXPECT_TRUE(sent.ok()) << sent.status().ToString();
    return sent.ok() ? sent->event_id : "";
  }

  // An m.room.redaction from `sender`; `in_content` / `in_command` name the target.
  Result<AppendedEvent> Redact(const char* sender, std::optional<std::string> in_content,
                               std::optional<std::string> in_command = std::nullopt,
                               std::optional<std::string> state_key = std::nullopt) {
    SendEventRequest r;
    r.room_id = room_;
    r.sender = sender;
    r.type = "m.room.redaction";
    r.state_key = std::move(state_key);
    if (in_content) r.content["redacts"] = *in_content;
    r.redacts = std::move(in_command);
    return engine_->SendEvent(r);
  }

  std::optional<std::string> RedactedBy(const std::string& event_id) {
    auto by = engine_->store().Get(storage::Cf::kRedactions, event_id);
    EXPECT_TRUE(by.ok());
    return by.ok() ? *by : std::nullopt;
  }

  json::object Pdu(const std::string& event_id) {
    auto record = engine_->GetEvent(event_id);
    EXPECT_TRUE(record.ok());
    auto parsed = event::ParseJson(record->json);
    EXPECT_TRUE(parsed.ok());
    return parsed->as_object();
  }

  testing::TempDir dir_;
  std::unique_ptr<Engine> engine_;
  std::string room_;
};

TEST_P(RedactionApplyTest, APowerLevelZeroMemberCannotRedactAnotherUsersEventAnyWay) {
  const std::string target = Message(kAlice);
  const StreamPosition before = engine_->stream_position();
  EXPECT_EQ(Redact(kBob, target).status().code(), StatusCode::kForbidden);  // /send
  EXPECT_EQ(Redact(kBob, std::nullopt, target).status().code(), StatusCode::kForbidden);  // /redact
  // /state: refused (the state level, or the redaction rule).
  EXPECT_EQ(Redact(kBob, target, std::nullopt, "").status().code(), StatusCode::kForbidden);
  EXPECT_EQ(engine_->stream_position(), before);
  EXPECT_FALSE(RedactedBy(target));
}

TEST_P(RedactionApplyTest, OwnEventsAndModeratorsRedactAndTheTargetSitsWhereTheVersionSays) {
  const std::string own = Message(kBob);
  auto by_bob = Redact(kBob, own);
  ASSERT_TRUE(by_bob.ok()) << by_bob.status().ToString();
  EXPECT_EQ(RedactedBy(own), by_bob->event_id);
  json::object pdu = Pdu(by_bob->event_id);
  if (GetParam() == event::RoomVersion::kV10) {
    EXPECT_EQ(pdu["redacts"], json::value(own));  // moved out of content (room_send.yaml)
    EXPECT_FALSE(pdu["content"].as_object().contains("redacts"));
  } else {
    EXPECT_EQ(pdu["content"].at("redacts"), json::value(own));
    EXPECT_FALSE(pdu.contains("redacts"));
  }
  const std::string bobs = Message(kBob);
  auto by_alice = Redact(kAlice, std::nullopt, bobs);
  ASSERT_TRUE(by_alice.ok()) << by_alice.status().ToString();
  EXPECT_EQ(RedactedBy(bobs), by_alice->event_id);
  // A moderator's m.room.redaction state event is a redaction too, and checked.
  const std::string third = Message(kBob);
  auto as_state = Redact(kAlice, third, std::nullopt, "k");
  ASSERT_TRUE(as_state.ok()) << as_state.status().ToString();
  EXPECT_EQ(RedactedBy(third), as_state->event_id);
}

TEST_P(RedactionApplyTest, TheTargetMustBeAnEventOfThisRoomNamedOnce) {
  const std::string here = Message(kAlice);
  const std::string first_room = room_;
  room_ = NewRoom();
  const StreamPosition before = engine_->stream_position();
  // Alice moderates both rooms: still no redacting room one's event from room two.
  EXPECT_EQ(Redact(kAlice, std::nullopt, here).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Redact(kAlice, here).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Redact(kAlice, "$unknown").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Redact(kAlice, "not an event id").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(Redact(kAlice, std::nullopt).status().code(), StatusCode::kBadJson);
  room_ = first_room;
  const std::string other = Message(kAlice);
  const StreamPosition after_message = engine_->stream_position();
  EXPECT_EQ(Redact(kAlice, here, other).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(engine_->stream_position(), after_message);
  EXPECT_GT(after_message, before);
  EXPECT_FALSE(RedactedBy(here));
  EXPECT_FALSE(RedactedBy(other));
}

TEST_P(RedactionApplyTest, TheFirstRedactionIsTheOneIndexed) {
  const std::string target = Message(kBob);
  auto first = Redact(kBob, target);
  auto second = Redact(kAlice, std::nullopt, target);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(RedactedBy(target), first->event_id);
}

INSTANTIATE_TEST_SUITE_P(Versions, RedactionApplyTest,
                         ::testing::Values(event::RoomVersion::kV10, event::RoomVersion::kV11),
                         [](const auto& param_info) {
                           return std::string("v") +
                                  std::string(event::RoomVersionName(param_info.param));
                         });

}  // namespace
}  // namespace nebu::core
