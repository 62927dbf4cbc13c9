// Snapshot: a storage::ReadView pinned at an applied stream position — what a request
// reads through (Engine::Read()).
//
//   const core::Snapshot snap = engine.Read();
//   NEBU_ASSIGN_OR_RETURN(auto members, core::RoomMembers(snap, room));  // a ReadView
//   ... next_batch = snap.position() ...
//
// Invariant: the snapshot holds every write up to position(), and may hold later ones
// (writes applied between reading the position and taking the snapshot). Engine::Read
// reads the notifier's position FIRST and takes the RocksDB snapshot after; the state
// machine writes a flush's batch before it advances the notifier. So a reader that
// bounds its stream iteration at position() sees a complete, consistent prefix of the
// stream, and every other read (room metadata, state, members) is from the same
// snapshot, at least as new as that prefix.
//
// Copyable and cheap (it shares the RocksDB snapshot, released with the last copy).
// Lifetime and thread-safety as storage::ReadView: never outlive the Engine.
#pragma once

#include <utility>

#include "engine/storage/keys.h"
#include "engine/storage/read_view.h"

namespace nebu::core {

class Snapshot : public storage::ReadView {
 public:
  Snapshot(storage::ReadView view, storage::StreamPosition position)
      : storage::ReadView(std::move(view)), position_(position) {}

  // Every stream entry up to here is in the snapshot.
  storage::StreamPosition position() const { return position_; }

 private:
  storage::StreamPosition position_;
};

}  // namespace nebu::core
