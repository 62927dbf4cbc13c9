// Goal: N nodes sharing one ordered log end in identical state whatever the log does
// (lost Append answers, failed Appends, duplicate landings, delayed and reordered
// landings, read disconnects, the log down for a while, trims) and whatever the
// nodes do (restarts with a new incarnation), every acknowledged proposal is applied
// exactly once, and each room's sequences are dense from 1.
// Method: N = 2..4 real StateMachines, each on its own RocksDB in a temp dir, each
// behind a ReplicatedCommitter over ONE FakeOrderedLog. A seeded driver proposes
// room creations and sends (each send carries a unique marker in its body and a
// client transaction ID) on random nodes without waiting, injects faults, restarts
// nodes and trims what every node applied. Sends answered kUnavailable are retried
// by the "client" with the same transaction ID on a random node (as a Matrix client
// does). Then quiescence: no faults, retries until answered, and every node applies
// the log's last revision (bounded). Checks: the state digests (core/state_digest.h)
// of all nodes are equal; each acknowledged send's marker is in its room's log
// exactly once, with the acknowledged event ID; no marker is there twice; each
// acknowledged room exists; room sequences are dense from 1.
// Seeds: every run prints its seed; NEBU_TEST_SEED=<n> replays one run (the driver's
// choices and the log's faults are drawn from it; thread timing still varies),
// NEBU_TEST_RUNS=<k> runs k seeds (default kRunsDefault).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/accounts/accounts.h"
#include "engine/core/notifier.h"
#include "engine/core/room_applier.h"
#include "engine/core/state_digest.h"
#include "engine/core/state_machine.h"
#include "engine/rooms/room_creation.h"
#include "engine/storage/room_log.h"
#include "engine/testing/temp_dir.h"
#include "replication/replicated_committer.h"
#include "tests/replication/fake_ordered_log.h"

namespace nebu::replication {
namespace {

using core::ApplyOutcome;
using core::Command;
using testing::FakeOrderedLog;
using testing::LogFaults;
using Clock = std::chrono::steady_clock;

constexpr int kRunsDefault = 8;
constexpr int kStepsPerRun = 240;       // driver operations per run
constexpr size_t kOutstandingMax = 48;  // proposals in flight before the driver waits
constexpr int kRetryRoundsMax = 20;     // quiescence: client retry rounds
constexpr auto kWaitBound = std::chrono::seconds(20);  // every bounded wait below

// The node's StateMachine, failing Apply at one chosen index with an I/O error: the
// committer stops writes, and the node is "crashed" (dropped without another flush,
// losing what was staged) and reopened, which resumes a group left partly applied
// by a mid-group flush.
class CrashingApplier final : public core::Applier {
 public:
  explicit CrashingApplier(core::StateMachine& inner) : inner_(inner) {}
  void CrashAt(core::LogIndex index) { crash_at_ = index; }
  Status Apply(core::LogIndex index, const Command& command, ApplyOutcome* outcome) override {
    if (index == crash_at_.load()) return Status::IoError("injected crash");
    return inner_.Apply(index, command, outcome);
  }
  Status Flush() override { return inner_.Flush(); }
  core::LogIndex applied_index() const override { return inner_.applied_index(); }
  Status SyncApplied() override { return inner_.SyncApplied(); }
  Result<bool> BeginGroup(const core::GroupOrigin& origin, uint32_t count) override {
    return inner_.BeginGroup(origin, count);
  }
  core::GroupPosition applied_group() const override { return inner_.applied_group(); }

 private:
  core::StateMachine& inner_;
  std::atomic<core::LogIndex> crash_at_{0};
};

struct Node {
  std::string id;
  std::string path;
  std::unique_ptr<storage::Store> store;
  std::unique_ptr<core::Notifier> notifier;
  std::unique_ptr<core::StateMachine> sm;
  std::unique_ptr<CrashingApplier> applier;
  std::unique_ptr<ReplicatedCommitter> committer;
};

struct Send {
  std::string room_id;
  Command command;
  std::string marker;
  int tries = 0;
  bool retry = true;  // the client retries it after kUnavailable
};

// What the "clients" were told.
struct Ledger {
  std::mutex mu;
  std::condition_variable cv;
  size_t outstanding = 0;
  std::map<std::string, std::string> acked_sends;  // marker -> event ID
  std::vector<std::string> acked_rooms;
  std::vector<std::string> acked_users;
  std::vector<Send> to_retry;  // answered kUnavailable
  uint64_t ok = 0, rejected = 0, unavailable = 0;

  // Bounded: false if the outstanding proposals did not drop to `most` in time.
  bool WaitOutstanding(size_t most) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, kWaitBound, [&] { return outstanding <= most; });
  }
};

class Cluster {
 public:
  Cluster(uint64_t seed, int nodes) : rng_(seed), log_(seed ^ 0x9e3779b97f4a7c15ull) {
    for (int i = 0; i < nodes; ++i) {
      dirs_.push_back(std::make_unique<nebu::testing::TempDir>(nebu::testing::TempDir::kTmpfs));
      Node n;
      n.id = "node" + std::to_string(i + 1);
      n.path = dirs_.back()->path() + "/db";
      nodes_.push_back(std::move(n));
    }
  }
  ~Cluster() {
    for (auto& n : nodes_) Close(n);
  }

  Status OpenAll() {
    for (auto& n : nodes_) NEBU_RETURN_IF_ERROR(Open(n));
    return Status::Ok();
  }

  void Run(int steps);
  // Quiescence; false (with a message) if a bound passed.
  bool Quiesce(std::string* why);
  void Check();

  const Ledger& ledger() const { return ledger_; }
  FakeOrderedLog& log() { return log_; }
  int restarts() const { return restarts_; }
  int crashes() const { return crashes_; }
  int partial_resumes() const { return partial_resumes_; }
  // Duplicate groups skipped, summed over the nodes' current incarnations.
  uint64_t skipped() const {
    uint64_t sum = 0;
    for (const auto& n : nodes_) sum += n.committer->skipped_groups();
    return sum;
  }

 private:
  Status Open(Node& n) {
    NEBU_ASSIGN_OR_RETURN(n.store, storage::Store::Open({.path = n.path,
                                                         .block_cache_bytes = 1u << 20,
                                                         .write_buffer_bytes = 1u << 20}));
    n.notifier = std::make_unique<core::Notifier>();
    n.sm = std::make_unique<core::StateMachine>(*n.store, *n.notifier);
    NEBU_RETURN_IF_ERROR(n.sm->Load());
    n.applier = std::make_unique<CrashingApplier>(*n.sm);
    if (!n.sm->applied_group().complete(n.sm->applied_index())) ++partial_resumes_;
    ReplicatedCommitterOptions o;
    o.node_id = n.id;
    o.incarnation = ++incarnations_;  // fresh at every start
    o.groups_in_flight = 1 + rng_() % 4;
    o.group_max = 1 + rng_() % 64;
    o.write_timeout_ms = 300;
    o.answer_timeout_ms = 600;
    o.read_batch_max = 1 + rng_() % 16;
    o.read_wait_ms = 20;
    n.committer = std::make_unique<ReplicatedCommitter>(log_, *n.applier, o);
    return n.committer->Start();
  }
  void Close(Node& n) {
    if (n.committer) n.committer->Stop();
    n.committer.reset();
    n.applier.reset();
    n.sm.reset();
    n.notifier.reset();
    n.store.reset();
  }
  Node& RandomNode() { return nodes_[rng_() % nodes_.size()]; }

  void ProposeCreate();
  void ProposeSend(Send send);
  void ProposeRegistration();
  void Restart(Node& n);
  void ArmCrash();
  // Reopens every node whose writes stopped (an injected crash).
  void RestartCrashed();
  void ChangeFaults();
  void TrimApplied();

  std::mt19937_64 rng_;  // the driver's choices (driver thread only)
  FakeOrderedLog log_;
  std::vector<std::unique_ptr<nebu::testing::TempDir>> dirs_;
  std::vector<Node> nodes_;
  Ledger ledger_;
  std::vector<std::pair<std::string, std::string>> rooms_;  // proposed: room ID, creator
  uint64_t incarnations_ = 0;
  int sends_ = 0;
  int users_ = 0;
  int restarts_ = 0;
  int crashes_ = 0;
  int partial_resumes_ = 0;  // starts that resumed a partly applied group
  int down_steps_ = 0;       // > 0: the log is down for that many more steps
};

void Cluster::ProposeCreate() {
  const int k = static_cast<int>(rooms_.size());
  const std::string creator = "@u" + std::to_string(k) + ":localhost";
  rooms::CreateRoomRequest request;
  request.preset = (rng_() % 2) ? "public_chat" : "private_chat";
  request.name = "room " + std::to_string(k);
  auto drafts = rooms::PlanRoomCreation(request, creator);
  ASSERT_TRUE(drafts.ok()) << drafts.status().ToString();
  core::CreateRoomCommand create;
  create.room_id = "!r" + std::to_string(k) + ":localhost";
  create.origin_server_ts = 1'700'000'000'000 + k;
  create.events = std::move(*drafts);
  auto command = core::MakeCreateRoomCommand(create);
  ASSERT_TRUE(command.ok());
  rooms_.emplace_back(create.room_id, creator);
  {
    std::lock_guard lock(ledger_.mu);
    ++ledger_.outstanding;
  }
  std::string room_id = create.room_id;
  RandomNode().committer->Propose(std::move(*command), [this, room_id](ApplyOutcome out) {
    std::lock_guard lock(ledger_.mu);
    --ledger_.outstanding;
    if (out.ok()) {
      ++ledger_.ok;
      ledger_.acked_rooms.push_back(room_id);
    } else if (out.status().code() == StatusCode::kUnavailable) {
      ++ledger_.unavailable;
    } else {
      ++ledger_.rejected;
    }
    ledger_.cv.notify_all();
  });
}

// With a transaction ID a send is retried by its client after kUnavailable (the room
// deduplicates it); without one it is not, so only the group dedup (BeginGroup) keeps
// a group that landed twice from appending it twice.
// Account commands are applied alone (StateMachine flushes before and after each),
// so groups mixing them with room commands are flushed mid-group.
void Cluster::ProposeRegistration() {
  accounts::RegistrationRequest request;
  request.user_id = "@acct" + std::to_string(users_++ % 24) + ":localhost";  // some taken
  request.displayname = "Account " + request.user_id;
  request.inhibit_login = true;
  auto prepared = accounts::PrepareRegistration(request, 1'700'000'000'000);
  ASSERT_TRUE(prepared.ok()) << prepared.status().ToString();
  {
    std::lock_guard lock(ledger_.mu);
    ++ledger_.outstanding;
  }
  std::string user_id = request.user_id;
  RandomNode().committer->Propose(
      Command{core::CommandKind::kAccount, std::move(prepared->payload)},
      [this, user_id](ApplyOutcome out) {
        std::lock_guard lock(ledger_.mu);
        --ledger_.outstanding;
        if (out.ok()) {
          ++ledger_.ok;
          ledger_.acked_users.push_back(user_id);
        } else if (out.status().code() == StatusCode::kUnavailable) {
          ++ledger_.unavailable;
        } else {
          ++ledger_.rejected;  // taken
        }
        ledger_.cv.notify_all();
      });
}

Send NewSend(const std::string& room_id, const std::string& sender, int n, bool with_txn) {
  core::SendEventRequest r;
  r.room_id = room_id;
  r.sender = sender;
  if (with_txn) {
    r.device_id = "DEV";
    r.txn_id = "t" + std::to_string(n);
  }
  r.type = "m.room.message";
  r.content["msgtype"] = "m.text";
  r.content["body"] = "m" + std::to_string(n);
  r.origin_server_ts = 1'700'000'100'000 + n;
  Result<Command> c = core::MakeSendEventCommand(r);
  NEBU_CHECK(c.ok(), "send command");
  return Send{room_id, std::move(*c), "m" + std::to_string(n), 0, with_txn};
}

void Cluster::ProposeSend(Send send) {
  {
    std::lock_guard lock(ledger_.mu);
    ++ledger_.outstanding;
  }
  ++send.tries;
  Command command = send.command;
  RandomNode().committer->Propose(
      std::move(command), [this, send = std::move(send)](ApplyOutcome out) mutable {
        std::lock_guard lock(ledger_.mu);
        --ledger_.outstanding;
        if (out.ok()) {
          ++ledger_.ok;
          auto appended = core::DecodeAppended(*out);
          if (appended.ok() && appended->size() == 1) {
            auto [it, fresh] = ledger_.acked_sends.emplace(send.marker, appended->front().event_id);
            // A retry of an acknowledged send must name the same event (txn dedup).
            if (!fresh) {
              EXPECT_EQ(it->second, appended->front().event_id) << send.marker;
            }
          } else {
            ADD_FAILURE() << "bad send outcome " << *out;
          }
        } else if (out.status().code() == StatusCode::kUnavailable) {
          ++ledger_.unavailable;
          if (send.retry) ledger_.to_retry.push_back(std::move(send));
        } else {
          ++ledger_.rejected;  // e.g. the room's creation was not acknowledged
        }
        ledger_.cv.notify_all();
      });
}

void Cluster::ArmCrash() {
  Node& n = RandomNode();
  n.applier->CrashAt(n.sm->applied_index() + 1 + rng_() % 8);
}

void Cluster::RestartCrashed() {
  for (auto& n : nodes_) {
    if (n.committer->write_status().message().starts_with("writes stopped")) {
      ++crashes_;
      Restart(n);
    }
  }
}

void Cluster::Restart(Node& n) {
  Close(n);
  Status s = Open(n);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ++restarts_;
}

void Cluster::ChangeFaults() {
  switch (rng_() % 4) {
    case 0:
      log_.SetFaults({});
      break;
    case 1:
      log_.SetFaults({.fail_append = 0.2,
                      .lose_answer = 0.2,
                      .duplicate = 0.05,
                      .delay = 0.3,
                      .read_disconnect = 0.1});
      break;
    case 2:
      log_.SetFaults({.lose_answer = 0.5, .duplicate = 0.2, .delay = 0.5});
      break;
    default:
      down_steps_ = 1 + static_cast<int>(rng_() % 8);
      log_.SetDown(true);
      break;
  }
}

void Cluster::TrimApplied() {
  uint64_t low = UINT64_MAX;
  for (auto& n : nodes_) low = std::min(low, n.committer->trim_safe_revision());
  if (low > 0 && low != UINT64_MAX) (void)log_.Trim(low);  // down: nothing trimmed
}

void Cluster::Run(int steps) {
  for (int step = 0; step < steps; ++step) {
    if (down_steps_ > 0 && --down_steps_ == 0) log_.SetDown(false);
    RestartCrashed();
    if (::testing::Test::HasFatalFailure()) return;
    const int r = static_cast<int>(rng_() % 100);
    if (rooms_.empty() || r < 8) {
      ProposeCreate();
    } else if (r < 14) {
      ProposeRegistration();
    } else if (r < 80) {
      const auto& [room_id, creator] = rooms_[rng_() % rooms_.size()];
      ProposeSend(NewSend(room_id, creator, sends_++, rng_() % 10 < 7));
    } else if (r < 87) {
      Send retry;
      bool have = false;
      {
        std::lock_guard lock(ledger_.mu);
        if (!ledger_.to_retry.empty()) {
          retry = std::move(ledger_.to_retry.back());
          ledger_.to_retry.pop_back();
          have = true;
        }
      }
      if (have) ProposeSend(std::move(retry));
    } else if (r < 89) {
      Restart(RandomNode());
    } else if (r < 91) {
      ArmCrash();
    } else if (r < 96) {
      ChangeFaults();
    } else {
      TrimApplied();
    }
    ASSERT_TRUE(ledger_.WaitOutstanding(kOutstandingMax)) << "proposals never answered";
  }
}

bool Cluster::Quiesce(std::string* why) {
  log_.SetFaults({});
  log_.SetDown(false);
  for (auto& n : nodes_) n.applier->CrashAt(0);
  RestartCrashed();
  for (int round = 0;; ++round) {
    if (!ledger_.WaitOutstanding(0)) {
      *why = "proposals never answered";
      return false;
    }
    std::vector<Send> retry;
    {
      std::lock_guard lock(ledger_.mu);
      retry.swap(ledger_.to_retry);
    }
    if (retry.empty()) break;
    if (round == kRetryRoundsMax) {
      *why = std::to_string(retry.size()) + " sends still unavailable without faults";
      return false;
    }
    for (auto& s : retry) ProposeSend(std::move(s));
  }
  const uint64_t last = log_.last_revision();
  const auto until = Clock::now() + kWaitBound;
  RestartCrashed();  // one that crashed while crashes were being disarmed
  for (auto& n : nodes_) {
    while (n.committer->applied_revision() < last) {
      if (Clock::now() > until) {
        *why = n.id + " applied " + std::to_string(n.committer->applied_revision()) + " of " +
               std::to_string(last) + ": " + n.committer->write_status().ToString();
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling interval
    }
    while (!n.committer->write_status().ok()) {  // a writer may still be in back-off
      if (Clock::now() > until) {
        *why = n.id + ": " + n.committer->write_status().ToString();
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // polling interval
    }
  }
  return true;
}

void Cluster::Check() {
  // 1. Identical state everywhere.
  auto first = core::StateDigest(*nodes_[0].store);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  for (size_t i = 1; i < nodes_.size(); ++i) {
    auto d = core::StateDigest(*nodes_[i].store);
    ASSERT_TRUE(d.ok()) << d.status().ToString();
    if (*d != *first) {
      auto diff = core::DiffStates(*nodes_[0].store, *nodes_[i].store, 20);
      FAIL() << nodes_[0].id << " and " << nodes_[i].id << " differ:\n"
             << (diff.ok() ? *diff : diff.status().ToString());
    }
  }
  // 2. Exactly once and dense, read on node 1 (the others hold the same bytes).
  storage::Store& store = *nodes_[0].store;
  storage::RoomLog room_log(store);
  std::map<std::string, std::vector<std::string>> markers;  // marker -> event IDs
  for (const auto& [room_id, creator] : rooms_) {
    auto meta = core::LoadRoomMeta(store, room_id);
    if (!meta.ok()) {
      ASSERT_EQ(meta.status().code(), StatusCode::kNotFound) << meta.status().ToString();
      continue;
    }
    storage::Sequence expect = 1;
    Status s =
        room_log.Scan(meta->number, 1, UINT64_MAX, SIZE_MAX, [&](const storage::EventView& e) {
          EXPECT_EQ(e.sequence, expect) << room_id;
          ++expect;
          const size_t at = e.json.find("\"body\":\"m");
          if (at != std::string_view::npos) {
            const size_t start = at + 8;
            const size_t end = e.json.find('"', start);
            markers[std::string(e.json.substr(start, end - start))].emplace_back(e.event_id);
          }
          return true;
        });
    ASSERT_TRUE(s.ok()) << room_id << ": " << s.ToString();
    auto last = room_log.LastSequence(meta->number);
    ASSERT_TRUE(last.ok());
    EXPECT_EQ(*last, expect - 1) << room_id;
  }
  for (const auto& [marker, ids] : markers) EXPECT_EQ(ids.size(), 1u) << marker << " applied twice";
  for (const auto& [marker, event_id] : ledger_.acked_sends) {
    auto it = markers.find(marker);
    ASSERT_NE(it, markers.end()) << "acknowledged send " << marker << " is not in its room";
    EXPECT_EQ(it->second.front(), event_id) << marker;
  }
  std::set<std::string> users;
  for (const auto& user_id : ledger_.acked_users) {
    EXPECT_TRUE(users.insert(user_id).second) << user_id << " registered twice";
    auto profile = accounts::GetProfile(store, user_id);
    EXPECT_TRUE(profile.ok()) << "acknowledged registration of " << user_id;
  }
  for (const auto& room_id : ledger_.acked_rooms) {
    EXPECT_TRUE(core::LoadRoomMeta(store, room_id).ok()) << "acknowledged room " << room_id;
  }
}

std::vector<uint64_t> Seeds() {
  if (const char* s = std::getenv("NEBU_TEST_SEED"); s && *s) {
    return {std::strtoull(s, nullptr, 10)};
  }
  int runs = kRunsDefault;
  if (const char* r = std::getenv("NEBU_TEST_RUNS"); r && *r) runs = std::atoi(r);
  std::random_device rd;
  std::vector<uint64_t> seeds;
  for (int i = 0; i < runs; ++i) seeds.push_back((static_cast<uint64_t>(rd()) << 32) | rd());
  return seeds;
}

TEST(ClusterProperty, NodesOverOneFaultyLogConvergeAndApplyAcknowledgedProposalsOnce) {
  for (uint64_t seed : Seeds()) {
    const auto t0 = Clock::now();
    std::printf("cluster property seed %llu (replay: NEBU_TEST_SEED=%llu)\n",
                static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
    SCOPED_TRACE("seed " + std::to_string(seed));
    const int nodes = 2 + static_cast<int>(seed % 3);
    Cluster cluster(seed, nodes);
    ASSERT_TRUE(cluster.OpenAll().ok());
    cluster.Run(kStepsPerRun);
    if (HasFatalFailure()) return;
    std::string why;
    ASSERT_TRUE(cluster.Quiesce(&why)) << why;
    cluster.Check();
    const Ledger& l = cluster.ledger();
    std::printf(
        "  %d nodes, %d restarts (%d after a crash, %d resuming a group), %llu log records landed, "
        "%llu duplicates skipped, "
        "answers: %llu ok, %llu rejected, %llu unavailable; acknowledged sends %zu; "
        "%lld ms\n",
        nodes, cluster.restarts(), cluster.crashes(), cluster.partial_resumes(),
        static_cast<unsigned long long>(cluster.log().landed()),
        static_cast<unsigned long long>(cluster.skipped()), static_cast<unsigned long long>(l.ok),
        static_cast<unsigned long long>(l.rejected), static_cast<unsigned long long>(l.unavailable),
        l.acked_sends.size(),
        static_cast<long long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count()));
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace nebu::replication
