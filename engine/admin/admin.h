// Admin state (issue 12): roles, the append-only audit log and room blocks, as
// replicated state in Cf::kAdmin, changed only by core::CommandKind::kAudit commands.
//
// Roles. An account is an admin when its role record says so, or, without a role
// record, when its account record does (accounts::User::admin, set at registration).
// The `auditor` role exists only in the role record. Admins use the admin API
// (/_synapse/admin), auditors the compliance API (/api/v1); separation of duties: an
// admin may use /api/v1 only when also an auditor, and an auditor the admin API only
// when also an admin (CanUseAdminApi / CanUseComplianceApi). A deactivated account
// has no role.
//
// The audit log. Every admin and compliance call is recorded by the API after it
// answers (actor, action, target, parameters without secrets, time, outcome) with an
// "audit" command; records get dense sequence numbers from 1 in log order and are
// never changed or deleted (there is no command that would).
//
// Commands (payload: one canonical JSON object {"op", ...}; unknown fields refused):
//   op "set_roles":  {"admin"?, "auditor"?, "user_id"}   absent roles stay as they are
//                    (the first record starts from the account's admin flag). kNotFound
//                    for an unknown user, kForbidden for a deactivated one.
//   op "audit":      {"action", "actor", "outcome", "params", "status", "target", "ts"}
//                    appends one record; outcome {"seq": n}.
//   op "block_room": {"actor", "block", "room_id", "ts"}  sets or clears the room's
//                    block (any room ID: Synapse blocks rooms not known yet too). A
//                    blocked room refuses joins, knocks and invites in apply
//                    (core/room_applier.h), the same on every node.
//   op "delete_room": a room deletion's status record (engine/admin/room_deletions.h).
//
// Storage (Cf::kAdmin):
//   "r" user_id          -> {"admin": bool, "auditor": bool}
//   "n"                  -> [u64 BE] the next audit sequence number (absent: 1)
//   "a" [u64 BE seq]     -> the audit record as canonical JSON (AuditRecord's fields)
//   "b" room_id          -> {"actor", "ts"}: the room is blocked
// Reserved (issue 12, second part), each laid out by its owner:
//   "h" legal holds, "p" retention and purge progress (engine/compliance, kPurge);
//   "d" room deletions and their status (room_deletions.h: "di", "dr");
//   "s" server notices: "s" user_id -> the room ID of the user's server notices room
//       (op "set_notice_room": {"room_id", "user_id"}; api/admin/server_notices.cpp).
//
// Thread-safety: pure functions; ApplyAdminCommand from the apply thread only, reads
// from any thread.
#pragma once

#include <boost/json/object.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include <rocksdb/write_batch.h>

#include "engine/admin/room_deletions.h"
#include "engine/common/status.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"

namespace nebu::admin {

// The longest actor, action or target of an audit record (bytes).
inline constexpr size_t kAuditFieldBytesMax = 512;
// The longest parameters object of one audit record (bytes of canonical JSON); the API
// replaces larger parameters with {"truncated": true}.
inline constexpr size_t kAuditParamsBytesMax = 8 * 1024;

struct Roles {
  bool admin = false;
  bool auditor = false;
  bool operator==(const Roles&) const = default;
};

struct SetRolesCommand {
  std::string user_id{};
  std::optional<bool> admin{};
  std::optional<bool> auditor{};
  bool operator==(const SetRolesCommand&) const = default;
};

struct AuditRecord {
  uint64_t seq = 0;  // set by apply
  int64_t ts = 0;    // ms since the epoch, decided by the proposer
  std::string actor{};   // user ID, or "cli:<name>" for the command line
  std::string action{};  // e.g. "users.put", "rooms.block"
  std::string target{};  // user or room ID, token, report ID; may be empty
  boost::json::object params{};  // never secrets (passwords, tokens' values)
  std::string outcome{};  // "ok" or the Matrix errcode
  int64_t status = 0;     // the HTTP status answered
  bool operator==(const AuditRecord&) const = default;
};

struct BlockRoomCommand {
  std::string room_id{};
  bool block = false;
  std::string actor{};
  int64_t ts = 0;
  bool operator==(const BlockRoomCommand&) const = default;
};

// Remembers the room the server notices of user_id go to (replaces an earlier one).
struct SetNoticeRoomCommand {
  std::string user_id{};
  std::string room_id{};
  bool operator==(const SetNoticeRoomCommand&) const = default;
};

using AdminCommand = std::variant<SetRolesCommand, AuditRecord, BlockRoomCommand,
                                  SetNoticeRoomCommand, RoomDeletion>;

// The payload of a kAudit command. kInvalidArgument for a malformed user or room ID, a
// field over its limit, a negative timestamp.
[[nodiscard]] Result<std::string> EncodeAdminCommand(const AdminCommand& command);
[[nodiscard]] Result<AdminCommand> DecodeAdminCommand(std::string_view payload);

// Applies a committed kAudit payload (see the header comment for outcomes and errors).
[[nodiscard]] Result<std::string> ApplyAdminCommand(storage::Store& store,
                                                    rocksdb::WriteBatch& batch,
                                                    std::string_view payload);

// The effective roles (see the header comment); {} for an unknown or deactivated user.
[[nodiscard]] Result<Roles> GetRoles(const storage::ReadView& view, std::string_view user_id);
[[nodiscard]] bool CanUseAdminApi(const Roles& roles);
[[nodiscard]] bool CanUseComplianceApi(const Roles& roles);

// Visits audit records with seq > after_seq in order until visit returns an error or
// false in *more, or `limit` records were visited. kCorruption for a bad record.
using AuditVisitor = std::function<Status(const AuditRecord& record, bool* more)>;
[[nodiscard]] Status ForEachAudit(const storage::ReadView& view, uint64_t after_seq, size_t limit,
                                  const AuditVisitor& visit);

struct RoomBlock {
  std::string actor{};
  int64_t ts = 0;
};
// The room's block; nullopt when it is not blocked.
[[nodiscard]] Result<std::optional<RoomBlock>> GetRoomBlock(const storage::ReadView& view,
                                                            std::string_view room_id);

// The user's server notices room (SetNoticeRoomCommand); nullopt when none was made.
[[nodiscard]] Result<std::optional<std::string>> GetNoticeRoom(const storage::ReadView& view,
                                                               std::string_view user_id);

}  // namespace nebu::admin
