// Goal: cluster-wide tokens (api/token_wait.h). A token naming positions this node has
// not applied yet — as a token another node issued would — is answered once the node
// applies them, and not before; one the node never reaches fails after the bound with
// 400 M_INVALID_PARAM; a typing serial the node does not know reads as "the current
// state". Every route that takes a token, in each form the spec documents (a /sync
// next_batch, a room pagination token such as prev_batch / start / end, in /sync's
// since, /messages from and to, /members at, /relations from, /keys/changes from/to).
// Method: a real engine over real HTTP on loopback (rooms_testing.h), the cluster bound
// set with SetTokenWaitMs; tokens are forged with the codecs one position ahead; the
// request runs on its own thread and must still be unanswered after kNotBeforeMs; then
// a send on the test thread advances the engine and the answer must come (bounded
// waits only: a future with a timeout).
#include "api/token_wait.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <chrono>
#include <future>
#include <string>
#include <thread>
#include <vector>

#include "api/keys/keys_routes.h"
#include "api/rooms/misc_routes.h"
#include "api/rooms/rooms_common.h"
#include "api/sync/sync.h"
#include "api/sync/sync_routes.h"
#include "api/sync/presence.h"
#include "api/sync/typing.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// How long a waiting request must stay unanswered before the send that releases it.
constexpr int64_t kNotBeforeMs = 300;
// How long the answer may take after that send (generous: loaded CI machines).
constexpr int64_t kAnswerWithinMs = 5000;
// The bound in the "never reached" tests (short, so the suite stays fast).
constexpr int64_t kShortBoundMs = 300;

class TokenWaitTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    AddSyncRoutes(router_, *engine_, &Typing(), &Presence());
    AddKeysRoutes(router_, *engine_);
    AddMiscRoutes(router_, *engine_);
    alice_ = Register("alice");
    room_ = CreateRoom(alice_, json::object{{"preset", "public_chat"}});
    Send(alice_, room_, "first");
    SetTokenWaitMs(kTokenWaitMsCluster);
  }
  void TearDown() override { SetTokenWaitMs(0); }  // the rest of the binary is one node

  static TypingTracker& Typing() {  // outlives every fixture's router
    static TypingTracker tracker;
    return tracker;
  }
  static PresenceTracker& Presence() {  // likewise
    static PresenceTracker tracker;
    return tracker;
  }

  // A sync token one stream position ahead of this node.
  std::string SyncTokenAhead() const {
    return MakeSyncToken({.position = engine_->stream_position() + 1});
  }
  // A room pagination token ("s<sequence>", as prev_batch) one event ahead.
  std::string RoomTokenAhead() const {
    return rooms_internal::MakeToken(engine_->GetRoom(room_)->last_seq + 1);
  }

  // GETs `path` on another thread; it must stay unanswered for kNotBeforeMs, then a
  // send (on this thread) must release it. Returns the answer and the sent event's ID.
  std::pair<Response, std::string> AnsweredAfterASend(const std::string& path) {
    auto answer = std::async(std::launch::async, [this, path] { return Call("GET", path, alice_); });
    EXPECT_EQ(answer.wait_for(milliseconds(kNotBeforeMs)), std::future_status::timeout)
        << path << " was answered before the node reached its token";
    std::string event_id = Send(alice_, room_, "released");
    EXPECT_EQ(answer.wait_for(milliseconds(kAnswerWithinMs)), std::future_status::ready) << path;
    return {answer.get(), event_id};
  }

  static std::string FirstEventId(const Response& r, const char* list) {
    const json::value body = Body(r);
    const json::array& events = body.at(list).as_array();
    return events.empty() ? "" : std::string(events.at(0).at("event_id").as_string());
  }

  std::string alice_, room_;
};

TEST_F(TokenWaitTest, SyncSinceAheadIsAnsweredOnceTheNodeReachesIt) {
  const std::string since = SyncTokenAhead();
  auto [r, event_id] = AnsweredAfterASend("/sync?timeout=0&since=" + since);
  ASSERT_EQ(r.status, 200) << r.body;
  // The token said "seen up to here": the window starts after it.
  EXPECT_EQ(ParseSyncToken(std::string(Body(r).at("next_batch").as_string()))->position,
            ParseSyncToken(since)->position);
}

TEST_F(TokenWaitTest, SyncSinceAheadThenLongPollsForWhatComesNext) {
  // Current typing and presence serials, and set_presence=offline (changes nothing):
  // only the room can bring news.
  const std::string since = MakeSyncToken({.position = engine_->stream_position() + 1,
                                           .typing = Typing().serial(),
                                           .presence = Presence().serial()});
  auto answer = std::async(std::launch::async, [&] {
    return Call("GET", "/sync?timeout=10000&set_presence=offline&since=" + since, alice_);
  });
  ASSERT_EQ(answer.wait_for(milliseconds(kNotBeforeMs)), std::future_status::timeout);
  Send(alice_, room_, "reaches the token");  // caught up: now it long-polls
  ASSERT_EQ(answer.wait_for(milliseconds(kNotBeforeMs)), std::future_status::timeout);
  std::string next = Send(alice_, room_, "news");
  ASSERT_EQ(answer.wait_for(milliseconds(kAnswerWithinMs)), std::future_status::ready);
  Response r = answer.get();
  ASSERT_EQ(r.status, 200) << r.body;
  const json::value body = Body(r);
  const json::array& timeline =
      body.at("rooms").at("join").at(room_).at("timeline").at("events").as_array();
  ASSERT_EQ(timeline.size(), 1u) << r.body;
  EXPECT_EQ(timeline.at(0).at("event_id").as_string(), next);
}

TEST_F(TokenWaitTest, MessagesFromARoomTokenAheadIncludesTheEventItNames) {
  auto [r, event_id] = AnsweredAfterASend("/rooms/" + room_ + "/messages?dir=b&limit=1&from=" +
                                          RoomTokenAhead());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(FirstEventId(r, "chunk"), event_id);
}

TEST_F(TokenWaitTest, MessagesFromASyncTokenAheadIncludesTheEventItNames) {
  auto [r, event_id] = AnsweredAfterASend("/rooms/" + room_ + "/messages?dir=b&limit=1&from=" +
                                          SyncTokenAhead());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(FirstEventId(r, "chunk"), event_id);
}

TEST_F(TokenWaitTest, MessagesForwardsToATokenAheadEndsAtTheEventItNames) {
  const std::string to = RoomTokenAhead();
  const std::string from = rooms_internal::MakeToken(engine_->GetRoom(room_)->last_seq);
  auto [r, event_id] =
      AnsweredAfterASend("/rooms/" + room_ + "/messages?dir=f&from=" + from + "&to=" + to);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(FirstEventId(r, "chunk"), event_id);
}

TEST_F(TokenWaitTest, MembersAtATokenAheadIsAnsweredOnceReached) {
  for (bool room_form : {true, false}) {  // each token made just before its request
    const std::string at = room_form ? RoomTokenAhead() : SyncTokenAhead();
    auto [r, event_id] = AnsweredAfterASend("/rooms/" + room_ + "/members?at=" + at);
    ASSERT_EQ(r.status, 200) << at << ": " << r.body;
    EXPECT_EQ(FirstEventId(r, "chunk").empty(), false);
  }
}

TEST_F(TokenWaitTest, RelationsFromATokenAheadIsAnsweredOnceReached) {
  const std::string parent = Send(alice_, room_, "parent");
  auto [r, event_id] = AnsweredAfterASend("/_matrix/client/v1/rooms/" + room_ + "/relations/" +
                                          parent + "?from=" + RoomTokenAhead());
  EXPECT_EQ(r.status, 200) << r.body;
}

TEST_F(TokenWaitTest, KeyChangesToATokenAheadIsAnsweredOnceReached) {
  const std::string from = MakeSyncToken({.position = engine_->stream_position()});
  auto [r, event_id] = AnsweredAfterASend("/keys/changes?from=" + from + "&to=" + SyncTokenAhead());
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Body(r).as_object().contains("changed"));
}

// Never reached: each route answers 400 M_INVALID_PARAM after the bound, not before.
TEST_F(TokenWaitTest, ATokenNeverReachedFailsAfterTheBound) {
  SetTokenWaitMs(kShortBoundMs);
  const std::string far = MakeSyncToken({.position = engine_->stream_position() + 1000});
  const std::string far_room = rooms_internal::MakeToken(engine_->GetRoom(room_)->last_seq + 1000);
  const std::string parent = Send(alice_, room_, "parent");
  for (const std::string& path :
       {"/sync?timeout=0&since=" + far, "/sync?timeout=20000&since=" + far,
        "/rooms/" + room_ + "/messages?from=" + far, "/rooms/" + room_ + "/messages?from=" + far_room,
        "/rooms/" + room_ + "/messages?dir=f&to=" + far_room,
        "/rooms/" + room_ + "/members?at=" + far, "/rooms/" + room_ + "/members?at=" + far_room,
        "/_matrix/client/v1/rooms/" + room_ + "/relations/" + parent + "?from=" + far_room,
        "/keys/changes?from=s1&to=" + far}) {
    const auto start = steady_clock::now();
    Response r = Call("GET", path, alice_);
    const auto waited_ms =
        std::chrono::duration_cast<milliseconds>(steady_clock::now() - start).count();
    EXPECT_EQ(r.status, 400) << path << ": " << r.body;
    EXPECT_EQ(ErrCode(r), "M_INVALID_PARAM") << path;
    EXPECT_GE(waited_ms, kShortBoundMs) << path;
    EXPECT_LT(waited_ms, kShortBoundMs + kAnswerWithinMs) << path;
  }
}

// A single node (bound 0) reads tokens as it always did: no wait.
TEST_F(TokenWaitTest, WithoutAClusterNothingWaits) {
  SetTokenWaitMs(0);
  const auto start = steady_clock::now();
  EXPECT_EQ(Call("GET", "/sync?timeout=0&since=" + SyncTokenAhead(), alice_).status, 400);
  EXPECT_EQ(Call("GET", "/rooms/" + room_ + "/messages?from=" + RoomTokenAhead(), alice_).status,
            200);
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(steady_clock::now() - start).count(),
            kNotBeforeMs);
}

// Typing serials are per node: one this node never issued means "send what you have".
TEST_F(TokenWaitTest, AnUnknownTypingSerialGetsTheCurrentTypingState) {
  Typing().Set(room_, "@alice:localhost", true, milliseconds(30000));
  SyncToken since{.position = engine_->stream_position(), .typing = Typing().serial() + 1000};
  Response r = Call("GET", "/sync?timeout=0&since=" + MakeSyncToken(since), alice_);
  ASSERT_EQ(r.status, 200) << r.body;
  const json::value body = Body(r);
  const json::array& ephemeral =
      body.at("rooms").at("join").at(room_).at("ephemeral").at("events").as_array();
  ASSERT_EQ(ephemeral.size(), 1u) << r.body;
  EXPECT_EQ(ephemeral.at(0).at("content").at("user_ids").at(0), "@alice:localhost");
  Typing().Set(room_, "@alice:localhost", false, milliseconds(0));
}

// Presence serials likewise: an unknown one gets every known presence (here the
// caller's own, set online by this very sync).
TEST_F(TokenWaitTest, AnUnknownPresenceSerialGetsTheCurrentPresence) {
  ASSERT_EQ(Call("GET", "/sync?timeout=0", alice_).status, 200);  // marks alice online
  SyncToken since{.position = engine_->stream_position(), .presence = Presence().serial() + 1000};
  Response r = Call("GET", "/sync?timeout=0&since=" + MakeSyncToken(since), alice_);
  ASSERT_EQ(r.status, 200) << r.body;
  const json::value body = Body(r);
  const json::array& presence = body.at("presence").at("events").as_array();
  ASSERT_EQ(presence.size(), 1u) << r.body;
  EXPECT_EQ(presence.at(0).at("sender"), "@alice:localhost");
}

// At most kTokenWaitersBlockingMax offload threads block on tokens; past that a
// request whose token is ahead is refused at once, so other reads keep their threads.
TEST_F(TokenWaitTest, BlockingWaitersAreCapped) {
  SetTokenWaitMs(2000);
  const std::string path = "/rooms/" + room_ + "/messages?from=" +
                           rooms_internal::MakeToken(engine_->GetRoom(room_)->last_seq + 1000);
  std::vector<std::future<Response>> waiting;
  for (size_t i = 0; i < kTokenWaitersBlockingMax; ++i) {
    waiting.push_back(std::async(std::launch::async, [&] { return Call("GET", path, alice_); }));
  }
  const auto deadline = steady_clock::now() + milliseconds(kAnswerWithinMs);
  while (TokenWaitersBlocking() < kTokenWaitersBlockingMax && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(1));  // polling a condition, bounded
  }
  ASSERT_EQ(TokenWaitersBlocking(), kTokenWaitersBlockingMax);
  const auto start = steady_clock::now();
  Response refused = Call("GET", path, alice_);
  EXPECT_EQ(refused.status, 400);
  EXPECT_LT(std::chrono::duration_cast<milliseconds>(steady_clock::now() - start).count(), 1000);
  EXPECT_EQ(Call("GET", "/rooms/" + room_ + "/messages", alice_).status, 200);  // others read
  for (auto& w : waiting) EXPECT_EQ(w.get().status, 400);
}

}  // namespace
}  // namespace nebu::api
