// PusherDelivery (pusher_delivery.h): the pass over the pushers, the notify body, the
// retry rules. The HTTP client is push_gateway_client.cpp.
#include "api/push/pusher_delivery.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <set>
#include <utility>

#include "api/push/pusher_routes.h"
#include "engine/core/engine.h"
#include "engine/event/canonical_json.h"

namespace nebu::api {
namespace {

namespace json = boost::json;

std::string QueueKey(const push::StoredPusher& p) {
  std::string key = p.user_id;
  key.push_back('\0');
  key += p.pusher.app_id;
  key.push_back('\0');
  key += p.pusher.pushkey;
  return key;
}

// set_tweak actions as {name: value} (highlight without a value is true).
json::object Tweaks(const json::array& actions) {
  json::object tweaks;
  for (const json::value& a : actions) {
    const json::object* o = a.if_object();
    if (o == nullptr) continue;
    const json::value* name = o->if_contains("set_tweak");
    if (name == nullptr || !name->is_string()) continue;
    const json::value* value = o->if_contains("value");
    tweaks[name->get_string()] = value != nullptr ? *value : json::value(true);
  }
  return tweaks;
}

bool IsHighPriority(std::string_view type, const json::object& tweaks) {
  if (type == "m.room.encrypted") return true;
  if (tweaks.contains("sound")) return true;
  const json::value* highlight = tweaks.if_contains("highlight");
  return highlight != nullptr && highlight->is_bool() && highlight->get_bool();
}

// The gateway's `rejected` holds this pushkey.
bool Rejected(const std::string& body, const std::string& pushkey) {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object()) return false;
  const json::value* rejected = v.get_object().if_contains("rejected");
  if (rejected == nullptr || !rejected->is_array()) return false;
  return std::any_of(rejected->get_array().begin(), rejected->get_array().end(),
                     [&](const json::value& k) {
                       return k.is_string() && k.get_string() == pushkey;
                     });
}

}  // namespace

bool IsRetryablePushStatus(int status) { return status == 429 || status >= 500; }

int64_t PushBackoffMs(int failures) {
  int64_t ms = kPushBackoffInitialMs;
  for (int i = 1; i < failures && ms < kPushBackoffMsMax; ++i) ms *= 2;
  return std::min(ms, kPushBackoffMsMax);
}

Result<std::string> BuildNotifyBody(core::Engine& engine, const push::StoredPusher& pusher,
                                    const push::Notification& n, uint64_t unread) {
  NEBU_ASSIGN_OR_RETURN(storage::EventRecord event, engine.GetEvent(n.event_id));
  json::object tweaks = Tweaks(n.actions);
  json::object data = pusher.pusher.data;
  data.erase("url");
  json::object device{{"app_id", pusher.pusher.app_id},
                      {"pushkey", pusher.pusher.pushkey},
                      {"pushkey_ts", pusher.ts / 1000},
                      {"data", std::move(data)},
                      {"tweaks", tweaks}};
  json::object notification{
      {"event_id", n.event_id},
      {"room_id", n.room_id},
      {"counts", json::object{{"unread", unread}}},
      {"prio", IsHighPriority(event.type, tweaks) ? "high" : "low"},
      {"devices", json::array{std::move(device)}}};
  const json::value* format = pusher.pusher.data.if_contains("format");
  const bool id_only = format != nullptr && format->is_string() &&
                       format->get_string() == push::kFormatEventIdOnly;
  if (!id_only) {
    notification["type"] = event.type;
    notification["sender"] = event.sender;
    NEBU_ASSIGN_OR_RETURN(json::value parsed, event::ParseJson(event.json));
    if (const json::value* content = parsed.as_object().if_contains("content")) {
      notification["content"] = *content;
    }
    if (event.type == "m.room.member" && event.state_key) {
      notification["user_is_target"] = *event.state_key == pusher.user_id;
    }
  }
  return json::serialize(json::object{{"notification", std::move(notification)}});
}

PusherDelivery::PusherDelivery(core::Engine& engine, DeliveryOptions options)
    : engine_(engine),
      options_(options),
      clock_(options.clock != nullptr ? *options.clock : engine.clock()),
      active_(options.active) {
  NEBU_CHECK(options_.gateway != nullptr, "PusherDelivery needs a gateway");
}

PusherDelivery::~PusherDelivery() { Stop(); }

void PusherDelivery::Start() {
  if (thread_.joinable()) return;
  thread_ = std::thread([this] { Loop(); });
}

void PusherDelivery::Stop() {
  {
    std::lock_guard lock(signal_->mu);
    signal_->stop = true;
  }
  signal_->cv.notify_all();
  if (thread_.joinable()) thread_.join();
}

void PusherDelivery::SetActive(bool active) {
  active_ = active;
  Wake();
}

void PusherDelivery::Wake() {
  {
    std::lock_guard lock(signal_->mu);
    signal_->woken = true;
  }
  signal_->cv.notify_all();
}

DeliveryStats PusherDelivery::stats() const {
  return {sent_.load(), failed_.load(), dropped_.load(), rejected_.load(), removed_.load()};
}

void PusherDelivery::Loop() {
  storage::StreamPosition seen = 0;
  while (true) {
    core::Notifier::SubscriptionId sub = 0;
    if (options_.wake != nullptr) {
      seen = options_.wake->current();
      std::weak_ptr<Signal> weak = signal_;
      sub = options_.wake->Subscribe(seen, [weak](storage::StreamPosition) {
        if (auto s = weak.lock()) {
          std::lock_guard lock(s->mu);
          s->woken = true;
          s->cv.notify_all();
        }
      });
    }
    int64_t wait_ms = options_.poll_ms;
    Result<int64_t> next = RunOnce();
    if (!next.ok()) {
      spdlog::warn("pusher delivery: {}", next.status().ToString());
    } else if (*next >= 0) {
      wait_ms = std::min(wait_ms, *next);
    }
    std::unique_lock lock(signal_->mu);
    signal_->cv.wait_for(lock, std::chrono::milliseconds(wait_ms),
                         [&] { return signal_->stop || signal_->woken; });
    signal_->woken = false;
    const bool stop = signal_->stop;
    lock.unlock();
    if (sub != 0) options_.wake->Unsubscribe(sub);
    if (stop) return;
  }
}

Result<int64_t> PusherDelivery::RunOnce() {
  if (!active_.load()) {
    queues_.clear();
    return int64_t{-1};
  }
  const core::Snapshot snap = engine_.Read();
  const int64_t now_ms = clock_.NowUnixMs();
  int64_t next_ms = -1;
  std::set<std::string> seen;
  Status visit_status = Status::Ok();
  NEBU_RETURN_IF_ERROR(push::ForEachPusher(snap, [&](const push::StoredPusher& p) {
    seen.insert(QueueKey(p));
    visit_status = Visit(snap, p, now_ms, &next_ms);
    return visit_status.ok();
  }));
  NEBU_RETURN_IF_ERROR(visit_status);
  std::erase_if(queues_, [&](const auto& entry) { return !seen.contains(entry.first); });
  std::erase_if(removals_, [&](const auto& entry) { return !seen.contains(entry.first); });
  return next_ms;
}

Status PusherDelivery::Visit(const storage::ReadView& view, const push::StoredPusher& p,
                             int64_t now_ms, int64_t* next_ms) {
  const std::string key = QueueKey(p);
  NEBU_ASSIGN_OR_RETURN(bool live, PusherIsLive(view, p));
  if (!live) {
    queues_.erase(key);
    if (removals_[key] == p.ts) return Status::Ok();  // proposed already
    removals_[key] = p.ts;
    ++removed_;
    Propose({.op = push::PusherOp::kDelete, .user_id = p.user_id, .pusher = p.pusher,
             .if_ts = p.ts});
    return Status::Ok();
  }
  auto [it, fresh] = queues_.try_emplace(key);
  Queue& q = it->second;
  if (fresh || q.pusher.ts != p.ts) {
    q = Queue{.pusher = p, .queued_upto = p.delivered, .done_upto = p.delivered,
              .proposed = p.delivered};
  }
  q.pusher = p;
  NEBU_RETURN_IF_ERROR(Fill(view, q));
  bool removed = false;
  while (!q.pending.empty()) {
    if (q.retry_at_ms > now_ms) {
      const int64_t wait = q.retry_at_ms - now_ms;
      *next_ms = *next_ms < 0 ? wait : std::min(*next_ms, wait);
      break;
    }
    if (!SendHead(view, q, now_ms, &removed)) {
      if (removed) break;
      continue;  // a backoff began: the check above schedules it
    }
    if (q.pending.empty()) NEBU_RETURN_IF_ERROR(Fill(view, q));
  }
  if (removed) {
    queues_.erase(key);
    return Status::Ok();
  }
  if (q.done_upto > q.proposed) {
    q.proposed = q.done_upto;
    Propose({.op = push::PusherOp::kDelivered, .user_id = p.user_id, .pusher = p.pusher,
             .if_ts = p.ts, .position = q.done_upto});
  }
  return Status::Ok();
}

Status PusherDelivery::Fill(const storage::ReadView& view, Queue& q) {
  if (q.pending.size() >= kPusherQueueMax) return Status::Ok();
  return push::ForEachNotification(view, q.pusher.user_id, q.queued_upto,
                                   kPusherQueueMax - q.pending.size(),
                                   [&q](const push::Notification& n) {
                                     q.pending.push_back(n);
                                     q.queued_upto = n.position;
                                     return true;
                                   });
}

bool PusherDelivery::SendHead(const storage::ReadView& view, Queue& q, int64_t now_ms,
                              bool* removed) {
  const push::Notification head = q.pending.front();
  auto finish = [&] {
    q.pending.erase(q.pending.begin());
    q.done_upto = head.position;
    q.failures = 0;
    q.retry_at_ms = 0;
  };
  Result<push::UnreadCounts> counts = push::UserUnreadCounts(view, q.pusher.user_id);
  Result<std::string> body =
      BuildNotifyBody(engine_, q.pusher, head, counts.ok() ? counts->notifications : 0);
  if (!body.ok()) {  // the event is unreadable: nothing to send for it
    spdlog::warn("pusher delivery: no body for {}: {}", head.event_id, body.status().ToString());
    ++dropped_;
    finish();
    return true;
  }
  const json::value* url = q.pusher.pusher.data.if_contains("url");
  const std::string url_text(url != nullptr && url->is_string() ? url->get_string() : "");
  Result<GatewayReply> reply = options_.gateway->Post(url_text, *body);
  if (reply.ok() && reply->status >= 200 && reply->status < 300) {
    ++sent_;
    finish();
    if (Rejected(reply->body, q.pusher.pusher.pushkey)) {
      ++rejected_;
      *removed = true;
      Propose({.op = push::PusherOp::kDelete, .user_id = q.pusher.user_id,
               .pusher = q.pusher.pusher, .if_ts = q.pusher.ts});
      return false;
    }
    return true;
  }
  ++failed_;
  const bool retry = reply.ok() ? IsRetryablePushStatus(reply->status)
                                : reply.status().code() == StatusCode::kUnavailable;
  if (!retry || ++q.failures >= kPushAttemptsMax) {
    ++dropped_;
    finish();
    return true;
  }
  q.retry_at_ms = now_ms + PushBackoffMs(q.failures);
  return false;
}

void PusherDelivery::Propose(push::PusherCommand command) {
  Result<std::string> payload = push::EncodePusherCommand(command);
  if (!payload.ok()) {
    spdlog::warn("pusher delivery: {}", payload.status().ToString());
    return;
  }
  engine_.SubmitAsync({core::CommandKind::kPusher, std::move(*payload)},
                      [](core::ApplyOutcome outcome) {
                        if (!outcome.ok()) {
                          spdlog::warn("pusher delivery: {}", outcome.status().ToString());
                        }
                      });
}

}  // namespace nebu::api
