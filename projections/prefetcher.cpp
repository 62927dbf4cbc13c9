#include "projections/prefetcher.h"

#include <utility>

namespace nebu::projections {

using storage::StreamPosition;

Prefetcher::Prefetcher(storage::ReadView store, ReadLimits limits)
    : reader_(std::move(store)), limits_(limits), thread_([this] { Run(); }) {}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

Result<PreparedBatch> Prefetcher::Prepare(StreamPosition after) {
  PreparedBatch out;
  NEBU_ASSIGN_OR_RETURN(out.batch, reader_.Read(after, limits_));
  out.derived.reserve(out.batch.events.size());
  for (const RoomEventItem& item : out.batch.events) {
    NEBU_ASSIGN_OR_RETURN(DerivedEvent d, DeriveEvent(item.record));
    out.derived.push_back(std::move(d));
  }
  return out;
}

void Prefetcher::Run() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [&] { return stop_ || requested_.has_value(); });
    if (stop_) return;
    StreamPosition after = *requested_;
    requested_.reset();
    reading_ = after;
    lock.unlock();
    Result<PreparedBatch> prepared = Prepare(after);
    lock.lock();
    reading_.reset();
    ready_for_ = after;
    ready_.emplace(std::move(prepared));
    cv_.notify_all();
  }
}

void Prefetcher::Request(StreamPosition after) {
  ready_.reset();
  ready_for_.reset();
  requested_ = after;
  cv_.notify_all();
}

Result<PreparedBatch> Prefetcher::Next(StreamPosition after) {
  std::unique_lock lock(mu_);
  for (int attempt = 0;; ++attempt) {
    bool coming = (reading_ == after && !requested_) || requested_ == after || ready_for_ == after;
    if (!coming) {
      // Wait out a read for another position (the reader is single-threaded), then ask.
      cv_.wait(lock, [&] { return !reading_.has_value(); });
      Request(after);
    }
    cv_.wait(lock, [&] { return ready_for_ == after && ready_.has_value(); });
    Result<PreparedBatch> got = std::move(*ready_);
    ready_.reset();
    ready_for_.reset();
    bool empty = got.ok() && got->batch.upto == after;
    if (empty && attempt == 0) {
      Request(after);  // it may have been read before the newest entries: read it again
      continue;
    }
    if (got.ok() && !empty) Request(got->batch.upto);  // the next one, while this is written
    return got;
  }
}

}  // namespace nebu::projections
