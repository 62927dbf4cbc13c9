// The admin API (a subset of Synapse's, under /_synapse/admin) and the compliance API's
// audit log (GET /api/v1/audit), issue 12. Mounted on the client listener by ClientApi.
//
// Who may call what (engine/admin/admin.h, roles): /_synapse/admin/* needs an admin,
// /api/v1/* an auditor (separation of duties: an admin who is not also an auditor gets
// 403 there, and an auditor who is not an admin gets 403 on the admin API). No token:
// 401 M_MISSING_TOKEN; a token of a user without the role: 403 M_FORBIDDEN.
//
// Every call that authenticates (refused ones included) is recorded in the audit log
// (admin::AuditRecord: actor, action, target = the route's first path parameter (a
// registration token only as "sha256:" + 16 hex of its hash), params = path, query and
// body fields without secrets (admin_common.h: kSecretFields, kSecretPathParams), the
// HTTP status and outcome "ok" or the errcode); the answer is sent once the record is
// committed. A record that cannot be committed is logged and the answer still sent.
//
// List routes that Synapse serves from its database (GET /_synapse/admin/v2/users and
// GET /_synapse/admin/v1/rooms, and the statistics routes of stats_routes.cpp) read the
// PostgreSQL projection through an AdminDirectory (projections/admin_directory.h);
// without one (no NEBU_DB_URL) they answer 503 M_UNAVAILABLE with a
// clear error. Their answers carry the projection's lag (header X-Nebu-Projection-Lag,
// stream positions behind the engine, and "projection_position" in the body).
//
// Thread-safety: the routes are thread-safe; the directory must be too.
#pragma once

#include <boost/json/object.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "api/router.h"
#include "engine/common/status.h"

namespace nebu::core {
class Engine;
}

namespace nebu::api {

class ExportStore;  // api/compliance/export_store.h

// GET /_synapse/admin/v2/users's query (Synapse's parameters; `from` is an offset).
struct UserListQuery {
  int64_t from = 0;
  int64_t limit = 100;
  std::optional<std::string> name;  // substring of the user ID's localpart or display name
  std::optional<std::string> user_id;  // substring of the user ID (ignored with `name`)
  bool guests = true;
  std::optional<bool> deactivated;  // nullopt/false: active only; true: include deactivated
  std::optional<bool> admins;       // nullopt: all; true: admins only; false: non-admins
  bool locked = false;              // false: locked users are left out (Synapse's default)
  std::vector<std::string> not_user_type;  // user types left out ("" = users without one)
  // name, is_guest, admin, user_type, deactivated, shadow_banned, displayname,
  // avatar_url, creation_ts, last_seen_ts (Synapse's), locked; ties by name ascending.
  std::string order_by = "name";
  bool backwards = false;           // dir=b
};
// GET /_synapse/admin/v1/rooms's query.
struct RoomListQuery {
  int64_t from = 0;
  int64_t limit = 100;
  std::optional<std::string> search_term;  // substring of the name, alias or room ID
  std::string order_by = "name";           // name, joined_members, room_id, ...
  bool backwards = false;
  std::optional<bool> public_rooms;  // nullopt: all; true: public only; false: non-public
  std::optional<bool> empty_rooms;   // nullopt: all; true: no joined member; false: some
};
// GET /_synapse/admin/v1/statistics/users/media's query (Synapse's parameters).
struct UserMediaStatsQuery {
  int64_t from = 0;
  int64_t limit = 100;
  int64_t from_ts = 0;                     // media created at or after (ms)
  std::optional<int64_t> until_ts;         // media created at or before (ms)
  std::optional<std::string> search_term;  // substring of the localpart or display name
  std::string order_by = "user_id";        // user_id, displayname, media_length, media_count
  bool backwards = false;
};
// One page: Synapse's objects, the total count, and the projection checkpoint
// (stream position) the answer was read at.
struct DirectoryPage {
  std::vector<boost::json::object> items;
  int64_t total = 0;
  uint64_t projection_position = 0;
};

// The PostgreSQL reads of the admin API (implemented in projections/admin_directory.h).
class AdminDirectory {
 public:
  virtual ~AdminDirectory() = default;
  // kUnavailable when PostgreSQL cannot be reached.
  virtual Result<DirectoryPage> ListUsers(const UserListQuery& query) = 0;
  virtual Result<DirectoryPage> ListRooms(const RoomListQuery& query) = 0;
  // Per local uploader: {"user_id", "displayname", "media_count", "media_length"}.
  virtual Result<DirectoryPage> UserMediaStats(const UserMediaStatsQuery& query) = 0;
  // The largest rooms: {"room_id", "estimated_size"} (bytes), largest first; total =
  // the number of items.
  virtual Result<DirectoryPage> LargestRooms() = 0;
};

struct AdminRoutesOptions {
  std::shared_ptr<AdminDirectory> directory;  // null: list routes answer 503
  std::string server_version = "nebu";
  // Synapse's shared-secret registration (GET|POST /_synapse/admin/v1/register, used by
  // `nebu admin create-user` and Synapse's register_new_matrix_user): the HMAC-SHA1
  // key. Empty: the route answers 400 M_UNKNOWN "Shared secret registration is not
  // enabled". A nonce lives kRegisterNonceTtlMs and is used once; at most
  // kRegisterNoncesMax are outstanding (more: 429 M_LIMIT_EXCEEDED).
  std::string registration_shared_secret;
  // The localpart of the user server notices come from (POST /_synapse/admin/v1/
  // send_server_notice; NEBU_SERVER_NOTICES_LOCALPART). The account is made on the first
  // notice, without a password; if someone registered it first, notices are refused.
  std::string server_notices_localpart = "server";
  // The compliance exports' reads (api/compliance/export_routes.h); null: they answer 503.
  std::shared_ptr<ExportStore> exports;
};
inline constexpr int64_t kRegisterNonceTtlMs = 60'000;
inline constexpr size_t kRegisterNoncesMax = 1024;

// One route of the admin or compliance API: its method and Router pattern.
struct AdminRoute {
  std::string method;
  std::string pattern;
  bool operator==(const AdminRoute&) const = default;
};

// Mounts the routes on `router`; returns every route it registered through the
// role-checked, audited wrapper (all but Synapse's shared-secret /register, which
// authenticates with its HMAC). The access-matrix test enumerates this list, so route
// groups added later are covered without editing it.
std::vector<AdminRoute> AddAdminApiRoutes(Router& router, core::Engine& engine,
                                          const AdminRoutesOptions& options);

// Records calls made outside /_synapse/admin and /api/v1 that the audit log must hold as
// well: the client API's admin routes (/_matrix/client/v1/admin/lock|suspend/{userId},
// /_matrix/client/v3/admin/whois/{userId}). Record() writes one audit record (actor,
// action, target, the request's path, query and body parameters without secrets, the
// outcome) and answers `response` through `respond` once it is committed, as the admin
// API does. RecordRefusal() does the same for a 403 to a caller without the role, at
// most per kRefusalAuditRateLimit per caller (past it: answered, not recorded).
// Thread-safe; the engine must outlive it.
class AdminAuditRecorder {
 public:
  explicit AdminAuditRecorder(core::Engine& engine);
  ~AdminAuditRecorder();
  void Record(const std::string& action, const std::string& actor, const Request& request,
              const PathParams& params, Response response, const Respond& respond);
  void RecordRefusal(const std::string& action, const std::string& actor, const Request& request,
                     const PathParams& params, Response response, const Respond& respond);

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace nebu::api
