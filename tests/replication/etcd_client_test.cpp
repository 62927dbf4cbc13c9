// EtcdClient against a real etcd (NEBU_TEST_ETCD_ENDPOINTS, scripts/etcd.sh): each
// test checks one call's contract as the cluster code relies on it, over gRPC.
#include "replication/etcd_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "proto/etcd/rpc.pb.h"
#include "tests/replication/etcd_test_util.h"

namespace nebu::replication {
namespace {

using namespace std::chrono_literals;
using testing::ClosedPort;
using testing::NewClient;
using testing::UniquePrefix;
using Clock = std::chrono::steady_clock;

TEST(EtcdEndpoints, ParsesCommaSeparatedUrls) {
  auto got = EtcdClientOptions::ParseEndpoints("http://127.0.0.1:2379, https://etcd-1:2379,");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(*got, (std::vector<std::string>{"http://127.0.0.1:2379", "https://etcd-1:2379"}));
}

TEST(EtcdEndpoints, RejectsWhatIsNotAUrl) {
  for (const char* bad : {"", ",", "127.0.0.1:2379", "http://host", "http://host:", "http://h:x1",
                          "unix:///tmp/s", "http://h:1/path"}) {
    auto got = EtcdClientOptions::ParseEndpoints(bad);
    EXPECT_FALSE(got.ok()) << bad;
    if (!got.ok()) {
      EXPECT_EQ(got.status().code(), StatusCode::kInvalidArgument) << bad;
    }
  }
}

TEST(EtcdPrefixEnd, IncrementsTheLastByte) {
  EXPECT_EQ(EtcdPrefixEnd("a/"), "a0");
  EXPECT_EQ(EtcdPrefixEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(EtcdPrefixEnd(std::string("\xff", 1)), std::string(1, '\0'));
}

TEST(EtcdClient, PutRangeAndDeleteRange) {
  NEBU_REQUIRE_ETCD();
  auto etcd = NewClient();
  std::string p = UniquePrefix() + "/";
  std::vector<int64_t> revs;
  for (int i = 0; i < 5; ++i) {
    auto rev = etcd->Put(p + "k" + std::to_string(i), "v" + std::to_string(i));
    ASSERT_TRUE(rev.ok()) << rev.status().ToString();
    revs.push_back(*rev);
  }
  EXPECT_LT(revs.front(), revs.back());

  auto one = etcd->Range(p + "k2", {});
  ASSERT_TRUE(one.ok()) << one.status().ToString();
  ASSERT_EQ(one->kvs.size(), 1u);
  EXPECT_EQ(one->kvs[0].value, "v2");
  EXPECT_EQ(one->kvs[0].create_revision, revs[2]);
  EXPECT_EQ(one->kvs[0].mod_revision, revs[2]);
  EXPECT_GE(one->revision, revs[4]);

  auto limited = etcd->Range(p, {.prefix = true,
                                 .limit = 2,
                                 .sort_order = EtcdSortOrder::kDescend,
                                 .sort_target = EtcdSortTarget::kMod});
  ASSERT_TRUE(limited.ok());
  ASSERT_EQ(limited->kvs.size(), 2u);
  EXPECT_EQ(limited->kvs[0].key, p + "k4");
  EXPECT_TRUE(limited->more);
  EXPECT_EQ(limited->count, 5);

  auto newer = etcd->Range(p, {.prefix = true, .min_mod_revision = revs[3], .keys_only = true});
  ASSERT_TRUE(newer.ok());
  ASSERT_EQ(newer->kvs.size(), 2u);
  EXPECT_EQ(newer->kvs[0].value, "");  // keys_only

  auto counted = etcd->Range(p, {.prefix = true, .count_only = true});
  ASSERT_TRUE(counted.ok());
  EXPECT_EQ(counted->count, 5);
  EXPECT_TRUE(counted->kvs.empty());

  auto old = etcd->Range(p + "k4", {.revision = revs[3]});  // before k4 existed
  ASSERT_TRUE(old.ok());
  EXPECT_TRUE(old->kvs.empty());

  auto deleted = etcd->DeleteRange(p, /*prefix=*/true);
  ASSERT_TRUE(deleted.ok());
  EXPECT_EQ(*deleted, 5);
  auto none = etcd->Range(p, {.prefix = true});
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->kvs.empty());
}

TEST(EtcdClient, PutIfAbsentWritesOnceAndReturnsTheCreateRevision) {
  NEBU_REQUIRE_ETCD();
  auto etcd = NewClient();
  std::string key = UniquePrefix() + "/once";
  auto first = etcd->PutIfAbsent(key, "first");
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_TRUE(first->created);
  auto again = etcd->PutIfAbsent(key, "second");
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->create_revision, first->create_revision);
  auto got = etcd->Range(key, {});
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->kvs.size(), 1u);
  EXPECT_EQ(got->kvs[0].value, "first");
  EXPECT_EQ(got->kvs[0].version, 1);
}

TEST(EtcdClient, PutIfModRevisionIsACompareAndSet) {
  NEBU_REQUIRE_ETCD();
  auto etcd = NewClient();
  std::string key = UniquePrefix() + "/cas";
  auto created = etcd->PutIfModRevision(key, "a", 0);
  ASSERT_TRUE(created.ok());
  EXPECT_TRUE(*created);
  auto lost = etcd->PutIfModRevision(key, "b", 0);  // exists now
  ASSERT_TRUE(lost.ok());
  EXPECT_FALSE(*lost);
  auto got = etcd->Range(key, {});
  ASSERT_TRUE(got.ok());
  auto won = etcd->PutIfModRevision(key, "c", got->kvs.at(0).mod_revision);
  ASSERT_TRUE(won.ok());
  EXPECT_TRUE(*won);
}

TEST(EtcdClient, LeaseKeepsKeysAliveUntilRevoked) {
  NEBU_REQUIRE_ETCD();
  auto etcd = NewClient();
  std::string key = UniquePrefix() + "/leased";
  auto lease = etcd->LeaseGrant(10);
  ASSERT_TRUE(lease.ok()) << lease.status().ToString();
  EXPECT_NE(lease->id, 0);
  EXPECT_EQ(lease->ttl_seconds, 10);
  ASSERT_TRUE(etcd->Put(key, "alive", lease->id).ok());
  auto ttl = etcd->LeaseKeepAliveOnce(lease->id);
  ASSERT_TRUE(ttl.ok()) << ttl.status().ToString();
  EXPECT_GT(*ttl, 0);
  auto got = etcd->Range(key, {});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->kvs.at(0).lease, lease->id);

  ASSERT_TRUE(etcd->LeaseRevoke(lease->id).ok());
  got = etcd->Range(key, {});
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->kvs.empty());  // the key went with its lease
  auto gone = etcd->LeaseKeepAliveOnce(lease->id);
  ASSERT_FALSE(gone.ok());
  EXPECT_EQ(gone.status().code(), StatusCode::kNotFound);
}

// Goal: EtcdLeaseKeeper keeps a leased key alive past its TTL, grants a new lease
// (and says so) when the old one is revoked behind its back, and revokes on
// destruction. Method: a 2 s lease; wait (bounded) for the callbacks and check
// the key after more than one TTL.
TEST(EtcdLeaseKeeper, KeepsTheLeaseAliveReplacesALostOneAndRevokes) {
  NEBU_REQUIRE_ETCD();
  auto etcd = NewClient();
  std::string key = UniquePrefix() + "/node";
  std::mutex mu;
  std::condition_variable cv;
  std::vector<int64_t> leases;
  auto keeper = std::make_unique<EtcdLeaseKeeper>(etcd.get(), 2, [&](int64_t id) {
    ASSERT_TRUE(etcd->Put(key, "here", id).ok());
    std::lock_guard lock(mu);
    leases.push_back(id);
    cv.notify_all();
  });
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return leases.size() == 1; }));
  // Past one TTL: the key is still there (renewed every TTL/3).
  EXPECT_FALSE(cv.wait_for(lock, 3s, [&] { return leases.size() > 1; }));
  lock.unlock();
  auto got = etcd->Range(key, {});
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->kvs.size(), 1u);
  EXPECT_EQ(keeper->lease_id(), leases[0]);

  ASSERT_TRUE(etcd->LeaseRevoke(leases[0]).ok());  // lost behind the keeper's back
  lock.lock();
  ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return leases.size() == 2; }));
  lock.unlock();
  EXPECT_NE(leases[1], leases[0]);
  got = etcd->Range(key, {});
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->kvs.size(), 1u);
  EXPECT_EQ(got->kvs[0].lease, leases[1]);

  keeper.reset();  // revokes: the key goes at once
  got = etcd->Range(key, {});
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->kvs.empty());
}

TEST(EtcdClient, StatusNamesTheLeaderAndTheTerm) {
  NEBU_REQUIRE_ETCD();
  auto etcd = NewClient();
  auto status = etcd->MaintenanceStatus();
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  EXPECT_NE(status->leader, 0u);
  EXPECT_NE(status->member_id, 0u);
  EXPECT_GT(status->raft_term, 0u);
  EXPECT_GT(status->db_size_bytes, 0);
  EXPECT_TRUE(status->version.starts_with("3.")) << status->version;
  for (size_t i = 0; i < etcd->endpoints().size(); ++i) {
    auto member = etcd->MemberStatus(i);
    ASSERT_TRUE(member.ok()) << member.status().ToString();
    EXPECT_EQ(member->leader, status->leader);
  }
}

TEST(EtcdClient, CompactMakesOldRevisionsUnreadable) {
  NEBU_REQUIRE_ETCD();
  auto etcd = NewClient();
  std::string key = UniquePrefix() + "/c";
  auto r1 = etcd->Put(key, "1");
  auto r2 = etcd->Put(key, "2");
  ASSERT_TRUE(r1.ok() && r2.ok());
  ASSERT_TRUE(etcd->Compact(*r2).ok());
  auto old = etcd->Range(key, {.revision = *r1});
  ASSERT_FALSE(old.ok());
  EXPECT_EQ(old.status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(old.status().message().starts_with("compacted")) << old.status().ToString();
  Status again = etcd->Compact(*r1);  // already past it
  EXPECT_EQ(again.code(), StatusCode::kNotFound) << again.ToString();
}

TEST(EtcdClient, WatchDeliversChangesFromItsStartRevisionInOrder) {
  NEBU_REQUIRE_ETCD();
  auto etcd = NewClient();
  std::string p = UniquePrefix() + "/";
  auto first = etcd->Put(p + "a", "1");  // before the watch exists: replayed from history
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(etcd->Put(p + "b", "2").ok());
  ASSERT_TRUE(etcd->DeleteRange(p + "a", false).ok());

  std::mutex mu;
  std::condition_variable cv;
  std::vector<EtcdEvent> events;
  bool created = false;
  auto watch = etcd->Watch({.key = p, .prefix = true, .start_revision = *first},
                           [&](const EtcdWatchUpdate& u) {
                             std::lock_guard lock(mu);
                             if (u.kind == EtcdWatchUpdate::Kind::kCreated) created = true;
                             for (const auto& e : u.events) events.push_back(e);
                             cv.notify_all();
                             return true;
                           });
  ASSERT_TRUE(etcd->Put(p + "c", "3").ok());
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return events.size() >= 4; }));
  EXPECT_TRUE(created);
  EXPECT_EQ(events[0].kv.key, p + "a");
  EXPECT_EQ(events[0].kv.value, "1");
  EXPECT_EQ(events[1].kv.key, p + "b");
  EXPECT_EQ(events[2].type, EtcdEvent::Type::kDelete);
  EXPECT_EQ(events[3].kv.key, p + "c");
  for (size_t i = 1; i < events.size(); ++i) {
    EXPECT_LT(events[i - 1].kv.mod_revision, events[i].kv.mod_revision);
  }
  EXPECT_EQ(watch->next_revision(), events.back().kv.mod_revision + 1);
}

// Goal: the stall check (progress requests after 1 s of silence) keeps a quiet but
// healthy watch open. Method: watch an idle key for longer than the stall timeout,
// then write it; the watch must deliver with no disconnect in between.
TEST(EtcdClient, QuietWatchStaysConnectedPastTheStallTimeout) {
  NEBU_REQUIRE_ETCD();
  auto etcd = NewClient();
  std::string key = UniquePrefix() + "/quiet";
  std::mutex mu;
  std::condition_variable cv;
  int created = 0;
  int disconnected = 0;
  bool seen = false;
  auto watch = etcd->Watch({.key = key}, [&](const EtcdWatchUpdate& u) {
    std::lock_guard lock(mu);
    if (u.kind == EtcdWatchUpdate::Kind::kCreated) ++created;
    if (u.kind == EtcdWatchUpdate::Kind::kDisconnected) ++disconnected;
    if (!u.events.empty()) seen = true;
    cv.notify_all();
    return true;
  });
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return created == 1; }));
  // Nothing to wait for but time: the stall timeout must pass with the watch quiet.
  EXPECT_FALSE(cv.wait_for(lock, std::chrono::milliseconds(kEtcdWatchStallTimeoutMs + 1500),
                           [&] { return disconnected > 0; }));
  lock.unlock();
  ASSERT_TRUE(etcd->Put(key, "x").ok());
  lock.lock();
  EXPECT_TRUE(cv.wait_for(lock, 5s, [&] { return seen; }));
  EXPECT_EQ(created, 1);
  EXPECT_EQ(disconnected, 0);
}

TEST(EtcdClient, WatchFromACompactedRevisionSaysSo) {
  NEBU_REQUIRE_ETCD();
  auto etcd = NewClient();
  std::string key = UniquePrefix() + "/w";
  auto r1 = etcd->Put(key, "1");
  auto r2 = etcd->Put(key, "2");
  ASSERT_TRUE(r1.ok() && r2.ok());
  ASSERT_TRUE(etcd->Compact(*r2).ok());
  std::mutex mu;
  std::condition_variable cv;
  int64_t compacted = 0;
  auto watch = etcd->Watch({.key = key, .start_revision = *r1}, [&](const EtcdWatchUpdate& u) {
    std::lock_guard lock(mu);
    if (u.kind == EtcdWatchUpdate::Kind::kCompacted) compacted = u.compact_revision;
    cv.notify_all();
    return true;
  });
  std::unique_lock lock(mu);
  ASSERT_TRUE(cv.wait_for(lock, 5s, [&] { return compacted != 0; }));
  EXPECT_GE(compacted, *r2);
}

TEST(EtcdClient, UnreachableEndpointIsUnavailableWithinTheDeadline) {
  NEBU_REQUIRE_ETCD();  // not needed, but keeps the suite's timing in one place
  auto etcd = NewClient(
      {.endpoints = {"http://127.0.0.1:" + std::to_string(ClosedPort())},
       .request_timeout = 300ms});
  auto start = Clock::now();
  auto put = etcd->Put("/nebu-test/unreachable", "x");
  auto elapsed = Clock::now() - start;
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().code(), StatusCode::kUnavailable) << put.status().ToString();
  EXPECT_GE(elapsed, 250ms);  // it kept trying until its deadline ...
  EXPECT_LT(elapsed, 1500ms);  // ... and not much longer
  auto range = etcd->Range("/nebu-test/unreachable", {}, 100ms);
  EXPECT_EQ(range.status().code(), StatusCode::kUnavailable);
}

TEST(EtcdClient, FailsOverWhenTheFirstEndpointIsDead) {
  NEBU_REQUIRE_ETCD();
  EtcdClientOptions options;
  options.endpoints = {"http://127.0.0.1:" + std::to_string(ClosedPort())};
  for (const auto& e : testing::TestEndpoints()) options.endpoints.push_back(e);
  options.request_timeout = 3s;
  auto etcd = NewClient(options);
  std::string key = UniquePrefix() + "/failover";
  auto start = Clock::now();
  auto put = etcd->Put(key, "x");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  EXPECT_LT(Clock::now() - start, 1s);
  auto got = etcd->Range(key, {});
  ASSERT_TRUE(got.ok());
  EXPECT_EQ(got->kvs.size(), 1u);
  // A watch fails over too.
  std::mutex mu;
  std::condition_variable cv;
  bool seen = false;
  auto watch = etcd->Watch({.key = key, .start_revision = *put}, [&](const EtcdWatchUpdate& u) {
    std::lock_guard lock(mu);
    if (!u.events.empty()) seen = true;
    cv.notify_all();
    return true;
  });
  std::unique_lock lock(mu);
  EXPECT_TRUE(cv.wait_for(lock, 10s, [&] { return seen; }));
}

TEST(EtcdClient, RequestOverEtcdsLimitIsTooLarge) {
  NEBU_REQUIRE_ETCD();
  auto etcd = NewClient();
  std::string big(2 << 20, 'x');  // etcd.sh: --max-request-bytes 1.5 MiB
  auto put = etcd->Put(UniquePrefix() + "/big", big);
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().code(), StatusCode::kTooLarge) << put.status().ToString();
  auto txn = etcd->PutIfAbsent(UniquePrefix() + "/big", big);
  EXPECT_EQ(txn.status().code(), StatusCode::kTooLarge) << txn.status().ToString();
}

// An etcd with authentication (scripts/etcd.sh start --auth: user nebu may read and
// write /nebu-test/ only; tokens expire after 1 s unused), in NEBU_TEST_ETCD_AUTH_ENDPOINTS.
class EtcdAuthTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* env = std::getenv("NEBU_TEST_ETCD_AUTH_ENDPOINTS");
    if (env == nullptr || *env == '\0') {
      if (testing::EtcdRequired()) FAIL() << "NEBU_TEST_ETCD_AUTH_ENDPOINTS is unset";
      GTEST_SKIP() << "etcd test skipped: NEBU_TEST_ETCD_AUTH_ENDPOINTS is unset (scripts/etcd.sh "
                      "start --auth DIR starts one)";
    }
    auto parsed = EtcdClientOptions::ParseEndpoints(env);
    ASSERT_TRUE(parsed.ok());
    endpoints_ = *parsed;
  }
  std::unique_ptr<EtcdClient> Client(std::string password) {
    return NewClient({.endpoints = endpoints_,
                      .request_timeout = 2s,
                      .username = "nebu",
                      .password = std::move(password)});
  }
  std::vector<std::string> endpoints_;
};

TEST_F(EtcdAuthTest, WrongPasswordIsUnauthenticated) {
  auto etcd = Client("wrong");
  auto put = etcd->Put(UniquePrefix() + "/k", "v");
  ASSERT_FALSE(put.ok());
  EXPECT_EQ(put.status().code(), StatusCode::kUnauthenticated) << put.status().ToString();
}

TEST_F(EtcdAuthTest, WithoutCredentialsWritesAreRefused) {
  auto etcd = NewClient({.endpoints = endpoints_, .request_timeout = 2s});
  auto put = etcd->Put(UniquePrefix() + "/k", "v");
  ASSERT_FALSE(put.ok());
  EXPECT_NE(put.status().code(), StatusCode::kUnavailable) << put.status().ToString();
}

TEST_F(EtcdAuthTest, TokenIsSentRenewedAndChecked) {
  auto etcd = Client("nebu-test-password");
  std::string key = UniquePrefix() + "/k";
  auto put = etcd->Put(key, "v");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  auto outside = etcd->Put("/elsewhere/k", "v");  // no permission there
  ASSERT_FALSE(outside.ok());
  EXPECT_EQ(outside.status().code(), StatusCode::kForbidden) << outside.status().ToString();
  // The token expires after 1 s unused: the client authenticates again by itself.
  // (Letting time pass is the point here, not synchronization.)
  std::this_thread::sleep_for(2500ms);
  auto got = etcd->Range(key, {});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->kvs.size(), 1u);
  // A watch carries the token too.
  std::mutex mu;
  std::condition_variable cv;
  bool seen = false;
  auto watch = etcd->Watch({.key = key, .start_revision = *put}, [&](const EtcdWatchUpdate& u) {
    std::lock_guard lock(mu);
    if (!u.events.empty()) seen = true;
    cv.notify_all();
    return true;
  });
  std::unique_lock lock(mu);
  EXPECT_TRUE(cv.wait_for(lock, 5s, [&] { return seen; }));
}

// An etcd serving TLS only and requiring client certificates (scripts/etcd.sh start
// --tls DIR: DIR/endpoints, DIR/tls/{ca,client,client-key}.pem), in NEBU_TEST_ETCD_TLS_DIR.
class EtcdTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* env = std::getenv("NEBU_TEST_ETCD_TLS_DIR");
    if (env == nullptr || *env == '\0') {
      if (testing::EtcdRequired()) FAIL() << "NEBU_TEST_ETCD_TLS_DIR is unset";
      GTEST_SKIP() << "etcd test skipped: NEBU_TEST_ETCD_TLS_DIR is unset (scripts/etcd.sh "
                      "start --tls DIR starts one)";
    }
    dir_ = env;
    std::ifstream in(dir_ + "/endpoints");
    std::string csv;
    std::getline(in, csv);
    auto parsed = EtcdClientOptions::ParseEndpoints(csv);
    ASSERT_TRUE(parsed.ok()) << csv;
    endpoints_ = *parsed;
  }
  EtcdClientOptions Options() {
    return {.endpoints = endpoints_,
            .request_timeout = 2s,
            .attempt_timeout = 1s,
            .ca_file = dir_ + "/tls/ca.pem",
            .cert_file = dir_ + "/tls/client.pem",
            .key_file = dir_ + "/tls/client-key.pem"};
  }
  std::string dir_;
  std::vector<std::string> endpoints_;
};

TEST_F(EtcdTlsTest, ClientCertificateAndCaGetThrough) {
  auto etcd = NewClient(Options());
  std::string key = UniquePrefix() + "/tls";
  auto put = etcd->Put(key, "secret");
  ASSERT_TRUE(put.ok()) << put.status().ToString();
  auto got = etcd->Range(key, {});
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->kvs.at(0).value, "secret");
  std::mutex mu;
  std::condition_variable cv;
  bool seen = false;
  auto watch = etcd->Watch({.key = key, .start_revision = *put}, [&](const EtcdWatchUpdate& u) {
    std::lock_guard lock(mu);
    if (!u.events.empty()) seen = true;
    cv.notify_all();
    return true;
  });
  std::unique_lock lock(mu);
  EXPECT_TRUE(cv.wait_for(lock, 5s, [&] { return seen; }));
}

TEST_F(EtcdTlsTest, WithoutTheClientCertificateOrTheCaNothingGetsThrough) {
  auto no_cert = Options();
  no_cert.cert_file.clear();
  no_cert.key_file.clear();
  auto etcd = NewClient(no_cert);
  auto start = Clock::now();
  EXPECT_FALSE(etcd->Put(UniquePrefix() + "/k", "v").ok());
  EXPECT_LT(Clock::now() - start, 4s);
  auto no_ca = Options();
  no_ca.ca_file.clear();  // the system's roots do not know our CA
  etcd = NewClient(no_ca);
  EXPECT_FALSE(etcd->Put(UniquePrefix() + "/k", "v").ok());
}

TEST_F(EtcdTlsTest, UnreadableCertificateFileIsAnError) {
  auto bad = Options();
  bad.ca_file = dir_ + "/tls/missing.pem";
  auto etcd = EtcdClient::Create(bad);
  ASSERT_FALSE(etcd.ok());
  EXPECT_EQ(etcd.status().code(), StatusCode::kIoError) << etcd.status().ToString();
  auto half = Options();
  half.key_file.clear();
  EXPECT_EQ(EtcdClient::Create(half).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace nebu::replication
