// Redactions follow the room version's rules however they arrive (issue 7, item 2):
// an m.room.redaction through PUT /send, PUT /state or PUT /redact by a member
// without the redact power level on someone else's event is 403 and changes
// nothing anywhere a client reads (/event, /messages, /sync); a redaction of an
// event in another room (or of an unknown one) is 400; one's own events and a
// moderator's redactions still work, and the served redaction names its target
// both at the top level and in content (room versions 10 and 11).
#include "tests/security/nebu_process.h"

namespace nebu::security {
namespace {

class RedactionTest : public SecurityTest {
 protected:
  void SetUp() override {
    Start();
    alice_ = Register("alice");
    bob_ = Register("bob");
  }
  // Alice (creator, power 100) and Bob (joined, power 0) in a new public room of
  // `version`, the room the helpers below use.
  void UseNewRoom(const std::string& version) {
    room_ = CreateRoom(alice_, json::object{{"preset", "public_chat"}, {"room_version", version}});
    ASSERT_EQ(Join(bob_, room_), 200);
  }

  std::string RoomPath() const { return "/rooms/" + Encode(room_); }

  HttpReply SendRedaction(const std::string& token, const json::object& body) {
    return Call("PUT", RoomPath() + "/send/m.room.redaction/r" + std::to_string(++txn_), token,
                body);
  }

  // The event as /event serves it to `token`.
  json::object Event(const std::string& token, const std::string& event_id) {
    HttpReply r = Call("GET", RoomPath() + "/event/" + Encode(event_id), token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? r.Json().as_object() : json::object{};
  }

  // Every event of the room's timeline in /messages (dir=b, from the end).
  json::array Messages(const std::string& token) {
    HttpReply r = Call("GET", RoomPath() + "/messages?dir=b&limit=100", token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? r.Json().at("chunk").as_array() : json::array{};
  }

  // The room's timeline in an initial /sync.
  json::array SyncTimeline(const std::string& token) {
    std::string filter = Encode(R"({"room":{"timeline":{"limit":100}}})");
    HttpReply r = Call("GET", "/sync?filter=" + filter, token);
    EXPECT_EQ(r.status, 200) << r.body;
    if (r.status != 200) return {};
    const json::value body = r.Json();
    const json::value* room = body.at("rooms").at("join").as_object().if_contains(room_);
    return room ? room->at("timeline").at("events").as_array() : json::array{};
  }

  // Whether `event_id` is served unredacted with `body` and no redaction names it,
  // in /event, /messages and /sync.
  void ExpectIntact(const std::string& event_id, const std::string& body) {
    json::object event = Event(alice_, event_id);
    EXPECT_EQ(event["content"].as_object()["body"], json::value(body)) << json::serialize(event);
    EXPECT_FALSE(event["unsigned"].as_object().contains("redacted_because"));
    for (const json::array& timeline : {Messages(alice_), SyncTimeline(bob_)}) {
      bool seen = false;
      for (const json::value& e : timeline) {
        const json::object& o = e.as_object();
        if (o.at("type") == "m.room.redaction") {
          EXPECT_NE(o.if_contains("redacts") ? *o.if_contains("redacts") : json::value(),
                    json::value(event_id));
          const json::object& content = o.at("content").as_object();
          EXPECT_NE(content.if_contains("redacts") ? *content.if_contains("redacts") : json::value(),
                    json::value(event_id));
        }
        if (o.at("event_id") == json::value(event_id)) {
          seen = true;
          EXPECT_EQ(o.at("content").at("body"), json::value(body));
        }
      }
      EXPECT_TRUE(seen) << event_id << " missing from a timeline";
    }
  }

  void ExpectRedacted(const std::string& event_id, const std::string& redaction_id) {
    json::object event = Event(alice_, event_id);
    EXPECT_FALSE(event["content"].as_object().contains("body")) << json::serialize(event);
    EXPECT_EQ(event["unsigned"].at("redacted_because").at("event_id"), json::value(redaction_id));
    json::object redaction = Event(alice_, redaction_id);
    // Both places, for old and new clients (spec rooms/v11).
    EXPECT_EQ(redaction["redacts"], json::value(event_id)) << json::serialize(redaction);
    EXPECT_EQ(redaction["content"].at("redacts"), json::value(event_id));
  }

  std::string alice_, bob_, room_;
};

TEST_F(RedactionTest, ForgedRedactionsByAPowerLevelZeroMemberAreRefusedInEveryVersion) {
  for (const std::string version : {"10", "11"}) {
    SCOPED_TRACE("room version " + version);
    UseNewRoom(version);
    const std::string target = Send(alice_, room_, "alice's words");
    // Through /send, with redacts in content (the v11 place, and what a body holds).
    HttpReply send = SendRedaction(bob_, json::object{{"redacts", target}});
    EXPECT_EQ(send.status, 403) << send.body;
    EXPECT_EQ(send.Json().at("errcode"), "M_FORBIDDEN");
    // Through /state (any state key), and through /redact.
    HttpReply state = Call("PUT", RoomPath() + "/state/m.room.redaction/x", bob_,
                           json::object{{"redacts", target}});
    EXPECT_EQ(state.status, 403) << state.body;
    HttpReply redact =
        Call("PUT", RoomPath() + "/redact/" + Encode(target) + "/x1", bob_, json::object{});
    EXPECT_EQ(redact.status, 403) << redact.body;
    EXPECT_EQ(redact.Json().at("errcode"), "M_FORBIDDEN");
    ExpectIntact(target, "alice's words");
    ExpectAlive();
  }
}

TEST_F(RedactionTest, OwnAndModeratorRedactionsWorkThroughSendAndRedact) {
  for (const std::string version : {"10", "11"}) {
    SCOPED_TRACE("room version " + version);
    UseNewRoom(version);
    // Bob redacts his own event through /send.
    const std::string own = Send(bob_, room_, "bob's typo");
    HttpReply r = SendRedaction(bob_, json::object{{"redacts", own}, {"reason", "typo"}});
    ASSERT_EQ(r.status, 200) << r.body;
    ExpectRedacted(own, std::string(r.Json().at("event_id").as_string()));
    // Alice (the redact level) redacts Bob's event through /send and through /redact.
    const std::string spam = Send(bob_, room_, "spam");
    r = SendRedaction(alice_, json::object{{"redacts", spam}});
    ASSERT_EQ(r.status, 200) << r.body;
    ExpectRedacted(spam, std::string(r.Json().at("event_id").as_string()));
    const std::string spam2 = Send(bob_, room_, "more spam");
    r = Call("PUT", RoomPath() + "/redact/" + Encode(spam2) + "/m1", alice_,
             json::object{{"reason", "spam"}});
    ASSERT_EQ(r.status, 200) << r.body;
    ExpectRedacted(spam2, std::string(r.Json().at("event_id").as_string()));
  }
}

TEST_F(RedactionTest, RedactionsOfOtherRoomsOrUnknownOrNoEventAreRefused) {
  UseNewRoom("11");
  const std::string target = Send(alice_, room_, "in room one");
  // Alice moderates a second room; she may not redact room one's event from there.
  std::string other = CreateRoom(alice_, json::object{{"preset", "public_chat"}});
  const std::string other_path = "/rooms/" + Encode(other);
  HttpReply r = Call("PUT", other_path + "/redact/" + Encode(target) + "/c1", alice_,
                     json::object{});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.Json().at("errcode"), "M_INVALID_PARAM");
  r = Call("PUT", other_path + "/send/m.room.redaction/c2", alice_,
           json::object{{"redacts", target}});
  EXPECT_EQ(r.status, 400) << r.body;
  // An unknown event: the same answer (no probing for other rooms' event IDs).
  r = Call("PUT", RoomPath() + "/redact/" + Encode("$unknown") + "/c3", alice_, json::object{});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.Json().at("errcode"), "M_INVALID_PARAM");
  // A redaction naming nothing, or something that is not an event ID.
  r = SendRedaction(alice_, json::object{{"reason", "nothing"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_EQ(r.Json().at("errcode"), "M_BAD_JSON");
  r = SendRedaction(alice_, json::object{{"redacts", 42}});
  EXPECT_EQ(r.status, 400) << r.body;
  ExpectIntact(target, "in room one");
  ExpectAlive();
}

}  // namespace
}  // namespace nebu::security
