// The security suite's own check: a started nebu serves a user, and an event it
// acknowledged survives kill -9 (the fixture's Restart) on the same data directory.
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

}  // namespace
}  // namespace nebu::security
