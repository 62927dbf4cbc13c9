// Test support: builds room histories through a real Engine (create, messages, state,
// membership, edits, redactions, account data) for the projection tests.
#pragma once

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "engine/accounts/commands.h"
#include "engine/core/engine.h"

namespace nebu::projections::testing {

inline const std::string kAlice = "@alice:localhost";
inline const std::string kBob = "@bob:localhost";
inline const std::string kCarol = "@carol:localhost";

inline std::string CreatePublicRoom(core::Engine& engine, const std::string& creator) {
  rooms::CreateRoomRequest request;
  request.preset = "public_chat";
  auto room = engine.CreateRoom(request, creator);
  NEBU_CHECK(room.ok(), room.status().ToString());
  return room->room_id;
}

inline Result<core::AppendedEvent> Send(core::Engine& engine, const std::string& room,
                                        const std::string& sender, const std::string& type,
                                        boost::json::object content,
                                        std::optional<std::string> state_key = std::nullopt,
                                        std::optional<std::string> redacts = std::nullopt) {
  core::SendEventRequest r;
  r.room_id = room;
  r.sender = sender;
  r.type = type;
  r.content = std::move(content);
  r.state_key = std::move(state_key);
  r.redacts = std::move(redacts);
  return engine.SendEvent(std::move(r));
}

inline Result<core::AppendedEvent> Message(core::Engine& engine, const std::string& room,
                                           const std::string& sender, const std::string& body) {
  return Send(engine, room, sender, "m.room.message", {{"msgtype", "m.text"}, {"body", body}});
}

inline Result<core::AppendedEvent> Member(core::Engine& engine, const std::string& room,
                                          const std::string& sender, const std::string& target,
                                          const std::string& membership) {
  return Send(engine, room, sender, "m.room.member", {{"membership", membership}}, target);
}

inline Result<core::AppendedEvent> Edit(core::Engine& engine, const std::string& room,
                                        const std::string& sender, const std::string& target,
                                        const std::string& body) {
  return Send(engine, room, sender, "m.room.message",
              {{"msgtype", "m.text"},
               {"body", "* " + body},
               {"m.new_content", {{"msgtype", "m.text"}, {"body", body}}},
               {"m.relates_to", {{"rel_type", "m.replace"}, {"event_id", target}}}});
}

inline Result<core::AppendedEvent> Redact(core::Engine& engine, const std::string& room,
                                          const std::string& sender, const std::string& target) {
  return Send(engine, room, sender, "m.room.redaction", {{"reason", "spam"}}, std::nullopt, target);
}

inline Status PutAccountData(core::Engine& engine, const std::string& user,
                             std::optional<std::string> room_id, const std::string& type,
                             boost::json::object content) {
  // Account data needs an account: register it first (kAlreadyExists the next times).
  accounts::RegisterCommand reg{.user_id = user, .created_ts = 1};
  NEBU_ASSIGN_OR_RETURN(std::string reg_payload, accounts::EncodeAccountCommand(reg));
  (void)engine.Submit(core::Command{core::CommandKind::kAccount, std::move(reg_payload)});
  accounts::PutAccountDataCommand c{user, std::move(room_id), type, std::move(content)};
  NEBU_ASSIGN_OR_RETURN(std::string payload, accounts::EncodeAccountCommand(c));
  return engine.Submit(core::Command{core::CommandKind::kAccount, std::move(payload)}).status();
}

// Registers a user with a password hash, a display name and one device + token.
inline Status RegisterWithDevice(core::Engine& engine, const std::string& user,
                                 const std::string& device, const std::string& token_hash) {
  accounts::RegisterCommand reg{.user_id = user,
                                .password_hash = "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA",
                                .created_ts = 1'700'000'000'000,
                                .displayname = "Display " + user,
                                .device = accounts::NewDevice{device, token_hash, "phone"}};
  NEBU_ASSIGN_OR_RETURN(std::string payload, accounts::EncodeAccountCommand(reg));
  return engine.Submit(core::Command{core::CommandKind::kAccount, std::move(payload)}).status();
}

// A small history with every kind of row: returns the number of room events it sent.
inline size_t SendMixedHistory(core::Engine& engine) {
  size_t before = engine.stream_position();
  std::string room = CreatePublicRoom(engine, kAlice);
  NEBU_CHECK(Member(engine, room, kBob, kBob, "join").ok(), "bob joins");
  auto hello = Message(engine, room, kAlice, "hello world");
  NEBU_CHECK(hello.ok(), "hello");
  NEBU_CHECK(Edit(engine, room, kAlice, hello->event_id, "hello there").ok(), "edit");
  auto spam = Message(engine, room, kBob, "buy now \u00e9");
  NEBU_CHECK(spam.ok(), "spam");
  NEBU_CHECK(Redact(engine, room, kAlice, spam->event_id).ok(), "redact");
  NEBU_CHECK(Send(engine, room, kAlice, "m.room.topic", {{"topic", "first"}}, "").ok(), "topic");
  NEBU_CHECK(Send(engine, room, kAlice, "m.room.topic", {{"topic", "second"}}, "").ok(), "topic");
  NEBU_CHECK(Member(engine, room, kBob, kBob, "leave").ok(), "bob leaves");
  NEBU_CHECK(Message(engine, room, kAlice, std::string("nul \0 inside", 12)).ok(), "nul");
  std::string other = CreatePublicRoom(engine, kBob);
  NEBU_CHECK(Message(engine, other, kBob, "second room").ok(), "other");
  return engine.stream_position() - before;
}

}  // namespace nebu::projections::testing
