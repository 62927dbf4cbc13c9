// Goal: the Engine runs over the cluster's committer unchanged: two engines, each on
// its own data directory, with ReplicatedCommitters over one shared log
// (EngineOptions::make_committer), serve each other's writes and hold identical state.
// Method: FakeOrderedLog without faults; a room created on one node, messages sent on
// both, read back on the other; bounded waits for the other node to apply.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "engine/core/engine.h"
#include "engine/core/state_digest.h"
#include "engine/testing/temp_dir.h"
#include "replication/replicated_committer.h"
#include "tests/replication/fake_ordered_log.h"

namespace nebu::replication {
namespace {

using testing::FakeOrderedLog;

core::CommitterFactory MakeReplicated(OrderedLog& log, std::string node_id) {
  return [&log, node_id](storage::Store&,
                         core::Applier& applier) -> Result<std::unique_ptr<core::Committer>> {
    ReplicatedCommitterOptions o;
    o.node_id = node_id;
    o.incarnation = NewIncarnation();
    o.read_wait_ms = 20;
    return std::unique_ptr<core::Committer>(
        std::make_unique<ReplicatedCommitter>(log, applier, std::move(o)));
  };
}

template <typename F>
bool WaitForEngine(F cond, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
  const auto until = std::chrono::steady_clock::now() + bound;
  while (!cond()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // polling interval
  }
  return true;
}

TEST(ReplicatedEngine, TwoEnginesOverOneLogServeEachOthersWritesAndMatch) {
  FakeOrderedLog log(21);
  nebu::testing::TempDir d1(nebu::testing::TempDir::kTmpfs), d2(nebu::testing::TempDir::kTmpfs);
  auto e1 =
      core::Engine::Open({.data_dir = d1.path(), .make_committer = MakeReplicated(log, "n1")});
  ASSERT_TRUE(e1.ok()) << e1.status().ToString();
  auto e2 =
      core::Engine::Open({.data_dir = d2.path(), .make_committer = MakeReplicated(log, "n2")});
  ASSERT_TRUE(e2.ok()) << e2.status().ToString();

  rooms::CreateRoomRequest request;
  request.preset = "public_chat";
  auto room = (*e1)->CreateRoom(request, "@alice:localhost");
  ASSERT_TRUE(room.ok()) << room.status().ToString();

  core::SendEventRequest send;
  send.room_id = room->room_id;
  send.sender = "@alice:localhost";
  send.type = "m.room.message";
  send.content["msgtype"] = "m.text";
  send.content["body"] = "from node 2";
  auto on2 = (*e2)->SendEvent(send);  // node 2 applies the create first: log order
  ASSERT_TRUE(on2.ok()) << on2.status().ToString();
  send.content["body"] = "from node 1";
  auto on1 = (*e1)->SendEvent(send);
  ASSERT_TRUE(on1.ok()) << on1.status().ToString();
  EXPECT_EQ(on1->sequence, on2->sequence + 1);

  ASSERT_TRUE(WaitForEngine([&] { return (*e1)->GetEvent(on2->event_id).ok(); }));
  ASSERT_TRUE(WaitForEngine([&] { return (*e2)->GetEvent(on1->event_id).ok(); }));
  ASSERT_TRUE(WaitForEngine([&] { return (*e1)->applied_index() == (*e2)->applied_index(); }));
  EXPECT_EQ((*e1)->applied_group().revision, (*e2)->applied_group().revision);
  auto s1 = core::StateDigest((*e1)->store());
  auto s2 = core::StateDigest((*e2)->store());
  ASSERT_TRUE(s1.ok() && s2.ok());
  EXPECT_EQ(*s1, *s2);
  EXPECT_TRUE((*e1)->WriteStatus().ok());
}

}  // namespace
}  // namespace nebu::replication
