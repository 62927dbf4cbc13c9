// Builds a large room fast for the export tests and bench/compliance_export_bench.cpp:
// commands go straight to the engine (SubmitAsync, kLargeRoomInFlight outstanding, so
// group commit batches them), no HTTP. Every 10th event is an edit and every 25th a
// redaction of an earlier acknowledged message (picked with a seeded generator), every
// 1000th a join or leave of a second user; the rest are messages. What it wrote is
// returned so an export can be checked against it.
#pragma once

#include <boost/json.hpp>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "engine/core/engine.h"
#include "engine/core/room_applier.h"

namespace nebu::compliance_testing {

inline constexpr int kLargeRoomInFlight = 256;

struct LargeRoom {
  size_t events = 0;    // written (acknowledged)
  size_t failures = 0;  // refused or failed commands (a correct run has none)
  std::set<std::string> redacted;                            // targets
  std::map<std::string, std::vector<std::string>> edits;     // target -> edits, in order
};

// Writes `count` events into `room` (public, joined by `author`; `other` may join).
inline LargeRoom BuildLargeRoom(core::Engine& engine, const std::string& room,
                                const std::string& author, const std::string& other,
                                size_t count, uint64_t seed) {
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  std::vector<std::string> acked;  // acknowledged plain messages
  LargeRoom out;
  std::mt19937_64 rng(seed);
  bool other_joined = false;
  for (size_t i = 0; i < count; ++i) {
    core::SendEventRequest r;
    r.room_id = room;
    r.sender = author;
    enum { kMessage, kEdit, kRedaction, kMember } kind = kMessage;
    std::string target;
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return in_flight < kLargeRoomInFlight; });
      if (!acked.empty() && i % 1000 == 999) {
        kind = kMember;
      } else if (!acked.empty() && (i % 10 == 5 || i % 25 == 7)) {
        target = acked[rng() % acked.size()];
        kind = i % 10 == 5 ? kEdit : kRedaction;
        if (kind == kRedaction && !out.redacted.insert(target).second) kind = kEdit;
      }
      ++in_flight;
    }
    switch (kind) {
      case kMessage:
        r.type = "m.room.message";
        r.content = boost::json::object{
            {"msgtype", "m.text"},
            {"body", "message " + std::to_string(i) + " of a large room, padded like a chat line"}};
        break;
      case kEdit:
        r.type = "m.room.message";
        r.content = boost::json::object{
            {"msgtype", "m.text"},
            {"body", "* edit " + std::to_string(i)},
            {"m.new_content", {{"msgtype", "m.text"}, {"body", "edit " + std::to_string(i)}}},
            {"m.relates_to", {{"rel_type", "m.replace"}, {"event_id", target}}}};
        break;
      case kRedaction:
        r.type = "m.room.redaction";
        r.content = boost::json::object{{"reason", "test " + std::to_string(i)}};
        r.redacts = target;
        break;
      case kMember:
        r.type = "m.room.member";
        r.sender = other;
        r.state_key = other;
        other_joined = !other_joined;
        r.content = boost::json::object{{"membership", other_joined ? "join" : "leave"}};
        break;
    }
    Result<core::Command> command = core::MakeSendEventCommand(r);
    if (!command.ok()) {
      std::lock_guard lock(mu);
      ++out.failures;
      --in_flight;
      continue;
    }
    engine.SubmitAsync(std::move(command).value(), [&, kind, target](core::ApplyOutcome outcome) {
      std::lock_guard lock(mu);
      --in_flight;
      auto appended = outcome.ok() ? core::DecodeAppended(*outcome)
                                   : Result<std::vector<core::AppendedEvent>>(outcome.status());
      if (!appended.ok() || appended->empty()) {
        ++out.failures;
      } else {
        ++out.events;
        const std::string& id = appended->front().event_id;
        if (kind == kMessage) acked.push_back(id);
        if (kind == kEdit) out.edits[target].push_back(id);
      }
      cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return in_flight == 0; });
  return out;
}

}  // namespace nebu::compliance_testing
