// GroupCodec: the bytes of one replicated group, as the cluster's committer writes
// it to the ordered log (etcd) and every node reads it back.
//
//   std::string bytes = EncodeGroup(origin, commands);   // origin.revision not stored
//   NEBU_ASSIGN_OR_RETURN(DecodedGroup g, DecodeGroup(record.value));
//   std::string key = GroupKey(origin);                   // "<node>/<inc 16 hex>/<seq 16 hex>"
//
// Layout (integers big-endian):
//   u8  version (kGroupFormatVersion)
//   u16 node_id length, node_id bytes
//   u64 incarnation, u64 seq
//   u32 command count
//   per command: u32 length, core::EncodeCommand bytes (kind byte + payload)
//   u32 CRC-32C of every byte before it
// Decode verifies everything (checksum, version, lengths, counts, limits, each
// command's kind) and answers kCorruption for any bad byte; it never asserts on input.
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "engine/common/status.h"
#include "engine/core/command.h"
#include "engine/core/committer.h"

namespace nebu::replication {

// Stable in the log: a new layout takes a new version, and decoding keeps the old.
inline constexpr uint8_t kGroupFormatVersion = 1;
// Commands in one group (the committer's group_max is at most this).
inline constexpr size_t kGroupCommandsMax = 4096;
// Encoded bytes of one group: below etcd's default request limit (1.5 MiB,
// --max-request-bytes) with room for the key and the request's framing. A single
// command is at most core::kCommandBytesMax (256 KiB), so a group always holds at
// least one; the committer closes a group before it would pass this.
inline constexpr size_t kGroupBytesMax = 1024 * 1024;
// A node ID (NEBU_NODE_ID) in a group: it is part of the group's log key.
inline constexpr size_t kNodeIdBytesMax = 255;

// The bytes a group has besides its commands: header, checksum, and per command.
inline constexpr size_t kGroupHeaderBytes = 1 + 2 + 8 + 8 + 4 + 4;  // + node_id
inline constexpr size_t kGroupPerCommandBytes = 4;

struct DecodedGroup {
  core::GroupOrigin origin;  // revision 0: the caller sets it from the log record
  std::vector<core::Command> commands;
};

// The encoded size of a command inside a group (length prefix + kind + payload).
size_t GroupCommandBytes(const core::Command& command);

// NEBU_CHECKs the limits above (the committer forms groups within them) and that the
// node ID is valid (IsValidNodeId).
std::string EncodeGroup(const core::GroupOrigin& origin,
                        const std::vector<core::Command>& commands);
// kCorruption for anything that is not a group EncodeGroup wrote.
Result<DecodedGroup> DecodeGroup(std::string_view bytes);

// 1..kNodeIdBytesMax bytes of [A-Za-z0-9._-] (a key component, no '/').
bool IsValidNodeId(std::string_view node_id);

// The group's key in the log: "<node_id>/<incarnation 16 hex>/<seq 16 hex>".
std::string GroupKey(const core::GroupOrigin& origin);

}  // namespace nebu::replication
