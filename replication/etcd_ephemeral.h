// EtcdEphemeralBus: the cluster's api::EphemeralBus (api/ephemeral_bus.h): typing and
// presence shared by every node through etcd keys with leases, one watch per node.
//
//   EtcdEphemeralBus bus(node.etcd(), {.prefix = "/nebu"});
//   api::ClientApi api(engine, options, &metrics, &bus);   // trackers subscribe
//   bus.Start();                                           // snapshot, then the watch
//   ...; bus.Stop();                                       // before the client goes
//
// Keys under the cluster prefix P (one watch on P/ephemeral/ from every node):
//   P/ephemeral/typing/<room>/<user>  value "1", on a lease of ceil(timeout) + 1 s
//                                     (kEphemeralLeaseReuseMs: a lease granted for
//                                     the same TTL within that time is shared), so
//                                     etcd deletes it between timeout and timeout +
//                                     ~1.5 s (etcd checks expiry every 500 ms); a
//                                     stop deletes it at once.
//   P/ephemeral/presence/<user>       JSON (api/sync/presence.h), on this node's session
//                                     lease (TTL kEphemeralSessionTtlSecondsDefault,
//                                     renewed every TTL/3): when the node dies its
//                                     users' keys go within the TTL and every node
//                                     sees them "offline"; Stop revokes it at once.
// <room> and <user> are percent-encoded ('%' → %25, '/' → %2F).
//
// Serials: an update's serial is the etcd revision of its change (a put's
// mod_revision, a delete's revision), so a serial means the same on every node.
// Delivery order is revision order. Start (and a watch whose resume revision was
// compacted) reads the whole P/ephemeral/ range at revision R and delivers what
// changed against what the bus knew: puts with their mod_revision, deletes of keys
// gone with serial R; then watches from R + 1.
//
// Publish never blocks: it queues (at most kEphemeralQueueMax; beyond, the update is
// dropped and counted) and the bus's thread writes to etcd; an update reaches the
// subscribers from the watch, like every other node's. etcd unreachable: the writes
// fail (dropped, counted, warned once per outage), reads keep the last known state,
// and the watch resumes by itself.
//
// Thread-safety: every method is safe from any thread. Listeners run on the watch's
// thread or the bus's thread, one at a time. The EtcdClient must outlive the bus.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "api/ephemeral_bus.h"
#include "replication/etcd_client.h"

namespace nebu::replication {

// The session lease of this node's presence keys.
inline constexpr int64_t kEphemeralSessionTtlSecondsDefault = 10;
// Updates waiting to be written to etcd; beyond it Publish drops (best effort).
inline constexpr size_t kEphemeralQueueMax = 4096;
// A typing lease of the same TTL granted this recently is reused for another key.
inline constexpr int64_t kEphemeralLeaseReuseMs = 1000;
// Retry pause after a failed snapshot read or session lease grant.
inline constexpr int64_t kEphemeralRetryMs = 500;

struct EtcdEphemeralOptions {
  std::string prefix = "/nebu";  // the cluster's prefix (NEBU_ETCD_PREFIX)
  int64_t session_ttl_seconds = kEphemeralSessionTtlSecondsDefault;
};

class EtcdEphemeralBus final : public api::EphemeralBus {
 public:
  EtcdEphemeralBus(EtcdClient& etcd, EtcdEphemeralOptions options);
  ~EtcdEphemeralBus() override;  // Stop()
  EtcdEphemeralBus(const EtcdEphemeralBus&) = delete;
  EtcdEphemeralBus& operator=(const EtcdEphemeralBus&) = delete;

  // Starts the bus's thread: snapshot, watch, writes. Call once, after the
  // subscribers that need the snapshot subscribed.
  void Start();
  // Revokes the session lease (this node's presence keys go at once), stops the
  // watch and the thread. Queued writes are dropped. Idempotent.
  void Stop();

  void Publish(const api::EphemeralKey& key, std::optional<std::string> value,
               std::chrono::milliseconds ttl) override;
  SubscriptionId Subscribe(Listener listener) override;
  void Unsubscribe(SubscriptionId id) override;
  [[nodiscard]] uint64_t serial() const override;

  // Updates dropped (queue full) or not written (etcd failed) since the start.
  [[nodiscard]] uint64_t dropped() const;
  // True once the first snapshot was delivered (tests wait on it).
  [[nodiscard]] bool synced() const;

  // The etcd key of `key` under `prefix`, and back (nullopt: not a bus key).
  static std::string KeyOf(const std::string& prefix, const api::EphemeralKey& key);
  static std::optional<api::EphemeralKey> ParseKey(const std::string& prefix,
                                                   std::string_view etcd_key);

 private:
  struct Op {
    api::EphemeralKey key;
    std::optional<std::string> value;
    std::chrono::milliseconds ttl{0};
  };
  using Clock = std::chrono::steady_clock;

  void Run();                            // the bus's thread
  bool Resync();                         // snapshot + restart the watch; false on failure
  void Write(const Op& op);              // one update to etcd
  Result<int64_t> TypingLease(std::chrono::milliseconds ttl);
  Result<int64_t> SessionLease();        // grants it when there is none
  void RenewSession();
  bool OnWatch(uint64_t generation, const EtcdWatchUpdate& update);
  void Deliver(const api::EphemeralUpdate& update);  // deliver_mutex_ held
  void CountFailure(const Status& status);

  EtcdClient& etcd_;
  const EtcdEphemeralOptions options_;
  const std::string root_;  // P/ephemeral/

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Op> queue_;           // guarded by mu_
  bool started_ = false;           // guarded by mu_
  bool stopping_ = false;          // guarded by mu_
  bool resync_needed_ = true;      // guarded by mu_
  bool synced_ = false;            // guarded by mu_
  bool failing_ = false;           // guarded by mu_: warned about the current outage
  uint64_t dropped_ = 0;           // guarded by mu_
  uint64_t generation_ = 0;        // guarded by mu_: of the current watch

  // The bus's thread only:
  int64_t session_lease_ = 0;
  Clock::time_point session_renew_at_{};
  std::map<int64_t, std::pair<int64_t, Clock::time_point>> typing_leases_;  // ttl s -> lease

  mutable std::mutex deliver_mutex_;  // one delivery at a time, in revision order
  std::map<SubscriptionId, Listener> listeners_;  // guarded by deliver_mutex_
  SubscriptionId next_subscription_ = 1;          // guarded by deliver_mutex_
  std::map<std::string, int64_t> known_;          // guarded by deliver_mutex_: key -> mod rev
  std::atomic<uint64_t> serial_{0};               // written with deliver_mutex_ held
  uint64_t snapshot_revision_ = 0;                // guarded by deliver_mutex_

  std::unique_ptr<EtcdWatch> watch_;  // the bus's thread (and Stop after the join)
  std::thread thread_;
};

}  // namespace nebu::replication
