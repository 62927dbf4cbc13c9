#include "projections/media_snapshot.h"

#include <boost/json.hpp>
#include <pqxx/pqxx>

#include "engine/common/crypto.h"
#include "engine/media/media.h"
#include "engine/storage/store.h"
#include "projections/pg.h"

namespace nebu::projections {
namespace {

namespace json = boost::json;

json::value Nullable(const std::string& text) {
  return text.empty() ? json::value(nullptr) : json::value(text);
}

}  // namespace

Result<MediaSnapshot> ReadMediaSnapshot(const storage::ReadView& view) {
  storage::ReadView pinned = view.Pin();
  json::array rows;
  Status scanned = media::ForEachMedia(pinned, [&](const media::MediaRecord& r) -> Status {
    if (r.pending || r.deleted) return Status::Ok();
    if (rows.size() >= kMediaSnapshotRowsMax) {
      return Status::ResourceExhausted("more than " + std::to_string(kMediaSnapshotRowsMax) +
                                       " media records");
    }
    const size_t colon = r.user_id.find(':');
    rows.push_back(json::object{
        {"server_name", colon == std::string::npos ? "" : r.user_id.substr(colon + 1)},
        {"media_id", r.media_id},
        {"uploader", r.user_id},
        {"content_type", Nullable(r.content_type)},
        {"upload_name", Nullable(r.file_name)},
        {"size_bytes", static_cast<int64_t>(r.size)},
        {"sha256", r.sha256},
        {"quarantined", r.quarantined},
        {"created_ms", r.created_ts}});
    return Status::Ok();
  });
  NEBU_RETURN_IF_ERROR(scanned);
  MediaSnapshot snap;
  snap.rows = rows.size();
  snap.rows_json = json::serialize(rows);
  snap.digest = HexEncode(Sha256(snap.rows_json));
  return snap;
}

Status WriteMediaSnapshot(pqxx::connection& conn, const MediaSnapshot& snap,
                          std::string* last_digest) {
  if (*last_digest == snap.digest) return Status::Ok();
  NEBU_RETURN_IF_ERROR(pg::Run("write media", [&] {
    pqxx::work tx(conn);
    tx.exec("SELECT pg_advisory_xact_lock(hashtext('nebu media snapshot'))");  // one writer
    tx.exec("DELETE FROM media");
    tx.exec_params(
        "INSERT INTO media (server_name, media_id, uploader, content_type, upload_name, "
        "size_bytes, sha256, storage_key, quarantined, created_at) "
        "SELECT server_name, media_id, uploader, content_type, upload_name, size_bytes, sha256, "
        "sha256, quarantined, to_timestamp(created_ms / 1000.0) "
        "FROM jsonb_to_recordset($1::jsonb) AS r(server_name text, media_id text, uploader text, "
        "content_type text, upload_name text, size_bytes bigint, sha256 text, quarantined "
        "boolean, created_ms bigint)",
        snap.rows_json);
    tx.commit();
  }));
  *last_digest = snap.digest;
  return Status::Ok();
}

}  // namespace nebu::projections
