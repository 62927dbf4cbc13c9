// EtcdLog under etcd faults, on a private 3-member cluster this test starts with
// scripts/etcd.sh in a temporary directory (so killing members disturbs no other
// test). Runs where the other etcd tests run (NEBU_TEST_ETCD_ENDPOINTS set).
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "replication/etcd_log.h"
#include "tests/replication/etcd_test_util.h"

namespace nebu::replication {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string RunCommand(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buf[512];
  while (fgets(buf, sizeof buf, pipe) != nullptr) out += buf;
  int rc = pclose(pipe);
  EXPECT_EQ(rc, 0) << command;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

class EtcdFaultTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NEBU_REQUIRE_ETCD();
    char tmpl[] = "/tmp/nebu-etcd-fault-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    std::string endpoints = RunCommand(Script() + " start --members=3 " + dir_);
    auto parsed = EtcdClientOptions::ParseEndpoints(endpoints);
    ASSERT_TRUE(parsed.ok()) << endpoints;
    endpoints_ = *parsed;
    ASSERT_EQ(endpoints_.size(), 3u);
  }
  void TearDown() override {
    for (int pid : stopped_) kill(pid, SIGCONT);
    if (!dir_.empty()) RunCommand(Script() + " destroy " + dir_);
  }

  static std::string Script() { return std::string("bash ") + NEBU_SOURCE_DIR "/scripts/etcd.sh"; }
  int Pid(size_t index) { return std::stoi(RunCommand(Script() + " pid " + std::to_string(index + 1) + " " + dir_)); }

  std::unique_ptr<EtcdClient> Client(std::vector<std::string> endpoints) {
    return testing::NewClient({.endpoints = std::move(endpoints),
                               .request_timeout = 5s,
                               .attempt_timeout = 1s});
  }

  // The index of the endpoint whose member leads now.
  size_t LeaderIndex(EtcdClient& etcd) {
    for (int tries = 0; tries < 50; ++tries) {
      std::map<uint64_t, size_t> by_id;
      uint64_t leader = 0;
      for (size_t i = 0; i < endpoints_.size(); ++i) {
        auto s = etcd.MemberStatus(i, 1s);
        if (!s.ok()) continue;
        by_id[s->member_id] = i;
        if (s->leader != 0) leader = s->leader;
      }
      if (leader != 0 && by_id.count(leader)) return by_id[leader];
    }
    ADD_FAILURE() << "no etcd leader found";
    return 0;
  }

  std::string dir_;
  std::vector<std::string> endpoints_;
  std::vector<int> stopped_;
};

// Goal: SIGKILL of the etcd leader under a steady Append load loses nothing and
// writes resume within a few seconds. Method: append keys one by one, each retried
// with the same key until it succeeds (as the committer does); kill the leader
// midway; then read the log back: every key exactly once, at the revision its
// Append returned, in order.
TEST_F(EtcdFaultTest, LeaderKilledUnderAppendsLosesNothingAndWritesResume) {
  auto etcd = Client(endpoints_);
  EtcdLog log(etcd.get(), testing::UniquePrefix());
  auto base = etcd->Put("/nebu-test/base", "");
  ASSERT_TRUE(base.ok()) << base.status().ToString();
  size_t leader = LeaderIndex(*etcd);

  constexpr int kAppends = 60;
  constexpr int kKillAt = 20;
  std::vector<uint64_t> revisions;
  Clock::time_point killed;
  double failover_ms = 0;
  for (int i = 0; i < kAppends; ++i) {
    if (i == kKillAt) {
      ASSERT_EQ(kill(Pid(leader), SIGKILL), 0);
      killed = Clock::now();
    }
    std::string key = "g" + std::to_string(i);
    auto deadline = Clock::now() + 20s;
    Result<uint64_t> rev = Status::Unavailable("not tried");
    while (!rev.ok() && Clock::now() < deadline) {
      rev = log.Append(key, "value", 2s);
      if (!rev.ok()) {
        ASSERT_EQ(rev.status().code(), StatusCode::kUnavailable) << rev.status().ToString();
      }
    }
    ASSERT_TRUE(rev.ok()) << key << ": " << rev.status().ToString();
    if (i == kKillAt) {
      failover_ms = std::chrono::duration<double, std::milli>(Clock::now() - killed).count();
    }
    revisions.push_back(*rev);
  }
  std::printf("etcd leader SIGKILL -> next successful Append: %.0f ms\n", failover_ms);
  EXPECT_LT(failover_ms, 5000);

  std::vector<LogRecord> records;
  uint64_t after = static_cast<uint64_t>(*base);
  auto deadline = Clock::now() + 20s;
  while (records.size() < kAppends && Clock::now() < deadline) {
    auto got = log.ReadAfter(after, 100, 1s);
    if (!got.ok()) continue;  // kUnavailable while the watch moves: retry
    for (auto& r : *got) {
      after = r.revision;
      records.push_back(std::move(r));
    }
  }
  ASSERT_EQ(records.size(), static_cast<size_t>(kAppends));
  for (int i = 0; i < kAppends; ++i) {
    EXPECT_EQ(records[i].key, "g" + std::to_string(i));
    EXPECT_EQ(records[i].revision, revisions[i]);
  }
}

// Goal: a stopped (SIGSTOP) member holding the reader's watch does not stall the
// reader for long. Method: the reader's client lists that member first, so its
// watch lives there; stop it; append through the other members; the reader must
// get the record within the stall timeout plus reconnection.
TEST_F(EtcdFaultTest, StoppedMemberDoesNotStallTheReader) {
  auto writer_etcd = Client(endpoints_);
  size_t leader = LeaderIndex(*writer_etcd);
  size_t victim = (leader + 1) % 3;  // a follower: writes go on without an election
  std::vector<std::string> reader_endpoints = {endpoints_[victim], endpoints_[(victim + 1) % 3],
                                               endpoints_[(victim + 2) % 3]};
  auto reader_etcd = Client(reader_endpoints);
  writer_etcd = Client({endpoints_[(victim + 1) % 3], endpoints_[(victim + 2) % 3]});
  std::string prefix = testing::UniquePrefix();
  EtcdLog reader(reader_etcd.get(), prefix);
  EtcdLog writer(writer_etcd.get(), prefix);

  auto first = writer.Append("before", "v", 2s);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto got = reader.ReadAfter(*first - 1, 10, 5s);  // the watch is up, on the victim
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);

  int pid = Pid(victim);
  ASSERT_EQ(kill(pid, SIGSTOP), 0);
  stopped_.push_back(pid);
  auto second = writer.Append("during", "v", 5s);
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  auto appended = Clock::now();
  std::vector<LogRecord> seen;
  while (seen.empty() && Clock::now() - appended < 15s) {
    auto more = reader.ReadAfter(*first, 10, 1s);
    if (more.ok()) seen = *more;
  }
  double ms = std::chrono::duration<double, std::milli>(Clock::now() - appended).count();
  std::printf("reader's etcd member SIGSTOPped -> record read after %.0f ms\n", ms);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].revision, *second);
  EXPECT_LT(ms, kEtcdWatchStallTimeoutMs + 5000);
}

}  // namespace
}  // namespace nebu::replication
