// State digest: a deterministic dump and SHA-256 digest of a node's derived state.
//
// Apply is deterministic (StateMachine): the same committed commands in the same
// order write the same bytes, whatever the grouping, restarts or node. These
// functions make that checkable: the determinism test, the cluster's N-node property
// test and `nebu cluster verify` compare dumps or digests of several stores.
//
//   NEBU_ASSIGN_OR_RETURN(std::string hex, StateDigest(engine->store()));
//   NEBU_ASSIGN_OR_RETURN(StateDigests all, DigestState(engine->store()));  // per family
//   NEBU_ASSIGN_OR_RETURN(std::string diff, DiffStates(store_a, store_b, 20));
//
// What is dumped: every column family of the state DB in Cf order, every key/value
// in RocksDB's (bytewise) key order, read from one RocksDB snapshot (so a dump taken
// while apply goes on is a consistent cut at some flush). Excluded, and nothing else:
//   - Cf::kCommitLog, the whole family: it is the commit log, not derived state (the
//     engine keeps it in a DB of its own, <data_dir>/log; a store used for both, as in
//     some tests, holds entries whose trimming depends on grouping and timing).
// Included on purpose: the applied index, the stream position, the replicated group
// position and the groups' dedup records in Cf::kMeta (keys.h): every node records the
// same bytes for them (Applier::BeginGroup), so a difference there is a divergence.
// Two nodes compared at different applied positions differ in those keys (and the
// rest): compare at one position.
//
// Digest: SHA-256 over, for each entry, [u8 cf][u32 key length][key][u32 value
// length][value] (big-endian lengths); per family the same over that family's
// entries. Hex, lower-case. The format is stable: digests from different versions of
// nebu are comparable as long as the storage format (kStorageFormatVersion) is.
//
// Errors: kIoError / kCorruption when RocksDB fails to read.
// Thread-safety: safe from any thread, concurrently with apply (snapshot reads).
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>

#include "engine/common/status.h"
#include "engine/storage/keys.h"
#include "engine/storage/store.h"

namespace nebu::core {

// True for the column families DumpState visits (every one but Cf::kCommitLog).
bool IsDumpedFamily(storage::Cf cf);

using StateVisitor =
    std::function<void(storage::Cf cf, std::string_view key, std::string_view value)>;

// Calls `visit` for every dumped entry, family by family in Cf order, keys in order.
Status DumpState(storage::Store& store, const StateVisitor& visit);

struct StateDigests {
  std::string overall;  // hex SHA-256 of the whole dump
  // Per column family, indexed by Cf; "" for an excluded family. An empty family has
  // the digest of no bytes (e3b0c442...).
  std::array<std::string, static_cast<size_t>(storage::Cf::kCount)> per_family;
  std::array<uint64_t, static_cast<size_t>(storage::Cf::kCount)> entries{};
};

Result<StateDigests> DigestState(storage::Store& store);
// DigestState(store)->overall.
Result<std::string> StateDigest(storage::Store& store);

// The digest of each room's log (Cf::kEvents entries [room][seq] -> envelope, in the
// same entry format), by room number. Rooms with no event are absent.
Result<std::map<storage::RoomNumber, std::string>> RoomLogDigests(storage::Store& store);

// "" when both dumps are identical; otherwise up to `lines_max` lines, one per
// difference in merged key order ("<family> only in a: <key hex> = <value hex>", "...
// only in b: ...", "<family> differs: <key hex>: <value a hex> != <value b hex>"),
// then "... (more differences)" if there were more. Values are cut at 64 bytes.
Result<std::string> DiffStates(storage::Store& a, storage::Store& b, size_t lines_max);

}  // namespace nebu::core
