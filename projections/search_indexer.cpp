#include "projections/search_indexer.h"

#include <utility>

#include "projections/batch_writer.h"
#include "projections/pg.h"

namespace nebu::projections {

using storage::StreamPosition;

SearchIndexer::SearchIndexer(std::unique_ptr<pqxx::connection> conn) : conn_(std::move(conn)) {}
SearchIndexer::~SearchIndexer() = default;

Result<std::unique_ptr<SearchIndexer>> SearchIndexer::Connect(const std::string& url) {
  NEBU_ASSIGN_OR_RETURN(auto conn, pg::ConnectProjector(url));
  NEBU_RETURN_IF_ERROR(pg::Run("prepare search", [&] {
    conn->prepare("search_lock",
                  "SELECT position FROM nebu_projection_checkpoints WHERE stream = $1 FOR UPDATE");
    conn->prepare("search_events_checkpoint",
                  "SELECT position FROM nebu_projection_checkpoints WHERE stream = $1");
    // The position of the events_max-th event after the checkpoint (the primary key
    // walks there), so one transaction stays bounded.
    conn->prepare("search_upto",
                  "SELECT stream_position FROM events WHERE stream_position > $1 "
                  "AND stream_position <= $2 ORDER BY stream_position OFFSET $3 LIMIT 1");
    conn->prepare("search_insert",
                  "INSERT INTO event_search (stream_position, tsv) "
                  "SELECT stream_position, to_tsvector('simple', content ->> 'body') FROM events "
                  "WHERE stream_position > $1 AND stream_position <= $2 "
                  "AND type = 'm.room.message' AND jsonb_typeof(content -> 'body') = 'string'");
    conn->prepare("search_set_checkpoint",
                  "UPDATE nebu_projection_checkpoints SET position = $2 WHERE stream = $1");
  }));
  return std::unique_ptr<SearchIndexer>(new SearchIndexer(std::move(conn)));
}

Result<SearchStep> SearchIndexer::Step(size_t events_max) {
  SearchStep step;
  NEBU_RETURN_IF_ERROR(pg::Run("search pass", [&] {
    pqxx::work tx(*conn_);
    // The lock serializes racing indexers; READ COMMITTED re-reads the locked row, so
    // the second one starts where the first one ended.
    pqxx::result locked = tx.exec_prepared("search_lock", kSearchCheckpointName);
    pqxx::result events = tx.exec_prepared("search_events_checkpoint", kStreamCheckpointName);
    if (locked.empty() || events.empty()) {
      throw std::runtime_error("no checkpoint rows: run `nebu migrate up`");
    }
    step.checkpoint = locked[0][0].as<StreamPosition>();
    step.events_checkpoint = events[0][0].as<StreamPosition>();
    if (step.checkpoint >= step.events_checkpoint) return;  // rolls back: nothing to do
    StreamPosition upto = step.events_checkpoint;
    pqxx::result bound = tx.exec_prepared("search_upto", step.checkpoint, step.events_checkpoint,
                                          static_cast<int64_t>(events_max > 0 ? events_max - 1 : 0));
    if (!bound.empty()) upto = bound[0][0].as<StreamPosition>();
    pqxx::result inserted = tx.exec_prepared("search_insert", step.checkpoint, upto);
    step.rows = static_cast<size_t>(inserted.affected_rows());
    tx.exec_prepared("search_set_checkpoint", kSearchCheckpointName, upto);
    tx.commit();
    step.checkpoint = upto;
  }));
  return step;
}

Result<SearchStep> SearchIndexer::CatchUp() {
  NEBU_ASSIGN_OR_RETURN(SearchStep step, Step());
  SearchStep total = step;
  StreamPosition target = step.events_checkpoint;
  while (total.checkpoint < target) {
    NEBU_ASSIGN_OR_RETURN(step, Step());
    if (step.checkpoint == total.checkpoint) break;  // no progress (reset underneath)
    total.checkpoint = step.checkpoint;
    total.rows += step.rows;
  }
  return total;
}

}  // namespace nebu::projections
