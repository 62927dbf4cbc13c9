// Goal: a /sync response is built from one snapshot (Engine::Read) and its next_batch
// never runs ahead of what it carries: a client that follows next_batch while another
// thread writes sees every message exactly once, in order, without a gap.
// Method: a real engine over real HTTP on loopback (rooms_testing.h); one writer thread
// sends a bounded number of messages through the engine while the reader syncs
// incrementally in a bounded loop; a limited timeline (more than the timeline limit
// arrived between two syncs) is filled from /messages with its prev_batch.
#include <gtest/gtest.h>

#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "api/accounts/account_routes.h"
#include "api/sync/sync.h"
#include "api/sync/sync_routes.h"
#include "api/sync/typing.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {
namespace {

constexpr int kMessages = 300;        // sent by the writer
constexpr int kSyncsMax = 5000;       // the reader's bound
constexpr auto kTestTime = std::chrono::seconds(60);

class SyncConsistencyTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    AddSyncRoutes(router_, *engine_, &Typing());
    AddAccountRoutes(router_, *engine_, {.registration_open = false, .rate_limit = false});
  }
  static TypingTracker& Typing() {
    static TypingTracker tracker;
    return tracker;
  }
  json::object Get(const std::string& token, const std::string& path) {
    Response r = Call("GET", path, token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? Body(r).as_object() : json::object{};
  }
};

// The numbers ("0".."299") of the messages in `events`, in order.
std::vector<int> Numbers(const json::array& events) {
  std::vector<int> out;
  for (const json::value& e : events) {
    if (e.at("type").as_string() != "m.room.message") continue;
    out.push_back(std::stoi(std::string(e.at("content").at("body").as_string())));
  }
  return out;
}

TEST_F(SyncConsistencyTest, FollowingNextBatchUnderConcurrentWritesMissesNothing) {
  const std::string alice = Register("alice");
  const std::string bob = Register("bob");
  const std::string room = CreateRoom(alice, json::object{{"preset", "public_chat"}});
  ASSERT_EQ(Post(bob, "/join/" + room), 200);
  json::object first = Get(bob, "/sync");
  std::string since(first.at("next_batch").as_string());

  std::atomic<bool> written{false};
  std::thread writer([&] {
    for (int i = 0; i < kMessages; ++i) {
      core::SendEventRequest r;
      r.room_id = room;
      r.sender = "@alice:localhost";
      r.type = "m.room.message";
      r.content = json::object{{"msgtype", "m.text"}, {"body", std::to_string(i)}};
      auto sent = engine_->SendEvent(std::move(r));
      EXPECT_TRUE(sent.ok()) << sent.status().ToString();
    }
    written = true;
  });

  std::vector<int> seen;
  int syncs = 0, limited = 0;
  const auto deadline = std::chrono::steady_clock::now() + kTestTime;
  while (static_cast<int>(seen.size()) < kMessages && syncs < kSyncsMax &&
         std::chrono::steady_clock::now() < deadline) {
    ++syncs;
    json::object body = Get(bob, "/sync?timeout=" + std::string(written ? "1000" : "0") +
                                     "&since=" + since);
    if (body.empty()) break;
    since = std::string(body.at("next_batch").as_string());
    const json::object& join = body.at("rooms").at("join").as_object();
    if (!join.contains(room)) continue;
    const json::object& timeline = join.at(room).at("timeline").as_object();
    std::vector<int> got = Numbers(timeline.at("events").as_array());
    if (timeline.at("limited").as_bool()) {  // fill the gap from /messages
      ++limited;
      json::object page = Get(bob, "/rooms/" + room + "/messages?dir=b&limit=1000&from=" +
                                       std::string(timeline.at("prev_batch").as_string()));
      std::vector<int> older = Numbers(page.at("chunk").as_array());
      std::vector<int> missing;
      for (auto it = older.rbegin(); it != older.rend(); ++it) {
        if (*it >= static_cast<int>(seen.size())) missing.push_back(*it);
      }
      got.insert(got.begin(), missing.begin(), missing.end());
    }
    for (int n : got) {
      ASSERT_EQ(n, static_cast<int>(seen.size()))
          << "sync " << syncs << " skipped or repeated a message (token " << since << ")";
      seen.push_back(n);
    }
  }
  writer.join();
  std::printf("syncs %d, limited timelines %d, messages seen %zu\n", syncs, limited, seen.size());
  EXPECT_EQ(static_cast<int>(seen.size()), kMessages);
}

}  // namespace
}  // namespace nebu::api
