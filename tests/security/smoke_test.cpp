// The security suite's own check: a started nebu serves a user, and an event it
// acknowledged survives kill -9 (the fixture's Restart) on the same data directory.
#include <memory>

#include "tests/security/nebu_process.h"

namespace nebu::security {
namespace {

class SmokeTest : public SecurityTest {};

TEST_F(SmokeTest, AnAcknowledgedEventSurvivesKillNine) {
  Start();
  std::string alice = Register("alice");
  std::string room = CreateRoom(alice);
  std::string event_id = Send(alice, room, "hello");
  ASSERT_FALSE(event_id.empty());
  Restart(SIGKILL);
  HttpReply r = Call("GET", "/rooms/" + Encode(room) + "/event/" + Encode(event_id), alice);
  EXPECT_EQ(r.status, 200) << r.body;
  ExpectAlive();
}

// SIGTERM while two /sync long-polls are parked with timeout=30000, one whose client
// still listens and one whose client has gone: the parked polls are answered at once
// (the server drains its routers before it waits for in-flight requests), so the
// process exits well within the 10 s drain timeout it used to wait out.
TEST_F(SmokeTest, SigtermAnswersParkedLongPollsAndExitsPromptly) {
  constexpr int64_t kExitBoundMs = 3000;
  Start();
  std::string alice = Register("alice");
  HttpReply first = Call("GET", "/sync", alice);
  ASSERT_EQ(first.status, 200) << first.body;
  const std::string target =
      std::string(kV3) + "/sync?timeout=30000&since=" +
      Encode(std::string(first.Json().at("next_batch").as_string()));
  TestHttpClient listening(nebu_.client_port());
  auto gone = std::make_unique<TestHttpClient>(nebu_.client_port());
  ASSERT_TRUE(listening.connected() && gone->connected());
  listening.Send("GET", target, {}, alice);
  gone->Send("GET", target, {}, alice);
  // A later request answered: the two polls (sent first) have been read and parked.
  ASSERT_EQ(Call("GET", "/_matrix/client/versions").status, 200);
  gone.reset();  // that client closes its connection without waiting for the answer

  const auto start = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(nebu_.pid(), SIGTERM), 0);
  HttpReply answered = listening.Read();
  const int status = nebu_.Wait(15'000);
  const auto elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                              std::chrono::steady_clock::now() - start)
                              .count();
  EXPECT_LT(elapsed_ms, kExitBoundMs);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "wait status " << status;
  EXPECT_EQ(answered.status, 200) << answered.body;  // the empty answer, not a cut
  EXPECT_TRUE(answered.Json().as_object().contains("next_batch")) << answered.body;
  std::printf("SIGTERM with parked long-polls: exited after %lld ms\n",
              static_cast<long long>(elapsed_ms));
}

}  // namespace
}  // namespace nebu::security
