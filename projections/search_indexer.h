// SearchIndexer: the projection's full-text pass. It fills `event_search` (one tsvector
// per m.room.message with a string body) from rows already in `events`, behind the
// events' checkpoint, on its own connection, with its own checkpoint row ('search' in
// nebu_projection_checkpoints) moved in the same transaction as the rows it covers:
// exactly once, like the events, whatever crashes or racing indexers happen.
//
//   NEBU_ASSIGN_OR_RETURN(auto indexer, SearchIndexer::Connect(url));
//   NEBU_ASSIGN_OR_RETURN(SearchStep s, indexer->Step());   // s.checkpoint == s.events_checkpoint: caught up
//
// Why a second pass: a GIN index on the events table would be maintained by the
// backend that COPYs the events and roughly halve their rate; here the words are
// computed by PostgreSQL (to_tsvector('simple', ...)) on another backend, so the
// events and their search rows use both cores while live, and after a large backlog the
// search pass follows the events instead of slowing them (projector.h).
//
// Thread-safety: one indexer per thread (it owns its connection).
#pragma once

#include <pqxx/connection>

#include <cstddef>
#include <memory>
#include <string>

#include "engine/common/status.h"
#include "engine/storage/keys.h"

namespace nebu::projections {

inline constexpr const char* kSearchCheckpointName = "search";
inline constexpr size_t kSearchBatchEventsMax = 20'000;  // events examined per transaction

struct SearchStep {
  storage::StreamPosition checkpoint = 0;         // the search pass's position after the step
  storage::StreamPosition events_checkpoint = 0;  // the events' position it may not pass
  size_t rows = 0;                                // event_search rows written by the step
};

class SearchIndexer {
 public:
  [[nodiscard]] static Result<std::unique_ptr<SearchIndexer>> Connect(const std::string& url);
  ~SearchIndexer();
  SearchIndexer(const SearchIndexer&) = delete;
  SearchIndexer& operator=(const SearchIndexer&) = delete;

  // One transaction: the events after the search checkpoint, at most events_max of
  // them and never past the events' checkpoint, get their search rows; the search
  // checkpoint moves to the last position covered.
  [[nodiscard]] Result<SearchStep> Step(size_t events_max = kSearchBatchEventsMax);

  // Steps until the events' checkpoint seen at the call is covered.
  [[nodiscard]] Result<SearchStep> CatchUp();

 private:
  explicit SearchIndexer(std::unique_ptr<pqxx::connection> conn);
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace nebu::projections
