// The migration runner: applies the embedded squashed schema (migrations/*.sql,
// compiled into the binary) to PostgreSQL and records it the way golang-migrate does,
// in `schema_migrations(version bigint primary key, dirty boolean)`: one row, the
// current version; dirty = true while a migration runs (and after one failed).
//
//   NEBU_ASSIGN_OR_RETURN(MigrationState s, MigrateUp(url));      // idempotent
//   NEBU_ASSIGN_OR_RETURN(MigrationState v, MigrationVersion(url));
//
// Every operation holds a session advisory lock (pg_advisory_lock on a key derived
// from the database name) for its whole run, so two nodes starting at once never
// migrate together: the second waits, then finds the work done. A dirty state is
// refused (kInvalidArgument, with a message saying how to repair it): a half-applied
// migration needs an operator, not a retry.
//
// Each migration file runs in one transaction together with the `dirty = false`
// update, so a failure leaves the schema as it was and the version marked dirty.
//
// Thread-safety: functions are independent; each opens its own connection.
#pragma once

#include <cstdint>
#include <string>

#include "engine/common/status.h"

namespace nebu::projections {

// The newest schema version this binary embeds.
inline constexpr int64_t kSchemaVersionLatest = 6;

struct MigrationState {
  int64_t version = 0;  // 0: no migration applied (golang-migrate's "nil version")
  bool dirty = false;
};

// Applies every embedded migration above the current version. kInvalidArgument when
// the state is dirty or newer than this binary knows; kUnavailable when PostgreSQL
// cannot be reached; kIoError for SQL errors (the state is then dirty).
[[nodiscard]] Result<MigrationState> MigrateUp(const std::string& url);
// Reverts every applied migration (down files, newest first); the result is version 0.
[[nodiscard]] Result<MigrationState> MigrateDown(const std::string& url);
// The recorded state; {0, false} when schema_migrations does not exist.
[[nodiscard]] Result<MigrationState> MigrationVersion(const std::string& url);

}  // namespace nebu::projections
