#include "engine/storage/room_log.h"

#include <limits>
#include <string>

#include "engine/storage/keys.h"

namespace nebu::storage {
namespace {

constexpr Sequence kSequenceMax = std::numeric_limits<Sequence>::max();

std::string Where(RoomNumber room, Sequence seq) {
  return "room " + std::to_string(room) + " sequence " + std::to_string(seq);
}

// An envelope must sit under its own key: a copy under another key is damage.
Status CheckPlacement(RoomNumber room, Sequence seq, const EventView& e) {
  if (e.room == room && e.sequence == seq) return Status::Ok();
  return Status::Corruption("event log: envelope of " + Where(e.room, e.sequence) +
                            " stored under " + Where(room, seq));
}

// The exclusive upper bound of a room's keys up to and including seq.
std::string UpperBound(RoomNumber room, Sequence seq) {
  if (seq < kSequenceMax) return EventKey(room, seq + 1);
  return PrefixSuccessor(EventPrefix(room));  // "" (no bound) for the last room number
}

}  // namespace

void RoomLog::Append(rocksdb::WriteBatch& batch, const EventRecord& record) {
  const std::string key = EventKey(record.room, record.sequence);
  rocksdb::Status s = batch.Put(view_.store().handle(Cf::kEvents), key, EncodeEnvelope(record));
  NEBU_CHECK(s.ok(), s.ToString());
  s = batch.Put(view_.store().handle(Cf::kEventIds), record.event_id, key);
  NEBU_CHECK(s.ok(), s.ToString());
}

Result<EventRecord> RoomLog::Read(RoomNumber room, Sequence seq) {
  rocksdb::PinnableSlice value;
  const rocksdb::Status s = view_.GetPinned(Cf::kEvents, EventKey(room, seq), &value);
  if (s.IsNotFound()) return Status::NotFound("no event at " + Where(room, seq));
  NEBU_RETURN_IF_ERROR(FromRocks(s));
  std::string scratch;
  const std::string_view bytes = AlignedEnvelopeBytes(value.ToStringView(), &scratch);
  NEBU_ASSIGN_OR_RETURN(const EventView view, ViewEnvelope(bytes));
  NEBU_RETURN_IF_ERROR(CheckPlacement(room, seq, view));
  return DecodeEnvelope(bytes);
}

Result<Sequence> RoomLog::LastSequence(RoomNumber room) {
  rocksdb::ReadOptions options;
  options.prefix_same_as_start = true;
  auto it = view_.NewIterator(Cf::kEvents, options);
  it->SeekForPrev(EventKey(room, kSequenceMax));
  if (!it->Valid()) {
    NEBU_RETURN_IF_ERROR(FromRocks(it->status()));
    return Sequence{0};
  }
  const auto key = DecodeEventKey(it->key().ToStringView());
  if (!key) return Status::Corruption("event log: malformed key in room " + std::to_string(room));
  if (key->first != room) return Sequence{0};
  return key->second;
}

Result<std::pair<RoomNumber, Sequence>> RoomLog::Locate(std::string_view event_id) {
  NEBU_ASSIGN_OR_RETURN(const auto value, view_.Get(Cf::kEventIds, event_id));
  if (!value) return Status::NotFound("unknown event " + std::string(event_id));
  const auto position = DecodeEventKey(*value);
  if (!position || position->first < 1 || position->second < 1) {
    return Status::Corruption("event id index: malformed position for " + std::string(event_id));
  }
  return *position;
}

Status RoomLog::Scan(RoomNumber room, Sequence from, Sequence to, size_t limit,
                     const std::function<bool(const EventView&)>& visit) {
  const bool forward = from <= to;
  const Sequence low = forward ? from : to;
  const Sequence high = forward ? to : from;
  const std::string lower = EventKey(room, low);
  const std::string upper = UpperBound(room, high);
  const rocksdb::Slice lower_slice(lower);
  const rocksdb::Slice upper_slice(upper);

  rocksdb::ReadOptions options;
  options.prefix_same_as_start = true;
  options.iterate_lower_bound = &lower_slice;
  if (!upper.empty()) options.iterate_upper_bound = &upper_slice;
  auto it = view_.NewIterator(Cf::kEvents, options);
  if (forward) {
    it->Seek(lower);
  } else {
    it->SeekForPrev(EventKey(room, high));
  }

  std::string scratch;
  std::optional<Sequence> previous;
  for (size_t visited = 0; visited < limit && it->Valid(); ++visited) {
    const auto key = DecodeEventKey(it->key().ToStringView());
    if (!key || key->first != room) {
      return Status::Corruption("event log: malformed key in room " + std::to_string(room));
    }
    const Sequence seq = key->second;
    if (previous && seq != (forward ? *previous + 1 : *previous - 1)) {
      return Status::Corruption("event log: gap before " + Where(room, seq));
    }
    previous = seq;
    const std::string_view bytes = AlignedEnvelopeBytes(it->value().ToStringView(), &scratch);
    NEBU_ASSIGN_OR_RETURN(const EventView view, ViewEnvelope(bytes));
    NEBU_RETURN_IF_ERROR(CheckPlacement(room, seq, view));
    if (!visit(view)) return Status::Ok();
    if (forward) {
      it->Next();
    } else {
      it->Prev();
    }
  }
  return FromRocks(it->status());
}

}  // namespace nebu::storage
