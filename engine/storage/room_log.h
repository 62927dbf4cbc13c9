// RoomLog: reads and appends of the per-room event logs (Cf::kEvents + Cf::kEventIds).
//
// A room's log is the dense sequence 1..last of its events. Appends go into a caller's
// WriteBatch (the state machine writes the log, the state index and the applied
// position in one batch); the caller guarantees seq == LastSequence(room) + 1.
// Every read verifies the envelope and that it sits under its own key; a mismatch
// is kCorruption, never served.
//
//   RoomLog log(store);                         // or RoomLog log(view): reads at its snapshot
//   rocksdb::WriteBatch b;
//   log.Append(b, record);                      // record.sequence == last + 1
//   NEBU_RETURN_IF_ERROR(store.Write(b, false));
//   NEBU_ASSIGN_OR_RETURN(EventRecord e, log.Read(room, 1));
//
// Thread-safety: safe from any thread; appends to one room must be serialized by
// the caller (the state machine's single apply thread does).
#pragma once

#include <functional>
#include <utility>

#include "engine/storage/envelope.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"

namespace nebu::storage {

class RoomLog {
 public:
  // Reads go through `view` (at its snapshot when pinned); Append stages writes for
  // view.store(). Implicit from Store& through ReadView.
  explicit RoomLog(ReadView view) : view_(std::move(view)) {}

  // Adds the envelope under EventKey and the event-id index entry
  // (event id -> EventKey) to batch. Aborts if record breaks an envelope invariant.
  void Append(rocksdb::WriteBatch& batch, const EventRecord& record);
  // kNotFound if absent; kCorruption if the stored bytes fail verification or the
  // envelope names another (room, sequence) than its key.
  Result<EventRecord> Read(RoomNumber room, Sequence seq);
  // 0 when the room has no events.
  Result<Sequence> LastSequence(RoomNumber room);
  // (room, seq) of an event id; kNotFound if unknown.
  Result<std::pair<RoomNumber, Sequence>> Locate(std::string_view event_id);

  // Visits events of a room in [from, to] (inclusive) forwards, or [to, from]
  // backwards when from > to, at most limit events (0 visits none). The visitor
  // returns false to stop early; the view it gets is valid only during that call.
  // Verification failure stops with kCorruption, as does a gap between two
  // neighbouring sequences (the log is dense).
  Status Scan(RoomNumber room, Sequence from, Sequence to, size_t limit,
              const std::function<bool(const EventView&)>& visit);

 private:
  ReadView view_;
};

}  // namespace nebu::storage
