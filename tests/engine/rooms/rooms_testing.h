// Helpers shared by the rooms tests: PDUs and a room state built step by step.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "engine/rooms/auth_rules.h"
#include "engine/rooms/room_state.h"

namespace nebu::rooms::testing {

inline constexpr std::string_view kRoomId = "!room:example.org";
inline constexpr std::string_view kCreator = "@creator:example.org";
inline constexpr std::string_view kSender = "@sender:example.org";
inline constexpr std::string_view kTarget = "@target:example.org";

// A PDU with the keys Authorize reads; prev_events has one (placeholder) entry.
inline boost::json::object Pdu(std::string_view sender, std::string_view type,
                               std::optional<std::string_view> state_key,
                               boost::json::object content) {
  boost::json::object pdu{{"room_id", kRoomId},
                          {"sender", sender},
                          {"type", type},
                          {"content", std::move(content)},
                          {"origin_server_ts", 1},
                          {"depth", 2},
                          {"prev_events", boost::json::array{"$previous"}},
                          {"auth_events", boost::json::array{}}};
  if (state_key) pdu["state_key"] = *state_key;
  return pdu;
}

// Whether Authorize allows the event; a refusal must be kForbidden (not a shape error).
inline bool Allowed(const boost::json::object& event, const RoomState& state) {
  Status s = Authorize(event, state);
  EXPECT_TRUE(s.ok() || s.code() == StatusCode::kForbidden) << s.ToString();
  return s.ok();
}

inline boost::json::object MemberPdu(std::string_view sender, std::string_view target,
                                     std::string_view membership) {
  return Pdu(sender, "m.room.member", target, {{"membership", membership}});
}

inline boost::json::object Json(std::string_view text) {
  return boost::json::parse(text).as_object();
}

// A room state assembled directly (no authorization), for setting up cases.
class RoomBuilder {
 public:
  RoomBuilder() {
    boost::json::object create = Pdu(kCreator, "m.room.create", "", {{"room_version", "11"}});
    create["prev_events"] = boost::json::array{};
    Put(std::move(create));
    Member(kCreator, "join");
  }
  RoomBuilder& Member(std::string_view user, std::string_view membership) {
    return Put(MemberPdu(user, user, membership));
  }
  RoomBuilder& JoinRule(std::string_view rule) {
    return Put(Pdu(kCreator, "m.room.join_rules", "", {{"join_rule", rule}}));
  }
  RoomBuilder& PowerLevels(boost::json::object content) {
    return Put(Pdu(kCreator, "m.room.power_levels", "", std::move(content)));
  }
  RoomBuilder& Put(boost::json::object pdu) {
    std::string type(pdu.at("type").as_string());
    std::string key(pdu.at("state_key").as_string());
    state_.Set(std::move(type), std::move(key), std::move(pdu));
    return *this;
  }
  const RoomState& state() const { return state_; }

 private:
  RoomState state_;
};

}  // namespace nebu::rooms::testing
