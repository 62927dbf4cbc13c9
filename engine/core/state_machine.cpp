#include "engine/core/state_machine.h"

#include <spdlog/spdlog.h>

#include "engine/accounts/accounts.h"
#include "engine/accounts/external_ids.h"
#include "engine/admin/admin.h"
#include "engine/compliance/compliance.h"
#include "engine/core/index_build.h"
#include "engine/e2ee/backup.h"
#include "engine/e2ee/e2ee.h"
#include "engine/media/media.h"
#include "engine/push/pushers.h"
#include "engine/receipts/receipts.h"
#include "engine/reports/reports.h"
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

constexpr size_t kGroupPositionBytes = 8 + 8 + 4;

std::string EncodeGroupPosition(const GroupPosition& p) {
  std::string out;
  storage::PutU64(&out, p.revision);
  storage::PutU64(&out, p.first_index);
  storage::PutU32(&out, p.count);
  return out;
}

Result<GroupPosition> ReadGroupPosition(storage::Store& store) {
  NEBU_ASSIGN_OR_RETURN(auto bytes, store.Get(Cf::kMeta, storage::kMetaGroupPosition));
  if (!bytes) return GroupPosition{};
  if (bytes->size() != kGroupPositionBytes) return Status::Corruption("bad group position");
  return GroupPosition{storage::GetU64(bytes->data()), storage::GetU64(bytes->data() + 8),
                       storage::GetU32(bytes->data() + 16)};
}

// kAccount. A profile change with member_events_ts (accounts::MemberEventRefresh)
// also appends the user's member events to its joined rooms (all, or at most
// member_events_rooms_max; refresh_member_events continues), in the same batch, so
// one flush writes the profile and the events; the profile they carry is decided here
// from the applied profile, not by the proposer.
ApplyOutcome ApplyAccount(storage::Store& store, rocksdb::WriteBatch& batch, RoomApplier& rooms,
                          std::string_view payload, RoomApplier::Counters& counters) {
  NEBU_ASSIGN_OR_RETURN(std::optional<accounts::MemberEventRefresh> refresh,
                        accounts::PlanMemberEventRefresh(store, payload));
  storage::StreamAppender stream(store, batch, counters.stream_position);
  ApplyOutcome outcome = accounts::ApplyAccountCommand(store, batch, payload, &stream);
  if (!outcome.ok() || !refresh) return outcome;
  NEBU_ASSIGN_OR_RETURN(RoomApplier::ProfileMemberEvents appended,
                        rooms.AppendProfileMemberEvents(*refresh, batch, counters));
  NEBU_ASSIGN_OR_RETURN(std::string out, EncodeAppended(appended.events));
  if (!appended.more_after) return out;
  // {"events":[...]} + "more_after_room" (sorts after "events": still canonical).
  out.pop_back();
  return out + ",\"more_after_room\":" + std::to_string(*appended.more_after) + "}";
}

bool IsStorageError(const Status& status) {
  return status.code() == StatusCode::kIoError || status.code() == StatusCode::kNoSpace;
}

}  // namespace

StateMachine::StateMachine(storage::Store& store, Notifier& notifier)
    : store_(store), notifier_(notifier), rooms_(std::make_unique<RoomApplier>(store)) {}

StateMachine::~StateMachine() = default;

Status StateMachine::Load() {
  NEBU_ASSIGN_OR_RETURN(IndexBuildStats built, BuildIndexes(store_));
  if (built.built && (built.events > 0 || built.users > 0)) {
    spdlog::info("built the relations, user directory and search indexes: {} events read, {} "
                 "relations, {} users, {} search postings, {:.3f} s",
                 built.events, built.relations, built.users, built.search_postings, built.seconds);
  }
  NEBU_ASSIGN_OR_RETURN(uint64_t applied, ReadCounter(store_, storage::kMetaAppliedIndex, 0));
  NEBU_ASSIGN_OR_RETURN(uint64_t stream, ReadCounter(store_, storage::kMetaStreamPosition, 0));
  NEBU_ASSIGN_OR_RETURN(next_room_number_,
                        ReadCounter(store_, storage::kMetaNextRoomNumber, 1));
  applied_index_ = applied;
  stream_position_ = stream;
  staged_index_ = applied;
  staged_counters_ = RoomApplier::Counters{stream, next_room_number_};
  notifier_.Advance(stream);
  return LoadGroups();
}

Status StateMachine::LoadGroups() {
  NEBU_ASSIGN_OR_RETURN(GroupPosition position, ReadGroupPosition(store_));
  {
    std::lock_guard lock(group_mu_);
    applied_group_ = position;
  }
  staged_group_ = position;
  group_staged_ = false;
  groups_seen_.clear();
  const std::string_view prefix = storage::kMetaGroupSeenPrefix;
  auto it = store_.NewIterator(Cf::kMeta);
  for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
    auto origin = storage::DecodeGroupSeenKey(it->key().ToStringView());
    if (!origin) return Status::Corruption("bad group dedup key");
    NEBU_ASSIGN_OR_RETURN(GroupSeqs seqs, GroupSeqs::Decode(it->value().ToStringView()));
    groups_seen_.emplace(std::make_pair(std::string(origin->first), origin->second),
                         std::move(seqs));
  }
  return storage::FromRocks(it->status());
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
    case CommandKind::kAccount:
      *outcome = ApplyAccount(store_, pending_, *rooms_, command.payload, counters);
      break;
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
    // Issue 9's kinds; each module replaces its own stub.
    case CommandKind::kKeyBackup:
      *outcome = e2ee::ApplyBackupCommand(store_, pending_, command.payload);
      break;
    // (pushers)
    case CommandKind::kPusher:
      *outcome =
          push::ApplyPusherCommand(store_, pending_, command.payload, counters.stream_position);
      break;
    // (reports)
    case CommandKind::kReport:
      *outcome = reports::ApplyReportCommand(store_, pending_, command.payload);
      break;
    // (room upgrades)
    case CommandKind::kRoomUpgrade:
      *outcome = rooms_->ApplyRoomUpgrade(command.payload, pending_, counters);
      break;
    // Issue 10 and 11's kinds; each module replaces its own stub.
    case CommandKind::kMedia:
      *outcome = media::ApplyMediaCommand(store_, pending_, command.payload);
      break;
    case CommandKind::kExternalId:
      *outcome = accounts::ApplyExternalIdCommand(store_, pending_, command.payload);
      break;
    // Issue 12's kind.
    case CommandKind::kAudit:
      *outcome = admin::ApplyAdminCommand(store_, pending_, command.payload);
      break;
    case CommandKind::kPurge:
      *outcome = compliance::ApplyPurgeCommand(store_, pending_, command.payload);
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
  if (staged_index_ == applied_index_.load() && !group_staged_) return Status::Ok();
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
  if (group_staged_) {
    std::lock_guard lock(group_mu_);
    applied_group_ = staged_group_;
    group_staged_ = false;
  }
  applied_index_ = staged_index_;
  if (stream_moved) {
    stream_position_ = staged_counters_.stream_position;
    notifier_.Advance(staged_counters_.stream_position);
  }
  return Status::Ok();
}

Result<bool> StateMachine::BeginGroup(const GroupOrigin& origin, uint32_t command_count) {
  if (origin.seq == 0 || origin.revision == 0 || origin.node_id.empty() ||
      origin.node_id.size() > kGroupNodeIdBytesMax) {
    return Status::InvalidArgument("bad group origin: node '" +
                                   origin.node_id.substr(0, kGroupNodeIdBytesMax) + "' seq " +
                                   std::to_string(origin.seq) + " revision " +
                                   std::to_string(origin.revision));
  }
  if (!staged_group_.complete(staged_index_)) {
    return Status::Internal("group at revision " + std::to_string(origin.revision) +
                            " begun while the group at revision " +
                            std::to_string(staged_group_.revision) + " is being applied");
  }
  if (origin.revision <= staged_group_.revision) return false;  // applied (or skipped) before
  auto key = std::make_pair(origin.node_id, origin.incarnation);
  auto it = groups_seen_.find(key);
  if (it != groups_seen_.end() && it->second.Contains(origin.seq)) return false;
  if (it == groups_seen_.end()) {
    PruneIncarnations(origin.node_id);
    it = groups_seen_.emplace(std::move(key), GroupSeqs{}).first;
  }
  it->second.Insert(origin.seq, origin.revision);
  pending_.Put(store_.handle(Cf::kMeta), storage::GroupSeenKey(origin.node_id, origin.incarnation),
               it->second.Encode());
  staged_group_ = GroupPosition{origin.revision, staged_index_ + 1, command_count};
  pending_.Put(store_.handle(Cf::kMeta), storage::kMetaGroupPosition,
               EncodeGroupPosition(staged_group_));
  group_staged_ = true;
  return true;
}

void StateMachine::PruneIncarnations(const std::string& node_id) {
  auto first = groups_seen_.lower_bound({node_id, 0});
  auto oldest = groups_seen_.end();
  size_t count = 0;
  for (auto it = first; it != groups_seen_.end() && it->first.first == node_id; ++it) {
    ++count;
    if (oldest == groups_seen_.end() || it->second.revision() < oldest->second.revision()) {
      oldest = it;
    }
  }
  if (count < kGroupIncarnationsPerNodeMax) return;
  pending_.Delete(store_.handle(Cf::kMeta),
                  storage::GroupSeenKey(node_id, oldest->first.second));
  groups_seen_.erase(oldest);
}

GroupPosition StateMachine::applied_group() const {
  std::lock_guard lock(group_mu_);
  return applied_group_;
}

Status StateMachine::SyncApplied() { return storage::FromRocks(store_.db()->SyncWAL()); }

}  // namespace nebu::core
