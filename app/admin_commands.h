// `nebu admin create-user NAME [--admin] [--auditor] [--password-file FILE]` (issue 12):
// creates an account on a RUNNING node through its write path, the way Synapse's
// register_new_matrix_user does: it asks the node's client listener (NEBU_CLIENT_ADDR;
// 0.0.0.0 / [::] are reached on loopback) for a nonce (GET /_synapse/admin/v1/register),
// then POSTs the registration with an HMAC-SHA1 under NEBU_REGISTRATION_SHARED_SECRET
// (api/admin/register_route.cpp). The secret is read from the same NEBU_* variables as
// `nebu serve` (or NEBU_REGISTRATION_SHARED_SECRET_FILE), so the command runs where the
// operator can read the node's configuration; the node must have the same secret.
// Why HTTP and not the data directory: the engine's RocksDB is held by the running
// process and, in a cluster, every write must go through the replicated log; the
// client listener is the write path every node has, and the same route lets Synapse's
// tooling create users too.
//
// The password: the first line of FILE (--password-file), else a prompt on the
// terminal (twice, without echo), else the first line of standard input.
// Prints the user ID. Exit status: 0 created, 1 refused or unreachable, 2 bad usage
// or configuration.
#pragma once

#include <string_view>
#include <vector>

namespace nebu::app {

// Timeout of each of the two HTTP calls of create-user.
inline constexpr int kAdminCommandTimeoutMs = 30'000;

int RunAdminCommand(const std::vector<std::string_view>& args);

}  // namespace nebu::app
