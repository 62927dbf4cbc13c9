// Goal: read receipts are stored per (room, type, user, thread), only by joined users
// for events of the room, only move forward, get a stream position each, and
// ReceiptsInRoom answers exactly the current receipts changed in (after, upto].
// Method: a real Engine on tmpfs (so kReceipt goes through commit, the state machine
// and RocksDB), table tests for the rules, and a rapidcheck property comparing
// ReceiptsInRoom with a model after random receipt commands (rapidcheck prints the
// seed; replay with RC_PARAMS="seed=N").
#include "engine/receipts/receipts.h"

#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <boost/json.hpp>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "engine/core/engine.h"
#include "engine/storage/stream_entry.h"
#include "engine/testing/temp_dir.h"

namespace nebu::receipts {
namespace {

namespace json = boost::json;

const std::string kAlice = "@alice:localhost";
const std::string kBob = "@bob:localhost";
const std::string kCarol = "@carol:localhost";                 // never joins
const std::string kUnknownEvent = "$" + std::string(43, 'A');  // well-formed, never sent

// A room with alice (creator) and bob joined, and `messages` messages from alice.
struct TestRoom {
  std::string room_id;
  storage::RoomNumber number = 0;
  std::vector<core::AppendedEvent> events;  // every event of the log, in order
};

TestRoom MakeRoom(core::Engine& engine, int messages) {
  TestRoom room;
  rooms::CreateRoomRequest request;
  request.preset = "public_chat";
  auto created = engine.CreateRoom(request, kAlice);
  NEBU_CHECK(created.ok(), created.status().ToString());
  room.room_id = created->room_id;
  room.events = created->events;
  core::SendEventRequest join{
      .room_id = room.room_id, .sender = kBob, .type = "m.room.member", .state_key = kBob};
  join.content = json::object{{"membership", "join"}};
  auto joined = engine.SendEvent(join);
  NEBU_CHECK(joined.ok(), joined.status().ToString());
  room.events.push_back(*joined);
  for (int i = 0; i < messages; ++i) {
    core::SendEventRequest message{
        .room_id = room.room_id, .sender = kAlice, .type = "m.room.message"};
    message.content = json::object{{"msgtype", "m.text"}, {"body", "m" + std::to_string(i)}};
    auto sent = engine.SendEvent(message);
    NEBU_CHECK(sent.ok(), sent.status().ToString());
    room.events.push_back(*sent);
  }
  room.number = engine.GetRoom(room.room_id)->number;
  return room;
}

core::ApplyOutcome SubmitReceipt(core::Engine& engine, const ReceiptCommand& command) {
  Result<std::string> payload = EncodeReceiptCommand(command);
  if (!payload.ok()) return payload.status();
  return engine.Submit({core::CommandKind::kReceipt, *payload});
}

class ReceiptsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = core::Engine::Open({.data_dir = dir_.path(), .server_name = "localhost"});
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    engine_ = std::move(opened).value();
    room_ = MakeRoom(*engine_, 5);
    other_ = MakeRoom(*engine_, 1);
  }

  const std::string& Message(int i) const {
    return room_.events[room_.events.size() - 5 + i].event_id;
  }

  core::ApplyOutcome Send(const std::string& user, const std::string& type,
                          const std::string& event_id, const std::string& thread = "") {
    return SubmitReceipt(*engine_, {.room_id = room_.room_id,
                                    .user_id = user,
                                    .type = type,
                                    .event_id = event_id,
                                    .thread_id = thread,
                                    .ts = ++ts_});
  }

  std::vector<Receipt> InRoom(storage::StreamPosition after, storage::StreamPosition upto) {
    auto receipts = ReceiptsInRoom(engine_->store(), room_.number, after, upto);
    EXPECT_TRUE(receipts.ok()) << receipts.status().ToString();
    return receipts.ok() ? *receipts : std::vector<Receipt>{};
  }

  nebu::testing::TempDir dir_{nebu::testing::TempDir::kTmpfs};
  std::unique_ptr<core::Engine> engine_;
  TestRoom room_;
  TestRoom other_;
  int64_t ts_ = 1700000000000;
};

TEST(ReceiptCommandTest, EncodesToTheDocumentedCanonicalPayloadAndDecodesBack) {
  ReceiptCommand c{.room_id = "!r:hs",
                   .user_id = "@a:hs",
                   .type = "m.read",
                   .event_id = kUnknownEvent,
                   .thread_id = "main",
                   .ts = 7};
  Result<std::string> payload = EncodeReceiptCommand(c);
  ASSERT_TRUE(payload.ok()) << payload.status().ToString();
  EXPECT_EQ(
      *payload,
      R"({"event_id":")" + kUnknownEvent +
          R"(","room_id":"!r:hs","thread_id":"main","ts":7,"type":"m.read","user_id":"@a:hs"})");
  EXPECT_EQ(*DecodeReceiptCommand(*payload), c);
  c.thread_id.clear();
  EXPECT_EQ(*DecodeReceiptCommand(*EncodeReceiptCommand(c)), c);
  EXPECT_EQ(EncodeReceiptCommand(c)->find("thread_id"), std::string::npos);
}

TEST(ReceiptCommandTest, DecodeAndValidationRefuseMalformedCommands) {
  const char* const kMalformed[] = {
      R"({"event_id":"$e","room_id":"!r:hs","ts":7,"type":"m.read"})",
      R"({"event_id":"$e","room_id":"!r:hs","ts":"7","type":"m.read","user_id":"@a:hs"})",
      R"({"event_id":"$e","room_id":"!r:hs","ts":7,"type":"m.read","user_id":"@a:hs","x":1})",
      R"({"event_id":"$e","room_id":"!r:hs","thread_id":"","ts":7,"type":"m.read",)"
      R"("user_id":"@a:hs"})",
      R"([1])",
  };
  for (const char* payload : kMalformed) {
    EXPECT_EQ(DecodeReceiptCommand(payload).status().code(), StatusCode::kBadJson) << payload;
  }
  const ReceiptCommand good{
      .room_id = "!r:hs", .user_id = "@a:hs", .type = "m.read", .event_id = kUnknownEvent, .ts = 7};
  EXPECT_TRUE(ValidateReceiptCommand(good).ok());
  auto with = [&](auto change) {
    ReceiptCommand c = good;
    change(c);
    return ValidateReceiptCommand(c).code();
  };
  EXPECT_EQ(with([](auto& c) { c.type = "m.fully_read"; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(with([](auto& c) { c.room_id = "r:hs"; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(with([](auto& c) { c.user_id = "a"; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(with([](auto& c) { c.event_id = "e"; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(with([](auto& c) { c.thread_id = "thread"; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(with([](auto& c) { c.ts = -1; }), StatusCode::kInvalidArgument);
  EXPECT_EQ(DecodeReceiptCommand("{").status().code(), StatusCode::kNotJson);
}

TEST_F(ReceiptsTest, AReceiptIsStoredWithItsOwnStreamPosition) {
  const storage::StreamPosition before = engine_->stream_position();
  ASSERT_TRUE(Send(kBob, "m.read", Message(2)).ok());
  const storage::StreamPosition top = engine_->stream_position();
  EXPECT_EQ(top, before + 1);
  std::vector<Receipt> all = InRoom(0, top);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0], (Receipt{kBob, "m.read", Message(2), "", ts_, top}));
  // The stream entry names the room, the user and the type.
  auto value = engine_->store().Get(storage::Cf::kStream, storage::U64Key(top));
  ASSERT_TRUE(value.ok() && *value);
  EXPECT_EQ(storage::DecodeStreamEntry(**value),
            storage::StreamEntry::Receipt(room_.number, kBob, "m.read"));
  auto current = GetReceipt(engine_->store(), room_.number, "m.read", kBob, "");
  ASSERT_TRUE(current.ok() && *current);
  EXPECT_EQ(**current, all[0]);
  // Another room's receipts are its own.
  EXPECT_TRUE(ReceiptsInRoom(engine_->store(), other_.number, 0, top)->empty());
}

TEST_F(ReceiptsTest, ApplyRefusesUnknownRoomsOutsidersAndForeignEvents) {
  const storage::StreamPosition before = engine_->stream_position();
  EXPECT_EQ(SubmitReceipt(*engine_, {.room_id = "!nope:localhost",
                                     .user_id = kBob,
                                     .type = "m.read",
                                     .event_id = Message(0),
                                     .ts = 1})
                .status()
                .code(),
            StatusCode::kForbidden);
  EXPECT_EQ(Send(kCarol, "m.read", Message(0)).status().code(), StatusCode::kForbidden);
  EXPECT_EQ(Send(kBob, "m.read", other_.events.back().event_id).status().code(),
            StatusCode::kNotFound);
  EXPECT_EQ(Send(kBob, "m.read", kUnknownEvent).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(engine_->Submit({core::CommandKind::kReceipt, "{}"}).status().code(),
            StatusCode::kBadJson);
  EXPECT_EQ(engine_->stream_position(), before);
  EXPECT_TRUE(InRoom(0, UINT64_MAX).empty());
  // A user who left can no longer move a receipt.
  core::SendEventRequest leave{
      .room_id = room_.room_id, .sender = kBob, .type = "m.room.member", .state_key = kBob};
  leave.content = json::object{{"membership", "leave"}};
  ASSERT_TRUE(engine_->SendEvent(leave).ok());
  EXPECT_EQ(Send(kBob, "m.read", Message(0)).status().code(), StatusCode::kForbidden);
}

TEST_F(ReceiptsTest, ReceiptsOnlyMoveForward) {
  ASSERT_TRUE(Send(kBob, "m.read", Message(3)).ok());
  const storage::StreamPosition first = engine_->stream_position();
  ASSERT_TRUE(Send(kBob, "m.read", Message(3)).ok());  // same event: nothing changes
  ASSERT_TRUE(Send(kBob, "m.read", Message(1)).ok());  // earlier event: nothing changes
  EXPECT_EQ(engine_->stream_position(), first);
  std::vector<Receipt> all = InRoom(0, first);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].event_id, Message(3));
  ASSERT_TRUE(Send(kBob, "m.read", Message(4)).ok());
  const storage::StreamPosition second = engine_->stream_position();
  all = InRoom(0, second);
  ASSERT_EQ(all.size(), 1u);  // the old index entry is gone
  EXPECT_EQ(all[0].event_id, Message(4));
  EXPECT_EQ(all[0].position, second);
}

TEST_F(ReceiptsTest, ReceiptsInRoomAnswersWhatChangedBetweenTwoPositions) {
  ASSERT_TRUE(Send(kAlice, "m.read", Message(1)).ok());
  const storage::StreamPosition p1 = engine_->stream_position();
  ASSERT_TRUE(Send(kBob, "m.read", Message(1)).ok());
  const storage::StreamPosition p2 = engine_->stream_position();
  ASSERT_TRUE(Send(kBob, "m.read.private", Message(2)).ok());
  const storage::StreamPosition p3 = engine_->stream_position();
  ASSERT_TRUE(Send(kAlice, "m.read", Message(2), "main").ok());  // threads are separate
  const storage::StreamPosition p4 = engine_->stream_position();

  auto positions = [](const std::vector<Receipt>& receipts) {
    std::vector<storage::StreamPosition> out;
    for (const Receipt& r : receipts) out.push_back(r.position);
    return out;
  };
  EXPECT_EQ(positions(InRoom(0, p4)), (std::vector<storage::StreamPosition>{p1, p2, p3, p4}));
  EXPECT_EQ(positions(InRoom(p1, p3)), (std::vector<storage::StreamPosition>{p2, p3}));
  EXPECT_EQ(positions(InRoom(0, p2)), (std::vector<storage::StreamPosition>{p1, p2}));
  EXPECT_TRUE(InRoom(p3, p3).empty());
  EXPECT_TRUE(InRoom(p4, p1).empty());
  EXPECT_EQ(InRoom(p3, p4)[0].thread_id, "main");

  // Bob's m.read moves: it is reported once, at its new position.
  ASSERT_TRUE(Send(kBob, "m.read", Message(4)).ok());
  const storage::StreamPosition p5 = engine_->stream_position();
  EXPECT_EQ(positions(InRoom(0, p5)), (std::vector<storage::StreamPosition>{p1, p3, p4, p5}));
  std::vector<Receipt> since = InRoom(p4, p5);
  ASSERT_EQ(since.size(), 1u);
  EXPECT_EQ(since[0], (Receipt{kBob, "m.read", Message(4), "", ts_, p5}));
}

TEST_F(ReceiptsTest, ReceiptsSurviveAReopen) {
  ASSERT_TRUE(Send(kBob, "m.read", Message(2)).ok());
  const storage::StreamPosition top = engine_->stream_position();
  std::vector<Receipt> before = InRoom(0, top);
  engine_.reset();
  auto reopened = core::Engine::Open({.data_dir = dir_.path(), .server_name = "localhost"});
  ASSERT_TRUE(reopened.ok()) << reopened.status().ToString();
  engine_ = std::move(reopened).value();
  EXPECT_EQ(InRoom(0, top), before);
  EXPECT_EQ(engine_->stream_position(), top);
}

// ---- property ----

struct Step {
  int user;    // 0 alice, 1 bob, 2 carol (not joined)
  int type;    // 0 m.read, 1 m.read.private
  int thread;  // 0 none, 1 "main", 2 the first message
  int event;   // index into the room's events; == size: an event of another room
};

// One engine for every case (a fresh room per case keeps them independent).
core::Engine& PropertyEngine() {
  static nebu::testing::TempDir dir(nebu::testing::TempDir::kTmpfs);
  static std::unique_ptr<core::Engine> engine = [] {
    auto opened = core::Engine::Open({.data_dir = dir.path(), .server_name = "localhost"});
    NEBU_CHECK(opened.ok(), opened.status().ToString());
    return std::move(opened).value();
  }();
  return *engine;
}

RC_GTEST_PROP(ReceiptsProperty, ReceiptsInRoomEqualsTheLastForwardReceiptPerKey, ()) {
  core::Engine& engine = PropertyEngine();
  TestRoom room = MakeRoom(engine, 4);
  static TestRoom foreign = MakeRoom(engine, 1);
  const int events = static_cast<int>(room.events.size());
  const auto steps = *rc::gen::container<std::vector<Step>>(
      rc::gen::construct<Step>(rc::gen::inRange(0, 3), rc::gen::inRange(0, 2),
                               rc::gen::inRange(0, 3), rc::gen::inRange(0, events + 1)));
  const std::string users[] = {kAlice, kBob, kCarol};
  const std::string types[] = {"m.read", "m.read.private"};
  const std::string threads[] = {"", "main", room.events.back().event_id};

  using Key = std::tuple<std::string, std::string, std::string>;  // type, user, thread
  struct Value {
    storage::Sequence seq;
    std::string event_id;
    int64_t ts;
  };
  std::map<Key, Value> model;
  int64_t ts = 0;
  for (const Step& step : steps) {
    const bool foreign_event = step.event == events;
    const std::string& event_id =
        foreign_event ? foreign.events.back().event_id : room.events[step.event].event_id;
    ReceiptCommand c{.room_id = room.room_id,
                     .user_id = users[step.user],
                     .type = types[step.type],
                     .event_id = event_id,
                     .thread_id = threads[step.thread],
                     .ts = ++ts};
    core::ApplyOutcome outcome = SubmitReceipt(engine, c);
    if (step.user == 2) {
      RC_ASSERT(outcome.status().code() == StatusCode::kForbidden);
    } else if (foreign_event) {
      RC_ASSERT(outcome.status().code() == StatusCode::kNotFound);
    } else {
      RC_ASSERT(outcome.ok());
      const storage::Sequence seq = room.events[step.event].sequence;
      Key key{c.type, c.user_id, c.thread_id};
      auto it = model.find(key);
      if (it == model.end() || it->second.seq < seq) model[key] = {seq, event_id, c.ts};
    }
  }

  const storage::StreamPosition top = engine.stream_position();
  auto stored = ReceiptsInRoom(engine.store(), room.number, 0, top);
  RC_ASSERT(stored.ok());
  std::map<Key, Value> got;
  storage::StreamPosition last = 0;
  for (const Receipt& r : *stored) {
    RC_ASSERT(r.position > last);  // position order, one entry per key
    RC_ASSERT(r.position <= top);
    last = r.position;
    RC_ASSERT(got.emplace(Key{r.type, r.user_id, r.thread_id}, Value{0, r.event_id, r.ts}).second);
  }
  RC_ASSERT(got.size() == model.size());
  for (const auto& [key, value] : model) {
    auto it = got.find(key);
    RC_ASSERT(it != got.end());
    RC_ASSERT(it->second.event_id == value.event_id);
    RC_ASSERT(it->second.ts == value.ts);
  }
}

}  // namespace
}  // namespace nebu::receipts
