#include "api/compliance/retention.h"

#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "api/compliance/purge.h"
#include "engine/compliance/compliance.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"

namespace nebu::api {
namespace {

namespace json = boost::json;

std::atomic<int64_t> g_default_ms{0};  // 0: none (a max lifetime is >= 1)

// The room's one retention run (or dry run) into *r.
Status RetainRoom(core::Engine& engine, bool dry_run, RoomRetention* r) {
  NEBU_ASSIGN_OR_RETURN(std::optional<compliance::Hold> hold,
                        compliance::FindHold(engine.Read(), r->room_id));
  if (hold) {
    r->held_by = hold->hold_id;
    r->held_case = hold->case_id;
    return Status::Ok();
  }
  PurgeRoomRequest request{.room_id = r->room_id, .before_ts = r->purge_before_ts,
                           .actor = "retention", .dry_run = true, .reason = "retention"};
  // Counted first: a run that would purge nothing proposes nothing (no progress record
  // per room and run).
  Result<PurgeRoomReport> purged = PurgeRoomHistory(engine, request);
  if (purged.ok() && !dry_run && purged->events_purged > 0) {
    request.dry_run = false;
    purged = PurgeRoomHistory(engine, request);
  }
  if (!purged.ok()) {
    if (purged.status().code() != StatusCode::kForbidden) return purged.status();
    r->error = purged.status().message();  // a hold placed meanwhile
    return Status::Ok();
  }
  r->events_to_purge = purged->events_purged;
  r->events_held = purged->events_held;
  return Status::Ok();
}

}  // namespace

void SetRetentionDefault(std::optional<int64_t> max_lifetime_ms) {
  g_default_ms = max_lifetime_ms.value_or(0);
}
std::optional<int64_t> RetentionDefault() {
  const int64_t ms = g_default_ms.load();
  return ms > 0 ? std::optional<int64_t>(ms) : std::nullopt;
}

Result<std::optional<int64_t>> RoomMaxLifetime(core::Engine& engine, std::string_view room_id,
                                               std::optional<int64_t> default_ms,
                                               bool* from_room) {
  *from_room = false;
  NEBU_ASSIGN_OR_RETURN(rooms::RoomState state, core::CurrentState(engine.Read(), room_id));
  if (const json::object* event = state.Get("m.room.retention", "")) {
    const json::value* content = event->if_contains("content");
    const json::value* max = content != nullptr && content->is_object()
                                 ? content->as_object().if_contains("max_lifetime")
                                 : nullptr;
    if (max != nullptr && max->is_int64() && max->as_int64() >= 1) {
      *from_room = true;
      return std::optional<int64_t>(max->as_int64());
    }
  }
  return default_ms;
}

Result<RetentionReport> RunRetention(core::Engine& engine, std::optional<int64_t> default_ms,
                                     int64_t now_ms, bool dry_run) {
  std::vector<std::string> room_ids;
  RetentionReport report;
  const core::Snapshot snap = engine.Read();
  NEBU_RETURN_IF_ERROR(core::ForEachRoomNumber(snap, [&](storage::RoomNumber room) -> Status {
    if (room_ids.size() == kRetentionRoomsMax) {
      report.truncated = true;
      return Status::Ok();
    }
    NEBU_ASSIGN_OR_RETURN(std::optional<std::string> id, core::RoomIdOf(snap, room));
    if (id) room_ids.push_back(std::move(*id));
    return Status::Ok();
  }));
  for (const std::string& room_id : room_ids) {
    bool from_room = false;
    NEBU_ASSIGN_OR_RETURN(std::optional<int64_t> max,
                          RoomMaxLifetime(engine, room_id, default_ms, &from_room));
    if (!max) continue;
    RoomRetention r{.room_id = room_id,
                    .max_lifetime_ms = *max,
                    .from_room = from_room,
                    .purge_before_ts = now_ms > *max ? now_ms - *max : 0};
    NEBU_RETURN_IF_ERROR(RetainRoom(engine, dry_run, &r));
    report.rooms.push_back(std::move(r));
  }
  return report;
}

json::object RetentionReportJson(const RetentionReport& report, std::optional<int64_t> default_ms,
                                 int64_t now_ms) {
  json::array rooms, held;
  for (const RoomRetention& r : report.rooms) {
    json::object o{{"room_id", r.room_id},
                   {"max_lifetime_ms", r.max_lifetime_ms},
                   {"source", r.from_room ? "m.room.retention" : "server"},
                   {"purge_before_ts", r.purge_before_ts},
                   {"events_to_purge", r.events_to_purge},
                   {"events_held", r.events_held}};
    if (!r.held_by.empty()) {
      o["held_by"] = r.held_by;
      held.push_back(json::object{{"room_id", r.room_id}, {"hold_id", r.held_by},
                                  {"case_id", r.held_case}});
    }
    if (!r.error.empty()) o["error"] = r.error;
    rooms.push_back(std::move(o));
  }
  json::object body{{"generated_ts", now_ms},
                    {"rooms", std::move(rooms)},
                    {"held_rooms", std::move(held)},
                    {"truncated", report.truncated}};
  body["server_max_lifetime_ms"] = default_ms ? json::value(*default_ms) : json::value(nullptr);
  return body;
}

RetentionJob::RetentionJob(core::Engine& engine, RetentionJobOptions options)
    : engine_(engine), options_(std::move(options)), thread_([this] { Loop(); }) {}

RetentionJob::~RetentionJob() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void RetentionJob::SetActive(bool active) {
  {
    std::lock_guard lock(mutex_);
    active_ = active;
  }
  wake_.notify_all();
}

Result<RetentionReport> RetentionJob::RunOnce() {
  const int64_t now = engine_.clock().NowUnixMs();
  Result<RetentionReport> report =
      RunRetention(engine_, options_.default_max_lifetime_ms, now, /*dry_run=*/false);
  runs_.fetch_add(1);
  if (!report.ok()) {
    spdlog::error("retention: run failed: {}", report.status().ToString());
    return report;
  }
  for (const RoomRetention& r : report->rooms) {
    if (!r.held_by.empty() || !r.error.empty()) {
      spdlog::info("retention: {} skipped: {}", r.room_id,
                   r.error.empty() ? "legal hold " + r.held_by + " (case " + r.held_case + ")"
                                   : r.error);
    } else if (r.events_to_purge > 0 || r.events_held > 0) {
      spdlog::info("retention: {} purged {} events older than {} (max_lifetime {} ms, {}), "
                   "kept {} of held users",
                   r.room_id, r.events_to_purge, r.purge_before_ts, r.max_lifetime_ms,
                   r.from_room ? "m.room.retention" : "server default", r.events_held);
    }
  }
  return report;
}

void RetentionJob::Loop() {
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || active_; });
    if (stopping_) return;
    lock.unlock();
    (void)RunOnce();  // logged inside
    lock.lock();
    wake_.wait_for(lock, std::chrono::milliseconds(options_.interval_ms),
                   [this] { return stopping_; });
    if (stopping_) return;
  }
}

}  // namespace nebu::api
