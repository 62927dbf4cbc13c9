// The audit log in the projection: the admin and compliance APIs' audit records
// (engine/admin/admin.h, Cf::kAdmin "a") copied into `audit_log` (migration 000003),
// every field, keyed by the record's sequence number.
//
//   NEBU_RETURN_IF_ERROR(ProjectAudit(conn, engine.Latest(), &written));
//
// Audit commands are not on the stream, so the projector runs this beside the accounts
// snapshot (every kAccountsSyncIntervalMs and at the end of CatchUp): it reads the
// highest seq in PostgreSQL and inserts the records after it, in transactions of at
// most kAuditProjectBatchMax records, at most kAuditProjectRecordsMax per call (the
// rest the next call). Records are never changed or deleted in the log, so copying
// them once is enough; ON CONFLICT (seq) DO NOTHING makes a repeated or concurrent
// copy (a retry, a second projector, a rebuild) harmless: each record is in the table
// exactly once. audit_log is not emptied by `nebu projection rebuild`. U+0000 in any
// string (jsonb cannot hold it) is stored as U+FFFD, as in events.
//
// Errors: kUnavailable / kIoError from PostgreSQL (pg.h), kCorruption for a stored
// record that does not decode.
// Thread-safety: on the caller's connection; the view may be shared.
#pragma once

#include <cstddef>
#include <pqxx/connection>

#include "engine/common/status.h"
#include "engine/storage/read_view.h"

namespace nebu::projections {

inline constexpr size_t kAuditProjectBatchMax = 1000;      // records per transaction
inline constexpr size_t kAuditProjectRecordsMax = 100'000;  // records per call

// Copies the audit records PostgreSQL lacks; *written (when given) gets how many rows
// were inserted.
[[nodiscard]] Status ProjectAudit(pqxx::connection& conn, const storage::ReadView& view,
                                  size_t* written = nullptr);

}  // namespace nebu::projections
