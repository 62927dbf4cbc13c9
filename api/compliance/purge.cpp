#include "api/compliance/purge.h"

#include <map>

#include "engine/common/crypto.h"
#include "engine/compliance/compliance.h"
#include "engine/core/engine.h"
#include "engine/core/room_reads.h"
#include "engine/event/canonical_json.h"
#include "engine/event/identifiers.h"

namespace nebu::api {
namespace {

// What one purge would do, counted over a snapshot (dry runs).
Result<PurgeRoomReport> CountPurge(const core::Snapshot& snap, const compliance::PurgeEvents& c,
                                   storage::Sequence last) {
  PurgeRoomReport report{.purge_id = c.purge_id};
  std::map<std::string, bool, std::less<>> held;
  Status failure;
  Status scan = core::ScanRoom(snap, c.room_id, 1, last, SIZE_MAX, [&](const storage::EventView& e) {
    Result<bool> purged = compliance::IsPurged(snap, e.event_id);
    if (!purged.ok()) {
      failure = purged.status();
      return false;
    }
    if (*purged || e.state_key.has_value() || (c.before_ts && e.origin_server_ts >= *c.before_ts) ||
        (!c.keep_server.empty() && event::ServerNameOf(e.sender) == c.keep_server)) {
      ++report.events_kept;
      return true;
    }
    auto it = held.find(e.sender);
    if (it == held.end()) {
      Result<std::optional<compliance::Hold>> hold = compliance::FindHold(snap, e.sender);
      if (!hold.ok()) {
        failure = hold.status();
        return false;
      }
      it = held.emplace(std::string(e.sender), hold->has_value()).first;
    }
    if (it->second) {
      ++report.events_kept;
      ++report.events_held;
    } else {
      ++report.events_purged;
    }
    return true;
  });
  NEBU_RETURN_IF_ERROR(scan);
  NEBU_RETURN_IF_ERROR(failure);
  return report;
}

Result<std::optional<uint64_t>> UptoSequence(const core::Snapshot& snap,
                                             const PurgeRoomRequest& request,
                                             storage::RoomNumber room) {
  if (!request.upto_event_id) return std::optional<uint64_t>();
  Result<std::pair<storage::RoomNumber, storage::Sequence>> at =
      core::LocateEvent(snap, *request.upto_event_id);
  if (!at.ok() || at->first != room) {
    return Status::NotFound("event " + *request.upto_event_id + " is not in the room");
  }
  return std::optional<uint64_t>(at->second);
}

}  // namespace

Result<PurgeRoomReport> PurgeRoomHistory(core::Engine& engine, const PurgeRoomRequest& request) {
  if (!event::IsValidRoomId(request.room_id)) return Status::InvalidArgument("invalid room ID");
  const core::Snapshot snap = engine.Read();
  NEBU_ASSIGN_OR_RETURN(core::RoomMeta meta, core::LoadRoomMeta(snap, request.room_id));
  NEBU_ASSIGN_OR_RETURN(std::optional<compliance::Hold> hold,
                        compliance::FindHold(snap, request.room_id));
  if (hold) {
    return Status::Forbidden("legal hold " + hold->hold_id + " (case " + hold->case_id +
                             ") covers " + hold->target);
  }
  compliance::PurgeEvents command{
      .purge_id = request.purge_id.empty() ? RandomAlnum(16) : request.purge_id,
      .room_id = request.room_id,
      .before_ts = request.before_ts,
      .keep_server = request.keep_local_events ? engine.server_name() : std::string(),
      .actor = request.actor,
      .reason = request.reason.empty() ? std::string("purge") : request.reason,
      .ts = engine.clock().NowUnixMs()};
  NEBU_ASSIGN_OR_RETURN(command.upto_seq, UptoSequence(snap, request, meta.number));
  if (request.dry_run) {
    storage::Sequence last = meta.last_seq;
    if (command.upto_seq) last = std::min<uint64_t>(last, *command.upto_seq - 1);
    return CountPurge(snap, command, last);
  }
  NEBU_ASSIGN_OR_RETURN(std::string payload, compliance::EncodePurgeCommand(command));
  // Each command examines kPurgeEventsPerCommandMax entries: this many always suffice.
  const uint64_t commands_max = meta.last_seq / compliance::kPurgeEventsPerCommandMax + 2;
  for (uint64_t i = 0; i < commands_max; ++i) {
    core::ApplyOutcome outcome = engine.Submit({core::CommandKind::kPurge, payload});
    if (!outcome.ok()) return outcome.status();
    NEBU_ASSIGN_OR_RETURN(std::optional<compliance::PurgeProgress> progress,
                          compliance::GetPurge(engine.Read(), command.purge_id));
    if (!progress) return Status::Internal("purge progress missing after apply");
    if (progress->done) {
      return PurgeRoomReport{.events_purged = progress->purged,
                             .events_kept = progress->kept + progress->held,
                             .events_held = progress->held,
                             .purge_id = command.purge_id};
    }
  }
  return Status::Internal("purge " + command.purge_id + " did not finish");
}

}  // namespace nebu::api
