// ApplyPusherCommand and the pusher reads (pushers.h); the Cf::kPushers layout is there.
#include "engine/push/pushers.h"

#include <rocksdb/iterator.h>

#include <memory>
#include <optional>
#include <utility>

#include "engine/event/canonical_json.h"
#include "engine/event/command_fields.h"

namespace nebu::push {
namespace internal {
Result<Pusher> DecodePusherObject(const boost::json::object& o);
}  // namespace internal

namespace {

namespace json = boost::json;
using storage::Cf;
using storage::StreamPosition;

constexpr char kPusherTag = 'p';
constexpr char kHolderTag = 'k';
constexpr char kDeliveredTag = 'd';

std::string UserPrefix(char tag, std::string_view user) {
  std::string k(1, tag);
  storage::PutLengthPrefixed(&k, user);
  return k;
}

std::string PusherKey(char tag, std::string_view user, std::string_view app_id,
                      std::string_view pushkey) {
  std::string k = UserPrefix(tag, user);
  storage::PutLengthPrefixed(&k, app_id);
  storage::PutLengthPrefixed(&k, pushkey);
  return k;
}

std::string HolderPrefix(std::string_view app_id, std::string_view pushkey) {
  std::string k(1, kHolderTag);
  storage::PutLengthPrefixed(&k, app_id);
  storage::PutLengthPrefixed(&k, pushkey);
  return k;
}

Result<std::string> EncodeRecord(const StoredPusher& s) {
  json::object o{{"user_id", s.user_id},
                 {"device_id", s.device_id},
                 {"pusher", PusherJson(s.pusher)},
                 {"ts", s.ts}};
  return event::CanonicalJson(o);
}

Result<StoredPusher> DecodeRecord(std::string_view bytes) {
  Result<json::value> v = event::ParseJson(bytes);
  if (!v.ok() || !v->is_object()) return Status::Corruption("bad pusher record");
  event::CommandFields f(v->get_object(), "pusher record");
  StoredPusher s;
  Result<std::string> user = f.String("user_id");
  Result<std::string> device = f.String("device_id");
  Result<const json::object*> pusher = f.Object("pusher");
  Result<int64_t> ts = f.Int("ts");
  if (!user.ok() || !device.ok() || !pusher.ok() || !ts.ok() || !f.Finish().ok()) {
    return Status::Corruption("bad pusher record");
  }
  Result<Pusher> p = internal::DecodePusherObject(**pusher);
  if (!p.ok()) return Status::Corruption("bad pusher record: " + p.status().message());
  return StoredPusher{std::move(*user), std::move(*device), std::move(*p), *ts, 0};
}

Result<StreamPosition> ReadDelivered(const storage::ReadView& view, std::string_view key) {
  NEBU_ASSIGN_OR_RETURN(auto bytes, view.Get(Cf::kPushers, key));
  if (!bytes) return StreamPosition{0};
  if (bytes->size() != 8) return Status::Corruption("bad pusher delivered position");
  return storage::GetU64(bytes->data());
}

Result<std::optional<StoredPusher>> Find(storage::Store& store, std::string_view user,
                                         std::string_view app_id, std::string_view pushkey) {
  NEBU_ASSIGN_OR_RETURN(auto bytes,
                        store.Get(Cf::kPushers, PusherKey(kPusherTag, user, app_id, pushkey)));
  if (!bytes) return std::optional<StoredPusher>();
  NEBU_ASSIGN_OR_RETURN(StoredPusher s, DecodeRecord(*bytes));
  return std::optional<StoredPusher>(std::move(s));
}

void StageDelete(storage::Store& store, rocksdb::WriteBatch& batch, std::string_view user,
                 std::string_view app_id, std::string_view pushkey) {
  auto* cf = store.handle(Cf::kPushers);
  std::string holder = HolderPrefix(app_id, pushkey);
  storage::PutLengthPrefixed(&holder, user);
  (void)batch.Delete(cf, PusherKey(kPusherTag, user, app_id, pushkey));
  (void)batch.Delete(cf, PusherKey(kDeliveredTag, user, app_id, pushkey));
  (void)batch.Delete(cf, holder);
}

// The other users holding app_id + pushkey (append false removes theirs).
Result<std::vector<std::string>> Holders(storage::Store& store, std::string_view app_id,
                                         std::string_view pushkey) {
  std::vector<std::string> users;
  const std::string prefix = HolderPrefix(app_id, pushkey);
  std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(Cf::kPushers);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view rest = it->key().ToStringView().substr(prefix.size());
    auto user = storage::GetLengthPrefixed(&rest);
    if (!user || !rest.empty()) return Status::Corruption("bad pusher holder key");
    users.emplace_back(*user);
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return users;
}

Result<size_t> CountOf(storage::Store& store, std::string_view user) {
  const std::string prefix = UserPrefix(kPusherTag, user);
  size_t n = 0;
  std::unique_ptr<rocksdb::Iterator> it = store.NewIterator(Cf::kPushers);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) ++n;
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return n;
}

Status ApplySet(storage::Store& store, rocksdb::WriteBatch& batch, const PusherCommand& c,
                StreamPosition stream_position) {
  const Pusher& p = c.pusher;
  NEBU_ASSIGN_OR_RETURN(auto existing, Find(store, c.user_id, p.app_id, p.pushkey));
  if (!existing) {
    NEBU_ASSIGN_OR_RETURN(size_t count, CountOf(store, c.user_id));
    if (count >= kPushersPerUserMax) {
      return Status::ResourceExhausted("too many pushers for this user");
    }
  }
  if (!c.append) {
    NEBU_ASSIGN_OR_RETURN(auto holders, Holders(store, p.app_id, p.pushkey));
    for (const std::string& other : holders) {
      if (other != c.user_id) StageDelete(store, batch, other, p.app_id, p.pushkey);
    }
  }
  NEBU_ASSIGN_OR_RETURN(std::string record,
                        EncodeRecord({c.user_id, c.device_id, p, c.ts, 0}));
  auto* cf = store.handle(Cf::kPushers);
  std::string holder = HolderPrefix(p.app_id, p.pushkey);
  storage::PutLengthPrefixed(&holder, c.user_id);
  NEBU_RETURN_IF_ERROR(storage::FromRocks(
      batch.Put(cf, PusherKey(kPusherTag, c.user_id, p.app_id, p.pushkey), record)));
  NEBU_RETURN_IF_ERROR(storage::FromRocks(batch.Put(cf, holder, "")));
  if (!existing) {
    NEBU_RETURN_IF_ERROR(storage::FromRocks(
        batch.Put(cf, PusherKey(kDeliveredTag, c.user_id, p.app_id, p.pushkey),
                  storage::U64Key(stream_position))));
  }
  return Status::Ok();
}

Status ApplyDelivered(storage::Store& store, rocksdb::WriteBatch& batch, const PusherCommand& c) {
  NEBU_ASSIGN_OR_RETURN(auto existing,
                        Find(store, c.user_id, c.pusher.app_id, c.pusher.pushkey));
  if (!existing || (c.if_ts != 0 && existing->ts != c.if_ts)) return Status::Ok();
  const std::string key =
      PusherKey(kDeliveredTag, c.user_id, c.pusher.app_id, c.pusher.pushkey);
  NEBU_ASSIGN_OR_RETURN(StreamPosition delivered, ReadDelivered(storage::ReadView(store), key));
  if (c.position <= delivered) return Status::Ok();
  return storage::FromRocks(
      batch.Put(store.handle(Cf::kPushers), key, storage::U64Key(c.position)));
}

Status ApplyRemoveDevice(storage::Store& store, rocksdb::WriteBatch& batch,
                         const PusherCommand& c) {
  NEBU_ASSIGN_OR_RETURN(auto mine, PushersOf(storage::ReadView(store), c.user_id));
  for (const StoredPusher& s : mine) {
    if (c.device_id.empty() || s.device_id == c.device_id) {
      StageDelete(store, batch, c.user_id, s.pusher.app_id, s.pusher.pushkey);
    }
  }
  return Status::Ok();
}

Status ApplyDecoded(storage::Store& store, rocksdb::WriteBatch& batch, const PusherCommand& c,
                    StreamPosition stream_position) {
  switch (c.op) {
    case PusherOp::kSet:
      return ApplySet(store, batch, c, stream_position);
    case PusherOp::kDelete: {
      NEBU_ASSIGN_OR_RETURN(auto existing,
                            Find(store, c.user_id, c.pusher.app_id, c.pusher.pushkey));
      if (existing && (c.if_ts == 0 || existing->ts == c.if_ts)) {
        StageDelete(store, batch, c.user_id, c.pusher.app_id, c.pusher.pushkey);
      }
      return Status::Ok();
    }
    case PusherOp::kDelivered:
      return ApplyDelivered(store, batch, c);
    case PusherOp::kRemoveDevice:
      return ApplyRemoveDevice(store, batch, c);
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> ApplyPusherCommand(storage::Store& store, rocksdb::WriteBatch& batch,
                                       std::string_view payload, StreamPosition stream_position) {
  NEBU_ASSIGN_OR_RETURN(PusherCommand c, DecodePusherCommand(payload));
  batch.SetSavePoint();
  Status s = ApplyDecoded(store, batch, c, stream_position);
  rocksdb::Status undo = s.ok() ? batch.PopSavePoint() : batch.RollbackToSavePoint();
  NEBU_CHECK(undo.ok(), "WriteBatch save point lost");
  NEBU_RETURN_IF_ERROR(s);
  return std::string("{}");
}

Result<std::vector<StoredPusher>> PushersOf(const storage::ReadView& view,
                                            std::string_view user_id) {
  std::vector<StoredPusher> out;
  const std::string prefix = UserPrefix(kPusherTag, user_id);
  std::unique_ptr<rocksdb::Iterator> it = view.NewIterator(Cf::kPushers);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    NEBU_ASSIGN_OR_RETURN(StoredPusher s, DecodeRecord(it->value().ToStringView()));
    const std::string delivered_key =
        PusherKey(kDeliveredTag, s.user_id, s.pusher.app_id, s.pusher.pushkey);
    NEBU_ASSIGN_OR_RETURN(s.delivered, ReadDelivered(view, delivered_key));
    out.push_back(std::move(s));
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return out;
}

Status ForEachPusher(const storage::ReadView& view,
                     const std::function<bool(const StoredPusher&)>& visit) {
  const std::string prefix(1, kPusherTag);
  std::unique_ptr<rocksdb::Iterator> it = view.NewIterator(Cf::kPushers);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    NEBU_ASSIGN_OR_RETURN(StoredPusher s, DecodeRecord(it->value().ToStringView()));
    const std::string delivered_key =
        PusherKey(kDeliveredTag, s.user_id, s.pusher.app_id, s.pusher.pushkey);
    NEBU_ASSIGN_OR_RETURN(s.delivered, ReadDelivered(view, delivered_key));
    if (!visit(s)) break;
  }
  return storage::FromRocks(it->status());
}

}  // namespace nebu::push
