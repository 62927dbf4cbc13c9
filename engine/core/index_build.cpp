#include "engine/core/index_build.h"

#include <chrono>

#include "engine/accounts/user_directory.h"
#include "engine/core/relations.h"
#include "engine/search/search_index.h"
#include "engine/core/threads.h"
#include "engine/storage/envelope.h"
#include "engine/storage/keys.h"

namespace nebu::core {

using storage::Cf;

namespace {

Result<uint64_t> StoredIndexVersion(storage::Store& store) {
  NEBU_ASSIGN_OR_RETURN(auto bytes, store.Get(Cf::kMeta, storage::kMetaIndexVersion));
  if (!bytes) return uint64_t{0};
  if (bytes->size() != 8) return Status::Corruption("meta index_version is not 8 bytes");
  return storage::GetU64(bytes->data());
}

// Removes whatever an interrupted build left in the family.
Status Clear(storage::Store& store, Cf cf) {
  auto it = store.NewIterator(cf);
  it->SeekToFirst();
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  if (!it->Valid()) return Status::Ok();
  // Relations keys begin with a room number (< 2^56), directory keys with 't' or 'u',
  // search keys with a word's UTF-8 (never 0xff), thread keys with 'a', 'l' or 'u'.
  return storage::FromRocks(store.db()->DeleteRange(rocksdb::WriteOptions(), store.handle(cf),
                                                    std::string(), std::string(1, '\xff')));
}

// Writes the batch once it holds kIndexBuildBatchEntriesMax entries (or when forced).
Status MaybeWrite(storage::Store& store, rocksdb::WriteBatch& batch, bool force) {
  if (batch.Count() == 0 || (!force && batch.Count() < kIndexBuildBatchEntriesMax)) {
    return Status::Ok();
  }
  NEBU_RETURN_IF_ERROR(store.Write(batch, /*sync=*/false));
  batch.Clear();
  return Status::Ok();
}

// One pass over the log for the relations, threads and the full-text search index.
Status BuildLogIndexes(storage::Store& store, IndexBuildStats& stats) {
  rocksdb::WriteBatch batch;
  std::string scratch;
  rocksdb::ReadOptions options;
  options.fill_cache = false;  // one pass over the whole log must not evict the working set
  auto it = store.NewIterator(Cf::kEvents, options);
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    ++stats.events;
    const std::string_view raw = it->value().ToStringView();
    NEBU_ASSIGN_OR_RETURN(storage::EventView view,
                          storage::ViewEnvelope(storage::AlignedEnvelopeBytes(raw, &scratch)));
    stats.search_postings += search::StageStoredEvent(store, batch, view);
    NEBU_RETURN_IF_ERROR(MaybeWrite(store, batch, false));
    std::optional<Relation> relation = RelationOfJson(view.json);
    if (!relation) continue;
    StageRelation(store, batch, view.room, view.sequence, view.type, view.event_id, *relation);
    StageThread(store, batch, view.room, view.sequence, view.sender, *relation);
    ++stats.relations;
    NEBU_RETURN_IF_ERROR(MaybeWrite(store, batch, false));
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return MaybeWrite(store, batch, true);
}

Status BuildUserDirectory(storage::Store& store, IndexBuildStats& stats) {
  rocksdb::WriteBatch batch;
  auto index_user = [&](std::string_view user_id, const std::optional<std::string>& displayname,
                        bool active) -> Status {
    if (!active) return Status::Ok();
    ++stats.users;
    Status staged = accounts::StageDirectoryUser(store, batch, user_id, displayname, true);
    return staged.ok() ? MaybeWrite(store, batch, false) : staged;
  };
  NEBU_RETURN_IF_ERROR(accounts::ForEachAccount(store, index_user));
  return MaybeWrite(store, batch, true);
}

}  // namespace

Result<IndexBuildStats> BuildIndexes(storage::Store& store) {
  IndexBuildStats stats;
  NEBU_ASSIGN_OR_RETURN(uint64_t version, StoredIndexVersion(store));
  if (version >= kIndexVersion) return stats;
  const auto started = std::chrono::steady_clock::now();
  stats.built = true;
  NEBU_RETURN_IF_ERROR(Clear(store, Cf::kRelations));
  NEBU_RETURN_IF_ERROR(Clear(store, Cf::kThreads));
  NEBU_RETURN_IF_ERROR(Clear(store, Cf::kUserDirectory));
  NEBU_RETURN_IF_ERROR(Clear(store, Cf::kSearch));
  NEBU_RETURN_IF_ERROR(BuildLogIndexes(store, stats));
  NEBU_RETURN_IF_ERROR(BuildUserDirectory(store, stats));
  rocksdb::WriteBatch batch;
  NEBU_RETURN_IF_ERROR(storage::FromRocks(
      batch.Put(store.handle(Cf::kMeta), storage::kMetaIndexVersion, storage::U64Key(kIndexVersion))));
  NEBU_RETURN_IF_ERROR(store.Write(batch, /*sync=*/true));
  stats.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return stats;
}

}  // namespace nebu::core
