// WorkerPool: a few threads of its own for CPU-heavy work that must not run on the
// server's I/O threads (argon2id hashing and verification, ~35 ms each), with a
// bounded queue so a burst of logins cannot pile up unbounded work.
//
//   WorkerPool pool({.threads = 2, .queue_max = 256});
//   if (!pool.Post([=] { ... VerifyLogin(...) ...; respond(...); })) {
//     respond(BusyResponse());  // queue full: shed the load
//   }
//
// Tasks run in FIFO order on any of the threads; a task that throws is logged and
// dropped. The destructor stops accepting, runs every task still queued, then joins.
//
// Thread-safety: Post() from any thread. Ownership: the pool owns its threads; tasks
// must not destroy the pool.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace nebu::api {

struct WorkerPoolOptions {
  size_t threads = 2;      // at least 1
  size_t queue_max = 256;  // tasks waiting for a thread; Post() refuses beyond it
};

class WorkerPool {
 public:
  explicit WorkerPool(WorkerPoolOptions options);
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // Queues task. False (and task is not run) when queue_max tasks already wait or the
  // pool is being destroyed.
  [[nodiscard]] bool Post(std::function<void()> task);

 private:
  void Loop();

  const size_t queue_max_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<std::function<void()>> queue_;  // guarded by mutex_
  bool stopping_ = false;                    // guarded by mutex_
  std::vector<std::thread> threads_;
};

}  // namespace nebu::api
