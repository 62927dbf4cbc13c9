#include "projections/audit_projection.h"

#include <boost/json.hpp>
#include <pqxx/pqxx>

#include <string>

#include "engine/admin/admin.h"
#include "projections/batch_writer.h"
#include "projections/pg.h"

namespace nebu::projections {
namespace {

namespace json = boost::json;

// The highest seq already in PostgreSQL (0 for none).
Result<uint64_t> ProjectedUpTo(pqxx::connection& conn) {
  uint64_t seq = 0;
  NEBU_RETURN_IF_ERROR(pg::Run("read audit_log", [&] {
    pqxx::nontransaction tx(conn);
    seq = tx.exec1("SELECT coalesce(max(seq), 0) FROM audit_log")[0].as<uint64_t>();
  }));
  return seq;
}

// Inserts rows (a JSON array of records); *inserted: rows that were new.
Status Insert(pqxx::connection& conn, const std::string& rows, size_t* inserted) {
  return pg::Run("write audit_log", [&] {
    pqxx::work tx(conn);
    pqxx::result r = tx.exec_params(
        "INSERT INTO audit_log (seq, ts, actor, action, target, params, outcome, status) "
        "SELECT seq, ts, actor, action, target, params, outcome, status "
        "FROM jsonb_to_recordset($1::jsonb) AS r(seq bigint, ts bigint, actor text, "
        "action text, target text, params jsonb, outcome text, status integer) "
        "ON CONFLICT (seq) DO NOTHING",
        rows);
    *inserted = r.affected_rows();
    tx.commit();
  });
}

}  // namespace

Status ProjectAudit(pqxx::connection& conn, const storage::ReadView& view, size_t* written) {
  if (written != nullptr) *written = 0;
  NEBU_ASSIGN_OR_RETURN(uint64_t after, ProjectedUpTo(conn));
  storage::ReadView pinned = view.Pin();
  size_t copied = 0;
  while (copied < kAuditProjectRecordsMax) {
    json::array rows;
    NEBU_RETURN_IF_ERROR(admin::ForEachAudit(
        pinned, after, kAuditProjectBatchMax, [&](const admin::AuditRecord& r, bool*) {
          after = r.seq;
          rows.push_back(json::object{{"seq", r.seq},
                                      {"ts", r.ts},
                                      {"actor", r.actor},
                                      {"action", r.action},
                                      {"target", r.target},
                                      {"params", r.params},
                                      {"outcome", r.outcome},
                                      {"status", r.status}});
          return Status::Ok();
        }));
    if (rows.empty()) break;
    size_t inserted = 0;
    bool lossy = false;  // jsonb holds no U+0000: those become U+FFFD
    NEBU_RETURN_IF_ERROR(Insert(conn, ReplaceNulEscapes(json::serialize(rows), &lossy), &inserted));
    if (written != nullptr) *written += inserted;
    copied += rows.size();
    if (rows.size() < kAuditProjectBatchMax) break;
  }
  return Status::Ok();
}

}  // namespace nebu::projections
