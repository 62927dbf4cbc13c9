#include "engine/compliance/compliance.h"

#include <boost/json.hpp>
#include <map>

#include "engine/compliance/internal/codec.h"
#include "engine/event/canonical_json.h"
#include "engine/event/event.h"
#include "engine/event/identifiers.h"
#include "engine/search/search_index.h"
#include "engine/storage/envelope.h"
#include "engine/storage/room_log.h"

namespace nebu::compliance {
namespace {

namespace json = boost::json;
using internal::HoldKey;
using internal::HoldTargetKey;
using internal::PurgeKey;
using internal::PurgedEventKey;
using internal::PurgeQueueKey;
using storage::Cf;

struct RoomInfo {
  storage::RoomNumber number = 0;
  event::RoomVersion version = event::kDefaultRoomVersion;
};

Result<std::optional<RoomInfo>> LoadRoom(const storage::ReadView& view, std::string_view room_id) {
  NEBU_ASSIGN_OR_RETURN(auto number, view.Get(Cf::kRooms, storage::RoomIdKey(room_id)));
  if (!number) return std::optional<RoomInfo>();
  if (number->size() != 8) return Status::Corruption("bad room number record");
  RoomInfo info{.number = storage::GetU64(number->data())};
  NEBU_ASSIGN_OR_RETURN(auto record, view.Get(Cf::kRooms, storage::RoomNumberKey(info.number)));
  if (!record) return Status::Corruption("room record missing");
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(*record));
  const json::value* name = v.is_object() ? v.as_object().if_contains("room_version") : nullptr;
  auto version = name && name->is_string() ? event::ParseRoomVersion(name->as_string())
                                           : std::nullopt;
  if (!version) return Status::Corruption("bad room record");
  info.version = *version;
  return std::optional<RoomInfo>(info);
}

Result<std::string> ApplyHoldCreate(storage::Store& store, rocksdb::WriteBatch& batch,
                                    const HoldCreate& c) {
  NEBU_ASSIGN_OR_RETURN(auto existing, store.Get(Cf::kAdmin, HoldKey(c.hold_id)));
  if (existing) return Status(StatusCode::kAlreadyExists, "hold " + c.hold_id + " exists");
  Hold hold{.hold_id = c.hold_id,
            .target = c.target,
            .reason = c.reason,
            .case_id = c.case_id,
            .actor = c.actor,
            .created_ts = c.ts};
  NEBU_ASSIGN_OR_RETURN(std::string bytes, internal::EncodeHold(hold));
  batch.Put(store.handle(Cf::kAdmin), HoldKey(c.hold_id), bytes);
  batch.Put(store.handle(Cf::kAdmin), HoldTargetKey(c.target, c.hold_id), "");
  return event::CanonicalJson(json::object{{"hold_id", c.hold_id}});
}

Result<std::string> ApplyHoldRelease(storage::Store& store, rocksdb::WriteBatch& batch,
                                     const HoldRelease& c) {
  NEBU_ASSIGN_OR_RETURN(std::optional<Hold> hold, GetHold(store, c.hold_id));
  if (!hold) return Status::NotFound("no hold " + c.hold_id);
  if (!hold->active()) return Status::InvalidArgument("hold " + c.hold_id + " is released");
  hold->released_ts = c.ts;
  hold->released_by = c.actor;
  NEBU_ASSIGN_OR_RETURN(std::string bytes, internal::EncodeHold(*hold));
  batch.Put(store.handle(Cf::kAdmin), HoldKey(c.hold_id), bytes);
  batch.Delete(store.handle(Cf::kAdmin), HoldTargetKey(hold->target, c.hold_id));
  return event::CanonicalJson(json::object{{"hold_id", c.hold_id}});
}

std::string HoldMessage(const Hold& hold) {
  return "legal hold " + hold.hold_id + " (case " + hold.case_id + ") covers " + hold.target;
}

// content.m.relates_to.event_id when a string: the parent the relations index files the
// event under (core/relations.h indexes any such string; a longer one than it accepts
// has no entry, and deleting an absent key is harmless).
std::optional<std::string> RelatesTo(const json::object& pdu) {
  const json::value* content = pdu.if_contains("content");
  const json::value* rel = content != nullptr && content->is_object()
                               ? content->as_object().if_contains("m.relates_to")
                               : nullptr;
  const json::value* parent =
      rel != nullptr && rel->is_object() ? rel->as_object().if_contains("event_id") : nullptr;
  // core::kRelationParentBytesMax: longer parents are never indexed (engine/core is above
  // this library, so the value is repeated here).
  constexpr size_t kParentBytesMax = 255;
  if (parent == nullptr || !parent->is_string() || parent->as_string().size() > kParentBytesMax) {
    return std::nullopt;
  }
  return std::string(parent->as_string());
}

// One purge command's work over [progress.next_seq, end].
class PurgeStep {
 public:
  PurgeStep(storage::Store& store, rocksdb::WriteBatch& batch, const PurgeEvents& command,
            const RoomInfo& room, PurgeProgress& progress)
      : store_(store), batch_(batch), command_(command), room_(room), progress_(progress) {}

  Status Run(uint64_t end) {
    NEBU_ASSIGN_OR_RETURN(auto next, store_.Get(Cf::kAdmin, internal::kPurgeNextKey));
    if (next && next->size() != 8) return Status::Corruption("bad next purge record number");
    next_number_ = next ? storage::GetU64(next->data()) : 1;
    const uint64_t first_number = next_number_;
    storage::RoomLog log(store_);
    for (uint64_t seq = progress_.next_seq; seq <= end; ++seq) {
      NEBU_ASSIGN_OR_RETURN(storage::EventRecord record, log.Read(room_.number, seq));
      NEBU_RETURN_IF_ERROR(Examine(std::move(record)));
    }
    progress_.next_seq = end + 1;
    if (next_number_ != first_number) {
      batch_.Put(store_.handle(Cf::kAdmin), internal::kPurgeNextKey,
                 storage::U64Key(next_number_));
    }
    return Status::Ok();
  }

 private:
  Status Examine(storage::EventRecord record) {
    NEBU_ASSIGN_OR_RETURN(bool purged, IsPurged(store_, record.event_id));
    if (purged || record.state_key.has_value() ||
        (command_.before_ts && record.origin_server_ts >= *command_.before_ts) ||
        (!command_.keep_server.empty() &&
         event::ServerNameOf(record.sender) == command_.keep_server)) {
      ++progress_.kept;
      return Status::Ok();
    }
    NEBU_ASSIGN_OR_RETURN(bool held, SenderHeld(record.sender));
    if (held) {
      ++progress_.held;
      return Status::Ok();
    }
    return Tombstone(std::move(record));
  }

  Result<bool> SenderHeld(const std::string& sender) {
    auto it = held_.find(sender);
    if (it != held_.end()) return it->second;
    NEBU_ASSIGN_OR_RETURN(std::optional<Hold> hold, FindHold(store_, sender));
    held_.emplace(sender, hold.has_value());
    return hold.has_value();
  }

  Status Tombstone(storage::EventRecord record) {
    NEBU_ASSIGN_OR_RETURN(json::value parsed, event::ParseJson(record.json));
    if (!parsed.is_object()) return Status::Corruption("event JSON is not an object");
    for (const search::EventWord& word : search::WordsOf(parsed.as_object())) {
      batch_.Delete(store_.handle(Cf::kSearch),
                    search::PostingKey(word.word, room_.number, record.stream_position));
    }
    // The relations index entry (core/relations.h) goes too: the relation is in the
    // content, which the tombstone no longer has.
    if (std::optional<std::string> parent = RelatesTo(parsed.as_object())) {
      batch_.Delete(store_.handle(Cf::kRelations),
                    storage::RelationKey(room_.number, *parent, record.sequence));
    }
    NEBU_ASSIGN_OR_RETURN(record.json,
                          event::CanonicalJson(event::Redact(parsed.as_object(), room_.version)));
    batch_.Put(store_.handle(Cf::kEvents), storage::EventKey(room_.number, record.sequence),
               storage::EncodeEnvelope(record));
    const json::object mark{
        {"purge_id", command_.purge_id}, {"reason", command_.reason}, {"ts", command_.ts}};
    NEBU_ASSIGN_OR_RETURN(std::string mark_bytes, event::CanonicalJson(mark));
    batch_.Put(store_.handle(Cf::kAdmin), PurgedEventKey(record.event_id), mark_bytes);
    const json::object queued{{"event_id", record.event_id},
                              {"reason", command_.reason},
                              {"room_id", command_.room_id},
                              {"stream_position", record.stream_position},
                              {"ts", command_.ts}};
    NEBU_ASSIGN_OR_RETURN(std::string queued_bytes, event::CanonicalJson(queued));
    batch_.Put(store_.handle(Cf::kAdmin), PurgeQueueKey(next_number_++), queued_bytes);
    ++progress_.purged;
    return Status::Ok();
  }

  storage::Store& store_;
  rocksdb::WriteBatch& batch_;
  const PurgeEvents& command_;
  const RoomInfo& room_;
  PurgeProgress& progress_;
  uint64_t next_number_ = 1;
  std::map<std::string, bool, std::less<>> held_;  // sender -> under an active hold
};

Result<std::string> ApplyPurgeEvents(storage::Store& store, rocksdb::WriteBatch& batch,
                                     const PurgeEvents& c) {
  NEBU_ASSIGN_OR_RETURN(std::optional<RoomInfo> room, LoadRoom(store, c.room_id));
  if (!room) return Status::NotFound("unknown room " + c.room_id);
  NEBU_ASSIGN_OR_RETURN(std::optional<Hold> hold, FindHold(store, c.room_id));
  if (hold) return Status::Forbidden(HoldMessage(*hold));
  NEBU_ASSIGN_OR_RETURN(std::optional<PurgeProgress> stored, GetPurge(store, c.purge_id));
  PurgeProgress progress;
  if (stored) {
    if (stored->room_id != c.room_id) {
      return Status::InvalidArgument("purge " + c.purge_id + " is a purge of another room");
    }
    progress = std::move(*stored);
    if (progress.done) return internal::EncodeProgress(progress);
  } else {
    NEBU_ASSIGN_OR_RETURN(storage::Sequence last,
                          storage::RoomLog(store).LastSequence(room->number));
    if (c.upto_seq) last = std::min<uint64_t>(last, *c.upto_seq - 1);
    progress = PurgeProgress{.purge_id = c.purge_id,
                             .room_id = c.room_id,
                             .actor = c.actor,
                             .reason = c.reason,
                             .last_seq = last,
                             .created_ts = c.ts};
  }
  const uint64_t end =
      std::min<uint64_t>(progress.last_seq, progress.next_seq + kPurgeEventsPerCommandMax - 1);
  PurgeStep step(store, batch, c, *room, progress);
  NEBU_RETURN_IF_ERROR(step.Run(end));
  progress.done = progress.next_seq > progress.last_seq;
  progress.updated_ts = c.ts;
  NEBU_ASSIGN_OR_RETURN(std::string bytes, internal::EncodeProgress(progress));
  batch.Put(store.handle(Cf::kAdmin), PurgeKey(c.purge_id), bytes);
  return bytes;
}

// VerifyRoomLog's check of one event (see compliance.h).
Status VerifyEvent(const storage::ReadView& view, const RoomInfo& room,
                   const storage::EventView& e) {
  const std::string where = "sequence " + std::to_string(e.sequence) + ": ";
  Result<json::value> parsed = event::ParseJson(e.json);
  if (!parsed.ok() || !parsed->is_object()) {
    return Status::Corruption(where + "the event JSON does not parse");
  }
  const json::object& pdu = parsed->as_object();
  NEBU_ASSIGN_OR_RETURN(std::string id, event::ComputeEventId(pdu, room.version));
  if (id != e.event_id) {
    return Status::Corruption(where + "event ID " + std::string(e.event_id) +
                              " is not the reference hash of the stored JSON (" + id + ")");
  }
  const json::value* prev = pdu.if_contains("prev_events");
  if (prev == nullptr || !prev->is_array()) return Status::Corruption(where + "no prev_events");
  for (const json::value& p : prev->as_array()) {
    if (!p.is_string()) return Status::Corruption(where + "a prev_events entry is no string");
    Result<std::pair<storage::RoomNumber, storage::Sequence>> at =
        storage::RoomLog(view).Locate(p.as_string());
    if (!at.ok() || at->first != room.number || at->second >= e.sequence) {
      return Status::Corruption(where + "prev event " + std::string(p.as_string()) +
                                " is not an earlier event of the room");
    }
  }
  return Status::Ok();
}

}  // namespace

Result<std::string> ApplyPurgeCommand(storage::Store& store, rocksdb::WriteBatch& batch,
                                      std::string_view payload) {
  NEBU_ASSIGN_OR_RETURN(PurgeCommand command, DecodePurgeCommand(payload));
  if (const auto* create = std::get_if<HoldCreate>(&command)) {
    return ApplyHoldCreate(store, batch, *create);
  }
  if (const auto* release = std::get_if<HoldRelease>(&command)) {
    return ApplyHoldRelease(store, batch, *release);
  }
  return ApplyPurgeEvents(store, batch, std::get<PurgeEvents>(command));
}

Result<std::optional<Hold>> FindHold(const storage::ReadView& view, std::string_view target) {
  const std::string prefix = internal::HoldTargetPrefix(target);
  auto it = view.NewIterator(Cf::kAdmin);
  it->Seek(prefix);
  if (it->Valid() && it->key().starts_with(prefix)) {
    const std::string hold_id(it->key().ToStringView().substr(prefix.size()));
    NEBU_ASSIGN_OR_RETURN(std::optional<Hold> hold, GetHold(view, hold_id));
    if (!hold) return Status::Corruption("hold index names a missing hold " + hold_id);
    return hold;
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return std::optional<Hold>();
}

Result<std::optional<Hold>> GetHold(const storage::ReadView& view, std::string_view hold_id) {
  NEBU_ASSIGN_OR_RETURN(auto bytes, view.Get(Cf::kAdmin, HoldKey(hold_id)));
  if (!bytes) return std::optional<Hold>();
  NEBU_ASSIGN_OR_RETURN(Hold hold, internal::DecodeHold(*bytes));
  return std::optional<Hold>(std::move(hold));
}

Status ForEachHold(const storage::ReadView& view, std::string_view after, size_t limit,
                   const std::function<bool(const Hold&)>& visit) {
  const std::string prefix = HoldKey("");
  auto it = view.NewIterator(Cf::kAdmin);
  size_t visited = 0;
  it->Seek(HoldKey(after));
  if (!after.empty() && it->Valid() && it->key() == HoldKey(after)) it->Next();
  for (; it->Valid() && it->key().starts_with(prefix) && visited < limit;
       it->Next(), ++visited) {
    NEBU_ASSIGN_OR_RETURN(Hold hold, internal::DecodeHold(it->value().ToStringView()));
    if (!visit(hold)) return Status::Ok();
  }
  return storage::FromRocks(it->status());
}

Result<std::optional<PurgeProgress>> GetPurge(const storage::ReadView& view,
                                              std::string_view purge_id) {
  NEBU_ASSIGN_OR_RETURN(auto bytes, view.Get(Cf::kAdmin, PurgeKey(purge_id)));
  if (!bytes) return std::optional<PurgeProgress>();
  NEBU_ASSIGN_OR_RETURN(PurgeProgress progress, internal::DecodeProgress(*bytes));
  return std::optional<PurgeProgress>(std::move(progress));
}

Result<bool> IsPurged(const storage::ReadView& view, std::string_view event_id) {
  NEBU_ASSIGN_OR_RETURN(auto bytes, view.Get(Cf::kAdmin, PurgedEventKey(event_id)));
  return bytes.has_value();
}

Status ForEachPurged(const storage::ReadView& view, uint64_t after, size_t limit,
                     const std::function<bool(const PurgedEvent&)>& visit) {
  if (after == UINT64_MAX) return Status::Ok();
  const std::string prefix = internal::PurgeQueuePrefix();
  auto it = view.NewIterator(Cf::kAdmin);
  size_t visited = 0;
  for (it->Seek(PurgeQueueKey(after + 1));
       it->Valid() && it->key().starts_with(prefix) && visited < limit; it->Next(), ++visited) {
    const std::string_view key = it->key().ToStringView();
    if (key.size() != prefix.size() + 8) return Status::Corruption("bad purge record key");
    NEBU_ASSIGN_OR_RETURN(PurgedEvent purged,
                          internal::DecodePurged(it->value().ToStringView()));
    purged.number = storage::GetU64(key.data() + prefix.size());
    if (!visit(purged)) return Status::Ok();
  }
  return storage::FromRocks(it->status());
}

Result<uint64_t> VerifyRoomLog(const storage::ReadView& view, std::string_view room_id) {
  NEBU_ASSIGN_OR_RETURN(std::optional<RoomInfo> room, LoadRoom(view, room_id));
  if (!room) return Status::NotFound("unknown room " + std::string(room_id));
  storage::RoomLog log(view);
  uint64_t checked = 0;
  Status failure;
  Status scan = log.Scan(room->number, 1, UINT64_MAX, SIZE_MAX, [&](const storage::EventView& e) {
    failure = VerifyEvent(view, *room, e);
    ++checked;
    return failure.ok();
  });
  NEBU_RETURN_IF_ERROR(scan);
  NEBU_RETURN_IF_ERROR(failure);
  return checked;
}

}  // namespace nebu::compliance
