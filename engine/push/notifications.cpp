#include "engine/push/notifications.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <rocksdb/iterator.h>

#include "engine/push/internal/keys.h"
#include "engine/storage/store.h"

namespace nebu::push {
namespace internal {
namespace {

std::string UserKey(char tag, std::string_view user_id) {
  std::string k(1, tag);
  storage::PutLengthPrefixed(&k, user_id);
  return k;
}

}  // namespace

std::string RecordPrefix(std::string_view user_id) { return UserKey('n', user_id); }
std::string RecordKey(std::string_view user_id, storage::StreamPosition position) {
  std::string k = RecordPrefix(user_id);
  storage::PutU64(&k, position);
  return k;
}
std::string UnreadPrefix(std::string_view user_id, storage::RoomNumber room) {
  std::string k = UserKey('u', user_id);
  storage::PutU64(&k, room);
  return k;
}
std::string UnreadKey(std::string_view user_id, storage::RoomNumber room, storage::Sequence seq) {
  std::string k = UnreadPrefix(user_id, room);
  storage::PutU64(&k, seq);
  return k;
}
std::string CountsPrefix(std::string_view user_id) { return UserKey('c', user_id); }
std::string CountsKey(std::string_view user_id, storage::RoomNumber room) {
  std::string k = CountsPrefix(user_id);
  storage::PutU64(&k, room);
  return k;
}
std::string ThreadCountsPrefix(std::string_view user_id, storage::RoomNumber room) {
  std::string k = UserKey('t', user_id);
  storage::PutU64(&k, room);
  return k;
}
std::string ThreadCountsKey(std::string_view user_id, storage::RoomNumber room,
                            std::string_view thread_id) {
  std::string k = ThreadCountsPrefix(user_id, room);
  storage::PutLengthPrefixed(&k, thread_id);
  return k;
}

std::string EncodeCounts(const UnreadCounts& counts) {
  std::string v;
  storage::PutU64(&v, counts.notifications);
  storage::PutU64(&v, counts.highlights);
  return v;
}
std::optional<UnreadCounts> DecodeCounts(std::string_view value) {
  if (value.size() != 16) return std::nullopt;
  return UnreadCounts{storage::GetU64(value.data()), storage::GetU64(value.data() + 8)};
}
std::string EncodeUnread(bool highlight, std::string_view thread_id) {
  std::string v(1, highlight ? '\1' : '\0');
  v.append(thread_id);
  return v;
}
std::optional<UnreadEntry> DecodeUnread(std::string_view value) {
  if (value.empty() || static_cast<uint8_t>(value[0]) > 1) return std::nullopt;
  return UnreadEntry{value[0] == '\1', std::string(value.substr(1))};
}

std::string EncodeRecord(const Notification& n) {
  boost::json::object o{{"actions", n.actions},   {"event_id", n.event_id},
                        {"highlight", n.highlight}, {"room_id", n.room_id},
                        {"seq", n.sequence},       {"thread_id", n.thread_id},
                        {"ts", n.ts}};
  return boost::json::serialize(o);
}

Result<Notification> DecodeRecord(std::string_view key, std::string_view value) {
  auto bad = [] { return Status::Corruption("malformed notification record"); };
  if (key.size() < 8) return bad();
  Notification n;
  n.position = storage::GetU64(key.data() + key.size() - 8);
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(value, ec);
  if (ec || !v.is_object()) return bad();
  const boost::json::object& o = v.as_object();
  const auto* room_id = o.if_contains("room_id");
  const auto* event_id = o.if_contains("event_id");
  const auto* seq = o.if_contains("seq");
  const auto* ts = o.if_contains("ts");
  const auto* actions = o.if_contains("actions");
  const auto* highlight = o.if_contains("highlight");
  const auto* thread = o.if_contains("thread_id");
  if (!room_id || !room_id->is_string() || !event_id || !event_id->is_string() || !seq ||
      !seq->is_number() || !ts || !ts->is_int64() || !actions || !actions->is_array() ||
      !highlight || !highlight->is_bool() || !thread || !thread->is_string()) {
    return bad();
  }
  n.room_id = std::string(room_id->as_string());
  n.event_id = std::string(event_id->as_string());
  n.sequence = seq->to_number<uint64_t>();
  n.ts = ts->as_int64();
  n.actions = actions->as_array();
  n.highlight = highlight->as_bool();
  n.thread_id = std::string(thread->as_string());
  return n;
}

}  // namespace internal

namespace {

using internal::DecodeCounts;

Result<uint64_t> ReadU64(const storage::ReadView& view, std::string_view key) {
  NEBU_ASSIGN_OR_RETURN(auto value, view.Get(storage::Cf::kNotifications, key));
  if (!value) return uint64_t{0};
  if (value->size() != 8) return Status::Corruption("malformed notifications meta value");
  return storage::GetU64(value->data());
}

Status IteratorStatus(const rocksdb::Iterator& it) {
  if (!it.status().ok()) return Status::IoError(it.status().ToString());
  return Status::Ok();
}

}  // namespace

Result<storage::StreamPosition> NotificationsCursor(const storage::ReadView& view) {
  return ReadU64(view, internal::kCursorKey);
}

Status ForEachNotification(const storage::ReadView& view, std::string_view user_id,
                           storage::StreamPosition after_position, size_t limit,
                           const NotificationVisitor& visit) {
  const std::string prefix = internal::RecordPrefix(user_id);
  auto it = view.NewIterator(storage::Cf::kNotifications);
  size_t seen = 0;
  for (it->Seek(internal::RecordKey(user_id, after_position + 1));
       it->Valid() && it->key().starts_with(prefix) && seen < limit; it->Next(), ++seen) {
    NEBU_ASSIGN_OR_RETURN(Notification n,
                          internal::DecodeRecord(it->key().ToStringView(), it->value().ToStringView()));
    if (!visit(n)) break;
  }
  return IteratorStatus(*it);
}

Status ForEachNotificationBefore(const storage::ReadView& view, std::string_view user_id,
                                 storage::StreamPosition before_position, size_t limit,
                                 const NotificationVisitor& visit) {
  const std::string prefix = internal::RecordPrefix(user_id);
  auto it = view.NewIterator(storage::Cf::kNotifications);
  if (before_position == 0) {
    std::string end = prefix;
    end.append(8, '\xff');
    it->SeekForPrev(end);
  } else {
    it->SeekForPrev(internal::RecordKey(user_id, before_position - 1));
  }
  size_t seen = 0;
  for (; it->Valid() && it->key().starts_with(prefix) && seen < limit; it->Prev(), ++seen) {
    NEBU_ASSIGN_OR_RETURN(Notification n,
                          internal::DecodeRecord(it->key().ToStringView(), it->value().ToStringView()));
    if (!visit(n)) break;
  }
  return IteratorStatus(*it);
}

Result<UnreadCounts> RoomUnreadCounts(const storage::ReadView& view, std::string_view user_id,
                                      storage::RoomNumber room) {
  NEBU_ASSIGN_OR_RETURN(auto value, view.Get(storage::Cf::kNotifications,
                                             internal::CountsKey(user_id, room)));
  if (!value) return UnreadCounts{};
  auto counts = DecodeCounts(*value);
  if (!counts) return Status::Corruption("malformed unread counts");
  return *counts;
}

Result<std::map<std::string, UnreadCounts>> ThreadUnreadCounts(const storage::ReadView& view,
                                                               std::string_view user_id,
                                                               storage::RoomNumber room) {
  const std::string prefix = internal::ThreadCountsPrefix(user_id, room);
  std::map<std::string, UnreadCounts> out;
  auto it = view.NewIterator(storage::Cf::kNotifications);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view rest = it->key().ToStringView().substr(prefix.size());
    auto thread = storage::GetLengthPrefixed(&rest);
    auto counts = DecodeCounts(it->value().ToStringView());
    if (!thread || !rest.empty() || !counts) return Status::Corruption("malformed thread counts");
    out.emplace(std::string(*thread), *counts);
  }
  NEBU_RETURN_IF_ERROR(IteratorStatus(*it));
  return out;
}

Result<UnreadCounts> UserUnreadCounts(const storage::ReadView& view, std::string_view user_id) {
  const std::string prefix = internal::CountsPrefix(user_id);
  UnreadCounts total;
  auto it = view.NewIterator(storage::Cf::kNotifications);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto counts = DecodeCounts(it->value().ToStringView());
    if (!counts) return Status::Corruption("malformed unread counts");
    total.notifications += counts->notifications;
    total.highlights += counts->highlights;
  }
  NEBU_RETURN_IF_ERROR(IteratorStatus(*it));
  return total;
}

Result<bool> IsNotificationUnread(const storage::ReadView& view, std::string_view user_id,
                                  storage::RoomNumber room, storage::Sequence seq) {
  NEBU_ASSIGN_OR_RETURN(auto value, view.Get(storage::Cf::kNotifications,
                                             internal::UnreadKey(user_id, room, seq)));
  return value.has_value();
}

}  // namespace nebu::push
