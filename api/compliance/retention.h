// Message retention (issue 12): a server default (NEBU_RETENTION_MAX_LIFETIME, off by
// default) and per-room `m.room.retention` state (MSC1763, as Synapse reads it: content
// "max_lifetime" in milliseconds, an integer >= 1; "min_lifetime" is ignored), enforced by
// a purge job that purges every room's events older than now - max_lifetime through
// PurgeRoomHistory (purge.h), so holds are respected: a held room is skipped (logged with
// the hold), a held user's events are kept.
//
//   RetentionJob job(engine, {.default_max_lifetime_ms = 90 * kDayMs, .interval_ms = ...});
//   job.SetActive(true);   // the single node, or the cluster's elected node
//   ...                    // runs RunOnce every interval_ms on its own thread
//
// The room's own max_lifetime wins over the server default (Synapse's rule); a room
// with neither is never purged. A run counts each room first (a dry run over its log) and
// proposes purge commands only for rooms with something to purge. The dry run (BuildRetentionReport) counts what a run
// would purge now, per room, and lists the held rooms; GET /api/v1/retention/report
// serves it.
//
// Limits: one run or report visits at most kRetentionRoomsMax rooms (in room-number
// order; the rest wait for the next run, and the report says "truncated").
// Thread-safety: RetentionJob's methods from any thread; it owns one thread.
#pragma once

#include <atomic>
#include <boost/json/object.hpp>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "engine/common/status.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

inline constexpr size_t kRetentionRoomsMax = 100'000;
inline constexpr int64_t kRetentionIntervalMsDefault = 3'600'000;  // one hour
inline constexpr int64_t kRetentionIntervalMsMin = 1'000;

// The server default the process was configured with (NEBU_RETENTION_MAX_LIFETIME): set
// once by `nebu serve` at start, read by the report route. nullopt: no default.
void SetRetentionDefault(std::optional<int64_t> max_lifetime_ms);
std::optional<int64_t> RetentionDefault();

// One room in a retention run or report.
struct RoomRetention {
  std::string room_id;
  int64_t max_lifetime_ms = 0;
  bool from_room = false;  // m.room.retention (else the server default)
  int64_t purge_before_ts = 0;
  uint64_t events_to_purge = 0;  // the report: what a run would purge; the job: purged
  uint64_t events_held = 0;      // kept because their sender is held
  std::string held_by;           // a hold covering the room ("" none): nothing purged
  std::string held_case;
  std::string error;             // a failed purge's message ("" none)
};
struct RetentionReport {
  std::vector<RoomRetention> rooms;  // rooms with a max lifetime, in room-number order
  bool truncated = false;            // over kRetentionRoomsMax rooms
};

// The room's max_lifetime: its m.room.retention's, else default_ms; nullopt for none.
// *from_room says which.
Result<std::optional<int64_t>> RoomMaxLifetime(core::Engine& engine, std::string_view room_id,
                                               std::optional<int64_t> default_ms, bool* from_room);

// What a run at now_ms would do (dry_run) or does (purges). Blocks: worker threads only.
Result<RetentionReport> RunRetention(core::Engine& engine, std::optional<int64_t> default_ms,
                                     int64_t now_ms, bool dry_run);
boost::json::object RetentionReportJson(const RetentionReport& report,
                                        std::optional<int64_t> default_ms, int64_t now_ms);

struct RetentionJobOptions {
  std::optional<int64_t> default_max_lifetime_ms;
  int64_t interval_ms = kRetentionIntervalMsDefault;
};

class RetentionJob {
 public:
  RetentionJob(core::Engine& engine, RetentionJobOptions options);
  ~RetentionJob();  // stops and joins
  RetentionJob(const RetentionJob&) = delete;
  RetentionJob& operator=(const RetentionJob&) = delete;

  // Only an active job runs (the single node; in a cluster the elected node). A job made
  // active runs at once, then every interval_ms.
  void SetActive(bool active);
  // One run now on the caller's thread (tests); logs each room purged, held or failed.
  Result<RetentionReport> RunOnce();
  uint64_t runs() const { return runs_.load(); }

 private:
  void Loop();

  core::Engine& engine_;
  const RetentionJobOptions options_;
  std::atomic<uint64_t> runs_{0};
  std::mutex mutex_;
  std::condition_variable wake_;
  bool active_ = false;     // guarded by mutex_
  bool stopping_ = false;   // guarded by mutex_
  std::thread thread_;
};

}  // namespace nebu::api
