// TokenSweeper: deletes expired m.login.token login tokens and OpenID tokens
// (engine/accounts/commands.h, ExpireTokensCommand) by proposing expire_tokens
// commands with this node's clock, off the request path, on one thread.
//
//   TokenSweeper sweeper(engine, {.active = !cluster});
//   sweeper.Start();
//   ...                               // cluster: the pusher election's callbacks call
//   sweeper.SetActive(true/false);    //   SetActive, so one node sweeps at a time
//   sweeper.Stop();                   // before the engine goes
//
// Every kTokenSweepIntervalMs an active sweeper runs one pass (RunOnce): expire_tokens
// from the start of the tokens, then again from where the previous one stopped while
// its outcome says more remain, at most kTokenSweepCommandsPerPassMax commands.
// Expired tokens are refused when presented whether or not they were deleted yet, so
// the sweep is housekeeping (bounded storage), never a security boundary. Apply is
// deterministic (the command carries now_ms) and idempotent, so two nodes sweeping
// at once during an election hand-over only repeat work.
//
// Thread-safety: Start/Stop from one thread; SetActive and deleted() from any thread;
// RunOnce only from one thread at a time (tests call it with Start not called).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <thread>

#include "engine/common/status.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

// How often an active sweeper runs a pass.
inline constexpr int64_t kTokenSweepIntervalMs = 60 * 1000;
// expire_tokens commands in one pass (each scans at most
// accounts::kExpireTokensScanMax tokens); the rest waits for the next pass.
inline constexpr size_t kTokenSweepCommandsPerPassMax = 64;

struct TokenSweeperOptions {
  bool active = true;  // false: stands by until SetActive(true)
  int64_t interval_ms = kTokenSweepIntervalMs;
};

class TokenSweeper {
 public:
  TokenSweeper(core::Engine& engine, TokenSweeperOptions options);
  ~TokenSweeper();  // Stop()
  TokenSweeper(const TokenSweeper&) = delete;
  TokenSweeper& operator=(const TokenSweeper&) = delete;

  void Start();
  void Stop();
  void SetActive(bool active);
  // One pass now: the number of tokens deleted, or the first command's error.
  [[nodiscard]] Result<int64_t> RunOnce();
  // Tokens deleted by this sweeper's passes so far.
  int64_t deleted() const { return deleted_.load(); }

 private:
  void Loop();

  core::Engine& engine_;
  const TokenSweeperOptions options_;
  std::atomic<bool> active_;
  std::atomic<int64_t> deleted_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace nebu::api
