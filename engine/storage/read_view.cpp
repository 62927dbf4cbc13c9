#include "engine/storage/read_view.h"


namespace nebu::storage {

ReadView ReadView::Pinned(Store& store) {
  rocksdb::DB* db = store.db();
  const rocksdb::Snapshot* snapshot = db->GetSnapshot();
  NEBU_CHECK(snapshot != nullptr, "RocksDB returned no snapshot");
  return ReadView(&store, std::shared_ptr<const rocksdb::Snapshot>(
                              snapshot, [db](const rocksdb::Snapshot* s) { db->ReleaseSnapshot(s); }));
}

rocksdb::ReadOptions ReadView::Options() const {
  rocksdb::ReadOptions options;
  options.snapshot = snapshot_.get();
  return options;
}

std::optional<rocksdb::SequenceNumber> ReadView::sequence() const {
  if (!snapshot_) return std::nullopt;
  return snapshot_->GetSequenceNumber();
}

rocksdb::Status ReadView::GetPinned(Cf cf, std::string_view key,
                                    rocksdb::PinnableSlice* value) const {
  return store_->db()->Get(Options(), store_->handle(cf), key, value);
}

Result<std::optional<std::string>> ReadView::Get(Cf cf, std::string_view key) const {
  rocksdb::PinnableSlice value;
  const rocksdb::Status s = GetPinned(cf, key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return FromRocks(s);
  return std::optional<std::string>(value.ToString());
}

std::unique_ptr<rocksdb::Iterator> ReadView::NewIterator(Cf cf,
                                                         const rocksdb::ReadOptions& options) const {
  NEBU_CHECK(options.snapshot == nullptr, "ReadView::NewIterator sets the snapshot itself");
  rocksdb::ReadOptions o = options;
  o.snapshot = snapshot_.get();
  return store_->NewIterator(cf, o);
}

}  // namespace nebu::storage
