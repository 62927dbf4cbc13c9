// Index build: makes the derived indexes of a store written by a version without
// them (Cf::kRelations, core/relations.h; Cf::kThreads, core/threads.h;
// Cf::kUserDirectory, accounts/user_directory.h; Cf::kSearch, search/search_index.h).
//
// When storage::kMetaIndexVersion is absent or below kIndexVersion, BuildIndexes
// clears the four families, reads every room log (one pass over Cf::kEvents, JSON
// parsed only for events that mention m.relates_to or have an indexed type) and every
// account (active users with
// their display name), writes the entries in batches of at most
// kIndexBuildBatchEntriesMax, and then records kIndexVersion (fsynced). The entries
// are exactly what apply would have written for the same history, so a rebuilt node
// and one that applied everything hold identical bytes. A crash midway leaves the
// version unrecorded and the next start builds again from scratch. On a new (empty)
// store it only records the version. StateMachine::Load calls it before it reads
// the applied position, so it runs once, before any command is applied.
//
// Thread-safety: call with nothing else writing the store (start-up).
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/common/status.h"
#include "engine/storage/store.h"

namespace nebu::core {

// 1: relations and user directory; 2: adds the full-text search index; 3: adds
// Cf::kThreads (core/threads.h).
inline constexpr uint64_t kIndexVersion = 3;
inline constexpr size_t kIndexBuildBatchEntriesMax = 10'000;  // entries per write batch

struct IndexBuildStats {
  bool built = false;        // false: the store's indexes were current
  uint64_t events = 0;       // log entries read
  uint64_t relations = 0;    // relations index entries written
  uint64_t users = 0;        // users indexed in the directory
  uint64_t search_postings = 0;  // full-text postings written
  double seconds = 0;
};

Result<IndexBuildStats> BuildIndexes(storage::Store& store);

}  // namespace nebu::core
