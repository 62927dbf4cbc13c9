// Goal: stored PDUs become client-format events with exactly the spec's fields.
// Method: ToClientEvent on hand-written PDUs.
#include "api/rooms/client_event.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace nebu::api {
namespace {

namespace json = boost::json;

constexpr std::string_view kPdu =
    R"({"auth_events":["$a"],"content":{"body":"hi"},"depth":3,"hashes":{"sha256":"x"},)"
    R"("origin_server_ts":1000,"prev_events":["$p"],"room_id":"!r:hs","sender":"@a:hs",)"
    R"("signatures":{},"type":"m.room.message"})";

TEST(ClientEventTest, KeepsClientFieldsAndDropsPduFields) {
  auto event = ToClientEvent(kPdu, "$e", 1500);
  ASSERT_TRUE(event.ok()) << event.status().ToString();
  json::object expected{{"event_id", "$e"},
                        {"room_id", "!r:hs"},
                        {"sender", "@a:hs"},
                        {"type", "m.room.message"},
                        {"content", json::object{{"body", "hi"}}},
                        {"origin_server_ts", 1000},
                        {"unsigned", json::object{{"age", 500}}}};
  EXPECT_EQ(*event, expected);
}

TEST(ClientEventTest, StateEventsKeepTheirStateKeyAndAgeIsNeverNegative) {
  auto event =
      ToClientEvent(R"({"content":{},"origin_server_ts":2000,"room_id":"!r:hs","sender":"@a:hs",)"
                    R"("state_key":"","type":"m.room.name"})",
                    "$e", 1000);
  ASSERT_TRUE(event.ok());
  EXPECT_EQ(event->at("state_key"), "");
  EXPECT_EQ(event->at("unsigned").at("age"), 0);
}

TEST(ClientEventTest, MalformedStoredEventsAreCorruption) {
  EXPECT_EQ(ToClientEvent("[]", "$e", 0).status().code(), StatusCode::kCorruption);
  EXPECT_EQ(ToClientEvent(R"({"type":"m.x","sender":"@a:hs"})", "$e", 0).status().code(),
            StatusCode::kCorruption);
}

}  // namespace
}  // namespace nebu::api
