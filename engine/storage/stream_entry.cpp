#include "engine/storage/stream_entry.h"

#include <rocksdb/write_batch.h>

#include <utility>

#include "engine/common/status.h"
#include "engine/storage/store.h"

namespace nebu::storage {
namespace {

constexpr size_t kRoomEventBytes = 16;

bool KnownTag(char tag) {
  switch (static_cast<StreamKind>(tag)) {
    case StreamKind::kAccountData:
    case StreamKind::kToDevice:
    case StreamKind::kDeviceKeys:
    case StreamKind::kReceipt:
      return true;
    default:
      return false;
  }
}

}  // namespace

StreamEntry StreamEntry::RoomEvent(RoomNumber room, Sequence seq) {
  return StreamEntry{.kind = StreamKind::kRoomEvent, .room = room, .sequence = seq};
}
StreamEntry StreamEntry::AccountData(std::string user, std::string room_id, std::string type) {
  return StreamEntry{.kind = StreamKind::kAccountData,
                     .user = std::move(user),
                     .a = std::move(room_id),
                     .b = std::move(type)};
}
StreamEntry StreamEntry::ToDevice(std::string user, std::string device_id) {
  return StreamEntry{.kind = StreamKind::kToDevice, .user = std::move(user), .a = std::move(device_id)};
}
StreamEntry StreamEntry::DeviceKeys(std::string user, bool device_left) {
  return StreamEntry{
      .kind = StreamKind::kDeviceKeys, .user = std::move(user), .a = device_left ? "left" : ""};
}
StreamEntry StreamEntry::Receipt(RoomNumber room, std::string user, std::string receipt_type) {
  return StreamEntry{.kind = StreamKind::kReceipt,
                     .room = room,
                     .user = std::move(user),
                     .a = std::move(receipt_type)};
}

std::string EncodeStreamEntry(const StreamEntry& entry) {
  if (entry.kind == StreamKind::kRoomEvent) {
    NEBU_CHECK(entry.room >> 56 == 0, "room number out of range for the stream");
    return EventKey(entry.room, entry.sequence);
  }
  std::string out;
  out.push_back(static_cast<char>(entry.kind));
  PutU64(&out, entry.room);
  PutLengthPrefixed(&out, entry.user);
  PutLengthPrefixed(&out, entry.a);
  PutLengthPrefixed(&out, entry.b);
  return out;
}

std::optional<StreamEntry> DecodeStreamEntry(std::string_view value) {
  if (value.empty()) return std::nullopt;
  if (value[0] == 0) {
    if (value.size() != kRoomEventBytes) return std::nullopt;
    auto key = DecodeEventKey(value);
    if (!key) return std::nullopt;
    return StreamEntry::RoomEvent(key->first, key->second);
  }
  if (!KnownTag(value[0])) return std::nullopt;
  StreamEntry entry;
  entry.kind = static_cast<StreamKind>(value[0]);
  std::string_view in = value.substr(1);
  auto room = GetU64(&in);
  if (!room) return std::nullopt;
  entry.room = *room;
  auto user = GetLengthPrefixed(&in);
  auto a = user ? GetLengthPrefixed(&in) : std::nullopt;
  auto b = a ? GetLengthPrefixed(&in) : std::nullopt;
  if (!b || !in.empty()) return std::nullopt;
  entry.user = std::string(*user);
  entry.a = std::string(*a);
  entry.b = std::string(*b);
  return entry;
}

StreamPosition StreamAppender::Append(const StreamEntry& entry) {
  ++position_;
  batch_.Put(store_.handle(Cf::kStream), U64Key(position_), EncodeStreamEntry(entry));
  return position_;
}

}  // namespace nebu::storage
