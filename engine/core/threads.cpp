#include "engine/core/threads.h"

#include "engine/storage/keys.h"
#include "engine/storage/room_log.h"

namespace nebu::core {

using storage::Cf;
using storage::RoomNumber;
using storage::Sequence;

namespace {

constexpr char kActivityTag = 'a';
constexpr char kLatestTag = 'l';
constexpr char kParticipantTag = 'u';

std::string ActivityPrefix(RoomNumber room) {
  std::string k(1, kActivityTag);
  storage::PutU64(&k, room);
  return k;
}

std::string ActivityKey(RoomNumber room, Sequence seq) {
  std::string k = ActivityPrefix(room);
  storage::PutU64(&k, seq);
  return k;
}

std::string LatestKey(RoomNumber room, std::string_view root) {
  std::string k(1, kLatestTag);
  storage::PutU64(&k, room);
  k.append(root);
  return k;
}

std::string ParticipantKey(RoomNumber room, std::string_view user_id, std::string_view root) {
  std::string k(1, kParticipantTag);
  storage::PutU64(&k, room);
  storage::PutLengthPrefixed(&k, user_id);
  k.append(root);
  return k;
}

// The root's latest activity seq; nullopt when it has none.
Result<std::optional<Sequence>> LatestOf(const storage::ReadView& store, RoomNumber room,
                                         std::string_view root) {
  NEBU_ASSIGN_OR_RETURN(auto bytes, store.Get(Cf::kThreads, LatestKey(room, root)));
  if (!bytes) return std::optional<Sequence>();
  if (bytes->size() != 8) return Status::Corruption("bad thread latest entry");
  return std::optional<Sequence>(storage::GetU64(bytes->data()));
}

// The root's record when it is an event of `room`; nullopt otherwise.
Result<std::optional<storage::EventRecord>> RootRecord(const storage::ReadView& store,
                                                       RoomNumber room, std::string_view root) {
  storage::RoomLog log(store);
  Result<std::pair<RoomNumber, Sequence>> where = log.Locate(root);
  if (!where.ok()) {
    if (where.status().code() == StatusCode::kNotFound) return std::optional<storage::EventRecord>();
    return where.status();
  }
  if (where->first != room) return std::optional<storage::EventRecord>();
  NEBU_ASSIGN_OR_RETURN(storage::EventRecord record, log.Read(where->first, where->second));
  return std::optional<storage::EventRecord>(std::move(record));
}

}  // namespace

void StageThread(storage::Store& store, rocksdb::WriteBatch& batch, RoomNumber room, Sequence seq,
                 std::string_view sender, const Relation& relation) {
  if (relation.rel_type != kThreadRelType) return;
  rocksdb::ColumnFamilyHandle* cf = store.handle(Cf::kThreads);
  batch.Put(cf, ActivityKey(room, seq), relation.parent);
  batch.Put(cf, LatestKey(room, relation.parent), storage::U64Key(seq));
  batch.Put(cf, ParticipantKey(room, sender, relation.parent), "");
}

Result<bool> RepliedInThread(const storage::ReadView& store, RoomNumber room,
                             std::string_view user_id, std::string_view root) {
  if (user_id.size() > storage::kLengthPrefixedBytesMax) return false;
  NEBU_ASSIGN_OR_RETURN(auto entry, store.Get(Cf::kThreads, ParticipantKey(room, user_id, root)));
  return entry.has_value();
}

Result<ThreadsPage> ReadThreads(const storage::ReadView& store, const ThreadsRequest& request,
                                const ThreadRootWanted& wanted) {
  ThreadsPage page;
  if (request.limit == 0) return page;
  const std::string prefix = ActivityPrefix(request.room);
  auto it = store.NewIterator(Cf::kThreads);
  if (request.start == 0) {
    it->SeekForPrev(storage::PrefixSuccessor(prefix));
  } else {
    it->SeekForPrev(ActivityKey(request.room, request.start));
  }
  size_t examined = 0;
  for (; it->Valid() && it->key().starts_with(prefix); it->Prev()) {
    const std::string_view key = it->key().ToStringView();
    if (key.size() != prefix.size() + 8) return Status::Corruption("bad thread activity entry");
    const Sequence seq = storage::GetU64(key.data() + prefix.size());
    if (page.roots.size() == request.limit || examined == kThreadsPageEntriesMax) {
      page.next = seq;  // another entry exists: more may follow
      break;
    }
    ++examined;
    const std::string root(it->value().ToStringView());
    NEBU_ASSIGN_OR_RETURN(std::optional<Sequence> latest, LatestOf(store, request.room, root));
    if (latest != seq) continue;  // stale: the thread has later activity
    NEBU_ASSIGN_OR_RETURN(std::optional<storage::EventRecord> record,
                          RootRecord(store, request.room, root));
    if (!record) continue;
    if (request.participant && record->sender != *request.participant) {
      NEBU_ASSIGN_OR_RETURN(bool replied,
                            RepliedInThread(store, request.room, *request.participant, root));
      if (!replied) continue;
    }
    NEBU_ASSIGN_OR_RETURN(bool want, wanted(*record));
    if (want) page.roots.push_back(std::move(record).value());
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return page;
}

}  // namespace nebu::core
