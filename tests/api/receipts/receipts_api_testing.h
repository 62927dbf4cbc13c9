// ReceiptsApiTest: RoomsApiTest (a real engine on tmpfs, the room routes on a Router)
// plus the receipt, typing, account (tags, account data) and push-rule routes, and a
// room with alice (creator) and bob joined and three messages from alice.
#pragma once

#include <string>
#include <vector>

#include "api/accounts/account_routes.h"
#include "api/accounts/push_rules.h"
#include "api/receipts/receipt_routes.h"
#include "api/sync/typing.h"
#include "tests/api/rooms/rooms_testing.h"

namespace nebu::api {

class ReceiptsApiTest : public RoomsApiTest {
 protected:
  void SetUp() override {
    RoomsApiTest::SetUp();
    AddReceiptRoutes(router_, *engine_, typing_);
    AddAccountRoutes(router_, *engine_, {.registration_open = false, .rate_limit = false});
    AddPushRuleRoutes(router_, *engine_);
    alice_ = Register("alice");
    bob_ = Register("bob");
    carol_ = Register("carol");
    room_ = CreateRoom(alice_, json::object{{"preset", "public_chat"}});
    ASSERT_EQ(Post(bob_, "/rooms/" + room_ + "/join"), 200);
    for (int i = 0; i < 3; ++i) messages_.push_back(Send(alice_, room_, "m" + std::to_string(i)));
  }

  TypingTracker typing_;
  std::string alice_, bob_, carol_;  // access tokens; carol never joins
  std::string room_;
  std::vector<std::string> messages_;
};

}  // namespace nebu::api
