// Commands: what the replicated log carries. A command is a deterministic request
// for the state machine: everything random or expensive (token generation, password
// hashing, origin_server_ts) is decided before it is proposed, so every node that
// applies it writes the same bytes.
//
//   Command c{CommandKind::kAccount, accounts::EncodeRegister(...)};
//   std::string wire = EncodeCommand(c);            // kind byte + payload
//
// Thread-safety: values and pure functions.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "engine/common/status.h"

namespace nebu::core {

// Stable on disk: never renumber.
enum class CommandKind : uint8_t {
  kRoomEvent = 1,   // send a message or state event into an existing room
  kCreateRoom = 2,  // create a room with its initial events
  kAccount = 3,     // accounts, devices, tokens, profile, account data (engine/accounts)
  kNoop = 4,        // nothing; used by tests and by a new Raft leader
  kAlias = 5,       // add or remove a room alias (the room directory)
  kE2ee = 6,        // device keys, one-time keys, cross-signing, to-device (engine/e2ee)
  kReceipt = 7,     // read receipts and read markers (engine/receipts)
  kKeyBackup = 8,   // server-side key backup (engine/e2ee)
  kPusher = 9,      // pushers (engine/push)
  kReport = 10,     // content and user reports (engine/reports)
  kRoomUpgrade = 11,  // a room upgrade: the old room's tombstone and the new room at once
  kMedia = 12,        // media metadata: uploads, quarantine, soft deletion (engine/media)
  kExternalId = 13,   // single sign-on: an external identity linked to a user (engine/accounts)
  kAudit = 14,        // the admin and compliance audit log, and admin-only state (engine/admin)
  kPurge = 15,        // legal holds, retention and purges: event content to tombstones (engine/compliance)
};

struct Command {
  CommandKind kind = CommandKind::kNoop;
  std::string payload;  // the kind's own encoding (canonical JSON for all kinds so far)
};

inline constexpr size_t kCommandBytesMax = 256 * 1024;

std::string EncodeCommand(const Command& command);
// kCorruption for an unknown kind or empty input.
Result<Command> DecodeCommand(std::string_view bytes);

}  // namespace nebu::core
