// The /sync assembler: what GET /_matrix/client/v3/sync answers one user, given the
// engine's applied state, the `since` token and the filter. Pure reads, no waiting;
// the long-poll around it is api/sync_routes.h.
//
//   NEBU_ASSIGN_OR_RETURN(SyncFilter filter, ParseSyncFilter(R"({"room":{...}})"));
//   NEBU_ASSIGN_OR_RETURN(SyncResult result,
//                         AssembleSync(engine, {.user_id = "@alice:hs",
//                                               .since = ParseSyncToken("s42"),
//                                               .filter = filter}));
//   reply result.body;  // result.body["next_batch"] == MakeSyncToken(result.next_batch)
//
// Tokens: next_batch is "s<stream position>", the engine's persistent position, so a
// token survives restarts. Room log pagination tokens (prev_batch) are the /messages
// tokens "s<sequence>" of api/rooms_common.h; the two kinds are never mixed.
//
// What a response holds (spec: sync.yaml):
// - rooms.join: rooms the user is joined to at the end of the window. The timeline is
//   the visible events (HistoryView) matching the filter, oldest first, at most
//   timeline_limit of them; `limited` when earlier ones were left out; prev_batch
//   is a /messages `from` token just before the first timeline event. `state` holds
//   the room state at the start of the timeline on an initial sync, with full_state,
//   when the user joined within the window, and when the timeline is limited;
//   otherwise only the state events of the window the timeline left out (filtered).
//   Per-room account data only when state is full; ephemeral [] and
//   unread_notifications {} (no receipts or push rules yet).
// - rooms.invite: rooms whose invite of the user is in the window (initial sync: every
//   pending invite), with stripped invite_state (create, join_rules, name,
//   canonical_alias, avatar, encryption, and the user's own member event).
// - rooms.leave: rooms the user left, was kicked or banned from within the window,
//   the timeline ending with that event; on an initial sync only with
//   room.include_leave (then every room the user left).
// - account_data: the user's global account data on an initial or full_state sync
//   (account data changes are not on the stream yet, so incremental syncs carry none).
// - presence, to_device, device_lists, device_one_time_keys_count: always present,
//   always empty.
// Other rooms are never mentioned: only rooms the user has a membership record in,
// judged by the membership at the events' time.
//
// An incremental sync reads at most kSyncStreamEntriesMax stream entries after
// `since`; next_batch then stops at the last one read and the next call continues
// from there (nothing is skipped, so this sets no `limited`).
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

#include "engine/common/status.h"
#include "engine/storage/keys.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

inline constexpr size_t kSyncTimelineLimitDefault = 10;
inline constexpr size_t kSyncTimelineLimitMax = 100;
// Stream entries (events of any room) one incremental sync reads.
inline constexpr size_t kSyncStreamEntriesMax = 10000;
// Events of one room examined, newest first, to fill a timeline on an initial sync;
// beyond it the timeline is shorter and limited.
inline constexpr size_t kSyncTimelineScanEventsMax = 1000;

// The part of the spec's Filter /sync honours: room.timeline.limit (capped at
// kSyncTimelineLimitMax), room.timeline.types / not_types ('*' wildcards), and
// room.include_leave. Everything else is ignored.
struct SyncFilter {
  size_t timeline_limit = kSyncTimelineLimitDefault;
  std::vector<std::string> types;  // empty: every type
  std::vector<std::string> not_types;
  bool include_leave = false;
};
// Parses an inline filter (a JSON object). kInvalidArgument when it is not JSON, not
// an object, or a field named above has the wrong type.
[[nodiscard]] Result<SyncFilter> ParseSyncFilter(std::string_view json);

// "s<position>"; nullopt for anything else.
[[nodiscard]] std::string MakeSyncToken(storage::StreamPosition position);
[[nodiscard]] std::optional<storage::StreamPosition> ParseSyncToken(std::string_view token);

struct SyncRequest {
  std::string user_id;
  std::optional<storage::StreamPosition> since;  // nullopt: initial sync
  SyncFilter filter;
  bool full_state = false;  // state as on an initial sync, in every reported room
};

struct SyncResult {
  boost::json::object body;                // the whole response
  storage::StreamPosition next_batch = 0;  // the position body["next_batch"] names
  bool has_room_updates = false;           // something in rooms.join/invite/leave
};

// One response. kInvalidArgument when `since` is beyond the engine's position (a
// token this server never gave); kCorruption / kIoError from the reads.
[[nodiscard]] Result<SyncResult> AssembleSync(core::Engine& engine, const SyncRequest& request);

}  // namespace nebu::api
