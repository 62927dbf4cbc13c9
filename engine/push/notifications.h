// Notification records and unread counts: what the push worker (push/notification_worker.h)
// derives from the stream, and the reads /sync, GET /notifications and the pushers make.
//
//   const core::Snapshot snap = engine.Read();
//   NEBU_ASSIGN_OR_RETURN(StreamPosition cursor, NotificationsCursor(snap));
//   NEBU_RETURN_IF_ERROR(ForEachNotification(snap, "@bob:hs", /*after=*/last_sent, 100,
//       [&](const Notification& n) { send(n); last_sent = n.position; return true; }));
//   NEBU_ASSIGN_OR_RETURN(UnreadCounts counts, RoomUnreadCounts(snap, "@bob:hs", room));
//
// A notification is one room event whose push rules (push/rule_eval.h) gave the user
// "notify" actions; it is identified by the event's stream position (one per event), so
// a user has at most one notification per position. Records are written only by the
// worker, in one RocksDB batch with its cursor: a view that reads cursor C sees exactly
// the records and counts of the stream up to C, never part of an entry.
//
// Learning that the worker advanced: NotificationWorker::notifier() (a core::Notifier
// whose position is the worker's cursor): Subscribe(last_seen, cb) fires once the cursor
// passes last_seen; then read through a fresh engine.Read() (whose cursor may be ahead).
//
// Storage (Cf::kNotifications; every integer big-endian, [lp s] = u16 length + bytes):
//   "v"                                  -> u64 kNotificationsFormatVersion the data was
//                                           built with (another value: the worker wipes
//                                           the family and rebuilds from position 0)
//   "p"                                  -> u64 cursor: the last stream position processed
//   'n' [lp user][u64 position]          -> notification record (canonical JSON: room_id,
//                                           event_id, seq, ts, actions, highlight, thread_id)
//   'k' [lp user]                        -> u64 how many 'n' records the user has
//   'u' [lp user][u64 room][u64 seq]     -> [u8 highlight][thread id]: the user's unread
//                                           notifications in the room (after their receipt)
//   'c' [lp user][u64 room]              -> [u64 notifications][u64 highlights]: counts of
//                                           the 'u' entries of the room (absent: 0, 0)
//   't' [lp user][u64 room][lp thread]   -> [u64 notifications][u64 highlights]: the same per
//                                           thread ("main": the main timeline; else the
//                                           thread root's event ID)
// The 'n' records are the user's notification history (GET /notifications, pushers); at
// most kNotificationsPerUserMax are kept per user (older ones are deleted as new ones
// come). 'u', 'c' and 't' shrink when a read receipt covers entries.
//
// Thread-safety: pure reads through a ReadView; safe from any thread.
#pragma once

#include <boost/json/array.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "engine/common/status.h"
#include "engine/storage/keys.h"
#include "engine/storage/read_view.h"

namespace nebu::push {

// Bumped when the layout above or the evaluation changes; a store built with another
// version is wiped and rebuilt by the worker at start.
inline constexpr uint64_t kNotificationsFormatVersion = 1;
// Notification records kept per user (the newest); older ones are deleted by the worker.
inline constexpr size_t kNotificationsPerUserMax = 1000;
// The thread ID of the main timeline (events that are not in a thread).
inline constexpr std::string_view kMainThreadId = "main";

struct Notification {
  storage::StreamPosition position = 0;  // the event's stream position: the record's ID
  std::string room_id;
  std::string event_id;
  storage::Sequence sequence = 0;  // the event's place in the room's log
  int64_t ts = 0;                  // the event's origin_server_ts
  boost::json::array actions;      // the actions of the rule that matched
  bool highlight = false;
  std::string thread_id;  // kMainThreadId or the thread root's event ID
  bool operator==(const Notification&) const = default;
};

struct UnreadCounts {
  uint64_t notifications = 0;
  uint64_t highlights = 0;
  bool operator==(const UnreadCounts&) const = default;
};

using NotificationVisitor = std::function<bool(const Notification&)>;

// The last stream position the worker processed (0: none yet, or a rebuild started).
[[nodiscard]] Result<storage::StreamPosition> NotificationsCursor(const storage::ReadView& view);

// The user's notifications with position > after_position, oldest first, at most
// `limit`, until visit returns false. kCorruption for a malformed record.
[[nodiscard]] Status ForEachNotification(const storage::ReadView& view, std::string_view user_id,
                                         storage::StreamPosition after_position, size_t limit,
                                         const NotificationVisitor& visit);
// The user's notifications with position < before_position (0: no bound), newest
// first, at most `limit` (GET /notifications), until visit returns false.
[[nodiscard]] Status ForEachNotificationBefore(const storage::ReadView& view,
                                               std::string_view user_id,
                                               storage::StreamPosition before_position,
                                               size_t limit, const NotificationVisitor& visit);

// Unread counts of the user in one room (every thread included).
[[nodiscard]] Result<UnreadCounts> RoomUnreadCounts(const storage::ReadView& view,
                                                    std::string_view user_id,
                                                    storage::RoomNumber room);
// Per thread (kMainThreadId and thread roots) in one room; threads at zero are absent.
[[nodiscard]] Result<std::map<std::string, UnreadCounts>> ThreadUnreadCounts(
    const storage::ReadView& view, std::string_view user_id, storage::RoomNumber room);
// The user's unread notifications over every room (what a pusher sends as
// counts.unread): the sum of the rooms' counts.
[[nodiscard]] Result<UnreadCounts> UserUnreadCounts(const storage::ReadView& view,
                                                    std::string_view user_id);
// Whether the notification of the event at (room, seq) is still unread by the user.
[[nodiscard]] Result<bool> IsNotificationUnread(const storage::ReadView& view,
                                                std::string_view user_id,
                                                storage::RoomNumber room, storage::Sequence seq);

}  // namespace nebu::push
