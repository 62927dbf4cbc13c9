#include "tests/replication/fake_ordered_log.h"

#include <thread>

namespace nebu::replication::testing {

namespace {
Status Down() { return Status::Unavailable("fake log: unreachable"); }
}  // namespace

bool FakeOrderedLog::Draw(double p) {
  if (p <= 0) return false;
  return std::uniform_real_distribution<double>(0, 1)(rng_) < p;
}

uint64_t FakeOrderedLog::LandLocked(std::string_view key, std::string_view value) {
  revision_ += 1 + std::uniform_int_distribution<uint64_t>(0, 2)(rng_);
  records_[revision_] = LogRecord{revision_, std::string(key), std::string(value)};
  keys_[std::string(key)] = revision_;
  ++landed_;
  landed_cv_.notify_all();
  return revision_;
}

Result<uint64_t> FakeOrderedLog::Append(std::string_view key, std::string_view value,
                                        std::chrono::milliseconds timeout) {
  int delay_ms = 0;
  {
    std::lock_guard lock(mu_);
    if (down_ || Draw(faults_.fail_append)) return Down();
    if (Draw(faults_.delay)) {
      delay_ms = std::uniform_int_distribution<int>(1, std::max(1, faults_.delay_ms_max))(rng_);
    }
  }
  if (delay_ms > 0) {
    // Simulated network latency (not synchronization): lets later Appends land first.
    std::this_thread::sleep_for(std::min(timeout, std::chrono::milliseconds(delay_ms)));
  }
  std::lock_guard lock(mu_);
  if (down_) return Down();
  if (pending_duplicate_) {
    LandLocked(pending_duplicate_->first, pending_duplicate_->second);
    pending_duplicate_.reset();
  }
  uint64_t revision;
  if (auto it = keys_.find(key); it != keys_.end()) {
    revision = it->second;  // create-if-absent: it landed before
  } else {
    revision = LandLocked(key, value);
    if (Draw(faults_.duplicate)) pending_duplicate_.emplace(std::string(key), std::string(value));
  }
  if (Draw(faults_.lose_answer)) return Status::Unavailable("fake log: answer lost");
  return revision;
}

Result<std::vector<LogRecord>> FakeOrderedLog::ReadAfter(uint64_t after, size_t max,
                                                         std::chrono::milliseconds wait) {
  std::unique_lock lock(mu_);
  if (down_ || Draw(faults_.read_disconnect)) return Down();
  if (after < trimmed_through_) {
    return Status::NotFound("trimmed: records through revision " +
                            std::to_string(trimmed_through_) + " are gone");
  }
  landed_cv_.wait_for(lock, wait, [&] { return down_ || revision_ > after; });
  if (down_) return Down();
  std::vector<LogRecord> out;
  for (auto it = records_.upper_bound(after); it != records_.end() && out.size() < max; ++it) {
    out.push_back(it->second);
  }
  return out;
}

Status FakeOrderedLog::Trim(uint64_t revision) {
  std::lock_guard lock(mu_);
  if (down_) return Down();
  while (!records_.empty() && records_.begin()->first <= revision) {
    auto it = keys_.find(records_.begin()->second.key);
    if (it != keys_.end() && it->second == records_.begin()->first) keys_.erase(it);
    records_.erase(records_.begin());
  }
  trimmed_through_ = std::max(trimmed_through_, revision);
  return Status::Ok();
}

Result<uint64_t> FakeOrderedLog::TrimmedThrough() {
  std::lock_guard lock(mu_);
  if (down_) return Down();
  return trimmed_through_;
}

void FakeOrderedLog::SetFaults(const LogFaults& faults) {
  std::lock_guard lock(mu_);
  faults_ = faults;
}

void FakeOrderedLog::SetDown(bool down) {
  std::lock_guard lock(mu_);
  down_ = down;
  landed_cv_.notify_all();
}

uint64_t FakeOrderedLog::ForceAppend(std::string_view key, std::string_view value) {
  std::lock_guard lock(mu_);
  return LandLocked(key, value);
}

uint64_t FakeOrderedLog::last_revision() const {
  std::lock_guard lock(mu_);
  return records_.empty() ? 0 : records_.rbegin()->first;
}

size_t FakeOrderedLog::record_count() const {
  std::lock_guard lock(mu_);
  return records_.size();
}

std::vector<LogRecord> FakeOrderedLog::Records() const {
  std::lock_guard lock(mu_);
  std::vector<LogRecord> out;
  for (const auto& [rev, r] : records_) out.push_back(r);
  return out;
}

uint64_t FakeOrderedLog::landed() const {
  std::lock_guard lock(mu_);
  return landed_;
}

}  // namespace nebu::replication::testing
