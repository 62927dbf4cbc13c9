// RoomApplier::ApplyRoomUpgrade (room_applier.h): one kRoomUpgrade command, applied
// in one batch.
#include <boost/json.hpp>

#include "engine/core/room_applier.h"
#include "engine/core/room_reads.h"
#include "engine/event/canonical_json.h"
#include "engine/event/identifiers.h"
#include "engine/storage/keys.h"

namespace nebu::core {

namespace json = boost::json;
using storage::Cf;

namespace {

// Members read from the old room at most (invites and bans come from these).
constexpr size_t kUpgradeMembersReadMax = 100'000;

const json::string* UpgradeStringAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v ? v->if_string() : nullptr;
}

}  // namespace

Result<Command> MakeRoomUpgradeCommand(const RoomUpgradeCommand& c) {
  json::object o;
  o["room_id"] = c.room_id;
  o["new_room_id"] = c.new_room_id;
  o["room_version"] = std::string(event::RoomVersionName(c.new_version));
  o["sender"] = c.sender;
  o["origin_server_ts"] = c.origin_server_ts;
  NEBU_ASSIGN_OR_RETURN(std::string bytes, event::CanonicalJson(o));
  return Command{CommandKind::kRoomUpgrade, std::move(bytes)};
}

Result<std::vector<AppendedEvent>> RoomApplier::AppendReplacementRoom(
    const rooms::UpgradePlan& plan, int64_t ts, rocksdb::WriteBatch& batch, Counters& counters) {
  NEBU_ASSIGN_OR_RETURN(std::vector<rooms::EventDraft> drafts, rooms::PlanReplacementRoom(plan));
  auto cache = std::make_unique<RoomCache>();
  cache->meta.number = counters.next_room_number;
  cache->meta.room_id = plan.new_room_id;
  cache->meta.version = plan.new_version;
  std::vector<AppendedEvent> appended;
  for (rooms::EventDraft& draft : drafts) {
    if (draft.type == rooms::kMemberType && draft.state_key == plan.sender) {
      NEBU_RETURN_IF_ERROR(AddStoredProfile(plan.sender, draft.content));
    }
    NEBU_ASSIGN_OR_RETURN(AppendedEvent a,
                          AppendEvent(*cache, draft, ts, std::nullopt, batch, counters));
    appended.push_back(std::move(a));
  }
  json::object record;
  record["room_id"] = plan.new_room_id;
  record["room_version"] = std::string(event::RoomVersionName(plan.new_version));
  NEBU_ASSIGN_OR_RETURN(std::string record_bytes, event::CanonicalJson(record));
  std::string number_bytes;
  storage::PutU64(&number_bytes, cache->meta.number);
  batch.Put(store_.handle(Cf::kRooms), storage::RoomIdKey(plan.new_room_id), number_bytes);
  batch.Put(store_.handle(Cf::kRooms), storage::RoomNumberKey(cache->meta.number), record_bytes);
  counters.next_room_number += 1;
  rooms_[plan.new_room_id] = std::move(cache);
  return appended;
}

Status RoomApplier::AppendOldRoomRestrictions(RoomCache& old, std::string_view sender, int64_t ts,
                                              rocksdb::WriteBatch& batch, Counters& counters,
                                              std::vector<AppendedEvent>* appended) {
  std::vector<rooms::EventDraft> drafts;
  NEBU_ASSIGN_OR_RETURN(const std::optional<CachedState>* alias,
                        StateEntry(old, rooms::kCanonicalAliasType, ""));
  if (*alias) {
    const json::value* content = (*alias)->event.if_contains("content");
    if (content && content->is_object() && !content->as_object().empty()) {
      drafts.push_back({std::string(rooms::kCanonicalAliasType), "", json::object{},
                        std::string(sender)});
    }
  }
  NEBU_ASSIGN_OR_RETURN(const std::optional<CachedState>* levels,
                        StateEntry(old, rooms::kPowerLevelsType, ""));
  json::object current;
  if (*levels) {
    const json::value* content = (*levels)->event.if_contains("content");
    if (content && content->is_object()) current = content->as_object();
  }
  if (std::optional<json::object> restricted = rooms::RestrictedPowerLevels(current)) {
    drafts.push_back({std::string(rooms::kPowerLevelsType), "", std::move(*restricted),
                      std::string(sender)});
  }
  for (const rooms::EventDraft& draft : drafts) {
    Result<AppendedEvent> a = AppendEvent(old, draft, ts, std::nullopt, batch, counters);
    if (!a.ok() && a.status().code() == StatusCode::kForbidden) continue;  // "if possible"
    if (!a.ok()) return a.status();
    appended->push_back(std::move(a).value());
  }
  return Status::Ok();
}

Status RoomApplier::MoveDirectoryEntries(std::string_view old_room_id,
                                         std::string_view new_room_id,
                                         rocksdb::WriteBatch& batch) {
  NEBU_RETURN_IF_ERROR(ForEachRoomAlias(
      store_, [&](std::string_view alias, std::string_view room_id, const auto&) {
        if (room_id == old_room_id) {
          batch.Put(store_.handle(Cf::kRooms), storage::RoomAliasKey(alias), new_room_id);
        }
        return Status::Ok();
      }));
  NEBU_ASSIGN_OR_RETURN(bool published, IsRoomPublished(store_, old_room_id));
  if (published) {
    batch.Delete(store_.handle(Cf::kRooms), storage::RoomPublishedKey(old_room_id));
    batch.Put(store_.handle(Cf::kRooms), storage::RoomPublishedKey(new_room_id), "");
  }
  return Status::Ok();
}

Result<std::string> RoomApplier::ApplyRoomUpgrade(std::string_view payload,
                                                  rocksdb::WriteBatch& batch, Counters& counters) {
  NEBU_ASSIGN_OR_RETURN(json::value parsed, event::ParseJson(payload));
  const json::object* o = parsed.if_object();
  if (!o) return Status::BadJson("room upgrade command is not an object");
  const json::string* room_id = UpgradeStringAt(*o, "room_id");
  const json::string* new_room_id = UpgradeStringAt(*o, "new_room_id");
  const json::string* version_name = UpgradeStringAt(*o, "room_version");
  const json::string* sender = UpgradeStringAt(*o, "sender");
  const json::value* ts = o->if_contains("origin_server_ts");
  auto version = version_name ? event::ParseRoomVersion(*version_name) : std::nullopt;
  if (!room_id || !new_room_id || !version || !sender || !ts || !ts->is_int64()) {
    return Status::BadJson("room upgrade command misses a field");
  }
  if (!event::IsValidRoomId(*new_room_id)) return Status::InvalidArgument("bad room id");
  NEBU_ASSIGN_OR_RETURN(auto existing, store_.Get(Cf::kRooms, storage::RoomIdKey(*new_room_id)));
  if (existing || rooms_.count(std::string(*new_room_id))) {
    return Status::AlreadyExists("room id in use");
  }
  NEBU_ASSIGN_OR_RETURN(RoomCache * old, Room(*room_id));
  const Counters before = counters;
  // Step 1 and 5: the tombstone; its authorization is the permission check. A refusal
  // changes nothing (AppendEvent adds nothing on error).
  NEBU_ASSIGN_OR_RETURN(AppendedEvent tombstone,
                        AppendEvent(*old, rooms::TombstoneDraft(*sender, *new_room_id),
                                    ts->as_int64(), std::nullopt, batch, counters));
  auto steps = [&]() -> Result<std::vector<AppendedEvent>> {
    rooms::RoomState old_state;
    NEBU_RETURN_IF_ERROR(LoadStateInto(*old, rooms::kCreateType, "", old_state));
    NEBU_RETURN_IF_ERROR(LoadStateInto(*old, rooms::kPowerLevelsType, "", old_state));
    for (std::string_view type : rooms::kTransferableStateTypes) {
      NEBU_RETURN_IF_ERROR(LoadStateInto(*old, type, "", old_state));
    }
    rooms::UpgradePlan plan{.sender = std::string(*sender),
                            .old_room_id = std::string(*room_id),
                            .new_room_id = std::string(*new_room_id),
                            .new_version = *version,
                            .tombstone_event_id = tombstone.event_id,
                            .old_state = &old_state};
    NEBU_ASSIGN_OR_RETURN(std::vector<RoomMember> members,
                          RoomMembers(store_, old->meta.number, kUpgradeMembersReadMax));
    for (RoomMember& m : members) {
      if (m.membership == rooms::Membership::kJoin) plan.joined.push_back(std::move(m.user_id));
      if (m.membership == rooms::Membership::kBan) plan.banned.push_back(std::move(m.user_id));
    }
    std::vector<AppendedEvent> out{tombstone};
    NEBU_ASSIGN_OR_RETURN(std::vector<AppendedEvent> created,
                          AppendReplacementRoom(plan, ts->as_int64(), batch, counters));
    out.insert(out.end(), created.begin(), created.end());
    NEBU_RETURN_IF_ERROR(
        AppendOldRoomRestrictions(*old, *sender, ts->as_int64(), batch, counters, &out));
    NEBU_RETURN_IF_ERROR(MoveDirectoryEntries(*room_id, *new_room_id, batch));
    return out;
  };
  Result<std::vector<AppendedEvent>> appended = steps();
  if (!appended.ok()) {
    Abort();  // the old room's cache holds the tombstone; the state machine rolls back
    counters = before;
    return appended.status();
  }
  return EncodeAppended(*appended);
}

}  // namespace nebu::core
