// Media in the projection: the `media` table mirrors the engine's media records
// (engine/media/media.h). Media commands are not on the stream, so, like the accounts
// (accounts_snapshot.h), they are projected as a snapshot: ReadMediaSnapshot reads every
// record through one pinned view, WriteMediaSnapshot replaces the table's rows with it
// in one transaction when its digest changed since the last write. Replacing is
// idempotent, so however often it runs (a retry, a second projector) each record is in
// the table exactly once, as of the newest snapshot written.
//
// Rows: one per complete media record that is not deleted (pending IDs, which hold no
// content yet, and soft-deleted media are left out): server_name (the uploader's
// server: every record here is a local upload), media_id, uploader, content_type
// (NULL when empty), upload_name (NULL when empty), size_bytes, sha256, storage_key (the
// SHA-256: the content store's key), quarantined, created_at.
//
// Limits: a snapshot over kMediaSnapshotRowsMax records is kResourceExhausted (logged
// by the projector, which retries later).
// Thread-safety: ReadMediaSnapshot from any thread; WriteMediaSnapshot on the caller's
// connection.
#pragma once

#include <cstddef>
#include <pqxx/connection>
#include <string>

#include "engine/common/status.h"
#include "engine/storage/read_view.h"

namespace nebu::projections {

inline constexpr size_t kMediaSnapshotRowsMax = 1'000'000;

struct MediaSnapshot {
  std::string rows_json;  // a JSON array of the rows (see above), for jsonb_to_recordset
  size_t rows = 0;
  std::string digest;     // of rows_json
};

[[nodiscard]] Result<MediaSnapshot> ReadMediaSnapshot(const storage::ReadView& view);

// Replaces the media rows unless snap.digest == *last_digest; sets *last_digest after
// a commit. kUnavailable (and the transaction rolled back) on PostgreSQL errors.
[[nodiscard]] Status WriteMediaSnapshot(pqxx::connection& conn, const MediaSnapshot& snap,
                                        std::string* last_digest);

}  // namespace nebu::projections
