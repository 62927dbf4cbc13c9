// FakeClock: a Clock that moves only when told. For unit tests.
#pragma once

#include <atomic>

#include "engine/common/clock.h"

namespace nebu::testing {

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t unix_ms = 1'700'000'000'000) : unix_ms_(unix_ms) {}
  int64_t NowUnixMs() const override { return unix_ms_.load(); }
  int64_t NowMonotonicNs() const override { return unix_ms_.load() * 1'000'000; }
  void AdvanceMs(int64_t ms) { unix_ms_ += ms; }

 private:
  std::atomic<int64_t> unix_ms_;
};

}  // namespace nebu::testing
