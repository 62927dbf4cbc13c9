// Purges and legal holds in the projection (migration 000005). Neither is on the stream:
// the projector runs this pass beside the accounts snapshot (every kAccountsSyncIntervalMs
// and at the end of CatchUp).
//
// Purged events (engine/compliance: the "pq" records, numbered densely in apply order):
// each record after the 'purges' checkpoint whose event is already in `events` (its stream
// position at or below the 'stream' checkpoint) turns the event's row into a tombstone:
// content and pdu become what the log now holds (the room version's redaction of the
// event), purged = true, purged_at and purge_reason set, and its event_search row goes.
// The pass stops at the first record whose event is not projected yet (the next pass goes
// on from there), and moves the 'purges' checkpoint in the same transaction, so each
// record's effect is in PostgreSQL exactly once. A rebuild resets the checkpoint to 0.
//
// Legal holds: every hold record (active and released) is upserted into legal_holds by
// hold_id (user_id or room_id, reason, case_id, created_by, created_at, released_at,
// released_by) when the holds changed since the last write (a digest).
//
// Limits: one pass handles at most kPurgeProjectionRecordsMax purge records (the rest in
// the next pass) and kHoldsProjectionMax holds (more: kResourceExhausted, logged).
// Thread-safety: the projector's thread, on its connection.
#pragma once

#include <cstddef>
#include <pqxx/connection>
#include <string>

#include "engine/common/status.h"
#include "engine/storage/read_view.h"

namespace nebu::projections {

inline constexpr size_t kPurgeProjectionRecordsMax = 10'000;
inline constexpr size_t kHoldsProjectionMax = 100'000;

// Projects purge records after the 'purges' checkpoint (see above). The number of rows
// turned into tombstones. kUnavailable on PostgreSQL errors (rolled back).
[[nodiscard]] Result<size_t> ProjectPurges(pqxx::connection& conn, const storage::ReadView& view);

// Upserts the holds unless their digest equals *last_digest; sets it after a commit.
[[nodiscard]] Status ProjectHolds(pqxx::connection& conn, const storage::ReadView& view,
                                  std::string* last_digest);

}  // namespace nebu::projections
