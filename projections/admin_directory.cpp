#include "projections/admin_directory.h"

#include <boost/json.hpp>
#include <pqxx/pqxx>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <functional>
#include <map>
#include <mutex>
#include <string_view>
#include <utility>
#include <vector>

#include "projections/pg.h"

namespace nebu::projections {
namespace {

namespace json = boost::json;

// Query parameters are positional and never NULL (libpqxx 6 has no optional
// parameters): an absent text filter is '', an absent tri-state flag -1.
int TriState(const std::optional<bool>& flag) { return flag ? (*flag ? 1 : 0) : -1; }

// The search term as a LIKE pattern fragment matching itself only.
std::string LikeLiteral(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '\\' || c == '%' || c == '_') out.push_back('\\');
    out.push_back(c);
  }
  return out;
}

json::value TextOrNull(const pqxx::field& f) {
  return f.is_null() ? json::value(nullptr) : json::value(f.c_str());
}
json::value IntOrNull(const pqxx::field& f) {
  return f.is_null() ? json::value(nullptr) : json::value(f.as<int64_t>());
}

// An order: the SQL expression and whether dir=f sorts it ascending.
struct Order {
  std::string_view expression;
  bool ascending;
};

// ---- users ----

constexpr const char* kUsersFrom = R"sql(
  FROM users u LEFT JOIN profiles p ON p.user_id = u.user_id
 WHERE ($1::text = '' OR u.user_id LIKE '@%' || $1 || '%:%'
        OR lower(p.displayname) LIKE '%' || lower($1) || '%')
   AND ($1 <> '' OR $2::text = '' OR u.user_id LIKE '%' || $2 || '%')
   AND ($3::boolean OR NOT u.is_guest)
   AND ($4::boolean OR NOT u.deactivated)
   AND ($5::integer = -1 OR u.is_admin = ($5 = 1))
   AND ($6::boolean OR NOT u.locked)
   AND NOT $7::boolean)sql";

const std::map<std::string_view, Order>& UserOrders() {
  static const auto* orders = new std::map<std::string_view, Order>{
      {"name", {"u.user_id", true}},
      {"is_guest", {"u.is_guest", true}},
      {"admin", {"u.is_admin", true}},
      {"user_type", {"nullif(u.user_id, u.user_id)", true}},  // NULL for all: by name
      {"deactivated", {"u.deactivated", true}},
      {"shadow_banned", {"u.shadow_banned", true}},
      {"displayname", {"p.displayname", true}},
      {"avatar_url", {"p.avatar_url", true}},
      {"creation_ts", {"u.created_ts", true}},
      {"last_seen_ts", {"last_seen_ts", true}},
      {"locked", {"u.locked", true}}};
  return *orders;
}

json::object UserJson(const pqxx::row& row) {
  return json::object{{"name", row["user_id"].c_str()},
                      {"is_guest", row["is_guest"].as<bool>()},
                      {"admin", row["is_admin"].as<bool>()},
                      {"user_type", nullptr},
                      {"deactivated", row["deactivated"].as<bool>()},
                      {"erased", false},
                      {"shadow_banned", row["shadow_banned"].as<bool>()},
                      {"displayname", TextOrNull(row["displayname"])},
                      {"avatar_url", TextOrNull(row["avatar_url"])},
                      {"creation_ts", row["created_ts"].as<int64_t>()},
                      {"last_seen_ts", IntOrNull(row["last_seen_ts"])},
                      {"locked", row["locked"].as<bool>()}};
}

// ---- rooms ----

// One row per room with Synapse's fields; $1 is ":" + this server's name.
constexpr const char* kRoomsWith = R"sql(
WITH r AS (
  SELECT rm.room_id, rm.room_version AS version, rm.creator, s.name, s.canonical_alias,
         s.encryption, s.join_rules, s.guest_access, s.history_visibility, s.room_type,
         coalesce(s.federatable, true) AS federatable,
         EXISTS (SELECT 1 FROM room_directory d
                  WHERE d.room_id = rm.room_id AND d.visibility = 'public') AS public,
         (SELECT count(*) FROM room_memberships m
           WHERE m.room_id = rm.room_id AND m.membership = 'join') AS joined_members,
         (SELECT count(*) FROM room_memberships m
           WHERE m.room_id = rm.room_id AND m.membership = 'join'
             AND right(m.user_id, length($1::text)) = $1::text) AS joined_local_members,
         (SELECT count(*) FROM current_state c WHERE c.room_id = rm.room_id) AS state_events
    FROM rooms rm
    LEFT JOIN LATERAL (
      SELECT max(e.content ->> 'name')
               FILTER (WHERE c.type = 'm.room.name' AND e.redacted_by IS NULL) AS name,
             max(e.content ->> 'alias')
               FILTER (WHERE c.type = 'm.room.canonical_alias' AND e.redacted_by IS NULL)
               AS canonical_alias,
             max(e.content ->> 'algorithm')
               FILTER (WHERE c.type = 'm.room.encryption') AS encryption,
             max(e.content ->> 'join_rule')
               FILTER (WHERE c.type = 'm.room.join_rules') AS join_rules,
             max(e.content ->> 'guest_access')
               FILTER (WHERE c.type = 'm.room.guest_access') AS guest_access,
             max(e.content ->> 'history_visibility')
               FILTER (WHERE c.type = 'm.room.history_visibility') AS history_visibility,
             max(e.content ->> 'type') FILTER (WHERE c.type = 'm.room.create') AS room_type,
             bool_and(CASE WHEN jsonb_typeof(e.content -> 'm.federate') = 'boolean'
                           THEN (e.content ->> 'm.federate')::boolean END)
               FILTER (WHERE c.type = 'm.room.create') AS federatable
        FROM current_state c
        JOIN events e ON e.room_number = rm.room_number AND e.sequence = c.sequence
       WHERE c.room_id = rm.room_id AND c.state_key = ''
         AND c.type IN ('m.room.name', 'm.room.canonical_alias', 'm.room.encryption',
                        'm.room.join_rules', 'm.room.guest_access',
                        'm.room.history_visibility', 'm.room.create')) s ON true)
)sql";

constexpr const char* kRoomsWhere = R"sql(
 WHERE ($2::text = '' OR lower(r.name) LIKE '%' || lower($2) || '%'
        OR lower(r.canonical_alias) LIKE '#%' || lower($2) || '%:%'
        OR r.room_id LIKE '%' || $2 || '%')
   AND ($3::integer = -1 OR r.public = ($3 = 1))
   AND ($4::integer = -1 OR (r.joined_members = 0) = ($4 = 1)))sql";

const std::map<std::string_view, Order>& RoomOrders() {
  static const auto* orders = new std::map<std::string_view, Order>{
      {"name", {"r.name", true}},
      {"alphabetical", {"r.name", true}},
      {"size", {"r.joined_members", false}},
      {"canonical_alias", {"r.canonical_alias", true}},
      {"joined_members", {"r.joined_members", false}},
      {"joined_local_members", {"r.joined_local_members", false}},
      {"version", {"r.version", false}},
      {"creator", {"r.creator", true}},
      {"encryption", {"r.encryption", true}},
      {"federatable", {"r.federatable", true}},
      {"public", {"r.public", true}},
      {"join_rules", {"r.join_rules", true}},
      {"guest_access", {"r.guest_access", true}},
      {"history_visibility", {"r.history_visibility", true}},
      {"state_events", {"r.state_events", false}},
      {"room_id", {"r.room_id", true}}};
  return *orders;
}

json::object RoomJson(const pqxx::row& row) {
  return json::object{{"room_id", row["room_id"].c_str()},
                      {"name", TextOrNull(row["name"])},
                      {"canonical_alias", TextOrNull(row["canonical_alias"])},
                      {"joined_members", row["joined_members"].as<int64_t>()},
                      {"joined_local_members", row["joined_local_members"].as<int64_t>()},
                      {"version", row["version"].c_str()},
                      {"creator", TextOrNull(row["creator"])},
                      {"encryption", TextOrNull(row["encryption"])},
                      {"federatable", row["federatable"].as<bool>()},
                      {"public", row["public"].as<bool>()},
                      {"join_rules", TextOrNull(row["join_rules"])},
                      {"guest_access", TextOrNull(row["guest_access"])},
                      {"history_visibility", TextOrNull(row["history_visibility"])},
                      {"state_events", row["state_events"].as<int64_t>()},
                      {"room_type", TextOrNull(row["room_type"])}};
}

// ---- media statistics ----

constexpr const char* kMediaStatsWith = R"sql(
WITH s AS (
  SELECT m.uploader AS user_id, p.displayname, count(*) AS media_count,
         coalesce(sum(m.size_bytes), 0)::bigint AS media_length
    FROM media m
    JOIN users u ON u.user_id = m.uploader
    LEFT JOIN profiles p ON p.user_id = m.uploader
   WHERE m.created_at >= nebu_ms_to_timestamptz($1::bigint)
     AND ($2::bigint < 0 OR m.created_at <= nebu_ms_to_timestamptz($2::bigint))
     AND ($3::text = '' OR m.uploader LIKE '@%' || $3 || '%:%' OR p.displayname LIKE '%' || $3 || '%')
   GROUP BY m.uploader, p.displayname))sql";

const std::map<std::string_view, Order>& MediaStatsOrders() {
  static const auto* orders = new std::map<std::string_view, Order>{
      {"user_id", {"s.user_id", true}},
      {"displayname", {"s.displayname", true}},
      {"media_length", {"s.media_length", true}},
      {"media_count", {"s.media_count", true}}};
  return *orders;
}

// The estimate of LargestRooms (see the header).
constexpr const char* kLargestRooms = R"sql(
WITH stats AS (
  SELECT pg_total_relation_size(c.oid)::numeric /
         greatest(CASE WHEN c.reltuples > 0 THEN c.reltuples::numeric
                       ELSE (SELECT count(*) FROM events)::numeric END, 1) AS per_row
    FROM pg_class c WHERE c.oid = 'events'::regclass)
SELECT r.room_id, round(r.last_sequence * stats.per_row)::bigint AS estimated_size
  FROM rooms r, stats
 ORDER BY r.last_sequence DESC, r.room_id
 LIMIT $1)sql";

// " ORDER BY <order> ASC|DESC, <tie> ASC|DESC": dir=b reverses the primary order; the
// tie-break follows it when tie_follows, else stays ascending.
Result<std::string> OrderClause(const std::map<std::string_view, Order>& orders,
                                const std::string& order_by, bool backwards,
                                std::string_view tie, bool tie_follows) {
  auto it = orders.find(order_by);
  if (it == orders.end()) return Status::InvalidArgument("unknown order_by " + order_by);
  const bool ascending = it->second.ascending != backwards;
  const bool tie_ascending = tie_follows ? ascending : true;
  return " ORDER BY " + std::string(it->second.expression) + (ascending ? " ASC" : " DESC") +
         ", " + std::string(tie) + (tie_ascending ? " ASC" : " DESC");
}

// What a caller sees of a PostgreSQL failure (the details go to the log).
Status Unavailable() {
  return Status::Unavailable("PostgreSQL, which serves this list, is unavailable");
}

class PgAdminDirectory : public api::AdminDirectory {
 public:
  PgAdminDirectory(std::string db_url, std::string server_name)
      : db_url_(std::move(db_url)), server_name_(std::move(server_name)) {}

  Result<api::DirectoryPage> ListUsers(const api::UserListQuery& q) override {
    NEBU_ASSIGN_OR_RETURN(std::string order,
                          OrderClause(UserOrders(), q.order_by, q.backwards, "u.user_id", false));
    const std::string name = q.name ? LikeLiteral(*q.name) : "";
    const std::string user_id = q.user_id ? LikeLiteral(*q.user_id) : "";
    const bool untyped_excluded =
        std::find(q.not_user_type.begin(), q.not_user_type.end(), "") != q.not_user_type.end();
    const bool deactivated = q.deactivated.value_or(false);
    return Read([&](pqxx::work& tx, api::DirectoryPage* page) {
      page->total = tx.exec_params1(std::string("SELECT count(*)") + kUsersFrom, name, user_id,
                                    q.guests, deactivated, TriState(q.admins), q.locked,
                                    untyped_excluded)[0]
                        .as<int64_t>();
      pqxx::result rows = tx.exec_params(
          std::string("SELECT u.user_id, u.is_guest, u.is_admin, u.deactivated, u.locked, "
                      "u.shadow_banned, "
                      "u.created_ts, p.displayname, p.avatar_url, "
                      "(SELECT max(d.last_seen_ts) FROM devices d "
                      "WHERE d.user_id = u.user_id) AS last_seen_ts") +
              kUsersFrom + order + " LIMIT $8 OFFSET $9",
          name, user_id, q.guests, deactivated, TriState(q.admins), q.locked, untyped_excluded,
          q.limit, q.from);
      for (const pqxx::row& row : rows) page->items.push_back(UserJson(row));
    });
  }

  Result<api::DirectoryPage> ListRooms(const api::RoomListQuery& q) override {
    NEBU_ASSIGN_OR_RETURN(std::string order,
                          OrderClause(RoomOrders(), q.order_by, q.backwards, "r.room_id", true));
    const std::string term = q.search_term ? LikeLiteral(*q.search_term) : "";
    const std::string local_suffix = ":" + server_name_;
    return Read([&](pqxx::work& tx, api::DirectoryPage* page) {
      page->total = tx.exec_params1(std::string(kRoomsWith) + "SELECT count(*) FROM r" +
                                        kRoomsWhere,
                                    local_suffix, term, TriState(q.public_rooms),
                                    TriState(q.empty_rooms))[0]
                        .as<int64_t>();
      pqxx::result rows = tx.exec_params(
          std::string(kRoomsWith) + "SELECT r.* FROM r" + kRoomsWhere + order +
              " LIMIT $5 OFFSET $6",
          local_suffix, term, TriState(q.public_rooms), TriState(q.empty_rooms), q.limit, q.from);
      for (const pqxx::row& row : rows) page->items.push_back(RoomJson(row));
    });
  }

  Result<api::DirectoryPage> UserMediaStats(const api::UserMediaStatsQuery& q) override {
    NEBU_ASSIGN_OR_RETURN(std::string order, OrderClause(MediaStatsOrders(), q.order_by,
                                                         q.backwards, "s.user_id", false));
    const std::string term = q.search_term ? LikeLiteral(*q.search_term) : "";
    const int64_t until = q.until_ts.value_or(-1);
    return Read([&](pqxx::work& tx, api::DirectoryPage* page) {
      page->total = tx.exec_params1(std::string(kMediaStatsWith) + " SELECT count(*) FROM s",
                                    q.from_ts, until, term)[0]
                        .as<int64_t>();
      pqxx::result rows = tx.exec_params(
          std::string(kMediaStatsWith) + " SELECT s.* FROM s" + order + " LIMIT $4 OFFSET $5",
          q.from_ts, until, term, q.limit, q.from);
      for (const pqxx::row& row : rows) {
        page->items.push_back(json::object{{"user_id", row["user_id"].c_str()},
                                           {"displayname", TextOrNull(row["displayname"])},
                                           {"media_count", row["media_count"].as<int64_t>()},
                                           {"media_length", row["media_length"].as<int64_t>()}});
      }
    });
  }

  Result<api::DirectoryPage> LargestRooms() override {
    return Read([&](pqxx::work& tx, api::DirectoryPage* page) {
      pqxx::result rows = tx.exec_params(kLargestRooms, kLargestRoomsMax);
      for (const pqxx::row& row : rows) {
        page->items.push_back(json::object{{"room_id", row["room_id"].c_str()},
                                           {"estimated_size", row["estimated_size"].as<int64_t>()}});
      }
      page->total = static_cast<int64_t>(page->items.size());
    });
  }

 private:
  using Body = std::function<void(pqxx::work& tx, api::DirectoryPage* page)>;

  // Runs body in one read-only snapshot with the projection checkpoint.
  Result<api::DirectoryPage> Read(const Body& body) {
    std::unique_ptr<pqxx::connection> conn = TakeIdle();
    if (!conn) {
      Result<std::unique_ptr<pqxx::connection>> opened = pg::Connect(db_url_);
      if (!opened.ok()) {
        spdlog::warn("admin directory: {}", opened.status().ToString());
        return Unavailable();
      }
      conn = std::move(opened).value();
    }
    api::DirectoryPage page;
    Status status = pg::Run("admin directory", [&] {
      pqxx::work tx(*conn);
      tx.exec("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY");
      tx.exec("SET LOCAL statement_timeout = " +
              std::to_string(kAdminDirectoryStatementTimeoutMs));
      pqxx::result at =
          tx.exec("SELECT position FROM nebu_projection_checkpoints WHERE stream = 'stream'");
      page.projection_position = at.empty() ? 0 : at[0][0].as<uint64_t>();
      body(tx, &page);
      tx.commit();
    });
    if (!status.ok()) {
      spdlog::warn("admin directory: {}", status.ToString());
      return Unavailable();
    }
    GiveBack(std::move(conn));
    return page;
  }

  std::unique_ptr<pqxx::connection> TakeIdle() {
    std::lock_guard lock(mu_);
    if (idle_.empty()) return nullptr;
    std::unique_ptr<pqxx::connection> conn = std::move(idle_.back());
    idle_.pop_back();
    return conn;
  }

  void GiveBack(std::unique_ptr<pqxx::connection> conn) {
    std::lock_guard lock(mu_);
    if (idle_.size() < kAdminDirectoryIdleConnectionsMax) idle_.push_back(std::move(conn));
  }

  const std::string db_url_;
  const std::string server_name_;
  std::mutex mu_;
  std::vector<std::unique_ptr<pqxx::connection>> idle_;  // guarded by mu_
};

}  // namespace

std::shared_ptr<api::AdminDirectory> MakeAdminDirectory(std::string db_url,
                                                        std::string server_name) {
  return std::make_shared<PgAdminDirectory>(std::move(db_url), std::move(server_name));
}

}  // namespace nebu::projections
