// Relations: the index of events that relate to another event (content.m.relates_to,
// spec "Relationships"), and the reads GET /rooms/{roomId}/relations/{eventId} serves
// from it.
//
// The index (Cf::kRelations, storage/keys.h RelationKey) holds one entry per event of
// a room whose content.m.relates_to.event_id is a string of 1..kRelationParentBytesMax
// bytes: [room][parent event ID][child seq] -> (rel_type or "", child type, child
// event ID). The room applier writes it in the event's own batch (WriteIndexes), so
// it is exact at every applied position; core/index_build.h builds it for stores
// written before it existed. Entries are never removed: a redacted child keeps its
// entry and ReadRelations leaves it out (its relationship is broken).
//
//   RelationsRequest request{.room = meta.number, .parent = id, .first = p + 1, ...};
//   NEBU_ASSIGN_OR_RETURN(RelationsPage page, ReadRelations(store, request, visible));
//
// Bounds: a page reads at most kRelationsPageEntriesMax index entries and then ends
// with `last` set (the caller hands out a next_batch there), so a page never misses a
// child silently. With recursion (depth_max > 1) the descendants are found by reading
// at most kRelationsRecursionEntriesMax index entries, level by level and in seq
// order within a level; a thread with more entries than that within the depth is cut
// there (RelationsPage::recursion_cut).
//
// Thread-safety: pure functions over a Store; safe from any thread.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/storage/envelope.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"

namespace nebu::core {

// Event IDs are at most 255 bytes (spec "Event IDs"); a longer m.relates_to.event_id
// names no event and is not indexed.
inline constexpr size_t kRelationParentBytesMax = 255;
// Index entries one page examines (those the filters or visibility leave out count).
inline constexpr size_t kRelationsPageEntriesMax = 10'000;
// Index entries one recursive request reads to find the descendants.
inline constexpr size_t kRelationsRecursionEntriesMax = 10'000;

// What an event's content.m.relates_to says: the parent and rel_type ("" when absent
// or not a string). nullopt when the event relates to nothing indexable.
struct Relation {
  std::string parent;
  std::string rel_type;
};
std::optional<Relation> RelationOf(const boost::json::object& pdu);
// The same from an event's canonical JSON (a cheap substring test first).
std::optional<Relation> RelationOfJson(std::string_view pdu_json);

// Adds the index entry of the event at (room, seq) to batch when it relates to one.
void StageRelation(storage::Store& store, rocksdb::WriteBatch& batch, storage::RoomNumber room,
                   storage::Sequence seq, std::string_view type, std::string_view event_id,
                   const Relation& relation);

struct RelationsRequest {
  storage::RoomNumber room = 0;
  std::string parent;
  // Children (and descendants) considered: seq in [first, last].
  storage::Sequence first = 0;
  storage::Sequence last = 0;
  // The page: from `start` towards `stop` (both inclusive), descending when backwards
  // (start >= stop), ascending otherwise; both within [first, last].
  storage::Sequence start = 0;
  storage::Sequence stop = 0;
  bool backwards = true;
  std::optional<std::string> rel_type;    // only children with this rel_type
  std::optional<std::string> event_type;  // only children of this type
  int depth_max = 1;                      // 1: children; more: descendants that deep
  size_t limit = 0;
};

struct RelationsPage {
  std::vector<storage::EventRecord> events;  // in page order
  // Set when more may follow: the seq of the last entry the page examined.
  std::optional<storage::Sequence> last;
  bool recursion_cut = false;  // kRelationsRecursionEntriesMax was reached
};

// The caller's decision whether it may see a child (history visibility).
using RelationVisible = std::function<bool(const storage::EventRecord&)>;

// Reads one page: entries in order, filtered by rel_type and type, redacted children
// (Cf::kRedactions) and invisible ones left out, at most `limit` events. A redacted
// event also ends recursion below it. kCorruption for a malformed entry or an entry
// naming an event the log does not hold.
Result<RelationsPage> ReadRelations(const storage::ReadView& store, const RelationsRequest& request,
                                    const RelationVisible& visible);

}  // namespace nebu::core
