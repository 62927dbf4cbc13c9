// Room reads, all through a storage::ReadView (usually engine.Read(), one snapshot per
// request): rooms and events by id, memberships, room aliases, the publication and
// redaction indexes, the history of one state key, and HistoryView, which decides
// which events of a room one user may read. Engine's read methods are these on the
// latest state.
//
//   const core::Snapshot snap = engine.Read();
//   NEBU_ASSIGN_OR_RETURN(auto room_id, ResolveRoomAlias(snap, "#a:hs"));
//   NEBU_ASSIGN_OR_RETURN(HistoryView view, HistoryView::Load(snap, meta.number, "@bob:hs"));
//   if (!view.MayReadRoom()) return Status::Forbidden("not in room");
//   bool shown = view.Visible(seq, type, state_key);
//
// HistoryView follows the spec's "Room History Visibility" server behaviour, on the
// state *before* each event (a missing or unknown m.room.history_visibility is
// "shared"):
//   1. world_readable at the event: visible;
//   2. the user's membership at the event was join: visible;
//   3. shared at the event and the user joined at any later point: visible;
//   4. invited at the event and the user's membership was invite: visible;
//   otherwise hidden. A m.room.history_visibility event is visible if the rules pass
// with the visibility before or after it; the user's own m.room.member events if
// they pass with the membership before or after them.
//
// Thread-safety: functions read applied state and are safe from any thread; a
// HistoryView is an immutable value once loaded.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "engine/common/status.h"
#include "engine/core/room_applier.h"
#include "engine/rooms/room_state.h"
#include "engine/storage/envelope.h"
#include "engine/storage/keys.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"

namespace nebu::core {

// ---- rooms and events (Engine::GetRoom & co. are these on the latest state) ----
// The room's number, id, version and last sequence is LoadRoomMeta (room_applier.h).
// kNotFound for an unknown event id; kCorruption if the stored bytes fail verification.
[[nodiscard]] Result<storage::EventRecord> ReadEvent(const storage::ReadView& view,
                                                     std::string_view event_id);
// (room, seq) of an event id; kNotFound if unknown.
[[nodiscard]] Result<std::pair<storage::RoomNumber, storage::Sequence>> LocateEvent(
    const storage::ReadView& view, std::string_view event_id);
// The room's current state (every current state event).
[[nodiscard]] Result<rooms::RoomState> CurrentState(const storage::ReadView& view,
                                                    std::string_view room_id);
// The room's state just after the event at `seq` (seq 0: empty).
[[nodiscard]] Result<rooms::RoomState> StateAt(const storage::ReadView& view,
                                               std::string_view room_id, storage::Sequence seq);
// The user's current membership (kNone when absent or unreadable).
[[nodiscard]] rooms::Membership MembershipOf(const storage::ReadView& view,
                                             std::string_view user_id, storage::RoomNumber room);
// The room ID of a room number; nullopt for a number no room has.
[[nodiscard]] Result<std::optional<std::string>> RoomIdOf(const storage::ReadView& view,
                                                          storage::RoomNumber room);
// Every room the user has a membership record in, with that membership.
[[nodiscard]] Result<std::vector<std::pair<std::string, rooms::Membership>>> RoomsOf(
    const storage::ReadView& view, std::string_view user_id);
// RoomLog::Scan on a room by id (kNotFound for an unknown room).
[[nodiscard]] Status ScanRoom(const storage::ReadView& view, std::string_view room_id,
                              storage::Sequence from, storage::Sequence to, size_t limit,
                              const std::function<bool(const storage::EventView&)>& visit);
// The room version from the room record alone (two point reads; LoadRoomMeta also
// reads the last event). kNotFound for an unknown room, kCorruption for a bad record.
[[nodiscard]] Result<event::RoomVersion> RoomVersionOf(const storage::ReadView& view,
                                                       std::string_view room_id);
// Who sent the event with which transaction ID (the txn-id index); nullopt when the
// event was not sent with one.
struct TxnSender {
  std::string user_id;
  std::string device_id;
  std::string txn_id;
};
[[nodiscard]] Result<std::optional<TxnSender>> TxnOriginOf(const storage::ReadView& view,
                                                           std::string_view event_id);
// Whether the room is in the public room directory.
[[nodiscard]] Result<bool> IsRoomPublished(const storage::ReadView& view, std::string_view room_id);
// The event id of the first redaction of `event_id`; nullopt when it is not redacted.
[[nodiscard]] Result<std::optional<std::string>> RedactedBy(const storage::ReadView& view,
                                                            std::string_view event_id);
// Visits the IDs of every room on this node in room-ID order, after `cursor`
// (forward) or before it (backward); an empty cursor starts at that edge. Stops when
// visit returns false.
[[nodiscard]] Status ForEachRoomId(const storage::ReadView& view, std::string_view cursor,
                                   bool forward, const std::function<bool(std::string_view)>& visit);
// Visits the number of every room on this node (every room record), in ascending
// order; stops at the first error visit returns. kCorruption for a malformed key.
[[nodiscard]] Status ForEachRoomNumber(const storage::ReadView& view,
                                       const std::function<Status(storage::RoomNumber)>& visit);

// The room id an alias ("#name:server") points to; nullopt when the alias is unknown.
[[nodiscard]] Result<std::optional<std::string>> ResolveRoomAlias(const storage::ReadView& store,
                                                                  std::string_view alias);
// Visits every room alias in byte order of the alias, with the room id it points to
// and the user who created it (nullopt when none is recorded); stops at the first
// error visit returns.
using RoomAliasVisitor = std::function<Status(std::string_view alias, std::string_view room_id,
                                              const std::optional<std::string>& creator)>;
[[nodiscard]] Status ForEachRoomAlias(const storage::ReadView& store, const RoomAliasVisitor& visit);

// A user's current membership record in a room: the membership and the sequence of
// the m.room.member event that set it.
struct MembershipRecord {
  rooms::Membership membership = rooms::Membership::kNone;
  storage::Sequence sequence = 0;
};
// nullopt when the user has never had a membership in the room. kCorruption for a
// malformed record.
[[nodiscard]] Result<std::optional<MembershipRecord>> GetMembershipRecord(const storage::ReadView& store,
                                                                          std::string_view user_id,
                                                                          storage::RoomNumber room);

// True when the user forgot the room (POST /rooms/{roomId}/forget, accounts op
// "forget_room") and has had no membership change in it since.
[[nodiscard]] Result<bool> IsRoomForgotten(const storage::ReadView& store, std::string_view user_id,
                                           storage::RoomNumber room);
// Visits every (user, room) pair IsRoomForgotten holds true for, in key order
// (grouped by user); stops at the first error visit returns. kCorruption for a
// malformed key.
[[nodiscard]] Status ForEachForgottenRoom(
    const storage::ReadView& store,
    const std::function<Status(std::string_view user_id, storage::RoomNumber room)>& visit);

// Every user with a membership record in the room (current memberships, any kind),
// sorted by user ID; stops after `limit` users. One prefix scan of the room's index.
struct RoomMember {
  std::string user_id;
  rooms::Membership membership = rooms::Membership::kNone;
};
[[nodiscard]] Result<std::vector<RoomMember>> RoomMembers(const storage::ReadView& store,
                                                          storage::RoomNumber room,
                                                          size_t limit = SIZE_MAX);

// One version of a state key: the event at `sequence` in the room's log.
struct StateVersion {
  storage::Sequence sequence = 0;
  boost::json::object event;
};
// Every event that set (type, state_key) in the room, in log order; empty when none.
// kCorruption when a history entry or its event fails verification.
[[nodiscard]] Result<std::vector<StateVersion>> StateKeyHistory(const storage::ReadView& store,
                                                                storage::RoomNumber room,
                                                                std::string_view type,
                                                                std::string_view state_key);

// The state of a room just after the event at `seq` (seq 0: empty), as log records
// sorted by (type, state_key); only the events of `type` when it is given. Costs
// one scan of the room's state history (or of that type's). kCorruption when an
// entry or its event fails verification.
[[nodiscard]] Result<std::vector<storage::EventRecord>> StateRecordsAt(
    const storage::ReadView& store, storage::RoomNumber room, storage::Sequence seq,
    std::optional<std::string_view> type = std::nullopt);
// The event that set (type, state_key) last at or before `seq`; nullopt when none.
[[nodiscard]] Result<std::optional<storage::EventRecord>> StateRecordAt(const storage::ReadView& store,
                                                                        storage::RoomNumber room,
                                                                        std::string_view type,
                                                                        std::string_view state_key,
                                                                        storage::Sequence seq);

enum class HistoryVisibility : uint8_t { kWorldReadable, kShared, kInvited, kJoined };
// content.history_visibility of a m.room.history_visibility event; kShared when the
// event is null or the value is missing or unknown (spec default).
HistoryVisibility ParseHistoryVisibility(const boost::json::object* event);

class HistoryView {
 public:
  // Loads the user's membership changes and the room's visibility changes (two
  // short state-history scans). kCorruption as StateKeyHistory.
  [[nodiscard]] static Result<HistoryView> Load(const storage::ReadView& store, storage::RoomNumber room,
                                                std::string_view user_id);

  // Whether the event at `seq` (with its type and state_key) is visible (rules above).
  [[nodiscard]] bool Visible(storage::Sequence seq, std::string_view type,
                             const std::optional<std::string_view>& state_key) const;
  // The user's membership just after the event at `seq` (seq 0: kNone).
  [[nodiscard]] rooms::Membership MembershipAfter(storage::Sequence seq) const;
  [[nodiscard]] rooms::Membership current_membership() const;
  // The room's visibility just after the event at `seq`.
  [[nodiscard]] HistoryVisibility VisibilityAfter(storage::Sequence seq) const;
  [[nodiscard]] bool joined_now() const { return current_membership() == rooms::Membership::kJoin; }
  [[nodiscard]] bool ever_joined() const;
  [[nodiscard]] bool ever_world_readable() const;
  [[nodiscard]] bool world_readable_now() const;
  // The spec's entry condition: a user must have joined the room to read any of it,
  // unless some of it is world_readable.
  [[nodiscard]] bool MayReadRoom() const { return ever_joined() || ever_world_readable(); }
  // The sequence of the event that ended the user's last join (their leave, kick or
  // ban); nullopt while joined or if never joined.
  [[nodiscard]] std::optional<storage::Sequence> DepartureSequence() const;

 private:
  bool Allowed(HistoryVisibility visibility, rooms::Membership membership,
               storage::Sequence seq) const;
  bool JoinedAfter(storage::Sequence seq) const;

  std::vector<std::pair<storage::Sequence, rooms::Membership>> memberships_;   // log order
  std::vector<std::pair<storage::Sequence, HistoryVisibility>> visibilities_;  // log order
  std::string user_id_;
};

}  // namespace nebu::core
