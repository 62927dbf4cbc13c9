// PusherDelivery: sends each pusher's notifications (engine/push/notifications.h) to its
// push gateway, `POST <data.url>` (Push Gateway API, /_matrix/push/v1/notify), off the
// request path, on one thread.
//
//   auto gateway = MakeHttpPushGateway(false);          // push_gateway_client.cpp (Beast)
//   PusherDelivery delivery(*engine, {.gateway = gateway.get(), .wake = &worker.notifier()});
//   delivery.Start();
//   ...                                                  // cluster: election callbacks call
//   delivery.SetActive(false);                           //   SetActive(true/false)
//   delivery.Stop();                                     // before the engine goes
//
// One pass (RunOnce) reads every pusher (push::ForEachPusher) through one snapshot:
//  - a pusher whose device is gone or whose user is deactivated (PusherIsLive false) is
//    not pushed to; a kPusher delete (if_ts) removes it from the state;
//  - its queue (at most kPusherQueueMax notifications, oldest first) is filled with the
//    user's notifications after the last one queued (after the stored delivered position
//    at first): the rest waits in the store (which keeps the newest
//    push::kNotificationsPerUserMax per user);
//  - the queue's head is POSTed; on a 2xx the next one follows. The gateway's `rejected`
//    list holding the pushkey removes the pusher (a kPusher delete with if_ts, so a pusher
//    the user set again since stays). A network error, a timeout, a 429 or a 5xx is
//    retried with exponential backoff (kPushBackoffInitialMs doubling to
//    kPushBackoffMsMax) up to kPushAttemptsMax attempts; then the notification is dropped
//    and the next one tried. Another 4xx drops the notification at once.
//  - after a pass the last position sent or dropped is proposed as the pusher's
//    delivered position (a kPusher delivered command), so a restart or another node
//    taking over resumes after it.
// Delivery is at-least-once within a window: notifications sent but whose delivered
// command was not applied yet (one pass, plus the commit latency) are sent again after
// a crash or a hand-over.
//
// Body (Push Gateway API): {"notification": {event_id, room_id, counts: {unread},
// prio, devices: [{app_id, pushkey, pushkey_ts (seconds), data minus url, tweaks}]},
// plus type, sender and content unless data.format is "event_id_only"}. prio is "high"
// for encrypted events and when the actions set a sound or highlight, "low" otherwise.
//
// In a cluster only the holder of the pusher election delivers (app/ wires a
// replication::LeaseElection on <prefix>/pusher, as for the projector): SetActive(false)
// forgets every queue, SetActive(true) resumes from the stored delivered positions.
//
// Waking: the notification worker's notifier (options.wake) after each of its batches,
// and at the latest every poll_ms and when a backoff ends.
//
// Thread-safety: Start/Stop from one thread; SetActive and stats from any thread;
// RunOnce only from one thread at a time (tests call it with Start not called).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "engine/common/clock.h"
#include "engine/common/status.h"
#include "engine/core/notifier.h"
#include "engine/push/notifications.h"
#include "engine/push/pushers.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

// Notifications held in memory per pusher (the rest waits in the store).
inline constexpr size_t kPusherQueueMax = 64;
// Attempts of one notification before it is dropped.
inline constexpr int kPushAttemptsMax = 8;
// Backoff after the first failure, doubled after each, capped.
inline constexpr int64_t kPushBackoffInitialMs = 1000;
inline constexpr int64_t kPushBackoffMsMax = 60 * 1000;
// One POST to a gateway: connect + TLS handshake + write + read, every step
// asynchronous under one deadline (the name lookup is bounded on its own, below).
inline constexpr int64_t kPushTimeoutMs = 10 * 1000;
// A gateway's name lookup (the system resolver, on a helper thread: the delivery
// thread waits at most this long, then counts a retryable failure and goes on).
inline constexpr int64_t kPushResolveTimeoutMs = 5 * 1000;
// Name lookups outstanding at once (a lookup that timed out still counts until the
// resolver returns); one more fails at once, retryable.
inline constexpr size_t kPushResolvesInFlightMax = 8;
// A gateway answer read at most (the rest is an error).
inline constexpr size_t kPushReplyBytesMax = 64 * 1024;
// The delivery looks for work at least this often.
inline constexpr int64_t kDeliveryPollMs = 1000;

struct GatewayReply {
  int status = 0;
  std::string body;
};

// Where the POSTs go: the Beast client (MakeHttpPushGateway) or a test's fake.
class PushGateway {
 public:
  virtual ~PushGateway() = default;
  // POSTs `body` (JSON) to `url`. kUnavailable for a connection error, a timeout or a
  // reply over kPushReplyBytesMax; kInvalidArgument for a URL it cannot reach (e.g. an
  // https URL without TLS). Called from the delivery thread only.
  [[nodiscard]] virtual Result<GatewayReply> Post(const std::string& url,
                                                  const std::string& body) = 0;
};

// The HTTP client (api/push/push_gateway_client.cpp: Beast, the only file of api/push
// that includes it): http:// and https:// (TLS 1.2+, the system's CA store, host name
// verified), one connection per POST, timeout_ms for the whole exchange (name
// resolution excepted: it is the system resolver's, blocking). Unless allow_private,
// a host that resolves to a loopback, private (RFC 1918/4193), link-local, CGNAT,
// multicast or unspecified address is refused (kInvalidArgument: the notification is
// dropped), so a user cannot make the server POST into its own network
// (NEBU_PUSH_PRIVATE_GATEWAYS=on allows it: tests, a gateway on the same host).
std::unique_ptr<PushGateway> MakeHttpPushGateway(bool allow_private,
                                                 int64_t timeout_ms = kPushTimeoutMs);

// Which HTTP answers mean what (for the gateway's fake and the docs).
[[nodiscard]] bool IsRetryablePushStatus(int status);  // 429, 5xx
[[nodiscard]] int64_t PushBackoffMs(int failures);     // failures >= 1

// The notify body of one notification (the header's "Body").
[[nodiscard]] Result<std::string> BuildNotifyBody(core::Engine& engine,
                                                  const push::StoredPusher& pusher,
                                                  const push::Notification& notification,
                                                  uint64_t unread);

struct DeliveryOptions {
  PushGateway* gateway = nullptr;       // required; outlives the delivery
  core::Notifier* wake = nullptr;       // the notification worker's; null: poll only
  const Clock* clock = nullptr;         // backoff time; null: the engine's clock
  int64_t poll_ms = kDeliveryPollMs;
  bool active = true;                   // cluster: false until elected
};

struct DeliveryStats {
  uint64_t sent = 0;      // 2xx answers
  uint64_t failed = 0;    // failed attempts (each retry counts)
  uint64_t dropped = 0;   // notifications given up (attempts exhausted or a 4xx)
  uint64_t rejected = 0;  // pushers removed because the gateway rejected their pushkey
  uint64_t removed = 0;   // pushers removed because their device or user is gone
};

class PusherDelivery {
 public:
  PusherDelivery(core::Engine& engine, DeliveryOptions options);
  ~PusherDelivery();
  PusherDelivery(const PusherDelivery&) = delete;
  PusherDelivery& operator=(const PusherDelivery&) = delete;

  void Start();
  void Stop();  // joins the thread; idempotent
  void SetActive(bool active);
  bool active() const { return active_.load(); }

  // One pass (the header). Returns the delay in ms until a backoff ends (-1: none).
  // kCorruption / kIoError from the reads (the pass stops; the loop retries).
  [[nodiscard]] Result<int64_t> RunOnce();

  DeliveryStats stats() const;

 private:
  struct Queue {
    push::StoredPusher pusher;
    std::vector<push::Notification> pending;  // oldest first, at most kPusherQueueMax
    storage::StreamPosition queued_upto = 0;  // the last position queued
    storage::StreamPosition done_upto = 0;    // the last position sent or dropped
    storage::StreamPosition proposed = 0;     // the last delivered position proposed
    int failures = 0;                         // of the head
    int64_t retry_at_ms = 0;                  // the head's next attempt
  };
  void Loop();
  void Wake();
  Status Visit(const storage::ReadView& view, const push::StoredPusher& pusher, int64_t now_ms,
               int64_t* next_ms);
  Status Fill(const storage::ReadView& view, Queue& q);
  // Sends the head; false when it must wait (backoff) or the pusher was removed.
  bool SendHead(const storage::ReadView& view, Queue& q, int64_t now_ms, bool* removed);
  void Propose(push::PusherCommand command);

  core::Engine& engine_;
  DeliveryOptions options_;
  const Clock& clock_;
  std::atomic<bool> active_;
  std::map<std::string, Queue> queues_;  // delivery thread (RunOnce) only
  std::map<std::string, int64_t> removals_;  // dead pushers (key -> ts) whose delete was proposed

  std::atomic<uint64_t> sent_{0}, failed_{0}, dropped_{0}, rejected_{0}, removed_{0};

  struct Signal {
    std::mutex mu;
    std::condition_variable cv;
    bool stop = false;   // guarded by mu
    bool woken = false;  // guarded by mu
  };
  std::shared_ptr<Signal> signal_ = std::make_shared<Signal>();
  std::thread thread_;
};

}  // namespace nebu::api
