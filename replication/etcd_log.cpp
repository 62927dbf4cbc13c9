// EtcdLog: see etcd_log.h for the key layout and the contract.
#include "replication/etcd_log.h"

#include <charconv>
#include <cstdio>

#include "proto/etcd/rpc.pb.h"

namespace nebu::replication {
namespace {

using Clock = std::chrono::steady_clock;

// P/trimmed can only be raised; a CAS that lost a race is retried this often.
constexpr int kTrimmedCasAttemptsMax = 8;

std::string Padded(uint64_t revision) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%020llu", static_cast<unsigned long long>(revision));
  return buf;
}

Result<uint64_t> ParseRevision(const std::string& s) {
  uint64_t v = 0;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || ptr != s.data() + s.size()) {
    return Status::Corruption("etcd log: trim point '" + s + "' is not a revision");
  }
  return v;
}

}  // namespace

EtcdLog::EtcdLog(EtcdClient* etcd, std::string prefix)
    : etcd_(etcd),
      prefix_(std::move(prefix)),
      log_prefix_(prefix_ + "/log/"),
      trimmed_key_(prefix_ + "/trimmed") {}

EtcdLog::~EtcdLog() {
  std::lock_guard watch_lock(watch_mu_);
  {
    std::lock_guard lock(mu_);
    ++generation_;  // a callback blocked on a full buffer returns false
  }
  cv_.notify_all();
  watch_.reset();
}

Result<uint64_t> EtcdLog::Append(std::string_view key, std::string_view value,
                                 std::chrono::milliseconds timeout) {
  if (key.empty()) return Status::InvalidArgument("etcd log: empty key");
  NEBU_ASSIGN_OR_RETURN(EtcdPutIfAbsentResult put,
                        etcd_->PutIfAbsent(log_prefix_ + std::string(key), value, 0, timeout));
  return static_cast<uint64_t>(put.create_revision);
}

Status EtcdLog::RefreshTrimmed() {
  NEBU_ASSIGN_OR_RETURN(EtcdRangeResult got, etcd_->Range(trimmed_key_, {}));
  uint64_t trimmed = 0;
  if (!got.kvs.empty()) {
    NEBU_ASSIGN_OR_RETURN(trimmed, ParseRevision(got.kvs[0].value));
  }
  std::lock_guard lock(mu_);
  trimmed_ = std::max(trimmed_, trimmed);
  trimmed_stale_ = false;
  return Status::Ok();
}

Result<uint64_t> EtcdLog::TrimmedThrough() {
  NEBU_RETURN_IF_ERROR(RefreshTrimmed());
  std::lock_guard lock(mu_);
  return trimmed_;
}

Result<uint64_t> EtcdLog::NewestRevision(std::chrono::milliseconds timeout) {
  NEBU_ASSIGN_OR_RETURN(EtcdRangeResult newest,
                        etcd_->Range(log_prefix_,
                                     {.prefix = true,
                                      .limit = 1,
                                      .keys_only = true,
                                      .sort_order = EtcdSortOrder::kDescend,
                                      .sort_target = EtcdSortTarget::kMod},
                                     timeout));
  if (newest.kvs.empty()) return uint64_t{0};
  return static_cast<uint64_t>(newest.kvs.front().mod_revision);
}

void EtcdLog::RestartWatch(uint64_t from) {
  std::lock_guard watch_lock(watch_mu_);
  uint64_t generation;
  {
    std::lock_guard lock(mu_);
    generation = ++generation_;
    buffer_.clear();
    buffer_bytes_ = 0;
    covered_from_ = from;
    compacted_ = 0;
    connected_ = false;
    watch_error_ = Status::Ok();
  }
  cv_.notify_all();
  watch_.reset();  // joins the old watch's thread (its callback now returns false)
  watch_ = etcd_->Watch(
      {.key = log_prefix_, .prefix = true, .start_revision = static_cast<int64_t>(from)},
      [this, generation](const EtcdWatchUpdate& u) { return OnWatch(generation, u); });
}

bool EtcdLog::OnWatch(uint64_t generation, const EtcdWatchUpdate& u) {
  std::unique_lock lock(mu_);
  if (generation != generation_) return false;
  switch (u.kind) {
    case EtcdWatchUpdate::Kind::kCreated:
      connected_ = true;
      watch_error_ = Status::Ok();
      break;
    case EtcdWatchUpdate::Kind::kDisconnected:
      connected_ = false;
      watch_error_ = u.error;
      break;
    case EtcdWatchUpdate::Kind::kCanceled:
      connected_ = false;
      watch_error_ = Status::Unavailable("etcd watch canceled: " + u.reason);
      break;
    case EtcdWatchUpdate::Kind::kCompacted:
      connected_ = false;
      compacted_ = static_cast<uint64_t>(u.compact_revision);
      cv_.notify_all();
      return false;
    case EtcdWatchUpdate::Kind::kEvents:
      for (const EtcdEvent& ev : u.events) {
        if (ev.type == EtcdEvent::Type::kDelete) {  // Trim: not a record
          trimmed_stale_ = true;
          continue;
        }
        auto revision = static_cast<uint64_t>(ev.kv.mod_revision);
        if (revision < covered_from_) continue;  // the reader is already past it
        // Full: hold the stream back until the reader consumes (or the watch ends).
        bool has_room = true;
        while (generation == generation_ && !buffer_.empty() &&
               (buffer_.size() >= kEtcdLogBufferRecordsMax ||
                buffer_bytes_ >= kEtcdLogBufferBytesMax)) {
          cv_.notify_all();
          cv_.wait(lock);
          has_room = generation == generation_;
        }
        if (!has_room || generation != generation_) return false;
        if (revision < covered_from_) continue;
        buffer_bytes_ += ev.kv.value.size();
        buffer_.push_back({.revision = revision,
                           .key = ev.kv.key.substr(std::min(log_prefix_.size(), ev.kv.key.size())),
                           .value = ev.kv.value});
      }
      break;
  }
  cv_.notify_all();
  return true;
}

Result<std::vector<LogRecord>> EtcdLog::ReadAfter(uint64_t after, size_t max,
                                                  std::chrono::milliseconds wait) {
  const Clock::time_point deadline = Clock::now() + wait;
  std::vector<LogRecord> out;
  if (max == 0) return out;
  bool stale;
  {
    std::lock_guard lock(mu_);
    stale = trimmed_stale_;
  }
  if (stale) NEBU_RETURN_IF_ERROR(RefreshTrimmed());

  std::unique_lock lock(mu_);
  bool restart = covered_from_ == 0 || after + 1 < covered_from_ ||
                 (compacted_ != 0 && after + 1 >= compacted_);
  if (compacted_ != 0 && after + 1 < compacted_) restart = false;  // reported below
  if (restart) {
    lock.unlock();
    NEBU_RETURN_IF_ERROR(RefreshTrimmed());  // a reader far behind may be behind a trim
    {
      std::lock_guard check(mu_);
      if (after < trimmed_) {
        return Status::NotFound("trimmed: log records through revision " +
                                std::to_string(trimmed_) + " were trimmed; reading after " +
                                std::to_string(after));
      }
    }
    RestartWatch(after + 1);
    lock.lock();
  }
  if (after < trimmed_) {
    return Status::NotFound("trimmed: log records through revision " + std::to_string(trimmed_) +
                            " were trimmed; reading after " + std::to_string(after));
  }
  // What the reader has is no longer needed.
  if (after + 1 > covered_from_) covered_from_ = after + 1;
  bool dropped = false;
  while (!buffer_.empty() && buffer_.front().revision <= after) {
    buffer_bytes_ -= buffer_.front().value.size();
    buffer_.pop_front();
    dropped = true;
  }
  if (dropped) cv_.notify_all();

  cv_.wait_until(lock, deadline, [&] { return !buffer_.empty() || compacted_ != 0; });
  if (buffer_.empty() && compacted_ != 0) {
    return Status::NotFound("trimmed: etcd history is compacted through revision " +
                            std::to_string(compacted_) + "; reading after " +
                            std::to_string(after));
  }
  for (const LogRecord& r : buffer_) {
    if (out.size() >= max) break;
    out.push_back(r);
  }
  if (out.empty() && !connected_ && !watch_error_.ok()) {
    return Status::Unavailable("etcd log: " + watch_error_.message());
  }
  return out;
}

Status EtcdLog::Trim(uint64_t revision) {
  if (revision == 0) return Status::Ok();
  // 1. The records: list what is at or below the revision, delete it in batches.
  for (;;) {
    EtcdRangeOptions list{.prefix = true,
                          .limit = kEtcdLogTrimRangeLimit,
                          .max_mod_revision = static_cast<int64_t>(revision),
                          .keys_only = true};
    NEBU_ASSIGN_OR_RETURN(EtcdRangeResult got, etcd_->Range(log_prefix_, list));
    if (got.kvs.empty()) break;
    for (size_t i = 0; i < got.kvs.size(); i += kEtcdLogTrimOpsMax) {
      etcdserverpb::TxnRequest txn;
      for (size_t j = i; j < std::min(got.kvs.size(), i + kEtcdLogTrimOpsMax); ++j) {
        txn.add_success()->mutable_request_delete_range()->set_key(got.kvs[j].key);
      }
      NEBU_ASSIGN_OR_RETURN(auto resp, etcd_->Txn(txn));
      (void)resp;
    }
    if (!got.more) break;
  }
  // 2. The trim point, raised (compare-and-set on its mod revision).
  bool raised = false;
  for (int attempt = 0; attempt < kTrimmedCasAttemptsMax && !raised; ++attempt) {
    NEBU_ASSIGN_OR_RETURN(EtcdRangeResult got, etcd_->Range(trimmed_key_, {}));
    int64_t mod_revision = 0;
    if (!got.kvs.empty()) {
      NEBU_ASSIGN_OR_RETURN(uint64_t current, ParseRevision(got.kvs[0].value));
      if (current >= revision) break;
      mod_revision = got.kvs[0].mod_revision;
    }
    NEBU_ASSIGN_OR_RETURN(raised,
                          etcd_->PutIfModRevision(trimmed_key_, Padded(revision), mod_revision));
  }
  {
    std::lock_guard lock(mu_);
    trimmed_ = std::max(trimmed_, revision);
  }
  // 3. etcd's history up to it (already compacted further: fine).
  Status compacted = etcd_->Compact(static_cast<int64_t>(revision));
  if (!compacted.ok() && !(compacted.code() == StatusCode::kNotFound &&
                           compacted.message().starts_with("compacted"))) {
    return compacted;
  }
  return Status::Ok();
}

}  // namespace nebu::replication
