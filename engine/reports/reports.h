// Reports: content and user reports (spec "Reporting content": POST
// /rooms/{roomId}/report/{eventId}, /rooms/{roomId}/report, /users/{userId}/report),
// kept as replicated state for the server's administrators (the admin API lists
// them with ForEachReport).
//
// The write path: the API layer decides received_ts and encodes a ReportCommand
// (EncodeReportCommand, the payload of a core::CommandKind::kReport command); every node applies the committed
// payload with ApplyReportCommand. Apply decides whether the report names something
// real, deterministically from the applied state:
//   kEvent  the event is in room_id and the reporter is joined to room_id now;
//   kRoom   the room exists on this server;
//   kUser   the user has an account on this server (deactivated ones too).
// A report that fails its check is dropped (nothing written) but is NOT an error:
// the outcome is {"stored":false}, so the API answers every well-formed report alike
// and a reporter cannot probe which rooms, events or users exist (the spec allows
// this), neither by the answer nor by its timing (every report goes through the log).
// A stored one is {"report_id":n,"stored":true}.
//
// An administrator deletes a report with EncodeDeleteReportCommand(id) (payload
// {"delete_report": id}, same command kind): outcome {"deleted":true}, kNotFound when
// there is no report with that ID.
//
// Storage (Cf::kReports):
//   "n"               -> [u64 BE] the next report ID (absent: 1)
//   "r" [u64 BE id]   -> the report as canonical JSON: {"id","kind":"event"|"room"|
//                        "user","reporter","reason","received_ts", "room_id"? (event,
//                        room), "event_id"? (event), "user_id"? (user)}
// Report IDs count up from 1 in log order and are never reused; only an administrator's
// delete command removes a report.
//
//   NEBU_ASSIGN_OR_RETURN(std::string payload, EncodeReportCommand(report));
//   engine.SubmitAsync({core::CommandKind::kReport, payload}, done);   // propose
//   NEBU_RETURN_IF_ERROR(ForEachReport(engine.Read(), 0, [](const Report& r) {
//     ...; return Status::Ok();                                        // admin API
//   }));
//
// Thread-safety: pure functions; ApplyReportCommand from the apply thread only (it
// reads the store and stages into the batch), reads from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include <rocksdb/write_batch.h>

#include "engine/common/status.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"

namespace nebu::reports {

// The longest reason a report may carry (bytes of UTF-8); longer is kInvalidArgument
// at EncodeReportCommand (the API answers 400 M_INVALID_PARAM).
inline constexpr size_t kReportReasonBytesMax = 4096;

enum class ReportKind : uint8_t { kEvent, kRoom, kUser };
std::string_view ReportKindName(ReportKind kind);

struct Report {
  uint64_t id = 0;  // set by apply; ignored by EncodeReportCommand
  ReportKind kind = ReportKind::kRoom;
  std::string reporter;
  std::string room_id;   // kEvent, kRoom
  std::string event_id;  // kEvent
  std::string user_id;   // kUser
  std::string reason;    // may be empty
  int64_t received_ts = 0;
};

// The payload of a core::CommandKind::kReport command. kInvalidArgument for a reason over kReportReasonBytesMax or a
// malformed ID (room, event, user, reporter); kBadJson for text that is not UTF-8.
[[nodiscard]] Result<std::string> EncodeReportCommand(const Report& report);

// The payload of a core::CommandKind::kReport command deleting report `id` (> 0).
[[nodiscard]] std::string EncodeDeleteReportCommand(uint64_t id);

// Applies a committed kReport payload (see the header comment). kBadJson for a
// malformed payload; kCorruption / kIoError from reads.
[[nodiscard]] Result<std::string> ApplyReportCommand(storage::Store& store,
                                                     rocksdb::WriteBatch& batch,
                                                     std::string_view payload);

// Visits the stored reports with id > after_id in ID order (oldest first) until visit
// returns an error (returned) or `limit` were visited. kCorruption for a bad record.
using ReportVisitor = std::function<Status(const Report& report)>;
[[nodiscard]] Status ForEachReport(const storage::ReadView& view, uint64_t after_id, size_t limit,
                                   const ReportVisitor& visit);

// One report by ID; nullopt when there is none.
[[nodiscard]] Result<std::optional<Report>> GetReport(const storage::ReadView& view, uint64_t id);

}  // namespace nebu::reports
