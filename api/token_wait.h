// Cluster-wide tokens: a read that takes a token (a /sync next_batch, a /messages or
// /relations pagination token, /members?at=, /keys/changes from/to) may be served by a
// node that has not yet applied what the token names, because another node issued it
// (every node applies the same groups in the same order, so stream positions and
// per-room sequences mean the same everywhere; api/sync/sync.h). Such a read waits, bounded,
// until this node's applied position reaches the token, instead of refusing it.
//
//   SetTokenWaitMs(config.cluster.enabled() ? kTokenWaitMsCluster : 0);  // nebu serve
//   bool reached = WaitForApplied(engine.notifier(),
//                                 [&] { return engine.stream_position() >= position; },
//                                 TokenWaitMs());
//
// The bound: TokenWaitMs(), process-wide, 0 until SetTokenWaitMs (a single node: no
// token it did not issue is legitimate, so it answers at once, exactly as before the
// cluster existed). With NEBU_ETCD_ENDPOINTS `nebu serve` sets kTokenWaitMsCluster.
// What each route does with a token still ahead after the bound is in its manual
// (api/sync/sync_routes.h, api/rooms/rooms_routes.h, api/keys/keys_routes.h): 400 M_INVALID_PARAM.
//
// Thread-safety: all functions are safe from any thread. WaitForApplied blocks: call
// it only from an offload-pool or worker thread (RouteOptions::offload), never from a
// server I/O thread or the engine's apply thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

namespace nebu::core {
class Notifier;
}

namespace nebu::api {

// How long a read waits for this node to apply what a token names, in a cluster.
inline constexpr int64_t kTokenWaitMsCluster = 10000;
// Threads that may block in WaitForApplied at once, process-wide (the router's offload
// pool has Router::kOffloadThreads; these keep the rest free for other reads). Beyond
// it a wait does not wait: it answers whether the position is reached now.
inline constexpr size_t kTokenWaitersBlockingMax = 2;

void SetTokenWaitMs(int64_t wait_ms);
[[nodiscard]] int64_t TokenWaitMs();
// Threads blocked in WaitForApplied now (tests, metrics).
[[nodiscard]] size_t TokenWaitersBlocking();

// Returns true as soon as reached() is true, checked now and after every advance of
// `notifier` (the engine's applied stream); false when wait_ms passes first (or at
// once when wait_ms <= 0 or kTokenWaitersBlockingMax threads already wait). reached()
// must read state the notifier's advances publish (stream position, room sequences).
[[nodiscard]] bool WaitForApplied(core::Notifier& notifier, const std::function<bool()>& reached,
                                  int64_t wait_ms);

}  // namespace nebu::api
