// Goal: the Engine's committer is a seam: EngineOptions::make_committer chooses it,
// the engine drives it only through the Committer interface (Start, Propose, Stop,
// write_status), a factory error fails Open, and the applied position is readable.
// Method: a real Engine on a temp dir with a wrapping committer that counts calls and
// delegates to a LocalCommitter.
#include <gtest/gtest.h>

#include <atomic>

#include "engine/core/engine.h"
#include "engine/testing/temp_dir.h"

namespace nebu::core {
namespace {

struct Calls {
  std::atomic<int> start{0};
  std::atomic<int> stop{0};
  std::atomic<int> propose{0};
  Status write_status;
};

class CountingCommitter final : public Committer {
 public:
  CountingCommitter(storage::Store& log, Applier& applier, Calls& calls)
      : inner_(log, applier, LocalCommitterOptions{.group_max = 1}), calls_(calls) {}
  void Propose(Command command, ProposalDone done) override {
    ++calls_.propose;
    inner_.Propose(std::move(command), std::move(done));
  }
  Status Start() override {
    ++calls_.start;
    return inner_.Start();
  }
  void Stop() override {
    ++calls_.stop;
    inner_.Stop();
  }
  Status write_status() const override { return calls_.write_status; }

 private:
  LocalCommitter inner_;
  Calls& calls_;
};

TEST(EngineCommitterTest, TheChosenCommitterCarriesEveryWrite) {
  testing::TempDir dir(testing::TempDir::kTmpfs);
  Calls calls;
  Applier* seen_applier = nullptr;
  EngineOptions options{.data_dir = dir.path()};
  options.make_committer = [&](storage::Store& log, Applier& applier)
      -> Result<std::unique_ptr<Committer>> {
    seen_applier = &applier;
    return std::unique_ptr<Committer>(std::make_unique<CountingCommitter>(log, applier, calls));
  };
  {
    auto engine = Engine::Open(options);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    EXPECT_EQ(seen_applier, &(*engine)->applier());
    EXPECT_EQ(calls.start.load(), 1);
    rooms::CreateRoomRequest request;
    auto room = (*engine)->CreateRoom(request, "@alice:localhost");
    ASSERT_TRUE(room.ok()) << room.status().ToString();
    EXPECT_EQ(calls.propose.load(), 1);
    EXPECT_EQ((*engine)->applied_index(), 1u);
    EXPECT_EQ((*engine)->applied_group().revision, 0u);  // a local committer has no groups
    EXPECT_TRUE((*engine)->WriteStatus().ok());
    calls.write_status = Status::Unavailable("cluster: etcd unreachable");
    EXPECT_EQ((*engine)->WriteStatus().message(), "cluster: etcd unreachable");
  }
  EXPECT_GE(calls.stop.load(), 1);
}

TEST(EngineCommitterTest, AFactoryErrorFailsOpen) {
  testing::TempDir dir(testing::TempDir::kTmpfs);
  EngineOptions options{.data_dir = dir.path()};
  options.make_committer = [](storage::Store&, Applier&) -> Result<std::unique_ptr<Committer>> {
    return Status::Unavailable("cluster: no etcd endpoint answered");
  };
  auto engine = Engine::Open(options);
  ASSERT_FALSE(engine.ok());
  EXPECT_EQ(engine.status().code(), StatusCode::kUnavailable);
}

TEST(EngineCommitterTest, TheDefaultIsTheLocalCommitter) {
  testing::TempDir dir(testing::TempDir::kTmpfs);
  auto engine = Engine::Open({.data_dir = dir.path()});
  ASSERT_TRUE(engine.ok());
  rooms::CreateRoomRequest request;
  ASSERT_TRUE((*engine)->CreateRoom(request, "@alice:localhost").ok());
  EXPECT_EQ((*engine)->applied_index(), 1u);
  EXPECT_TRUE((*engine)->WriteStatus().ok());
}

}  // namespace
}  // namespace nebu::core
