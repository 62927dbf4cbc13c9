// The /sync assembler: what GET /_matrix/client/v3/sync answers one user, given the
// engine's applied state, the `since` token and the filter. Pure reads, no waiting;
// the long-poll around it is api/sync/sync_routes.h.
//
//   NEBU_ASSIGN_OR_RETURN(SyncFilter filter, ParseSyncFilter(R"({"room":{...}})"));
//   NEBU_ASSIGN_OR_RETURN(SyncResult result,
//                         AssembleSync(engine, {.user_id = "@alice:hs",
//                                               .since = ParseSyncToken("s42"),
//                                               .filter = filter}));
//   reply result.body;  // result.body["next_batch"] == MakeSyncToken(result.next_batch)
//
// Tokens: next_batch is "s<stream position>_<typing serial>". The stream position is
// the engine's persistent, node-wide change counter (engine/storage/stream_entry.h:
// room events, account data, receipts, to-device messages, device-key changes), so
// a token survives restarts; the typing serial is the TypingTracker's (api/sync/typing.h):
// its EphemeralBus's serial, which one node starts above any earlier process's and a
// cluster takes from etcd's revision (the same on every node; a node whose tracker is
// behind a token's serial reports the changes after it once it has them, so a token
// from another node misses nothing). "s<position>" alone is accepted (typing
// serial 0). With a PresenceTracker the token is "s<position>_<typing>_<presence>"
// (the tracker's serial, same rule as typing). With a notification worker whose cursor
// (in the response's snapshot) differs from the position, a fourth field follows:
// "s<position>_<typing>_<presence>_<push cursor>" (presence written as 0 when absent):
// the worker cursor the response's unread counts were taken at. A token without it
// (older tokens, or counts taken at the position itself) reads as push cursor =
// position. Room log pagination tokens (prev_batch) are the /messages tokens
// "s<sequence>" of api/rooms/rooms_common.h. /sync itself takes only its own tokens; the
// room reads (/messages from/to, /members at, /relations from/to) take both kinds,
// telling them apart by the underscore (rooms_common.h RoomPositionOfToken).
// Cluster-wide tokens: stream positions and room sequences are the same on every node
// (every node applies the same groups in order), so a token from another node names
// the same point here; a node that has not applied it yet waits (api/token_wait.h).
// The typing and presence serials are per node (memory-only trackers): a serial this
// node's tracker has not reached is read as 0 ("send the current state"), so a client
// that moves between nodes gets the current typing sets and presence again rather than
// nothing; one below the tracker's serial may repeat a few changes. Neither is an error.
//
// What a response holds (spec: sync.yaml):
// - rooms.join: rooms the user is joined to at the end of the window that have
//   something to report. The timeline is the visible events (HistoryView) matching
//   the filter, oldest first, at most timeline_limit of them; `limited` when earlier
//   ones were left out; prev_batch is a /messages `from` token just before the first
//   timeline event. `state` holds the room state at the start of the timeline on an
//   initial sync, with full_state, when the user joined within the window, and when
//   the timeline is limited; otherwise only the state events of the window the
//   timeline left out (filtered). With lazy_load_members, m.room.member state is cut
//   to the timeline's senders (and the user), and the timeline senders' member
//   events are added when an incremental window's state would lack them.
//   `summary` (m.heroes, m.joined_member_count, m.invited_member_count) whenever the
//   state is full or the window has member events. `ephemeral`: m.typing for rooms
//   whose typing set changed since the token's serial (initial: rooms with someone
//   typing) and m.receipt with the receipts stored in the window (initial: all;
//   m.read.private only the user's own). `account_data`: the room's account data
//   changed in the window (every entry when the state is full).
// - rooms.invite: rooms whose invite of the user is in the window (initial sync: every
//   pending invite), with stripped invite_state (create, join_rules, name,
//   canonical_alias, avatar, encryption, and the user's own member event).
// - rooms.knock: rooms whose knock by the user is in the window (initial sync: every
//   pending knock), with knock_state: the same stripped state as invite_state.
// - rooms.leave: rooms the user left, was kicked or banned from within the window,
//   the timeline ending with that event; on an initial sync only with
//   room.include_leave (then every room the user left).
// - account_data: global account data changed in the window (initial or full_state:
//   all of it).
// - to_device: messages queued for the requesting device after `since` (at most
//   kSyncToDeviceMax; the window then ends at the last one). A sync whose `since`
//   covers queued messages acknowledges them: their deletion is proposed.
// - device_lists: `changed` = users sharing a room with the user whose device keys
//   changed in the window, users who joined a room of the user in the window, every
//   member of a room the user joined in the window; `left` = users who left a shared
//   room in the window and share none now. Initial syncs report none.
// - device_one_time_keys_count and device_unused_fallback_key_types: always present.
// - presence: always empty (no presence yet).
// - unread_notifications (and unread_thread_notifications with the filter's
//   room.timeline.unread_thread_notifications) of every rooms.join entry, with
//   request.notifications (see SyncRequest).
// Other rooms are never mentioned: only rooms the user has a membership record in,
// judged by the membership at the events' time.
//
// Cost: an incremental sync reads the stream entries after `since` (at most
// kSyncStreamEntriesMax; next_batch then stops at the last one read and the next call
// continues from there, nothing skipped) and touches only the rooms those entries
// name — not every room the user is in (full_state aside).
//
// Thread-safety: pure functions over the engine's thread-safe reads.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/sync/sync_epoch.h"
#include "engine/common/status.h"
#include "engine/storage/keys.h"

namespace nebu::core {
class Engine;
}
namespace nebu::push {
class NotificationWorker;
}

namespace nebu::api {

class TypingTracker;
class PresenceTracker;

inline constexpr size_t kSyncTimelineLimitDefault = 10;
inline constexpr size_t kSyncTimelineLimitMax = 100;
// Stream entries (events of any room) one incremental sync reads.
inline constexpr size_t kSyncStreamEntriesMax = 10000;
// Events of one room examined, newest first, to fill a timeline on an initial sync;
// beyond it the timeline is shorter and limited.
inline constexpr size_t kSyncTimelineScanEventsMax = 1000;
// To-device messages one response carries.
inline constexpr size_t kSyncToDeviceMax = 100;
// Stream entries read to find the rooms whose unread counts changed between a token's
// push cursor and the worker's current one (SyncRequest::notifications); past it every
// joined room gets its counts.
inline constexpr size_t kSyncUnreadScanEntriesMax = 10000;
// Heroes named in a room summary.
inline constexpr size_t kSyncHeroesMax = 5;

// The part of the spec's Filter /sync honours: room.timeline.limit (capped at
// kSyncTimelineLimitMax), room.timeline.types / not_types ('*' wildcards),
// room.include_leave and room.state.lazy_load_members. Everything else is ignored.
struct SyncFilter {
  size_t timeline_limit = kSyncTimelineLimitDefault;
  std::vector<std::string> types;  // empty: every type
  std::vector<std::string> not_types;
  bool include_leave = false;
  bool lazy_load_members = false;
  // room.timeline.unread_thread_notifications: unread_notifications counts the main
  // timeline only and unread_thread_notifications holds the threads' counts.
  bool unread_thread_notifications = false;
};
// Parses an inline filter (a JSON object). kInvalidArgument when it is not JSON, not
// an object, a field named above has the wrong type, or a types / not_types list is
// over its caps (CheckFilterPatterns, api/accounts/filter_routes.h). Types match as globs
// (api/glob.h: '*' only, linear time).
[[nodiscard]] Result<SyncFilter> ParseSyncFilter(std::string_view json);

struct SyncToken {
  storage::StreamPosition position = 0;
  uint64_t typing = 0;  // TypingTracker serial
  uint64_t presence = 0;  // PresenceTracker serial (0: none; then not in the text)
  // The notification worker's cursor the counts were taken at; nullopt: the position.
  std::optional<storage::StreamPosition> push;
  // The node history the positions belong to (api/sync/sync_epoch.h): this node's
  // current one unless parsed from a token of another.
  uint64_t epoch = SyncEpoch();
  bool operator==(const SyncToken&) const = default;
};
// "s<position>_<typing>", "s<position>_<typing>_<presence>" when presence != 0, and
// "s<position>_<typing>_<presence>_<push>" when push is set, each followed by
// "e<epoch>" when the epoch is not 0; Parse also takes "s<position>" and reads a
// missing epoch as 0; nullopt for anything else.
[[nodiscard]] std::string MakeSyncToken(SyncToken token);
[[nodiscard]] std::optional<SyncToken> ParseSyncToken(std::string_view token);

struct SyncRequest {
  std::string user_id;
  std::string device_id;            // for to_device and the one-time key counts
  std::optional<SyncToken> since;   // nullopt: initial sync
  SyncFilter filter;
  bool full_state = false;          // state as on an initial sync, in every reported room
  const TypingTracker* typing = nullptr;  // nullptr: no typing notifications
  // nullptr: an empty presence section. Otherwise m.presence events for the caller
  // and the users sharing a joined room with the caller whose presence changed after
  // since->presence (all known ones on an initial sync; memory only, api/sync/presence.h).
  const PresenceTracker* presence = nullptr;
  // nullptr: unread_notifications stays {}. Otherwise every rooms.join entry carries the
  // user's unread counts (engine/push/notifications.h) as of the worker's cursor read
  // from the response's snapshot, which may be behind next_batch: the window always
  // ends at the snapshot's position (messages never wait for the worker), and
  // next_batch records that cursor (SyncToken::push). No stale count sticks: once the
  // worker has caught up after its start, an incremental sync whose since->push is
  // behind the current cursor also reports, in rooms.join (with only their counts when
  // nothing else is new), every joined room named by a room event or receipt of the
  // stream in (since->push, cursor] — or every joined room when that range holds more
  // than kSyncUnreadScanEntriesMax entries. While the worker rebuilds (not
  // caught_up()) the counts may lag and no such rooms are added.
  const push::NotificationWorker* notifications = nullptr;
};

struct SyncResult {
  boost::json::object body;  // the whole response
  SyncToken next_batch;      // what body["next_batch"] names
  bool has_updates = false;  // anything a long-poll should return for
};

// One response. kInvalidArgument when `since` is beyond the engine's position (a
// token this node has not applied; the routes wait for it first, api/sync/sync_routes.h); kCorruption / kIoError from the reads. May propose
// (without waiting) the deletion of to-device messages `since` acknowledges.
[[nodiscard]] Result<SyncResult> AssembleSync(core::Engine& engine, const SyncRequest& request);

}  // namespace nebu::api
