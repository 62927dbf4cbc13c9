// Clock: where nebu reads time, so tests can fake it (engine/testing/fake_clock.h).
//
// Thread-safety: implementations are safe to call from any thread.
#pragma once

#include <cstdint>

namespace nebu {

class Clock {
 public:
  virtual ~Clock() = default;
  // Milliseconds since the Unix epoch (origin_server_ts, token expiry).
  virtual int64_t NowUnixMs() const = 0;
  // Monotonic nanoseconds for durations and deadlines; no meaning across processes.
  virtual int64_t NowMonotonicNs() const = 0;
};

// The real clock. Stateless; `SystemClock::Get()` is a process-wide instance.
class SystemClock final : public Clock {
 public:
  static SystemClock& Get();
  int64_t NowUnixMs() const override;
  int64_t NowMonotonicNs() const override;
};

}  // namespace nebu
