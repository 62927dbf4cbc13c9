// Goal: a SIGTERM drains the node (api/server.h § Stop, app/main.cpp): new connections
// are refused at once, a parked /sync long-poll answers now (not at its timeout), a
// request in flight completes and is acknowledged, the process exits 0, and no
// acknowledged event is lost after the restart; a request that never completes is cut
// after NEBU_DRAIN_TIMEOUT_MS and the exit is still 0.
// Method: the real nebu binary on loopback. The request in flight is a send whose
// headers carry "Expect: 100-continue": the server's "100 Continue" proves it is
// reading that request when the signal arrives; its body is sent after the listener
// is seen refusing connections. The long-poll is seen parked through /metrics
// (nebu_sync_waiters goes up by one).
#include <sys/wait.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "tests/security/nebu_process.h"
#include "tests/security/ops_util.h"

namespace nebu::security {
namespace {

using namespace std::chrono_literals;

class OpsDrainTest : public SecurityTest {
 protected:
  // The value of an unlabelled series in /metrics, or -1.
  double MetricValue(const std::string& name) {
    HttpReply r = Ops("/metrics");
    const std::string needle = "\n" + name + " ";
    size_t at = r.body.find(needle);
    if (at == std::string::npos) return -1;
    return std::stod(r.body.substr(at + needle.size()));
  }
  std::string SyncToken(const std::string& token) {
    HttpReply r = Call("GET", "/sync?timeout=0", token);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.status == 200 ? std::string(r.Json().at("next_batch").as_string()) : "";
  }
  // A token after which nothing is pending: an incremental sync from it answers the same
  // token. A token taken while the notification worker is still counting the sends
  // before it would wake a long-poll from it as soon as the counts catch up (legitimate
  // news), so the long-poll would answer instead of parking. Bounded: 100 rounds.
  std::string SettledSyncToken(const std::string& token) {
    std::string since = SyncToken(token);
    for (int round = 0; round < 100 && !since.empty(); ++round) {
      HttpReply r = Call("GET", "/sync?timeout=0&since=" + Encode(since), token);
      if (r.status != 200) break;
      std::string next(r.Json().at("next_batch").as_string());
      if (next == since) return since;
      since = std::move(next);
      std::this_thread::sleep_for(50ms);  // poll interval while the worker catches up
    }
    ADD_FAILURE() << "the sync token never settled";
    return since;
  }
  // Sends the head of a PUT send with Expect: 100-continue; true once the server
  // answered 100 Continue (it is inside the request now).
  bool StartSend(RawConnection& connection, const std::string& token, const std::string& room,
                 const std::string& body) {
    std::string head = "PUT " + std::string(kV3) + "/rooms/" + Encode(room) +
                       "/send/m.room.message/inflight HTTP/1.1\r\nHost: test\r\n"
                       "Authorization: Bearer " + token + "\r\n"
                       "Content-Type: application/json\r\nExpect: 100-continue\r\n"
                       "Content-Length: " + std::to_string(body.size()) + "\r\n\r\n";
    if (!connection.Send(head)) return false;
    return connection.Read().status == 100;
  }
};

TEST_F(OpsDrainTest, SigtermAnswersLongPollsFinishesInFlightRequestsAndExitsZero) {
  Start({{"NEBU_DRAIN_TIMEOUT_MS", "10000"}});
  std::string alice = Register("alice");
  std::string room = CreateRoom(alice);
  std::vector<std::string> acknowledged;
  for (int i = 0; i < 5; ++i) acknowledged.push_back(Send(alice, room, "before " + std::to_string(i)));
  const std::string since = SettledSyncToken(alice);

  // A long-poll with a 30 s timeout, parked before the signal (other subscribers, the
  // notification worker, wait on the notifier too: the count goes up by one).
  const double waiters_before = MetricValue("nebu_sync_waiters");
  ASSERT_GE(waiters_before, 0);
  std::atomic<int> sync_status{-1};
  std::atomic<int64_t> sync_ms{-1};
  std::jthread long_poll([&] {  // joins also when an assertion returns early
    auto start = std::chrono::steady_clock::now();
    HttpReply r = Call("GET", "/sync?timeout=30000&since=" + Encode(since), alice);
    sync_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - start).count();
    sync_status = r.status;
  });
  ASSERT_TRUE(WaitFor([&] { return MetricValue("nebu_sync_waiters") > waiters_before; }, 10s))
      << "the long-poll never parked";

  // A send in flight: the server is reading it when the signal comes.
  const std::string body = R"({"msgtype":"m.text","body":"in flight"})";
  RawConnection in_flight(nebu_.client_port());
  ASSERT_TRUE(in_flight.connected());
  ASSERT_TRUE(StartSend(in_flight, alice, room, body));

  auto signalled = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(nebu_.pid(), SIGTERM), 0);
  EXPECT_TRUE(WaitFor([&] { return ConnectionRefused(nebu_.client_port()); }, 5s))
      << "the client listener still accepts after SIGTERM";
  long_poll.join();
  EXPECT_EQ(sync_status.load(), 200);
  EXPECT_LT(sync_ms.load(), 10'000) << "the long-poll waited for its timeout";
  std::printf("drain: long-poll answered %lld ms after it started; signal to answer < %lld ms\n",
              static_cast<long long>(sync_ms.load()),
              static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                         std::chrono::steady_clock::now() - signalled)
                                         .count()));

  ASSERT_TRUE(in_flight.Send(body));
  HttpReply sent = in_flight.Read();
  ASSERT_EQ(sent.status, 200) << sent.head << sent.body;
  acknowledged.emplace_back(sent.Json().at("event_id").as_string());
  EXPECT_NE(sent.head.find("Connection: close"), std::string::npos) << sent.head;

  int status = nebu_.Wait(20'000);
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);

  Restart();
  for (const std::string& event_id : acknowledged) {
    HttpReply r = Call("GET", "/rooms/" + Encode(room) + "/event/" + Encode(event_id), alice);
    EXPECT_EQ(r.status, 200) << event_id << " lost: " << r.body;
  }
}

TEST_F(OpsDrainTest, ARequestThatNeverCompletesIsCutAfterTheDrainTimeout) {
  Start({{"NEBU_DRAIN_TIMEOUT_MS", "500"}});
  std::string alice = Register("alice");
  std::string room = CreateRoom(alice);
  RawConnection stuck(nebu_.client_port());
  ASSERT_TRUE(stuck.connected());
  ASSERT_TRUE(StartSend(stuck, alice, room, R"({"msgtype":"m.text","body":"never sent"})"));
  auto signalled = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(nebu_.pid(), SIGTERM), 0);
  int status = nebu_.Wait(20'000);
  auto took_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - signalled).count();
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 0);
  EXPECT_LT(took_ms, 10'000) << "the drain did not stop at its bound";
  std::printf("drain: a stuck request was cut; exit %lld ms after SIGTERM (bound 500 ms)\n",
              static_cast<long long>(took_ms));
}

}  // namespace
}  // namespace nebu::security
