// Accounts in the projection: users, profiles, password hashes, devices and access-
// token hashes. The engine does not put account changes on its stream, so they are
// projected as a snapshot: ReadAccounts scans the accounts column families (layout in
// docs/storage-format.md) and WriteAccounts replaces the PostgreSQL rows with it in one
// transaction when its digest changed since the last write.
//
//   NEBU_ASSIGN_OR_RETURN(AccountsSnapshot snap, ReadAccounts(engine.store()));
//   NEBU_RETURN_IF_ERROR(WriteAccounts(conn, snap, &last_digest));   // no-op if unchanged
//
// Users are never deleted (a deactivated user keeps its row, deactivated = true);
// profiles, passwords, devices and tokens mirror the engine exactly. Secrets are hashes
// only (argon2id, SHA-256), hidden from other roles by row-level security.
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
#include "engine/storage/store.h"

namespace nebu::projections {

inline constexpr size_t kAccountsSnapshotUsersMax = 1'000'000;  // larger: kResourceExhausted
inline constexpr int64_t kAccountsSyncIntervalMs = 10'000;      // how often the projector checks

struct AccountsSnapshot {
  struct User {
    std::string user_id;
    bool admin = false;
    bool deactivated = false;
    int64_t created_ts = 0;
    std::optional<std::string> password_hash;
    std::optional<std::string> displayname;
    std::optional<std::string> avatar_url;
    bool has_profile = false;
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
  std::vector<User> users;
  std::vector<Device> devices;
  std::vector<Token> tokens;
  std::string digest;  // of everything above
};

[[nodiscard]] Result<AccountsSnapshot> ReadAccounts(storage::Store& store);
// Writes the snapshot unless *last_digest equals its digest; updates *last_digest.
[[nodiscard]] Status WriteAccounts(pqxx::connection& conn, const AccountsSnapshot& snapshot,
                                   std::string* last_digest);

}  // namespace nebu::projections
