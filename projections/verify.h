// Verify and rebuild: the operator's tools to check and recreate the projection.
//
//   NEBU_ASSIGN_OR_RETURN(VerifyReport r, VerifyProjection(engine.Latest(), url));
//   for (const std::string& d : r.differences) puts(d.c_str());   // empty: identical
//   NEBU_RETURN_IF_ERROR(RebuildProjection(engine.Latest(), url, progress));
//
// VerifyProjection reads, in one REPEATABLE READ snapshot, the projection's checkpoint
// C and compares it with a fold over the log's events up to C, room by room: the
// number of events, a digest of each event row (event ID, sequence, stream position,
// sender, type, state_key, origin_server_ts, the whole event re-assembled from the
// pdu and content jsonb columns and re-canonicalized) and digests of the current state and current memberships the
// fold yields. It reports every room whose counts or digests differ (with the first
// differing sequences), rooms present on one side only, and the per-room content
// digests (`room_digests`, for comparing two projections, e.g. rebuild vs incremental).
//
// It also compares receipts (every current receipt at or below C must be in
// PostgreSQL as it is; none may be there that the log lacks) and published keys
// (device keys metadata and JSON, cross-signing keys) of every user whose keys did
// not change after C, printing one line per difference; and the full-text rows
// (event_search) up to the search checkpoint against the events they come from, and
// that every row naming an event by ID (relations, redactions, state and membership
// history) has its event.
//
// RebuildProjection empties every table derived from the stream (operator tables such
// as audit_log, legal_holds, compliance_exports stay), resets the checkpoint to 0 and
// replays the whole stream (Projector::CatchUp). Run it with no projector running
// against the same database (a racing projector is detected and harmless, but wastes work).
//
// Thread-safety: each call opens its own connection; the Store is shared.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "engine/common/status.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"
#include "projections/projector.h"

namespace nebu::projections {

inline constexpr size_t kVerifyPageRows = 2000;             // rows fetched per query
inline constexpr size_t kVerifyEventDifferencesMax = 20;    // listed per room, then a count

struct VerifyReport {
  storage::StreamPosition checkpoint = 0;
  uint64_t rooms = 0;
  uint64_t events_log = 0;  // events in the log at or below the checkpoint
  uint64_t events_pg = 0;
  std::vector<std::string> differences;             // one line each; empty: identical
  std::map<std::string, std::string> room_digests;  // room ID -> hex digest of its rows
  // Hex digest over every room's digest: one number for the whole projection.
  std::string digest;
};

[[nodiscard]] Result<VerifyReport> VerifyProjection(const storage::ReadView& store, const std::string& url);

// The digest of the projection alone (no log needed): what VerifyReport::digest would
// be for the same content. For comparing two databases.
[[nodiscard]] Result<std::string> ProjectionDigest(const std::string& url);

[[nodiscard]] Status RebuildProjection(const storage::ReadView& store, const std::string& url,
                                       const std::function<void(const ProjectorStats&)>& progress = {});

}  // namespace nebu::projections
