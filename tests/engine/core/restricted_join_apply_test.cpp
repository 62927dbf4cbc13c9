// Goal: the apply-side of restricted joins and invite profiles is deterministic and
// reads what is staged: the same commands give the same state whether they are
// flushed one by one or all in one batch (a join into the space staged in the same
// batch admits the restricted join), and a join command forging
// join_authorised_via_users_server for a member without the invite level is refused.
// Method: a real StateMachine over RocksDB in a temp dir; StateDigest compares.
#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "engine/accounts/commands.h"
#include "engine/core/room_applier.h"
#include "engine/core/room_reads.h"
#include "engine/core/state_digest.h"
#include "engine/core/state_machine.h"
#include "engine/rooms/room_creation.h"
#include "engine/testing/temp_dir.h"
#include "tests/engine/core/core_testing.h"

namespace nebu::core {
namespace {

constexpr const char* kMallory = "@mallory:localhost";
constexpr const char* kSpace = "!space:localhost";
constexpr const char* kRoom = "!room:localhost";

class RestrictedJoinApplyTest : public ::testing::Test {
 protected:
  // A fresh state machine in `dir`.
  struct Machine {
    explicit Machine(const std::string& path) {
      auto opened = storage::Store::Open({.path = path});
      EXPECT_TRUE(opened.ok()) << opened.status().ToString();
      store = std::move(*opened);
      sm = std::make_unique<StateMachine>(*store, notifier);
      EXPECT_TRUE(sm->Load().ok());
    }
    // Applies commands, flushing after each when `each`, else once at the end.
    std::vector<ApplyOutcome> Run(const std::vector<Command>& commands, bool each) {
      std::vector<ApplyOutcome> outcomes;
      for (const Command& c : commands) {
        ApplyOutcome outcome = Status::Internal("unset");
        EXPECT_TRUE(sm->Apply(next++, c, &outcome).ok());
        outcomes.push_back(outcome);
        if (each) {
          EXPECT_TRUE(sm->Flush().ok());
        }
      }
      EXPECT_TRUE(sm->Flush().ok());
      return outcomes;
    }
    std::unique_ptr<storage::Store> store;
    Notifier notifier;
    std::unique_ptr<StateMachine> sm;
    LogIndex next = 1;
  };

  static Command Register(const std::string& user_id, const std::string& name) {
    accounts::RegisterCommand r{.user_id = user_id, .created_ts = 1, .displayname = name};
    return Command{CommandKind::kAccount, *accounts::EncodeAccountCommand(r)};
  }
  static Command CreateRoom(const std::string& room_id, const std::string& rule) {
    rooms::CreateRoomRequest request;
    request.preset = "public_chat";
    if (rule != "public") {
      boost::json::object content{{"join_rule", rule}};
      content["allow"] = boost::json::array{
          boost::json::object{{"type", "m.room_membership"}, {"room_id", kSpace}}};
      request.initial_state.push_back({"m.room.join_rules", "", content, ""});
    }
    auto drafts = rooms::PlanRoomCreation(request, kAlice);
    EXPECT_TRUE(drafts.ok()) << drafts.status().ToString();
    return *MakeCreateRoomCommand({.room_id = room_id, .origin_server_ts = 10, .events = *drafts});
  }
  static Command Member(const std::string& room_id, const std::string& sender,
                        const std::string& target, const std::string& membership,
                        boost::json::object extra = {}) {
    SendEventRequest r{.room_id = room_id, .sender = sender, .type = "m.room.member",
                       .state_key = target, .content = std::move(extra),
                       .origin_server_ts = 20};
    r.content["membership"] = membership;
    r.restricted_join = membership == "join";
    r.target_profile = membership == "invite";
    return *MakeSendEventCommand(r);
  }
  static std::vector<Command> History() {
    return {Register(kAlice, "Alice"), Register(kBob, "Bob"), Register(kMallory, "Mallory"),
            CreateRoom(kSpace, "public"), CreateRoom(kRoom, "restricted"),
            Member(kSpace, kBob, kBob, "join"), Member(kRoom, kBob, kBob, "join"),
            Member(kRoom, kMallory, kMallory, "join"),
            Member(kRoom, kAlice, kMallory, "invite")};
  }
  static boost::json::object MemberContent(storage::Store& store, const std::string& user) {
    auto state = CurrentState(store, kRoom);
    EXPECT_TRUE(state.ok());
    const boost::json::object* event = state->Get("m.room.member", user);
    EXPECT_NE(event, nullptr);
    return event ? event->at("content").as_object() : boost::json::object{};
  }

  testing::TempDir dir_{testing::TempDir::kTmpfs};
};

TEST_F(RestrictedJoinApplyTest, OneBatchAndOneByOneGiveTheSameState) {
  Machine each(dir_.path() + "/each"), batch(dir_.path() + "/batch");
  std::vector<ApplyOutcome> a = each.Run(History(), true);
  std::vector<ApplyOutcome> b = batch.Run(History(), false);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].ok(), b[i].ok()) << i;
    if (a[i].ok()) {
      EXPECT_EQ(*a[i], *b[i]) << i;
    }
  }
  EXPECT_EQ(*StateDigest(*each.store), *StateDigest(*batch.store));
  EXPECT_TRUE(a[6].ok()) << "bob, in the space, joins the restricted room";
  EXPECT_EQ(a[7].status().code(), StatusCode::kForbidden) << "mallory is not in the space";
  boost::json::object bob = MemberContent(*batch.store, kBob);
  EXPECT_EQ(bob.at("join_authorised_via_users_server").as_string(), kAlice);
  boost::json::object mallory = MemberContent(*batch.store, kMallory);
  EXPECT_EQ(mallory.at("membership").as_string(), "invite");
  EXPECT_EQ(mallory.at("displayname").as_string(), "Mallory") << "the invitee's profile";
}

TEST_F(RestrictedJoinApplyTest, ForgedAuthoriserWithoutInviteLevelIsRefused) {
  Machine m(dir_.path() + "/db");
  // bob joins the restricted room properly; then invites need 50, and mallory (not
  // in the space) sends a join naming bob, who is joined with level 0.
  std::vector<Command> commands = {Register(kAlice, "Alice"), Register(kBob, "Bob"),
                                   CreateRoom(kSpace, "public"), CreateRoom(kRoom, "restricted"),
                                   Member(kSpace, kBob, kBob, "join"),
                                   Member(kRoom, kBob, kBob, "join")};
  // Invites need 50 from here on.
  SendEventRequest pl{.room_id = kRoom, .sender = kAlice, .type = "m.room.power_levels",
                      .state_key = "", .origin_server_ts = 30};
  pl.content["users"] = boost::json::object{{kAlice, 100}};
  pl.content["invite"] = 50;
  commands.push_back(*MakeSendEventCommand(pl));
  SendEventRequest forged{.room_id = kRoom, .sender = kMallory, .type = "m.room.member",
                          .state_key = kMallory, .origin_server_ts = 40};
  forged.content = {{"membership", "join"}, {"join_authorised_via_users_server", kBob}};
  commands.push_back(*MakeSendEventCommand(forged));
  std::vector<ApplyOutcome> out = m.Run(commands, false);
  for (size_t i = 0; i + 1 < out.size(); ++i) EXPECT_TRUE(out[i].ok()) << i;
  EXPECT_EQ(out.back().status().code(), StatusCode::kForbidden);
  auto state = CurrentState(*m.store, kRoom);
  ASSERT_TRUE(state.ok());
  EXPECT_EQ(state->MembershipOf(kMallory), rooms::Membership::kNone);
}

}  // namespace
}  // namespace nebu::core
