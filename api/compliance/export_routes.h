// The compliance API's streamed exports (issue 12), for auditors only: each route goes
// through admin_internal::AddRoute with Surface::kCompliance (role check and audit
// record; the record is committed before the stream starts, outcome "ok" for a 200).
//
//   GET /api/v1/exports/users/{userId}/messages?from_ts=&to_ts=&cursor=
//       the messages (m.room.message, m.room.encrypted, m.sticker) the user sent in
//       [from_ts, to_ts) in every room, by origin_server_ts;
//   GET /api/v1/exports/rooms/{roomId}/history?from_ts=&to_ts=&cursor=
//       the room's events from the first at or after from_ts to the last before to_ts,
//       in room order: every event with its original content (redacted ones too, with
//       who redacted them), edits, membership changes, and who was joined before the
//       first exported event; purged events as tombstone lines;
//   GET /api/v1/exports/users/{userId}/account?cursor=
//       the account, its current profile and devices, its profile history, its account
//       data history (secrets withheld) and its membership changes.
//
// from_ts / to_ts are ms since the epoch (default 0 and no end); from_ts < to_ts. The
// answer is 200 application/x-ndjson, Transfer-Encoding: chunked, one JSON object per
// line (the format: api/compliance/export_store.h and docs/compliance.md). A stream
// that breaks (PostgreSQL failed mid-way) ends without its final chunk and without its
// end line; the client resumes with the last cursor it read.
//
// Errors (before the stream starts): 400 M_INVALID_PARAM for a malformed ID, time,
// period or cursor; 404 M_NOT_FOUND for a room or account not in the projection; 429
// M_LIMIT_EXCEEDED past kExportsConcurrentMax streams on this node; 503 M_UNAVAILABLE
// without PostgreSQL (no NEBU_DB_URL), when it cannot be reached, or when a cursor's
// checkpoint is ahead of a rebuilt projection.
#pragma once

#include <cstddef>

namespace nebu::api {

// Exports streaming at once on one node (each holds a PostgreSQL connection and a
// thread while it reads a page).
inline constexpr size_t kExportsConcurrentMax = 4;

}  // namespace nebu::api
