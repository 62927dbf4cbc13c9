#include "api/token_wait.h"

#include <algorithm>
#include <atomic>
#include <chrono>

#include "engine/core/notifier.h"

namespace nebu::api {

namespace {
std::atomic<int64_t> token_wait_ms{0};
std::atomic<size_t> blocking_waiters{0};
}  // namespace

void SetTokenWaitMs(int64_t wait_ms) { token_wait_ms.store(wait_ms < 0 ? 0 : wait_ms); }

int64_t TokenWaitMs() { return token_wait_ms.load(); }

size_t TokenWaitersBlocking() { return std::min(blocking_waiters.load(), kTokenWaitersBlockingMax); }

bool WaitForApplied(core::Notifier& notifier, const std::function<bool()>& reached,
                    int64_t wait_ms) {
  if (reached()) return true;
  if (wait_ms <= 0) return false;
  if (blocking_waiters.fetch_add(1) >= kTokenWaitersBlockingMax) {
    blocking_waiters.fetch_sub(1);
    return reached();
  }
  using Clock = std::chrono::steady_clock;
  const Clock::time_point deadline = Clock::now() + std::chrono::milliseconds(wait_ms);
  bool ok = false;
  while (true) {
    // Read the position before the check: an advance after the check then wakes us.
    const core::StreamPosition seen = notifier.current();
    if (reached()) {
      ok = true;
      break;
    }
    const Clock::time_point now = Clock::now();
    if (now >= deadline) break;
    notifier.WaitBeyond(seen, std::chrono::ceil<std::chrono::milliseconds>(deadline - now));
  }
  blocking_waiters.fetch_sub(1);
  return ok;
}

}  // namespace nebu::api
