// EtcdLog against a real etcd (NEBU_TEST_ETCD_ENDPOINTS): the OrderedLog contract
// (ordered_log.h) as the cluster's committer and applier use it. Each test works
// under its own prefix and reads only after the revision it started at (other
// tests compact etcd's shared history).
#include "replication/etcd_log.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <future>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "tests/replication/etcd_test_util.h"

namespace nebu::replication {
namespace {

using namespace std::chrono_literals;
using testing::ClosedPort;
using testing::NewClient;
using testing::UniquePrefix;
using Clock = std::chrono::steady_clock;

class EtcdLogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NEBU_REQUIRE_ETCD();
    etcd_ = NewClient();
    ASSERT_NE(etcd_, nullptr);
    prefix_ = UniquePrefix();
    log_ = std::make_unique<EtcdLog>(etcd_.get(), prefix_);
    // The store's revision now: everything this test appends comes after it.
    auto rev = etcd_->Put(prefix_ + "/start", "");
    ASSERT_TRUE(rev.ok()) << rev.status().ToString();
    start_ = static_cast<uint64_t>(*rev);
  }

  uint64_t MustAppend(const std::string& key, const std::string& value) {
    auto rev = log_->Append(key, value, 2s);
    EXPECT_TRUE(rev.ok()) << rev.status().ToString();
    return rev.ok() ? *rev : 0;
  }

  // Everything after `after` until `count` records came (bounded by time).
  std::vector<LogRecord> ReadAll(uint64_t after, size_t count) {
    std::vector<LogRecord> out;
    auto deadline = Clock::now() + 10s;
    while (out.size() < count && Clock::now() < deadline) {
      auto got = log_->ReadAfter(after, 7, 500ms);
      EXPECT_TRUE(got.ok()) << got.status().ToString();
      if (!got.ok()) break;
      for (auto& r : *got) {
        after = r.revision;
        out.push_back(std::move(r));
      }
    }
    return out;
  }

  std::unique_ptr<EtcdClient> etcd_;
  std::string prefix_;
  std::unique_ptr<EtcdLog> log_;
  uint64_t start_ = 0;
};

TEST_F(EtcdLogTest, ReadsAppendsBackInRevisionOrder) {
  std::vector<uint64_t> revs;
  for (int i = 0; i < 20; ++i) revs.push_back(MustAppend("g" + std::to_string(i), "v" + std::to_string(i)));
  EXPECT_TRUE(std::is_sorted(revs.begin(), revs.end()));
  EXPECT_GT(revs.front(), start_);
  auto records = ReadAll(start_, 20);
  ASSERT_EQ(records.size(), 20u);
  for (int i = 0; i < 20; ++i) {
    EXPECT_EQ(records[i].revision, revs[i]);
    EXPECT_EQ(records[i].key, "g" + std::to_string(i));
    EXPECT_EQ(records[i].value, "v" + std::to_string(i));
  }
  // Reading again from the middle (a restarted applier) gives the same tail.
  auto tail = ReadAll(revs[9], 10);
  ASSERT_EQ(tail.size(), 10u);
  EXPECT_EQ(tail[0].revision, revs[10]);
  // A second log object (another node) reads the same records.
  EtcdLog other(etcd_.get(), prefix_);
  auto got = other.ReadAfter(start_, 100, 2s);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_FALSE(got->empty());
  EXPECT_EQ(got->front().revision, revs[0]);
}

TEST_F(EtcdLogTest, DuplicateAppendReturnsTheOriginalRevisionAndAddsNothing) {
  uint64_t first = MustAppend("node1/7/42", "group");
  uint64_t again = MustAppend("node1/7/42", "retried group");
  EXPECT_EQ(again, first);
  uint64_t next = MustAppend("node1/7/43", "next");
  auto records = ReadAll(start_, 2);
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].revision, first);
  EXPECT_EQ(records[0].value, "group");
  EXPECT_EQ(records[1].revision, next);
  auto more = log_->ReadAfter(next, 10, 100ms);
  ASSERT_TRUE(more.ok());
  EXPECT_TRUE(more->empty());
}

// Goal: several groups in flight at once (the committer's case) are all read back
// once, in revision order, each at the revision its Append returned. Method: 8
// writer threads append 40 keys each (and retry their first one) while the test
// reads in chunks of 5.
TEST_F(EtcdLogTest, ConcurrentAppendsAreReadBackOnceInOrder) {
  constexpr int kWriters = 8;
  constexpr int kPerWriter = 40;
  std::mutex mu;
  std::map<std::string, uint64_t> appended;
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      uint64_t first = 0;
      for (int i = 0; i < kPerWriter; ++i) {
        std::string key = "w" + std::to_string(w) + "/" + std::to_string(i);
        uint64_t rev = MustAppend(key, key);
        if (i == 0) first = rev;
        std::lock_guard lock(mu);
        appended[key] = rev;
      }
      EXPECT_EQ(MustAppend("w" + std::to_string(w) + "/0", "again"), first);
    });
  }
  std::vector<LogRecord> records;
  uint64_t after = start_;
  auto deadline = Clock::now() + 30s;
  while (records.size() < kWriters * kPerWriter && Clock::now() < deadline) {
    auto got = log_->ReadAfter(after, 5, 500ms);
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    EXPECT_LE(got->size(), 5u);
    for (auto& r : *got) {
      EXPECT_GT(r.revision, after);
      after = r.revision;
      records.push_back(std::move(r));
    }
  }
  for (auto& t : writers) t.join();
  ASSERT_EQ(records.size(), static_cast<size_t>(kWriters * kPerWriter));
  std::set<std::string> keys;
  for (const auto& r : records) {
    EXPECT_TRUE(keys.insert(r.key).second) << "twice: " << r.key;
    EXPECT_EQ(r.value, r.key);
    EXPECT_EQ(appended.at(r.key), r.revision) << r.key;
  }
  auto more = log_->ReadAfter(after, 10, 100ms);  // the retries added nothing
  ASSERT_TRUE(more.ok());
  EXPECT_TRUE(more->empty());
}

TEST_F(EtcdLogTest, ReadAfterWaitsThenReturnsEmpty) {
  uint64_t rev = MustAppend("only", "x");
  auto first = log_->ReadAfter(start_, 10, 2s);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  auto start = Clock::now();
  auto none = log_->ReadAfter(rev, 10, 200ms);
  auto elapsed = Clock::now() - start;
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_TRUE(none->empty());
  EXPECT_GE(elapsed, 190ms);
  EXPECT_LT(elapsed, 2s);
}

// Goal: a waiting reader wakes within milliseconds of an Append. Method: a reader
// thread blocks in ReadAfter(last); the writer appends; the time from Append's
// return to the reader's return is measured over bounded rounds.
TEST_F(EtcdLogTest, WaitingReaderWakesWithinMillisecondsOfAnAppend) {
  uint64_t last = MustAppend("warm", "x");
  ASSERT_EQ(ReadAll(start_, 1).size(), 1u);  // the watch is established
  constexpr int kRounds = 30;
  std::vector<double> wake_ms;
  for (int i = 0; i < kRounds; ++i) {
    auto reader = std::async(std::launch::async, [&, after = last] {
      auto got = log_->ReadAfter(after, 10, 5s);
      return std::make_pair(Clock::now(), got.ok() && !got->empty() ? got->front().revision : 0);
    });
    last = MustAppend("r" + std::to_string(i), "x");
    auto appended = Clock::now();
    auto [woke, revision] = reader.get();
    ASSERT_EQ(revision, last);
    wake_ms.push_back(std::max(0.0, std::chrono::duration<double, std::milli>(woke - appended).count()));
  }
  std::sort(wake_ms.begin(), wake_ms.end());
  std::printf("EtcdLog wake after Append: p50 %.2f ms, max %.2f ms (%d rounds)\n",
              wake_ms[kRounds / 2], wake_ms.back(), kRounds);
  EXPECT_LT(wake_ms[kRounds / 2], 50.0);
}

TEST_F(EtcdLogTest, TrimDeletesRecordsAndLaterReadsBehindItAreNotFound) {
  std::vector<uint64_t> revs;
  for (int i = 0; i < 10; ++i) revs.push_back(MustAppend("t" + std::to_string(i), "v"));
  ASSERT_EQ(ReadAll(start_, 10).size(), 10u);  // a reader with a live watch

  ASSERT_TRUE(log_->Trim(revs[4]).ok());
  auto trimmed = log_->TrimmedThrough();
  ASSERT_TRUE(trimmed.ok());
  EXPECT_EQ(*trimmed, revs[4]);
  auto left = etcd_->Range(log_->log_prefix(), {.prefix = true, .count_only = true});
  ASSERT_TRUE(left.ok());
  EXPECT_EQ(left->count, 5);

  // The live reader: the trim's deletes are not records; new appends come through.
  uint64_t next = MustAppend("after-trim", "v");
  auto got = log_->ReadAfter(revs[9], 10, 2s);
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ(got->front().revision, next);

  // Behind the trim point: kNotFound, on this log and on a fresh one.
  auto behind = log_->ReadAfter(revs[2], 10, 100ms);
  ASSERT_FALSE(behind.ok());
  EXPECT_EQ(behind.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(behind.status().message().starts_with("trimmed")) << behind.status().ToString();
  EtcdLog fresh(etcd_.get(), prefix_);
  auto fresh_behind = fresh.ReadAfter(start_, 10, 100ms);
  EXPECT_EQ(fresh_behind.status().code(), StatusCode::kNotFound);
  // At the trim point: the records after it.
  auto at = fresh.ReadAfter(revs[4], 100, 2s);
  ASSERT_TRUE(at.ok()) << at.status().ToString();
  ASSERT_FALSE(at->empty());
  EXPECT_EQ(at->front().revision, revs[5]);

  // The trim point never goes down.
  ASSERT_TRUE(log_->Trim(revs[1]).ok());
  EXPECT_EQ(*log_->TrimmedThrough(), revs[4]);
}

TEST_F(EtcdLogTest, ReadingFromACompactedRevisionIsNotFound) {
  uint64_t a = MustAppend("a", "v");
  uint64_t b = MustAppend("b", "v");
  ASSERT_TRUE(etcd_->Compact(static_cast<int64_t>(b)).ok());  // someone else compacted
  auto got = log_->ReadAfter(a - 1, 10, 2s);
  ASSERT_FALSE(got.ok());
  EXPECT_EQ(got.status().code(), StatusCode::kNotFound) << got.status().ToString();
  EXPECT_TRUE(got.status().message().starts_with("trimmed")) << got.status().ToString();
  auto after_b = log_->ReadAfter(b - 1, 10, 2s);  // watching from b itself is allowed
  ASSERT_TRUE(after_b.ok()) << after_b.status().ToString();
}

TEST_F(EtcdLogTest, AppendOverTheRequestLimitIsTooLarge) {
  auto rev = log_->Append("big", std::string(2 << 20, 'x'), 2s);
  ASSERT_FALSE(rev.ok());
  EXPECT_EQ(rev.status().code(), StatusCode::kTooLarge) << rev.status().ToString();
}

TEST(EtcdLogUnreachable, AppendAndReadAreUnavailableWithinTheTimeout) {
  NEBU_REQUIRE_ETCD();
  auto etcd = NewClient({.endpoints = {"http://127.0.0.1:" + std::to_string(ClosedPort())},
                         .request_timeout = 300ms,
                         .attempt_timeout = 100ms});
  EtcdLog log(etcd.get(), UniquePrefix());
  auto start = Clock::now();
  auto rev = log.Append("k", "v", 300ms);
  ASSERT_FALSE(rev.ok());
  EXPECT_EQ(rev.status().code(), StatusCode::kUnavailable);
  auto read = log.ReadAfter(0, 10, 300ms);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().code(), StatusCode::kUnavailable);
  EXPECT_LT(Clock::now() - start, 2s);
}

}  // namespace
}  // namespace nebu::replication
