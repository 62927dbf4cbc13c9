#include "projections/batch_writer.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <map>
#include <tuple>
#include <utility>

#include "projections/pg.h"
#include "projections/search_indexer.h"
#include "projections/side_tables.h"

namespace nebu::projections {

using storage::StreamPosition;

namespace {

const boost::json::string* StringAt(const boost::json::object& o, std::string_view key) {
  const boost::json::value* v = o.if_contains(key);
  return v ? v->if_string() : nullptr;
}

std::optional<std::string> OptionalString(const boost::json::object& o, std::string_view key) {
  const boost::json::string* s = StringAt(o, key);
  if (!s) return std::nullopt;
  return std::string(*s);
}

// Tables filled from the stream, emptied by Reset (children first).
constexpr const char* kDerivedTables =
    "event_search, event_relations, redactions, state_events, membership_history, current_state, "
    "room_memberships, account_data, receipts, device_keys, device_key_material, "
    "cross_signing_keys, push_rules, events, room_aliases, room_directory, rooms";

// Rows for a jsonb_to_recordset parameter. The identifiers in them come from verified
// events; an escaped U+0000 (which jsonb refuses) would fail the batch, as it would in
// a text column.
std::string JsonRows(const boost::json::array& rows) { return boost::json::serialize(rows); }

}  // namespace

std::string ReplaceNulEscapes(std::string_view json, bool* changed) {
  *changed = false;
  if (json.find("\\u0000") == std::string_view::npos) return std::string(json);
  std::string out;
  out.reserve(json.size());
  for (size_t i = 0; i < json.size(); ++i) {
    char c = json[i];
    if (c != '\\' || i + 1 >= json.size()) {
      out.push_back(c);
      continue;
    }
    // An escape: copy it whole so "\\u0000" (an escaped backslash) is left alone.
    if (json.substr(i, 6) == "\\u0000") {
      out.append("\\ufffd");
      *changed = true;
      i += 5;
    } else {
      out.push_back(c);
      out.push_back(json[i + 1]);
      ++i;
    }
  }
  return out;
}

Result<DerivedEvent> DeriveEvent(const storage::EventRecord& record) {
  DerivedEvent out;
  std::string sanitized = ReplaceNulEscapes(record.json, &out.lossy);
  boost::system::error_code ec;
  boost::json::value parsed = boost::json::parse(sanitized, ec);
  if (ec || !parsed.is_object()) {
    return Status::Corruption("event " + record.event_id + " is not a JSON object");
  }
  boost::json::object& event = parsed.as_object();
  const boost::json::value* content_value = event.if_contains("content");
  static const boost::json::object kEmpty;
  const boost::json::object& content =
      content_value && content_value->is_object() ? content_value->as_object() : kEmpty;
  out.content = boost::json::serialize(content);
  if (record.type == "m.room.redaction") {
    // Room versions up to 10 carry redacts at the top level; 11 in content.
    out.redacts = OptionalString(event, "redacts");
    if (!out.redacts) out.redacts = OptionalString(content, "redacts");
    out.reason = OptionalString(content, "reason");
  }
  if (record.type == "m.room.member" && record.state_key) {
    out.membership = OptionalString(content, "membership");
  }
  const boost::json::value* relates = content.if_contains("m.relates_to");
  if (relates && relates->is_object()) {
    const boost::json::object& r = relates->as_object();
    out.relates_to_id = OptionalString(r, "event_id");
    out.rel_type = OptionalString(r, "rel_type");
    const boost::json::value* reply = r.if_contains("m.in_reply_to");
    if (!out.relates_to_id && reply && reply->is_object()) {
      out.relates_to_id = OptionalString(reply->as_object(), "event_id");
      out.rel_type = "m.in_reply_to";
    }
    if (!out.relates_to_id || !out.rel_type) {
      out.relates_to_id.reset();
      out.rel_type.reset();
    }
  }
  event.erase("content");
  out.pdu = boost::json::serialize(event);
  return out;
}

BatchWriter::BatchWriter(std::unique_ptr<pqxx::connection> conn) : conn_(std::move(conn)) {}
BatchWriter::~BatchWriter() = default;

Result<std::unique_ptr<BatchWriter>> BatchWriter::Connect(const std::string& url) {
  NEBU_ASSIGN_OR_RETURN(auto conn, pg::ConnectProjector(url));
  NEBU_RETURN_IF_ERROR(pg::Run("prepare", [&] {
    conn->prepare("lock_checkpoint",
                  "SELECT position FROM nebu_projection_checkpoints WHERE stream = $1 FOR UPDATE");
    conn->prepare("set_checkpoint",
                  "UPDATE nebu_projection_checkpoints SET position = $2, "
                  "events_total = events_total + $3 WHERE stream = $1");
    conn->prepare("insert_room",
                  "INSERT INTO rooms (room_id, room_number, room_version, creator, created_ts) "
                  "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (room_id) DO NOTHING");
    // One statement per batch for each of these (rows as a jsonb array), not one round
    // trip per row: a batch of messages in 100 rooms spent more time waiting on 100
    // UPDATEs than PostgreSQL spent on them. Keys are unique within a batch.
    conn->prepare("room_last_sequence",
                  "UPDATE rooms SET last_sequence = v.seq FROM jsonb_to_recordset($1::jsonb) "
                  "AS v(room_id text, seq bigint) "
                  "WHERE rooms.room_id = v.room_id AND rooms.last_sequence < v.seq");
    conn->prepare("upsert_state",
                  "INSERT INTO current_state (room_id, type, state_key, sequence, event_id) "
                  "SELECT v.room_id, v.type, v.state_key, v.sequence, v.event_id "
                  "FROM jsonb_to_recordset($1::jsonb) AS v(room_id text, type text, "
                  "state_key text, sequence bigint, event_id text) "
                  "ON CONFLICT (room_id, type, state_key) DO UPDATE "
                  "SET sequence = EXCLUDED.sequence, event_id = EXCLUDED.event_id "
                  "WHERE current_state.sequence < EXCLUDED.sequence");
    conn->prepare("upsert_membership",
                  "INSERT INTO room_memberships (room_id, user_id, membership, sequence, event_id, "
                  "since_ts) SELECT v.room_id, v.user_id, v.membership, v.sequence, v.event_id, "
                  "v.since_ts FROM jsonb_to_recordset($1::jsonb) AS v(room_id text, user_id text, "
                  "membership text, sequence bigint, event_id text, since_ts bigint) "
                  "ON CONFLICT (room_id, user_id) DO "
                  "UPDATE SET membership = EXCLUDED.membership, sequence = EXCLUDED.sequence, "
                  "event_id = EXCLUDED.event_id, since_ts = EXCLUDED.since_ts "
                  "WHERE room_memberships.sequence < EXCLUDED.sequence");
    conn->prepare("mark_redacted",
                  "UPDATE events SET redacted_by = $2, redacted_at_ts = $3 "
                  "WHERE event_id = $1 AND room_id = $4 AND redacted_by IS NULL");
    conn->prepare("upsert_account_data",
                  "INSERT INTO account_data (user_id, room_id, type, content, stream_position) "
                  "VALUES ($1, $2, $3, $4::jsonb, $5) ON CONFLICT (user_id, room_id, type) DO "
                  "UPDATE SET content = EXCLUDED.content, stream_position = EXCLUDED.stream_position");
    conn->prepare("delete_account_data",
                  "DELETE FROM account_data WHERE user_id = $1 AND room_id = $2 AND type = $3");
    // Migration 000004: every entry's value for the compliance exports; a replay skips.
    conn->prepare("account_data_history",
                  "INSERT INTO account_data_history (stream_position, user_id, room_id, type, "
                  "content) VALUES ($1, $2, $3, $4, $5::jsonb) ON CONFLICT DO NOTHING");
  }));
  return std::unique_ptr<BatchWriter>(new BatchWriter(std::move(conn)));
}

Result<StreamPosition> BatchWriter::Checkpoint() {
  StreamPosition position = 0;
  NEBU_RETURN_IF_ERROR(pg::Run("read checkpoint", [&] {
    pqxx::nontransaction tx(*conn_);
    pqxx::result r = tx.exec_params(
        "SELECT position FROM nebu_projection_checkpoints WHERE stream = $1", kStreamCheckpointName);
    if (r.empty()) throw std::runtime_error("no checkpoint row: run `nebu migrate up`");
    position = r[0][0].as<StreamPosition>();
  }));
  return position;
}

Status BatchWriter::Write(const StreamBatch& batch, const std::vector<DerivedEvent>* prepared) {
  if (batch.upto == batch.after) return Status::Ok();
  // Derive everything before the transaction opens: it stays short.
  std::vector<DerivedEvent> derived_here;
  if (!prepared) {
    derived_here.reserve(batch.events.size());
    for (const RoomEventItem& item : batch.events) {
      NEBU_ASSIGN_OR_RETURN(DerivedEvent d, DeriveEvent(item.record));
      derived_here.push_back(std::move(d));
    }
    prepared = &derived_here;
  } else if (prepared->size() != batch.events.size()) {
    return Status::InvalidArgument("derived events do not match the batch");
  }
  const std::vector<DerivedEvent>& derived = *prepared;
  bool moved = false;
  StreamPosition found = 0;
  Status status = pg::Run("write batch", [&] {
    pqxx::work tx(*conn_);
    pqxx::result locked = tx.exec_prepared("lock_checkpoint", kStreamCheckpointName);
    if (locked.empty()) throw std::runtime_error("no checkpoint row: run `nebu migrate up`");
    found = locked[0][0].as<StreamPosition>();
    if (found != batch.after) {
      moved = true;
      return;  // the work rolls back on destruction
    }
    // Rooms first (a create event is sequence 1 of its room).
    for (size_t i = 0; i < batch.events.size(); ++i) {
      const RoomEventItem& item = batch.events[i];
      if (item.record.type == "m.room.create" && item.record.sequence == 1) {
        tx.exec_prepared("insert_room", item.room_id, item.record.room, item.room_version,
                         item.record.sender, item.record.origin_server_ts);
      }
    }
    if (!batch.events.empty()) {
      pqxx::stream_to events(tx, "events",
                             std::vector<std::string>{"stream_position", "room_id", "room_number",
                                                      "sequence", "event_id", "sender", "type",
                                                      "state_key", "origin_server_ts", "content",
                                                      "pdu", "content_lossy", "redacts"});
      for (size_t i = 0; i < batch.events.size(); ++i) {
        const storage::EventRecord& r = batch.events[i].record;
        const DerivedEvent& d = derived[i];
        events << std::make_tuple(
            r.stream_position, batch.events[i].room_id, r.room, r.sequence, r.event_id, r.sender,
            r.type, pg::NullableText{r.state_key ? &*r.state_key : nullptr}, r.origin_server_ts,
            d.content, d.pdu, d.lossy, pg::NullableText{d.redacts ? &*d.redacts : nullptr});
      }
      events.complete();
    }
    // State history and the latest state per key / membership per user in this batch.
    std::map<std::tuple<std::string_view, std::string_view, std::string_view>, size_t> state;
    std::map<std::pair<std::string_view, std::string_view>, size_t> members;
    std::map<std::string_view, storage::Sequence> last_sequence;
    bool any_state = false, any_member = false, any_relation = false, any_redaction = false;
    for (size_t i = 0; i < batch.events.size(); ++i) {
      const RoomEventItem& item = batch.events[i];
      last_sequence[item.room_id] = item.record.sequence;
      if (item.record.state_key) {
        any_state = true;
        state[{item.room_id, item.record.type, *item.record.state_key}] = i;
      }
      if (derived[i].membership) {
        any_member = true;
        members[{item.room_id, *item.record.state_key}] = i;
      }
      any_relation |= derived[i].relates_to_id.has_value();
      any_redaction |= derived[i].redacts.has_value();
    }
    if (any_state) {
      pqxx::stream_to history(tx, "state_events",
                              std::vector<std::string>{"room_id", "type", "state_key", "sequence",
                                                       "event_id"});
      for (const RoomEventItem& item : batch.events) {
        const storage::EventRecord& r = item.record;
        if (r.state_key) history << std::make_tuple(item.room_id, r.type, *r.state_key, r.sequence, r.event_id);
      }
      history.complete();
    }
    if (any_member) {
      pqxx::stream_to history(tx, "membership_history",
                              std::vector<std::string>{"room_id", "user_id", "sequence", "membership",
                                                       "event_id", "sender", "origin_server_ts"});
      for (size_t i = 0; i < batch.events.size(); ++i) {
        if (!derived[i].membership) continue;
        const storage::EventRecord& r = batch.events[i].record;
        history << std::make_tuple(batch.events[i].room_id, *r.state_key, r.sequence,
                                   *derived[i].membership, r.event_id, r.sender, r.origin_server_ts);
      }
      history.complete();
    }
    if (any_relation) {
      pqxx::stream_to relations(tx, "event_relations",
                                std::vector<std::string>{"event_id", "relates_to_id", "rel_type",
                                                         "room_id", "sender", "origin_server_ts"});
      for (size_t i = 0; i < batch.events.size(); ++i) {
        if (!derived[i].relates_to_id) continue;
        const storage::EventRecord& r = batch.events[i].record;
        relations << std::make_tuple(r.event_id, *derived[i].relates_to_id, *derived[i].rel_type,
                                     batch.events[i].room_id, r.sender, r.origin_server_ts);
      }
      relations.complete();
    }
    if (any_redaction) {
      pqxx::stream_to redactions(tx, "redactions",
                                 std::vector<std::string>{"redaction_event_id", "redacts", "room_id",
                                                          "sender", "reason", "origin_server_ts"});
      for (size_t i = 0; i < batch.events.size(); ++i) {
        if (!derived[i].redacts) continue;
        const storage::EventRecord& r = batch.events[i].record;
        redactions << std::make_tuple(
            r.event_id, *derived[i].redacts, batch.events[i].room_id, r.sender,
            pg::NullableText{derived[i].reason ? &*derived[i].reason : nullptr}, r.origin_server_ts);
      }
      redactions.complete();
      for (size_t i = 0; i < batch.events.size(); ++i) {
        if (!derived[i].redacts) continue;
        const storage::EventRecord& r = batch.events[i].record;
        // Only an event of the redaction's own room is marked (apply refuses others;
        // a log written before that check may still hold one).
        tx.exec_prepared("mark_redacted", *derived[i].redacts, r.event_id, r.origin_server_ts,
                         batch.events[i].room_id);
      }
    }
    if (!state.empty()) {
      boost::json::array rows;
      for (const auto& [key, i] : state) {
        const storage::EventRecord& r = batch.events[i].record;
        rows.push_back({{"room_id", batch.events[i].room_id}, {"type", r.type},
                        {"state_key", *r.state_key}, {"sequence", r.sequence},
                        {"event_id", r.event_id}});
      }
      tx.exec_prepared("upsert_state", JsonRows(rows));
    }
    if (!members.empty()) {
      boost::json::array rows;
      for (const auto& [key, i] : members) {
        const storage::EventRecord& r = batch.events[i].record;
        rows.push_back({{"room_id", batch.events[i].room_id}, {"user_id", *r.state_key},
                        {"membership", *derived[i].membership}, {"sequence", r.sequence},
                        {"event_id", r.event_id}, {"since_ts", r.origin_server_ts}});
      }
      tx.exec_prepared("upsert_membership", JsonRows(rows));
    }
    if (!last_sequence.empty()) {
      boost::json::array rows;
      for (const auto& [room_id, seq] : last_sequence) {
        rows.push_back({{"room_id", room_id}, {"seq", seq}});
      }
      tx.exec_prepared("room_last_sequence", JsonRows(rows));
    }
    for (const AccountDataItem& item : batch.account_data) {
      std::optional<std::string> content;  // as written (U+0000 replaced)
      if (item.content) {
        bool lossy = false;
        content = ReplaceNulEscapes(*item.content, &lossy);
        tx.exec_prepared("upsert_account_data", item.user_id, item.room_id, item.type, *content,
                         item.position);
      } else {
        tx.exec_prepared("delete_account_data", item.user_id, item.room_id, item.type);
      }
      if (content) {
        tx.exec_prepared("account_data_history", item.position, item.user_id, item.room_id,
                         item.type, *content);
      } else {
        tx.exec_prepared("account_data_history", item.position, item.user_id, item.room_id,
                         item.type, nullptr);
      }
    }
    WriteSideTables(tx, batch);  // receipts, device keys, push rules (side_tables.h)
    tx.exec_prepared("set_checkpoint", kStreamCheckpointName, batch.upto,
                     static_cast<int64_t>(batch.events.size()));
    tx.commit();
  });
  NEBU_RETURN_IF_ERROR(status);
  if (moved) {
    return Status::AlreadyExists("the checkpoint moved to " + std::to_string(found) +
                                 " (expected " + std::to_string(batch.after) +
                                 "): another projector wrote this batch");
  }
  return Status::Ok();
}

Status BatchWriter::Reset() {
  return pg::Run("reset projection", [&] {
    pqxx::work tx(*conn_);
    tx.exec(std::string("TRUNCATE ") + kDerivedTables);
    tx.exec_params(
        "UPDATE nebu_projection_checkpoints SET position = 0, events_total = 0 "
        "WHERE stream IN ($1, $2, 'purges')",
        kStreamCheckpointName, kSearchCheckpointName);
    tx.commit();
  });
}

}  // namespace nebu::projections
