// The compliance exports on the PostgreSQL projection (api/compliance/export_store.h is
// the contract; docs/compliance.md, "The compliance API", the line format).
//
//   auto store = MakePgExportStore(db_url);            // no connection until Open
//   api::AdminRoutesOptions options{.exports = store};  // the routes call Open/Next
//
// Each Open() opens its own connection (an export is rare and long; it never shares
// the projector's), sets statement_timeout = kExportStatementTimeoutMs, and reads the
// checkpoint N (nebu_projection_checkpoints row 'stream') or takes it from the cursor.
// Each Next() runs one keyset query of at most kExportPageRowsMax rows whose effects
// are at stream positions <= N, so pages written while the projector runs still form
// the export at N. Nothing is held between pages but the connection.
//
// The cursor is "c1.<kind>.<checkpoint>.<phase>.<key1>.<key2>.<digest>" (digest: FNV-1a
// of the query's subject and period, so a cursor of another export is refused); clients
// treat it as opaque.
//
// Events a retention purge removed (a gap in a room's sequence numbers inside the
// exported range) appear as {"type":"tombstone","sequence":n} lines in a room's history.
//
// Thread-safety: the store is thread-safe (it keeps only the URL); a reader is used by
// one thread at a time.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "api/compliance/export_store.h"

namespace nebu::projections {

inline constexpr size_t kExportPageRowsMax = 500;           // rows per page (one query)
inline constexpr int64_t kExportStatementTimeoutMs = 60'000;  // each page's query
inline constexpr size_t kExportDevicesMax = 1000;             // devices in an account line

[[nodiscard]] std::shared_ptr<api::ExportStore> MakePgExportStore(std::string db_url);

// The cursor's parts (exposed for tests).
struct ExportCursor {
  api::ExportKind kind = api::ExportKind::kUserMessages;
  int64_t checkpoint = 0;
  int phase = 0;
  int64_t key1 = 0;
  int64_t key2 = 0;
  uint64_t digest = 0;
};
[[nodiscard]] std::string EncodeExportCursor(const ExportCursor& cursor);
// kInvalidArgument when `text` is not a cursor.
[[nodiscard]] Result<ExportCursor> DecodeExportCursor(std::string_view text);
// The digest a cursor of `query` carries.
[[nodiscard]] uint64_t ExportQueryDigest(const api::ExportQuery& query);

}  // namespace nebu::projections
