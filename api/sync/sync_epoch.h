// The sync-token epoch: which history of this node a token's positions belong to.
//
// Stream positions are dense and handed out in apply. A restore from a backup rewinds
// a single node's history: positions after the backup point are handed out again, for
// other events. So the node keeps an epoch (storage::ReadSyncEpoch, Cf::kMeta
// "sync_epoch": 0 until a restore stores a new one, app/backup_restore.h) and its sync
// tokens carry it: "s<position>_..." plus "e<epoch>" when it is not 0 (tokens of a
// node that was never restored are unchanged; a token without it is epoch 0).
//
// What a token of another epoch means on each route (its positions are meaningless):
//   /sync since                    as if absent: an initial (full) sync
//   /messages, /relations from/to, /members at
//                                  the room's newest event (paginating back from the
//                                  end, as if `from` were absent)
//   /events (legacy) from          as if absent: from the current position
//   /keys/changes from/to          position 0 (from: every change; a client re-fetches)
//   the token wait of a cluster    not waited for
//
//   SetSyncEpoch(epoch_read_at_start);      // app/main.cpp, before the listeners start
//   if (token.epoch != SyncEpoch()) ...     // api/sync/sync.h SyncToken
//
// Thread-safety: an atomic; set once at start, read from any thread.
#pragma once

#include <atomic>
#include <cstdint>

namespace nebu::api {

inline std::atomic<uint64_t> g_sync_epoch{0};

inline void SetSyncEpoch(uint64_t epoch) { g_sync_epoch.store(epoch); }
[[nodiscard]] inline uint64_t SyncEpoch() { return g_sync_epoch.load(); }

}  // namespace nebu::api
