#include "projections/stream_reader.h"

#include <boost/json/parse.hpp>

#include "engine/accounts/accounts.h"
#include "engine/storage/room_log.h"
#include "engine/storage/stream_entry.h"

namespace nebu::projections {

using storage::Cf;
using storage::StreamPosition;

Result<StreamReader::RoomInfo> StreamReader::Room(storage::RoomNumber room) {
  auto it = rooms_.find(room);
  if (it != rooms_.end()) return it->second;
  NEBU_ASSIGN_OR_RETURN(auto record, store_.Get(Cf::kRooms, storage::RoomNumberKey(room)));
  if (!record) return Status::Corruption("stream names room " + std::to_string(room) + " without a room record");
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(*record, ec);
  const boost::json::object* o = ec ? nullptr : v.if_object();
  const boost::json::value* id = o ? o->if_contains("room_id") : nullptr;
  const boost::json::value* version = o ? o->if_contains("room_version") : nullptr;
  if (!id || !id->is_string() || !version || !version->is_string()) {
    return Status::Corruption("bad room record for room " + std::to_string(room));
  }
  RoomInfo info{std::string(id->as_string()), std::string(version->as_string())};
  rooms_.emplace(room, info);
  return info;
}

Result<StreamBatch> StreamReader::Read(StreamPosition after, const ReadLimits& limits) {
  StreamBatch batch;
  batch.after = after;
  batch.upto = after;
  auto started = std::chrono::steady_clock::now();
  storage::RoomLog log(store_);
  auto it = store_.NewIterator(Cf::kStream);
  for (it->Seek(storage::U64Key(after + 1)); it->Valid(); it->Next()) {
    if (batch.entries() >= limits.entries_max || batch.bytes >= limits.bytes_max) break;
    if (batch.entries() > 0 && (batch.entries() % 256) == 0 &&
        std::chrono::steady_clock::now() - started >= limits.collect_max) {
      break;
    }
    rocksdb::Slice key = it->key();
    if (key.size() != 8) return Status::Corruption("bad stream key");
    StreamPosition position = storage::GetU64(key.data());
    auto entry = storage::DecodeStreamEntry(std::string_view(it->value().data(), it->value().size()));
    if (!entry) return Status::Corruption("bad stream entry at " + std::to_string(position));
    switch (entry->kind) {
      case storage::StreamKind::kRoomEvent: {
        NEBU_ASSIGN_OR_RETURN(RoomInfo room, Room(entry->room));
        NEBU_ASSIGN_OR_RETURN(storage::EventRecord record, log.Read(entry->room, entry->sequence));
        if (record.stream_position != position) {
          return Status::Corruption("event " + record.event_id + " has stream position " +
                                    std::to_string(record.stream_position) + ", stream says " +
                                    std::to_string(position));
        }
        batch.bytes += record.json.size();
        batch.events.push_back({std::move(room.room_id), std::move(room.room_version), std::move(record)});
        break;
      }
      case storage::StreamKind::kAccountData: {
        AccountDataItem item{position, entry->user, entry->a, entry->b, std::nullopt};
        std::optional<std::string_view> room;
        if (!entry->a.empty()) room = entry->a;
        Result<std::string> content = accounts::GetAccountData(store_, entry->user, room, entry->b);
        if (content.ok()) {
          item.content = std::move(*content);
        } else if (content.status().code() != StatusCode::kNotFound) {
          return content.status();
        }
        batch.bytes += item.content ? item.content->size() : 0;
        batch.account_data.push_back(std::move(item));
        break;
      }
      default:
        ++batch.skipped;
        break;
    }
    batch.upto = position;
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return batch;
}

Result<StreamPosition> StreamReader::Head() {
  auto it = store_.NewIterator(Cf::kStream);
  it->SeekToLast();
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  if (!it->Valid()) return StreamPosition{0};
  if (it->key().size() != 8) return Status::Corruption("bad stream key");
  return storage::GetU64(it->key().data());
}

Result<std::optional<int64_t>> StreamReader::FirstEventTsAfter(StreamPosition after) {
  NEBU_ASSIGN_OR_RETURN(StreamBatch batch, Read(after, {.entries_max = 64, .bytes_max = kBatchBytesMax}));
  for (const RoomEventItem& item : batch.events) return std::optional<int64_t>(item.record.origin_server_ts);
  return std::optional<int64_t>();
}

}  // namespace nebu::projections
