// Accounts in the projection: users, profiles, password hashes, devices and access-
// token hashes. The engine does not put account changes on its stream, so they are
// projected as a snapshot: ReadAccounts reads them through the engine's whole-store
// reads (accounts::ForEachAccountRecord, ForEachDevice, ForEachAccessToken;
// core::ForEachRoomAlias, ForEachForgottenRoom) and WriteAccounts replaces the
// PostgreSQL rows with it in one transaction when its digest (of the snapshot's
// values) changed since the last write.
//
//   NEBU_ASSIGN_OR_RETURN(AccountsSnapshot snap, ReadAccounts(engine.Latest())  // pins one snapshot);
//   NEBU_RETURN_IF_ERROR(WriteAccounts(conn, snap, &last_digest));   // no-op if unchanged
//
// Users are never deleted (a deactivated user keeps its row, deactivated = true); the
// locked and suspended flags follow the engine's (migration 000002). Profiles
// (displayname, avatar_url and, since 000002, the extended fields as a jsonb object),
// passwords, devices and tokens mirror the engine exactly (but for U+0000 in display
// names, avatar URLs and profile fields, stored as U+FFFD: docs/compliance.md). Secrets are hashes
// only (argon2id, SHA-256), hidden from other roles by row-level security.
//
// Room aliases and forgotten rooms are not on the stream either and ride along:
// room_aliases mirrors the engine's alias directory (alias, room ID, creator), and
// room_forgotten the (user, room) pairs a user forgot. room_aliases references rooms,
// which come from the stream: an alias whose room row is not in PostgreSQL yet is
// left out (counted in *aliases_skipped) and the digest is then not recorded, so the
// next snapshot writes it once its room is there. An alias row keeps its created_at
// while its room and creator stay the same.
//
// Thread-safety: ReadAccounts is safe from any thread; WriteAccounts uses the caller's
// connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <pqxx/connection>
#include <string>
#include <vector>

#include "engine/common/status.h"
#include "engine/storage/read_view.h"
#include "engine/storage/store.h"

namespace nebu::projections {

inline constexpr size_t kAccountsSnapshotUsersMax = 1'000'000;  // larger: kResourceExhausted
inline constexpr size_t kAccountsSnapshotAliasesMax = 1'000'000;    // larger: kResourceExhausted
inline constexpr size_t kAccountsSnapshotForgottenMax = 10'000'000;  // larger: kResourceExhausted
inline constexpr int64_t kAccountsSyncIntervalMs = 10'000;      // how often the projector checks

struct AccountsSnapshot {
  struct User {
    std::string user_id;
    bool admin = false;  // effective (admin::GetRoles): a role record wins over the account's
    bool deactivated = false;
    int64_t created_ts = 0;
    std::optional<std::string> password_hash;
    std::optional<std::string> displayname;
    std::optional<std::string> avatar_url;
    bool has_profile = false;
    bool locked = false;     // users.locked (admin lock)
    bool suspended = false;  // users.suspended (admin suspension)
    bool shadow_banned = false;  // users.shadow_banned (migration 000006)
    // profiles.fields: the extended profile fields as compact JSON text, "{}" when
    // none; U+0000 in any string or key becomes U+FFFD (jsonb cannot hold it).
    std::string profile_fields = "{}";
  };
  struct Device {
    std::string user_id;
    std::string device_id;
    std::optional<std::string> display_name;
    int64_t created_ts = 0;
  };
  struct Token {
    std::string token_hash;  // 64 lower-case hex digits
    std::string user_id;
    std::string device_id;
    int64_t created_ts = 0;
  };
  struct Alias {
    std::string alias;
    std::string room_id;
    std::optional<std::string> creator;
  };
  struct Forgotten {
    std::string user_id;
    std::string room_id;
  };
  std::vector<User> users;
  std::vector<Device> devices;
  std::vector<Token> tokens;
  std::vector<Alias> aliases;
  std::vector<Forgotten> forgotten;
  std::string digest;  // of everything above
};

[[nodiscard]] Result<AccountsSnapshot> ReadAccounts(const storage::ReadView& store);
// Writes the snapshot unless *last_digest equals its digest; updates *last_digest
// when every row went in (not when an alias waited for its room: see above).
// *aliases_skipped (when given) is the number of aliases left out.
[[nodiscard]] Status WriteAccounts(pqxx::connection& conn, const AccountsSnapshot& snapshot,
                                   std::string* last_digest, size_t* aliases_skipped = nullptr);

}  // namespace nebu::projections
