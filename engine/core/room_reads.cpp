#include "engine/core/room_reads.h"

#include <algorithm>
#include <boost/json.hpp>

#include "engine/event/canonical_json.h"
#include "engine/storage/room_log.h"

namespace nebu::core {

using rooms::Membership;
using storage::Cf;
using storage::Sequence;

namespace {

constexpr size_t kMembershipRecordBytes = 1 + 8 + 8;  // membership, sequence, position
constexpr size_t kSequenceBytes = 8;

std::string_view StringOr(const boost::json::object& o, std::string_view key,
                          std::string_view fallback) {
  const boost::json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string_view(v->as_string()) : fallback;
}

const boost::json::object* ReadContentOf(const boost::json::object& event) {
  const boost::json::value* v = event.if_contains("content");
  return v && v->is_object() ? &v->as_object() : nullptr;
}

Membership MembershipOfEvent(const boost::json::object& event) {
  const boost::json::object* content = ReadContentOf(event);
  if (!content) return Membership::kNone;
  return rooms::ParseMembership(StringOr(*content, "membership", "")).value_or(Membership::kNone);
}

// The value of the last change at or before seq in a log-ordered list.
template <typename T>
T ValueAt(const std::vector<std::pair<Sequence, T>>& changes, Sequence seq, T fallback) {
  auto it = std::upper_bound(changes.begin(), changes.end(), seq,
                             [](Sequence s, const auto& change) { return s < change.first; });
  return it == changes.begin() ? fallback : std::prev(it)->second;
}

}  // namespace

Result<std::optional<std::string>> ResolveRoomAlias(const storage::ReadView& store, std::string_view alias) {
  return store.Get(Cf::kRooms, storage::RoomAliasKey(alias));
}

Status ForEachRoomAlias(const storage::ReadView& store, const RoomAliasVisitor& visit) {
  auto it = store.NewIterator(Cf::kRooms);
  const std::string prefix = storage::RoomAliasKey("");
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    const std::string_view alias = it->key().ToStringView().substr(prefix.size());
    NEBU_ASSIGN_OR_RETURN(auto creator, store.Get(Cf::kRooms, storage::RoomAliasCreatorKey(alias)));
    NEBU_RETURN_IF_ERROR(visit(alias, it->value().ToStringView(), creator));
  }
  return storage::FromRocks(it->status());
}

Result<std::optional<MembershipRecord>> GetMembershipRecord(const storage::ReadView& store,
                                                            std::string_view user_id,
                                                            storage::RoomNumber room) {
  NEBU_ASSIGN_OR_RETURN(auto value,
                        store.Get(Cf::kMembership, storage::UserRoomKey(user_id, room)));
  if (!value) return std::optional<MembershipRecord>();
  if (value->size() != kMembershipRecordBytes) return Status::Corruption("bad membership record");
  return std::optional<MembershipRecord>(
      MembershipRecord{static_cast<Membership>((*value)[0]), storage::GetU64(value->data() + 1)});
}

Result<bool> IsRoomForgotten(const storage::ReadView& store, std::string_view user_id,
                             storage::RoomNumber room) {
  NEBU_ASSIGN_OR_RETURN(auto value,
                        store.Get(Cf::kMembership, storage::ForgottenRoomKey(user_id, room)));
  return value.has_value();
}

Status ForEachForgottenRoom(
    const storage::ReadView& store,
    const std::function<Status(std::string_view user_id, storage::RoomNumber room)>& visit) {
  const std::string prefix = storage::ForgottenRoomKey("", 0).substr(0, 1);  // the 'f' tag
  auto it = store.NewIterator(Cf::kMembership);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view rest = it->key().ToStringView().substr(prefix.size());
    auto user = storage::GetLengthPrefixed(&rest);
    if (!user || rest.size() != 8) return Status::Corruption("bad forgotten-room key");
    NEBU_RETURN_IF_ERROR(visit(*user, storage::GetU64(rest.data())));
  }
  return storage::FromRocks(it->status());
}

Result<std::vector<RoomMember>> RoomMembers(const storage::ReadView& store, storage::RoomNumber room,
                                            size_t limit) {
  const std::string prefix = storage::RoomUsersPrefix(room);
  std::vector<RoomMember> out;
  auto it = store.NewIterator(Cf::kMembership);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix) && out.size() < limit;
       it->Next()) {
    std::string_view rest = it->key().ToStringView().substr(prefix.size());
    auto user = storage::GetLengthPrefixed(&rest);
    std::string_view value = it->value().ToStringView();
    if (!user || !rest.empty() || value.size() != kMembershipRecordBytes) {
      return Status::Corruption("bad room membership entry");
    }
    out.push_back(RoomMember{std::string(*user), static_cast<Membership>(value[0])});
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return out;
}

Result<std::vector<StateVersion>> StateKeyHistory(const storage::ReadView& store, storage::RoomNumber room,
                                                  std::string_view type,
                                                  std::string_view state_key) {
  const std::string prefix = storage::StateKey(room, type, state_key);
  storage::RoomLog log(store);
  std::vector<StateVersion> out;
  auto it = store.NewIterator(Cf::kStateHistory);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view key = it->key().ToStringView();
    if (key.size() != prefix.size() + kSequenceBytes) {
      return Status::Corruption("bad state-history key");
    }
    Sequence seq = storage::GetU64(key.data() + prefix.size());
    NEBU_ASSIGN_OR_RETURN(storage::EventRecord record, log.Read(room, seq));
    NEBU_ASSIGN_OR_RETURN(boost::json::value v, event::ParseJson(record.json));
    if (!v.is_object()) return Status::Corruption("state event is not an object");
    out.push_back({seq, std::move(v.as_object())});
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return out;
}

Result<std::vector<storage::EventRecord>> StateRecordsAt(const storage::ReadView& store,
                                                         storage::RoomNumber room, Sequence seq,
                                                         std::optional<std::string_view> type) {
  std::string prefix = storage::EventPrefix(room);
  if (type) storage::PutLengthPrefixed(&prefix, *type);
  storage::RoomLog log(store);
  std::vector<storage::EventRecord> out;
  // Keys sort by (type, state_key, seq): per group keep the last seq <= seq.
  std::string group;
  std::optional<Sequence> best;
  auto flush = [&]() -> Status {
    if (!best) return Status::Ok();
    NEBU_ASSIGN_OR_RETURN(storage::EventRecord record, log.Read(room, *best));
    out.push_back(std::move(record));
    best.reset();
    return Status::Ok();
  };
  auto it = store.NewIterator(Cf::kStateHistory);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view key = it->key().ToStringView();
    auto decoded = storage::DecodeStateKey(key);
    if (!decoded || !decoded->seq) return Status::Corruption("bad state-history key");
    std::string_view this_group = key.substr(0, key.size() - kSequenceBytes);
    if (this_group != group) {
      NEBU_RETURN_IF_ERROR(flush());
      group = std::string(this_group);
    }
    if (*decoded->seq <= seq) best = *decoded->seq;
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  NEBU_RETURN_IF_ERROR(flush());
  return out;
}

Result<std::optional<storage::EventRecord>> StateRecordAt(const storage::ReadView& store,
                                                          storage::RoomNumber room,
                                                          std::string_view type,
                                                          std::string_view state_key,
                                                          Sequence seq) {
  const std::string prefix = storage::StateKey(room, type, state_key);
  std::optional<Sequence> best;
  auto it = store.NewIterator(Cf::kStateHistory);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view key = it->key().ToStringView();
    if (key.size() != prefix.size() + kSequenceBytes) {
      return Status::Corruption("bad state-history key");
    }
    Sequence at = storage::GetU64(key.data() + prefix.size());
    if (at > seq) break;
    best = at;
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  if (!best) return std::optional<storage::EventRecord>();
  storage::RoomLog log(store);
  NEBU_ASSIGN_OR_RETURN(storage::EventRecord record, log.Read(room, *best));
  return std::optional<storage::EventRecord>(std::move(record));
}

HistoryVisibility ParseHistoryVisibility(const boost::json::object* event) {
  const boost::json::object* content = event ? ReadContentOf(*event) : nullptr;
  std::string_view value = content ? StringOr(*content, "history_visibility", "") : "";
  if (value == "world_readable") return HistoryVisibility::kWorldReadable;
  if (value == "invited") return HistoryVisibility::kInvited;
  if (value == "joined") return HistoryVisibility::kJoined;
  return HistoryVisibility::kShared;
}

Result<HistoryView> HistoryView::Load(const storage::ReadView& store, storage::RoomNumber room,
                                      std::string_view user_id) {
  HistoryView view;
  view.user_id_ = std::string(user_id);
  NEBU_ASSIGN_OR_RETURN(auto members, StateKeyHistory(store, room, "m.room.member", user_id));
  for (const StateVersion& v : members) {
    view.memberships_.emplace_back(v.sequence, MembershipOfEvent(v.event));
  }
  NEBU_ASSIGN_OR_RETURN(auto visibilities,
                        StateKeyHistory(store, room, "m.room.history_visibility", ""));
  for (const StateVersion& v : visibilities) {
    view.visibilities_.emplace_back(v.sequence, ParseHistoryVisibility(&v.event));
  }
  return view;
}

Membership HistoryView::MembershipAfter(Sequence seq) const {
  return ValueAt(memberships_, seq, Membership::kNone);
}

Membership HistoryView::current_membership() const {
  return memberships_.empty() ? Membership::kNone : memberships_.back().second;
}

HistoryVisibility HistoryView::VisibilityAfter(Sequence seq) const {
  return ValueAt(visibilities_, seq, HistoryVisibility::kShared);
}

bool HistoryView::ever_joined() const {
  return std::any_of(memberships_.begin(), memberships_.end(),
                     [](const auto& m) { return m.second == Membership::kJoin; });
}

bool HistoryView::ever_world_readable() const {
  return std::any_of(visibilities_.begin(), visibilities_.end(),
                     [](const auto& v) { return v.second == HistoryVisibility::kWorldReadable; });
}

bool HistoryView::world_readable_now() const {
  return !visibilities_.empty() && visibilities_.back().second == HistoryVisibility::kWorldReadable;
}

std::optional<Sequence> HistoryView::DepartureSequence() const {
  if (joined_now()) return std::nullopt;
  for (size_t i = memberships_.size(); i-- > 1;) {
    if (memberships_[i - 1].second == Membership::kJoin) return memberships_[i].first;
  }
  return std::nullopt;
}

bool HistoryView::JoinedAfter(Sequence seq) const {
  return std::any_of(memberships_.begin(), memberships_.end(), [seq](const auto& m) {
    return m.first > seq && m.second == Membership::kJoin;
  });
}

bool HistoryView::Allowed(HistoryVisibility visibility, Membership membership, Sequence seq) const {
  switch (visibility) {
    case HistoryVisibility::kWorldReadable:
      return true;
    case HistoryVisibility::kShared:
      return membership == Membership::kJoin || JoinedAfter(seq);
    case HistoryVisibility::kInvited:
      return membership == Membership::kJoin || membership == Membership::kInvite;
    case HistoryVisibility::kJoined:
      return membership == Membership::kJoin;
  }
  return false;
}

bool HistoryView::Visible(Sequence seq, std::string_view type,
                          const std::optional<std::string_view>& state_key) const {
  if (seq == 0) return false;
  HistoryVisibility visibility = VisibilityAfter(seq - 1);
  Membership membership = MembershipAfter(seq - 1);
  if (Allowed(visibility, membership, seq)) return true;
  if (type == "m.room.history_visibility" && state_key == std::string_view()) {
    return Allowed(VisibilityAfter(seq), membership, seq);
  }
  if (type == "m.room.member" && state_key == std::string_view(user_id_)) {
    return Allowed(visibility, MembershipAfter(seq), seq);
  }
  return false;
}

}  // namespace nebu::core

namespace nebu::core {


Result<std::pair<storage::RoomNumber, storage::Sequence>> LocateEvent(const storage::ReadView& view,
                                                                      std::string_view event_id) {
  return storage::RoomLog(view).Locate(event_id);
}

Result<storage::EventRecord> ReadEvent(const storage::ReadView& view, std::string_view event_id) {
  storage::RoomLog log(view);
  NEBU_ASSIGN_OR_RETURN(auto where, log.Locate(event_id));
  return log.Read(where.first, where.second);
}

namespace {

Status AddToState(storage::RoomLog& log, storage::RoomNumber room, storage::Sequence seq,
                  rooms::RoomState& state) {
  NEBU_ASSIGN_OR_RETURN(storage::EventRecord rec, log.Read(room, seq));
  NEBU_ASSIGN_OR_RETURN(boost::json::value v, event::ParseJson(rec.json));
  if (!v.is_object() || !rec.state_key) return Status::Corruption("state entry is no state event");
  state.Set(rec.type, *rec.state_key, std::move(v.as_object()));
  return Status::Ok();
}

}  // namespace

Result<rooms::RoomState> CurrentState(const storage::ReadView& view, std::string_view room_id) {
  NEBU_ASSIGN_OR_RETURN(RoomMeta meta, LoadRoomMeta(view, room_id));
  storage::RoomLog log(view);
  rooms::RoomState state;
  const std::string prefix = storage::EventPrefix(meta.number);
  auto it = view.NewIterator(Cf::kStateCurrent);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->value().size() != 8) return Status::Corruption("bad current-state record");
    NEBU_RETURN_IF_ERROR(AddToState(log, meta.number, storage::GetU64(it->value().data()), state));
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return state;
}

Result<rooms::RoomState> StateAt(const storage::ReadView& view, std::string_view room_id,
                                 storage::Sequence seq) {
  NEBU_ASSIGN_OR_RETURN(RoomMeta meta, LoadRoomMeta(view, room_id));
  NEBU_ASSIGN_OR_RETURN(auto records, StateRecordsAt(view, meta.number, seq, std::nullopt));
  rooms::RoomState state;
  for (const auto& record : records) {
    NEBU_ASSIGN_OR_RETURN(boost::json::value v, event::ParseJson(record.json));
    if (!v.is_object() || !record.state_key) {
      return Status::Corruption("state entry is no state event");
    }
    state.Set(record.type, *record.state_key, std::move(v.as_object()));
  }
  return state;
}

rooms::Membership MembershipOf(const storage::ReadView& view, std::string_view user_id,
                               storage::RoomNumber room) {
  auto v = view.Get(Cf::kMembership, storage::UserRoomKey(user_id, room));
  if (!v.ok() || !*v || (*v)->empty()) return rooms::Membership::kNone;
  return static_cast<rooms::Membership>((**v)[0]);
}

Result<std::optional<std::string>> RoomIdOf(const storage::ReadView& view, storage::RoomNumber room) {
  NEBU_ASSIGN_OR_RETURN(auto record, view.Get(Cf::kRooms, storage::RoomNumberKey(room)));
  if (!record) return std::optional<std::string>();
  NEBU_ASSIGN_OR_RETURN(boost::json::value v, event::ParseJson(*record));
  const auto* id = v.is_object() ? v.as_object().if_contains("room_id") : nullptr;
  if (!id || !id->is_string()) return Status::Corruption("bad room record");
  return std::optional<std::string>(std::string(id->as_string()));
}

Result<std::vector<std::pair<std::string, rooms::Membership>>> RoomsOf(const storage::ReadView& view,
                                                                       std::string_view user_id) {
  std::vector<std::pair<std::string, rooms::Membership>> out;
  const std::string prefix = storage::UserRoomsPrefix(user_id);
  auto it = view.NewIterator(Cf::kMembership);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    std::string_view k = it->key().ToStringView();
    if (k.size() != prefix.size() + 8 || it->value().empty()) {
      return Status::Corruption("bad membership record");
    }
    storage::RoomNumber room = storage::GetU64(k.data() + prefix.size());
    NEBU_ASSIGN_OR_RETURN(auto room_id, RoomIdOf(view, room));
    if (!room_id) return Status::Corruption("membership names an unknown room");
    out.emplace_back(std::move(*room_id), static_cast<rooms::Membership>(it->value().data()[0]));
  }
  NEBU_RETURN_IF_ERROR(storage::FromRocks(it->status()));
  return out;
}

Status ScanRoom(const storage::ReadView& view, std::string_view room_id, storage::Sequence from,
                storage::Sequence to, size_t limit,
                const std::function<bool(const storage::EventView&)>& visit) {
  NEBU_ASSIGN_OR_RETURN(RoomMeta meta, LoadRoomMeta(view, room_id));
  storage::RoomLog log(view);
  return log.Scan(meta.number, from, to, limit, visit);
}

Result<event::RoomVersion> RoomVersionOf(const storage::ReadView& view, std::string_view room_id) {
  NEBU_ASSIGN_OR_RETURN(auto number, view.Get(Cf::kRooms, storage::RoomIdKey(room_id)));
  if (!number) return Status::NotFound("unknown room " + std::string(room_id));
  if (number->size() != 8) return Status::Corruption("bad room number record");
  NEBU_ASSIGN_OR_RETURN(auto record,
                        view.Get(Cf::kRooms, storage::RoomNumberKey(storage::GetU64(number->data()))));
  if (!record) return Status::Corruption("room record missing");
  NEBU_ASSIGN_OR_RETURN(boost::json::value v, event::ParseJson(*record));
  const boost::json::value* name = v.is_object() ? v.as_object().if_contains("room_version") : nullptr;
  auto version = name && name->is_string() ? event::ParseRoomVersion(name->as_string()) : std::nullopt;
  if (!version) return Status::Corruption("bad room record");
  return *version;
}

Result<std::optional<TxnSender>> TxnOriginOf(const storage::ReadView& view,
                                             std::string_view event_id) {
  NEBU_ASSIGN_OR_RETURN(auto key, view.Get(Cf::kTxnIds, storage::TxnOfEventKey(event_id)));
  std::optional<storage::TxnOrigin> origin = key ? storage::DecodeTxnKey(*key) : std::nullopt;
  if (!origin) return std::optional<TxnSender>();
  return std::optional<TxnSender>(TxnSender{std::string(origin->user_id),
                                            std::string(origin->device_id),
                                            std::string(origin->txn_id)});
}

Result<bool> IsRoomPublished(const storage::ReadView& view, std::string_view room_id) {
  NEBU_ASSIGN_OR_RETURN(auto published, view.Get(Cf::kRooms, storage::RoomPublishedKey(room_id)));
  return published.has_value();
}

Result<std::optional<std::string>> RedactedBy(const storage::ReadView& view,
                                              std::string_view event_id) {
  return view.Get(Cf::kRedactions, event_id);
}

Status ForEachRoomNumber(const storage::ReadView& view,
                         const std::function<Status(storage::RoomNumber)>& visit) {
  const std::string prefix = storage::RoomNumberKey(0).substr(0, 1);  // the 'n' tag
  auto it = view.NewIterator(Cf::kRooms);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    if (it->key().size() != prefix.size() + 8) return Status::Corruption("bad room number key");
    NEBU_RETURN_IF_ERROR(visit(storage::GetU64(it->key().data() + prefix.size())));
  }
  return storage::FromRocks(it->status());
}

Status ForEachRoomId(const storage::ReadView& view, std::string_view cursor, bool forward,
                     const std::function<bool(std::string_view)>& visit) {
  const std::string prefix = storage::RoomIdKey("");
  auto it = view.NewIterator(Cf::kRooms);
  const std::string at = storage::RoomIdKey(cursor);
  if (forward) {
    it->Seek(at);
    if (!cursor.empty() && it->Valid() && it->key().ToStringView() == at) it->Next();
  } else {
    it->SeekForPrev(cursor.empty() ? storage::PrefixSuccessor(prefix) : at);
    if (it->Valid() && it->key().ToStringView() == at) it->Prev();
  }
  for (; it->Valid() && it->key().starts_with(prefix); forward ? it->Next() : it->Prev()) {
    if (!visit(it->key().ToStringView().substr(prefix.size()))) break;
  }
  return storage::FromRocks(it->status());
}

}  // namespace nebu::core
