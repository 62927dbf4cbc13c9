#include "engine/core/room_applier.h"

#include <boost/json.hpp>

#include "engine/admin/admin.h"
#include "engine/core/relations.h"
#include "engine/search/search_index.h"
#include "engine/core/threads.h"
#include "engine/event/canonical_json.h"
#include "engine/event/identifiers.h"
#include "engine/rooms/auth_rules.h"
#include "engine/storage/keys.h"

namespace nebu::core {

namespace json = boost::json;
using storage::Cf;

namespace {

// Bounds on the apply thread's caches; past them a cache is dropped and reloads.
constexpr size_t kRoomCacheRoomsMax = 10'000;
constexpr size_t kRoomCacheStateEntriesMax = 4'096;

// Command payloads and outcomes carry request values (IDs, types, content); one that
// is not canonical JSON (invalid UTF-8, a float) is the caller's kBadJson, never an abort.
Result<std::string> Canonical(const json::value& v) { return event::CanonicalJson(v); }

Result<Command> MakeCommand(CommandKind kind, const json::value& payload) {
  NEBU_ASSIGN_OR_RETURN(std::string bytes, Canonical(payload));
  return Command{kind, std::move(bytes)};
}

Result<json::object> ParseObject(std::string_view text) {
  NEBU_ASSIGN_OR_RETURN(json::value v, event::ParseJson(text));
  if (!v.is_object()) return Status::BadJson("expected a JSON object");
  return std::move(v.as_object());
}

const json::string* StringAt(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v ? v->if_string() : nullptr;
}

std::optional<std::string> OptionalString(const json::object& o, std::string_view key) {
  if (const json::string* s = StringAt(o, key)) return std::string(*s);
  return std::nullopt;
}

json::object DraftToJson(const rooms::EventDraft& d) {
  json::object o;
  o["type"] = d.type;
  if (d.state_key) o["state_key"] = *d.state_key;
  o["content"] = d.content;
  o["sender"] = d.sender;
  return o;
}

Result<rooms::EventDraft> DraftFromJson(const json::value& v) {
  const json::object* o = v.if_object();
  if (!o) return Status::Corruption("draft is not an object");
  const json::string* type = StringAt(*o, "type");
  const json::string* sender = StringAt(*o, "sender");
  const json::value* content = o->if_contains("content");
  if (!type || !sender || !content || !content->is_object()) {
    return Status::Corruption("draft misses type, sender or content");
  }
  return rooms::EventDraft{std::string(*type), OptionalString(*o, "state_key"),
                           content->as_object(), std::string(*sender)};
}

std::string MembershipValue(rooms::Membership m, Sequence seq, StreamPosition pos) {
  std::string v(1, static_cast<char>(m));
  storage::PutU64(&v, seq);
  storage::PutU64(&v, pos);
  return v;
}

// The event an m.room.redaction draft redacts: the command's `redacts` (POST /redact)
// or content.redacts (PUT /send and /state bodies: v11's place, which clients of
// every version use). nullopt for other types. kBadJson for a redaction without a
// target; kInvalidArgument when the two name different events or `redacts` comes
// with another type.
Result<std::optional<std::string>> RedactionTarget(const rooms::EventDraft& draft,
                                                   const std::optional<std::string>& redacts) {
  if (draft.type != "m.room.redaction") {
    if (redacts) return Status::InvalidArgument("only m.room.redaction events redact");
    return std::optional<std::string>();
  }
  std::optional<std::string> target = redacts;
  if (const json::value* in_content = draft.content.if_contains("redacts")) {
    if (!in_content->is_string()) return Status::BadJson("content.redacts must be an event ID");
    if (target && *target != std::string_view(in_content->as_string())) {
      return Status::InvalidArgument("the path and content.redacts name different events");
    }
    target = std::string(in_content->as_string());
  }
  if (!target) return Status::BadJson("an m.room.redaction event needs redacts");
  return target;
}

bool FlagSet(const json::object& o, std::string_view key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_bool() && v->as_bool();
}

// An m.room.member event of `membership` with `sender` as its state_key.
bool IsOwnMembership(const rooms::EventDraft& d, std::string_view membership) {
  if (d.type != "m.room.member" || d.state_key != d.sender) return false;
  const json::string* m = StringAt(d.content, "membership");
  return m && *m == membership;
}

// An m.room.member join of `sender` by `sender`.
bool IsOwnJoin(const rooms::EventDraft& d) { return IsOwnMembership(d, "join"); }

// An m.room.member invite (of state_key by sender).
bool IsInvite(const rooms::EventDraft& d) {
  if (d.type != "m.room.member" || !d.state_key) return false;
  const json::string* m = StringAt(d.content, "membership");
  return m && *m == "invite";
}

// A join, knock or invite into a room an admin blocked (engine/admin/admin.h
// "block_room"): kForbidden. Decided in apply from the replicated block record, so
// every node refuses the same events and a join racing the block cannot slip in.
// Block commands (kAudit) are applied alone with the batch flushed, so the store read
// sees every block ordered before this event.
Status CheckRoomNotBlocked(storage::Store& store, const rooms::EventDraft& d,
                           std::string_view room_id) {
  if (d.type != "m.room.member") return Status::Ok();
  const json::string* m = StringAt(d.content, "membership");
  if (!m || (*m != "join" && *m != "invite" && *m != "knock")) return Status::Ok();
  NEBU_ASSIGN_OR_RETURN(std::optional<admin::RoomBlock> block,
                        admin::GetRoomBlock(store, room_id));
  if (block) return Status::Forbidden("This room has been blocked on this server");
  return Status::Ok();
}

}  // namespace

Result<Command> MakeSendEventCommand(const SendEventRequest& r) {
  json::object o;
  o["room_id"] = r.room_id;
  o["sender"] = r.sender;
  if (!r.device_id.empty() && !r.txn_id.empty()) {
    o["device_id"] = r.device_id;
    o["txn_id"] = r.txn_id;
  }
  o["type"] = r.type;
  if (r.state_key) o["state_key"] = *r.state_key;
  o["content"] = r.content;
  o["origin_server_ts"] = r.origin_server_ts;
  if (r.redacts) o["redacts"] = *r.redacts;
  if (r.sender_profile) o["sender_profile"] = true;
  if (r.target_profile) o["target_profile"] = true;
  if (r.restricted_join) o["restricted_join"] = true;
  return MakeCommand(CommandKind::kRoomEvent, o);
}

Result<Command> MakeAliasCommand(const AliasCommand& c) {
  json::object o;
  switch (c.op) {
    case AliasCommand::Op::kPut: o["op"] = "put"; break;
    case AliasCommand::Op::kDelete: o["op"] = "delete"; break;
    case AliasCommand::Op::kPublish: o["op"] = "publish"; break;
    case AliasCommand::Op::kUnpublish: o["op"] = "unpublish"; break;
  }
  o["alias"] = c.alias;
  if (c.op != AliasCommand::Op::kDelete) o["room_id"] = c.room_id;
  o["sender"] = c.sender;
  return MakeCommand(CommandKind::kAlias, o);
}

Result<Command> MakeCreateRoomCommand(const CreateRoomCommand& c) {
  json::object o;
  o["room_id"] = c.room_id;
  o["room_version"] = std::string(event::RoomVersionName(c.room_version));
  o["origin_server_ts"] = c.origin_server_ts;
  json::array events;
  for (const auto& d : c.events) events.push_back(DraftToJson(d));
  o["events"] = std::move(events);
  if (c.alias) o["alias"] = *c.alias;
  if (c.publish) o["publish"] = true;
  if (c.creator_profile) o["creator_profile"] = true;
  return MakeCommand(CommandKind::kCreateRoom, o);
}

Result<std::string> EncodeAppended(const std::vector<AppendedEvent>& events) {
  json::array a;
  for (const auto& e : events) {
    json::object o;
    o["event_id"] = e.event_id;
    o["room_id"] = e.room_id;
    o["sequence"] = e.sequence;
    o["stream_position"] = e.stream_position;
    if (e.deduplicated) o["deduplicated"] = true;
    a.push_back(std::move(o));
  }
  json::object out;
  out["events"] = std::move(a);
  return Canonical(out);
}

Result<std::vector<AppendedEvent>> DecodeAppended(std::string_view text) {
  NEBU_ASSIGN_OR_RETURN(json::object o, ParseObject(text));
  const json::value* events = o.if_contains("events");
  if (!events || !events->is_array()) return Status::Internal("outcome has no events");
  std::vector<AppendedEvent> out;
  for (const auto& v : events->as_array()) {
    const json::object& e = v.as_object();
    AppendedEvent a;
    a.event_id = std::string(e.at("event_id").as_string());
    a.room_id = std::string(e.at("room_id").as_string());
    a.sequence = e.at("sequence").to_number<uint64_t>();
    a.stream_position = e.at("stream_position").to_number<uint64_t>();
    a.deduplicated = e.contains("deduplicated");
    out.push_back(std::move(a));
  }
  return out;
}

Result<RoomMeta> LoadRoomMeta(const storage::ReadView& store, std::string_view room_id) {
  NEBU_ASSIGN_OR_RETURN(auto number_bytes, store.Get(Cf::kRooms, storage::RoomIdKey(room_id)));
  if (!number_bytes) return Status::NotFound("unknown room " + std::string(room_id));
  if (number_bytes->size() != 8) return Status::Corruption("bad room number record");
  RoomMeta meta;
  meta.number = storage::GetU64(number_bytes->data());
  meta.room_id = std::string(room_id);
  NEBU_ASSIGN_OR_RETURN(auto record, store.Get(Cf::kRooms, storage::RoomNumberKey(meta.number)));
  if (!record) return Status::Corruption("room record missing for " + meta.room_id);
  NEBU_ASSIGN_OR_RETURN(json::object r, ParseObject(*record));
  const json::string* version = StringAt(r, "room_version");
  auto parsed = version ? event::ParseRoomVersion(*version) : std::nullopt;
  if (!parsed) return Status::Corruption("room record has no valid room_version");
  meta.version = *parsed;
  storage::RoomLog log(store);
  NEBU_ASSIGN_OR_RETURN(meta.last_seq, log.LastSequence(meta.number));
  if (meta.last_seq > 0) {
    NEBU_ASSIGN_OR_RETURN(storage::EventRecord last, log.Read(meta.number, meta.last_seq));
    NEBU_ASSIGN_OR_RETURN(json::object pdu, ParseObject(last.json));
    const json::value* depth = pdu.if_contains("depth");
    if (!depth || !depth->is_int64()) return Status::Corruption("last event has no depth");
    meta.last_event_id = last.event_id;
    meta.depth = depth->as_int64();
  }
  return meta;
}

Result<RoomApplier::RoomCache*> RoomApplier::Room(std::string_view room_id) {
  auto it = rooms_.find(std::string(room_id));
  if (it != rooms_.end()) return it->second.get();
  NEBU_ASSIGN_OR_RETURN(RoomMeta meta, LoadRoomMeta(store_, room_id));
  auto cache = std::make_unique<RoomCache>();
  cache->meta = std::move(meta);
  RoomCache* raw = cache.get();
  rooms_.emplace(std::string(room_id), std::move(cache));
  return raw;
}

Result<const std::optional<RoomApplier::CachedState>*> RoomApplier::StateEntry(
    RoomCache& room, std::string_view type, std::string_view state_key) {
  auto it = room.state.find(std::pair{type, state_key});
  if (it != room.state.end()) return &it->second;
  std::optional<CachedState> entry;
  NEBU_ASSIGN_OR_RETURN(auto seq_bytes, store_.Get(Cf::kStateCurrent,
                                                   storage::StateKey(room.meta.number, type,
                                                                     state_key)));
  if (seq_bytes) {
    if (seq_bytes->size() != 8) return Status::Corruption("bad current-state record");
    NEBU_ASSIGN_OR_RETURN(storage::EventRecord rec,
                          log_.Read(room.meta.number, storage::GetU64(seq_bytes->data())));
    NEBU_ASSIGN_OR_RETURN(json::object pdu, ParseObject(rec.json));
    entry = CachedState{rec.event_id, std::move(pdu)};
  }
  auto [pos, inserted] =
      room.state.emplace(rooms::RoomState::Key{std::string(type), std::string(state_key)},
                         std::move(entry));
  return &pos->second;
}

Status RoomApplier::LoadAuthState(RoomCache& room, const json::object& pdu,
                                  rooms::RoomState& state, json::array& auth_ids) {
  for (const auto& [type, key] : rooms::AuthEventKeys(pdu)) {
    NEBU_ASSIGN_OR_RETURN(const std::optional<CachedState>* entry, StateEntry(room, type, key));
    if (!*entry) continue;
    state.Set(type, key, (*entry)->event);
    auth_ids.emplace_back((*entry)->event_id);
  }
  return Status::Ok();
}

Result<std::optional<RoomApplier::StagedEvent>> RoomApplier::FindEvent(
    std::string_view event_id) {
  if (auto it = staged_events_.find(std::string(event_id)); it != staged_events_.end()) {
    return std::optional<StagedEvent>(it->second);
  }
  auto located = log_.Locate(event_id);
  if (!located.ok()) {
    if (located.status().code() == StatusCode::kNotFound) return std::optional<StagedEvent>();
    return located.status();
  }
  NEBU_ASSIGN_OR_RETURN(storage::EventRecord target, log_.Read(located->first, located->second));
  return std::optional<StagedEvent>(StagedEvent{located->first, std::move(target.sender)});
}

Status RoomApplier::CheckRedaction(RoomCache& room, std::string_view redacts,
                                   std::string_view sender, const rooms::RoomState& state) {
  // One answer for "unknown" and "in another room": no probe for other rooms' events.
  constexpr std::string_view kNotHere = "the event to redact is not an event of this room";
  if (!event::IsValidEventId(redacts)) return Status::InvalidArgument(std::string(kNotHere));
  NEBU_ASSIGN_OR_RETURN(std::optional<StagedEvent> target, FindEvent(redacts));
  if (!target || target->room != room.meta.number) {
    return Status::InvalidArgument(std::string(kNotHere));
  }
  if (!rooms::RedactionAllowed(sender, target->sender, state)) {
    return Status::Forbidden("redacting another user's event needs the redact power level");
  }
  return Status::Ok();
}

Status RoomApplier::LoadStateInto(RoomCache& room, std::string_view type,
                                  std::string_view state_key, rooms::RoomState& state) {
  NEBU_ASSIGN_OR_RETURN(const std::optional<CachedState>* entry, StateEntry(room, type, state_key));
  if (*entry) state.Set(std::string(type), std::string(state_key), (*entry)->event);
  return Status::Ok();
}

Status RoomApplier::AddStoredProfile(std::string_view user_id, json::object& content) {
  Result<accounts::Profile> profile = accounts::GetProfile(store_, user_id);
  if (!profile.ok()) {
    return profile.status().code() == StatusCode::kNotFound ? Status::Ok() : profile.status();
  }
  if (profile->displayname) content["displayname"] = *profile->displayname;
  if (profile->avatar_url) content["avatar_url"] = *profile->avatar_url;
  return Status::Ok();
}

Result<RoomApplier::ProfileMemberEvents> RoomApplier::AppendProfileMemberEvents(
    const accounts::MemberEventRefresh& refresh, rocksdb::WriteBatch& batch,
    Counters& counters) {
  const std::string& user_id = refresh.user_id;
  const accounts::Profile& profile = refresh.profile;
  const int64_t ts = refresh.origin_server_ts;
  // The joined rooms above after_room, in room-number order (the key order), from the
  // store: at most rooms_max, and whether another one follows.
  std::vector<RoomNumber> joined;
  ProfileMemberEvents out;
  const std::string prefix = storage::UserRoomsPrefix(user_id);
  auto it = store_.NewIterator(Cf::kMembership);
  for (it->Seek(storage::UserRoomKey(user_id, refresh.after_room + 1));
       it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view k = it->key().ToStringView();
    if (k.size() != prefix.size() + 8 || it->value().empty()) {
      return Status::Corruption("bad membership record");
    }
    if (static_cast<rooms::Membership>(it->value().data()[0]) != rooms::Membership::kJoin) continue;
    if (refresh.rooms_max && joined.size() == *refresh.rooms_max) {
      out.more_after = joined.back();
      break;
    }
    joined.push_back(storage::GetU64(k.data() + prefix.size()));
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));

  rooms::EventDraft draft{"m.room.member", std::string(user_id), json::object{},
                          std::string(user_id)};
  draft.content["membership"] = "join";
  if (profile.displayname) draft.content["displayname"] = *profile.displayname;
  if (profile.avatar_url) draft.content["avatar_url"] = *profile.avatar_url;
  for (RoomNumber number : joined) {
    Result<AppendedEvent> a = AppendMemberEventIn(number, draft, ts, batch, counters);
    if (!a.ok() && a.status().code() == StatusCode::kForbidden) continue;  // the rules refuse
    if (!a.ok()) {
      Abort();  // caches may hold events of rooms before this one; the batch rolls back
      return a.status();
    }
    out.events.push_back(std::move(a).value());
  }
  return out;
}

Result<AppendedEvent> RoomApplier::AppendMemberEventIn(RoomNumber number,
                                                       const rooms::EventDraft& draft, int64_t ts,
                                                       rocksdb::WriteBatch& batch,
                                                       Counters& counters) {
  NEBU_ASSIGN_OR_RETURN(auto record, store_.Get(Cf::kRooms, storage::RoomNumberKey(number)));
  if (!record) return Status::Corruption("membership names an unknown room");
  NEBU_ASSIGN_OR_RETURN(json::object r, ParseObject(*record));
  const json::string* room_id = StringAt(r, "room_id");
  if (!room_id) return Status::Corruption("room record has no room_id");
  NEBU_ASSIGN_OR_RETURN(RoomCache * room, Room(*room_id));
  return AppendEvent(*room, draft, ts, std::nullopt, batch, counters);
}

Result<std::string> RoomApplier::ApplyAlias(std::string_view payload, rocksdb::WriteBatch& batch) {
  NEBU_ASSIGN_OR_RETURN(json::object o, ParseObject(payload));
  const json::string* op = StringAt(o, "op");
  const json::string* alias = StringAt(o, "alias");
  const json::string* sender = StringAt(o, "sender");
  if (!op || !alias || !sender) return Status::BadJson("alias command misses a field");
  rooms::RoomState state;
  if (*op == "publish" || *op == "unpublish") {
    const json::string* room_id = StringAt(o, "room_id");
    if (!room_id) return Status::BadJson("publish without room_id");
    NEBU_ASSIGN_OR_RETURN(RoomCache * room, Room(*room_id));
    NEBU_RETURN_IF_ERROR(LoadStateInto(*room, "m.room.create", "", state));
    NEBU_RETURN_IF_ERROR(LoadStateInto(*room, "m.room.power_levels", "", state));
    NEBU_RETURN_IF_ERROR(LoadStateInto(*room, "m.room.member", *sender, state));
    rooms::PowerLevels levels = state.GetPowerLevels();
    if (state.MembershipOf(*sender) != rooms::Membership::kJoin ||
        levels.UserLevel(*sender) < levels.EventLevel("m.room.canonical_alias", true)) {
      return Status::Forbidden("only a member who may set the room's canonical alias may list it");
    }
    std::string key = storage::RoomPublishedKey(*room_id);
    if (*op == "publish") {
      batch.Put(store_.handle(Cf::kRooms), key, "");
    } else {
      batch.Delete(store_.handle(Cf::kRooms), key);
    }
    return std::string("{}");
  }
  if (!event::IsValidRoomAlias(*alias)) return Status::InvalidArgument("bad room alias");
  NEBU_ASSIGN_OR_RETURN(auto target, store_.Get(Cf::kRooms, storage::RoomAliasKey(*alias)));
  if (*op == "put") {
    const json::string* room_id = StringAt(o, "room_id");
    if (!room_id) return Status::BadJson("alias put without room_id");
    if (target) return Status::AlreadyExists("room alias already exists");
    NEBU_ASSIGN_OR_RETURN(RoomCache * room, Room(*room_id));
    NEBU_RETURN_IF_ERROR(LoadStateInto(*room, "m.room.member", *sender, state));
    if (state.MembershipOf(*sender) != rooms::Membership::kJoin) {
      return Status::Forbidden("only a joined member may add an alias for the room");
    }
    batch.Put(store_.handle(Cf::kRooms), storage::RoomAliasKey(*alias),
              std::string_view(*room_id));
    batch.Put(store_.handle(Cf::kRooms), storage::RoomAliasCreatorKey(*alias),
              std::string_view(*sender));
    return std::string("{}");
  }
  if (*op != "delete") return Status::BadJson("unknown alias op");
  if (!target) return Status::NotFound("no such room alias");
  NEBU_ASSIGN_OR_RETURN(auto creator, store_.Get(Cf::kRooms, storage::RoomAliasCreatorKey(*alias)));
  if (!creator || *creator != std::string_view(*sender)) {
    NEBU_ASSIGN_OR_RETURN(RoomCache * room, Room(*target));
    NEBU_RETURN_IF_ERROR(LoadStateInto(*room, "m.room.create", "", state));
    NEBU_RETURN_IF_ERROR(LoadStateInto(*room, "m.room.power_levels", "", state));
    rooms::PowerLevels levels = state.GetPowerLevels();
    if (levels.UserLevel(*sender) < levels.EventLevel("m.room.canonical_alias", true)) {
      return Status::Forbidden("only the alias's creator or a room moderator may remove it");
    }
  }
  batch.Delete(store_.handle(Cf::kRooms), storage::RoomAliasKey(*alias));
  batch.Delete(store_.handle(Cf::kRooms), storage::RoomAliasCreatorKey(*alias));
  return std::string("{}");
}

void RoomApplier::AfterFlush() {
  staged_txns_.clear();
  staged_events_.clear();
  staged_aliases_.clear();
  staged_redactions_.clear();
  if (rooms_.size() > kRoomCacheRoomsMax) rooms_.clear();
  for (auto& [id, room] : rooms_) {
    if (room->state.size() > kRoomCacheStateEntriesMax) room->state.clear();
  }
}

void RoomApplier::Abort() {
  rooms_.clear();
  staged_txns_.clear();
  staged_events_.clear();
  staged_aliases_.clear();
  staged_redactions_.clear();
}

Result<AppendedEvent> RoomApplier::AppendEvent(RoomCache& room, const rooms::EventDraft& draft,
                                               int64_t ts,
                                               const std::optional<std::string>& redacts,
                                               rocksdb::WriteBatch& batch, Counters& counters) {
  RoomMeta& meta = room.meta;
  json::object pdu;
  pdu["room_id"] = meta.room_id;
  pdu["sender"] = draft.sender;
  pdu["type"] = draft.type;
  if (draft.state_key) pdu["state_key"] = *draft.state_key;
  pdu["content"] = draft.content;
  NEBU_ASSIGN_OR_RETURN(std::optional<std::string> target, RedactionTarget(draft, redacts));
  if (target) {
    // v10 keeps redacts at the top level (a /send body's content.redacts moves there,
    // spec room_send.yaml); v11 in content.
    if (meta.version == event::RoomVersion::kV10) {
      pdu["content"].as_object().erase("redacts");
      pdu["redacts"] = *target;
    } else {
      pdu["content"].as_object()["redacts"] = *target;
    }
  }
  pdu["origin_server_ts"] = ts;
  pdu["depth"] = meta.depth + 1;
  json::array prev;
  if (!meta.last_event_id.empty()) prev.emplace_back(meta.last_event_id);
  pdu["prev_events"] = std::move(prev);

  rooms::RoomState state;
  json::array auth_ids;
  NEBU_RETURN_IF_ERROR(LoadAuthState(room, pdu, state, auth_ids));
  pdu["auth_events"] = std::move(auth_ids);
  NEBU_RETURN_IF_ERROR(rooms::Authorize(pdu, state));
  if (target) NEBU_RETURN_IF_ERROR(CheckRedaction(room, *target, draft.sender, state));

  NEBU_RETURN_IF_ERROR(event::AddContentHash(pdu));
  NEBU_RETURN_IF_ERROR(event::ValidatePdu(pdu));
  NEBU_ASSIGN_OR_RETURN(std::string event_id, event::ComputeEventId(pdu, meta.version));
  NEBU_ASSIGN_OR_RETURN(std::string canonical, event::CanonicalJson(pdu));

  Sequence seq = meta.last_seq + 1;
  StreamPosition pos = counters.stream_position + 1;
  storage::EventRecord record;
  record.room = meta.number;
  record.sequence = seq;
  record.stream_position = pos;
  record.origin_server_ts = ts;
  record.event_id = event_id;
  record.sender = draft.sender;
  record.type = draft.type;
  record.state_key = draft.state_key;
  record.json = std::move(canonical);
  log_.Append(batch, record);
  WriteIndexes(room, pdu, event_id, seq, pos, batch);
  if (target) {
    // The first redaction of an event is the one served with it (redacted_because).
    NEBU_ASSIGN_OR_RETURN(auto earlier, store_.Get(Cf::kRedactions, *target));
    if (!earlier && !staged_redactions_.contains(*target)) {
      batch.Put(store_.handle(Cf::kRedactions), *target, event_id);
      staged_redactions_.insert(*target);
    }
  }

  staged_events_[event_id] = StagedEvent{meta.number, draft.sender};
  counters.stream_position = pos;
  meta.last_seq = seq;
  meta.last_event_id = event_id;
  meta.depth += 1;
  if (draft.state_key) {
    room.state[rooms::RoomState::Key{draft.type, *draft.state_key}] =
        CachedState{event_id, std::move(pdu)};
  }
  return AppendedEvent{std::move(event_id), meta.room_id, seq, pos, false};
}

void RoomApplier::WriteIndexes(RoomCache& room, const json::object& pdu,
                               const std::string& event_id, Sequence seq, StreamPosition pos,
                               rocksdb::WriteBatch& batch) {
  const RoomNumber number = room.meta.number;
  batch.Put(store_.handle(Cf::kStream), storage::U64Key(pos), storage::EventKey(number, seq));
  const std::string_view type = pdu.at("type").as_string();
  if (auto relation = RelationOf(pdu)) {
    StageRelation(store_, batch, number, seq, type, event_id, *relation);
    StageThread(store_, batch, number, seq, pdu.at("sender").as_string(), *relation);
  }
  search::StageEvent(store_, batch, number, seq, pos, pdu);
  const json::string* state_key = StringAt(pdu, "state_key");
  if (!state_key) return;
  std::string seq_bytes;
  storage::PutU64(&seq_bytes, seq);
  batch.Put(store_.handle(Cf::kStateCurrent), storage::StateKey(number, type, *state_key),
            seq_bytes);
  batch.Put(store_.handle(Cf::kStateHistory),
            storage::StateHistoryKey(number, type, *state_key, seq), event_id);
  if (type != "m.room.member") return;
  const json::string* m = StringAt(pdu.at("content").as_object(), "membership");
  auto membership = m ? rooms::ParseMembership(*m) : std::nullopt;
  // The auth rules (rooms::AuthorizeMember) refuse a member event whose membership
  // does not parse, so only a bug reaches this.
  NEBU_CHECK(membership.has_value(), "authorized member event without membership");
  std::string value = MembershipValue(*membership, seq, pos);
  batch.Put(store_.handle(Cf::kMembership), storage::UserRoomKey(*state_key, number), value);
  batch.Put(store_.handle(Cf::kMembership), storage::RoomUserKey(number, *state_key), value);
  // Any new membership un-forgets the room (accounts op "forget_room").
  batch.Delete(store_.handle(Cf::kMembership), storage::ForgottenRoomKey(*state_key, number));
}

Result<std::string> RoomApplier::ApplySendEvent(std::string_view payload,
                                                rocksdb::WriteBatch& batch, Counters& counters) {
  NEBU_ASSIGN_OR_RETURN(json::object o, ParseObject(payload));
  const json::string* room_id = StringAt(o, "room_id");
  const json::string* sender = StringAt(o, "sender");
  const json::string* type = StringAt(o, "type");
  const json::value* content = o.if_contains("content");
  const json::value* ts = o.if_contains("origin_server_ts");
  if (!room_id || !sender || !type || !content || !content->is_object() || !ts ||
      !ts->is_int64()) {
    return Status::BadJson("send command misses a field");
  }
  NEBU_ASSIGN_OR_RETURN(RoomCache * room, Room(*room_id));

  auto device = OptionalString(o, "device_id");
  auto txn = OptionalString(o, "txn_id");
  std::string txn_key;
  if (device && txn) {
    for (std::string_view part : {std::string_view(*sender), std::string_view(*device),
                                  std::string_view(*txn)}) {
      if (part.size() > storage::kLengthPrefixedBytesMax) {
        return Status::InvalidArgument("transaction key component too long");
      }
    }
    txn_key = storage::TxnKey(*sender, *device, *txn);
    if (auto staged = staged_txns_.find(txn_key); staged != staged_txns_.end()) {
      AppendedEvent a = staged->second;
      a.deduplicated = true;
      return EncodeAppended({a});
    }
    NEBU_ASSIGN_OR_RETURN(auto seen, store_.Get(Cf::kTxnIds, txn_key));
    if (seen) {
      NEBU_ASSIGN_OR_RETURN(auto where, log_.Locate(*seen));
      AppendedEvent a{*seen, room->meta.room_id, where.second, 0, true};
      return EncodeAppended({a});
    }
  }
  rooms::EventDraft draft{std::string(*type), OptionalString(o, "state_key"),
                          content->as_object(), std::string(*sender)};
  NEBU_RETURN_IF_ERROR(CheckRoomNotBlocked(store_, draft, *room_id));
  if (FlagSet(o, "sender_profile") && (IsOwnJoin(draft) || IsOwnMembership(draft, "knock"))) {
    NEBU_RETURN_IF_ERROR(AddStoredProfile(draft.sender, draft.content));
  }
  if (FlagSet(o, "target_profile") && IsInvite(draft)) {
    NEBU_RETURN_IF_ERROR(AddStoredProfile(*draft.state_key, draft.content));
  }
  if (FlagSet(o, "restricted_join") && IsOwnJoin(draft)) {
    NEBU_RETURN_IF_ERROR(AuthoriseRestrictedJoin(*room, draft));
  }
  Counters before = counters;
  RoomMeta meta_before = room->meta;
  auto appended = AppendEvent(*room, draft, ts->as_int64(), OptionalString(o, "redacts"), batch,
                              counters);
  if (!appended.ok()) {
    counters = before;
    room->meta = meta_before;
    return appended.status();
  }
  if (!txn_key.empty()) {
    batch.Put(store_.handle(Cf::kTxnIds), txn_key, appended->event_id);
    batch.Put(store_.handle(Cf::kTxnIds), storage::TxnOfEventKey(appended->event_id), txn_key);
    staged_txns_[txn_key] = *appended;
  }
  return EncodeAppended({*appended});
}

Result<std::string> RoomApplier::ApplyCreateRoom(std::string_view payload,
                                                 rocksdb::WriteBatch& batch, Counters& counters) {
  NEBU_ASSIGN_OR_RETURN(json::object o, ParseObject(payload));
  const json::string* room_id = StringAt(o, "room_id");
  const json::string* version_name = StringAt(o, "room_version");
  const json::value* ts = o.if_contains("origin_server_ts");
  const json::value* events = o.if_contains("events");
  auto version = version_name ? event::ParseRoomVersion(*version_name) : std::nullopt;
  if (!room_id || !version || !ts || !ts->is_int64() || !events || !events->is_array() ||
      events->as_array().empty()) {
    return Status::BadJson("create-room command misses a field");
  }
  if (!event::IsValidRoomId(*room_id)) return Status::InvalidArgument("bad room id");
  NEBU_ASSIGN_OR_RETURN(auto existing, store_.Get(Cf::kRooms, storage::RoomIdKey(*room_id)));
  if (existing || rooms_.count(std::string(*room_id))) {
    return Status::AlreadyExists("room id in use");
  }
  auto alias = OptionalString(o, "alias");
  if (alias) {
    NEBU_ASSIGN_OR_RETURN(auto taken, store_.Get(Cf::kRooms, storage::RoomAliasKey(*alias)));
    if (taken || staged_aliases_.count(*alias)) {
      return Status::AlreadyExists("room alias in use");
    }
  }

  json::object record;
  record["room_id"] = *room_id;
  record["room_version"] = std::string(event::RoomVersionName(*version));
  NEBU_ASSIGN_OR_RETURN(std::string record_bytes, Canonical(record));

  Counters before = counters;
  auto cache = std::make_unique<RoomCache>();
  cache->meta.number = counters.next_room_number;
  cache->meta.room_id = std::string(*room_id);
  cache->meta.version = *version;
  std::vector<AppendedEvent> appended;
  std::string creator;  // the sender of m.room.create
  const bool creator_profile = FlagSet(o, "creator_profile");
  for (const auto& v : events->as_array()) {
    auto draft = DraftFromJson(v);
    if (draft.ok() && creator.empty()) creator = draft->sender;
    if (draft.ok() && creator_profile && draft->sender == creator && IsOwnJoin(*draft)) {
      Status s = AddStoredProfile(creator, draft->content);
      if (!s.ok()) draft = Result<rooms::EventDraft>(s);
    }
    Result<AppendedEvent> a = draft.ok() ? AppendEvent(*cache, *draft, ts->as_int64(),
                                                       std::nullopt, batch, counters)
                                         : Result<AppendedEvent>(draft.status());
    if (!a.ok()) {
      counters = before;  // the state machine rolls the batch back
      for (const auto& e : appended) staged_events_.erase(e.event_id);
      return a.status();
    }
    appended.push_back(std::move(a).value());
  }
  std::string number_bytes;
  storage::PutU64(&number_bytes, cache->meta.number);
  batch.Put(store_.handle(Cf::kRooms), storage::RoomIdKey(*room_id), number_bytes);
  batch.Put(store_.handle(Cf::kRooms), storage::RoomNumberKey(cache->meta.number),
            record_bytes);
  if (alias) {
    batch.Put(store_.handle(Cf::kRooms), storage::RoomAliasKey(*alias),
              std::string_view(*room_id));
    batch.Put(store_.handle(Cf::kRooms), storage::RoomAliasCreatorKey(*alias), creator);
    staged_aliases_[*alias] = cache->meta.room_id;
  }
  if (const json::value* publish = o.if_contains("publish"); publish && publish->is_bool() &&
                                                              publish->as_bool()) {
    batch.Put(store_.handle(Cf::kRooms), storage::RoomPublishedKey(*room_id), "");
  }
  counters.next_room_number += 1;
  rooms_[cache->meta.room_id] = std::move(cache);
  return EncodeAppended(appended);
}

}  // namespace nebu::core
