#include "projections/stream_reader.h"

#include <boost/json/parse.hpp>
#include <set>

#include "engine/accounts/accounts.h"
#include "engine/core/room_reads.h"
#include "engine/core/stream_reader.h"
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
  // Room records never change once written: the latest state is as good as any.
  NEBU_ASSIGN_OR_RETURN(auto room_id, core::RoomIdOf(view_, room));
  if (!room_id) return Status::Corruption("stream names room " + std::to_string(room) + " without a room record");
  NEBU_ASSIGN_OR_RETURN(event::RoomVersion version, core::RoomVersionOf(view_, *room_id));
  RoomInfo info{std::move(*room_id), std::string(event::RoomVersionName(version))};
  rooms_.emplace(room, info);
  return info;
}

Status StreamReader::ReadReceipts(const storage::ReadView& view,
                                  const std::set<storage::RoomNumber>& rooms, StreamBatch& batch) {
  // The 'p' index holds exactly one entry per current receipt, at its position: the
  // entries in (after, upto] are what the batch's 'r' entries of the room resolve to
  // (an entry whose receipt was replaced since has no index entry left). One range
  // scan per room instead of one lookup per entry.
  for (storage::RoomNumber number : rooms) {
    NEBU_ASSIGN_OR_RETURN(std::vector<receipts::Receipt> found,
                          receipts::ReceiptsInRoom(view, number, batch.after, batch.upto));
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

Result<DeviceKeysItem> ReadUserKeys(const storage::ReadView& store, std::string_view user_id) {
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

Status StreamReader::ReadDeviceKeys(const storage::ReadView& view, StreamPosition position,
                                    const storage::StreamEntry& entry,
                                    StreamBatch& batch,
                                    std::unordered_map<std::string, size_t>& by_user) {
  ++batch.device_key_entries;
  if (auto seen = by_user.find(entry.user); seen != by_user.end()) {
    batch.device_keys[seen->second].position = position;  // read already: current keys
    return Status::Ok();
  }
  NEBU_ASSIGN_OR_RETURN(DeviceKeysItem item, ReadUserKeys(view, entry.user));
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
  const storage::ReadView view = view_.Pin();  // one snapshot for the whole batch
  storage::RoomLog log(view);
  std::unordered_map<std::string, size_t> key_users;  // user -> index in batch.device_keys
  std::set<storage::RoomNumber> receipt_rooms;        // rooms with 'r' entries in the batch
  Status failed = Status::Ok();
  auto visit = [&](StreamPosition position, const storage::StreamEntry& entry) {
    if (batch.entries() >= limits.entries_max || batch.bytes >= limits.bytes_max) return false;
    if (batch.entries() > 0 && (batch.entries() % 256) == 0 &&
        std::chrono::steady_clock::now() - started >= limits.collect_max) {
      return false;
    }
    failed = Resolve(view, log, position, entry, batch, key_users, receipt_rooms);
    if (!failed.ok()) return false;
    batch.upto = position;
    return true;
  };
  NEBU_RETURN_IF_ERROR(core::ScanStream(view, after, std::nullopt, visit));
  NEBU_RETURN_IF_ERROR(failed);
  NEBU_RETURN_IF_ERROR(ReadReceipts(view, receipt_rooms, batch));
  return batch;
}

Status StreamReader::Resolve(const storage::ReadView& view, storage::RoomLog& log,
                             StreamPosition position, const storage::StreamEntry& entry,
                             StreamBatch& batch, std::unordered_map<std::string, size_t>& key_users,
                             std::set<storage::RoomNumber>& receipt_rooms) {
  switch (entry.kind) {
    case storage::StreamKind::kRoomEvent: {
      NEBU_ASSIGN_OR_RETURN(RoomInfo room, Room(entry.room));
      NEBU_ASSIGN_OR_RETURN(storage::EventRecord record, log.Read(entry.room, entry.sequence));
      if (record.stream_position != position) {
        return Status::Corruption("event " + record.event_id + " has stream position " +
                                  std::to_string(record.stream_position) + ", stream says " +
                                  std::to_string(position));
      }
      batch.bytes += record.json.size();
      batch.events.push_back({std::move(room.room_id), std::move(room.room_version), std::move(record)});
      return Status::Ok();
    }
    case storage::StreamKind::kAccountData: {
      AccountDataItem item{position, entry.user, entry.a, entry.b, std::nullopt};
      std::optional<std::string_view> room;
      if (!entry.a.empty()) room = entry.a;
      Result<std::string> content = accounts::GetAccountData(view, entry.user, room, entry.b);
      if (content.ok()) {
        item.content = std::move(*content);
      } else if (content.status().code() != StatusCode::kNotFound) {
        return content.status();
      }
      batch.bytes += item.content ? item.content->size() : 0;
      batch.account_data.push_back(std::move(item));
      return Status::Ok();
    }
    case storage::StreamKind::kReceipt:
      ++batch.receipt_entries;
      receipt_rooms.insert(entry.room);  // resolved once the batch's end is known
      return Status::Ok();
    case storage::StreamKind::kDeviceKeys:
      return ReadDeviceKeys(view, position, entry, batch, key_users);
    default:
      ++batch.skipped;
      return Status::Ok();
  }
}

Result<StreamPosition> StreamReader::Head() { return core::StreamHead(view_); }

Result<std::optional<int64_t>> StreamReader::FirstEventTsAfter(StreamPosition after) {
  NEBU_ASSIGN_OR_RETURN(StreamBatch batch, Read(after, {.entries_max = 64, .bytes_max = kBatchBytesMax}));
  for (const RoomEventItem& item : batch.events) return std::optional<int64_t>(item.record.origin_server_ts);
  return std::optional<int64_t>();
}

}  // namespace nebu::projections
