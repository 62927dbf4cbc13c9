// Goal: the current-state index and state-at-sequence always equal a fold over the
// room's log, whatever mix of messages, state changes and membership changes (some
// of them rejected) was sent.
// Method: rapidcheck generates operation sequences; each run creates a fresh room in
// one shared engine, applies the operations, then folds the log and compares.
// Replay a failure with the seed rapidcheck prints (RC_PARAMS="reproduce=...").
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>

#include <boost/json.hpp>
#include <map>

#include "engine/core/engine.h"
#include "engine/testing/temp_dir.h"

namespace nebu::core {
namespace {

namespace json = boost::json;

struct Op {
  int kind;        // 0 message, 1 state, 2 membership
  int actor;       // index into kUsers
  int target;      // index into kUsers (membership) or state key choice
  int value;       // content variant / membership choice
};

const std::vector<std::string> kUsers = {"@alice:localhost", "@bob:localhost",
                                         "@carol:localhost"};
const std::vector<std::string> kMemberships = {"invite", "join", "leave", "ban"};
const std::vector<std::string> kStateTypes = {"m.room.topic", "m.room.name", "org.example.x"};

Engine& SharedEngine() {
  static testing::TempDir dir;
  static std::unique_ptr<Engine> engine = [] {
    auto e = Engine::Open({.data_dir = dir.path()});
    NEBU_CHECK(e.ok(), "engine open");
    return std::move(e).value();
  }();
  return *engine;
}

SendEventRequest ToRequest(const std::string& room, const Op& op) {
  SendEventRequest r;
  r.room_id = room;
  r.sender = kUsers[op.actor % kUsers.size()];
  switch (op.kind % 3) {
    case 0:
      r.type = "m.room.message";
      r.content = json::object{{"msgtype", "m.text"}, {"body", std::to_string(op.value)}};
      break;
    case 1:
      r.type = kStateTypes[op.target % kStateTypes.size()];
      r.state_key = op.value % 2 ? "" : "k";
      r.content = json::object{{"topic", std::to_string(op.value)},
                               {"name", std::to_string(op.value)}};
      break;
    default:
      r.type = "m.room.member";
      r.state_key = kUsers[op.target % kUsers.size()];
      r.content = json::object{{"membership", kMemberships[op.value % kMemberships.size()]}};
  }
  return r;
}

using Fold = std::map<std::pair<std::string, std::string>, json::object>;

Fold FoldLog(Engine& e, const std::string& room, storage::Sequence upto) {
  Fold state;
  Status s = e.ScanRoom(room, 1, upto, SIZE_MAX, [&](const storage::EventView& v) {
    if (v.state_key) {
      state[{std::string(v.type), std::string(*v.state_key)}] = json::parse(v.json).as_object();
    }
    return true;
  });
  RC_ASSERT(s.ok());
  return state;
}

Fold ToFold(const rooms::RoomState& s) {
  Fold out;
  for (const auto& [key, ev] : s.events()) out[key] = ev;
  return out;
}

RC_GTEST_PROP(StateFoldTest, CurrentStateAndStateAtEqualAFoldOverTheLog, ()) {
  Engine& e = SharedEngine();
  auto room = e.CreateRoom({.preset = "public_chat"}, kUsers[0]);
  RC_ASSERT(room.ok());
  const auto ops = *rc::gen::container<std::vector<Op>>(rc::gen::construct<Op>(
      rc::gen::inRange(0, 3), rc::gen::inRange(0, 3), rc::gen::inRange(0, 3),
      rc::gen::inRange(0, 8)));
  for (const auto& op : ops) {
    auto r = e.SendEvent(ToRequest(room->room_id, op));
    RC_ASSERT(r.ok() || r.status().code() == StatusCode::kForbidden);
  }
  auto meta = e.GetRoom(room->room_id);
  RC_ASSERT(meta.ok());
  auto current = e.CurrentState(room->room_id);
  RC_ASSERT(current.ok());
  RC_ASSERT(ToFold(*current) == FoldLog(e, room->room_id, meta->last_seq));
  const auto at = *rc::gen::inRange<storage::Sequence>(0, meta->last_seq + 1);
  auto past = e.StateAt(room->room_id, at);
  RC_ASSERT(past.ok());
  RC_ASSERT(ToFold(*past) == (at == 0 ? Fold{} : FoldLog(e, room->room_id, at)));
}

}  // namespace
}  // namespace nebu::core
