#include "projections/stream_reader.h"

#include <boost/json/parse.hpp>
#include <set>

#include "engine/accounts/accounts.h"
#include "engine/e2ee/e2ee.h"
#include "engine/receipts/receipts.h"
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

Status StreamReader::ReadReceipts(const std::set<storage::RoomNumber>& rooms, StreamBatch& batch) {
  // The 'p' index holds exactly one entry per current receipt, at its position: the
  // entries in (after, upto] are what the batch's 'r' entries of the room resolve to
  // (an entry whose receipt was replaced since has no index entry left). One range
  // scan per room instead of one lookup per entry.
  for (storage::RoomNumber number : rooms) {
    NEBU_ASSIGN_OR_RETURN(std::vector<receipts::Receipt> found,
                          receipts::ReceiptsInRoom(store_, number, batch.after, batch.upto));
    if (found.empty()) continue;
    NEBU_ASSIGN_OR_RETURN(RoomInfo room, Room(number));
    for (receipts::Receipt& r : found) {
      batch.bytes += r.event_id.size() + r.user_id.size() + r.thread_id.size();
      batch.receipts.push_back({r.position, room.room_id, std::move(r.user_id), std::move(r.type),
                                std::move(r.thread_id), std::move(r.event_id), r.ts});
    }
  }
  return Status::Ok();
}

namespace {

// algorithms and key IDs of one device's published keys.
Status ParseDeviceKeys(const std::string& user_id, DeviceKeysItem::Device& device) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(device.json, ec);
  const boost::json::object* o = ec ? nullptr : v.if_object();
  if (!o) {
    return Status::Corruption("device keys of " + user_id + " " + device.device_id +
                              " are not a JSON object");
  }
  if (const boost::json::value* a = o->if_contains("algorithms"); a && a->is_array()) {
    for (const boost::json::value& alg : a->as_array()) {
      if (alg.is_string()) device.algorithms.emplace_back(alg.as_string());
    }
  }
  if (const boost::json::value* k = o->if_contains("keys"); k && k->is_object()) {
    for (const auto& kv : k->as_object()) device.key_ids.emplace_back(kv.key());
  }
  return Status::Ok();
}

}  // namespace

Result<DeviceKeysItem> ReadUserKeys(storage::Store& store, std::string_view user_id) {
  DeviceKeysItem item;
  item.user_id = std::string(user_id);
  NEBU_ASSIGN_OR_RETURN(auto devices, e2ee::ListDeviceKeys(store, user_id));
  for (auto& [device_id, json] : devices) {
    DeviceKeysItem::Device d{std::move(device_id), {}, {}, std::move(json)};
    NEBU_RETURN_IF_ERROR(ParseDeviceKeys(item.user_id, d));
    item.devices.push_back(std::move(d));
  }
  for (std::string_view usage : {e2ee::kUsageMaster, e2ee::kUsageSelfSigning, e2ee::kUsageUserSigning}) {
    NEBU_ASSIGN_OR_RETURN(auto key, e2ee::GetCrossSigningKey(store, user_id, usage));
    if (key) item.cross_signing.emplace_back(std::string(usage), std::move(*key));
  }
  return item;
}

Status StreamReader::ReadDeviceKeys(StreamPosition position, const storage::StreamEntry& entry,
                                    StreamBatch& batch,
                                    std::unordered_map<std::string, size_t>& by_user) {
  ++batch.device_key_entries;
  if (auto seen = by_user.find(entry.user); seen != by_user.end()) {
    batch.device_keys[seen->second].position = position;  // read already: current keys
    return Status::Ok();
  }
  NEBU_ASSIGN_OR_RETURN(DeviceKeysItem item, ReadUserKeys(store_, entry.user));
  item.position = position;
  for (const auto& d : item.devices) batch.bytes += d.json.size();
  for (const auto& [usage, key] : item.cross_signing) batch.bytes += key.size();
  by_user.emplace(item.user_id, batch.device_keys.size());
  batch.device_keys.push_back(std::move(item));
  return Status::Ok();
}

Result<StreamBatch> StreamReader::Read(StreamPosition after, const ReadLimits& limits) {
  StreamBatch batch;
  batch.after = after;
  batch.upto = after;
  auto started = std::chrono::steady_clock::now();
  storage::RoomLog log(store_);
  std::unordered_map<std::string, size_t> key_users;  // user -> index in batch.device_keys
  std::set<storage::RoomNumber> receipt_rooms;        // rooms with 'r' entries in the batch
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
      case storage::StreamKind::kReceipt:
        ++batch.receipt_entries;
        receipt_rooms.insert(entry->room);  // resolved once the batch's end is known
        break;
      case storage::StreamKind::kDeviceKeys:
        NEBU_RETURN_IF_ERROR(ReadDeviceKeys(position, *entry, batch, key_users));
        break;
      default:
        ++batch.skipped;
        break;
    }
    batch.upto = position;
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  NEBU_RETURN_IF_ERROR(ReadReceipts(receipt_rooms, batch));
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
