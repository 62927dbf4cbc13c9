// The compliance exports' source (docs/compliance.md, "The compliance API"): what the
// export routes (export_routes.h) read, page by page, as JSON Lines. Implemented on the
// PostgreSQL projection by projections/compliance_export.h; api/ sees only this.
//
//   ExportQuery query{.kind = ExportKind::kRoomHistory, .subject = "!r:example.org",
//                     .from_ts = 0, .to_ts = INT64_MAX};
//   Result<std::unique_ptr<ExportReader>> reader = store->Open(query);  // 400 / 409 / 503
//   while (true) {
//     Result<ExportPage> page = (*reader)->Next();   // blocking: run it off the I/O threads
//     if (!page.ok()) break;                         // cut the stream: the client resumes
//     write(page->lines);
//     if (page->end) break;
//   }
//
// Every export is read at one projection checkpoint N (a stream position): it holds
// exactly the rows whose effects are at positions <= N, whatever the projector writes
// meanwhile, because each page filters on stream positions (keyset pages, one short
// query each; no transaction stays open between pages). Its first line is a header
// naming N; every data line carries a cursor; its last line is {"type":"end",...}.
// A query with a cursor continues right after the line that carried it, at the same
// checkpoint.
//
// Thread-safety: an ExportStore is shared by every request (thread-safe); one
// ExportReader belongs to one response and is used by one thread at a time.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "engine/common/status.h"

namespace nebu::api {

enum class ExportKind {
  kUserMessages,  // GET /api/v1/exports/users/{userId}/messages
  kRoomHistory,   // GET /api/v1/exports/rooms/{roomId}/history
  kUserAccount,   // GET /api/v1/exports/users/{userId}/account
};

struct ExportQuery {
  ExportKind kind = ExportKind::kUserMessages;
  std::string subject;  // the user or room ID
  int64_t from_ts = 0;  // origin_server_ts >= from_ts (ms since the epoch)
  int64_t to_ts = INT64_MAX;  // origin_server_ts < to_ts
  std::optional<std::string> cursor;  // continue after the line that carried it
};

struct ExportPage {
  std::string lines;  // whole JSON lines, each ending in '\n'
  bool end = false;   // the last page (its last line is the end line)
};

class ExportReader {
 public:
  virtual ~ExportReader() = default;
  // The next page (the first one starts with the header line). Blocking: one query
  // (bounded by kExportStatementTimeoutMs on the store's side). kUnavailable when
  // PostgreSQL fails mid-export; the caller cuts the stream and the client resumes
  // with the last cursor it received.
  virtual Result<ExportPage> Next() = 0;
};

class ExportStore {
 public:
  virtual ~ExportStore() = default;
  // Starts an export (reads the checkpoint) or resumes one (checks its cursor).
  // kInvalidArgument: a malformed cursor, or one of another export (400
  // M_INVALID_PARAM); kNotFound: the room (room history) or the user (account) is not
  // in the projection at the checkpoint (404); kUnavailable: PostgreSQL cannot be
  // reached, or the projection is behind the cursor's checkpoint (it was rebuilt and
  // has not caught up yet: the same export can continue once it has) (503).
  virtual Result<std::unique_ptr<ExportReader>> Open(const ExportQuery& query) = 0;
};

}  // namespace nebu::api
