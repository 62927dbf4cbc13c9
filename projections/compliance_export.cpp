#include "projections/compliance_export.h"

#include <boost/json.hpp>
#include <charconv>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "projections/batch_writer.h"
#include "projections/pg.h"

namespace nebu::projections {
namespace {

namespace json = boost::json;
using api::ExportKind;

std::string_view KindName(ExportKind kind) {
  switch (kind) {
    case ExportKind::kUserMessages: return "user_messages";
    case ExportKind::kRoomHistory: return "room_history";
    case ExportKind::kUserAccount: return "user_account";
  }
  return "unknown";
}

// The phases of the account export, in order.
enum AccountPhase : int { kAccountLine = 0, kProfiles, kAccountData, kMemberships, kAccountEnd };

// ---- SQL: each page returns (key1, key2, line JSON without the cursor) ----
//
// An event's stream position is looked up by event ID in a scalar subquery, never by
// joining `events` a second time: events.event_id has a hash index that is not UNIQUE
// (migrations/000001_init.up.sql says why), so before ANALYZE has seen a freshly
// projected table the planner guesses hundreds of rows per ID and may drive that join
// from a scan of every event up to the checkpoint (13 s for one 500-row page of a
// 100,000-event room, over the page's statement timeout on a busy machine). A scalar
// subquery is planned on its own: one hash-index probe per row, whatever the statistics.

// A user's messages: keyset (origin_server_ts, stream_position).
constexpr const char* kUserMessagesSql = R"sql(
SELECT e.origin_server_ts, e.stream_position, json_build_object(
  'type', 'message', 'room_id', e.room_id, 'sequence', e.sequence,
  'stream_position', e.stream_position, 'event_id', e.event_id, 'sender', e.sender,
  'event_type', e.type, 'origin_server_ts', e.origin_server_ts, 'content', e.content,
  'content_lossy', e.content_lossy,
  'relates_to', CASE WHEN rel.event_id IS NULL THEN NULL ELSE
      json_build_object('rel_type', rel.rel_type, 'event_id', rel.relates_to_id) END,
  'redacted', CASE WHEN red.redaction_event_id IS NULL THEN NULL ELSE
      json_build_object('event_id', red.redaction_event_id, 'sender', red.sender,
                        'reason', red.reason, 'origin_server_ts', red.origin_server_ts) END,
  'purged', CASE WHEN e.purged THEN
      json_build_object('purged_at', e.purged_at, 'reason', e.purge_reason) END
)::text
  FROM events e
  LEFT JOIN event_relations rel ON rel.event_id = e.event_id
  LEFT JOIN LATERAL (
    SELECT r.redaction_event_id, r.sender, r.reason, r.origin_server_ts
      FROM (SELECT r.*, (SELECT re.stream_position FROM events re
                          WHERE re.event_id = r.redaction_event_id) AS position
              FROM redactions r WHERE r.redacts = e.event_id AND r.room_id = e.room_id) r
     WHERE r.position <= $2
     ORDER BY r.position LIMIT 1) red ON true
 WHERE e.sender = $1 AND e.type IN ('m.room.message', 'm.room.encrypted', 'm.sticker')
   AND e.state_key IS NULL AND e.stream_position <= $2
   AND e.origin_server_ts >= $3 AND e.origin_server_ts < $4
   AND (e.origin_server_ts, e.stream_position) > ($5, $6)
 ORDER BY e.origin_server_ts, e.stream_position
 LIMIT $7)sql";

// A room's history: keyset sequence, within [first, last] of the period.
constexpr const char* kRoomHistorySql = R"sql(
SELECT e.sequence, 0::bigint, json_build_object(
  'type', 'event', 'sequence', e.sequence, 'stream_position', e.stream_position,
  'event_id', e.event_id, 'sender', e.sender, 'event_type', e.type, 'state_key', e.state_key,
  'origin_server_ts', e.origin_server_ts, 'content', e.content,
  'content_lossy', e.content_lossy, 'redacts', e.redacts,
  'membership', CASE WHEN e.type = 'm.room.member' THEN e.content ->> 'membership' END,
  'relates_to', CASE WHEN rel.event_id IS NULL THEN NULL ELSE
      json_build_object('rel_type', rel.rel_type, 'event_id', rel.relates_to_id) END,
  'redacted', CASE WHEN red.redaction_event_id IS NULL THEN NULL ELSE
      json_build_object('event_id', red.redaction_event_id, 'sender', red.sender,
                        'reason', red.reason, 'origin_server_ts', red.origin_server_ts) END,
  'edits', (SELECT json_agg(x.event_id ORDER BY x.position)
              FROM (SELECT r2.event_id, (SELECT y.stream_position FROM events y
                                          WHERE y.event_id = r2.event_id) AS position
                      FROM event_relations r2
                     WHERE r2.relates_to_id = e.event_id AND r2.rel_type = 'm.replace'
                       AND r2.room_id = e.room_id) x
             WHERE x.position <= $2),
  'purged', CASE WHEN e.purged THEN
      json_build_object('purged_at', e.purged_at, 'reason', e.purge_reason) END
)::text
  FROM events e
  LEFT JOIN event_relations rel ON rel.event_id = e.event_id
  LEFT JOIN LATERAL (
    SELECT r.redaction_event_id, r.sender, r.reason, r.origin_server_ts
      FROM (SELECT r.*, (SELECT re.stream_position FROM events re
                          WHERE re.event_id = r.redaction_event_id) AS position
              FROM redactions r WHERE r.redacts = e.event_id AND r.room_id = e.room_id) r
     WHERE r.position <= $2
     ORDER BY r.position LIMIT 1) red ON true
 WHERE e.room_number = $1 AND e.stream_position <= $2 AND e.sequence > $3 AND e.sequence <= $4
 ORDER BY e.sequence
 LIMIT $5)sql";

// Who was joined before sequence $2 (the room's membership history).
constexpr const char* kRoomMembersSql = R"sql(
SELECT coalesce(json_agg(h.user_id ORDER BY h.user_id), '[]'::json)::text
  FROM (SELECT DISTINCT ON (m.user_id) m.user_id, m.membership
          FROM membership_history m
         WHERE m.room_id = $1 AND m.sequence < $2
         ORDER BY m.user_id, m.sequence DESC) h
 WHERE h.membership = 'join')sql";

constexpr const char* kAccountSql = R"sql(
SELECT 0::bigint, 0::bigint, json_build_object(
  'type', 'account', 'user_id', u.user_id, 'is_admin', u.is_admin, 'is_guest', u.is_guest,
  'deactivated', u.deactivated, 'locked', u.locked, 'suspended', u.suspended,
  'created_ts', u.created_ts,
  'profile', (SELECT json_build_object('displayname', p.displayname,
                                       'avatar_url', p.avatar_url, 'fields', p.fields)
                FROM profiles p WHERE p.user_id = u.user_id),
  'devices', (SELECT coalesce(json_agg(json_build_object(
                  'device_id', d.device_id, 'display_name', d.display_name,
                  'created_ts', d.created_ts, 'last_seen_ts', d.last_seen_ts,
                  'last_seen_ip', d.last_seen_ip) ORDER BY d.device_id), '[]'::json)
                FROM (SELECT * FROM devices WHERE user_id = u.user_id
                       ORDER BY device_id LIMIT $2) d)
)::text
  FROM users u WHERE u.user_id = $1)sql";

constexpr const char* kProfileHistorySql = R"sql(
SELECT h.id, 0::bigint, json_build_object(
  'type', 'profile', 'displayname', h.displayname, 'avatar_url', h.avatar_url,
  'fields', h.fields, 'checkpoint', h.checkpoint,
  'recorded_at_ts', (extract(epoch FROM h.recorded_at) * 1000)::bigint)::text
  FROM profile_history h
 WHERE h.user_id = $1 AND h.checkpoint <= $2 AND h.id > $3
 ORDER BY h.id LIMIT $4)sql";

// Secrets (the same rule as account_data's row-level security) are withheld.
constexpr const char* kAccountDataSql = R"sql(
SELECT a.stream_position, 0::bigint, json_build_object(
  'type', 'account_data', 'stream_position', a.stream_position, 'room_id', a.room_id,
  'data_type', a.type,
  'content', CASE WHEN s.secret THEN NULL ELSE a.content END,
  'withheld', s.secret, 'deleted', a.content IS NULL,
  'current', NOT EXISTS (SELECT 1 FROM account_data_history l
                          WHERE l.user_id = a.user_id AND l.room_id = a.room_id
                            AND l.type = a.type AND l.stream_position > a.stream_position
                            AND l.stream_position <= $2))::text
  FROM account_data_history a,
       LATERAL (SELECT starts_with(a.type, 'm.secret_storage.') OR
                       starts_with(a.type, 'm.cross_signing.') OR
                       starts_with(a.type, 'm.megolm_backup.') OR
                       coalesce(a.content ? 'encrypted', false) AS secret) s
 WHERE a.user_id = $1 AND a.stream_position <= $2 AND a.stream_position > $3
 ORDER BY a.stream_position LIMIT $4)sql";

constexpr const char* kMembershipsSql = R"sql(
SELECT m.position, 0::bigint, json_build_object(
  'type', 'membership', 'room_id', m.room_id, 'membership', m.membership,
  'sequence', m.sequence, 'event_id', m.event_id, 'sender', m.sender,
  'origin_server_ts', m.origin_server_ts, 'stream_position', m.position)::text
  FROM (SELECT m.*, (SELECT e.stream_position FROM events e
                      WHERE e.event_id = m.event_id) AS position
          FROM membership_history m WHERE m.user_id = $1) m
 WHERE m.position <= $2 AND m.position > $3
 ORDER BY m.position LIMIT $4)sql";

// The first and last sequence of a room's events in [from, to) at the checkpoint.
constexpr const char* kRoomRangeSql = R"sql(
SELECT r.room_number,
       (SELECT min(e.sequence) FROM events e
         WHERE e.room_id = $1 AND e.origin_server_ts >= $3 AND e.origin_server_ts < $4
           AND e.stream_position <= $2),
       (SELECT max(e.sequence) FROM events e
         WHERE e.room_id = $1 AND e.origin_server_ts >= $3 AND e.origin_server_ts < $4
           AND e.stream_position <= $2)
  FROM rooms r WHERE r.room_id = $1)sql";

uint64_t Fnv1a(uint64_t hash, std::string_view bytes) {
  for (unsigned char c : bytes) {
    hash ^= c;
    hash *= 1099511628211ull;
  }
  return hash;
}

std::optional<int64_t> ParseInt(std::string_view text) {
  int64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

// Appends `object` (a JSON object's text) with "cursor" added, and a newline.
void AppendLine(std::string* out, std::string_view object, const std::optional<ExportCursor>& c) {
  if (!c) {
    out->append(object);
  } else {
    const size_t close = object.rfind('}');
    out->append(object.substr(0, close));
    out->append(", \"cursor\": \"").append(EncodeExportCursor(*c)).append("\"}");
  }
  out->push_back('\n');
}

struct RoomRange {
  int64_t room_number = 0;
  int64_t first = 1;  // the first sequence of the period
  int64_t last = 0;   // the last (last < first: nothing)
};

class PgExportReader : public api::ExportReader {
 public:
  PgExportReader(std::unique_ptr<pqxx::connection> conn, api::ExportQuery query,
                 ExportCursor position, RoomRange range)
      : conn_(std::move(conn)),
        query_(std::move(query)),
        position_(position),
        range_(range) {}

  Result<api::ExportPage> Next() override {
    api::ExportPage page;
    Status status = pg::Run("export page", [&] {
      if (!started_) Start(&page.lines);
      switch (query_.kind) {
        case ExportKind::kUserMessages: UserMessagesPage(&page); break;
        case ExportKind::kRoomHistory: RoomHistoryPage(&page); break;
        case ExportKind::kUserAccount: AccountPage(&page); break;
      }
    });
    if (!status.ok()) return status;
    if (page.end) {
      AppendLine(&page.lines,
                 json::serialize(json::object{{"type", "end"},
                                              {"checkpoint", position_.checkpoint},
                                              {"lines", lines_}}),
                 std::nullopt);
    }
    return page;
  }

 private:
  // The header, and for a room its members before the first exported event.
  void Start(std::string* out) {
    started_ = true;
    json::object header{{"type", "header"},
                        {"export", KindName(query_.kind)},
                        {"subject", query_.subject},
                        {"checkpoint", position_.checkpoint},
                        {"resumed", query_.cursor.has_value()},
                        {"format", 1}};
    if (query_.kind != ExportKind::kUserAccount) {
      header["from_ts"] = query_.from_ts;
      header["to_ts"] = query_.to_ts;
    }
    AppendLine(out, json::serialize(header), std::nullopt);
    if (query_.kind != ExportKind::kRoomHistory) return;
    pqxx::nontransaction tx(*conn_);
    const int64_t next = position_.key1 + 1;
    pqxx::row members = tx.exec_params1(kRoomMembersSql, query_.subject, next);
    AppendLine(out,
               R"({"type": "members", "before_sequence": )" + std::to_string(next) +
                   R"(, "joined": )" + members[0].as<std::string>() + "}",
               std::nullopt);
  }

  // Runs one keyset page; appends its lines (each with the cursor after it) and
  // returns how many rows it read.
  template <typename... Args>
  size_t Page(std::string* out, const char* sql, Args&&... args) {
    pqxx::nontransaction tx(*conn_);
    pqxx::result rows = tx.exec_params(sql, std::forward<Args>(args)...);
    for (const pqxx::row& row : rows) {
      ExportCursor after = position_;
      after.key1 = row[0].as<int64_t>();
      after.key2 = row[1].as<int64_t>();
      if (query_.kind == ExportKind::kRoomHistory) AppendGap(out, after.key1);
      AppendLine(out, std::string_view(row[2].c_str(), row[2].size()), after);
      position_ = after;
      ++lines_;
    }
    return rows.size();
  }

  // A room's sequence numbers are contiguous: a gap before `sequence` is rows missing
  // from the projection. (A purge keeps its row: events.purged, content erased, and the
  // line says "purged"; migration 000005.)
  void AppendGap(std::string* out, int64_t sequence) {
    if (sequence <= position_.key1 + 1) return;
    ExportCursor after = position_;
    after.key1 = sequence - 1;
    AppendLine(out,
               R"({"type": "tombstone", "from_sequence": )" + std::to_string(position_.key1 + 1) +
                   R"(, "to_sequence": )" + std::to_string(sequence - 1) + "}",
               after);
    ++lines_;
  }

  void UserMessagesPage(api::ExportPage* page) {
    const auto limit = static_cast<int64_t>(kExportPageRowsMax);
    page->end = Page(&page->lines, kUserMessagesSql, query_.subject, position_.checkpoint,
                     query_.from_ts, query_.to_ts, position_.key1, position_.key2, limit) < kExportPageRowsMax;
  }

  void RoomHistoryPage(api::ExportPage* page) {
    const auto limit = static_cast<int64_t>(kExportPageRowsMax);
    page->end = Page(&page->lines, kRoomHistorySql, range_.room_number, position_.checkpoint,
                     position_.key1, range_.last, limit) < kExportPageRowsMax;
  }

  void AccountPage(api::ExportPage* page) {
    const auto limit = static_cast<int64_t>(kExportPageRowsMax);
    const std::string& user = query_.subject;
    const int64_t n = position_.checkpoint;
    size_t read = 0;
    switch (position_.phase) {
      case kAccountLine:
        position_.phase = kProfiles;  // the line's cursor resumes at the profiles
        read = Page(&page->lines, kAccountSql, user, static_cast<int64_t>(kExportDevicesMax));
        position_.key1 = position_.key2 = 0;
        return;
      case kProfiles:
        read = Page(&page->lines, kProfileHistorySql, user, n, position_.key1, limit);
        break;
      case kAccountData:
        read = Page(&page->lines, kAccountDataSql, user, n, position_.key1, limit);
        break;
      case kMemberships:
        read = Page(&page->lines, kMembershipsSql, user, n, position_.key1, limit);
        break;
      default: break;
    }
    if (read < kExportPageRowsMax) {
      position_.phase = std::min(position_.phase + 1, static_cast<int>(kAccountEnd));
      position_.key1 = position_.key2 = 0;
    }
    page->end = position_.phase == kAccountEnd;
  }

  std::unique_ptr<pqxx::connection> conn_;
  const api::ExportQuery query_;
  ExportCursor position_;  // after the last line sent
  const RoomRange range_;
  bool started_ = false;
  uint64_t lines_ = 0;  // data lines of this response
};

class PgExportStore : public api::ExportStore {
 public:
  explicit PgExportStore(std::string url) : url_(std::move(url)) {}

  Result<std::unique_ptr<api::ExportReader>> Open(const api::ExportQuery& query) override {
    ExportCursor position{.kind = query.kind, .digest = ExportQueryDigest(query)};
    if (query.cursor) {
      NEBU_ASSIGN_OR_RETURN(position, DecodeExportCursor(*query.cursor));
      if (position.kind != query.kind || position.digest != ExportQueryDigest(query)) {
        return Status::InvalidArgument("The cursor belongs to another export");
      }
    }
    NEBU_ASSIGN_OR_RETURN(std::unique_ptr<pqxx::connection> conn, pg::Connect(url_));
    RoomRange range;
    bool found = true;
    int64_t checkpoint = 0;
    NEBU_RETURN_IF_ERROR(pg::Run("open export", [&] {
      pqxx::nontransaction tx(*conn);
      tx.exec("SET statement_timeout = " + std::to_string(kExportStatementTimeoutMs));
      // Pages are small index walks: JIT-compiling one (the planner's costs can pass
      // jit_above_cost before ANALYZE) costs more than running it.
      tx.exec("SET jit = off");
      checkpoint = tx.exec_params1("SELECT position FROM nebu_projection_checkpoints "
                                   "WHERE stream = $1",
                                   kStreamCheckpointName)[0]
                       .as<int64_t>();
      if (!query.cursor) position.checkpoint = checkpoint;
      if (checkpoint < position.checkpoint) return;
      if (query.kind == ExportKind::kRoomHistory) {
        pqxx::result r = tx.exec_params(kRoomRangeSql, query.subject, position.checkpoint,
                                        query.from_ts, query.to_ts);
        found = !r.empty();
        if (found) {
          range.room_number = r[0][0].as<int64_t>();
          range.first = r[0][1].is_null() ? 1 : r[0][1].as<int64_t>();
          range.last = r[0][2].is_null() ? 0 : r[0][2].as<int64_t>();
        }
      } else if (query.kind == ExportKind::kUserAccount) {
        found = !tx.exec_params("SELECT 1 FROM users WHERE user_id = $1", query.subject).empty();
      }
    }));
    if (checkpoint < position.checkpoint) {
      return Status::Unavailable("The projection is at checkpoint " + std::to_string(checkpoint) +
                                 ", behind this export's checkpoint " +
                                 std::to_string(position.checkpoint) +
                                 " (it was rebuilt): retry once it has caught up");
    }
    if (!found) {
      return Status::NotFound(query.kind == ExportKind::kRoomHistory ? "Unknown room"
                                                                     : "Unknown user");
    }
    if (query.kind == ExportKind::kRoomHistory) {
      if (!query.cursor) {
        position.key1 = range.first - 1;
      } else if (position.key1 < range.first - 1 || position.key1 > std::max(range.last, range.first - 1)) {
        return Status::InvalidArgument("The cursor is outside this export's period");
      }
    }
    return std::unique_ptr<api::ExportReader>(
        new PgExportReader(std::move(conn), query, position, range));
  }

 private:
  const std::string url_;
};

}  // namespace

std::shared_ptr<api::ExportStore> MakePgExportStore(std::string db_url) {
  return std::make_shared<PgExportStore>(std::move(db_url));
}

std::string EncodeExportCursor(const ExportCursor& c) {
  return "c1." + std::to_string(static_cast<int>(c.kind)) + "." + std::to_string(c.checkpoint) +
         "." + std::to_string(c.phase) + "." + std::to_string(c.key1) + "." +
         std::to_string(c.key2) + "." + std::to_string(c.digest);
}

Result<ExportCursor> DecodeExportCursor(std::string_view text) {
  const Status bad = Status::InvalidArgument("Malformed cursor");
  if (!text.starts_with("c1.")) return bad;
  text.remove_prefix(3);
  std::vector<std::string_view> parts;
  for (size_t start = 0;;) {
    size_t dot = text.find('.', start);
    parts.push_back(text.substr(start, dot == std::string_view::npos ? dot : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  if (parts.size() != 6) return bad;
  std::optional<int64_t> kind = ParseInt(parts[0]), checkpoint = ParseInt(parts[1]),
                         phase = ParseInt(parts[2]), key1 = ParseInt(parts[3]),
                         key2 = ParseInt(parts[4]);
  uint64_t digest = 0;
  auto [end, ec] = std::from_chars(parts[5].data(), parts[5].data() + parts[5].size(), digest);
  if (!kind || !checkpoint || !phase || !key1 || !key2 || ec != std::errc() ||
      end != parts[5].data() + parts[5].size() || *kind < 0 ||
      *kind > static_cast<int>(ExportKind::kUserAccount) || *checkpoint < 0 || *phase < 0 ||
      *phase > kAccountEnd) {
    return bad;
  }
  return ExportCursor{.kind = static_cast<ExportKind>(*kind),
                      .checkpoint = *checkpoint,
                      .phase = static_cast<int>(*phase),
                      .key1 = *key1,
                      .key2 = *key2,
                      .digest = digest};
}

uint64_t ExportQueryDigest(const api::ExportQuery& query) {
  uint64_t hash = 14695981039346656037ull;
  hash = Fnv1a(hash, query.subject);
  hash = Fnv1a(hash, "\n" + std::to_string(query.from_ts) + "\n" + std::to_string(query.to_ts));
  return hash;
}

}  // namespace nebu::projections
