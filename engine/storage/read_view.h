// ReadView: what every read function reads through — the Store, optionally pinned to
// one RocksDB snapshot so that all reads made through the view (and its copies) see
// one consistent state, whatever the apply thread writes meanwhile.
//
//   ReadView latest(store);                          // reads the latest state
//   ReadView pinned = ReadView::Pinned(store);       // reads one snapshot
//   NEBU_ASSIGN_OR_RETURN(auto v, pinned.Get(Cf::kMeta, "k"));
//   auto it = pinned.NewIterator(Cf::kStream);       // iterates the same snapshot
//
// A view is a cheap copyable handle: a Store pointer plus a shared, reference-counted
// snapshot. The snapshot is released (DB::ReleaseSnapshot) when the last copy of the
// view is destroyed. An unpinned view (constructed from Store&, implicitly, so that
// engine-internal callers that hold a Store keep compiling) reads the latest state on
// every call, exactly like the Store itself.
//
// Read functions take `const ReadView&`; writes and apply keep `Store&` (store()
// gives it back for the few that stage writes through a reading helper).
//
// Lifetime: a view (and every copy, and every iterator made from it) must not outlive
// its Store. A pinned snapshot keeps RocksDB from dropping the versions it sees during
// compaction, so hold a pinned view for one request, not for long.
// Thread-safety: a view may be copied and read from any thread concurrently.
#pragma once

#include <rocksdb/db.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "engine/common/status.h"
#include "engine/storage/store.h"

namespace nebu::storage {

class ReadView {
 public:
  // Reads the latest state (no snapshot). Implicit on purpose: see the file comment.
  ReadView(Store& store) : store_(&store) {}  // NOLINT(google-explicit-constructor)
  // A view pinned to a snapshot taken now.
  static ReadView Pinned(Store& store);
  // This view if pinned, else a view of the same store pinned now: long-lived holders
  // (the projector) keep an unpinned view and pin one per unit of work.
  ReadView Pin() const { return pinned() ? *this : Pinned(*store_); }

  // As Store::Get, at the view's snapshot: nullopt when the key is absent.
  Result<std::optional<std::string>> Get(Cf cf, std::string_view key) const;
  // The raw RocksDB Get at the view's snapshot into a pinnable slice (no copy).
  rocksdb::Status GetPinned(Cf cf, std::string_view key, rocksdb::PinnableSlice* value) const;
  // As Store::NewIterator (the same total-order rule for the room-prefixed families),
  // at the view's snapshot. options.snapshot must be unset.
  std::unique_ptr<rocksdb::Iterator> NewIterator(Cf cf, const rocksdb::ReadOptions& options = {}) const;

  // The ReadOptions every read through the view uses (snapshot set when pinned).
  rocksdb::ReadOptions Options() const;
  bool pinned() const { return snapshot_ != nullptr; }
  // The RocksDB sequence number the view reads at; nullopt when unpinned.
  std::optional<rocksdb::SequenceNumber> sequence() const;
  Store& store() const { return *store_; }

 private:
  ReadView(Store* store, std::shared_ptr<const rocksdb::Snapshot> snapshot)
      : store_(store), snapshot_(std::move(snapshot)) {}

  Store* store_;
  std::shared_ptr<const rocksdb::Snapshot> snapshot_;  // null: latest state
};

}  // namespace nebu::storage
