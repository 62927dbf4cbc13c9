// GroupSeqs: which group sequences of one node incarnation were applied, the dedup
// record of replicated groups (Applier::BeginGroup). Pure: no I/O.
//
//   GroupSeqs seen;                      // or *GroupSeqs::Decode(stored_bytes)
//   if (seen.Contains(seq)) skip;        // applied before: a retried Put that landed twice
//   else seen.Insert(seq);               // then store seen.Encode()
//
// A node keeps several groups in flight, so the ordered log may hold its seq 6 before
// its seq 5, and a Put that failed for good leaves its seq missing forever. The record
// is a watermark (every seq <= it counts as applied) plus the sparse set of applied
// seqs above it. The set is bounded by kGroupSeqWindow: when a seq lands more than that
// many above the watermark, the watermark moves up to seq - kGroupSeqWindow, so the
// missing seqs below it count as applied (a group that lands that late is skipped).
// The replicated committer must therefore never let a group (nor a retry of it) land
// kGroupSeqWindow or more seqs after a later group of its incarnation: it keeps fewer
// groups than that in flight and gives up on a Put before that many later ones landed.
//
// Encoding (stable on disk, storage/keys.h GroupSeenKey): [u64 revision][u64
// watermark][u32 n][n x u64 seq ascending], where revision is the ordered-log revision
// of the last group Insert()ed (for pruning old incarnations, see StateMachine).
//
// Thread-safety: a value type; no internal locking.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"

namespace nebu::core {

// Seqs above a node incarnation's watermark that the dedup record tracks one by one.
inline constexpr uint64_t kGroupSeqWindow = 1024;
// Dedup records kept per node ID: a group from a new incarnation of a node that has
// this many drops the record of the incarnation whose last group has the lowest
// revision (a restart long ago: its groups have all landed or failed for good).
inline constexpr size_t kGroupIncarnationsPerNodeMax = 4;
// A group origin's node ID is 1 to this many bytes (BeginGroup refuses others).
inline constexpr size_t kGroupNodeIdBytesMax = 255;

class GroupSeqs {
 public:
  // kCorruption when the bytes are no record (wrong length, seqs out of order or
  // outside the window).
  static Result<GroupSeqs> Decode(std::string_view bytes);
  std::string Encode() const;

  // seq >= 1.
  bool Contains(uint64_t seq) const;
  // Records seq (not Contains(seq), seq >= 1) as applied by the group at `revision`.
  void Insert(uint64_t seq, uint64_t revision);

  uint64_t watermark() const { return watermark_; }
  const std::vector<uint64_t>& above() const { return above_; }
  uint64_t revision() const { return revision_; }

 private:
  uint64_t revision_ = 0;
  uint64_t watermark_ = 0;
  std::vector<uint64_t> above_;  // ascending, each > watermark_ + 1, at most kGroupSeqWindow
};

}  // namespace nebu::core
