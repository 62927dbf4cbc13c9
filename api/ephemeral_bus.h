// EphemeralBus: where typing notifications and presence (the "ephemeral" state that
// is not in the command log) are published and observed. A tracker (api/sync/typing.h,
// api/sync/presence.h) publishes a local change and changes its state only when the
// update comes back from the bus, so every observer of one bus sees the same
// updates in the same order with the same serials.
//
//   InMemoryEphemeralBus bus;                       // one node (the default)
//   auto id = bus.Subscribe([](const EphemeralUpdate& u) { ... });
//   bus.Publish({.kind = EphemeralKind::kTyping, .room_id = "!r:hs", .user_id = "@a:hs"},
//               "1", std::chrono::seconds(10));  // set, expires in 10 s
//   bus.Publish({...}, std::nullopt, {});          // delete
//   bus.Unsubscribe(id);
//
// Implementations: InMemoryEphemeralBus here (one process, synchronous: Publish
// delivers before it returns); replication/etcd_ephemeral.h for a cluster (keys in
// etcd with leases, one watch per node; Publish returns at once and the update
// arrives later from the watch, from any node).
//
// Keys and values: a key is (kind, room_id, user_id) (room_id empty for presence);
// a value is an opaque string, nullopt = deleted. `ttl` > 0: the key is deleted by
// the bus (an update with no value) once ttl has passed without a newer Publish of
// it; ttl == 0: the key lives as long as the publishing node (InMemory: forever; etcd:
// the node's session lease, so a dead node's keys go away).
//
// Serials: every delivered update carries a serial, non-decreasing in delivery order
// and the same for the same update on every observer of the bus (in memory: a counter
// starting at the wall-clock ms of construction, so serials of a later process are
// above an earlier one's; etcd: the revision of the change). A Publish that sets a key
// to the value it already has only renews its ttl: InMemory delivers nothing then
// (and takes no serial); etcd delivers it again (observers see no change).
//
// Thread-safety: every method is safe from any thread. Listeners run one at a time,
// in serial order (on the publishing thread, the expiry thread or the watch thread);
// a listener must be short and must not call Publish, Subscribe or Unsubscribe.
// Unsubscribe returns once the listener is not running and will not run again.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>

namespace nebu::api {

// Keys the in-memory bus holds at once; a Publish of a new key beyond it is dropped
// (ephemeral state is best effort). Covers kTypingEntriesMax + kPresenceUsersMax.
inline constexpr size_t kEphemeralKeysMax = 110000;

enum class EphemeralKind { kTyping = 0, kPresence = 1 };

struct EphemeralKey {
  EphemeralKind kind = EphemeralKind::kTyping;
  std::string room_id;  // typing: the room; presence: empty
  std::string user_id;
  auto operator<=>(const EphemeralKey&) const = default;
};

struct EphemeralUpdate {
  EphemeralKey key;
  std::optional<std::string> value;  // nullopt: deleted (stopped, expired, node gone)
  uint64_t serial = 0;
};

class EphemeralBus {
 public:
  using Listener = std::function<void(const EphemeralUpdate&)>;
  using SubscriptionId = uint64_t;

  virtual ~EphemeralBus() = default;
  virtual void Publish(const EphemeralKey& key, std::optional<std::string> value,
                       std::chrono::milliseconds ttl) = 0;
  virtual SubscriptionId Subscribe(Listener listener) = 0;
  virtual void Unsubscribe(SubscriptionId id) = 0;
  // The serial of the newest update delivered (or the starting serial).
  [[nodiscard]] virtual uint64_t serial() const = 0;
  // Expiries waiting for their deadline (in memory; tests wait on it), 0 if unknown.
  [[nodiscard]] virtual size_t expiries_pending() const { return 0; }
};

class DeadlineTimer;

// One process's bus: updates are delivered synchronously inside Publish (or on the
// expiry timer's thread), serial = ++counter.
class InMemoryEphemeralBus final : public EphemeralBus {
 public:
  InMemoryEphemeralBus();
  ~InMemoryEphemeralBus() override;
  InMemoryEphemeralBus(const InMemoryEphemeralBus&) = delete;
  InMemoryEphemeralBus& operator=(const InMemoryEphemeralBus&) = delete;

  void Publish(const EphemeralKey& key, std::optional<std::string> value,
               std::chrono::milliseconds ttl) override;
  SubscriptionId Subscribe(Listener listener) override;
  void Unsubscribe(SubscriptionId id) override;
  [[nodiscard]] uint64_t serial() const override;
  [[nodiscard]] size_t expiries_pending() const override;

 private:
  struct Entry {
    std::string value;
    uint64_t generation = 0;  // the Publish that last set or renewed it
  };
  void Expire(const EphemeralKey& key, uint64_t generation);
  void Deliver(const EphemeralUpdate& update);  // deliver_mutex_ held

  std::mutex deliver_mutex_;  // one delivery at a time, in serial order
  std::map<SubscriptionId, Listener> listeners_;  // guarded by deliver_mutex_
  SubscriptionId next_subscription_ = 1;          // guarded by deliver_mutex_
  std::map<EphemeralKey, Entry> entries_;         // guarded by deliver_mutex_
  uint64_t generation_ = 0;                       // guarded by deliver_mutex_
  mutable std::mutex serial_mutex_;
  uint64_t serial_ = 0;  // guarded by serial_mutex_ (written with deliver_mutex_ held)
  std::unique_ptr<DeadlineTimer> timer_;  // expiries; destroyed first
};

}  // namespace nebu::api
