// Goal: PUT /sendToDevice queues messages through the log that /sync's read
// functions return with their stream positions, once per txn ID, to one device or
// every device ("*"); unknown and remote recipients are dropped; bad bodies are
// refused and queue nothing.
// Method: KeysApiTest (real engine on tmpfs, Router::Handle).
#include <gtest/gtest.h>

#include "tests/api/keys/keys_testing.h"

namespace nebu::api {
namespace {

std::vector<e2ee::ToDeviceMessage> Queue(core::Engine& engine, const std::string& user,
                                         const std::string& device) {
  auto messages =
      e2ee::ToDeviceMessages(engine.store(), user, device, 0, engine.stream_position(), 100);
  EXPECT_TRUE(messages.ok()) << messages.status().ToString();
  return messages.ok() ? *messages : std::vector<e2ee::ToDeviceMessage>{};
}

TEST_F(KeysApiTest, ToDeviceMessagesReachTheDeviceOnceWithTheirPosition) {
  std::string alice = Register("alice");
  std::string bob = Register("bob");
  const std::string bob_device = DeviceOf(bob);
  json::object body{
      {"messages", json::object{{"@bob:localhost",
                                 json::object{{bob_device, json::object{{"ciphertext", "x"}}}}}}}};
  Response r = Call("PUT", "/sendToDevice/m.room.encrypted/txn1", alice, body);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Body(r), json::object{});
  const uint64_t position = engine_->stream_position();
  auto queue = Queue(*engine_, "@bob:localhost", bob_device);
  ASSERT_EQ(queue.size(), 1u);
  EXPECT_EQ(queue[0].position, position);
  EXPECT_EQ(queue[0].sender, "@alice:localhost");
  EXPECT_EQ(queue[0].type, "m.room.encrypted");
  EXPECT_EQ(json::parse(queue[0].content), (json::object{{"ciphertext", "x"}}));

  // A retried request (same device, same txn ID) queues nothing more.
  ASSERT_EQ(Call("PUT", "/sendToDevice/m.room.encrypted/txn1", alice, body).status, 200);
  EXPECT_EQ(engine_->stream_position(), position);
  EXPECT_EQ(Queue(*engine_, "@bob:localhost", bob_device).size(), 1u);
  // The same txn ID from another device of the sender is another transaction.
  std::string alice2 = Login("@alice:localhost");
  ASSERT_EQ(Call("PUT", "/sendToDevice/m.room.encrypted/txn1", alice2, body).status, 200);
  EXPECT_EQ(Queue(*engine_, "@bob:localhost", bob_device).size(), 2u);

  // Acknowledged through the delete payload /sync proposes.
  ASSERT_TRUE(*e2ee::HasToDeviceUpTo(engine_->store(), "@bob:localhost", bob_device, position));
  auto deleted =
      engine_->Submit({core::CommandKind::kE2ee,
                       *e2ee::EncodeDeleteToDevice("@bob:localhost", bob_device, position)});
  ASSERT_TRUE(deleted.ok()) << deleted.status().ToString();
  EXPECT_FALSE(*e2ee::HasToDeviceUpTo(engine_->store(), "@bob:localhost", bob_device, position));
  EXPECT_EQ(Queue(*engine_, "@bob:localhost", bob_device).size(), 1u);
}

TEST_F(KeysApiTest, StarReachesEveryDeviceAndUnknownRecipientsAreDropped) {
  std::string alice = Register("alice");
  std::string bob = Register("bob");
  std::string bob2 = Login("@bob:localhost");
  json::object body{
      {"messages", json::object{{"@bob:localhost", json::object{{"*", json::object{{"n", 1}}}}},
                                {"@ghost:localhost", json::object{{"X", json::object{}}}},
                                {"@far:remote.example", json::object{{"X", json::object{}}}}}}};
  Response r = Call("PUT", "/sendToDevice/m.x/t1", alice, body);
  ASSERT_EQ(r.status, 200) << r.body;
  for (const std::string& token : {bob, bob2}) {
    auto queue = Queue(*engine_, "@bob:localhost", DeviceOf(token));
    ASSERT_EQ(queue.size(), 1u);
    EXPECT_EQ(queue[0].position, engine_->stream_position());
  }
  EXPECT_TRUE(Queue(*engine_, "@ghost:localhost", "X").empty());
}

TEST_F(KeysApiTest, BadToDeviceRequestsAreRefusedAndQueueNothing) {
  std::string alice = Register("alice");
  const uint64_t before = engine_->stream_position();
  Response r = Call("PUT", "/sendToDevice/m.x/t1", alice, json::object{});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(ErrCode(r), "M_MISSING_PARAM");
  r = Call(
      "PUT", "/sendToDevice/m.x/t2", alice,
      json::object{{"messages", json::object{{"@alice:localhost", json::object{{"D", "text"}}}}}});
  EXPECT_EQ(ErrCode(r), "M_BAD_JSON");
  r = Call("PUT", "/sendToDevice/m.x/t3", alice, std::string("[]"));
  EXPECT_EQ(r.status, 400);
  r = Call("PUT", "/sendToDevice/m.x/t4", "nebu_nope", json::object{{"messages", json::object{}}});
  EXPECT_EQ(r.status, 401);
  json::object too_many;
  for (size_t i = 0; i <= e2ee::kToDeviceMessagesPerRequestMax; ++i) {
    too_many["D" + std::to_string(i)] = json::object{};
  }
  r = Call("PUT", "/sendToDevice/m.x/t5", alice,
           json::object{{"messages", json::object{{"@alice:localhost", too_many}}}});
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(engine_->stream_position(), before);
}

}  // namespace
}  // namespace nebu::api
