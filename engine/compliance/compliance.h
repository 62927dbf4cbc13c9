// Legal holds and purges (issue 12, the compliance half): replicated state in Cf::kAdmin
// (prefixes "h" and "p", engine/admin/admin.h) changed only by core::CommandKind::kPurge
// commands, applied deterministically (no clock, no randomness: ids and timestamps come
// from the proposer).
//
//   NEBU_ASSIGN_OR_RETURN(std::string payload, EncodePurgeCommand(HoldCreate{...}));
//   engine.Submit({core::CommandKind::kPurge, payload});
//   NEBU_ASSIGN_OR_RETURN(std::optional<Hold> hold, FindHold(engine.Read(), room_id));
//
// Legal holds. A hold names one target, a user ID or a room ID, with a reason and a case
// ID. While it is active (not released) it covers the target: a purge of a held room is
// refused (kForbidden naming the hold), and a purge of any room keeps the events a held
// user sent (they count as "held"). Erasure on deactivation and room deletion with purge
// ask FindHold first (api/admin). Released holds stay listed, with who released them.
//
// Purges. A purge turns events of one room into tombstones: the envelope in the room log
// keeps its key, event ID, sender, type, origin_server_ts and stream position, and its
// JSON becomes the room version's redaction of the event (event::Redact): content is gone
// except what the redaction algorithm keeps, while `hashes` (the content hash), prev_events
// and auth_events stay, so the event ID still equals the reference hash of the stored JSON
// and the room's hash chain still verifies (VerifyRoomLog). The full-text postings of a
// purged event are deleted in the same batch. Never purged: state events (auth and state
// resolution need them), events sent by a held user, events at or after before_ts, events
// of keep_server's users (Synapse's delete_local_events = false), events already purged.
// A purge is bounded per command: one command examines at most kPurgeEventsPerCommandMax
// log entries from its progress record's cursor; the caller repeats the same command
// (same purge_id) until the outcome says "done": true. The first command fixes the range
// (sequences 1 .. min(upto_seq - 1, the room's last sequence then)), so events sent while
// a purge runs are never in it.
//
// Commands (payload: one canonical JSON object {"op", ...}; unknown fields refused,
// kBadJson for a malformed one):
//   op "hold_create":  {"actor","case_id","hold_id","reason","target","ts"}
//                      kAlreadyExists when hold_id is taken. Outcome {"hold_id"}.
//   op "hold_release": {"actor","hold_id","ts"}  kNotFound for an unknown hold,
//                      kInvalidArgument for one already released. Outcome {"hold_id"}.
//   op "purge_events": {"actor","before_ts"?,"keep_server"?,"purge_id","reason","room_id",
//                       "ts","upto_seq"?}  kNotFound for an unknown room, kForbidden
//                      while a hold covers the room ("legal hold <id> (case <case>) covers
//                      <room>"), kInvalidArgument when purge_id names a purge of another
//                      room. Outcome: the progress record (PurgeProgress's fields).
//
// Storage (Cf::kAdmin):
//   "hr" hold_id                  -> the hold (canonical JSON of Hold's fields)
//   "ht" target 0x00 hold_id      -> ""   while the hold is active (FindHold's index)
//   "pj" purge_id                 -> the purge's progress (canonical JSON)
//   "pe" event_id                 -> {"purge_id","reason","ts"}: the event is purged
//   "pn"                          -> u64 BE: the next purge record number (absent: 1)
//   "pq" u64 BE number            -> {"event_id","reason","room_id","stream_position","ts"}:
//                                    purged events in apply order (the projector's feed)
//
// Thread-safety: pure functions; ApplyPurgeCommand from the apply thread only (it is
// applied alone in its batch, so its reads see every earlier command), reads from any
// thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <rocksdb/write_batch.h>

#include "engine/common/status.h"
#include "engine/storage/keys.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"

namespace nebu::compliance {

// Log entries one purge_events command examines (then the caller repeats it).
inline constexpr size_t kPurgeEventsPerCommandMax = 256;
// Longest hold reason and purge reason (bytes).
inline constexpr size_t kHoldReasonBytesMax = 1024;
// Longest case ID, actor (bytes).
inline constexpr size_t kHoldFieldBytesMax = 255;
// Hold and purge IDs: 1 to this many characters of [A-Za-z0-9._-].
inline constexpr size_t kComplianceIdBytesMax = 64;

struct Hold {
  std::string hold_id{};
  std::string target{};  // a user ID or a room ID
  std::string reason{};
  std::string case_id{};
  std::string actor{};
  int64_t created_ts = 0;
  // Set once released.
  std::optional<int64_t> released_ts{};
  std::string released_by{};
  [[nodiscard]] bool active() const { return !released_ts.has_value(); }
  bool operator==(const Hold&) const = default;
};

struct HoldCreate {
  std::string hold_id{};
  std::string target{};
  std::string reason{};
  std::string case_id{};
  std::string actor{};
  int64_t ts = 0;
  bool operator==(const HoldCreate&) const = default;
};

struct HoldRelease {
  std::string hold_id{};
  std::string actor{};
  int64_t ts = 0;
  bool operator==(const HoldRelease&) const = default;
};

struct PurgeEvents {
  std::string purge_id{};
  std::string room_id{};
  std::optional<int64_t> before_ts{};  // purge only events older than this (ms)
  std::optional<uint64_t> upto_seq{};  // purge only events before this sequence
  std::string keep_server{};           // keep events of this server's users ("" none)
  std::string actor{};                 // a user ID, or "retention"
  std::string reason{};
  int64_t ts = 0;
  bool operator==(const PurgeEvents&) const = default;
};

using PurgeCommand = std::variant<HoldCreate, HoldRelease, PurgeEvents>;

// The payload of a kPurge command. kInvalidArgument for a malformed ID (hold, purge, user
// or room), a field over its limit, a negative timestamp, upto_seq 0.
[[nodiscard]] Result<std::string> EncodePurgeCommand(const PurgeCommand& command);
[[nodiscard]] Result<PurgeCommand> DecodePurgeCommand(std::string_view payload);

// Applies a committed kPurge payload (see the header comment for outcomes and errors).
[[nodiscard]] Result<std::string> ApplyPurgeCommand(storage::Store& store,
                                                    rocksdb::WriteBatch& batch,
                                                    std::string_view payload);

// An active hold covering `target` (a user ID or a room ID), the oldest by hold ID;
// nullopt when none does.
[[nodiscard]] Result<std::optional<Hold>> FindHold(const storage::ReadView& view,
                                                   std::string_view target);
// One hold by ID (active or released); nullopt when unknown.
[[nodiscard]] Result<std::optional<Hold>> GetHold(const storage::ReadView& view,
                                                  std::string_view hold_id);
// Holds (active and released) with an ID after `after` ("" : from the first), in hold-ID
// byte order, at most `limit`; stops when visit returns false.
[[nodiscard]] Status ForEachHold(const storage::ReadView& view, std::string_view after,
                                 size_t limit,
                                 const std::function<bool(const Hold&)>& visit);

struct PurgeProgress {
  std::string purge_id{};
  std::string room_id{};
  std::string actor{};
  std::string reason{};
  uint64_t next_seq = 1;  // the next sequence to examine
  uint64_t last_seq = 0;  // the last sequence in the purge
  uint64_t purged = 0;
  uint64_t kept = 0;  // state events, newer events, keep_server's events, already purged
  uint64_t held = 0;  // events of held users
  bool done = false;
  int64_t created_ts = 0;
  int64_t updated_ts = 0;
  bool operator==(const PurgeProgress&) const = default;
};
// The progress of a purge; nullopt when no command of it was applied.
[[nodiscard]] Result<std::optional<PurgeProgress>> GetPurge(const storage::ReadView& view,
                                                            std::string_view purge_id);

// Whether the event was purged (its log entry is a tombstone).
[[nodiscard]] Result<bool> IsPurged(const storage::ReadView& view, std::string_view event_id);

struct PurgedEvent {
  uint64_t number = 0;  // dense from 1, in apply order
  std::string event_id{};
  std::string room_id{};
  storage::StreamPosition stream_position = 0;
  std::string reason{};
  int64_t ts = 0;  // when it was purged (the proposer's clock)
};
// Visits purged events with number > after in order, at most limit; stops when visit
// returns false. kCorruption for a malformed record.
[[nodiscard]] Status ForEachPurged(const storage::ReadView& view, uint64_t after, size_t limit,
                                   const std::function<bool(const PurgedEvent&)>& visit);

// Checks a room's log: every event's JSON parses, its event ID is the reference hash of
// that JSON under the room version, and every prev_events entry names an earlier event of
// the log. Tombstones pass (the redaction keeps what the hash covers). kCorruption naming
// the first failing sequence; kNotFound for an unknown room. Returns the events checked.
[[nodiscard]] Result<uint64_t> VerifyRoomLog(const storage::ReadView& view,
                                             std::string_view room_id);

}  // namespace nebu::compliance
