// BatchWriter: writes StreamBatches into the PostgreSQL projection, each batch and the
// checkpoint that covers it in ONE transaction, so the effect of every stream entry is
// applied exactly once whatever crashes, restarts or concurrent projectors happen.
//
//   NEBU_ASSIGN_OR_RETURN(auto writer, BatchWriter::Connect(url));
//   NEBU_ASSIGN_OR_RETURN(StreamPosition at, writer->Checkpoint());
//   NEBU_ASSIGN_OR_RETURN(StreamBatch batch, reader.Read(at));
//   Status s = writer->Write(batch);   // kAlreadyExists: the checkpoint moved; re-read it
//
// Per batch, in one transaction: lock the checkpoint row (SELECT ... FOR UPDATE) and
// check it still equals batch.after (else kAlreadyExists, nothing written: another
// projector got there first); COPY the events (pqxx::stream_to), the state history,
// the membership history, the relations and the redactions; upsert current state,
// current memberships, rooms and account data; mark redacted events (only an event
// of the redaction's own room); move the
// checkpoint to batch.upto. A failure rolls everything back.
//
// How an event maps to rows is DeriveEvent (pure, tested alone). JSON holding U+0000
// (which jsonb refuses) is stored with U+FFFD instead and content_lossy = true.
//
// Errors: kUnavailable when the connection is lost (reconnect and retry), kIoError for
// SQL errors. Thread-safety: one writer per thread (it owns its connection).
#pragma once

#include <pqxx/connection>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "engine/common/status.h"
#include "projections/stream_reader.h"


namespace nebu::projections {

// The checkpoint row's key in nebu_projection_checkpoints.
inline constexpr const char* kStreamCheckpointName = "stream";

// What one room event contributes besides its events row.
struct DerivedEvent {
  std::string pdu;      // the event without "content", as JSON text (sanitized when lossy)
  std::string content;  // the event's content object as JSON text (sanitized when lossy)
  bool lossy = false;
  std::optional<std::string> redacts;        // m.room.redaction: the target
  std::optional<std::string> reason;         // m.room.redaction: content.reason
  std::optional<std::string> membership;     // m.room.member: content.membership
  std::optional<std::string> relates_to_id;  // content.m.relates_to
  std::optional<std::string> rel_type;       // rel_type, or m.in_reply_to for replies
};
[[nodiscard]] Result<DerivedEvent> DeriveEvent(const storage::EventRecord& record);

// Replaces every escaped U+0000 in a JSON text by an escaped U+FFFD; *changed says
// whether it did.
[[nodiscard]] std::string ReplaceNulEscapes(std::string_view json, bool* changed);

class BatchWriter {
 public:
  [[nodiscard]] static Result<std::unique_ptr<BatchWriter>> Connect(const std::string& url);
  ~BatchWriter();
  BatchWriter(const BatchWriter&) = delete;
  BatchWriter& operator=(const BatchWriter&) = delete;

  // The position the database has (kNotFound-like kIoError when the schema is missing).
  [[nodiscard]] Result<storage::StreamPosition> Checkpoint();
  // Writes batch (see above). An empty batch with upto == after writes nothing.
  // `derived` (one DeriveEvent per batch.events item, e.g. from the Prefetcher) saves
  // deriving them here.
  [[nodiscard]] Status Write(const StreamBatch& batch,
                             const std::vector<DerivedEvent>* derived = nullptr);
  // Empties every table derived from the stream and sets the checkpoint to 0 (rebuild).
  [[nodiscard]] Status Reset();

  pqxx::connection& connection() { return *conn_; }

 private:
  explicit BatchWriter(std::unique_ptr<pqxx::connection> conn);
  std::unique_ptr<pqxx::connection> conn_;
};

}  // namespace nebu::projections
