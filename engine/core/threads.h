// Threads: the index of m.thread relationships (spec "Threading") that
// GET /_matrix/client/v1/rooms/{roomId}/threads and the m.thread aggregation read.
//
// The index (Cf::kThreads) is derived from the room log like the relations index
// (core/relations.h): the room applier stages it in the event's own batch (WriteIndexes)
// and core/index_build.h rebuilds it. Every entry is a blind write made from the event
// alone, applied in log order, so a rebuilt node and one that applied everything hold
// the same bytes and nothing in a batch reads what the batch wrote. For an event whose
// content.m.relates_to has rel_type "m.thread" and names a root (at seq, by sender):
//   'a' [u64 room][u64 seq]                 -> root event ID   (the thread's activity)
//   'l' [u64 room][root event ID]           -> u64 seq         (its latest activity)
//   'u' [u64 room][lp(sender)][root event ID] -> ""            (sender participated)
// An 'a' entry whose seq is not the root's 'l' seq is stale (a later reply came) and
// readers skip it: the live 'a' entries order the room's threads by latest activity.
// Entries are never removed. A redacted reply still counts as activity for the order
// and as participation; the aggregation (api/rooms/aggregations.h) leaves it out of
// count and latest_event, and the list leaves out a thread all of whose replies are
// redacted. A redacted root stays a thread root (served redacted).
//
//   ThreadsRequest request{.room = meta.number, .start = 0, .limit = 20};
//   NEBU_ASSIGN_OR_RETURN(ThreadsPage page, ReadThreads(view, request, visible));
//
// Bounds: a page examines at most kThreadsPageEntriesMax activity entries (stale ones
// included) and then ends with `next` set, so it never misses a thread silently.
//
// Thread-safety: pure functions over a Store; safe from any thread.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/core/relations.h"
#include "engine/storage/envelope.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"

namespace nebu::core {

inline constexpr std::string_view kThreadRelType = "m.thread";
// Activity entries one page of the thread list examines.
inline constexpr size_t kThreadsPageEntriesMax = 10'000;

// Adds the thread entries of the event at (room, seq) sent by `sender` to batch when
// `relation` is an m.thread relationship; nothing otherwise.
void StageThread(storage::Store& store, rocksdb::WriteBatch& batch, storage::RoomNumber room,
                 storage::Sequence seq, std::string_view sender, const Relation& relation);

// Whether `user_id` replied in the thread rooted at `root` (the 'u' entry; the root's
// sender is not recorded there).
Result<bool> RepliedInThread(const storage::ReadView& store, storage::RoomNumber room,
                             std::string_view user_id, std::string_view root);

struct ThreadsRequest {
  storage::RoomNumber room = 0;
  // Only threads whose latest activity is at or before this seq; 0: no bound.
  storage::Sequence start = 0;
  size_t limit = 0;
  // Set: only threads this user participated in (sent the root or a reply).
  std::optional<std::string> participant;
};

struct ThreadsPage {
  std::vector<storage::EventRecord> roots;  // by latest activity, newest first
  // Set when more may follow: the next page's `start`.
  std::optional<storage::Sequence> next;
};

// The caller's decision whether a root is listed (history visibility and whether the
// thread still has a reply that is not redacted).
using ThreadRootWanted = std::function<Result<bool>(const storage::EventRecord&)>;

// One page of the room's threads. A root that is not an event of this room is left
// out. kCorruption for a malformed entry.
Result<ThreadsPage> ReadThreads(const storage::ReadView& store, const ThreadsRequest& request,
                                const ThreadRootWanted& wanted);

}  // namespace nebu::core
