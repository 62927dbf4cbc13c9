// Helpers shared by the storage tests: a temporary directory and event records.
#pragma once

#include <rapidcheck.h>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "engine/storage/envelope.h"
#include "engine/testing/temp_dir.h"

namespace nebu::storage::testing {

// A fresh directory under $TMPDIR, removed with everything in it on destruction.
using ::nebu::testing::TempDir;

// A valid record whose fields are derived from (room, seq).
inline EventRecord MakeRecord(RoomNumber room, Sequence seq, bool state = false) {
  EventRecord r;
  r.room = room;
  r.sequence = seq;
  r.stream_position = room * 1000 + seq;
  r.origin_server_ts = 1700000000000 + static_cast<int64_t>(seq);
  r.event_id = "$ev" + std::to_string(room) + "_" + std::to_string(seq);
  r.sender = "@alice:example.org";
  r.type = state ? "m.room.member" : "m.room.message";
  if (state) r.state_key = "@alice:example.org";
  r.json = "{\"seq\":" + std::to_string(seq) + "}";
  return r;
}

// Arbitrary records that satisfy the envelope invariants.
inline rc::Gen<EventRecord> ArbitraryRecord() {
  return rc::gen::exec([] {
    EventRecord r;
    r.room = *rc::gen::inRange<uint64_t>(1, UINT64_MAX);
    r.sequence = *rc::gen::oneOf(rc::gen::inRange<uint64_t>(1, 1000),
                                 rc::gen::inRange<uint64_t>(1, UINT64_MAX));
    r.stream_position = *rc::gen::arbitrary<uint64_t>();
    r.origin_server_ts = *rc::gen::arbitrary<int64_t>();
    r.event_id = "$" + *rc::gen::arbitrary<std::string>();
    r.sender = "@" + *rc::gen::arbitrary<std::string>();
    r.type = "m." + *rc::gen::arbitrary<std::string>();
    if (*rc::gen::arbitrary<bool>()) r.state_key = *rc::gen::arbitrary<std::string>();
    r.json = "{" + *rc::gen::arbitrary<std::string>() + "}";
    return r;
  });
}

}  // namespace nebu::storage::testing
