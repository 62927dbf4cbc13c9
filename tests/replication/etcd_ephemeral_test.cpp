// EtcdEphemeralBus against a real etcd (skipped without NEBU_TEST_ETCD_ENDPOINTS):
// two buses (two nodes) see every update with the same serial (the etcd revision),
// typing keys expire by their lease, a stopped node's presence keys go away, and a
// bus started later learns the current state from the snapshot.
#include "replication/etcd_ephemeral.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tests/replication/etcd_test_util.h"

namespace nebu::replication {
namespace {

using std::chrono::milliseconds;
using testing::NewClient;
using testing::UniquePrefix;

constexpr auto kWaitMax = std::chrono::seconds(15);

// Records what a bus delivers; waits (bounded) for a condition on it.
class Recorder {
 public:
  explicit Recorder(api::EphemeralBus& bus) : bus_(bus) {
    id_ = bus.Subscribe([this](const api::EphemeralUpdate& u) {
      std::lock_guard lock(mu_);
      updates_.push_back(u);
      cv_.notify_all();
    });
  }
  ~Recorder() { bus_.Unsubscribe(id_); }
  bool WaitFor(const std::function<bool(const std::vector<api::EphemeralUpdate>&)>& done) {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, kWaitMax, [&] { return done(updates_); });
  }
  std::vector<api::EphemeralUpdate> updates() {
    std::lock_guard lock(mu_);
    return updates_;
  }

 private:
  api::EphemeralBus& bus_;
  api::EphemeralBus::SubscriptionId id_ = 0;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<api::EphemeralUpdate> updates_;
};

bool Has(const std::vector<api::EphemeralUpdate>& updates, const std::string& user, bool deleted) {
  for (const auto& u : updates) {
    if (u.key.user_id == user && u.value.has_value() != deleted) return true;
  }
  return false;
}

class EtcdEphemeralTest : public ::testing::Test {
 protected:
  void SetUp() override {
    NEBU_REQUIRE_ETCD();
    etcd_ = NewClient();
    ASSERT_NE(etcd_, nullptr);
    prefix_ = UniquePrefix();
  }
  void TearDown() override {
    if (etcd_) (void)etcd_->DeleteRange(prefix_ + "/", /*prefix=*/true);
  }
  std::unique_ptr<EtcdEphemeralBus> NewBus(int64_t session_ttl_seconds = 10) {
    return std::make_unique<EtcdEphemeralBus>(
        *etcd_, EtcdEphemeralOptions{.prefix = prefix_, .session_ttl_seconds = session_ttl_seconds});
  }
  std::unique_ptr<EtcdClient> etcd_;
  std::string prefix_;
};

TEST(EtcdEphemeralKeyTest, KeysRoundTripWithSlashesAndPercents) {
  const api::EphemeralKey typing{.kind = api::EphemeralKind::kTyping,
                                 .room_id = "!a/b%c:hs",
                                 .user_id = "@u/1:hs"};
  const std::string key = EtcdEphemeralBus::KeyOf("/p", typing);
  EXPECT_EQ(key, "/p/ephemeral/typing/!a%2Fb%25c:hs/@u%2F1:hs");
  EXPECT_EQ(EtcdEphemeralBus::ParseKey("/p", key), typing);
  const api::EphemeralKey presence{.kind = api::EphemeralKind::kPresence, .user_id = "@u:hs"};
  EXPECT_EQ(EtcdEphemeralBus::ParseKey("/p", EtcdEphemeralBus::KeyOf("/p", presence)), presence);
  EXPECT_FALSE(EtcdEphemeralBus::ParseKey("/p", "/p/ephemeral/typing/!r:hs").has_value());
  EXPECT_FALSE(EtcdEphemeralBus::ParseKey("/p", "/p/log/1").has_value());
  EXPECT_FALSE(EtcdEphemeralBus::ParseKey("/p", "/p/ephemeral/presence/%zz").has_value());
}

TEST_F(EtcdEphemeralTest, TwoNodesSeeTheSameUpdatesWithTheSameSerials) {
  auto bus1 = NewBus(), bus2 = NewBus();
  Recorder heard1(*bus1), heard2(*bus2);
  bus1->Start();
  bus2->Start();
  const api::EphemeralKey typing{.kind = api::EphemeralKind::kTyping, .room_id = "!r:hs",
                                 .user_id = "@bob:hs"};
  bus2->Publish(typing, "1", milliseconds(30000));
  bus1->Publish({.kind = api::EphemeralKind::kPresence, .user_id = "@alice:hs"},
                R"({"presence":"online","last_active_ts":1})", milliseconds(0));
  auto both = [](const std::vector<api::EphemeralUpdate>& u) { return u.size() >= 2; };
  ASSERT_TRUE(heard1.WaitFor(both));
  ASSERT_TRUE(heard2.WaitFor(both));
  auto u1 = heard1.updates(), u2 = heard2.updates();
  ASSERT_EQ(u1.size(), 2u);
  ASSERT_EQ(u2.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(u1[i].key, u2[i].key);
    EXPECT_EQ(u1[i].serial, u2[i].serial);  // the etcd revision
    EXPECT_EQ(u1[i].value, u2[i].value);
  }
  EXPECT_LT(u1[0].serial, u1[1].serial);
  bus2->Publish(typing, std::nullopt, milliseconds(0));  // stops typing: a delete
  ASSERT_TRUE(heard1.WaitFor([](const auto& u) { return Has(u, "@bob:hs", /*deleted=*/true); }));
  EXPECT_EQ(bus1->dropped(), 0u);
}

TEST_F(EtcdEphemeralTest, TypingExpiresByItsLease) {
  auto bus = NewBus();
  Recorder heard(*bus);
  bus->Start();
  const auto start = std::chrono::steady_clock::now();
  bus->Publish({.kind = api::EphemeralKind::kTyping, .room_id = "!r:hs", .user_id = "@bob:hs"},
               "1", milliseconds(1000));
  ASSERT_TRUE(heard.WaitFor([](const auto& u) { return Has(u, "@bob:hs", /*deleted=*/true); }));
  const auto took = std::chrono::steady_clock::now() - start;
  EXPECT_GE(took, milliseconds(1000));
  std::printf("typing with a 1 s timeout expired after %lld ms\n",
              static_cast<long long>(std::chrono::duration_cast<milliseconds>(took).count()));
}

TEST_F(EtcdEphemeralTest, AStoppedNodesPresenceGoesAndALateNodeSeesTheSnapshot) {
  auto bus1 = NewBus();
  Recorder heard1(*bus1);
  bus1->Start();
  auto bus2 = NewBus();
  bus2->Start();
  bus2->Publish({.kind = api::EphemeralKind::kPresence, .user_id = "@carol:hs"},
                R"({"presence":"online","last_active_ts":1})", milliseconds(0));
  ASSERT_TRUE(heard1.WaitFor([](const auto& u) { return Has(u, "@carol:hs", /*deleted=*/false); }));
  // A third node starting now learns carol from the range read, with the same serial.
  auto bus3 = NewBus();
  Recorder heard3(*bus3);
  bus3->Start();
  ASSERT_TRUE(heard3.WaitFor([](const auto& u) { return Has(u, "@carol:hs", /*deleted=*/false); }));
  EXPECT_EQ(heard3.updates().front().serial, heard1.updates().front().serial);
  bus2->Stop();  // revokes its session lease: carol's key goes everywhere
  ASSERT_TRUE(heard1.WaitFor([](const auto& u) { return Has(u, "@carol:hs", /*deleted=*/true); }));
  ASSERT_TRUE(heard3.WaitFor([](const auto& u) { return Has(u, "@carol:hs", /*deleted=*/true); }));
}

}  // namespace
}  // namespace nebu::replication
