#include "projections/purge_projection.h"

#include <boost/json.hpp>
#include <pqxx/pqxx>

#include "engine/common/crypto.h"
#include "engine/compliance/compliance.h"
#include "engine/core/room_reads.h"
#include "projections/pg.h"

namespace nebu::projections {
namespace {

namespace json = boost::json;

struct Tombstone {
  compliance::PurgedEvent record;
  std::string content;  // the log's JSON of the event now: its content ({} when none)
  std::string pdu;      // and the rest (the projector stores content apart, as here)
};

// Splits the tombstone's JSON as the projector splits an event (batch_writer.cpp).
Result<Tombstone> Split(compliance::PurgedEvent record, std::string_view json_text) {
  boost::system::error_code ec;
  json::value v = json::parse(json_text, ec);
  if (ec || !v.is_object()) return Status::Corruption("a purged event's JSON does not parse");
  json::object& event = v.as_object();
  const json::value* content = event.if_contains("content");
  Tombstone t{.record = std::move(record),
              .content = content != nullptr && content->is_object() ? json::serialize(*content)
                                                                    : std::string("{}")};
  event.erase("content");
  t.pdu = json::serialize(event);
  return t;
}

// The purge records after `after` whose events are projected (stream position <= upto),
// in order, with the log's tombstone JSON.
Result<std::vector<Tombstone>> ReadTombstones(const storage::ReadView& view, uint64_t after,
                                              uint64_t upto) {
  std::vector<Tombstone> out;
  Status failure;
  Status scan = compliance::ForEachPurged(
      view, after, kPurgeProjectionRecordsMax, [&](const compliance::PurgedEvent& p) {
        if (p.stream_position > upto) return false;  // its row is not in `events` yet
        Result<storage::EventRecord> event = core::ReadEvent(view, p.event_id);
        if (!event.ok()) {
          failure = event.status();
          return false;
        }
        Result<Tombstone> t = Split(p, event->json);
        if (!t.ok()) {
          failure = t.status();
          return false;
        }
        out.push_back(std::move(t).value());
        return true;
      });
  NEBU_RETURN_IF_ERROR(scan);
  NEBU_RETURN_IF_ERROR(failure);
  return out;
}

}  // namespace

Result<size_t> ProjectPurges(pqxx::connection& conn, const storage::ReadView& view) {
  const storage::ReadView pinned = view.Pin();
  uint64_t purges = 0;
  uint64_t stream = 0;
  bool found = false;
  NEBU_RETURN_IF_ERROR(pg::Run("read the purge checkpoint", [&] {
    pqxx::nontransaction tx(conn);
    for (const auto& row : tx.exec("SELECT stream, position FROM nebu_projection_checkpoints "
                                   "WHERE stream IN ('stream', 'purges')")) {
      const std::string name = row[0].as<std::string>();
      const auto position = row[1].as<uint64_t>();
      if (name == "purges") {
        purges = position;
        found = true;
      } else {
        stream = position;
      }
    }
  }));
  if (!found) return Status::Unavailable("no 'purges' checkpoint: run the migrations");
  NEBU_ASSIGN_OR_RETURN(std::vector<Tombstone> tombstones, ReadTombstones(pinned, purges, stream));
  if (tombstones.empty()) return size_t{0};
  NEBU_RETURN_IF_ERROR(pg::Run("project purges", [&] {
    pqxx::work tx(conn);
    // The checkpoint row is the lock: a second projector waits, then finds it moved.
    pqxx::result now = tx.exec(
        "SELECT position FROM nebu_projection_checkpoints WHERE stream = 'purges' FOR UPDATE");
    if (now.empty() || now[0][0].as<uint64_t>() != purges) return;  // another one wrote it
    for (const Tombstone& t : tombstones) {
      tx.exec_params(
          "UPDATE events SET purged = true, purged_at = to_timestamp($2::bigint / 1000.0), "
          "purge_reason = $3, content = $4::jsonb, pdu = $5::json "
          "WHERE stream_position = $1 AND NOT purged",
          static_cast<int64_t>(t.record.stream_position), t.record.ts, t.record.reason, t.content,
          t.pdu);
      tx.exec_params("DELETE FROM event_search WHERE stream_position = $1",
                     static_cast<int64_t>(t.record.stream_position));
    }
    tx.exec_params("UPDATE nebu_projection_checkpoints SET position = $1 WHERE stream = 'purges'",
                   static_cast<int64_t>(tombstones.back().record.number));
    tx.commit();
  }));
  return tombstones.size();
}

Status ProjectHolds(pqxx::connection& conn, const storage::ReadView& view,
                    std::string* last_digest) {
  json::array rows;
  Status scan = compliance::ForEachHold(view, "", kHoldsProjectionMax + 1,
                                        [&](const compliance::Hold& h) {
                                          const bool user = h.target.starts_with('@');
                                          json::object row{
                                              {"hold_id", h.hold_id},
                                              {"user_id", user ? json::value(h.target) : nullptr},
                                              {"room_id", user ? nullptr : json::value(h.target)},
                                              {"reason", h.reason},
                                              {"case_id", h.case_id},
                                              {"created_by", h.actor},
                                              {"created_ms", h.created_ts},
                                              {"released_by", h.released_ts ? json::value(h.released_by)
                                                                            : nullptr}};
                                          row["released_ms"] = h.released_ts
                                                                   ? json::value(*h.released_ts)
                                                                   : json::value(nullptr);
                                          rows.push_back(std::move(row));
                                          return true;
                                        });
  NEBU_RETURN_IF_ERROR(scan);
  if (rows.size() > kHoldsProjectionMax) {
    return Status(StatusCode::kResourceExhausted, "more than kHoldsProjectionMax legal holds");
  }
  const std::string rows_json = json::serialize(rows);
  const std::string digest = HexEncode(Sha256(rows_json));
  if (digest == *last_digest) return Status::Ok();
  NEBU_RETURN_IF_ERROR(pg::Run("write legal holds", [&] {
    pqxx::work tx(conn);
    tx.exec_params(
        "INSERT INTO legal_holds (hold_id, user_id, room_id, reason, case_id, created_by, "
        "created_at, released_at, released_by) "
        "SELECT hold_id, user_id, room_id, reason, case_id, created_by, "
        "to_timestamp(created_ms / 1000.0), to_timestamp(released_ms / 1000.0), released_by "
        "FROM jsonb_to_recordset($1::jsonb) AS r(hold_id text, user_id text, room_id text, "
        "reason text, case_id text, created_by text, created_ms bigint, released_ms bigint, "
        "released_by text) "
        "ON CONFLICT (hold_id) DO UPDATE SET released_at = EXCLUDED.released_at, "
        "released_by = EXCLUDED.released_by",
        rows_json);
    tx.commit();
  }));
  *last_digest = digest;
  return Status::Ok();
}

}  // namespace nebu::projections
