#include "engine/core/state_machine.h"

#include "engine/accounts/accounts.h"
#include "engine/e2ee/e2ee.h"
#include "engine/receipts/receipts.h"
#include "engine/storage/keys.h"

namespace nebu::core {

using storage::Cf;

namespace {

Result<uint64_t> ReadCounter(storage::Store& store, std::string_view key, uint64_t absent) {
  NEBU_ASSIGN_OR_RETURN(auto bytes, store.Get(Cf::kMeta, key));
  if (!bytes) return absent;
  if (bytes->size() != 8) return Status::Corruption("bad meta counter " + std::string(key));
  return storage::GetU64(bytes->data());
}

void PutCounter(rocksdb::WriteBatch& batch, storage::Store& store, std::string_view key,
                uint64_t v) {
  batch.Put(store.handle(Cf::kMeta), key, storage::U64Key(v));
}

bool IsStorageError(const Status& status) {
  return status.code() == StatusCode::kIoError || status.code() == StatusCode::kNoSpace;
}

}  // namespace

StateMachine::StateMachine(storage::Store& store, Notifier& notifier)
    : store_(store), notifier_(notifier), rooms_(std::make_unique<RoomApplier>(store)) {}

StateMachine::~StateMachine() = default;

Status StateMachine::Load() {
  NEBU_ASSIGN_OR_RETURN(uint64_t applied, ReadCounter(store_, storage::kMetaAppliedIndex, 0));
  NEBU_ASSIGN_OR_RETURN(uint64_t stream, ReadCounter(store_, storage::kMetaStreamPosition, 0));
  NEBU_ASSIGN_OR_RETURN(next_room_number_,
                        ReadCounter(store_, storage::kMetaNextRoomNumber, 1));
  applied_index_ = applied;
  stream_position_ = stream;
  staged_index_ = applied;
  staged_counters_ = RoomApplier::Counters{stream, next_room_number_};
  notifier_.Advance(stream);
  return Status::Ok();
}

Status StateMachine::Apply(LogIndex index, const Command& command, ApplyOutcome* outcome) {
  NEBU_CHECK(index == staged_index_ + 1, "apply out of order");
  // Account and alias commands read stored state, so nothing may be staged before them.
  const bool alone = command.kind != CommandKind::kRoomEvent &&
                     command.kind != CommandKind::kCreateRoom && command.kind != CommandKind::kNoop;
  if (alone) NEBU_RETURN_IF_ERROR(Flush());
  pending_.SetSavePoint();
  RoomApplier::Counters counters = staged_counters_;
  switch (command.kind) {
    case CommandKind::kRoomEvent:
      *outcome = rooms_->ApplySendEvent(command.payload, pending_, counters);
      break;
    case CommandKind::kCreateRoom:
      *outcome = rooms_->ApplyCreateRoom(command.payload, pending_, counters);
      break;
    case CommandKind::kAccount: {
      storage::StreamAppender stream(store_, pending_, counters.stream_position);
      *outcome = accounts::ApplyAccountCommand(store_, pending_, command.payload, &stream);
      break;
    }
    case CommandKind::kE2ee: {
      storage::StreamAppender stream(store_, pending_, counters.stream_position);
      *outcome = e2ee::ApplyE2eeCommand(store_, pending_, command.payload, stream);
      break;
    }
    case CommandKind::kReceipt: {
      storage::StreamAppender stream(store_, pending_, counters.stream_position);
      *outcome = receipts::ApplyReceiptCommand(store_, pending_, command.payload, stream);
      break;
    }
    case CommandKind::kAlias:
      *outcome = rooms_->ApplyAlias(command.payload, pending_);
      break;
    case CommandKind::kNoop:
      *outcome = std::string("{}");
      break;
  }
  // A storage error is no decision of the rules: another replica would not make it,
  // so it must not become a rejection (the replicas would diverge). It is fatal for
  // the write path (the committer stops writes; a restart re-applies the command).
  if (!outcome->ok() && IsStorageError(outcome->status())) {
    NEBU_RETURN_IF_ERROR(storage::FromRocks(pending_.RollbackToSavePoint()));
    return outcome->status();
  }
  // A rejected command changes nothing; the index still advances.
  NEBU_RETURN_IF_ERROR(storage::FromRocks(outcome->ok() ? pending_.PopSavePoint()
                                                         : pending_.RollbackToSavePoint()));
  if (outcome->ok()) staged_counters_ = counters;
  staged_index_ = index;
  return alone ? Flush() : Status::Ok();
}

Status StateMachine::Flush() {
  if (staged_index_ == applied_index_.load()) return Status::Ok();
  PutCounter(pending_, store_, storage::kMetaAppliedIndex, staged_index_);
  const bool stream_moved = staged_counters_.stream_position != stream_position_.load();
  if (stream_moved) {
    PutCounter(pending_, store_, storage::kMetaStreamPosition, staged_counters_.stream_position);
  }
  if (staged_counters_.next_room_number != next_room_number_) {
    PutCounter(pending_, store_, storage::kMetaNextRoomNumber, staged_counters_.next_room_number);
  }
  Status s = store_.Write(pending_, /*sync=*/false);
  if (!s.ok()) {
    rooms_->Abort();
    return s;
  }
  pending_.Clear();
  rooms_->AfterFlush();
  next_room_number_ = staged_counters_.next_room_number;
  applied_index_ = staged_index_;
  if (stream_moved) {
    stream_position_ = staged_counters_.stream_position;
    notifier_.Advance(staged_counters_.stream_position);
  }
  return Status::Ok();
}

// Replicated groups: implemented by the committer-seam work of the cluster issue.
Result<bool> StateMachine::BeginGroup(const GroupOrigin&, uint32_t) {
  return Status::Internal("replicated groups are not implemented yet");
}

GroupPosition StateMachine::applied_group() const { return {}; }

Status StateMachine::SyncApplied() { return storage::FromRocks(store_.db()->SyncWAL()); }

}  // namespace nebu::core
