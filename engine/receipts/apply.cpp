// ApplyReceiptCommand and the receipt reads (receipts.h); the Cf::kReceipts layout:
//
//   'c' | u64 room | lp(type) | lp(user) | lp(thread)  -> u64 position | u64 seq | u64 ts
//                                                          | lp(event_id)      (current)
//   'p' | u64 room | u64 position                       -> lp(type) | lp(user) | lp(thread)
//                                                          | lp(event_id) | u64 ts  (index)
//
// Every current receipt has exactly one 'p' entry, at the stream position it was
// stored with; replacing a receipt deletes the old 'p' entry in the same batch.
#include <rocksdb/iterator.h>

#include <memory>
#include <utility>

#include "engine/receipts/receipts.h"
#include "engine/rooms/room_state.h"
#include "engine/storage/keys.h"
#include "engine/storage/room_log.h"

namespace nebu::receipts {
namespace {

using storage::Cf;
using storage::RoomNumber;
using storage::Sequence;
using storage::StreamPosition;

constexpr char kCurrentTag = 'c';
constexpr char kPositionTag = 'p';
constexpr size_t kRoomNumberBytes = 8;

std::string CurrentKey(RoomNumber room, std::string_view type, std::string_view user,
                       std::string_view thread) {
  std::string k(1, kCurrentTag);
  storage::PutU64(&k, room);
  storage::PutLengthPrefixed(&k, type);
  storage::PutLengthPrefixed(&k, user);
  storage::PutLengthPrefixed(&k, thread);
  return k;
}

std::string PositionPrefix(RoomNumber room) {
  std::string k(1, kPositionTag);
  storage::PutU64(&k, room);
  return k;
}

std::string PositionKey(RoomNumber room, StreamPosition position) {
  std::string k = PositionPrefix(room);
  storage::PutU64(&k, position);
  return k;
}

struct Current {
  StreamPosition position = 0;
  Sequence seq = 0;
  int64_t ts = 0;
  std::string event_id;
};

std::string EncodeCurrent(const Current& c) {
  std::string v;
  storage::PutU64(&v, c.position);
  storage::PutU64(&v, c.seq);
  storage::PutU64(&v, static_cast<uint64_t>(c.ts));
  storage::PutLengthPrefixed(&v, c.event_id);
  return v;
}

Result<Current> DecodeCurrent(std::string_view in) {
  Current c;
  auto position = storage::GetU64(&in);
  auto seq = storage::GetU64(&in);
  auto ts = storage::GetU64(&in);
  auto event_id = storage::GetLengthPrefixed(&in);
  if (!position || !seq || !ts || !event_id || !in.empty()) {
    return Status::Corruption("bad current receipt record");
  }
  return Current{*position, *seq, static_cast<int64_t>(*ts), std::string(*event_id)};
}

std::string EncodeIndexed(const Receipt& r) {
  std::string v;
  storage::PutLengthPrefixed(&v, r.type);
  storage::PutLengthPrefixed(&v, r.user_id);
  storage::PutLengthPrefixed(&v, r.thread_id);
  storage::PutLengthPrefixed(&v, r.event_id);
  storage::PutU64(&v, static_cast<uint64_t>(r.ts));
  return v;
}

Result<Receipt> DecodeIndexed(std::string_view in, StreamPosition position) {
  auto type = storage::GetLengthPrefixed(&in);
  auto user = storage::GetLengthPrefixed(&in);
  auto thread = storage::GetLengthPrefixed(&in);
  auto event_id = storage::GetLengthPrefixed(&in);
  auto ts = storage::GetU64(&in);
  if (!type || !user || !thread || !event_id || !ts || !in.empty()) {
    return Status::Corruption("bad receipt index record");
  }
  return Receipt{std::string(*user),   std::string(*type),        std::string(*event_id),
                 std::string(*thread), static_cast<int64_t>(*ts), position};
}

Result<RoomNumber> JoinedRoom(storage::Store& store, const ReceiptCommand& c) {
  NEBU_ASSIGN_OR_RETURN(auto number, store.Get(Cf::kRooms, storage::RoomIdKey(c.room_id)));
  if (!number) return Status::Forbidden("unknown room");
  if (number->size() != kRoomNumberBytes) return Status::Corruption("bad room number record");
  const RoomNumber room = storage::GetU64(number->data());
  NEBU_ASSIGN_OR_RETURN(auto record,
                        store.Get(Cf::kMembership, storage::UserRoomKey(c.user_id, room)));
  if (!record || record->empty() ||
      static_cast<rooms::Membership>((*record)[0]) != rooms::Membership::kJoin) {
    return Status::Forbidden("user is not joined to the room");
  }
  return room;
}

Result<Sequence> EventInRoom(storage::Store& store, RoomNumber room, std::string_view event_id) {
  Result<std::pair<RoomNumber, Sequence>> located = storage::RoomLog(store).Locate(event_id);
  if (!located.ok()) {
    if (located.status().code() == StatusCode::kNotFound) {
      return Status::NotFound("unknown event");
    }
    return located.status();
  }
  if (located->first != room) return Status::NotFound("event is not in this room");
  return located->second;
}

Status Put(storage::Store& store, rocksdb::WriteBatch& batch, std::string_view key,
           std::string_view value) {
  return storage::FromRocks(batch.Put(store.handle(Cf::kReceipts), key, value));
}

}  // namespace

Result<std::string> ApplyReceiptCommand(storage::Store& store, rocksdb::WriteBatch& batch,
                                        std::string_view payload, storage::StreamAppender& stream) {
  NEBU_ASSIGN_OR_RETURN(ReceiptCommand c, DecodeReceiptCommand(payload));
  NEBU_ASSIGN_OR_RETURN(RoomNumber room, JoinedRoom(store, c));
  NEBU_ASSIGN_OR_RETURN(Sequence seq, EventInRoom(store, room, c.event_id));
  const std::string current_key = CurrentKey(room, c.type, c.user_id, c.thread_id);
  NEBU_ASSIGN_OR_RETURN(auto stored, store.Get(Cf::kReceipts, current_key));
  std::optional<Current> previous;
  if (stored) {
    NEBU_ASSIGN_OR_RETURN(previous, DecodeCurrent(*stored));
    if (previous->seq >= seq) return std::string("{}");  // receipts only move forward
  }

  batch.SetSavePoint();
  const StreamPosition position =
      stream.Append(storage::StreamEntry::Receipt(room, c.user_id, c.type));
  Status s = Put(store, batch, current_key, EncodeCurrent({position, seq, c.ts, c.event_id}));
  if (s.ok()) {
    s = Put(store, batch, PositionKey(room, position),
            EncodeIndexed({c.user_id, c.type, c.event_id, c.thread_id, c.ts, position}));
  }
  if (s.ok() && previous) {
    s = storage::FromRocks(
        batch.Delete(store.handle(Cf::kReceipts), PositionKey(room, previous->position)));
  }
  rocksdb::Status undo = s.ok() ? batch.PopSavePoint() : batch.RollbackToSavePoint();
  NEBU_CHECK(undo.ok(), "WriteBatch save point lost");
  NEBU_RETURN_IF_ERROR(s);
  return std::string("{}");
}

Result<std::vector<Receipt>> ReceiptsInRoom(const storage::ReadView& store, storage::RoomNumber room,
                                            storage::StreamPosition after,
                                            storage::StreamPosition upto) {
  std::vector<Receipt> out;
  if (after >= upto) return out;
  const std::string prefix = PositionPrefix(room);
  const std::string end = PositionKey(room, upto);
  std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(Cf::kReceipts);
  for (it->Seek(PositionKey(room, after + 1));
       it->Valid() && it->key().ToStringView() <= end && out.size() < kReceiptsPerReadMax;
       it->Next()) {
    std::string_view key = it->key().ToStringView();
    if (key.size() != prefix.size() + 8 || !key.starts_with(prefix)) {
      return Status::Corruption("bad receipt index key");
    }
    NEBU_ASSIGN_OR_RETURN(Receipt r, DecodeIndexed(it->value().ToStringView(),
                                                   storage::GetU64(key.data() + prefix.size())));
    out.push_back(std::move(r));
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return out;
}

Result<std::optional<Receipt>> GetReceipt(const storage::ReadView& store, storage::RoomNumber room,
                                          std::string_view type, std::string_view user_id,
                                          std::string_view thread_id) {
  NEBU_ASSIGN_OR_RETURN(auto stored,
                        store.Get(Cf::kReceipts, CurrentKey(room, type, user_id, thread_id)));
  if (!stored) return std::optional<Receipt>();
  NEBU_ASSIGN_OR_RETURN(Current c, DecodeCurrent(*stored));
  return std::optional<Receipt>(Receipt{std::string(user_id), std::string(type), c.event_id,
                                        std::string(thread_id), c.ts, c.position});
}

}  // namespace nebu::receipts
