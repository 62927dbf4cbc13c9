// Goal: notifications reach the push gateway with the Push Gateway API's fields, once;
// failures are retried with exponential backoff and given up after kPushAttemptsMax;
// a `rejected` pushkey removes the pusher; a restart resumes after the stored delivered
// position (no resend, no loss); a standby node sends nothing; a backlog longer than
// the queue bound is delivered in order.
// Method: PushersApiTest (real engine and routes over loopback HTTP), the real
// NotificationWorker (RunOnce), PusherDelivery driven by RunOnce with the fixture's
// FakeClock (backoff without sleeps), the Beast client (MakeHttpPushGateway) against
// TestGateway, a real HTTP server on 127.0.0.1.
#include "api/push/pusher_delivery.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <thread>

#include "engine/push/notification_worker.h"
#include "tests/api/push/pushers_api_testing.h"

namespace nebu::api {
namespace {

class PusherDeliveryTest : public PushersApiTest {
 protected:
  void SetUp() override {
    PushersApiTest::SetUp();
    room_ = CreateRoom(bob_, json::object{{"preset", "public_chat"}});
    ASSERT_EQ(Post(alice_, "/rooms/" + room_ + "/join"), 200);
    client_ = MakeHttpPushGateway(/*allow_private=*/true, 2000);
    worker_ = std::make_unique<push::NotificationWorker>(*engine_);
  }

  std::unique_ptr<PusherDelivery> MakeDelivery(bool active = true) {
    return std::make_unique<PusherDelivery>(
        *engine_, DeliveryOptions{.gateway = client_.get(), .clock = &clock_, .active = active});
  }
  void SetPusher(bool id_only = false) {
    Response r = Call("POST", "/pushers/set", alice_, HttpPusher("alicekey", gateway_.url(), id_only));
    ASSERT_EQ(r.status, 200) << r.body;
  }
  // Bob sends; the worker records alice's notification.
  std::string BobSays(const std::string& text) {
    std::string id = Send(bob_, room_, text);
    EXPECT_TRUE(worker_->RunOnce().ok());
    return id;
  }
  int64_t Pass(PusherDelivery& d) {
    Result<int64_t> next = d.RunOnce();
    EXPECT_TRUE(next.ok()) << next.status().ToString();
    return next.ok() ? *next : -2;
  }
  // Bounded wait on a condition (the delivery's commands are applied asynchronously).
  static bool Eventually(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::yield();
    }
    return true;
  }
  storage::StreamPosition Delivered() {
    auto mine = push::PushersOf(engine_->Read(), "@alice:localhost");
    return mine.ok() && !mine->empty() ? (*mine)[0].delivered : 0;
  }

  TestGateway gateway_;
  std::unique_ptr<PushGateway> client_;
  std::unique_ptr<push::NotificationWorker> worker_;
  std::string room_;
};

TEST_F(PusherDeliveryTest, AMessageReachesTheGatewayOnceWithTheSpecFields) {
  SetPusher();
  const std::string event_id = BobSays("hello alice");
  auto delivery = MakeDelivery();
  EXPECT_EQ(Pass(*delivery), -1);
  std::vector<json::object> got = gateway_.received();
  ASSERT_EQ(got.size(), 1u);
  const json::object& n = got[0].at("notification").as_object();
  EXPECT_EQ(std::string(n.at("event_id").as_string()), event_id);
  EXPECT_EQ(std::string(n.at("room_id").as_string()), room_);
  EXPECT_EQ(n.at("type"), "m.room.message");
  EXPECT_EQ(n.at("sender"), "@bob:localhost");
  EXPECT_EQ(n.at("content").at("body"), "hello alice");
  EXPECT_EQ(n.at("counts").at("unread"), 1);
  EXPECT_EQ(n.at("prio"), "high");  // one-to-one rule: sound
  const json::object& device = n.at("devices").as_array().at(0).as_object();
  EXPECT_EQ(device.at("app_id"), "org.example.app");
  EXPECT_EQ(device.at("pushkey"), "alicekey");
  EXPECT_EQ(device.at("pushkey_ts").to_number<int64_t>(), clock_.NowUnixMs() / 1000);
  EXPECT_EQ(device.at("data"), (json::object{{"custom", "kept"}}));  // url removed
  EXPECT_EQ(device.at("tweaks").at("sound"), "default");
  EXPECT_EQ(delivery->stats().sent, 1u);
  // Nothing more to send; the delivered position is stored.
  EXPECT_EQ(Pass(*delivery), -1);
  EXPECT_EQ(gateway_.received().size(), 1u);
  EXPECT_TRUE(Eventually([&] { return Delivered() > 0; }));
}

TEST_F(PusherDeliveryTest, EventIdOnlyLeavesTheEventOut) {
  SetPusher(/*id_only=*/true);
  const std::string event_id = BobSays("secret");
  auto delivery = MakeDelivery();
  Pass(*delivery);
  std::vector<json::object> got = gateway_.received();
  ASSERT_EQ(got.size(), 1u);
  const json::object& n = got[0].at("notification").as_object();
  EXPECT_EQ(std::string(n.at("event_id").as_string()), event_id);
  EXPECT_FALSE(n.contains("content"));
  EXPECT_FALSE(n.contains("sender"));
  EXPECT_FALSE(n.contains("type"));
  EXPECT_EQ(n.at("devices").at(0).at("data").at("format"), "event_id_only");
}

TEST_F(PusherDeliveryTest, FailuresAreRetriedWithExponentialBackoff) {
  SetPusher();
  BobSays("retry me");
  gateway_.Script(500);
  gateway_.Script(503);
  auto delivery = MakeDelivery();
  EXPECT_EQ(Pass(*delivery), kPushBackoffInitialMs);
  EXPECT_EQ(Pass(*delivery), kPushBackoffInitialMs);  // not due yet: no request
  EXPECT_EQ(gateway_.received().size(), 1u);
  clock_.AdvanceMs(kPushBackoffInitialMs);
  EXPECT_EQ(Pass(*delivery), 2 * kPushBackoffInitialMs);
  clock_.AdvanceMs(2 * kPushBackoffInitialMs);
  EXPECT_EQ(Pass(*delivery), -1);
  EXPECT_EQ(gateway_.received().size(), 3u);
  EXPECT_EQ(delivery->stats().sent, 1u);
  EXPECT_EQ(delivery->stats().failed, 2u);
  EXPECT_EQ(PushBackoffMs(30), kPushBackoffMsMax);
}

TEST_F(PusherDeliveryTest, ANotificationIsDroppedAfterTheLastAttemptAndTheNextOneGoes) {
  SetPusher();
  BobSays("doomed");
  for (int i = 0; i < kPushAttemptsMax; ++i) gateway_.Script(502);
  auto delivery = MakeDelivery();
  for (int i = 0; i < kPushAttemptsMax; ++i) {
    Pass(*delivery);
    clock_.AdvanceMs(kPushBackoffMsMax);
  }
  EXPECT_EQ(delivery->stats().dropped, 1u);
  EXPECT_EQ(delivery->stats().failed, static_cast<uint64_t>(kPushAttemptsMax));
  const std::string next = BobSays("fine");
  Pass(*delivery);
  std::vector<json::object> got = gateway_.received();
  ASSERT_EQ(got.size(), static_cast<size_t>(kPushAttemptsMax) + 1);
  EXPECT_EQ(std::string(got.back().at("notification").at("event_id").as_string()), next);
  // A 4xx other than 429 drops at once.
  gateway_.Script(400);
  BobSays("bad request");
  Pass(*delivery);
  EXPECT_EQ(delivery->stats().dropped, 2u);
}

TEST_F(PusherDeliveryTest, ARejectedPushkeyRemovesThePusher) {
  SetPusher();
  BobSays("hi");
  gateway_.Script(200, json::object{{"rejected", json::array{"alicekey"}}});
  auto delivery = MakeDelivery();
  Pass(*delivery);
  EXPECT_EQ(delivery->stats().rejected, 1u);
  EXPECT_TRUE(Eventually([&] { return Pushers(alice_).empty(); }));
}

TEST_F(PusherDeliveryTest, ARestartResumesAfterTheDeliveredPositionNeitherResendingNorLosing) {
  SetPusher();
  BobSays("one");
  {
    auto delivery = MakeDelivery();
    Pass(*delivery);
  }
  ASSERT_TRUE(Eventually([&] { return Delivered() > 0; }));
  const std::string second = BobSays("two");
  auto again = MakeDelivery();
  Pass(*again);
  std::vector<json::object> got = gateway_.received();
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(std::string(got[1].at("notification").at("event_id").as_string()), second);
}

TEST_F(PusherDeliveryTest, AStandbySendsNothingUntilActive) {
  SetPusher();
  BobSays("wait");
  auto delivery = MakeDelivery(/*active=*/false);
  Pass(*delivery);
  EXPECT_TRUE(gateway_.received().empty());
  delivery->SetActive(true);
  Pass(*delivery);
  EXPECT_EQ(gateway_.received().size(), 1u);
}

TEST_F(PusherDeliveryTest, ABacklogLongerThanTheQueueIsDeliveredInOrder) {
  SetPusher(/*id_only=*/true);
  std::vector<std::string> sent;
  for (size_t i = 0; i < kPusherQueueMax + 6; ++i) sent.push_back(BobSays("m" + std::to_string(i)));
  auto delivery = MakeDelivery();
  Pass(*delivery);
  std::vector<json::object> got = gateway_.received();
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) {
    EXPECT_EQ(std::string(got[i].at("notification").at("event_id").as_string()), sent[i]) << i;
  }
}

TEST_F(PusherDeliveryTest, ALoggedOutDevicesPusherIsRemovedNotPushed) {
  const std::string phone = Login("@alice:localhost");
  ASSERT_EQ(Call("POST", "/pushers/set", phone, HttpPusher("phonekey", gateway_.url())).status, 200);
  ASSERT_EQ(Call("POST", "/logout", phone, json::object{}).status, 200);
  BobSays("nobody hears");
  auto delivery = MakeDelivery();
  Pass(*delivery);
  EXPECT_TRUE(gateway_.received().empty());
  EXPECT_EQ(delivery->stats().removed, 1u);
  EXPECT_TRUE(Eventually([&] {
    auto all = push::PushersOf(engine_->Read(), "@alice:localhost");
    return all.ok() && all->empty();
  }));
}

TEST_F(PusherDeliveryTest, AnUnreachableGatewayCountsAsAFailureAndIsRetried) {
  Response r = Call("POST", "/pushers/set", alice_,
                    HttpPusher("alicekey", "http://127.0.0.1:1/_matrix/push/v1/notify"));
  ASSERT_EQ(r.status, 200);
  BobSays("void");
  auto delivery = MakeDelivery();
  EXPECT_EQ(Pass(*delivery), kPushBackoffInitialMs);
  EXPECT_EQ(delivery->stats().failed, 1u);
  EXPECT_EQ(delivery->stats().dropped, 0u);
}

TEST_F(PusherDeliveryTest, AGatewayOnALoopbackAddressIsRefusedUnlessAllowed) {
  SetPusher();
  BobSays("to my own network");
  std::unique_ptr<PushGateway> strict = MakeHttpPushGateway(/*allow_private=*/false, 2000);
  PusherDelivery delivery(*engine_, {.gateway = strict.get(), .clock = &clock_});
  EXPECT_EQ(Pass(delivery), -1);  // refused at once, not retried
  EXPECT_TRUE(gateway_.received().empty());
  EXPECT_EQ(delivery.stats().dropped, 1u);
}

// A gateway that accepts the connection and never answers, and a name that does not
// resolve: both end within the client's bound (kUnavailable, retryable), so one bad
// gateway never holds the delivery thread. (The client's operations are asynchronous
// under one deadline; the name lookup runs on a helper thread.)
TEST(PushGatewayClientTest, ASilentGatewayAndAnUnresolvableNameEndWithinTheBound) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(fd, 4), 0);  // the kernel completes handshakes; nobody answers
  ASSERT_EQ(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  constexpr int64_t kTimeoutMs = 300;
  std::unique_ptr<PushGateway> client = MakeHttpPushGateway(/*allow_private=*/true, kTimeoutMs);
  for (const std::string& url :
       {"http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/_matrix/push/v1/notify",
        std::string("http://gateway.nebu-test.invalid/_matrix/push/v1/notify")}) {
    const auto start = std::chrono::steady_clock::now();
    Result<GatewayReply> reply = client->Post(url, "{}");
    const auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                std::chrono::steady_clock::now() - start)
                                .count();
    ASSERT_FALSE(reply.ok()) << url;
    EXPECT_EQ(reply.status().code(), StatusCode::kUnavailable) << reply.status().ToString();
    EXPECT_LT(elapsed_ms, kTimeoutMs + 2000) << url;  // the bound plus scheduling
  }
  ::close(fd);
}

}  // namespace
}  // namespace nebu::api
