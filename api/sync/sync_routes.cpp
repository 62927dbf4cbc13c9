#include "api/sync/sync_routes.h"

#include <algorithm>
#include <boost/json.hpp>
#include <charconv>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include "api/auth.h"
#include "api/deadline_timer.h"
#include "api/errors.h"
#include "api/accounts/filter_routes.h"
#include "api/sync/presence.h"
#include "api/rate_limit.h"
#include "api/sync/sync.h"
#include "api/token_wait.h"
#include "api/sync/typing.h"
#include "engine/push/notification_worker.h"
#include "api/worker_pool.h"
#include "engine/core/room_reads.h"
#include "engine/core/engine.h"

namespace nebu::api {

namespace {

using storage::StreamPosition;

// One parked long-poll, or one sync whose `since` this node has not applied yet
// (catching_up: it waits for the stream to reach since->position, then is answered
// as a fresh request with what is left of its timeout).
struct Wait {
  SyncRequest request;  // request.since: the position of `last`
  DeadlineTimer::Clock::time_point deadline;
  bool catching_up = false;                         // guarded by mutex
  DeadlineTimer::Clock::time_point poll_deadline;   // catching up: the long-poll's own end
  std::mutex mutex;
  bool done = false;                                // guarded by mutex
  Respond respond;                                  // guarded by mutex; called once, unlocked
  Response last;                                    // guarded by mutex: the empty answer so far
  core::Notifier::SubscriptionId subscription = 0;  // guarded by mutex
  // guarded by mutex: on the notification worker's notifier (counts catching up)
  core::Notifier::SubscriptionId push_subscription = 0;
  DeadlineTimer::TimerId timer = 0;                 // guarded by mutex
};

class SyncService {
 public:
  SyncService(core::Engine& engine, TypingTracker* typing, PresenceTracker* presence,
              std::shared_ptr<UserRateLimits> limits, push::NotificationWorker* notifications)
      : engine_(engine),
        notifications_(notifications),
        typing_(typing),
        presence_(presence),
        limits_(std::move(limits)),
        timer_({.pending_max = kSyncWaitersMax}),
        pool_({.threads = kSyncWorkerThreads, .queue_max = kSyncWorkerQueueMax}),
        heavy_pool_({.threads = kSyncHeavyThreads, .queue_max = kSyncHeavyQueueMax}) {
    if (typing_) {
      typing_subscription_ =
          typing_->Subscribe([this](const std::string& room_id) { TypingChanged(room_id); });
    }
    if (presence_) {
      presence_subscription_ =
          presence_->Subscribe([this](const std::string& user_id) { PresenceChanged(user_id); });
    }
  }

  // A set_presence that would change the caller's presence (each change wakes the
  // long-polls of every room-mate) takes a token of the presence limit; over it the
  // change is skipped. Keeping the same presence costs nothing.
  bool PresenceChangeAllowed(const std::string& user_id, std::string_view set_presence) {
    if (!limits_ || (set_presence != "online" && set_presence != "unavailable")) return true;
    std::optional<PresenceState> now = presence_->Get(user_id);
    if (now && now->presence == set_presence) return true;
    return limits_->presence.Acquire(user_id, engine_.clock().NowMonotonicNs() / 1'000'000) <= 0;
  }

  ~SyncService() {
    if (typing_) typing_->Unsubscribe(typing_subscription_);
    if (presence_) presence_->Unsubscribe(presence_subscription_);
    Drain();
    // Then heavy_pool_ (queued syncs assemble and answer; a park now answers at once),
    // pool_ (running queued wake-ups, which find their waits done) and timer_.
  }
  // The server is stopping (Router::Drain) or the routes go: every parked long-poll
  // is answered now with what it has (an empty response), and later syncs do not
  // park. A sync still catching up to another node's token gets 503 (retry, maybe on
  // another node) rather than its 400. Idempotent.
  void Drain() {
    std::set<std::shared_ptr<Wait>> parked;
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
      parked.swap(waits_);
      waits_by_user_.clear();
    }
    for (const auto& wait : parked) {
      bool catching_up = false;
      {
        std::lock_guard lock(wait->mutex);
        catching_up = wait->catching_up;
      }
      if (!catching_up) {
        Finish(wait, std::nullopt);
      } else {
        Finish(wait, ErrorResponse(503, "M_UNKNOWN", "The server is stopping; try again"));
      }
    }
  }

  SyncService(const SyncService&) = delete;
  SyncService& operator=(const SyncService&) = delete;

  void Handle(const Request& request, Respond respond) {
    auto caller = Authenticate(request, engine_);
    if (auto* error = std::get_if<Response>(&caller)) return respond(std::move(*error));
    SyncRequest sync{.user_id = std::get<Caller>(caller).user_id,
                     .device_id = std::get<Caller>(caller).device_id,
                     .typing = typing_,
                     .presence = presence_,
                     .notifications = notifications_};
    if (auto since = request.Query("since")) {
      sync.since = ParseSyncToken(*since);
      if (!sync.since) return respond(ErrorResponse(400, "M_INVALID_PARAM", "Bad since token"));
      // A token of another history (a restore rewound this node): an initial sync.
      if (sync.since->epoch != SyncEpoch()) sync.since.reset();
    }
    if (auto filter = request.Query("filter"); filter && !filter->empty()) {
      std::optional<std::string> text(*filter);
      if (!filter->starts_with("{")) {
        text = FilterFromId(*filter);  // an uploaded filter's ID
        if (!text) return respond(ErrorResponse(404, "M_NOT_FOUND", "No such filter"));
      }
      Result<SyncFilter> parsed = ParseSyncFilter(*text);
      if (!parsed.ok()) return respond(ErrorResponse(parsed.status()));
      sync.filter = std::move(parsed).value();
    }
    if (auto full_state = request.Query("full_state")) {
      if (*full_state != "true" && *full_state != "false") {
        return respond(ErrorResponse(400, "M_INVALID_PARAM", "full_state must be true or false"));
      }
      sync.full_state = *full_state == "true";
    }
    std::string_view set_presence = request.Query("set_presence").value_or("online");
    if (!IsPresenceValue(set_presence)) {
      return respond(ErrorResponse(400, "M_INVALID_PARAM", "Bad set_presence"));
    }
    int64_t timeout_ms = 0;
    if (auto timeout = request.Query("timeout")) {
      auto [ptr, ec] =
          std::from_chars(timeout->data(), timeout->data() + timeout->size(), timeout_ms);
      if (ec != std::errc() || ptr != timeout->data() + timeout->size() || timeout_ms < 0) {
        return respond(ErrorResponse(400, "M_INVALID_PARAM", "Bad timeout"));
      }
      timeout_ms = std::min(timeout_ms, kSyncTimeoutMsMax);
    }
    if (presence_ && PresenceChangeAllowed(sync.user_id, set_presence)) {
      presence_->MarkActive(sync.user_id, set_presence, engine_.clock().NowUnixMs());
    }
    if (!IsHeavy(sync)) return Answer(std::move(sync), timeout_ms, std::move(respond));
    bool queued = heavy_pool_.Post([this, sync, timeout_ms, respond]() mutable {
      Answer(std::move(sync), timeout_ms, std::move(respond));
    });
    if (!queued) respond(RateLimitedResponse(kSyncBusyRetryAfterMs));
  }

 private:
  // Initial and full_state syncs, and incremental ones far behind the stream, assemble
  // on heavy_pool_ rather than the server thread.
  bool IsHeavy(const SyncRequest& sync) const {
    if (!sync.since || sync.full_state) return true;
    const StreamPosition now = engine_.stream_position();
    return now > sync.since->position && now - sync.since->position > kSyncInlineWindowMax;
  }

  // Assembles the answer; answers now, or parks an empty incremental sync. A `since`
  // ahead of this node's stream waits for it (CatchUp) when TokenWaitMs() > 0.
  void Answer(SyncRequest sync, int64_t timeout_ms, Respond respond) {
    if (sync.since && sync.since->position > engine_.stream_position() && TokenWaitMs() > 0) {
      return CatchUp(std::move(sync), timeout_ms, std::move(respond));
    }
    Result<SyncResult> result = AssembleSync(engine_, sync);
    if (!result.ok()) return respond(ErrorResponse(result.status()));
    if (!sync.since || sync.full_state || timeout_ms == 0 || result->has_updates) {
      return respond(JsonResponse(200, result->body));
    }
    auto wait = std::make_shared<Wait>();
    wait->request = std::move(sync);
    wait->request.since = result->next_batch;
    wait->deadline = DeadlineTimer::Clock::now() + std::chrono::milliseconds(timeout_ms);
    wait->respond = std::move(respond);
    wait->last = JsonResponse(200, result->body);
    Park(wait);
  }

  // Parks a sync whose since is ahead of this node's stream (cluster-wide tokens,
  // api/token_wait.h) until the stream reaches it or TokenWaitMs() passes; then the
  // 400 it would have had.
  void CatchUp(SyncRequest sync, int64_t timeout_ms, Respond respond) {
    auto wait = std::make_shared<Wait>();
    const auto now = DeadlineTimer::Clock::now();
    wait->request = std::move(sync);
    wait->catching_up = true;
    wait->deadline = now + std::chrono::milliseconds(TokenWaitMs());
    wait->poll_deadline = now + std::chrono::milliseconds(timeout_ms);
    wait->respond = std::move(respond);
    wait->last = ErrorResponse(400, "M_INVALID_PARAM", "since is ahead of this server's stream");
    Park(wait);
  }

  void Park(const std::shared_ptr<Wait>& wait) {
    bool parked = false;
    {
      std::lock_guard lock(mutex_);
      if (!stopping_ && waits_.size() < kSyncWaitersMax) parked = waits_.insert(wait).second;
      if (parked) waits_by_user_.emplace(wait->request.user_id, wait);
    }
    if (!parked) return Unpark(wait);
    DeadlineTimer::TimerId timer =
        timer_.Schedule(wait->deadline, [this, wait] { Finish(wait, std::nullopt); });
    if (timer == 0) return Finish(wait, std::nullopt);
    {
      std::lock_guard lock(wait->mutex);
      wait->timer = timer;
    }
    Subscribe(wait);
  }

  // Answers a wait that was never registered (used only before waits_ holds it).
  static void Unpark(const std::shared_ptr<Wait>& wait) {
    Respond respond;
    Response last;
    {
      std::lock_guard lock(wait->mutex);
      wait->done = true;
      respond = std::move(wait->respond);
      last = std::move(wait->last);
    }
    respond(std::move(last));
  }

  // Wakes the wait once the stream passes request.since, and, when the token's counts
  // lag its position (since->push < since->position, api/sync/sync.h), once the
  // notification worker's cursor passes since->push: the re-assembly then reports the
  // rooms whose counts changed. Each such wake re-parks at the newer cursor, so a sync
  // wakes at most once per worker batch, and only until the worker reaches the
  // token's position; syncs whose counts are current never wake on the worker. The
  // callbacks may run at once, on this thread, or later on the engine's apply thread
  // or the worker's thread: they only queue.
  void Subscribe(const std::shared_ptr<Wait>& wait) {
    StreamPosition since = 0;
    std::optional<StreamPosition> push;
    bool catching_up = false;
    {
      std::lock_guard lock(wait->mutex);
      if (wait->done) return;
      since = wait->request.since->position;
      push = wait->request.since->push;
      catching_up = wait->catching_up;
      if (catching_up) --since;  // wake when the stream reaches since, not passes it
    }
    const bool counts_lag = !catching_up && notifications_ && notifications_->caught_up() &&
                            push && *push < since;
    auto wake = [this, wait](StreamPosition) { Wake(wait); };
    core::Notifier::SubscriptionId id = engine_.notifier().Subscribe(since, wake);
    if (id == 0) return;  // fired already: the wait is being re-assembled
    core::Notifier::SubscriptionId push_id =
        counts_lag ? notifications_->notifier().Subscribe(*push, wake) : 0;
    bool stale = false;
    {
      std::lock_guard lock(wait->mutex);
      if (wait->done) {
        stale = true;
      } else {
        wait->subscription = id;
        wait->push_subscription = push_id;
      }
    }
    if (stale) Unsubscribe(id, push_id);
  }

  // Removes a wait's subscriptions (one that fired already is ignored).
  void Unsubscribe(core::Notifier::SubscriptionId id, core::Notifier::SubscriptionId push_id) {
    if (id != 0) engine_.notifier().Unsubscribe(id);
    if (push_id != 0) notifications_->notifier().Unsubscribe(push_id);
  }

  // Re-assembles a parked wait: the stream or the worker's cursor moved, or typing or
  // presence changed in one of its rooms. Its remaining subscriptions are removed here.
  void Wake(const std::shared_ptr<Wait>& wait) {
    core::Notifier::SubscriptionId subscription = 0, push_subscription = 0;
    {
      std::lock_guard lock(wait->mutex);
      if (wait->done) return;
      subscription = std::exchange(wait->subscription, 0);
      push_subscription = std::exchange(wait->push_subscription, 0);
    }
    Unsubscribe(subscription, push_subscription);
    if (!pool_.Post([this, wait] { Reassemble(wait); })) Finish(wait, std::nullopt);
  }

  // Typing changed in `room_id`: wakes the parked waits of its joined members (one
  // scan of the room's members, on the thread that changed typing).
  void TypingChanged(const std::string& room_id) {
    auto meta = engine_.GetRoom(room_id);
    if (!meta.ok()) return;
    auto members = core::RoomMembers(engine_.Read(), meta->number);
    if (!members.ok()) return;
    std::vector<std::shared_ptr<Wait>> woken;
    {
      std::lock_guard lock(mutex_);
      for (const core::RoomMember& member : *members) {
        if (member.membership != rooms::Membership::kJoin) continue;
        auto [first, last] = waits_by_user_.equal_range(member.user_id);
        for (auto it = first; it != last; ++it) woken.push_back(it->second);
      }
    }
    for (const auto& wait : woken) Wake(wait);
  }

  // Presence of `user_id` changed: wakes the parked waits of the users who share a
  // joined room with them (one scan of each of their rooms' members) and their own.
  void PresenceChanged(const std::string& user_id) {
    std::set<std::string> sharing{user_id};
    auto rooms = engine_.RoomsOf(user_id);
    if (!rooms.ok()) return;
    for (const auto& [room_id, membership] : *rooms) {
      if (membership != rooms::Membership::kJoin) continue;
      auto meta = engine_.GetRoom(room_id);
      if (!meta.ok()) continue;
      auto members = core::RoomMembers(engine_.Read(), meta->number);
      if (!members.ok()) continue;
      for (const core::RoomMember& member : *members) {
        if (member.membership == rooms::Membership::kJoin) sharing.insert(member.user_id);
      }
    }
    std::vector<std::shared_ptr<Wait>> woken;
    {
      std::lock_guard lock(mutex_);
      for (const std::string& user : sharing) {
        auto [first, last] = waits_by_user_.equal_range(user);
        for (auto it = first; it != last; ++it) woken.push_back(it->second);
      }
    }
    for (const auto& wait : woken) Wake(wait);
  }

  void Reassemble(const std::shared_ptr<Wait>& wait) {
    SyncRequest request;
    bool catching_up = false;
    {
      std::lock_guard lock(wait->mutex);
      if (wait->done) return;
      request = wait->request;
      catching_up = wait->catching_up;
    }
    if (catching_up) return Caught(wait, std::move(request));
    Result<SyncResult> result = AssembleSync(engine_, request);
    if (!result.ok()) return Finish(wait, ErrorResponse(result.status()));
    if (result->has_updates || DeadlineTimer::Clock::now() >= wait->deadline) {
      return Finish(wait, JsonResponse(200, result->body));
    }
    {
      std::lock_guard lock(wait->mutex);
      if (wait->done) return;
      wait->request.since = result->next_batch;
      wait->last = JsonResponse(200, result->body);
    }
    Subscribe(wait);
  }

  // A catching-up wait woke: when the stream reached its since, it leaves the waits and
  // is answered as a new request with the rest of its timeout; otherwise (woken by
  // typing or presence) it waits on.
  void Caught(const std::shared_ptr<Wait>& wait, SyncRequest request) {
    if (engine_.stream_position() < request.since->position) return Subscribe(wait);
    auto taken = Take(wait);
    if (!taken) return;
    const auto left = wait->poll_deadline - DeadlineTimer::Clock::now();
    const int64_t timeout_ms =
        std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::milliseconds>(left).count());
    Answer(std::move(request), timeout_ms, std::move(taken->first));
  }

  // Answers the wait once: with `response`, or else the answer it holds.
  void Finish(const std::shared_ptr<Wait>& wait, std::optional<Response> response) {
    auto taken = Take(wait);
    if (!taken) return;
    taken->first(response ? std::move(*response) : std::move(taken->second));
  }

  // Marks the wait done, removes its subscription, timer and registration, and hands
  // over its Respond and the answer it holds; nullopt when it was already done.
  std::optional<std::pair<Respond, Response>> Take(const std::shared_ptr<Wait>& wait) {
    Respond respond;
    Response held;
    core::Notifier::SubscriptionId subscription = 0, push_subscription = 0;
    DeadlineTimer::TimerId timer = 0;
    {
      std::lock_guard lock(wait->mutex);
      if (wait->done) return std::nullopt;
      wait->done = true;
      held = std::move(wait->last);
      respond = std::move(wait->respond);
      subscription = wait->subscription;
      push_subscription = wait->push_subscription;
      timer = wait->timer;
    }
    Unsubscribe(subscription, push_subscription);
    if (timer != 0) timer_.Cancel(timer);
    {
      std::lock_guard lock(mutex_);
      if (waits_.erase(wait) > 0) {
        auto [first, last] = waits_by_user_.equal_range(wait->request.user_id);
        for (auto it = first; it != last; ++it) {
          if (it->second == wait) {
            waits_by_user_.erase(it);
            break;
          }
        }
      }
    }
    return std::pair(std::move(respond), std::move(held));
  }

  core::Engine& engine_;
  push::NotificationWorker* notifications_;  // nullable
  std::mutex mutex_;
  std::set<std::shared_ptr<Wait>> waits_;  // guarded by mutex_: parked, not yet answered
  std::multimap<std::string, std::shared_ptr<Wait>> waits_by_user_;  // guarded by mutex_
  TypingTracker* typing_;                                             // nullable
  PresenceTracker* presence_;                                         // nullable
  std::shared_ptr<UserRateLimits> limits_;                            // nullable
  TypingTracker::SubscriptionId typing_subscription_ = 0;
  PresenceTracker::SubscriptionId presence_subscription_ = 0;
  bool stopping_ = false;                  // guarded by mutex_
  DeadlineTimer timer_;
  WorkerPool pool_;
  WorkerPool heavy_pool_;  // last: destroyed (finishing its queue) first
};

}  // namespace

void AddSyncRoutes(Router& router, core::Engine& engine, TypingTracker* typing,
                   PresenceTracker* presence, std::shared_ptr<UserRateLimits> limits,
                   push::NotificationWorker* notifications) {
  auto service = std::make_shared<SyncService>(engine, typing, presence, std::move(limits),
                                               notifications);
  for (std::string_view prefix : kClientPrefixes) {
    router.AddAsync("GET", std::string(prefix) + "/sync",
                    [service](const Request& request, const PathParams&, Respond respond) {
                      service->Handle(request, std::move(respond));
                    });
  }
  router.AddDrainHook([service] { service->Drain(); });
}

}  // namespace nebu::api
