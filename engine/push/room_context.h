// RoomContext: what push evaluation needs of a room as of one point of its log — the
// joined members with their display names, the power levels content and the creator —
// loaded from the state history (core::StateRecordsAt) and then advanced event by event
// as the push worker walks the log. Private to engine/push (notification_worker.cpp).
//
// Thread-safety: a value; not synchronized.
#pragma once

#include <boost/json/object.hpp>
#include <map>
#include <optional>
#include <string>

#include "engine/common/status.h"
#include "engine/storage/keys.h"
#include "engine/storage/read_view.h"

namespace nebu::push {

struct RoomContext {
  storage::RoomNumber room = 0;
  std::string room_id;
  storage::Sequence sequence = 0;             // the state is the one just after this event
  std::map<std::string, std::string> joined;  // user ID -> display name ("" when none)
  std::optional<boost::json::object> power_levels;  // content
  std::string creator;

  // The room's context just after the event at `seq` (0: empty). Three scans of state
  // history (members, power levels, create). kCorruption as StateRecordsAt.
  [[nodiscard]] static Result<RoomContext> Load(const storage::ReadView& view,
                                                storage::RoomNumber room, std::string room_id,
                                                storage::Sequence seq);
  // Advances over the next event of the log (at sequence + 1), a PDU JSON object.
  void Advance(const boost::json::object& event);
};

}  // namespace nebu::push
