#include "projections/verify.h"

#include <spdlog/spdlog.h>

#include <boost/json/parse.hpp>
#include <pqxx/pqxx>
#include <set>
#include <tuple>
#include <utility>

#include "engine/common/crypto.h"
#include "engine/core/stream_reader.h"
#include "engine/core/room_reads.h"
#include "engine/e2ee/e2ee.h"
#include "engine/receipts/receipts.h"
#include "engine/storage/stream_entry.h"
#include "engine/event/canonical_json.h"
#include "engine/storage/room_log.h"
#include "projections/batch_writer.h"
#include "projections/pg.h"
#include "projections/search_indexer.h"

namespace nebu::projections {

using storage::StreamPosition;

namespace {

constexpr char kSep = '\x1f';

// One event row as the digest sees it.
struct EventRow {
  std::string event_id;
  uint64_t sequence = 0;
  uint64_t position = 0;
  std::string sender;
  std::string type;
  std::optional<std::string> state_key;
  int64_t ts = 0;
  std::string json;     // canonical JSON of the whole event
  std::string content;  // canonical JSON of the content
};

Sha256Digest RowDigest(const EventRow& r) {
  std::string text;
  text.reserve(r.json.size() + r.content.size() + 128);
  text.append(r.event_id).push_back(kSep);
  text.append(std::to_string(r.sequence)).push_back(kSep);
  text.append(std::to_string(r.position)).push_back(kSep);
  text.append(r.sender).push_back(kSep);
  text.append(r.type).push_back(kSep);
  text.append(r.state_key ? *r.state_key : std::string("\x1e")).push_back(kSep);
  text.append(std::to_string(r.ts)).push_back(kSep);
  text.append(r.json).push_back(kSep);
  text.append(r.content);
  return Sha256(text);
}

// Parses JSON text and re-serializes it canonically.
Result<std::string> Canonical(std::string_view text) {
  NEBU_ASSIGN_OR_RETURN(boost::json::value v, event::ParseJson(text));
  return event::CanonicalJson(v);
}

// The whole event from its two stored halves, canonical.
Result<std::string> JoinEvent(std::string_view pdu, std::string_view content) {
  NEBU_ASSIGN_OR_RETURN(boost::json::value event, event::ParseJson(pdu));
  NEBU_ASSIGN_OR_RETURN(boost::json::value body, event::ParseJson(content));
  if (!event.is_object()) return Status::Corruption("pdu is not an object");
  event.as_object()["content"] = std::move(body);
  return event::CanonicalJson(event);
}

// What one room holds, from either side.
struct RoomContent {
  std::vector<std::pair<uint64_t, Sha256Digest>> events;  // (sequence, digest)
  std::map<std::pair<std::string, std::string>, std::string> state;  // (type, key) -> event
  std::map<std::string, std::pair<std::string, std::string>> members;  // user -> (m, event)
};

std::string RoomDigest(const RoomContent& c) {
  std::string all;
  all.reserve(c.events.size() * 32 + 256);
  for (const auto& [seq, digest] : c.events) all.append(reinterpret_cast<const char*>(digest.data()), digest.size());
  all.append("\x1dstate");
  for (const auto& [key, event_id] : c.state) {
    all.append(key.first).push_back(kSep);
    all.append(key.second).push_back(kSep);
    all.append(event_id).push_back('\n');
  }
  all.append("\x1dmembers");
  for (const auto& [user, m] : c.members) {
    all.append(user).push_back(kSep);
    all.append(m.first).push_back(kSep);
    all.append(m.second).push_back('\n');
  }
  return HexEncode(Sha256(all));
}

std::string TotalDigest(const std::map<std::string, std::string>& room_digests) {
  std::string all;
  for (const auto& [room, digest] : room_digests) all.append(room).append(":").append(digest).append("\n");
  return HexEncode(Sha256(all));
}

// The log side of one room: the fold over its events at or below the checkpoint.
Status FoldLogRoom(const storage::ReadView& store, storage::RoomNumber room, StreamPosition checkpoint,
                   RoomContent* out, std::map<std::string, std::string>* redactions) {
  storage::RoomLog log(store);
  Status inner;
  Status scanned = log.Scan(room, 1, UINT64_MAX, SIZE_MAX, [&](const storage::EventView& v) {
    if (v.stream_position > checkpoint) return false;  // positions grow with sequences
    storage::EventRecord record{v.room, v.sequence, v.stream_position, v.origin_server_ts,
                                std::string(v.event_id), std::string(v.sender), std::string(v.type),
                                v.state_key ? std::optional<std::string>(*v.state_key) : std::nullopt,
                                std::string(v.json)};
    Result<DerivedEvent> derived = DeriveEvent(record);
    if (!derived.ok()) { inner = derived.status(); return false; }
    EventRow row{record.event_id, record.sequence, record.stream_position, record.sender,
                 record.type, record.state_key, record.origin_server_ts, {}, {}};
    Result<std::string> json =
        derived->lossy ? JoinEvent(derived->pdu, derived->content) : Result<std::string>(record.json);
    Result<std::string> content = Canonical(derived->content);
    if (!json.ok() || !content.ok()) {
      inner = Status::Corruption("event " + record.event_id + " does not re-canonicalize");
      return false;
    }
    row.json = std::move(*json);
    row.content = std::move(*content);
    out->events.emplace_back(record.sequence, RowDigest(row));
    if (record.state_key) out->state[{record.type, *record.state_key}] = record.event_id;
    if (derived->membership) out->members[*record.state_key] = {*derived->membership, record.event_id};
    if (derived->redacts) redactions->emplace(*derived->redacts, record.event_id);  // first wins
    return true;
  });
  NEBU_RETURN_IF_ERROR(inner);
  return scanned;
}

// The PostgreSQL side of one room, in the snapshot of tx.
Status ReadPgRoom(pqxx::transaction_base& tx, const std::string& room_id, RoomContent* out) {
  uint64_t after = 0;
  while (true) {
    pqxx::result rows = tx.exec_params(
        "SELECT event_id, sequence, stream_position, sender, type, state_key, origin_server_ts, "
        "pdu::text, content::text FROM events WHERE room_number = "
        "(SELECT room_number FROM events WHERE room_id = $1 LIMIT 1) AND sequence > $2 "
        "ORDER BY sequence LIMIT $3",
        room_id, after, kVerifyPageRows);
    for (const auto& r : rows) {
      EventRow row;
      row.event_id = r[0].as<std::string>();
      row.sequence = r[1].as<uint64_t>();
      row.position = r[2].as<uint64_t>();
      row.sender = r[3].as<std::string>();
      row.type = r[4].as<std::string>();
      if (!r[5].is_null()) row.state_key = r[5].as<std::string>();
      row.ts = r[6].as<int64_t>();
      Result<std::string> json = JoinEvent(r[7].c_str(), r[8].c_str());
      Result<std::string> content = Canonical(r[8].c_str());
      if (!json.ok() || !content.ok()) {
        return Status::Corruption("event " + row.event_id + " in PostgreSQL is not canonical JSON");
      }
      row.json = std::move(*json);
      row.content = std::move(*content);
      out->events.emplace_back(row.sequence, RowDigest(row));
      after = row.sequence;
    }
    if (rows.size() < kVerifyPageRows) break;
  }
  for (const auto& r : tx.exec_params(
           "SELECT type, state_key, event_id FROM current_state WHERE room_id = $1", room_id)) {
    out->state[{r[0].as<std::string>(), r[1].as<std::string>()}] = r[2].as<std::string>();
  }
  for (const auto& r : tx.exec_params(
           "SELECT user_id, membership, event_id FROM room_memberships WHERE room_id = $1", room_id)) {
    out->members[r[0].as<std::string>()] = {r[1].as<std::string>(), r[2].as<std::string>()};
  }
  return Status::Ok();
}

void CompareRoom(const std::string& room_id, const RoomContent& log, const RoomContent& pg,
                 std::vector<std::string>* differences) {
  std::string prefix = "room " + room_id + ": ";
  if (log.events.size() != pg.events.size()) {
    differences->push_back(prefix + "event count: log " + std::to_string(log.events.size()) +
                           ", PostgreSQL " + std::to_string(pg.events.size()));
  }
  std::map<uint64_t, const Sha256Digest*> pg_by_seq;
  for (const auto& [seq, digest] : pg.events) pg_by_seq[seq] = &digest;
  size_t listed = 0, unlisted = 0;
  auto note = [&](std::string line) {
    if (listed < kVerifyEventDifferencesMax) {
      differences->push_back(prefix + line);
      ++listed;
    } else {
      ++unlisted;
    }
  };
  for (const auto& [seq, digest] : log.events) {
    auto it = pg_by_seq.find(seq);
    if (it == pg_by_seq.end()) {
      note("sequence " + std::to_string(seq) + " missing in PostgreSQL");
    } else {
      if (*it->second != digest) note("sequence " + std::to_string(seq) + " differs");
      pg_by_seq.erase(it);
    }
  }
  for (const auto& [seq, digest] : pg_by_seq) {
    note("sequence " + std::to_string(seq) + " in PostgreSQL but not in the log");
  }
  if (unlisted > 0) differences->push_back(prefix + "and " + std::to_string(unlisted) + " more event differences");
  if (log.state != pg.state) {
    for (const auto& [key, event_id] : log.state) {
      auto it = pg.state.find(key);
      if (it == pg.state.end() || it->second != event_id) {
        differences->push_back(prefix + "current state (" + key.first + ", " + key.second +
                               "): log " + event_id + ", PostgreSQL " +
                               (it == pg.state.end() ? std::string("none") : it->second));
      }
    }
    for (const auto& [key, event_id] : pg.state) {
      if (!log.state.contains(key)) {
        differences->push_back(prefix + "current state (" + key.first + ", " + key.second +
                               ") only in PostgreSQL: " + event_id);
      }
    }
  }
  if (log.members != pg.members) {
    std::set<std::string> users;
    for (const auto& [u, m] : log.members) users.insert(u);
    for (const auto& [u, m] : pg.members) users.insert(u);
    for (const std::string& u : users) {
      auto a = log.members.find(u);
      auto b = pg.members.find(u);
      std::string la = a == log.members.end() ? "none" : a->second.first + " " + a->second.second;
      std::string lb = b == pg.members.end() ? "none" : b->second.first + " " + b->second.second;
      if (la != lb) differences->push_back(prefix + "membership of " + u + ": log " + la + ", PostgreSQL " + lb);
    }
  }
}

// Every room of the log: room number -> room ID.
Result<std::map<storage::RoomNumber, std::string>> LogRooms(const storage::ReadView& store) {
  std::map<storage::RoomNumber, std::string> rooms;
  StreamReader reader(store);
  NEBU_RETURN_IF_ERROR(core::ForEachRoomNumber(store, [&](storage::RoomNumber number) -> Status {
    NEBU_ASSIGN_OR_RETURN(StreamReader::RoomInfo info, reader.Room(number));
    rooms[number] = info.room_id;
    return Status::Ok();
  }));
  return rooms;
}

using ReadOnlySnapshot = pqxx::transaction<pqxx::repeatable_read, pqxx::read_only>;

// ---- receipts and device keys (side_tables.h) ----

using ReceiptKey = std::tuple<std::string, std::string, std::string, std::string>;  // room, user, type, thread

std::string ReceiptText(const std::string& event_id, int64_t ts, uint64_t position) {
  return event_id + " ts " + std::to_string(ts) + " at " + std::to_string(position);
}

std::string ReceiptName(const ReceiptKey& k) {
  const auto& [room, user, type, thread] = k;
  return "receipt (" + room + ", " + user + ", " + type + (thread.empty() ? "" : ", " + thread) + ")";
}

// Every current receipt of the log at or below the checkpoint is in PostgreSQL as it
// is; one that moved past the checkpoint may still be older there; PostgreSQL has no
// receipt the log lacks.
Status CompareReceipts(const storage::ReadView& store, pqxx::transaction_base& tx,
                       const std::map<storage::RoomNumber, std::string>& log_rooms,
                       StreamPosition checkpoint, std::vector<std::string>* differences) {
  std::map<ReceiptKey, receipts::Receipt> log;
  for (const auto& [number, room_id] : log_rooms) {
    NEBU_ASSIGN_OR_RETURN(auto current, receipts::ReceiptsInRoom(store, number, 0, UINT64_MAX));
    for (receipts::Receipt& r : current) {
      log.emplace(ReceiptKey{room_id, r.user_id, r.type, r.thread_id}, std::move(r));
    }
  }
  std::map<ReceiptKey, std::string> pg;
  for (const auto& r : tx.exec("SELECT room_id, user_id, receipt_type, thread_id, event_id, ts, "
                               "stream_position FROM receipts")) {
    pg[{r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(), r[3].as<std::string>()}] =
        ReceiptText(r[4].as<std::string>(), r[5].as<int64_t>(), r[6].as<uint64_t>());
  }
  for (const auto& [key, r] : log) {
    auto it = pg.find(key);
    if (r.position <= checkpoint) {
      std::string want = ReceiptText(r.event_id, r.ts, r.position);
      if (it == pg.end() || it->second != want) {
        differences->push_back(ReceiptName(key) + ": log " + want + ", PostgreSQL " +
                               (it == pg.end() ? std::string("none") : it->second));
      }
    }
    if (it != pg.end()) pg.erase(it);
  }
  for (const auto& [key, text] : pg) differences->push_back(ReceiptName(key) + " only in PostgreSQL: " + text);
  return Status::Ok();
}

// Users whose keys changed after the checkpoint: the projection may hold older keys.
Result<std::set<std::string>> KeyUsersAfter(const storage::ReadView& store, StreamPosition checkpoint) {
  std::set<std::string> users;
  NEBU_RETURN_IF_ERROR(core::ScanStream(
      store, checkpoint, std::nullopt, [&](StreamPosition, const storage::StreamEntry& entry) {
        if (entry.kind == storage::StreamKind::kDeviceKeys) users.insert(entry.user);
        return true;
      }));
  return users;
}

std::string JoinStrings(const std::vector<std::string>& values) {
  std::string out;
  for (const std::string& v : values) out.append(out.empty() ? "" : ",").append(v);
  return "[" + out + "]";
}

// "algorithms [..] key_ids [..] json <canonical>" or the JSON alone (cross-signing).
std::string CanonicalOrRaw(std::string_view text) {
  Result<std::string> c = Canonical(text);
  return c.ok() ? *c : "not canonical JSON: " + std::string(text);
}

// Device keys (metadata and material) and cross-signing keys of every user whose
// keys did not change after the checkpoint.
Status CompareDeviceKeys(const storage::ReadView& store, pqxx::transaction_base& tx, StreamPosition checkpoint,
                         std::vector<std::string>* differences) {
  NEBU_ASSIGN_OR_RETURN(std::vector<std::string> users, e2ee::UsersWithKeys(store));
  std::vector<DeviceKeysItem> items;
  for (const std::string& user : users) {
    NEBU_ASSIGN_OR_RETURN(DeviceKeysItem item, ReadUserKeys(store, user));
    items.push_back(std::move(item));
  }
  // After the keys were read: a change that landed meanwhile has its entry in the scan.
  NEBU_ASSIGN_OR_RETURN(std::set<std::string> pending, KeyUsersAfter(store, checkpoint));
  using Key = std::pair<std::string, std::string>;  // (user, device ID or key type)
  std::map<Key, std::string> log_devices, pg_devices, log_signing, pg_signing;
  for (const DeviceKeysItem& item : items) {
    const std::string& user = item.user_id;
    if (pending.contains(user)) continue;
    for (const auto& d : item.devices) {
      log_devices[{user, d.device_id}] = "algorithms " + JoinStrings(d.algorithms) + " key_ids " +
                                         JoinStrings(d.key_ids) + " json " + CanonicalOrRaw(d.json);
    }
    for (const auto& [usage, key] : item.cross_signing) log_signing[{user, usage}] = CanonicalOrRaw(key);
  }
  for (const auto& r : tx.exec(
           "SELECT user_id, device_id, array_to_json(k.algorithms)::text, "
           "array_to_json(k.key_ids)::text, m.key_json::text FROM device_keys k FULL JOIN "
           "device_key_material m USING (user_id, device_id)")) {
    std::string user = r[0].as<std::string>();
    if (pending.contains(user)) continue;
    auto strings = [](const pqxx::field& f) {
      std::vector<std::string> out;
      if (f.is_null()) return std::string("none");
      Result<boost::json::value> v = event::ParseJson(f.c_str());
      if (v.ok() && v->is_array()) {
        for (const auto& s : v->as_array()) out.emplace_back(s.is_string() ? s.as_string().c_str() : "?");
      }
      return JoinStrings(out);
    };
    pg_devices[{user, r[1].as<std::string>()}] =
        "algorithms " + strings(r[2]) + " key_ids " + strings(r[3]) + " json " +
        (r[4].is_null() ? std::string("none") : CanonicalOrRaw(r[4].c_str()));
  }
  for (const auto& r : tx.exec("SELECT user_id, key_type, key_json::text FROM cross_signing_keys")) {
    std::string user = r[0].as<std::string>();
    if (!pending.contains(user)) pg_signing[{user, r[1].as<std::string>()}] = CanonicalOrRaw(r[2].c_str());
  }
  auto compare = [&](const char* what, const std::map<Key, std::string>& log,
                     const std::map<Key, std::string>& pg) {
    std::set<Key> keys;
    for (const auto& [k, v] : log) keys.insert(k);
    for (const auto& [k, v] : pg) keys.insert(k);
    for (const Key& k : keys) {
      auto a = log.find(k);
      auto b = pg.find(k);
      std::string la = a == log.end() ? "none" : a->second;
      std::string lb = b == pg.end() ? "none" : b->second;
      if (la != lb) {
        differences->push_back(std::string(what) + " of " + k.first + " " + k.second + ": log " + la +
                               ", PostgreSQL " + lb);
      }
    }
  };
  compare("device keys", log_devices, pg_devices);
  compare("cross-signing key", log_signing, pg_signing);
  return Status::Ok();
}

// Rows that name an event by ID must have that event in `events` (the schema does not
// declare these foreign keys: migrations/000001_init.up.sql says why).
void CompareEventReferences(pqxx::transaction_base& tx, std::vector<std::string>* differences) {
  static constexpr std::pair<const char*, const char*> kReferences[] = {
      {"event_relations", "event_id"},
      {"redactions", "redaction_event_id"},
      {"state_events", "event_id"},
      {"membership_history", "event_id"},
  };
  for (const auto& [table, column] : kReferences) {
    uint64_t orphans = tx.exec(std::string("SELECT count(*) FROM ") + table + " c WHERE NOT EXISTS "
                               "(SELECT 1 FROM events e WHERE e.event_id = c." + column + ")")[0][0]
                           .as<uint64_t>();
    if (orphans > 0) {
      differences->push_back(std::string(table) + ": " + std::to_string(orphans) +
                             " rows name an event that is not in events");
    }
  }
}

// The full-text pass (search_indexer.h) within PostgreSQL: up to its checkpoint, every
// message with a string body has exactly its words, and nothing else has a row.
void CompareSearch(pqxx::transaction_base& tx, StreamPosition events_checkpoint,
                   std::vector<std::string>* differences) {
  pqxx::result r = tx.exec_params(
      "SELECT position FROM nebu_projection_checkpoints WHERE stream = $1", kSearchCheckpointName);
  StreamPosition search = r.empty() ? 0 : r[0][0].as<StreamPosition>();
  if (search > events_checkpoint) {
    differences->push_back("search checkpoint " + std::to_string(search) +
                           " is beyond the events' checkpoint " + std::to_string(events_checkpoint));
  }
  uint64_t missing = tx.exec_params1(
      "SELECT count(*) FROM events e WHERE e.stream_position <= $1 AND e.type = 'm.room.message' "
      "AND jsonb_typeof(e.content -> 'body') = 'string' AND NOT EXISTS "
      "(SELECT 1 FROM event_search s WHERE s.stream_position = e.stream_position)",
      search)[0].as<uint64_t>();
  uint64_t wrong = tx.exec_params1(
      "SELECT count(*) FROM event_search s LEFT JOIN events e USING (stream_position) "
      "WHERE s.stream_position > $1 OR e.type IS DISTINCT FROM 'm.room.message' "
      "OR jsonb_typeof(e.content -> 'body') IS DISTINCT FROM 'string' "
      "OR s.tsv <> to_tsvector('simple', e.content ->> 'body')",
      search)[0].as<uint64_t>();
  if (missing > 0) {
    differences->push_back("search: " + std::to_string(missing) + " messages up to position " +
                           std::to_string(search) + " have no event_search row");
  }
  if (wrong > 0) {
    differences->push_back("search: " + std::to_string(wrong) +
                           " event_search rows differ from their event's body (or have no message)");
  }
}

Result<StreamPosition> SnapshotCheckpoint(pqxx::transaction_base& tx) {
  pqxx::result r = tx.exec_params(
      "SELECT position FROM nebu_projection_checkpoints WHERE stream = $1", kStreamCheckpointName);
  if (r.empty()) return Status::NotFound("no checkpoint row: run `nebu migrate up`");
  return r[0][0].as<StreamPosition>();
}

}  // namespace

Result<VerifyReport> VerifyProjection(const storage::ReadView& store, const std::string& url) {
  VerifyReport report;
  NEBU_ASSIGN_OR_RETURN(auto conn, pg::Connect(url));
  NEBU_ASSIGN_OR_RETURN(auto log_rooms, LogRooms(store));
  Status inner;
  Status run = pg::Run("verify", [&] {
    ReadOnlySnapshot tx(*conn);
    Result<StreamPosition> checkpoint = SnapshotCheckpoint(tx);
    if (!checkpoint.ok()) { inner = checkpoint.status(); return; }
    report.checkpoint = *checkpoint;
    std::map<std::string, uint64_t> pg_rooms;
    for (const auto& r : tx.exec("SELECT room_id, count(*) FROM events GROUP BY room_id")) {
      pg_rooms[r[0].as<std::string>()] = r[1].as<uint64_t>();
    }
    std::map<std::string, std::string> log_redactions;
    for (const auto& [number, room_id] : log_rooms) {
      RoomContent log, pg;
      inner = FoldLogRoom(store, number, report.checkpoint, &log, &log_redactions);
      if (!inner.ok()) return;
      if (log.events.empty() && !pg_rooms.contains(room_id)) continue;  // not projected yet
      inner = ReadPgRoom(tx, room_id, &pg);
      if (!inner.ok()) return;
      pg_rooms.erase(room_id);
      ++report.rooms;
      report.events_log += log.events.size();
      report.events_pg += pg.events.size();
      CompareRoom(room_id, log, pg, &report.differences);
      report.room_digests[room_id] = RoomDigest(pg);
    }
    for (const auto& [room_id, count] : pg_rooms) {
      report.differences.push_back("room " + room_id + ": " + std::to_string(count) +
                                   " events in PostgreSQL, room unknown to the log");
      report.events_pg += count;
    }
    // Redactions: a target is marked when it was projected no later than its redaction.
    std::map<std::string, std::string> expected;
    storage::RoomLog log(store);
    for (const auto& [target, by] : log_redactions) {
      Result<std::pair<storage::RoomNumber, storage::Sequence>> at = log.Locate(target);
      if (at.ok()) expected[target] = by;
    }
    std::map<std::string, std::string> marked;
    for (const auto& r : tx.exec("SELECT event_id, redacted_by FROM events WHERE redacted_by IS NOT NULL")) {
      marked[r[0].as<std::string>()] = r[1].as<std::string>();
    }
    for (const auto& [target, by] : expected) {
      auto it = marked.find(target);
      if (it == marked.end() || it->second != by) {
        report.differences.push_back("event " + target + ": redacted by " + by + " in the log, " +
                                     (it == marked.end() ? std::string("not redacted") : "by " + it->second) +
                                     " in PostgreSQL");
      }
      if (it != marked.end()) marked.erase(it);
    }
    for (const auto& [target, by] : marked) {
      report.differences.push_back("event " + target + ": redacted by " + by + " only in PostgreSQL");
    }
    inner = CompareReceipts(store, tx, log_rooms, report.checkpoint, &report.differences);
    if (inner.ok()) inner = CompareDeviceKeys(store, tx, report.checkpoint, &report.differences);
    if (inner.ok()) CompareSearch(tx, report.checkpoint, &report.differences);
    if (inner.ok()) CompareEventReferences(tx, &report.differences);
  });
  NEBU_RETURN_IF_ERROR(run);
  NEBU_RETURN_IF_ERROR(inner);
  report.digest = TotalDigest(report.room_digests);
  return report;
}

Result<std::string> ProjectionDigest(const std::string& url) {
  NEBU_ASSIGN_OR_RETURN(auto conn, pg::Connect(url));
  std::map<std::string, std::string> digests;
  Status inner;
  Status run = pg::Run("digest", [&] {
    ReadOnlySnapshot tx(*conn);
    for (const auto& r : tx.exec("SELECT DISTINCT room_id FROM events")) {
      RoomContent content;
      std::string room_id = r[0].as<std::string>();
      inner = ReadPgRoom(tx, room_id, &content);
      if (!inner.ok()) return;
      digests[room_id] = RoomDigest(content);
    }
  });
  NEBU_RETURN_IF_ERROR(run);
  NEBU_RETURN_IF_ERROR(inner);
  return TotalDigest(digests);
}

Status RebuildProjection(const storage::ReadView& store, const std::string& url,
                         const std::function<void(const ProjectorStats&)>& progress) {
  {
    NEBU_ASSIGN_OR_RETURN(auto writer, BatchWriter::Connect(url));
    NEBU_RETURN_IF_ERROR(writer->Reset());
  }
  Projector projector(store, {.db_url = url});
  return projector.CatchUp(progress);
}

}  // namespace nebu::projections
