// Prefetcher: reads and derives the projector's next batch on its own thread while the
// current one is being written, so reading RocksDB and parsing events (about 12 µs an
// event) overlaps PostgreSQL's work instead of adding to it. One batch ahead at most.
//
//   Prefetcher ahead(store, limits);
//   NEBU_ASSIGN_OR_RETURN(PreparedBatch b, ahead.Next(checkpoint));  // b.batch.after == checkpoint
//   // ... write b; the batch after b.batch.upto is being read meanwhile
//
// Next(after) returns the batch prefetched for `after` when there is one, else reads it
// (on the prefetch thread: the reader and its room cache stay on one thread). A
// prefetched batch that came back empty is read again, so a new entry is never missed
// by a stale read. When the caller's position moved elsewhere (another projector
// committed first) the prefetched batch is dropped.
//
// Thread-safety: Next from one thread at a time.
#pragma once

#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "engine/common/status.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"
#include "projections/batch_writer.h"
#include "projections/stream_reader.h"

namespace nebu::projections {

struct PreparedBatch {
  StreamBatch batch;
  std::vector<DerivedEvent> derived;  // one per batch.events item
};

class Prefetcher {
 public:
  Prefetcher(storage::ReadView store, ReadLimits limits);
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  [[nodiscard]] Result<PreparedBatch> Next(storage::StreamPosition after);

 private:
  void Run();
  Result<PreparedBatch> Prepare(storage::StreamPosition after);
  void Request(storage::StreamPosition after);  // mu_ held

  StreamReader reader_;  // prefetch thread only
  ReadLimits limits_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::optional<storage::StreamPosition> requested_;  // guarded by mu_: to read next
  std::optional<storage::StreamPosition> reading_;    // guarded by mu_: being read
  std::optional<storage::StreamPosition> ready_for_;  // guarded by mu_: `ready_` is for this
  std::optional<Result<PreparedBatch>> ready_;        // guarded by mu_
  bool stop_ = false;                                 // guarded by mu_
  std::thread thread_;
};

}  // namespace nebu::projections
