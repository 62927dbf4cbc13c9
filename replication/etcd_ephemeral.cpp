#include "replication/etcd_ephemeral.h"

#include <pthread.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <set>
#include <utility>
#include <vector>

namespace nebu::replication {

namespace {

constexpr std::string_view kTypingDir = "typing/";
constexpr std::string_view kPresenceDir = "presence/";

std::string Encode(std::string_view part) {
  std::string out;
  out.reserve(part.size());
  for (char c : part) {
    if (c == '%') {
      out += "%25";
    } else if (c == '/') {
      out += "%2F";
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> Decode(std::string_view part) {
  std::string out;
  out.reserve(part.size());
  for (size_t i = 0; i < part.size(); ++i) {
    if (part[i] == '/') return std::nullopt;
    if (part[i] != '%') {
      out += part[i];
      continue;
    }
    std::string_view code = part.substr(i, 3);
    if (code == "%25") {
      out += '%';
    } else if (code == "%2F") {
      out += '/';
    } else {
      return std::nullopt;
    }
    i += 2;
  }
  return out;
}

}  // namespace

std::string EtcdEphemeralBus::KeyOf(const std::string& prefix, const api::EphemeralKey& key) {
  std::string out = prefix + "/ephemeral/";
  if (key.kind == api::EphemeralKind::kTyping) {
    out += std::string(kTypingDir) + Encode(key.room_id) + "/";
  } else {
    out += kPresenceDir;
  }
  return out + Encode(key.user_id);
}

std::optional<api::EphemeralKey> EtcdEphemeralBus::ParseKey(const std::string& prefix,
                                                            std::string_view etcd_key) {
  const std::string root = prefix + "/ephemeral/";
  if (!etcd_key.starts_with(root)) return std::nullopt;
  std::string_view rest = etcd_key.substr(root.size());
  api::EphemeralKey key;
  if (rest.starts_with(kPresenceDir)) {
    key.kind = api::EphemeralKind::kPresence;
    std::optional<std::string> user = Decode(rest.substr(kPresenceDir.size()));
    if (!user || user->empty()) return std::nullopt;
    key.user_id = std::move(*user);
    return key;
  }
  if (!rest.starts_with(kTypingDir)) return std::nullopt;
  rest.remove_prefix(kTypingDir.size());
  const size_t slash = rest.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  std::optional<std::string> room = Decode(rest.substr(0, slash));
  std::optional<std::string> user = Decode(rest.substr(slash + 1));
  if (!room || !user || room->empty() || user->empty()) return std::nullopt;
  key.kind = api::EphemeralKind::kTyping;
  key.room_id = std::move(*room);
  key.user_id = std::move(*user);
  return key;
}

EtcdEphemeralBus::EtcdEphemeralBus(EtcdClient& etcd, EtcdEphemeralOptions options)
    : etcd_(etcd), options_(std::move(options)), root_(options_.prefix + "/ephemeral/") {}

EtcdEphemeralBus::~EtcdEphemeralBus() { Stop(); }

void EtcdEphemeralBus::Start() {
  std::lock_guard lock(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "nebu-ephemeral");
    Run();
  });
}

void EtcdEphemeralBus::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    ++generation_;  // the watch's callback returns false from now on
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
  watch_.reset();
  if (session_lease_ != 0) {
    (void)etcd_.LeaseRevoke(session_lease_, std::chrono::milliseconds(kEphemeralRetryMs * 2));
    session_lease_ = 0;
  }
}

void EtcdEphemeralBus::Publish(const api::EphemeralKey& key, std::optional<std::string> value,
                               std::chrono::milliseconds ttl) {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    if (queue_.size() >= kEphemeralQueueMax) {
      ++dropped_;
      return;
    }
    queue_.push_back({.key = key, .value = std::move(value), .ttl = ttl});
  }
  cv_.notify_all();
}

EtcdEphemeralBus::SubscriptionId EtcdEphemeralBus::Subscribe(Listener listener) {
  std::lock_guard lock(deliver_mutex_);
  const SubscriptionId id = next_subscription_++;
  listeners_.emplace(id, std::move(listener));
  return id;
}

void EtcdEphemeralBus::Unsubscribe(SubscriptionId id) {
  std::lock_guard lock(deliver_mutex_);  // waits out a running delivery
  listeners_.erase(id);
}

uint64_t EtcdEphemeralBus::serial() const { return serial_.load(); }

uint64_t EtcdEphemeralBus::dropped() const {
  std::lock_guard lock(mu_);
  return dropped_;
}

bool EtcdEphemeralBus::synced() const {
  std::lock_guard lock(mu_);
  return synced_;
}

void EtcdEphemeralBus::Run() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    if (resync_needed_) {
      lock.unlock();
      const bool ok = Resync();
      lock.lock();
      if (!ok) {
        cv_.wait_for(lock, std::chrono::milliseconds(kEphemeralRetryMs), [this] { return stopping_; });
        continue;
      }
      resync_needed_ = false;
      synced_ = true;
      continue;
    }
    if (!queue_.empty()) {
      Op op = std::move(queue_.front());
      queue_.pop_front();
      lock.unlock();
      Write(op);
      lock.lock();
      continue;
    }
    if (session_lease_ != 0 && Clock::now() >= session_renew_at_) {
      lock.unlock();
      RenewSession();
      lock.lock();
      continue;
    }
    auto woken = [this] { return stopping_ || resync_needed_ || !queue_.empty(); };
    if (session_lease_ != 0) {
      cv_.wait_until(lock, session_renew_at_, woken);
    } else {
      cv_.wait(lock, woken);
    }
  }
}

bool EtcdEphemeralBus::Resync() {
  Result<EtcdRangeResult> range = etcd_.Range(root_, {.prefix = true});
  if (!range.ok()) {
    CountFailure(range.status());
    return false;
  }
  std::vector<const EtcdKeyValue*> kvs;
  for (const EtcdKeyValue& kv : range->kvs) kvs.push_back(&kv);
  std::sort(kvs.begin(), kvs.end(), [](const EtcdKeyValue* a, const EtcdKeyValue* b) {
    return a->mod_revision < b->mod_revision;
  });
  uint64_t generation = 0;
  {
    std::lock_guard deliver(deliver_mutex_);
    std::set<std::string> present;
    for (const EtcdKeyValue* kv : kvs) {
      std::optional<api::EphemeralKey> key = ParseKey(options_.prefix, kv->key);
      if (!key) continue;
      present.insert(kv->key);
      auto known = known_.find(kv->key);
      if (known != known_.end() && known->second == kv->mod_revision) continue;
      known_[kv->key] = kv->mod_revision;
      Deliver({.key = std::move(*key), .value = kv->value,
               .serial = static_cast<uint64_t>(kv->mod_revision)});
    }
    for (auto it = known_.begin(); it != known_.end();) {
      if (present.contains(it->first)) {
        ++it;
        continue;
      }
      if (std::optional<api::EphemeralKey> key = ParseKey(options_.prefix, it->first)) {
        Deliver({.key = std::move(*key), .value = std::nullopt,
                 .serial = static_cast<uint64_t>(range->revision)});
      }
      it = known_.erase(it);
    }
    serial_ = std::max<uint64_t>(serial_.load(), static_cast<uint64_t>(range->revision));
    snapshot_revision_ = static_cast<uint64_t>(range->revision);
  }
  {
    std::lock_guard lock(mu_);
    if (stopping_) return true;
    generation = ++generation_;
  }
  watch_.reset();  // joins the old watch's thread
  watch_ = etcd_.Watch({.key = root_, .prefix = true, .start_revision = range->revision + 1},
                       [this, generation](const EtcdWatchUpdate& u) { return OnWatch(generation, u); });
  return true;
}

bool EtcdEphemeralBus::OnWatch(uint64_t generation, const EtcdWatchUpdate& update) {
  {
    std::lock_guard lock(mu_);
    if (generation != generation_ || stopping_) return false;
    if (update.kind == EtcdWatchUpdate::Kind::kCompacted) {
      resync_needed_ = true;  // the bus's thread reads the range again
      cv_.notify_all();
      return false;
    }
  }
  if (update.kind != EtcdWatchUpdate::Kind::kEvents) return true;
  std::lock_guard deliver(deliver_mutex_);
  for (const EtcdEvent& event : update.events) {
    std::optional<api::EphemeralKey> key = ParseKey(options_.prefix, event.kv.key);
    if (!key) continue;
    const auto serial = static_cast<uint64_t>(event.kv.mod_revision);
    // In the snapshot already. (Not `<= serial_`: a lease's expiry deletes all its keys
    // in one revision.)
    if (serial <= snapshot_revision_) continue;
    std::optional<std::string> value;
    if (event.type == EtcdEvent::Type::kPut) {
      value = event.kv.value;
      known_[event.kv.key] = event.kv.mod_revision;
    } else {
      known_.erase(event.kv.key);
    }
    Deliver({.key = std::move(*key), .value = std::move(value), .serial = serial});
  }
  return true;
}

void EtcdEphemeralBus::Deliver(const api::EphemeralUpdate& update) {
  serial_ = std::max(serial_.load(), update.serial);
  for (const auto& [id, listener] : listeners_) listener(update);
}

void EtcdEphemeralBus::Write(const Op& op) {
  const std::string key = KeyOf(options_.prefix, op.key);
  if (!op.value) {
    Result<int64_t> deleted = etcd_.DeleteRange(key, /*prefix=*/false);
    if (!deleted.ok()) CountFailure(deleted.status());
    return;
  }
  Result<int64_t> lease =
      op.ttl.count() > 0 ? TypingLease(op.ttl) : SessionLease();
  if (!lease.ok()) return CountFailure(lease.status());
  Result<int64_t> put = etcd_.Put(key, *op.value, *lease);
  if (!put.ok()) return CountFailure(put.status());
  std::lock_guard lock(mu_);
  failing_ = false;
}

Result<int64_t> EtcdEphemeralBus::TypingLease(std::chrono::milliseconds ttl) {
  const int64_t ttl_seconds = (ttl.count() + 999) / 1000 + 1;
  const Clock::time_point now = Clock::now();
  auto cached = typing_leases_.find(ttl_seconds);
  if (cached != typing_leases_.end() &&
      now - cached->second.second < std::chrono::milliseconds(kEphemeralLeaseReuseMs)) {
    return cached->second.first;
  }
  // Forget the stale ones (at most one per TTL second, kTypingTimeoutMax / 1 s of them).
  std::erase_if(typing_leases_, [&](const auto& entry) {
    return now - entry.second.second >= std::chrono::milliseconds(kEphemeralLeaseReuseMs);
  });
  NEBU_ASSIGN_OR_RETURN(EtcdLease lease, etcd_.LeaseGrant(ttl_seconds));
  typing_leases_[ttl_seconds] = {lease.id, now};
  return lease.id;
}

Result<int64_t> EtcdEphemeralBus::SessionLease() {
  if (session_lease_ != 0) return session_lease_;
  NEBU_ASSIGN_OR_RETURN(EtcdLease lease, etcd_.LeaseGrant(options_.session_ttl_seconds));
  session_lease_ = lease.id;
  session_renew_at_ = Clock::now() + std::chrono::seconds(options_.session_ttl_seconds) / 3;
  return session_lease_;
}

void EtcdEphemeralBus::RenewSession() {
  Result<int64_t> ttl = etcd_.LeaseKeepAliveOnce(session_lease_);
  if (ttl.ok()) {
    session_renew_at_ = Clock::now() + std::chrono::seconds(options_.session_ttl_seconds) / 3;
    return;
  }
  if (ttl.status().code() == StatusCode::kNotFound) {
    // Expired (etcd was unreachable too long): its keys are gone and every node saw
    // this node's users go offline; they come back with their next /sync. A new lease
    // is granted with the next presence write.
    session_lease_ = 0;
    return;
  }
  CountFailure(ttl.status());
  session_renew_at_ = Clock::now() + std::chrono::milliseconds(kEphemeralRetryMs);
}

void EtcdEphemeralBus::CountFailure(const Status& status) {
  std::lock_guard lock(mu_);
  ++dropped_;
  if (failing_) return;
  failing_ = true;
  spdlog::warn("ephemeral: etcd write failed, typing/presence updates dropped until it "
               "answers again: {}",
               status.ToString());
}

}  // namespace nebu::replication
