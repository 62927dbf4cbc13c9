// StateMachine: applies committed commands to the node's derived state.
//
// Apply() is deterministic: the same commands in the same order write the same bytes
// on every node. Room commands of one commit group are staged into one RocksDB
// batch (each behind a save point, so a rejected one is rolled back alone); Flush()
// writes that batch together with the applied log index and the stream position,
// then advances the Notifier. Account and alias commands read stored state, so
// each is flushed alone. A command the rules reject changes nothing and reports why.
// A storage error (kIoError, kNoSpace) while applying, even one a command's own code
// reports as its outcome, is returned as Apply's Status, never as a rejection: it is
// fatal for the write path (see Applier::Apply).
//
// Replicated groups (BeginGroup, the cluster's committer): BeginGroup stages the
// group's position (storage::kMetaGroupPosition) and its node incarnation's dedup
// record (storage::GroupSeenKey, core/group_dedup.h) into the pending batch, so the
// group's first flush writes them with its first effects (an account or alias command
// flushes mid-group; the rest are written by later flushes). A group is skipped
// (false) when its revision is not after the applied group's, or its (node,
// incarnation, seq) was applied. Errors, all from a committer bug or a malformed
// group, never from a client: kInvalidArgument for a bad origin (seq or revision 0,
// node ID empty or over kGroupNodeIdBytesMax); kInternal for BeginGroup while the
// previous group still has commands to apply (after a crash the committer resumes
// the group applied_group() names without calling BeginGroup again).
//
//   StateMachine sm(store, notifier);
//   NEBU_RETURN_IF_ERROR(sm.Load());
//   LocalCommitter committer(store, sm);
//
// Thread-safety: Apply, Flush and BeginGroup run on one thread (the committer's apply
// thread); applied_index(), applied_group() and stream_position() may be read from any
// thread. After a failed Flush the instance must not be used again (the committer
// stops applying; a restart loads a fresh one).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>

#include "engine/core/committer.h"
#include "engine/core/group_dedup.h"
#include "engine/core/notifier.h"
#include "engine/core/room_applier.h"
#include "engine/storage/store.h"

namespace nebu::core {

class StateMachine final : public Applier {
 public:
  StateMachine(storage::Store& store, Notifier& notifier);
  ~StateMachine() override;

  // Builds the derived indexes of a store written before them (core/index_build.h;
  // once, logged), then reads the applied index, counters, applied group and the
  // groups' dedup records from Cf::kMeta; call once before use. kCorruption for
  // malformed records.
  Status Load();

  Status Apply(LogIndex index, const Command& command, ApplyOutcome* outcome) override;
  Status Flush() override;
  LogIndex applied_index() const override { return applied_index_.load(); }
  Status SyncApplied() override;
  Result<bool> BeginGroup(const GroupOrigin& origin, uint32_t command_count) override;
  GroupPosition applied_group() const override;
  StreamPosition stream_position() const { return stream_position_.load(); }

 private:
  Status LoadGroups();
  // Drops the dedup record of the node's oldest incarnation when it has
  // kGroupIncarnationsPerNodeMax (apply thread).
  void PruneIncarnations(const std::string& node_id);

  storage::Store& store_;
  Notifier& notifier_;
  std::unique_ptr<RoomApplier> rooms_;
  std::atomic<LogIndex> applied_index_{0};
  std::atomic<StreamPosition> stream_position_{0};
  storage::RoomNumber next_room_number_ = 1;  // apply thread only: flushed value
  // Apply thread only: what is staged in pending_ but not yet written.
  rocksdb::WriteBatch pending_;
  LogIndex staged_index_ = 0;
  RoomApplier::Counters staged_counters_;
  // Replicated groups. Apply thread only: the staged (or, if none, flushed) position,
  // and the dedup records including staged changes, by (node ID, incarnation).
  GroupPosition staged_group_;
  bool group_staged_ = false;
  std::map<std::pair<std::string, uint64_t>, GroupSeqs> groups_seen_;
  mutable std::mutex group_mu_;
  GroupPosition applied_group_;  // guarded by group_mu_: the flushed position
};

}  // namespace nebu::core
